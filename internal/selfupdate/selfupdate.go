// Package selfupdate replaces a program's executable with a new build so that
// a crash at any instant leaves a complete, runnable executable at its path
// (or, in the one window Windows forces on us, both binaries beside it and a
// journal that says how to put one back), and so that the trusted record of
// the installed version moves only once the new build is in place and
// healthy.
//
// # Files
//
// Everything lives beside the executable, on its file system, so that every
// move is a rename: the work directory ".<name>.latch" holds the staged new
// binary ("new"), the kept previous versions ("backup-<n>") and binaries on
// their way out ("old-<n>", Windows only). A journal (one small JSON file,
// written atomically and durably, kept outside the work directory by the
// caller) lists the kept versions and describes the operation in progress.
//
// # Install
//
//  1. the caller stages the new binary at [Updater.Prepare]'s path and syncs it;
//  2. the journal records the operation (phase "swap") before the executable
//     is touched;
//  3. the old executable gets a second name in the work directory (rename
//     over: a hard link; rename aside: the running file itself is renamed
//     there, as Windows allows), and the new one is renamed onto the
//     executable's path;
//  4. the health check runs; if it fails, the journal says "rollback", the
//     old binary goes back, and [Hooks.MarkFailed] remembers the build;
//  5. otherwise the journal says "commit", [Hooks.Commit] records the new
//     version floor, and the journal keeps the old binary as the newest
//     backup, dropping the oldest beyond the count to keep.
//
// [Updater.Recover] reads the journal and finishes what a crash interrupted:
// a swap that may not have been health-checked is undone (the floor was not
// committed, so the old build is the installed one), a rollback is
// completed, a commit is made again (Commit must be idempotent). An
// explicit revert to the newest backup rolls forward.
//
// # Durability
//
// Each rename is followed by fsyncs of the directories it changed (see the
// comments at each call), and the journal is written with package
// atomicfile, so that after a power loss too the file system shows the
// steps in the order they were made. Recovery tells how far a swap went from
// which names exist, which is sound only if those steps persist in order.
//
// An Updater is not safe for concurrent use; its caller serialises
// operations on one executable.
package selfupdate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// Strategy is how the executable is replaced.
type Strategy int

const (
	// RenameOver renames the new binary over the executable, after giving
	// the old one a second name with a hard link (Unix: a running
	// executable may be replaced).
	RenameOver Strategy = iota + 1
	// RenameAside renames the running executable into the work directory
	// first, then the new binary onto its path (Windows: a running
	// executable can't be replaced or removed, only renamed). Between the
	// two renames there is no file at the path; the journal records how to
	// restore it.
	RenameAside
)

// StrategyFor returns the strategy for an operating system (runtime.GOOS).
func StrategyFor(goos string) Strategy {
	if goos == "windows" {
		return RenameAside
	}
	return RenameOver
}

func (s Strategy) String() string {
	switch s {
	case RenameOver:
		return "rename-over"
	case RenameAside:
		return "rename-aside"
	}
	return "strategy(" + strconv.Itoa(int(s)) + ")"
}

// Errors, matched with errors.Is.
var (
	// ErrUnhealthy: the new build failed its health check; the old one is
	// back in place and the build was marked failed.
	ErrUnhealthy = errors.New("health check failed")
	// ErrPending: an interrupted operation must be recovered first.
	ErrPending = errors.New("an interrupted update must be recovered first")
	// ErrNoBackup: no kept previous version to revert to.
	ErrNoBackup = errors.New("no kept previous version")
	// ErrJournal: the journal can't be read, or describes files that are
	// not there; a person has to look at it.
	ErrJournal = errors.New("self-update journal is unusable")
)

// Build identifies one binary of an application.
type Build struct {
	// Version is its semantic version, "" if unknown (a binary that was
	// not installed through latch).
	Version string `json:"version,omitempty"`
	// SHA256 is the hex SHA-256 of the release file it came from (the
	// archive for archived releases), "" if unknown.
	SHA256 string `json:"sha256,omitempty"`
}

// Kind is what an operation does.
type Kind string

