//go:build unix

package selfupdate_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/latchsec/latch/install"
	"github.com/latchsec/latch/internal/selfupdate"
	"github.com/latchsec/latch/internal/testdir"
)

// The crash tests run the test binary again as a child process that makes
// one self-update operation and SIGKILLs itself before its n-th change to
// the disk (a rename, removal, link, directory sync or journal write, a
// hook or the health check), for every n until the operation completes.
// The parent then checks what a user would find and recovers.

const crashEnv = "LATCH_SELFUPDATE_CRASH"

// crashJob is what the parent tells a child to do.
type crashJob struct {
	Dir      string
	Strategy selfupdate.Strategy
	Op       string // "install", "revert" or "recover"
	Check    string // for install: "" (none), "healthy", "unhealthy" or "interrupted"
	InPlace  bool   // for install: check at the executable's path, after the swap
	Kill     int    // kill before this change, counted from 0
}

// killFS counts the changes made through it and SIGKILLs the process
// before change number kill.
type killFS struct {
	selfupdate.FS
	kill, count int
}

func (k *killFS) step() {
	if k.count == k.kill {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
	k.count++
}

func (k *killFS) Rename(o, n string) error { k.step(); return k.FS.Rename(o, n) }
func (k *killFS) Remove(p string) error    { k.step(); return k.FS.Remove(p) }
func (k *killFS) Clone(o, n string) error  { k.step(); return k.FS.Clone(o, n) }
func (k *killFS) SyncDir(p string) error   { k.step(); return k.FS.SyncDir(p) }
func (k *killFS) WriteFile(p string, b []byte, m fs.FileMode) error {
	k.step()
	return k.FS.WriteFile(p, b, m)
}

// TestCrashChild is the child's side; it does nothing unless started by
// TestCrash.
func TestCrashChild(t *testing.T) {
	env := os.Getenv(crashEnv)
	if env == "" {
		t.Skip("run by TestCrash as a child process")
	}
	var job crashJob
	if err := json.Unmarshal([]byte(env), &job); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, job.Dir, job.Strategy)
	var inner selfupdate.FS = selfupdate.OS{}
	if job.Strategy == selfupdate.RenameAside {
		// The binary at the executable's path is running (it is the
		// process that updates itself).
		inner = newWinFS(t, f.exe)
	}
	k := &killFS{FS: inner, kill: job.Kill}
	u := f.updater(k)
	h := f.hooks()
	hooks := selfupdate.Hooks{
		Commit:     func(op selfupdate.Op) error { k.step(); return h.Commit(op) },
		MarkFailed: func(op selfupdate.Op) error { k.step(); return h.MarkFailed(op) },
	}
	var err error
	switch job.Op {
	case "install":
		// As a client does: the build in place is what the journal says
		// its bytes are.
		prev, _, ierr := u.InPlace()
		if ierr != nil {
			t.Fatal(ierr)
		}
		r := request("2.0.0", prev, 1, nil)
		r.CheckInPlace = job.InPlace
		var verdict error
		switch job.Check {
		case "unhealthy":
			verdict = errors.New("unhealthy")
		case "interrupted":
			verdict = fmt.Errorf("killed: %w", install.ErrHealthCheckInterrupted)
		}
		if job.Check != "" {
			r.Check = func(string) error { k.step(); return verdict }
		}
		_, err = u.Install(r, hooks)
		if verdict != nil && errors.Is(err, verdict) {
			err = nil
		}
	case "revert":
		_, err = u.Revert(build("2.0.0"), hooks)
	case "recover":
		_, err = u.Recover(hooks)
	}
	if err != nil {
		t.Fatalf("%s: %v", job.Op, err)
	}
}

// runChild runs job in a child process, in a working directory full of the
// journal's names, and reports whether it was killed.
func runChild(t *testing.T, job crashJob) bool {
	t.Helper()
	env, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Dir = journalNames(t)
	// A race-enabled child that exits normally would sleep a second first
	// (ThreadSanitizer's atexit_sleep_ms).
	cmd.Env = append(os.Environ(), crashEnv+"="+string(env), "GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	out, err := cmd.CombinedOutput()
	if err == nil {
		return false
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return true
		}
	}
	t.Fatalf("child %+v: %v\n%s", job, err, out)
	return false
}

