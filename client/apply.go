package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/latchsec/latch/install"
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
	ErrHealthCheck = install.ErrHealthCheck
	// ErrNoBackup: RevertUnsafe has no kept previous version (with a known
	// version) to go back to.
	ErrNoBackup = install.ErrNoBackup
	// ErrHealthCheckInterrupted: the health check did not finish (its
	// process was killed, by the OOM killer or a user's Ctrl-C, or Apply's
	// ctx was cancelled while it ran, or the process running Apply
	// crashed). The build was neither installed nor failed: the next Apply
	// checks it once more, and a second check of it that does not finish
	// counts as failed (ErrHealthCheck), so there is no install loop. A
	// HealthCheck returns an error wrapping it to say its check did not
	// finish.
	ErrHealthCheckInterrupted = install.ErrHealthCheckInterrupted
	// ErrUnsafeWorkDir: the hidden work directory beside the executable is
	// a symbolic link or not a directory, or (on Unix) another user owns it
	// or group or others can write it: what is staged or kept there is put
	// at the executable's path. Nothing was changed; a person removes it or
	// fixes it. See *WorkDirError.
	ErrUnsafeWorkDir = install.ErrUnsafeWorkDir
	// ErrJournal: the self-update journal in the state directory can't be
	// read, or describes files that are not there; a person has to look at
	// it before Apply, Recover or RevertUnsafe can go on.
	ErrJournal = install.ErrJournal
)

// WorkDirError reports an unsafe work directory (ErrUnsafeWorkDir) with its
// path and the reason.
type WorkDirError = install.WorkDirError

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

// HealthCheckError reports a new build that failed its health check (or
// whose check did not finish twice). The previous build stays in place
// (checked after the swap: was put back) and the failed one is remembered
// (by hash).
type HealthCheckError struct {
	App, Version, SHA256 string
	Err                  error // wraps ErrHealthCheck and the check's error
}

func (e *HealthCheckError) Error() string {
	return fmt.Sprintf("%s %s not installed: %v", e.App, e.Version, e.Err)
}

func (e *HealthCheckError) Unwrap() error { return e.Err }

// ApplyOption adjusts one [Client.Apply] call.
type ApplyOption func(*applyOptions)

