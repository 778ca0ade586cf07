package selfupdate_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/latchsec/latch/install"
	"github.com/latchsec/latch/internal/selfupdate"
	"github.com/latchsec/latch/internal/testdir"
)

var strategies = []selfupdate.Strategy{selfupdate.RenameOver, selfupdate.RenameAside}

func TestStrategyFor(t *testing.T) {
	for goos, want := range map[string]selfupdate.Strategy{
		"windows": selfupdate.RenameAside, "linux": selfupdate.RenameOver, "darwin": selfupdate.RenameOver,
	} {
		if got := selfupdate.StrategyFor(goos); got != want {
			t.Errorf("StrategyFor(%s) = %v, want %v", goos, got, want)
		}
	}
}

func TestInstall(t *testing.T) {
	for _, s := range strategies {
		t.Run(s.String(), func(t *testing.T) {
			f := newFixture(t, t.TempDir(), s)
			f.setUp()
			u := f.updater(selfupdate.OS{})
			checked := 0
			backup := f.install(u, "2.0.0", build("1.0.0"), 1, func(p string) error {
				checked++
				if p != u.CheckPath() || filepath.Dir(p) != filepath.Dir(f.exe) {
					t.Errorf("health check of %s, want %s beside the executable", p, u.CheckPath())
				}
				if got := f.versionOf(p); got != "2.0.0" {
					t.Errorf("health check ran against v%q", got)
				}
				if got := f.exeVersion(); got != "1.0.0" {
					t.Errorf("executable is v%q during the health check, want v1.0.0 until it passed", got)
				}
				if got := f.floor(); got != "1.0.0" {
					t.Errorf("floor during the health check is %q, want 1.0.0 (committed only after it)", got)
				}
				return nil
			})
			if checked != 1 {
				t.Errorf("health check ran %d times", checked)
			}
			if got := f.exeVersion(); got != "2.0.0" {
				t.Fatalf("executable is v%q after Install", got)
			}
			if got := f.versionOf(backup); got != "1.0.0" {
				t.Errorf("backup %s is v%q", backup, got)
			}
			backups, err := u.Backups()
			if err != nil || len(backups) != 1 || backups[0].Path != backup || backups[0].Build.Version != "1.0.0" ||
				backups[0].Build.SHA256 != build("1.0.0").SHA256 || backups[0].Build.Exe != build("1.0.0").SHA256 {
				t.Errorf("Backups = %+v, %v; want only v1 at %s (keep 1 drops v0)", backups, err, backup)
			}
			in, known, err := u.InPlace()
			if err != nil || !known || in.Version != "2.0.0" || in.Exe != build("2.0.0").SHA256 || in.Installed.IsZero() {
				t.Errorf("InPlace = %+v, %v, %v; want v2.0.0 with its hash and install time", in, known, err)
			}
			f.checkClean(u)
		})
	}
}

func TestInstallKeep(t *testing.T) {
	for _, keep := range []int{0, 1, 2, 5} {
		t.Run(fmt.Sprint(keep), func(t *testing.T) {
			f := newFixture(t, t.TempDir(), selfupdate.RenameOver)
			f.setUp() // keeps v0
			u := f.updater(selfupdate.OS{})
			f.install(u, "2.0.0", build("1.0.0"), keep, nil)
			backups, err := u.Backups()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, b := range backups {
				got = append(got, b.Build.Version)
			}
			want := []string{"1.0.0", ""}[:min(keep, 2)]
			if !slices.Equal(got, want) {
				t.Errorf("kept %q, want %q", got, want)
			}
			f.checkClean(u)
		})
	}
}

func TestInstallUnhealthy(t *testing.T) {
	for _, s := range strategies {
		t.Run(s.String(), func(t *testing.T) {
			f := newFixture(t, t.TempDir(), s)
			f.setUp()
			u := f.updater(selfupdate.OS{})
			f.stage(u, "2.0.0")
			errCrash := errors.New("exit status 2")
			_, err := u.Install(request("2.0.0", build("1.0.0"), 1, func(string) error { return errCrash }), f.hooks())
			if !errors.Is(err, install.ErrHealthCheck) || !errors.Is(err, errCrash) {
				t.Fatalf("Install = %v, want install.ErrHealthCheck wrapping the check's error", err)
			}
			if got := f.exeVersion(); got != "1.0.0" {
				t.Errorf("executable is v%q after a failed health check, want v1.0.0 back", got)
			}
			s := f.state()
			if !s.isFailed(build("2.0.0").SHA256) {
				t.Error("the failed build was not marked failed")
			}
			if got := s.Installed.Version; got != "1.0.0" {
				t.Errorf("floor %q, want 1.0.0", got)
			}
			backups, _ := u.Backups()
			if len(backups) != 1 || backups[0].Build.Version != "" {
				t.Errorf("Backups = %+v, want v0 still the only one kept", backups)
			}
			f.checkClean(u)
		})
	}
}