// crashScenario is one operation to interrupt at every change.
type crashScenario struct {
	name     string
	strategy selfupdate.Strategy
	op       string
	check    string
	inPlace  bool
	// first: the first update, of a build latch knows nothing of (v0, no
	// journal, no trusted state); otherwise v1 was installed through
	// latch.
	first    bool
	old, new string // the build at the executable's path before and after
	// nested: also interrupt the recovery of each crash at every change.
	nested bool
}

var crashScenarios = []crashScenario{
	{name: "install/rename-over", strategy: selfupdate.RenameOver, op: "install", check: "healthy", old: "1.0.0", new: "2.0.0"},
	{name: "install/rename-aside", strategy: selfupdate.RenameAside, op: "install", check: "healthy", old: "1.0.0", new: "2.0.0", nested: true},
	{name: "install-in-place/rename-over", strategy: selfupdate.RenameOver, op: "install", check: "healthy", inPlace: true, old: "1.0.0", new: "2.0.0"},
	{name: "install-in-place/rename-aside", strategy: selfupdate.RenameAside, op: "install", check: "healthy", inPlace: true, old: "1.0.0", new: "2.0.0"},
	{name: "unhealthy/rename-over", strategy: selfupdate.RenameOver, op: "install", check: "unhealthy", old: "1.0.0", new: "2.0.0"},
	{name: "unhealthy/rename-aside", strategy: selfupdate.RenameAside, op: "install", check: "unhealthy", old: "1.0.0", new: "2.0.0"},
	{name: "unhealthy-in-place/rename-over", strategy: selfupdate.RenameOver, op: "install", check: "unhealthy", inPlace: true, old: "1.0.0", new: "2.0.0"},
	{name: "unhealthy-in-place/rename-aside", strategy: selfupdate.RenameAside, op: "install", check: "unhealthy", inPlace: true, old: "1.0.0", new: "2.0.0"},
	{name: "interrupted/rename-over", strategy: selfupdate.RenameOver, op: "install", check: "interrupted", old: "1.0.0", new: "2.0.0"},
	{name: "revert/rename-over", strategy: selfupdate.RenameOver, op: "revert", old: "2.0.0", new: "1.0.0"},
	{name: "revert/rename-aside", strategy: selfupdate.RenameAside, op: "revert", old: "2.0.0", new: "1.0.0"},
	// The first update: no record of the build in place.
	{name: "first/rename-over", strategy: selfupdate.RenameOver, op: "install", check: "healthy", first: true, old: "", new: "2.0.0", nested: true},
	{name: "first/rename-aside", strategy: selfupdate.RenameAside, op: "install", check: "healthy", first: true, old: "", new: "2.0.0"},
	{name: "first-no-check/rename-over", strategy: selfupdate.RenameOver, op: "install", first: true, old: "", new: "2.0.0"},
	{name: "first-in-place/rename-over", strategy: selfupdate.RenameOver, op: "install", check: "healthy", inPlace: true, first: true, old: "", new: "2.0.0"},
	{name: "first-in-place/rename-aside", strategy: selfupdate.RenameAside, op: "install", check: "healthy", inPlace: true, first: true, old: "", new: "2.0.0"},
	{name: "first-unhealthy/rename-over", strategy: selfupdate.RenameOver, op: "install", check: "unhealthy", first: true, old: "", new: "2.0.0"},
	{name: "first-unhealthy-in-place/rename-aside", strategy: selfupdate.RenameAside, op: "install", check: "unhealthy", inPlace: true, first: true, old: "", new: "2.0.0"},
}

