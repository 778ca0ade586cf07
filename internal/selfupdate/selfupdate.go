// Package selfupdate replaces a program's executable with a new build so that
// a crash at any instant leaves a complete, runnable executable at its path
// (or, in the one window Windows forces on us, both binaries beside it and a
// journal that says how to put one back), only a build that passed its
// health check is ever put there, and the trusted record of the installed
// version moves only once the new build is in place.
//
// # Files
//
// Everything lives beside the executable, on its file system, so that every
// move is a rename: the work directory ".<name>.latch" holds the staged new
// binary ("new"), the kept previous versions ("backup-<n>") and binaries on
// their way out ("old-<n>", Windows only); the health check runs a second
// name of the staged binary in the executable's own directory (see
// [Updater.CheckPath]). A journal (one small JSON file, written atomically
// and durably, kept outside the work directory by the caller) records the
// build in place and the kept builds, each with the SHA-256 of its bytes,
// and describes the operation in progress. The journal names files in the
// work directory; [Updater] turns such a name into a path in one place, so
// that no name is ever taken relative to the working directory.
//
// # Install
//
//  1. the caller stages the new binary at [Updater.Prepare]'s path and syncs it;
//  2. the journal records the operation (phase "check") and the health check
//     runs the staged binary beside the executable;
//  3. the journal says "swap" before the executable is touched;
//  4. the old executable gets a second name in the work directory (rename
//     over: a hard link; rename aside: the running file itself is renamed
//     there, as Windows allows), and the new one is renamed onto the
//     executable's path;
//  5. the journal says "commit", [Hooks.Commit] records the new version
//     floor, and the journal records the new build as the one in place and
//     keeps the old one as the newest backup, dropping the oldest beyond the
//     count to keep.
//
// A check that fails puts the journal in phase "rollback": the staged build
// goes, and [Hooks.MarkFailed] remembers it. With [Request.CheckInPlace] the
// check runs after step 4 instead, at the executable's path (phase "check"
// again), and a failure puts the old binary back.
//
// # Recovery
//
// [Updater.Recover] reads the journal and finishes what a crash interrupted.
// Before the commit phase an install is undone: the old build is put back
// (if it had gone) and recorded as the one in place, since the floor was not
// committed. A commit is made again (Commit must be idempotent). An explicit
// revert to the newest backup rolls forward.
//
// A health check that did not finish (the process was killed while it ran,
// or the check reports [install.ErrHealthCheckInterrupted]) neither passes
// nor fails the build: the install is undone and the journal counts it. The
// next install of that build checks it again; a second check of it that
// does not finish counts as failed, so a build whose check keeps getting
// killed can't cause an install loop.
//
// The write of the journal that ends an operation also keeps it as the
// operation that ended ([Updater.Ended]) until the caller has recorded it
// ([Updater.Recorded]), so that a crash between the end and the caller's
// record (the client's audit log) leaves the record owed, not lost.
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
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchsec/latch/install"
	"github.com/latchsec/latch/internal/atomicfile"
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

// ErrPending: an interrupted operation must be recovered first. The other
// errors this package returns are those of package install.
var ErrPending = errors.New("an interrupted update must be recovered first")

// Build identifies one binary of an application.
type Build struct {
	// Version is its semantic version, "" if unknown.
	Version string `json:"version,omitempty"`
	// SHA256 is the hex SHA-256 of the release file it came from (the
	// archive for archived releases), "" if it did not come from a release
	// (it was there before latch).
	SHA256 string `json:"sha256,omitempty"`
	// Exe is the hex SHA-256 of the executable's bytes, set by the
	// Updater from the file itself.
	Exe string `json:"exe_sha256,omitempty"`
	// Installed is when the Updater put it at the executable's path, zero
	// if it did not.
	Installed time.Time `json:"installed,omitzero"`
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
	// PhaseCheck: the health check of the new build is running (beside
	// the executable, or in place after the swap). Recovery undoes the
	// install and counts a check that did not finish.
	PhaseCheck Phase = "check"
	// PhaseSwap: the executable is being replaced, or was and is waiting
	// for its commit. Recovery undoes an install (nothing was committed)
	// and finishes a revert.
	PhaseSwap Phase = "swap"
	// PhaseRollback: the old binary is going back. Recovery finishes that.
	PhaseRollback Phase = "rollback"
	// PhaseCommit: the new binary passed its check and is in place.
	// Recovery commits it.
	PhaseCommit Phase = "commit"
)