func TestRevert(t *testing.T) {
	for _, s := range strategies {
		t.Run(s.String(), func(t *testing.T) {
			f := newFixture(t, t.TempDir(), s)
			f.setUp()
			u := f.updater(selfupdate.OS{})
			f.install(u, "2.0.0", build("1.0.0"), 1, nil)
			got, err := u.Revert(build("2.0.0"), f.hooks())
			if err != nil || got.Version != "1.0.0" || got.Exe != build("1.0.0").SHA256 {
				t.Fatalf("Revert = %+v, %v", got, err)
			}
			if v := f.exeVersion(); v != "1.0.0" {
				t.Errorf("executable is v%q after Revert", v)
			}
			st := f.state()
			if st.Installed.Version != "1.0.0" || !st.isFailed(build("2.0.0").SHA256) {
				t.Errorf("after Revert: installed %+v, failed %v; want 1.0.0 and v2 marked failed", st.Installed, st.Failed)
			}
			f.checkClean(u)
			// Nothing kept any more.
			if _, err := u.Revert(build("1.0.0"), f.hooks()); !errors.Is(err, install.ErrNoBackup) {
				t.Errorf("second Revert = %v, want install.ErrNoBackup", err)
			}
		})
	}
}

func TestRevertUnknownVersion(t *testing.T) {
	f := newFixture(t, t.TempDir(), selfupdate.RenameOver)
	f.setUp() // keeps v0, whose version latch never knew
	u := f.updater(selfupdate.OS{})
	if _, err := u.Revert(build("1.0.0"), f.hooks()); !errors.Is(err, install.ErrNoBackup) {
		t.Fatalf("Revert to an unknown version = %v, want install.ErrNoBackup", err)
	}
	if v := f.exeVersion(); v != "1.0.0" || f.floor() != "1.0.0" {
		t.Errorf("after a refused Revert: executable v%q, floor %q", v, f.floor())
	}
}

// TestRenameAsideWindowsRules runs install, failed install, revert and the
// next start's clean-up under emulated Windows rules: the running
// executable is never replaced or removed, and the outgoing binary that
// could not be removed while it ran is removed at the next start.
func TestRenameAsideWindowsRules(t *testing.T) {
	f := newFixture(t, t.TempDir(), selfupdate.RenameAside)
	f.setUp()
	running := newWinFS(t, f.exe) // v1 is running and updates itself
	u := f.updater(running)
	f.stage(u, "2.0.0")
	if _, err := u.Install(request("2.0.0", build("1.0.0"), 0, nil), f.hooks()); err != nil {
		t.Fatalf("Install under Windows rules: %v", err)
	}
	if v := f.exeVersion(); v != "2.0.0" {
		t.Fatalf("executable is v%q", v)
	}
	// keep 0: v1 is outgoing, but still running, so it stays on disk.
	if err := u.Tidy(); err != nil {
		t.Errorf("Tidy while v1 runs: %v", err)
	}
	if files := f.workFiles(u); len(files) != 1 || !strings.HasPrefix(files[0], "backup-") {
		t.Fatalf("work directory %v, want the running v1 waiting for removal", files)
	}
	if j, err := os.ReadFile(f.journal); err != nil || !strings.Contains(string(j), `"trash": [`) {
		t.Errorf("journal does not list the outgoing v1: %s", j)
	}
	// Next start: v2 runs; v1 can go.
	u = f.updater(newWinFS(t, f.exe))
	if out, err := u.Recover(f.hooks()); err != nil || out != selfupdate.Clean {
		t.Fatalf("Recover at the next start = %v, %v", out, err)
	}
	if files := f.workFiles(u); len(files) != 0 {
		t.Errorf("work directory %v after the next start, want empty", files)
	}

	// A failed health check while v2 runs, in place: v2 goes aside, comes
	// back; and beside it.
	for _, inPlace := range []bool{true, false} {
		f.stage(u, "1.0.0")
		r := request("1.0.0", build("2.0.0"), 1, func(string) error { return errors.New("unhealthy") })
		r.Unsafe, r.CheckInPlace = true, inPlace
		if _, err := u.Install(r, f.hooks()); !errors.Is(err, install.ErrHealthCheck) {
			t.Fatalf("Install = %v, want install.ErrHealthCheck", err)
		}
		if v := f.exeVersion(); v != "2.0.0" {
			t.Errorf("executable is v%q after the rollback", v)
		}
	}

	// Install v1 again (unsafe: a downgrade) and revert to v2, all while
	// v2 runs.
	f.stage(u, "1.0.0")
	r := request("1.0.0", build("2.0.0"), 1, nil)
	r.Unsafe = true
	if _, err := u.Install(r, f.hooks()); err != nil {
		t.Fatalf("Install: %v", err)
	}
	if _, err := u.Revert(build("1.0.0"), f.hooks()); err != nil {
		t.Fatalf("Revert under Windows rules: %v", err)
	}
	if v := f.exeVersion(); v != "2.0.0" {
		t.Errorf("executable is v%q after Revert", v)
	}
	f.checkClean(f.updater(selfupdate.OS{}))
}

