package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/latchsec/latch/internal/archive"
	"github.com/latchsec/latch/internal/audit"
	"github.com/latchsec/latch/internal/selfupdate"
	"github.com/latchsec/latch/rollback"
	"golang.org/x/mod/semver"
)

var (
	// ErrKnownBad: the only matching release failed its health check
	// before; it is not installed again until the repository publishes
	// another build (other hashes). See *KnownBadError.
	ErrKnownBad = errors.New("release failed its health check before")
	// ErrReleaseChanged: the repository lists the installed version with
	// other hashes than the build that was installed. See
	// *ReleaseChangedError.
	ErrReleaseChanged = errors.New("installed version republished with other content")
	// ErrHealthCheck: the new build failed its health check; the previous
	// one is back in place. See *HealthCheckError.
	ErrHealthCheck = errors.New("health check failed")
	// ErrNoBackup: RevertUnsafe has no kept previous version (with a known
	// version) to go back to.
	ErrNoBackup = errors.New("no kept previous version")
)

// KnownBadError reports that the release Apply would install failed its
// health check before.
type KnownBadError struct {
	App, Version, SHA256 string
}

func (e *KnownBadError) Error() string {
	return fmt.Sprintf("%s %s (sha256 %.12s) failed its health check before; waiting for another build", e.App, e.Version, e.SHA256)
}

func (e *KnownBadError) Unwrap() error { return ErrKnownBad }

// ReleaseChangedError reports a release of the installed version whose
// hashes differ from those of the installed build.
type ReleaseChangedError struct {
	App, Version            string
	InstalledSHA256, SHA256 string
}

func (e *ReleaseChangedError) Error() string {
	return fmt.Sprintf("%s %s is installed with sha256 %.12s, but the repository now lists sha256 %.12s for that version: a version must not be republished with other content",
		e.App, e.Version, e.InstalledSHA256, e.SHA256)
}

func (e *ReleaseChangedError) Unwrap() error { return ErrReleaseChanged }

// HealthCheckError reports a new build that failed its health check. The
// previous build was put back and the failed one remembered (by hash).
type HealthCheckError struct {
	App, Version, SHA256 string
	Err                  error // wraps ErrHealthCheck and the check's error
}

func (e *HealthCheckError) Error() string {
	return fmt.Sprintf("%s %s installed, then rolled back: %v", e.App, e.Version, e.Err)
}

func (e *HealthCheckError) Unwrap() error { return e.Err }

// ApplyOption adjusts one [Client.Apply] call.
type ApplyOption func(*applyOptions)

type applyOptions struct {
	keep           int
	member         string
	maxSize        int64
	health         func(ctx context.Context, exePath string) error
	current        string
	allowDowngrade bool
}

// KeepPrevious sets how many previous builds stay beside the executable
// (in its hidden work directory) after an update, for RevertUnsafe and for
// a person; default 1. With 0, the previous build is still kept until the
// new one is committed, for the automatic rollback.
func KeepPrevious(n int) ApplyOption { return func(o *applyOptions) { o.keep = n } }

// ArchiveMember names the executable inside archived releases (.tar.gz,
// .tgz, .zip), a slash path such as "bin/myapp"; default the application's
// name, with ".exe" when the release is for windows.
func ArchiveMember(name string) ApplyOption { return func(o *applyOptions) { o.member = name } }

// MaxExecutableSize caps the size of the executable, downloaded or
// extracted from an archive; default 512 MiB. (A download is also limited to
// its signed length.)
func MaxExecutableSize(n int64) ApplyOption { return func(o *applyOptions) { o.maxSize = n } }

// HealthCheck runs check once the new build is in place; an error rolls
// the update back and remembers the build as failed. check gets Apply's
// ctx and the executable's path.
func HealthCheck(check func(ctx context.Context, exePath string) error) ApplyOption {
	return func(o *applyOptions) { o.health = check }
}