// name is the name of a file in the work directory, as the journal lists
// it. It becomes a path only through Updater.path: a name used as a path
// would be taken relative to the working directory.
type name string

// Op is an operation as the journal records it; the hooks receive it.
type Op struct {
	Kind  Kind  `json:"kind"`
	Phase Phase `json:"phase"`
	// Seq numbers the operations of a journal, from 1.
	Seq int64 `json:"seq,omitempty"`
	// Mark is what Hooks.Mark returned when the operation began, for
	// the caller's record of it.
	Mark string `json:"mark,omitempty"`
	// Build is the binary going in, Prev the one it replaces.
	Build Build `json:"build"`
	Prev  Build `json:"prev"`
	// Unsafe: the commit may lower or replace the version floor (a
	// downgrade the caller allowed, or an explicit revert).
	Unsafe bool `json:"unsafe,omitempty"`
	// Failed: the rollback follows a failed health check.
	Failed bool `json:"failed,omitempty"`
	// CheckInPlace: the health check runs at the executable's path after
	// the swap, not beside it before.
	CheckInPlace bool `json:"check_in_place,omitempty"`
	// Keep is how many previous builds to keep once committed.
	Keep int `json:"keep"`
	// Names in the work directory: the binary going in, the name the
	// replaced binary is kept under, and the name a binary on its way out
	// goes to under RenameAside ("" otherwise).
	New    name `json:"new"`
	Backup name `json:"backup,omitempty"`
	Aside  name `json:"aside,omitempty"`
}

// Hooks connect the swap to the caller's trusted state, which this package
// neither reads nor stores (the client records the version floor and the
// failed builds through them). Both are called again by
// [Updater.Recover] after a crash that may have come after they returned,
// so they must be idempotent.
type Hooks struct {
	// Commit records op.Build as the installed build: the new version
	// floor (for a revert, lowered on purpose). The install is final once
	// it returns nil.
	Commit func(op Op) error
	// MarkFailed records that op.Build failed its health check.
	MarkFailed func(op Op) error
	// Mark, if not nil, is called as an operation begins; what it
	// returns is kept with the operation (Op.Mark), for the caller to
	// find its record of the operation after a crash (see Ended).
	Mark func() string
}

// Ended is an operation that ended (Install, Revert, or Recover finishing
// one): what happened to the executable at Exe. The journal keeps it, in
// the same write that ends the operation, until the caller says it
// recorded it ([Updater.Recorded]): a crash between the end and the
// caller's record leaves it for the next start to record.
type Ended struct {
	Exe     string  `json:"exe"`
	Op      Op      `json:"op"`
	Outcome Outcome `json:"outcome"`
}

// Backup is a kept previous build.
type Backup struct {
	Path  string
	Build Build
}

// Outcome says what [Updater.Recover] found and did. The journal stores
// it by number (Ended): new values go at the end.
type Outcome int

const (
	Clean      Outcome = iota // nothing was interrupted
	RolledBack                // an install was undone: the old build is in place
	Committed                 // an install was committed: the new build is in place
	Reverted                  // a revert was finished: the kept build is in place
	// CheckInterrupted: an install whose health check did not finish was
	// undone; the build will be checked once more.
	CheckInterrupted
	// CheckFailed: as CheckInterrupted, for the second time for this
	// build: it was marked failed.
	CheckFailed
)

func (o Outcome) String() string {
	return [...]string{"clean", "rolled back", "committed", "reverted", "health check interrupted", "health check interrupted twice: build marked failed"}[o]
}

// Request describes an install.
type Request struct {
	// Build is the staged build (its Exe is set by Install from the file).
	Build Build
	// Prev is the build in place, as [Updater.InPlace] identified it.
	Prev Build
	// Unsafe is passed to the hooks (see Op.Unsafe).
	Unsafe bool
	// Keep (at least 0) is how many previous builds stay afterwards.
	Keep int
	// Check, if not nil, is the health check of the build at path: by
	// default a second name of the staged build beside the executable
	// ([Updater.CheckPath]), before the swap; with CheckInPlace the
	// executable's path, after it.
	Check        func(path string) error
	CheckInPlace bool
}