const (
	KindInstall Kind = "install" // a new build, health-checked, then committed
	KindRevert  Kind = "revert"  // back to the newest kept build, committed at once
)

// Phase is how far an operation got, as its journal says.
type Phase string

const (
	// PhaseSwap: the executable is being replaced, or was and is being
	// checked. Recovery undoes an install (nothing was committed) and
	// finishes a revert.
	PhaseSwap Phase = "swap"
	// PhaseRollback: the old binary is going back. Recovery finishes that.
	PhaseRollback Phase = "rollback"
	// PhaseCommit: the new binary passed its check. Recovery commits it.
	PhaseCommit Phase = "commit"
)

// Op is an operation as the journal records it; the hooks receive it.
type Op struct {
	Kind  Kind  `json:"kind"`
	Phase Phase `json:"phase"`
	// Build is the binary going in, Prev the one it replaces.
	Build Build `json:"build"`
	Prev  Build `json:"prev"`
	// Unsafe: the commit may lower or replace the version floor (a
	// downgrade the caller allowed, or an explicit revert).
	Unsafe bool `json:"unsafe,omitempty"`
	// Failed: the rollback follows a failed health check.
	Failed bool `json:"failed,omitempty"`
	// Keep is how many previous builds to keep once committed.
	Keep int `json:"keep"`
	// Names in the work directory: the binary going in, the name the
	// replaced binary is kept under, and the name a binary on its way out
	// goes to under RenameAside ("" otherwise).
	New    string `json:"new"`
	Backup string `json:"backup,omitempty"`
	Aside  string `json:"aside,omitempty"`
}

// Hooks connect the swap to the trusted state. Both are called again by
// [Updater.Recover] after a crash that may have come after they returned,
// so they must be idempotent.
type Hooks struct {
	// Commit records op.Build as the installed build: the new version
	// floor (for a revert, lowered on purpose). The install is final once
	// it returns nil.
	Commit func(op Op) error
	// MarkFailed records that op.Build failed its health check.
	MarkFailed func(op Op) error
}

// Backup is a kept previous build.
type Backup struct {
	Path  string
	Build Build
}

// Outcome says what [Updater.Recover] found and did.
type Outcome int

const (
	Clean      Outcome = iota // nothing was interrupted
	RolledBack                // an install was undone: the old build is in place
	Committed                 // an install was committed: the new build is in place
	Reverted                  // a revert was finished: the kept build is in place
)

func (o Outcome) String() string {
	return [...]string{"clean", "rolled back", "committed", "reverted"}[o]
}

// journal is the file that describes the kept builds and the operation in
// progress.
type journal struct {
	Format  int      `json:"format"`
	Exe     string   `json:"exe"`
	Seq     int64    `json:"seq"`     // numbers backup and aside names
	Backups []kept   `json:"backups"` // newest first
	Trash   []string `json:"trash"`   // names to remove when possible
	Op      *Op      `json:"op"`
}

type kept struct {
	Name  string `json:"name"`
	Build Build  `json:"build"`
}

const journalFormat = 1

// stagedName is the name of the staged new binary in the work directory.
const stagedName = "new"

// Updater replaces one executable. Set every field; [New] does for the
// operating system it runs on.
type Updater struct {
	FS       FS
	Strategy Strategy
	// Exe is the executable's absolute path, symbolic links resolved.
	Exe string
	// Journal is the path of the journal file, outside the work directory.
	Journal string
	// Log receives what clean-up could not do (nil: discarded).
	Log *slog.Logger
}

// New returns an Updater for exe on this operating system, keeping its
// journal at journal and logging to log.
func New(exe, journal string, log *slog.Logger) *Updater {
	return &Updater{FS: OS{}, Strategy: StrategyFor(runtime.GOOS), Exe: exe, Journal: journal, Log: log}
}

// WorkDir is the directory beside the executable that holds the staged,
// kept and outgoing binaries.
func (u *Updater) WorkDir() string {
	return filepath.Join(filepath.Dir(u.Exe), "."+filepath.Base(u.Exe)+".latch")
}