// HealthCheckCommand is a HealthCheck that runs the new executable with
// args (for example "--version" or "selftest") and wants exit status 0
// within timeout. Its output is kept (up to 4 KiB) for the error.
func HealthCheckCommand(timeout time.Duration, args ...string) ApplyOption {
	return HealthCheck(func(ctx context.Context, exePath string) error {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		out := &capped{max: 4 << 10}
		cmd := exec.CommandContext(ctx, exePath, args...)
		cmd.Stdout, cmd.Stderr = out, out
		// A child that leaves a grandchild holding the output open
		// must not hang the update.
		cmd.WaitDelay = time.Second
		if err := cmd.Run(); err != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%s %s: no answer within %v: %w", exePath, strings.Join(args, " "), timeout, err)
			}
			return fmt.Errorf("%s %s: %w; output: %q", exePath, strings.Join(args, " "), err, out.String())
		}
		return nil
	})
}

// capped is a buffer that keeps the first max bytes written to it.
type capped struct {
	bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.Len(); room > 0 {
		c.Buffer.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// CurrentVersion tells Apply the version of the executable it replaces
// when that executable was not installed through latch (its first update):
// the kept build is then recorded with that version, so that RevertUnsafe
// can return to it. It does not change the version floor.
func CurrentVersion(v string) ApplyOption { return func(o *applyOptions) { o.current = v } }

// AllowDowngradeUnsafe lets Apply install a release that the installed
// version floor refuses: one older than the installed build, or another
// build (other hashes) of the installed version. The floor is then lowered
// or replaced. Use it only when a person decided to go back (a repository
// that withdrew a release is better served by publishing a newer one): it
// switches off the protection against a rollback to old, vulnerable builds.
func AllowDowngradeUnsafe() ApplyOption { return func(o *applyOptions) { o.allowDowngrade = true } }

// ApplyResult describes what Apply did.
type ApplyResult struct {
	// Release is the release resolved.
	Release *ReleaseInfo
	// Updated is false when the release was installed already.
	Updated bool
	// Previous is the version installed before: the recorded one, else
	// CurrentVersion's; "" if unknown.
	Previous string
	// Backup is the path the previous build is kept under, "" if none.
	Backup string
}

// Apply updates the executable at exePath (normally os.Executable()) to
// the newest release rel selects, if it is newer than the installed one:
//
//  1. finish or undo an update a crash interrupted (Recover);
//  2. Refresh, and Resolve rel, passing over builds whose health check
//     failed before;
//  3. check the installed-version floor: a release older than the
//     installed build is refused with a *rollback.RollbackError (ErrRollback),
//     another build of the installed version with a *ReleaseChangedError,
//     unless AllowDowngradeUnsafe; the installed build itself is "up to
//     date" (Updated false);
//  4. download it, verified, into a hidden work directory beside the
//     executable (same file system), and take the executable out of an
//     archive release (ArchiveMember, MaxExecutableSize); the new
//     executable gets the permission bits of the old one;
//  5. swap it in atomically, keeping the old build: on Unix a rename over
//     the executable, on Windows a rename of the running executable aside
//     first (it is removed at a later start, see Recover);
//  6. run the health check, if any; if it fails, put the old build back,
//     remember the new one as failed and return a *HealthCheckError;
//  7. only then commit the new version floor, and drop kept builds beyond
//     KeepPrevious.
//
// Each outcome (installed, refused by the floor or as known bad, rolled
// back) is written to the audit log; with WithAuditRequired a failure to
// write it is returned after an install took effect, with the result.
//
// A crash at any instant leaves the old or the new executable in place,
// complete and executable, and a journal in the state directory
// ("selfupdate/<app>") from which the next Apply or Recover finishes the
// commit or undoes the swap (on Windows, a crash between the two renames
// leaves the executable's path empty for that moment's recovery; both
// builds are beside it). exePath is resolved to an absolute path without
// symbolic links first. The application keeps running its old build: to
// run the new one, restart. Apply, Recover and RevertUnsafe of a client run
// one at a time, and the state directory's lock keeps other clients and
// processes out.
func (c *Client) Apply(ctx context.Context, rel Release, exePath string, opts ...ApplyOption) (*ApplyResult, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	o := applyOptions{keep: 1, maxSize: 512 << 20}
	for _, opt := range opts {
		opt(&o)
	}
	rel = rel.withDefaults()
	if _, err := rel.check(); err != nil {
		return nil, fmt.Errorf("apply: %w", err)
	}
	if o.keep < 0 || o.maxSize < 1 {
		return nil, fmt.Errorf("apply: %w", &OptionError{Option: "KeepPrevious, MaxExecutableSize", Reason: fmt.Sprintf("%d, %d: want 0 or more, and 1 or more", o.keep, o.maxSize)})
	}
	if o.current != "" {
		if _, ok := releaseVersion(o.current); !ok {
			return nil, fmt.Errorf("apply: %w", &OptionError{Option: "CurrentVersion", Reason: fmt.Sprintf("%q is not a semantic version", o.current)})
		}
	}
	if o.member == "" {
		o.member = rel.App
		if rel.OS == "windows" {
			o.member += ".exe"
		}
	}
	c.applyMu.Lock()
	defer c.applyMu.Unlock()
	u, err := c.updater(rel.App, exePath)
	if err != nil {
		return nil, err
	}
	if err := c.recoverUpdate(u, rel.App); err != nil {
		return nil, err
	}
	st, err := os.Stat(u.Exe)
	if err != nil {
		return nil, fmt.Errorf("apply: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("apply: %w", &OptionError{Option: "exePath", Reason: fmt.Sprintf("%s is not a regular file", u.Exe)})
	}
	if err := c.Refresh(ctx); err != nil {
		return nil, err
	}
	installed, hasInstalled := c.installed(rel.App)
	info, skipped, err := c.resolve(ctx, rel, func(r *ReleaseInfo) bool { return c.failed(rel.App, r.sha256()) })
	for _, s := range skipped {
		c.log.Warn("passing over a release whose health check failed before", "app", rel.App, "version", s.Version, "sha256", s.sha256())
	}
	if err != nil {
		if len(skipped) > 0 && errors.Is(err, ErrNoRelease) {
			err = &KnownBadError{App: rel.App, Version: skipped[0].Version, SHA256: skipped[0].sha256()}
			return nil, c.auditInstall(u, rel.App, skipped[0], installed.Version, "refused", err)
		}
		return nil, err
	}
	sum := info.sha256()
	res := &ApplyResult{Release: info, Previous: installed.Version}
	unsafe := false
	if hasInstalled {
		nv, _ := releaseVersion(info.Version)
		iv, _ := releaseVersion(installed.Version)
		switch cmp := semver.Compare(nv, iv); {
		case cmp == 0 && sum == installed.SHA256:
			c.log.Info("up to date", "app", rel.App, "version", installed.Version)
			return res, nil
		case cmp < 0 && !o.allowDowngrade:
			err := &rollback.RollbackError{App: rel.App, Trusted: installed.Version, Got: info.Version, Err: ErrRollback}
			return nil, c.auditInstall(u, rel.App, info, installed.Version, "refused", err)
		case cmp == 0 && !o.allowDowngrade:
			err := &ReleaseChangedError{App: rel.App, Version: info.Version, InstalledSHA256: installed.SHA256, SHA256: sum}
			return nil, c.auditInstall(u, rel.App, info, installed.Version, "refused", err)
		case cmp < 0:
			unsafe = true
			c.log.Warn("installing an older release: AllowDowngradeUnsafe", "app", rel.App, "version", info.Version, "installed", installed.Version)
		}
	}
	prev := selfupdate.Build{Version: installed.Version, SHA256: installed.SHA256}
	if !hasInstalled {
		prev.Version, res.Previous = o.current, o.current
		if prev.SHA256, err = fileSHA256(u.Exe); err != nil {
			return nil, fmt.Errorf("apply: %w", err)
		}
		if _, ok := archive.FormatOf(info.Target.Path()); !ok && prev.SHA256 == sum {
			// The release is the executable already, installed by other
			// means: record it.
			op := selfupdate.Op{Kind: selfupdate.KindInstall, Build: selfupdate.Build{Version: info.Version, SHA256: sum}}
			if err := c.installHooks(rel.App).Commit(op); err != nil {
				return nil, fmt.Errorf("apply: recording the installed %s: %w", info.Version, err)
			}
			c.log.Info("up to date; version recorded", "app", rel.App, "version", info.Version)
			return res, c.auditInstall(u, rel.App, info, "", "recorded", nil)
		}
	}
	staged, err := u.Prepare()
	if err != nil {
		return nil, fmt.Errorf("apply: %w", err)
	}
	if err := c.stage(ctx, info.Target, staged, u.WorkDir(), st.Mode().Perm(), o); err != nil {
		if terr := u.Tidy(); terr != nil {
			c.log.Warn("self-update work directory not cleaned up", "err", terr)
		}
		return nil, err
	}
	var check func() error
	if o.health != nil {
		check = func() error { return o.health(ctx, u.Exe) }
	}
	build := selfupdate.Build{Version: info.Version, SHA256: sum}
	c.log.Info("installing", "app", rel.App, "version", info.Version, "previous", installed.Version, "exe", u.Exe)
	backup, err := u.Install(build, prev, unsafe, o.keep, check, c.installHooks(rel.App))
	err = exportErr(err)
	if errors.Is(err, ErrHealthCheck) {
		c.log.Error("health check failed; previous build restored", "app", rel.App, "version", info.Version, "err", err)
		err = &HealthCheckError{App: rel.App, Version: info.Version, SHA256: sum, Err: err}
		return nil, c.auditInstall(u, rel.App, info, installed.Version, "rolled-back", err)
	}
	if err != nil {
		return nil, fmt.Errorf("apply: installing %s %s: %w", rel.App, info.Version, err)
	}
	c.log.Info("installed", "app", rel.App, "version", info.Version, "backup", backup)
	res.Updated, res.Backup = true, backup
	return res, c.auditInstall(u, rel.App, info, installed.Version, "installed", nil)
}

// auditInstall records an install decision in the audit log and returns
// cause, the reason it was refused or failed (nil if it succeeded); an
// audit failure is returned only if WithAuditRequired, and only when there
// is no cause.
func (c *Client) auditInstall(u *selfupdate.Updater, app string, info *ReleaseInfo, previous, outcome string, cause error) error {
	fields := map[string]any{
		"app": app, "version": info.Version, "target": info.Target.Path(), "sha256": info.sha256(),
		"previous": previous, "exe": u.Exe, "outcome": outcome,
	}
	if cause != nil {
		for k, v := range errorFields(cause) {
			fields[k] = v
		}
	}
	if err := c.record(audit.KindInstall, fields); err != nil && cause == nil {
		return err
	}
	return cause
}

// stage downloads t, verified, and puts the executable it is or contains
// at staged with permission bits perm, durably.
func (c *Client) stage(ctx context.Context, t *Target, staged, work string, perm fs.FileMode, o applyOptions) error {
	format, isArchive := archive.FormatOf(t.Path())
	if !isArchive {
		if t.Length() > o.maxSize {
			return &TargetError{Path: t.Path(), Err: fmt.Errorf("%w: %d bytes, MaxExecutableSize is %d", ErrTooLarge, t.Length(), o.maxSize)}
		}
		if err := c.DownloadFile(ctx, t, staged); err != nil {
			return err
		}
		if err := os.Chmod(staged, perm); err != nil {
			return err
		}
		// fsync: the mode is the inode's, not the data's that the
		// download synced; it must be durable before the journal names
		// this file, or a power loss could swap in a file that can't run.
		return syncFile(staged)
	}
	dl := filepath.Join(work, "download")
	defer os.Remove(dl)
	if err := c.DownloadFile(ctx, t, dl); err != nil {
		return err
	}
	f, _, err := archive.ExtractFile(dl, format, o.member, work, o.maxSize)
	if err != nil {
		return &TargetError{Path: t.Path(), Err: exportErr(err)}
	}
	if err := f.Chmod(perm); err != nil {
		return errors.Join(err, f.Abort())
	}
	// Commit fsyncs the file (data and mode), renames it and fsyncs the
	// directory.
	return f.Commit(staged)
}

func syncFile(p string) error {
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Recover finishes or undoes a self-update of app at exePath that a crash
// interrupted (Apply does this first, too), and removes what is no longer
// needed beside the executable, such as a Windows executable renamed aside
// by the last update. Call it when the application starts; it does not use
// the network.
func (c *Client) Recover(app, exePath string) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if err := checkAppName("app", app); err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	c.applyMu.Lock()
	defer c.applyMu.Unlock()
	u, err := c.updater(app, exePath)
	if err != nil {
		return err
	}
	return c.recoverUpdate(u, app)
}

// RevertUnsafe puts back the newest build of app that the last Apply kept
// (KeepPrevious), and records it as installed although it is older: it
// lowers the installed-version floor, and remembers the build it replaces
// as failed, so that Apply does not install that build again until the
// repository publishes another. The revert is written to the audit log. Use
// it only on a person's explicit request (a local revert); it does not use
// the network. Nothing kept (or a kept build of unknown version, see
// CurrentVersion) is ErrNoBackup.
func (c *Client) RevertUnsafe(app, exePath string) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if err := checkAppName("app", app); err != nil {
		return fmt.Errorf("revert: %w", err)
	}
	c.applyMu.Lock()
	defer c.applyMu.Unlock()
	u, err := c.updater(app, exePath)
	if err != nil {
		return err
	}
	if err := c.recoverUpdate(u, app); err != nil {
		return err
	}
	cur, ok := c.installed(app)
	if !ok {
		return fmt.Errorf("revert %s: %w: nothing was installed through latch", app, ErrNoBackup)
	}
	b, err := u.Revert(selfupdate.Build{Version: cur.Version, SHA256: cur.SHA256}, c.installHooks(app))
	err = exportErr(err)
	if err != nil {
		return fmt.Errorf("revert %s: %w", app, err)
	}
	c.log.Warn("reverted to the kept previous build: RevertUnsafe", "app", app, "from", cur.Version, "to", b.Version, "exe", u.Exe)
	// docs/decisions.md, "Version floor": every explicit revert is in the audit log.
	return c.record(audit.KindRevert, map[string]any{
		"app": app, "from": cur.Version, "from_sha256": cur.SHA256, "to": b.Version, "to_sha256": b.SHA256, "exe": u.Exe,
	})
}

// updater returns the self-updater of app's executable at exePath, made
// absolute and free of symbolic links (the directory's, when the
// executable itself is missing, as after a crash on Windows).
func (c *Client) updater(app, exePath string) (*selfupdate.Updater, error) {
	abs, err := filepath.Abs(exePath)
	if err != nil {
		return nil, err
	}
	exe, err := filepath.EvalSymlinks(abs)
	if errors.Is(err, fs.ErrNotExist) {
		var dir string
		dir, err = filepath.EvalSymlinks(filepath.Dir(abs))
		exe = filepath.Join(dir, filepath.Base(abs))
	}
	if err != nil {
		return nil, fmt.Errorf("self-update of %s: %w", app, err)
	}
	return selfupdate.New(exe, filepath.Join(c.cfg.StateDir, "selfupdate", app), c.log), nil
}

// recoverUpdate runs the self-updater's recovery with the client's hooks.
func (c *Client) recoverUpdate(u *selfupdate.Updater, app string) error {
	out, err := u.Recover(c.installHooks(app))
	if err != nil {
		return fmt.Errorf("recovering the self-update of %s: %w", app, err)
	}
	if out == selfupdate.Clean {
		return nil
	}
	c.log.Warn("finished a self-update that was interrupted", "app", app, "exe", u.Exe, "outcome", out.String())
	return c.record(audit.KindInstall, map[string]any{"app": app, "exe": u.Exe, "outcome": "recovered: " + out.String()})
}

// installHooks record commits, reverts and failed builds of app in the
// trusted state.
func (c *Client) installHooks(app string) selfupdate.Hooks {
	return selfupdate.StateHooks(app, c.updateState, c.opts.clock)
}

// updateState applies change to a copy of the trusted state and saves it
// (atomically and durably: rollback.FileStore).
func (c *Client) updateState(change func(*rollback.State) error) error {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	next := c.state.Clone()
	if err := change(next); err != nil {
		return err
	}
	if err := c.store.Save(next); err != nil {
		return err
	}
	c.state = next
	return nil
}

// installed returns the build of app recorded as installed.
func (c *Client) installed(app string) (rollback.Install, bool) {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	in, ok := c.state.Installed[app]
	return in, ok
}

// failed reports whether the build of app with this hex SHA-256 failed its
// health check before.
func (c *Client) failed(app, sum string) bool {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	return c.state.IsFailed(app, sum)
}