// TestCrash kills a child process at every change of each scenario (and,
// for the nested ones, kills the recovery of each of those crashes at
// every change too), in a working directory that holds an entry of every
// name the journal uses. After each kill: the executable's path holds
// exactly the old or the new build, executable, except in the rename-aside
// window (Windows), where both builds and the journal are there for
// recovery; a build whose check fails is never there unless it was checked
// in place; the floor never went below what was committed. After Recover:
// the executable, the floor and the journal's records agree with the bytes
// on disk, nothing unlisted is left, an unhealthy build is not installed,
// and a new install then succeeds.
func TestCrash(t *testing.T) {
	if os.Getenv(crashEnv) != "" {
		t.Skip("in a child process")
	}
	t.Chdir(journalNames(t))
	kills, windows := 0, 0
	for _, sc := range crashScenarios {
		t.Run(sc.name, func(t *testing.T) {
			for n := 0; ; n++ {
				f, killed := crashAt(t, sc, n)
				if !killed {
					// The operation ran to its end.
					if n < 5 {
						t.Fatalf("only %d changes", n)
					}
					f.checkClean(f.updater(selfupdate.OS{}))
					if got := f.exeVersion(); got != sc.final() {
						t.Errorf("uninterrupted: executable v%q, want v%q", got, sc.final())
					}
					break
				}
				kills++
				if f.crashed(sc) {
					windows++
				}
				if !sc.nested {
					f.recovered(sc)
					continue
				}
				// Interrupt the recovery of this crash at every change,
				// starting each time from a copy of what the crash left.
				snapshot := t.TempDir()
				testdir.Replace(t, snapshot, f.dir)
				for m := 0; ; m++ {
					if m > 0 {
						testdir.Replace(t, f.dir, snapshot)
					}
					if !runChild(t, crashJob{Dir: f.dir, Strategy: sc.strategy, Op: "recover", Kill: m}) {
						f.recovered(sc)
						break
					}
					kills++
					if f.crashed(sc) {
						windows++
					}
					f.recovered(sc)
				}
			}
		})
	}
	t.Logf("%d child processes killed, %d of them with no file at the executable's path (rename-aside window)", kills, windows)
	if kills < 300 {
		t.Errorf("only %d kills", kills)
	}
}

// final is the build in place after the uninterrupted operation.
func (sc crashScenario) final() string {
	if sc.check == "unhealthy" || sc.check == "interrupted" {
		return sc.old
	}
	return sc.new
}

// crashAt sets up a fixture for sc and runs its operation in a child
// killed before change n.
func crashAt(t *testing.T, sc crashScenario, n int) (*fixture, bool) {
	t.Helper()
	f := newFixture(t, t.TempDir(), sc.strategy)
	if sc.first {
		f.writeV0()
	} else {
		f.setUp()
	}
	u := f.updater(selfupdate.OS{})
	if sc.op == "revert" {
		f.install(u, "2.0.0", build("1.0.0"), 1, nil)
	} else {
		f.stage(u, "2.0.0")
	}
	return f, runChild(t, crashJob{Dir: f.dir, Strategy: sc.strategy, Op: sc.op, Check: sc.check, InPlace: sc.inPlace, Kill: n})
}

// crashed checks the state a crash left and reports whether it is the
// rename-aside window.
func (f *fixture) crashed(sc crashScenario) bool {
	f.t.Helper()
	floor := f.floor()
	switch {
	case floor != sc.old && floor != sc.new:
		f.t.Fatalf("floor %q after a crash", floor)
	case sc.check == "unhealthy" && floor != sc.old:
		f.t.Fatalf("unhealthy build committed: floor %q", floor)
	}
	if _, err := os.Lstat(f.exe); errors.Is(err, fs.ErrNotExist) && sc.strategy == selfupdate.RenameAside {
		// Both builds must be in the work directory.
		have := map[string]bool{}
		for _, name := range f.workFiles(f.updater(selfupdate.OS{})) {
			have[f.versionOf(filepath.Join(f.updater(selfupdate.OS{}).WorkDir(), name))] = true
		}
		if !have[sc.old] || !have[sc.new] {
			f.t.Fatalf("rename-aside window without both builds: %v", have)
		}
		return true
	}
	v := f.exeVersion()
	if v != sc.old && v != sc.new {
		f.t.Fatalf("executable v%q after a crash, want v%q or v%q", v, sc.old, sc.new)
	}
	if v == sc.new && sc.check == "unhealthy" && !sc.inPlace {
		f.t.Fatalf("a build that fails its check is at the executable's path after a crash")
	}
	return false
}

// recovered recovers (as the next start would, the build in place
// running), checks the result and installs v2 once more if it is not in
// place.
func (f *fixture) recovered(sc crashScenario) {
	f.t.Helper()
	var fsys selfupdate.FS = selfupdate.OS{}
	if sc.strategy == selfupdate.RenameAside {
		fsys = newWinFS(f.t, f.exe)
	}
	u := f.updater(fsys)
	if _, err := u.Recover(f.hooks()); err != nil {
		f.t.Fatalf("Recover: %v", err)
	}
	f.checkClean(f.updater(selfupdate.OS{}))
	v := f.exeVersion()
	if sc.check == "unhealthy" && v != sc.old {
		f.t.Fatalf("unhealthy v%q installed after recovery", v)
	}
	if v == sc.old {
		if sc.op == "revert" {
			return
		}
		prev, _, err := u.InPlace()
		if err != nil {
			f.t.Fatal(err)
		}
		f.install(u, "2.0.0", prev, 1, nil)
		if got := f.exeVersion(); got != "2.0.0" || f.floor() != "2.0.0" {
			f.t.Fatalf("install after recovery: executable v%q, floor %q", got, f.floor())
		}
		f.checkClean(f.updater(selfupdate.OS{}))
	}
}