func (u *Updater) path(name string) string { return filepath.Join(u.WorkDir(), name) }

// Prepare creates the work directory and the journal's directory and returns
// the path where the caller stages the new binary, with its final mode,
// synced, after removing what the journal does not list from the work
// directory. Nothing may be interrupted (ErrPending): call Recover first.
func (u *Updater) Prepare() (string, error) {
	j, err := u.load()
	if err != nil {
		return "", err
	}
	if j.Op != nil {
		return "", ErrPending
	}
	if err := u.FS.MkdirAll(filepath.Dir(u.Journal), 0o700); err != nil {
		return "", err
	}
	if err := u.FS.MkdirAll(u.WorkDir(), 0o700); err != nil {
		return "", err
	}
	if j.Exe == u.Exe {
		// Leftovers (a stale staged binary, partial downloads) go.
		u.tidy(j)
	}
	return u.path(stagedName), nil
}

// Install swaps the staged binary (see Prepare) into place. b describes it
// and prev the executable it replaces; unsafe is passed to the hooks; keep
// (at least 0) is how many previous builds stay afterwards. check, if not
// nil, is the health check of the binary now at the executable's path.
//
// If check fails, the old binary is restored, MarkFailed is called, and the
// error wraps ErrUnhealthy and check's error. On any other error before
// Commit the old binary is restored too, unless restoring fails as well: then
// the journal stays for Recover. An error from Commit leaves the new build in
// place and the journal in the commit phase, which Recover finishes.
// It returns the path the replaced binary is kept under, "" with keep 0.
func (u *Updater) Install(b, prev Build, unsafe bool, keep int, check func() error, h Hooks) (string, error) {
	if keep < 0 {
		return "", fmt.Errorf("selfupdate: keep %d is negative", keep)
	}
	j, err := u.load()
	if err != nil {
		return "", err
	}
	if j.Op != nil {
		return "", ErrPending
	}
	if _, err := u.FS.Stat(u.path(stagedName)); err != nil {
		return "", fmt.Errorf("selfupdate: staged binary: %w", err)
	}
	if j.Exe != u.Exe {
		// A journal of another path (the application moved): its kept
		// builds stay where they are, forgotten.
		j = &journal{Format: journalFormat, Exe: u.Exe, Seq: j.Seq}
	}
	j.Seq++
	op := &Op{
		Kind: KindInstall, Phase: PhaseSwap, Build: b, Prev: prev, Unsafe: unsafe, Keep: keep,
		New: stagedName, Backup: "backup-" + strconv.FormatInt(j.Seq, 10),
	}
	if u.Strategy == RenameAside {
		op.Aside = "old-" + strconv.FormatInt(j.Seq, 10)
	}
	for _, name := range []string{op.Backup, op.Aside} {
		if name != "" && u.exists(u.path(name)) {
			return "", fmt.Errorf("%w: %s exists already", ErrJournal, u.path(name))
		}
	}
	j.Op = op
	// The journal is durable before the executable is touched: whatever
	// happens next, Recover knows what to look for.
	if err := u.save(j); err != nil {
		return "", err
	}
	if err := u.put(op.New, op.Backup); err != nil {
		_, rerr := u.recover(j, h)
		return "", errors.Join(err, rerr)
	}
	if check != nil {
		if cerr := check(); cerr != nil {
			op.Phase, op.Failed = PhaseRollback, true
			// Even if the journal can't say so, put the old binary back
			// now; the journal on disk says "swap", which Recover
			// also rolls back.
			serr := u.save(j)
			_, rerr := u.recover(j, h)
			return "", errors.Join(fmt.Errorf("%w: %w", ErrUnhealthy, cerr), serr, rerr)
		}
	}
	op.Phase = PhaseCommit
	// The commit phase is durable before Commit runs: once the floor may
	// have moved, Recover must go forward, never back.
	if err := u.save(j); err != nil {
		// Nothing was committed: undo the swap.
		op.Phase = PhaseRollback
		_, rerr := u.recover(j, h)
		return "", errors.Join(err, rerr)
	}
	if _, err := u.recover(j, h); err != nil {
		return "", err
	}
	if keep == 0 {
		return "", nil
	}
	return u.path(op.Backup), nil
}