// Updater replaces one executable. Set every field but Log and Now; [New]
// does for the operating system it runs on.
type Updater struct {
	FS       FS
	Strategy Strategy
	// Exe is the executable's absolute path, symbolic links resolved.
	Exe string
	// Journal is the path of the journal file, outside the work directory.
	Journal string
	// Log receives each change made to the disk (level Debug, before it is
	// made) and what clean-up could not do (nil: discarded).
	Log *slog.Logger
	// Now stamps the builds put in place (nil: time.Now).
	Now func() time.Time
}

// New returns an Updater for exe on this operating system, keeping its
// journal at journal, logging to log and reading the time from now.
func New(exe, journal string, log *slog.Logger, now func() time.Time) *Updater {
	return &Updater{FS: OS{}, Strategy: StrategyFor(runtime.GOOS), Exe: exe, Journal: journal, Log: log, Now: now}
}

// WorkDir is the directory beside the executable that holds the staged,
// kept and outgoing binaries.
func (u *Updater) WorkDir() string {
	return filepath.Join(filepath.Dir(u.Exe), "."+filepath.Base(u.Exe)+".latch")
}

// CheckPath is where the staged build is health-checked before the swap:
// in the executable's directory, named "." + its name without extension +
// ".latch-check" + its extension (".exe" on Windows), so that it runs from
// the directory it will run from and under the same naming rules.
func (u *Updater) CheckPath() string {
	base := filepath.Base(u.Exe)
	ext := filepath.Ext(base)
	return filepath.Join(filepath.Dir(u.Exe), "."+strings.TrimSuffix(base, ext)+".latch-check"+ext)
}

// path is the one place a name in the journal becomes a path: the work
// directory's file of that name.
func (u *Updater) path(n name) string { return filepath.Join(u.WorkDir(), string(n)) }

// has reports whether the work directory holds a file named n.
func (u *Updater) has(n name) bool { return u.exists(u.path(n)) }

// Prepare creates the work directory and the journal's directory and returns
// the path where the caller stages the new binary, with its final mode,
// synced, after removing what the journal does not list from the work
// directory. Nothing may be interrupted (ErrPending): call Recover first. A
// work directory that someone else could write is refused
// (*install.WorkDirError).
func (u *Updater) Prepare() (string, error) {
	j, err := u.load()
	if err != nil {
		return "", err
	}
	if j.Op != nil {
		return "", ErrPending
	}
	if err := u.checkWorkDir(); err != nil {
		return "", err
	}
	if err := u.FS.MkdirAll(filepath.Dir(u.Journal), 0o700); err != nil {
		return "", err
	}
	// Anyone who could replace a directory created here could replace
	// the executable beside it.
	if err := u.FS.MkdirAll(u.WorkDir(), 0o700); err != nil {
		return "", err
	}
	if j.Exe == u.Exe {
		// Leftovers (a stale staged binary, partial downloads) go.
		u.tidy(j)
	}
	return u.path(stagedName), nil
}