// failFS fails the n-th change it is asked to make (0-based).
type failFS struct {
	selfupdate.FS
	n, count int
}

var errInjected = errors.New("injected failure")

func (f *failFS) step(op, p string) error {
	f.count++
	if f.count-1 == f.n {
		return &fs.PathError{Op: op, Path: p, Err: errInjected}
	}
	return nil
}

func (f *failFS) Rename(o, n string) error {
	if err := f.step("rename", o); err != nil {
		return err
	}
	return f.FS.Rename(o, n)
}

func (f *failFS) Remove(p string) error {
	if err := f.step("remove", p); err != nil {
		return err
	}
	return f.FS.Remove(p)
}

func (f *failFS) Clone(o, n string) error {
	if err := f.step("clone", o); err != nil {
		return err
	}
	return f.FS.Clone(o, n)
}

func (f *failFS) SyncDir(p string) error {
	if err := f.step("sync", p); err != nil {
		return err
	}
	return f.FS.SyncDir(p)
}

func (f *failFS) WriteFile(p string, b []byte, m fs.FileMode) error {
	if err := f.step("write", p); err != nil {
		return err
	}
	return f.FS.WriteFile(p, b, m)
}

// TestInstallErrors fails each change Install makes in turn: the call
// reports it (unless only a clean-up removal failed), and once Recover has
// run without failures the executable and the floor agree, whichever build
// that is, and an unhealthy build is never left installed.
func TestInstallErrors(t *testing.T) {
	for _, s := range strategies {
		for _, healthy := range []bool{true, false} {
			for _, inPlace := range []bool{false, true} {
				t.Run(fmt.Sprintf("%v/healthy=%v/in-place=%v", s, healthy, inPlace), func(t *testing.T) {
					testInstallErrors(t, s, healthy, inPlace)
				})
			}
		}
	}
}

func testInstallErrors(t *testing.T, s selfupdate.Strategy, healthy, inPlace bool) {
	for n := 0; ; n++ {
		f := newFixture(t, t.TempDir(), s)
		f.setUp()
		ffs := &failFS{FS: selfupdate.OS{}, n: -1}
		u := f.updater(ffs)
		f.stage(u, "2.0.0")
		ffs.n = n
		check := func(string) error { return nil }
		if !healthy {
			check = func(string) error { return errors.New("unhealthy") }
		}
		r := request("2.0.0", build("1.0.0"), 1, check)
		r.CheckInPlace = inPlace
		_, err := u.Install(r, f.hooks())
		if ffs.count <= n {
			if healthy != (err == nil) {
				t.Fatalf("without failures: Install = %v", err)
			}
			if n < 5 {
				t.Fatalf("only %d changes", n)
			}
			break
		}
		if err != nil && !errors.Is(err, errInjected) && !errors.Is(err, install.ErrHealthCheck) {
			t.Fatalf("change %d failed: Install = %v, want the injected error", n, err)
		}
		if v := f.exeVersion(); v != "1.0.0" && v != "2.0.0" {
			t.Fatalf("change %d failed: executable v%q", n, v)
		}
		u = f.updater(selfupdate.OS{})
		if _, err := u.Recover(f.hooks()); err != nil {
			t.Fatalf("change %d failed: Recover: %v", n, err)
		}
		f.checkClean(u)
		if !healthy && f.exeVersion() != "1.0.0" {
			t.Errorf("change %d failed: unhealthy v2 is installed", n)
		}
	}
}