// Revert puts the newest kept build back in place of cur, the build
// installed now, and commits it with Hooks.Commit (op.Unsafe set, op.Prev
// being cur). The build must have a known version (ErrNoBackup otherwise).
// The replaced binary is not kept. It returns the build now in place.
func (u *Updater) Revert(cur Build, h Hooks) (Build, error) {
	j, err := u.load()
	if err != nil {
		return Build{}, err
	}
	if j.Op != nil {
		return Build{}, ErrPending
	}
	if j.Exe != u.Exe || len(j.Backups) == 0 {
		return Build{}, fmt.Errorf("%w for %s", ErrNoBackup, u.Exe)
	}
	prev := j.Backups[0]
	if prev.Build.Version == "" {
		return Build{}, fmt.Errorf("%w for %s with a known version (the kept binary was not installed through latch)", ErrNoBackup, u.Exe)
	}
	if _, err := u.FS.Stat(u.path(prev.Name)); err != nil {
		return Build{}, fmt.Errorf("%w: kept binary: %w", ErrNoBackup, err)
	}
	j.Seq++
	op := &Op{Kind: KindRevert, Phase: PhaseSwap, Build: prev.Build, Prev: cur, Unsafe: true, New: prev.Name}
	if u.Strategy == RenameAside {
		op.Aside = "old-" + strconv.FormatInt(j.Seq, 10)
	}
	j.Op = op
	if err := u.save(j); err != nil {
		return Build{}, err
	}
	if _, err := u.recover(j, h); err != nil {
		return Build{}, err
	}
	return prev.Build, nil
}

// Recover finishes or undoes an operation a crash interrupted (see the
// package documentation), then removes what is no longer needed from the
// work directory: binaries on their way out (retried at every call, since
// Windows can't remove one that is still running) and anything the journal
// does not list, such as partial downloads. A journal of another executable
// path is recovered at that path and then forgotten.
func (u *Updater) Recover(h Hooks) (Outcome, error) {
	j, err := u.load()
	if err != nil {
		return Clean, err
	}
	if j.Exe != u.Exe {
		if j.Op != nil {
			at := *u
			at.Exe = j.Exe
			if _, err := at.recover(j, h); err != nil {
				return Clean, err
			}
		}
		j = &journal{Format: journalFormat, Exe: u.Exe, Seq: j.Seq}
		if err := u.save(j); err != nil {
			return Clean, err
		}
	}
	return u.recover(j, h)
}

// recover drives j's operation to its end and tidies up.
func (u *Updater) recover(j *journal, h Hooks) (Outcome, error) {
	op := j.Op
	if op == nil {
		u.tidy(j)
		return Clean, nil
	}
	var out Outcome
	switch {
	case op.Kind == KindRevert:
		if err := u.put(op.New, op.Aside); err != nil {
			return Clean, err
		}
		if err := h.Commit(*op); err != nil {
			return Clean, err
		}
		j.Backups = slices.DeleteFunc(j.Backups, func(k kept) bool { return k.Name == op.New })
		out = Reverted
	case op.Phase == PhaseSwap && u.exists(op.New):
		// The swap did not complete (the new binary still has its staged
		// name): undo it.
		if !u.exists(u.Exe) {
			// Renamed aside, not yet replaced.
			if err := u.move(op.Backup, u.Exe); err != nil {
				return Clean, err
			}
		} else if u.exists(u.path(op.Backup)) {
			// Under RenameOver, a second name of the executable that
			// is still in place.
			j.Trash = append(j.Trash, op.Backup)
		}
		j.Trash = append(j.Trash, op.New)
		out = RolledBack
	case op.Phase == PhaseSwap || op.Phase == PhaseRollback:
		// The new binary is (or was) in place, unchecked or unhealthy:
		// put the old one back.
		if op.Phase == PhaseSwap {
			op.Phase = PhaseRollback
			if err := u.save(j); err != nil {
				return Clean, err
			}
		}
		if err := u.put(op.Backup, op.Aside); err != nil {
			return Clean, err
		}
		if op.Failed {
			if err := h.MarkFailed(*op); err != nil {
				return Clean, err
			}
		}
		out = RolledBack
	case op.Phase == PhaseCommit:
		if err := h.Commit(*op); err != nil {
			return Clean, err
		}
		j.Backups = append([]kept{{Name: op.Backup, Build: op.Prev}}, j.Backups...)
		for len(j.Backups) > op.Keep {
			j.Trash = append(j.Trash, j.Backups[len(j.Backups)-1].Name)
			j.Backups = j.Backups[:len(j.Backups)-1]
		}
		out = Committed
	default:
		return Clean, fmt.Errorf("%w: %s: unknown operation %q in phase %q", ErrJournal, u.Journal, op.Kind, op.Phase)
	}
	if op.Aside != "" && u.exists(u.path(op.Aside)) {
		j.Trash = append(j.Trash, op.Aside)
	}
	j.Op = nil
	if err := u.save(j); err != nil {
		return out, err
	}
	u.tidy(j)
	return out, nil
}