// checkWorkDir refuses a work directory that is a symbolic link, not a
// directory, or one that another user owns or could write (see
// unsafeMode): its files are put at the executable's path. A missing one
// holds nothing to trust.
func (u *Updater) checkWorkDir() error {
	st, err := u.FS.Stat(u.WorkDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	reason := ""
	switch {
	case st.Mode()&fs.ModeSymlink != 0:
		reason = "is a symbolic link"
	case !st.IsDir():
		reason = "is not a directory"
	default:
		reason = unsafeMode(st)
	}
	if reason != "" {
		return &install.WorkDirError{Path: u.WorkDir(), Reason: reason}
	}
	return nil
}

// InPlace identifies the build at the executable's path by the SHA-256 of
// its bytes. known reports whether the journal has a record of those bytes
// (the build latch left in place, a kept one, or one of the operation in
// progress); b is then that record. Otherwise b has only Exe set: bytes
// that latch did not put there, whose version only the caller can tell.
func (u *Updater) InPlace() (b Build, known bool, err error) {
	j, err := u.load()
	if err != nil {
		return Build{}, false, err
	}
	sum, err := u.hash(u.Exe)
	if err != nil {
		return Build{}, false, err
	}
	if j.Exe == u.Exe {
		var records []Build
		if j.Current != nil {
			records = append(records, *j.Current)
		}
		if op := j.Op; op != nil {
			records = append(records, op.Build, op.Prev)
		}
		for _, k := range j.Backups {
			records = append(records, k.Build)
		}
		for _, r := range records {
			if r.Exe == sum {
				return r, true, nil
			}
		}
	}
	return Build{Exe: sum}, false, nil
}

// Install checks and swaps the staged binary (see Prepare) into place, as
// r describes. It returns the path the replaced binary is kept under, ""
// with r.Keep 0.
//
// If the check fails, the staged build goes (or, checked in place, the old
// one comes back), MarkFailed is called, and the error wraps
// install.ErrHealthCheck and the check's error. A check whose error wraps
// install.ErrHealthCheckInterrupted is counted instead (see the package
// documentation) and its error returned, wrapping install.ErrHealthCheck too
// if that made the build fail. On any other error before Commit the old
// binary is restored too, unless restoring fails as well: then the journal
// stays for Recover. An error from Commit leaves the new build in place and
// the journal in the commit phase, which Recover finishes.
func (u *Updater) Install(r Request, h Hooks) (string, error) {
	if r.Keep < 0 {
		return "", fmt.Errorf("selfupdate: keep %d is negative", r.Keep)
	}
	j, err := u.load()
	if err != nil {
		return "", err
	}
	if j.Op != nil {
		return "", ErrPending
	}
	if err := u.checkWorkDir(); err != nil {
		return "", err
	}
	b, prev := r.Build, r.Prev
	if b.Exe, err = u.hash(u.path(stagedName)); err != nil {
		return "", fmt.Errorf("selfupdate: staged binary: %w", err)
	}
	b.Installed = time.Time{}
	exe, err := u.hash(u.Exe)
	if err != nil {
		return "", err
	}
	if prev.Exe != "" && prev.Exe != exe {
		return "", fmt.Errorf("selfupdate: %s changed after it was identified", u.Exe)
	}
	prev.Exe = exe
	if j.Exe != u.Exe {
		// A journal of another path: the application moved.
		j = j.movedTo(u.Exe)
	}
	j.Seq++
	op := &Op{
		Kind: KindInstall, Phase: PhaseSwap, Seq: j.Seq, Mark: h.mark(), Build: b, Prev: prev, Unsafe: r.Unsafe, Keep: r.Keep,
		CheckInPlace: r.Check != nil && r.CheckInPlace,
		New:          stagedName, Backup: name("backup-" + strconv.FormatInt(j.Seq, 10)),
	}
	if u.Strategy == RenameAside {
		op.Aside = name("old-" + strconv.FormatInt(j.Seq, 10))
	}
	for _, n := range []name{op.Backup, op.Aside} {
		if n != "" && u.has(n) {
			return "", fmt.Errorf("%w: %s exists already", install.ErrJournal, u.path(n))
		}
	}
	j.Op = op
	if r.Check != nil && !r.CheckInPlace {
		op.Phase = PhaseCheck
		// The journal is durable before the check starts, so that a crash
		// during the check is counted.
		if err := u.save(j); err != nil {
			return "", err
		}
		cerr, err := u.checkBeside(r.Check)
		if err != nil {
			return "", u.abort(j, h, err)
		}
		if cerr != nil {
			return "", u.checkFailed(j, h, cerr)
		}
		op.Phase = PhaseSwap
	}
	// The journal is durable before the executable is touched: whatever
	// happens next, Recover knows what to look for.
	if err := u.save(j); err != nil {
		return "", u.abort(j, h, err)
	}
	if err := u.put(op.New, op.Backup); err != nil {
		_, rerr := u.recover(j, h)
		return "", errors.Join(err, rerr)
	}
	if op.CheckInPlace {
		op.Phase = PhaseCheck
		if err := u.save(j); err != nil {
			return "", u.abort(j, h, err)
		}
		if cerr := r.Check(u.Exe); cerr != nil {
			return "", u.checkFailed(j, h, cerr)
		}
	}
	op.Phase = PhaseCommit
	// The commit phase is durable before Commit runs: once the floor may
	// have moved, Recover must go forward, never back.
	if err := u.save(j); err != nil {
		return "", u.abort(j, h, err)
	}
	if _, err := u.recover(j, h); err != nil {
		return "", err
	}
	if r.Keep == 0 {
		return "", nil
	}
	return u.path(op.Backup), nil
}

// checkBeside runs check on a second name of the staged binary at
// CheckPath. It returns the check's error, and err if the second name
// could not be made.
func (u *Updater) checkBeside(check func(string) error) (cerr, err error) {
	p := u.CheckPath()
	// A leftover of a crashed check goes first: Clone wants a new name.
	if err := u.remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := u.clone(u.path(stagedName), p); err != nil {
		return nil, err
	}
	cerr = check(p)
	if err := u.remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		// Tidy tries again at the next call.
		u.log().Warn("health-check copy not removed yet", "path", p, "err", err)
	}
	return cerr, nil
}