func TestPending(t *testing.T) {
	f := newFixture(t, t.TempDir(), selfupdate.RenameOver)
	f.setUp()
	u := f.updater(selfupdate.OS{})
	f.stage(u, "2.0.0")
	// While the health check runs, the journal describes an operation in
	// progress, as after a crash.
	stop := errors.New("stop")
	_, err := u.Install(request("2.0.0", build("1.0.0"), 1, func(string) error {
		pending := f.updater(selfupdate.OS{})
		if _, err := pending.Prepare(); !errors.Is(err, selfupdate.ErrPending) {
			t.Errorf("Prepare during an install = %v, want ErrPending", err)
		}
		if err := pending.Tidy(); !errors.Is(err, selfupdate.ErrPending) {
			t.Errorf("Tidy during an install = %v, want ErrPending", err)
		}
		if _, err := pending.Revert(build("2.0.0"), f.hooks()); !errors.Is(err, selfupdate.ErrPending) {
			t.Errorf("Revert during an install = %v, want ErrPending", err)
		}
		if _, err := pending.Install(request("2.0.0", build("1.0.0"), 1, nil), f.hooks()); !errors.Is(err, selfupdate.ErrPending) {
			t.Errorf("Install during an install = %v, want ErrPending", err)
		}
		if op, err := pending.Interrupted(); op == nil || op.Build.Version != "2.0.0" || err != nil {
			t.Errorf("Interrupted during an install = %+v, %v", op, err)
		}
		return stop
	}), f.hooks())
	if !errors.Is(err, stop) {
		t.Fatal(err)
	}
	f.checkClean(u)
}

func TestBadJournal(t *testing.T) {
	for name, content := range map[string]string{
		"not json":      "{",
		"format":        `{"format":2,"exe":"/x"}`,
		"relative exe":  `{"format":1,"exe":"x"}`,
		"escaping name": `{"format":1,"exe":"/x","backups":[{"name":"../../etc/passwd"}]}`,
		"dot":           `{"format":1,"exe":"/x","trash":[".."]}`,
		"op name":       `{"format":1,"exe":"/x","op":{"kind":"install","phase":"swap","new":"new","backup":"a/b"}}`,
		"negative keep": `{"format":1,"exe":"/x","op":{"kind":"install","phase":"swap","new":"new","backup":"b","keep":-1}}`,
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, t.TempDir(), selfupdate.RenameOver)
			f.setUp()
			if err := os.WriteFile(f.journal, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			u := f.updater(selfupdate.OS{})
			if _, err := u.Recover(f.hooks()); !errors.Is(err, install.ErrJournal) {
				t.Errorf("Recover = %v, want install.ErrJournal", err)
			}
			if _, err := u.Prepare(); !errors.Is(err, install.ErrJournal) {
				t.Errorf("Prepare = %v, want install.ErrJournal", err)
			}
			if v := f.exeVersion(); v != "1.0.0" {
				t.Errorf("executable v%q", v)
			}
		})
	}
}