// put makes the work directory's file src the executable, keeping the
// replaced one as keep ("" to let it go; RenameAside always keeps it, as it
// can't be removed while it runs). It continues a put that was interrupted:
// a src that is gone was put already, and a missing executable was renamed
// aside already.
func (u *Updater) put(src, keep string) error {
	if !u.exists(u.path(src)) {
		return nil
	}
	if !u.exists(u.Exe) {
		return u.move(src, u.Exe)
	}
	work := u.WorkDir()
	switch {
	case u.Strategy == RenameAside:
		if keep == "" {
			return fmt.Errorf("selfupdate: rename-aside needs a name for the replaced executable")
		}
		if err := u.FS.Rename(u.Exe, u.path(keep)); err != nil {
			return err
		}
		// From here until the next rename there is no file at the
		// executable's path; the journal names both files. fsync both
		// directories so the two renames persist in this order (on
		// Windows the rename was written through and this does nothing).
		if err := errors.Join(u.FS.SyncDir(filepath.Dir(u.Exe)), u.FS.SyncDir(work)); err != nil {
			return errors.Join(err, u.FS.Rename(u.path(keep), u.Exe))
		}
		if err := u.move(src, u.Exe); err != nil {
			if !u.exists(u.Exe) {
				// Not a crash, an error: put the replaced binary back
				// rather than leave nothing in place.
				err = errors.Join(err, u.FS.Rename(u.path(keep), u.Exe))
			}
			return err
		}
		return nil
	case keep != "":
		if err := u.FS.Clone(u.Exe, u.path(keep)); err != nil {
			return err
		}
		// fsync: the second name must be durable before the rename
		// below may be, or a power loss could leave the new binary in
		// place with no old one to roll back to while the journal says
		// the swap is unchecked.
		if err := u.FS.SyncDir(work); err != nil {
			return err
		}
	}
	return u.move(src, u.Exe)
}

// move renames the work directory's file src to dest and makes it durable.
func (u *Updater) move(src, dest string) error {
	if err := u.FS.Rename(u.path(src), dest); err != nil {
		return err
	}
	// fsync both directories the rename changed: the executable's, so the
	// new binary is durably in place before the journal moves on (and
	// before the floor is committed); the work directory's, so the staged
	// name is durably gone, since recovery reads "staged name gone" as
	// "swap done".
	if err := u.FS.SyncDir(filepath.Dir(dest)); err != nil {
		return err
	}
	return u.FS.SyncDir(u.WorkDir())
}