// abort undoes an install after err, which is not the health check's
// verdict (nothing is counted or marked), and returns err with what undoing
// it reported.
func (u *Updater) abort(j *journal, h Hooks, err error) error {
	j.Op.Phase = PhaseRollback
	_, rerr := u.recover(j, h)
	return errors.Join(err, rerr)
}

// checkFailed ends an install whose health check returned cerr: a check
// that did not finish is recovered as after a crash during it (counted),
// any other error fails the build.
func (u *Updater) checkFailed(j *journal, h Hooks, cerr error) error {
	op := j.Op
	if errors.Is(cerr, install.ErrHealthCheckInterrupted) {
		// The journal on disk says "check", as after a crash.
		out, rerr := u.recover(j, h)
		if out == CheckFailed {
			cerr = fmt.Errorf("%w: the second check of this build that did not finish: %w", install.ErrHealthCheck, cerr)
		}
		return errors.Join(cerr, rerr)
	}
	op.Phase, op.Failed = PhaseRollback, true
	// Even if the journal can't say so, undo the install now; the journal
	// on disk says "check", which Recover undoes too.
	serr := u.save(j)
	_, rerr := u.recover(j, h)
	return errors.Join(fmt.Errorf("%w: %w", install.ErrHealthCheck, cerr), serr, rerr)
}