func TestUnknownOperation(t *testing.T) {
	f := newFixture(t, t.TempDir(), selfupdate.RenameOver)
	f.setUp()
	j := fmt.Sprintf(`{"format":1,"exe":%q,"op":{"kind":"install","phase":"later","new":"new","backup":"b"}}`, f.exe)
	if err := os.WriteFile(f.journal, []byte(j), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := f.updater(selfupdate.OS{}).Recover(f.hooks()); !errors.Is(err, install.ErrJournal) {
		t.Errorf("Recover = %v, want install.ErrJournal", err)
	}
}

// TestMovedExecutable: the journal of another path is finished there and
// then forgotten; the new path starts afresh.
func TestMovedExecutable(t *testing.T) {
	f := newFixture(t, t.TempDir(), selfupdate.RenameOver)
	f.setUp()
	moved := newFixture(t, f.dir, selfupdate.RenameOver)
	moved.exe = filepath.Join(f.dir, "elsewhere", app)
	if err := os.MkdirAll(filepath.Dir(moved.exe), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(moved.exe, contents["1.0.0"], 0o755); err != nil {
		t.Fatal(err)
	}
	u := moved.updater(selfupdate.OS{})
	if out, err := u.Recover(moved.hooks()); err != nil || out != selfupdate.Clean {
		t.Fatalf("Recover = %v, %v", out, err)
	}
	if b, err := u.Backups(); err != nil || len(b) != 0 {
		t.Errorf("Backups of the moved executable = %v, %v; want none", b, err)
	}
	moved.install(u, "2.0.0", build("1.0.0"), 1, nil)
	if v := moved.exeVersion(); v != "2.0.0" {
		t.Errorf("moved executable v%q", v)
	}
	if v := f.exeVersion(); v != "1.0.0" {
		t.Errorf("old path changed to v%q", v)
	}
}

func TestInstallRefusesStaleNames(t *testing.T) {
	f := newFixture(t, t.TempDir(), selfupdate.RenameOver)
	f.setUp()
	u := f.updater(selfupdate.OS{})
	f.stage(u, "2.0.0")
	// What the next install would call its backup, made behind the
	// journal's back.
	stale := filepath.Join(u.WorkDir(), "backup-2")
	if err := os.WriteFile(stale, []byte("stale"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := u.Install(request("2.0.0", build("1.0.0"), 1, nil), f.hooks())
	if !errors.Is(err, install.ErrJournal) {
		t.Fatalf("Install = %v, want install.ErrJournal", err)
	}
	if v := f.exeVersion(); v != "1.0.0" || f.floor() != "1.0.0" {
		t.Errorf("after a refused Install: v%q, floor %q", v, f.floor())
	}
	if _, err := u.Install(request("2.0.0", build("1.0.0"), 1, nil), f.hooks()); !errors.Is(err, install.ErrJournal) {
		t.Errorf("Install again = %v", err)
	}
}

func TestInstallNeedsStaged(t *testing.T) {
	f := newFixture(t, t.TempDir(), selfupdate.RenameOver)
	f.setUp()
	u := f.updater(selfupdate.OS{})
	if _, err := u.Prepare(); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Install(request("2.0.0", build("1.0.0"), 1, nil), f.hooks()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Install without a staged binary = %v, want fs.ErrNotExist", err)
	}
	if _, err := u.Install(request("2.0.0", build("1.0.0"), -1, nil), f.hooks()); err == nil {
		t.Error("Install with keep -1 succeeded")
	}
	f.checkClean(u)
}

func TestClone(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.WriteFile(src, []byte("data"), 0o751); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "dst")
	if err := (selfupdate.OS{}).Clone(src, dst); err != nil {
		t.Fatal(err)
	}
	if err := (selfupdate.OS{}).Clone(src, dst); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Clone over an existing file = %v, want fs.ErrExist", err)
	}
	if b, err := os.ReadFile(dst); err != nil || string(b) != "data" {
		t.Errorf("clone holds %q, %v", b, err)
	}
}

// TestCheckInterrupted: a check that reports it did not finish undoes the
// install without failing the build; the second such check of the build
// fails it; a check that passes in between forgets the count.
func TestCheckInterrupted(t *testing.T) {
	killed := fmt.Errorf("signal: killed: %w", install.ErrHealthCheckInterrupted)
	f := newFixture(t, t.TempDir(), selfupdate.RenameOver)
	f.setUp()
	u := f.updater(selfupdate.OS{})
	interrupted := func() error {
		t.Helper()
		f.stage(u, "2.0.0")
		_, err := u.Install(request("2.0.0", build("1.0.0"), 1, func(string) error { return killed }), f.hooks())
		if !errors.Is(err, install.ErrHealthCheckInterrupted) {
			t.Fatalf("Install = %v, want install.ErrHealthCheckInterrupted", err)
		}
		if v := f.exeVersion(); v != "1.0.0" {
			t.Fatalf("executable v%q after an interrupted check", v)
		}
		f.checkClean(u)
		return err
	}
	if err := interrupted(); errors.Is(err, install.ErrHealthCheck) || f.state().isFailed(build("2.0.0").SHA256) {
		t.Fatalf("the first interrupted check failed the build: %v", err)
	}
	// A check that passes forgets the count: two more interruptions of
	// another build are needed to fail that one.
	f.install(u, "2.0.0", build("1.0.0"), 1, func(string) error { return nil })
	contents["3.0.0"] = []byte("#!/bin/sh\necho v3\n")
	defer delete(contents, "3.0.0")
	f.stage(u, "3.0.0")
	if _, err := u.Install(request("3.0.0", build("2.0.0"), 1, func(string) error { return killed }), f.hooks()); errors.Is(err, install.ErrHealthCheck) {
		t.Fatalf("first interrupted check of v3: %v", err)
	}
	f.stage(u, "3.0.0")
	_, err := u.Install(request("3.0.0", build("2.0.0"), 1, func(string) error { return killed }), f.hooks())
	if !errors.Is(err, install.ErrHealthCheck) || !errors.Is(err, install.ErrHealthCheckInterrupted) {
		t.Fatalf("second interrupted check = %v, want install.ErrHealthCheck and install.ErrHealthCheckInterrupted", err)
	}
	if !f.state().isFailed(build("3.0.0").SHA256) || f.state().isFailed(build("2.0.0").SHA256) {
		t.Errorf("failed builds %v, want v3 only", f.state().Failed)
	}
	if v := f.exeVersion(); v != "2.0.0" {
		t.Errorf("executable v%q", v)
	}
	f.checkClean(u)
}

// TestWorkDirUnsafe (issue 9 item 14): a work directory that is a
// symbolic link, not a directory, writable by group or others, or owned by
// another user is refused with a *install.WorkDirError by every operation that
// uses it, and nothing changes.
func TestWorkDirUnsafe(t *testing.T) {
	cases := map[string]func(t *testing.T, work string){
		"group and other write": func(t *testing.T, work string) {
			if err := os.Chmod(work, 0o777); err != nil {
				t.Fatal(err)
			}
		},
		"group write": func(t *testing.T, work string) {
			if err := os.Chmod(work, 0o770); err != nil {
				t.Fatal(err)
			}
		},
		"symbolic link": func(t *testing.T, work string) {
			target := t.TempDir()
			testdir.Replace(t, target, work)
			if err := errors.Join(os.RemoveAll(work), os.Symlink(target, work)); err != nil {
				t.Fatal(err)
			}
		},
		"not a directory": func(t *testing.T, work string) {
			if err := errors.Join(os.RemoveAll(work), os.WriteFile(work, nil, 0o600)); err != nil {
				t.Fatal(err)
			}
		},
	}
	if os.Geteuid() == 0 {
		cases["another owner"] = func(t *testing.T, work string) {
			if err := os.Chown(work, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, spoil := range cases {
		t.Run(name, func(t *testing.T) {
			if runtime.GOOS == "windows" && name != "symbolic link" && name != "not a directory" {
				t.Skip("no owner or mode bits on Windows")
			}
			f := newFixture(t, t.TempDir(), selfupdate.RenameOver)
			f.setUp()
			u := f.updater(selfupdate.OS{})
			f.install(u, "2.0.0", build("1.0.0"), 1, nil)
			spoil(t, u.WorkDir())
			want := func(op string, err error) {
				t.Helper()
				var wde *install.WorkDirError
				if !errors.Is(err, install.ErrUnsafeWorkDir) || !errors.As(err, &wde) || wde.Path != u.WorkDir() {
					t.Errorf("%s = %v, want a *install.WorkDirError for %s", op, err, u.WorkDir())
				}
			}
			_, err := u.Prepare()
			want("Prepare", err)
			_, err = u.Install(request("2.0.0", build("1.0.0"), 1, nil), f.hooks())
			want("Install", err)
			_, err = u.Revert(build("2.0.0"), f.hooks())
			want("Revert", err)
			_, err = u.Recover(f.hooks())
			want("Recover", err)
			want("Tidy", u.Tidy())
			if v := f.exeVersion(); v != "2.0.0" || f.floor() != "2.0.0" {
				t.Errorf("after the refusals: executable v%q, floor %q", v, f.floor())
			}
		})
	}
}