// tidy removes the files on the trash list and everything else in the work
// directory that the journal does not list. A file that can't be removed
// (Windows: still running) stays on the list for the next call. Nothing
// here can make an operation fail, so failures are logged, not returned.
func (u *Updater) tidy(j *journal) {
	trash := j.Trash[:0:0]
	for _, name := range j.Trash {
		if err := u.FS.Remove(u.path(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			u.log().Info("outgoing binary not removed yet; trying again at the next start", "path", u.path(name), "err", err)
			trash = append(trash, name)
		}
	}
	if len(trash) != len(j.Trash) {
		j.Trash = trash
		if err := u.save(j); err != nil {
			// The removed names stay listed; the next call drops them.
			u.log().Warn("self-update journal not updated after clean-up", "err", err)
		}
	}
	entries, err := u.FS.ReadDir(u.WorkDir())
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			u.log().Warn("self-update work directory unreadable", "err", err)
		}
		return
	}
	listed := map[string]bool{}
	for _, k := range j.Backups {
		listed[k.Name] = true
	}
	for _, name := range j.Trash {
		listed[name] = true
	}
	if op := j.Op; op != nil {
		listed[op.New], listed[op.Backup], listed[op.Aside] = true, true, true
	}
	for _, e := range entries {
		if !listed[e.Name()] {
			if err := u.FS.Remove(u.path(e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				u.log().Warn("leftover in the self-update work directory not removed", "path", u.path(e.Name()), "err", err)
			}
		}
	}
}

func (u *Updater) log() *slog.Logger {
	if u.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return u.Log
}

// Tidy removes from the work directory what the journal does not list (a
// staged binary that was not installed, partial downloads) and retries the
// removal of outgoing binaries, logging what it could not remove. Nothing
// may be interrupted (ErrPending).
func (u *Updater) Tidy() error {
	j, err := u.load()
	if err != nil {
		return err
	}
	if j.Op != nil {
		return ErrPending
	}
	if j.Exe == u.Exe {
		u.tidy(j)
	}
	return nil
}

// Backups returns the kept previous builds of the executable, newest first.
func (u *Updater) Backups() ([]Backup, error) {
	j, err := u.load()
	if err != nil || j.Exe != u.Exe {
		return nil, err
	}
	out := make([]Backup, len(j.Backups))
	for i, k := range j.Backups {
		out[i] = Backup{Path: u.path(k.Name), Build: k.Build}
	}
	return out, nil
}

func (u *Updater) exists(p string) bool {
	_, err := u.FS.Stat(p)
	return err == nil
}

// load reads the journal; a missing one is an empty journal for u.Exe.
func (u *Updater) load() (*journal, error) {
	b, err := u.FS.ReadFile(u.Journal)
	if errors.Is(err, fs.ErrNotExist) {
		return &journal{Format: journalFormat, Exe: u.Exe}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("selfupdate: reading the journal: %w", err)
	}
	var j journal
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrJournal, u.Journal, err)
	}
	if err := j.check(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrJournal, u.Journal, err)
	}
	return &j, nil
}

// check refuses a journal that could make the Updater touch files outside
// its work directory.
func (j *journal) check() error {
	if j.Format != journalFormat {
		return fmt.Errorf("format %d, want %d", j.Format, journalFormat)
	}
	if !filepath.IsAbs(j.Exe) {
		return fmt.Errorf("executable path %q is not absolute", j.Exe)
	}
	names := slices.Clone(j.Trash)
	for _, k := range j.Backups {
		names = append(names, k.Name)
	}
	if op := j.Op; op != nil {
		names = append(names, op.New)
		if op.Kind == KindInstall {
			names = append(names, op.Backup)
		}
		if op.Aside != "" {
			names = append(names, op.Aside)
		}
		if op.Keep < 0 {
			return fmt.Errorf("keep %d is negative", op.Keep)
		}
	}
	for _, n := range names {
		if n == "" || n == "." || n == ".." || strings.ContainsAny(n, `/\:`) {
			return fmt.Errorf("file name %q is not a plain name", n)
		}
	}
	return nil
}

// save replaces the journal atomically and durably (temporary file, fsync,
// rename, fsync of its directory: package atomicfile): every later step
// relies on it being on disk first.
func (u *Updater) save(j *journal) error {
	b, err := json.MarshalIndent(j, "", "\t")
	if err != nil {
		return err
	}
	if err := u.FS.WriteFile(u.Journal, b, 0o600); err != nil {
		return fmt.Errorf("selfupdate: writing the journal: %w", err)
	}
	return nil
}