type applyOptions struct {
	keep           int
	member         string
	maxSize        int64
	health         func(ctx context.Context, path string) error
	checkInPlace   bool
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

// HealthCheck runs check on the new build before it is installed. An error
// fails the build: the previous one stays, and the build is remembered and
// passed over (see ErrKnownBad). An error wrapping
// ErrHealthCheckInterrupted, or any error once Apply's ctx is cancelled,
// means the check did not finish: the build is checked once more at the
// next Apply (see ErrHealthCheckInterrupted).
//
// check gets Apply's ctx and the path of the build: a second name of it in
// the executable's directory, ".<name>.latch-check" plus the executable's
// extension (".exe"), so that it runs from the directory it will run from,
// while the previous build stays at the executable's path until the check
// passed. A crash at any instant therefore leaves a checked build, or the
// previous one, at the executable's path. A check that needs the
// executable's own path or name uses HealthCheckAfterSwapUnsafe.
func HealthCheck(check func(ctx context.Context, path string) error) ApplyOption {
	return func(o *applyOptions) { o.health = check }
}

// HealthCheckAfterSwapUnsafe runs the HealthCheck after the swap, at the
// executable's own path, for a check that needs that path or name. It gives
// up a guarantee: from the swap until the check passed, the build at the
// executable's path is unchecked. If the check fails, the previous build
// is put back; but after a crash during it, the unchecked build stays there
// until the next Apply or Recover puts the previous one back, and if that
// build can't start, the application can't run them itself: something
// else must call Recover.
func HealthCheckAfterSwapUnsafe() ApplyOption { return func(o *applyOptions) { o.checkInPlace = true } }

// HealthCheckCommand is a HealthCheck that runs the new executable with
// args (for example "--version" or "selftest") and wants exit status 0
// within timeout. Its output is kept (up to 4 KiB) for the error. A run
// killed by a signal from outside (SIGKILL, as the OOM killer sends;
// SIGINT, SIGTERM, SIGHUP) did not finish: ErrHealthCheckInterrupted. A
// crash of the build (another signal, a non-zero exit) or no answer within
// timeout fails it.
func HealthCheckCommand(timeout time.Duration, args ...string) ApplyOption {
	return HealthCheck(func(ctx context.Context, exe string) error {
		run, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		out := &capped{max: 4 << 10}
		cmd := exec.CommandContext(run, exe, args...)
		cmd.Stdout, cmd.Stderr = out, out
		// A child that leaves a grandchild holding the output open
		// must not hang the update.
		cmd.WaitDelay = time.Second
		if err := cmd.Run(); err != nil {
			what := exe + " " + strings.Join(args, " ")
			switch {
			case ctx.Err() == nil && errors.Is(run.Err(), context.DeadlineExceeded):
				return fmt.Errorf("%s: no answer within %v: %w", what, timeout, err)
			case killedFromOutside(err):
				return fmt.Errorf("%s: %w: %w", what, ErrHealthCheckInterrupted, err)
			}
			return fmt.Errorf("%s: %w; output: %q", what, err, out.String())
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

// CurrentVersion tells Apply the version of the running build (as built,
// for example with -ldflags "-X main.version=1.4.2"). It counts while
// latch has no record of the bytes at the executable's path: at the first
// update, or after the executable was replaced by other means. Then it is
// a version floor like the installed version's (a release older than it
// is refused with ErrRollback; the same version is up to date) and it
// labels the kept build, so that RevertUnsafe can return to it. Once latch
// has put a build in place, its records, which identify the executable by
// the SHA-256 of its bytes, count instead: after a crash, the process
// running Apply need not be the build on disk.
//
// A version that isn't a semantic version ("dev", a build without
// -ldflags) is unknown: Apply installs the newest release (and logs it),
// and the floor starts there. So does a missing CurrentVersion.
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
	// KnownBad, if not nil, is a release newer than Release that Apply
	// passed over because it failed its health check before (the newest
	// such, with its version and target): the repository offers an update
	// that this client will not install until another build of it is
	// published. Report it; nil if nothing newer was passed over.
	KnownBad *ReleaseInfo
	// Updated is false when the release was installed already.
	Updated bool
	// Previous is the version of the build that was at the executable's
	// path, as latch's records of its bytes say, else CurrentVersion's;
	// "" if unknown.
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
//  3. check the version floor: the installed version, or while latch has
//     no record of the executable's bytes CurrentVersion (see there). A
//     release older than the floor is refused with a
//     *rollback.RollbackError (ErrRollback), another build of the
//     installed version with a *ReleaseChangedError, unless
//     AllowDowngradeUnsafe; the installed build itself is "up to date"
//     (Updated false);
//  4. download it, verified, into a hidden work directory beside the
//     executable (same file system), and take the executable out of an
//     archive release (ArchiveMember, MaxExecutableSize); the new
//     executable gets the permission bits of the old one, without group
//     and other write;
//  5. run the health check, if any, on the new build beside the
//     executable; if it fails, remember the build as failed and return a
//     *HealthCheckError; the previous build never left;
//  6. swap it in atomically, keeping the old build: on Unix a rename over
//     the executable, on Windows a rename of the running executable aside
//     first (it is removed at a later start, see Recover);
//  7. only then commit the new version floor, and drop kept builds beyond
//     KeepPrevious.
//
// Each outcome (installed, refused by the floor or as known bad, rolled
// back, check interrupted) is written to the audit log; with
// WithAuditRequired a failure to write it is returned after an install
// took effect, with the result. What happened to the executable is
// recorded exactly once even if a crash comes between the change and its
// record: the journal keeps the operation until its record is written,
// and the next Apply, Recover or RevertUnsafe writes it.
//
// A crash at any instant leaves the old or the new executable in place,
// complete and executable, and never a build whose check failed or had not
// passed yet (unless HealthCheckAfterSwapUnsafe); the journal in the state
// directory ("selfupdate/<app>") lets the next Apply or Recover finish the
// commit or undo the swap (on Windows, a crash between the two renames
// leaves the executable's path empty for that moment's recovery; both
// builds are beside it). What latch records as installed and kept is
// identified by the SHA-256 of the bytes on disk. A crash during the health
// check counts as a check that did not finish (see
// ErrHealthCheckInterrupted). exePath is resolved to an absolute path
// without symbolic links first. The application keeps running its old
// build: to run the new one, restart. A start-up that calls Apply need not
// call Recover first (see Recover). Apply, Recover, RevertUnsafe and
// Builds of a client run one at a time, and the state directory's lock
// keeps other clients and processes out.
func (c *Client) Apply(ctx context.Context, rel Release, exePath string, opts ...ApplyOption) (*ApplyResult, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	rel = rel.withDefaults()
	o, err := applyOptionsFor(rel, opts)
	if err != nil {
		return nil, fmt.Errorf("apply: %w", err)
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
	src := c.releases()
	if err := src.refreshReleases(ctx); err != nil {
		return nil, err
	}
	cur, known, err := c.inPlace(u, rel.App, o.current)
	if err != nil {
		return nil, fmt.Errorf("apply: %w", err)
	}
	info, skipped, err := src.resolve(ctx, rel, func(r *ReleaseInfo) bool { return c.failed(rel.App, r.sha256()) })
	for _, s := range skipped {
		c.log.Warn("passing over a release whose health check failed before", "app", rel.App, "version", s.Version, "sha256", s.sha256())
	}
	if err != nil && (len(skipped) == 0 || !errors.Is(err, ErrNoRelease)) {
		return nil, err
	}
	installed, _ := c.installed(rel.App)
	d := decideInstall(installFactsOf(installed, cur, known, info, skipped, o.allowDowngrade))
	if refused, err := refusal(d, rel.App, info, skipped); err != nil {
		return nil, c.auditInstall(u, rel.App, refused, cur.Version, "refused", err)
	}
	res := &ApplyResult{Release: info, Previous: cur.Version}
	if d.NewerKnownBad {
		res.KnownBad = skipped[0]
	}
	if d.Action == actUpToDate {
		c.log.Info("up to date", "app", rel.App, "version", d.Floor.Version)
		return res, nil
	}
	switch {
	case d.Floor.Version == "":
		c.log.Info("the version of the build in place is unknown: the newest release is the floor from now on", "app", rel.App, "version", info.Version, "exe", u.Exe)
	case d.Unsafe:
		c.log.Warn("installing an older release: AllowDowngradeUnsafe", "app", rel.App, "version", info.Version, "installed", d.Floor.Version)
	}
	if d.Action == actRecord {
		return res, c.recordInPlace(u, rel.App, info, cur, d.Unsafe)
	}
	r := selfupdate.Request{Build: releaseBuild(info), Prev: cur, Unsafe: d.Unsafe, Keep: o.keep, CheckInPlace: o.checkInPlace}
	backup, err := c.install(ctx, u, rel.App, src, info, r, st.Mode().Perm(), o)
	if err != nil {
		return nil, c.auditEnded(u, rel.App, &applied{info: info, cause: err})
	}
	res.Updated, res.Backup = true, backup
	return res, c.auditEnded(u, rel.App, &applied{info: info})
}

// applyOptionsFor applies opts to the defaults and checks them.
func applyOptionsFor(rel Release, opts []ApplyOption) (applyOptions, error) {
	o := applyOptions{keep: 1, maxSize: 512 << 20}
	for _, opt := range opts {
		opt(&o)
	}
	if _, err := rel.check(); err != nil {
		return o, err
	}
	if o.keep < 0 || o.maxSize < 1 {
		return o, &OptionError{Option: "KeepPrevious, MaxExecutableSize", Reason: fmt.Sprintf("%d, %d: want 0 or more, and 1 or more", o.keep, o.maxSize)}
	}
	if o.member == "" {
		o.member = rel.App
		if rel.OS == "windows" {
			o.member += ".exe"
		}
	}
	return o, nil
}

// recordInPlace is the first-install path of a build installed by other
// means: the executable at u is the release file itself, so it is recorded
// as installed (the version floor from now on) without a download or a
// swap.
func (c *Client) recordInPlace(u *selfupdate.Updater, app string, info *ReleaseInfo, cur selfupdate.Build, unsafe bool) error {
	op := selfupdate.Op{Kind: selfupdate.KindInstall, Build: releaseBuild(info), Unsafe: unsafe}
	if err := c.installHooks(app).Commit(op); err != nil {
		return fmt.Errorf("apply: recording the installed %s: %w", info.Version, err)
	}
	c.log.Info("up to date; version recorded", "app", app, "version", info.Version)
	return c.auditInstall(u, app, info, cur.Version, "recorded", nil)
}

// releaseBuild is the build info's release file makes.
func releaseBuild(info *ReleaseInfo) selfupdate.Build {
	return selfupdate.Build{Version: info.Version, SHA256: info.sha256()}
}

// install stages the release from src, checks it and swaps it in as r
// says (perm: the executable's permission bits), and returns the path the
// previous build is kept under. Its caller writes the audit record of
// what happened (auditEnded).
func (c *Client) install(ctx context.Context, u *selfupdate.Updater, app string, src releaseSource, info *ReleaseInfo, r selfupdate.Request, perm fs.FileMode, o applyOptions) (string, error) {
	staged, err := u.Prepare()
	if err != nil {
		return "", fmt.Errorf("apply: %w", err)
	}
	// Group and other write never: whoever could write the file could
	// replace what runs.
	if err := c.stage(ctx, src, info, staged, u.WorkDir(), perm&^0o022, o); err != nil {
		if terr := u.Tidy(); terr != nil {
			c.log.Warn("self-update work directory not cleaned up", "err", terr)
		}
		return "", err
	}
	if o.health != nil {
		r.Check = func(p string) error {
			err := o.health(ctx, p)
			if err != nil && ctx.Err() != nil && !errors.Is(err, ErrHealthCheckInterrupted) {
				err = fmt.Errorf("%w: %w: %w", ErrHealthCheckInterrupted, ctx.Err(), err)
			}
			return err
		}
	}
	c.log.Info("installing", "app", app, "version", info.Version, "previous", r.Prev.Version, "exe", u.Exe)
	backup, err := u.Install(r, c.installHooks(app))
	switch {
	case errors.Is(err, ErrHealthCheck):
		c.log.Error("health check failed; the previous build stays", "app", app, "version", info.Version, "err", err)
		return "", &HealthCheckError{App: app, Version: info.Version, SHA256: info.sha256(), Err: err}
	case errors.Is(err, ErrHealthCheckInterrupted):
		c.log.Warn("health check did not finish; the build is checked once more at the next Apply", "app", app, "version", info.Version, "err", err)
		return "", fmt.Errorf("apply: %s %s: %w", app, info.Version, err)
	case err != nil:
		return "", fmt.Errorf("apply: installing %s %s: %w", app, info.Version, err)
	}
	c.log.Info("installed", "app", app, "version", info.Version, "backup", backup)
	return backup, nil
}

// inPlace identifies the build at u's executable: by latch's records of its
// bytes (known true): the journal's, or for bytes the journal has no record
// of, the installed release if it is the executable itself (one installed
// by other means and recorded). Otherwise the running build's version
// current labels it, if it is a semantic version.
func (c *Client) inPlace(u *selfupdate.Updater, app, current string) (selfupdate.Build, bool, error) {
	b, known, err := u.InPlace()
	if err != nil || known {
		if known && current != "" && !sameVersion(current, b.Version) {
			c.log.Info("CurrentVersion is not what latch's records say the executable's bytes are; the records count", "app", app, "current_version", current, "recorded", b.Version)
		}
		return b, known, err
	}
	if in, ok := c.installed(app); ok && in.SHA256 == b.Exe {
		return selfupdate.Build{Version: in.Version, SHA256: in.SHA256, Exe: b.Exe, Installed: in.Time}, true, nil
	}
	if _, ok := rollback.CanonicalVersion(current); ok {
		b.Version = current
	} else if current != "" {
		c.log.Info("CurrentVersion is not a semantic version: the version in place is unknown", "app", app, "current_version", current)
	}
	return b, false, nil
}

func sameVersion(a, b string) bool {
	va, oka := rollback.CanonicalVersion(a)
	vb, okb := rollback.CanonicalVersion(b)
	return oka && okb && semver.Compare(va, vb) == 0
}

// auditInstall records a decision of Apply that did not touch the
// executable (a refusal, or a build recorded where it is) in the audit log
// and returns cause, the reason it was refused (nil if none); an audit
// failure is returned only if WithAuditRequired, and only when there is no
// cause.
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

// stage downloads the release from src, verified, and puts the executable
// it is or contains at staged with permission bits perm, durably.
func (c *Client) stage(ctx context.Context, src releaseSource, info *ReleaseInfo, staged, work string, perm fs.FileMode, o applyOptions) error {
	t := info.Target
	format, isArchive := archive.FormatOf(t.Path())
	if !isArchive {
		if t.Length() > o.maxSize {
			return &TargetError{Path: t.Path(), Err: fmt.Errorf("%w: %d bytes, MaxExecutableSize is %d", ErrTooLarge, t.Length(), o.maxSize)}
		}
		if err := src.downloadRelease(ctx, info, staged); err != nil {
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
	if err := src.downloadRelease(ctx, info, dl); err != nil {
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

// Recover finishes or undoes a self-update of app at exePath that a crash
// interrupted, and removes what is no longer needed beside the executable,
// such as a Windows executable renamed aside by the last update. It writes
// the audit record of what it did to the executable, and one a crash kept
// out of the log (see Apply). It does not use the network.
//
// Call it when the application starts, before it does its work: Apply
// does the same first, so a start-up that calls Apply need not call
// Recover too. With a HealthCheck in its default placement, what a crash
// leaves at the executable's path is the previous build or one that passed
// its check, and Recover (or Apply) makes latch's records agree with it:
// it commits the checked build, or puts the previous one back, and counts a
// check that did not finish. With HealthCheckAfterSwapUnsafe a crash during
// the check leaves the unchecked build at the executable's path: Recover
// puts the previous one back, but the start that calls it already runs the
// unchecked build, and a build that can't start can't call it (nor can an
// application whose path a crash on Windows left empty, see Apply): then
// something else, a launcher or a service manager, must call Recover.
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
	if _, ok := c.installed(app); !ok {
		return fmt.Errorf("revert %s: %w: nothing was installed through latch", app, ErrNoBackup)
	}
	cur, _, err := c.inPlace(u, app, "")
	if err != nil {
		return fmt.Errorf("revert %s: %w", app, err)
	}
	b, err := u.Revert(cur, c.installHooks(app))
	if err != nil {
		return fmt.Errorf("revert %s: %w", app, err)
	}
	c.log.Warn("reverted to the kept previous build: RevertUnsafe", "app", app, "from", cur.Version, "to", b.Version, "exe", u.Exe)
	// docs/decisions.md, "Version floor": every explicit revert is in the audit log.
	return c.auditEnded(u, app, &applied{})
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
	return selfupdate.New(exe, filepath.Join(c.journalDir(), app), c.log, c.opts.clock), nil
}

// journalDir holds the self-update journal of each application, named
// after it.
func (c *Client) journalDir() string { return filepath.Join(c.cfg.StateDir, "selfupdate") }

// recoverUpdate runs the self-updater's recovery with the client's hooks,
// and writes the audit record of an operation on the executable that a
// crash kept from the log: one that ended before the crash, and the one it
// finishes or undoes.
func (c *Client) recoverUpdate(u *selfupdate.Updater, app string) error {
	if err := c.auditEnded(u, app, nil); err != nil {
		return fmt.Errorf("recovering the self-update of %s: %w", app, err)
	}
	out, err := u.Recover(c.installHooks(app))
	if err != nil {
		return fmt.Errorf("recovering the self-update of %s: %w", app, err)
	}
	if out == selfupdate.Clean {
		return nil
	}
	c.log.Warn("finished a self-update that was interrupted", "app", app, "exe", u.Exe, "outcome", out.String())
	if err := c.auditEnded(u, app, nil); err != nil {
		return fmt.Errorf("recovering the self-update of %s: %w", app, err)
	}
	return nil
}

// installHooks record app's installs in the trusted state, stamped with
// the client's clock. A commit sets the installed-version floor (refusing
// an older build unless op.Unsafe) to the build's version and release hash
// (its executable's hash if it did not come from a release); a revert
// lowers it on purpose and marks the release it leaves as failed, so that
// the next update doesn't reinstall it; a failed health check marks the
// build failed. Each is idempotent, as selfupdate.Hooks must be.
func (c *Client) installHooks(app string) selfupdate.Hooks {
	return selfupdate.Hooks{
		Commit: func(op selfupdate.Op) error {
			return c.updateState(func(s *rollback.State) error {
				in := rollback.Install{Version: op.Build.Version, SHA256: recordSHA256(op.Build), Time: c.opts.clock().UTC()}
				switch {
				case op.Kind == selfupdate.KindRevert:
					if err := s.ForceInstallUnsafe(app, in); err != nil {
						return err
					}
					if op.Prev.SHA256 == "" {
						return nil // not a release: nothing could install it again
					}
					return s.MarkFailed(app, op.Prev.SHA256)
				case op.Unsafe:
					return s.ForceInstallUnsafe(app, in)
				}
				return s.CommitInstall(app, in)
			})
		},
		MarkFailed: func(op selfupdate.Op) error {
			return c.updateState(func(s *rollback.State) error { return s.MarkFailed(app, op.Build.SHA256) })
		},
		// The audit log's head as the operation begins: its record
		// follows it (see auditEnded).
		Mark: func() string {
			if c.auditLog == nil {
				return ""
			}
			return strconv.FormatUint(c.auditLog.Head().Seq, 10)
		},
	}
}

// recordSHA256 is the hash that stands for b in the trusted state: its
// release file's, or its executable's if it did not come from a release.
func recordSHA256(b selfupdate.Build) string {
	if b.SHA256 != "" {
		return b.SHA256
	}
	return b.Exe
}