// crashIn runs op and, at the moment hook is called inside it, takes a copy
// of the fixture's directory; once op returns, the copy replaces the
// directory: what a crash at that instant leaves behind.
func (f *fixture) crashIn(op func(hook func())) {
	f.t.Helper()
	snapshot := f.t.TempDir()
	taken := false
	op(func() {
		testdir.Replace(f.t, snapshot, f.dir)
		taken = true
	})
	if !taken {
		f.t.Fatal("the operation never reached the crash point")
	}
	testdir.Replace(f.t, f.dir, snapshot)
}

// journalNames is a directory holding an entry for every name a journal
// can list, and the name of the health-check copy.
func journalNames(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"new", "backup-1", "backup-2", "backup-3", "old-1", "old-2", "old-3", "." + app + ".latch-check", app} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestRecoverIgnoresWorkingDirectory: recovery finds the journal's files
// beside the executable, never in the working directory, even when that
// holds an entry of every name the journal uses.
func TestRecoverIgnoresWorkingDirectory(t *testing.T) {
	f := newFixture(t, t.TempDir(), selfupdate.RenameOver)
	f.setUp()
	u := f.updater(selfupdate.OS{})
	f.stage(u, "2.0.0")
	// A crash during the health check, with v2 in place.
	f.crashIn(func(crash func()) {
		r := request("2.0.0", build("1.0.0"), 1, func(string) error { crash(); return nil })
		r.CheckInPlace = true
		if _, err := u.Install(r, f.hooks()); err != nil {
			t.Fatal(err)
		}
	})
	t.Chdir(journalNames(t))
	if _, err := u.Recover(f.hooks()); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	if v := f.exeVersion(); v != "1.0.0" || f.floor() != "1.0.0" {
		t.Errorf("after Recover: executable v%q, floor %q; want the checked v1.0.0 back", v, f.floor())
	}
	f.checkClean(u)
}

// TestCrashDuringCheck: a crash while the check runs (beside the
// executable, or in place) counts as a check that did not finish: the
// install is undone with the old build recorded in place, by its bytes;
// the second such crash for one build fails it.
func TestCrashDuringCheck(t *testing.T) {
	for _, inPlace := range []bool{false, true} {
		t.Run(fmt.Sprintf("in-place=%v", inPlace), func(t *testing.T) {
			f := newFixture(t, t.TempDir(), selfupdate.RenameOver)
			f.writeV0() // the first update: latch knows nothing of v0
			u := f.updater(selfupdate.OS{})
			want := []selfupdate.Outcome{selfupdate.CheckInterrupted, selfupdate.CheckFailed}
			for i, outcome := range want {
				f.stage(u, "2.0.0")
				prev, known, err := u.InPlace()
				if err != nil || known != (i > 0) || prev.Version != "" {
					t.Fatalf("InPlace = %+v, %v, %v", prev, known, err)
				}
				f.crashIn(func(crash func()) {
					r := request("2.0.0", prev, 1, func(string) error { crash(); return nil })
					r.CheckInPlace = inPlace
					if _, err := u.Install(r, f.hooks()); err != nil {
						t.Fatal(err)
					}
				})
				if out, err := u.Recover(f.hooks()); err != nil || out != outcome {
					t.Fatalf("Recover after crash %d = %v, %v; want %v", i+1, out, err, outcome)
				}
				f.checkClean(u)
				if v := f.exeVersion(); v != "" {
					t.Fatalf("executable v%q after recovery, want v0", v)
				}
				if failed := f.state().isFailed(build("2.0.0").SHA256); failed != (i == 1) {
					t.Errorf("after crash %d: marked failed = %v", i+1, failed)
				}
				in, known, err := u.InPlace()
				if err != nil || !known || in.Exe != hashOf(t, f.exe) || in.Version != "" {
					t.Errorf("InPlace after crash %d = %+v, %v, %v; want v0 by its hash, version unknown", i+1, in, known, err)
				}
			}
		})
	}
}