// Revert puts the newest kept build back in place of cur, the build in
// place now (see InPlace), and commits it with Hooks.Commit (op.Unsafe set,
// op.Prev being cur). The kept build must have a known version
// (install.ErrNoBackup otherwise). The replaced binary is not kept. It
// returns the build now in place.
func (u *Updater) Revert(cur Build, h Hooks) (Build, error) {
	j, err := u.load()
	if err != nil {
		return Build{}, err
	}
	if j.Op != nil {
		return Build{}, ErrPending
	}
	if err := u.checkWorkDir(); err != nil {
		return Build{}, err
	}
	if j.Exe != u.Exe || len(j.Backups) == 0 {
		return Build{}, fmt.Errorf("%w for %s", install.ErrNoBackup, u.Exe)
	}
	prev := j.Backups[0]
	if prev.Build.Version == "" {
		return Build{}, fmt.Errorf("%w for %s with a known version (the kept binary was not installed through latch)", install.ErrNoBackup, u.Exe)
	}
	if !u.has(prev.Name) {
		return Build{}, fmt.Errorf("%w: kept binary %s is missing", install.ErrNoBackup, u.path(prev.Name))
	}
	j.Seq++
	op := &Op{Kind: KindRevert, Phase: PhaseSwap, Seq: j.Seq, Mark: h.mark(), Build: prev.Build, Prev: cur, Unsafe: true, New: prev.Name}
	if u.Strategy == RenameAside {
		op.Aside = name("old-" + strconv.FormatInt(j.Seq, 10))
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
// Windows can't remove one that is still running), anything the journal
// does not list, such as partial downloads, and the health-check copy. A
// journal of another executable path is recovered at that path and then
// forgotten.
func (u *Updater) Recover(h Hooks) (Outcome, error) {
	j, err := u.load()
	if err != nil {
		return Clean, err
	}
	if j.Exe != u.Exe {
		if j.Op != nil {
			at := *u
			at.Exe = j.Exe
			if err := at.checkWorkDir(); err != nil {
				return Clean, err
			}
			if _, err := at.recover(j, h); err != nil {
				return Clean, err
			}
		}
		j = j.movedTo(u.Exe)
		if err := u.save(j); err != nil {
			return Clean, err
		}
	}
	if err := u.checkWorkDir(); err != nil {
		return Clean, err
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
		if err := u.hook("commit", h.Commit, op); err != nil {
			return Clean, err
		}
		j.Backups = slices.DeleteFunc(j.Backups, func(k kept) bool { return k.Name == op.New })
		j.Current = u.stamp(op.Build)
		out = Reverted
	case op.Kind != KindInstall:
		return Clean, fmt.Errorf("%w: %s: unknown operation %q", install.ErrJournal, u.Journal, op.Kind)
	case op.Phase == PhaseCheck:
		if err := u.undo(j); err != nil {
			return Clean, err
		}
		out = CheckInterrupted
		if j.countUnfinished(op.Build.SHA256) >= unfinishedLimit {
			if err := u.hook("mark failed", h.MarkFailed, op); err != nil {
				return Clean, err
			}
			j.forgetUnfinished(op.Build.SHA256)
			out = CheckFailed
		}
	case op.Phase == PhaseSwap || op.Phase == PhaseRollback:
		if err := u.undo(j); err != nil {
			return Clean, err
		}
		if op.Failed {
			if err := u.hook("mark failed", h.MarkFailed, op); err != nil {
				return Clean, err
			}
			j.forgetUnfinished(op.Build.SHA256)
		}
		out = RolledBack
	case op.Phase == PhaseCommit:
		if err := u.hook("commit", h.Commit, op); err != nil {
			return Clean, err
		}
		j.Backups = append([]kept{{Name: op.Backup, Build: op.Prev}}, j.Backups...)
		for len(j.Backups) > op.Keep {
			j.Trash = append(j.Trash, j.Backups[len(j.Backups)-1].Name)
			j.Backups = j.Backups[:len(j.Backups)-1]
		}
		j.Current = u.stamp(op.Build)
		j.forgetUnfinished(op.Build.SHA256)
		out = Committed
	default:
		return Clean, fmt.Errorf("%w: %s: unknown operation %q in phase %q", install.ErrJournal, u.Journal, op.Kind, op.Phase)
	}
	if op.Aside != "" && u.has(op.Aside) {
		j.Trash = append(j.Trash, op.Aside)
	}
	j.Op, j.Ended = nil, &Ended{Exe: j.Exe, Op: *op, Outcome: out}
	if err := u.save(j); err != nil {
		return out, err
	}
	u.tidy(j)
	return out, nil
}

// undo puts the build that j's install replaces back at the executable's
// path, however far the swap went, and records it as the build in place.
func (u *Updater) undo(j *journal) error {
	op := j.Op
	switch {
	case u.has(op.New) && !u.exists(u.Exe):
		// The new binary still has its staged name and the executable was
		// renamed aside (rename-aside): bring it back.
		if err := u.move(op.Backup, u.Exe); err != nil {
			return err
		}
		j.Trash = append(j.Trash, op.New)
	case u.has(op.New):
		// The swap did not happen. Under rename-over the backup may be a
		// second name of the executable, which stays in place.
		if u.has(op.Backup) {
			j.Trash = append(j.Trash, op.Backup)
		}
		j.Trash = append(j.Trash, op.New)
	default:
		// The new binary is (or was) in place: put the old one back.
		if err := u.put(op.Backup, op.Aside); err != nil {
			return err
		}
	}
	prev := op.Prev
	j.Current = &prev
	return nil
}

// stamp returns b as put in place now.
func (u *Updater) stamp(b Build) *Build {
	now := time.Now
	if u.Now != nil {
		now = u.Now
	}
	b.Installed = now().UTC()
	return &b
}

// put makes the work directory's file src the executable, keeping the
// replaced one as keep ("" to let it go; RenameAside always keeps it, as it
// can't be removed while it runs). It continues a put that was interrupted:
// a src that is gone was put already, and a missing executable was renamed
// aside already.
func (u *Updater) put(src, keep name) error {
	if !u.has(src) {
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
		if err := u.rename(u.Exe, u.path(keep)); err != nil {
			return err
		}
		// From here until the next rename there is no file at the
		// executable's path; the journal names both files. fsync both
		// directories so the two renames persist in this order (on
		// Windows the rename was written through and this does nothing).
		if err := errors.Join(u.FS.SyncDir(filepath.Dir(u.Exe)), u.FS.SyncDir(work)); err != nil {
			return errors.Join(err, u.rename(u.path(keep), u.Exe))
		}
		if err := u.move(src, u.Exe); err != nil {
			if !u.exists(u.Exe) {
				// Not a crash, an error: put the replaced binary back
				// rather than leave nothing in place.
				err = errors.Join(err, u.rename(u.path(keep), u.Exe))
			}
			return err
		}
		return nil
	case keep != "":
		if err := u.clone(u.Exe, u.path(keep)); err != nil {
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
func (u *Updater) move(src name, dest string) error {
	if err := u.rename(u.path(src), dest); err != nil {
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

// tidy removes the files on the trash list, everything else in the work
// directory that the journal does not list, the health-check copy and its
// temporary files. A file that can't be removed (Windows: still running)
// stays on the list for the next call. Nothing here can make an operation
// fail, so failures are logged, not returned. j has no operation in
// progress.
func (u *Updater) tidy(j *journal) {
	trash := j.Trash[:0:0]
	for _, n := range j.Trash {
		if err := u.remove(u.path(n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			u.log().Info("outgoing binary not removed yet; trying again at the next start", "path", u.path(n), "err", err)
			trash = append(trash, n)
		}
	}
	if len(trash) != len(j.Trash) {
		j.Trash = trash
		if err := u.save(j); err != nil {
			// The removed names stay listed; the next call drops them.
			u.log().Warn("self-update journal not updated after clean-up", "err", err)
		}
	}
	check := u.CheckPath()
	if u.exists(check) {
		if err := u.remove(check); err != nil && !errors.Is(err, fs.ErrNotExist) {
			u.log().Info("health-check copy not removed yet; trying again at the next start", "path", check, "err", err)
		}
	}
	// A copy made without hard links (OS.Clone) leaves a temporary file
	// if it is cut short.
	if err := atomicfile.RemoveTemps(filepath.Dir(check), func(base string) bool { return base == filepath.Base(check) }); err != nil {
		u.log().Warn("temporary health-check copy not removed", "err", err)
	}
	entries, err := u.FS.ReadDir(u.WorkDir())
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			u.log().Warn("self-update work directory unreadable", "err", err)
		}
		return
	}
	listed := map[name]bool{}
	for _, k := range j.Backups {
		listed[k.Name] = true
	}
	for _, n := range j.Trash {
		listed[n] = true
	}
	for _, e := range entries {
		if n := name(e.Name()); !listed[n] {
			if err := u.remove(u.path(n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				u.log().Warn("leftover in the self-update work directory not removed", "path", u.path(n), "err", err)
			}
		}
	}
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
	if err := u.checkWorkDir(); err != nil {
		return err
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

// Ended returns the operation that ended last, until Recorded forgets it;
// nil if none.
func (u *Updater) Ended() (*Ended, error) {
	j, err := u.load()
	if err != nil {
		return nil, err
	}
	return j.Ended, nil
}

// Recorded forgets e, the operation Ended returned, once the caller has
// recorded it.
func (u *Updater) Recorded(e *Ended) error {
	j, err := u.load()
	if err != nil {
		return err
	}
	if j.Ended == nil || j.Ended.Op.Seq != e.Op.Seq {
		return nil
	}
	j.Ended = nil
	return u.save(j)
}

// Interrupted returns the operation that the journal describes as in
// progress (one a crash interrupted, which Recover finishes), nil if none.
func (u *Updater) Interrupted() (*Op, error) {
	j, err := u.load()
	if err != nil {
		return nil, err
	}
	return j.Op, nil
}

func (u *Updater) log() *slog.Logger {
	if u.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return u.Log
}

// step logs a change to the disk before it is made.
func (u *Updater) step(msg string, args ...any) {
	u.log().Debug("self-update: "+msg, args...)
}

func (u *Updater) rename(from, to string) error {
	u.step("rename", "from", from, "to", to)
	return u.FS.Rename(from, to)
}

func (u *Updater) remove(p string) error {
	u.step("remove", "path", p)
	return u.FS.Remove(p)
}

func (u *Updater) clone(from, to string) error {
	u.step("link", "from", from, "to", to)
	return u.FS.Clone(from, to)
}

func (h Hooks) mark() string {
	if h.Mark == nil {
		return ""
	}
	return h.Mark()
}

func (u *Updater) hook(what string, f func(Op) error, op *Op) error {
	u.step(what, "version", op.Build.Version, "sha256", op.Build.SHA256)
	return f(*op)
}

func (u *Updater) exists(p string) bool {
	_, err := u.FS.Stat(p)
	return err == nil
}

// hash returns the hex SHA-256 of the file at p.
func (u *Updater) hash(p string) (string, error) {
	f, err := u.FS.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("selfupdate: reading %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
