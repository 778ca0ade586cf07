package selfupdate_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/latchsec/latch/internal/selfupdate"
)

const app = "myapp"

// Contents of the builds a fixture knows: v0 was there before latch, v1
// was installed through it, v2 is the update under test.
var contents = map[string][]byte{
	"":      []byte("#!/bin/sh\necho v0\n"),
	"1.0.0": []byte("#!/bin/sh\necho v1\n"),
	"2.0.0": []byte("#!/bin/sh\necho v2 (new)\n"),
}

func build(version string) selfupdate.Build {
	sum := sha256.Sum256(contents[version])
	return selfupdate.Build{Version: version, SHA256: hex.EncodeToString(sum[:])}
}

// fixture is an executable with its work directory, journal and a
// trusted-state store for the version floor, all below one directory.
type fixture struct {
	t        testing.TB
	dir      string
	exe      string
	journal  string
	strategy selfupdate.Strategy
}

func newFixture(t testing.TB, dir string, strategy selfupdate.Strategy) *fixture {
	return &fixture{
		t: t, dir: dir, strategy: strategy,
		exe:     filepath.Join(dir, "bin", app),
		journal: filepath.Join(dir, "state-dir", "selfupdate", app),
	}
}

// setUp writes v0 as the executable and installs v1 over it (keeping v0):
// the floor is v1.
func (f *fixture) setUp() {
	f.t.Helper()
	f.writeV0()
	f.install(f.updater(selfupdate.OS{}), "1.0.0", selfupdate.Build{}, 1, nil)
}

// writeV0 writes v0 as the executable: a build latch knows nothing of.
func (f *fixture) writeV0() {
	f.t.Helper()
	if err := os.MkdirAll(filepath.Dir(f.exe), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(f.exe, contents[""], 0o755); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) updater(fsys selfupdate.FS) *selfupdate.Updater {
	return &selfupdate.Updater{FS: fsys, Strategy: f.strategy, Exe: f.exe, Journal: f.journal}
}

// stage puts the build of version at the staged path.
func (f *fixture) stage(u *selfupdate.Updater, version string) {
	f.t.Helper()
	p, err := u.Prepare()
	if err != nil {
		f.t.Fatalf("Prepare: %v", err)
	}
	if err := os.WriteFile(p, contents[version], 0o755); err != nil {
		f.t.Fatal(err)
	}
}

// request is an install of version over prev, keeping keep builds, with
// the health check check (nil: none) run beside the executable.
func request(version string, prev selfupdate.Build, keep int, check func(string) error) selfupdate.Request {
	return selfupdate.Request{Build: build(version), Prev: prev, Keep: keep, Check: check}
}

// install stages and installs version, failing the test on an error.
func (f *fixture) install(u *selfupdate.Updater, version string, prev selfupdate.Build, keep int, check func(string) error) string {
	f.t.Helper()
	f.stage(u, version)
	backup, err := u.Install(request(version, prev, keep, check), f.hooks())
	if err != nil {
		f.t.Fatalf("Install %s: %v", version, err)
	}
	return backup
}

// record is what the fixture's hooks keep of the trusted state, as a
// client's do: the committed build (the floor) and the builds marked
// failed, in a file below the fixture's directory, so that the crash
// tests' child processes write it too.
type record struct {
	Installed selfupdate.Build `json:"installed"`
	Failed    []string         `json:"failed,omitempty"`
}

func (r *record) isFailed(sum string) bool { return slices.Contains(r.Failed, sum) }

func (r *record) markFailed(sum string) {
	if !r.isFailed(sum) {
		r.Failed = append(r.Failed, sum)
	}
}

func (f *fixture) recordPath() string { return filepath.Join(f.dir, "state-dir", "record.json") }

// state loads the record (empty if none was written).
func (f *fixture) state() *record {
	f.t.Helper()
	r, err := f.loadRecord()
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

func (f *fixture) loadRecord() (*record, error) {
	r := &record{}
	b, err := os.ReadFile(f.recordPath())
	if errors.Is(err, fs.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return nil, err
	}
	return r, json.Unmarshal(b, r)
}

// floor is the installed version the record holds.
func (f *fixture) floor() string {
	f.t.Helper()
	return f.state().Installed.Version
}

// hooks record commits and failures in the record: a commit sets the
// installed build (a revert also marks the build it leaves failed), a
// failed check marks the build failed; each durably, by an atomic
// rename, and idempotent.
func (f *fixture) hooks() selfupdate.Hooks {
	update := func(change func(*record)) error {
		r, err := f.loadRecord()
		if err != nil {
			return err
		}
		change(r)
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(f.recordPath()), 0o700); err != nil {
			return err
		}
		tmp := f.recordPath() + ".tmp"
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			return err
		}
		return os.Rename(tmp, f.recordPath())
	}
	return selfupdate.Hooks{
		Commit: func(op selfupdate.Op) error {
			return update(func(r *record) {
				r.Installed = op.Build
				if op.Kind == selfupdate.KindRevert && op.Prev.SHA256 != "" {
					r.markFailed(op.Prev.SHA256)
				}
			})
		},
		MarkFailed: func(op selfupdate.Op) error {
			return update(func(r *record) { r.markFailed(op.Build.SHA256) })
		},
	}
}

// exeVersion returns the version whose content is at the executable's
// path, failing the test if it is missing, not executable or unknown.
func (f *fixture) exeVersion() string {
	f.t.Helper()
	st, err := os.Lstat(f.exe)
	if err != nil {
		f.t.Fatalf("executable: %v", err)
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o100 == 0 {
		f.t.Fatalf("executable: mode %v, want a regular executable file", st.Mode())
	}
	return f.versionOf(f.exe)
}

func (f *fixture) versionOf(p string) string {
	f.t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		f.t.Fatal(err)
	}
	for v, c := range contents {
		if bytes.Equal(b, c) {
			return v
		}
	}
	f.t.Fatalf("%s holds neither build: %q", p, b)
	return ""
}

// workFiles lists the work directory.
func (f *fixture) workFiles(u *selfupdate.Updater) []string {
	f.t.Helper()
	entries, err := os.ReadDir(u.WorkDir())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		f.t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// checkClean checks what must hold whenever no operation is pending: the
// executable is a known build and the floor says which one (v0 aside,
// which was never recorded); the journal identifies it by its bytes with
// that version (v0 aside, before latch changed anything); every kept build
// is the file it says, by version and hash; the work directory holds the
// kept builds and nothing else (trash excepted, which the journal lists),
// and no health-check copy is left.
func (f *fixture) checkClean(u *selfupdate.Updater) {
	f.t.Helper()
	if err := u.Tidy(); err != nil {
		f.t.Fatalf("Tidy: %v (want nothing pending)", err)
	}
	got, floor := f.exeVersion(), f.floor()
	if got != floor {
		f.t.Errorf("executable is v%q but the floor is v%q", got, floor)
	}
	in, known, err := u.InPlace()
	switch {
	case err != nil:
		f.t.Fatal(err)
	case known && in.Version != got:
		f.t.Errorf("the journal labels the executable v%q, its bytes are v%q", in.Version, got)
	case !known && got != "":
		f.t.Errorf("the journal does not know the executable v%q that latch put in place", got)
	}
	backups, err := u.Backups()
	if err != nil {
		f.t.Fatal(err)
	}
	var want []string
	for _, b := range backups {
		if got := f.versionOf(b.Path); got != b.Build.Version {
			f.t.Errorf("kept %s is v%q, journal says v%q", b.Path, got, b.Build.Version)
		}
		if b.Build.Exe != "" && b.Build.Exe != hashOf(f.t, b.Path) {
			f.t.Errorf("kept %s: journal's hash %.12s is not the file's", b.Path, b.Build.Exe)
		}
		want = append(want, filepath.Base(b.Path))
	}
	for _, name := range f.workFiles(u) {
		if !slices.Contains(want, name) {
			f.t.Errorf("work directory: unexpected %s (kept: %v)", name, want)
		}
	}
	if _, err := os.Lstat(u.CheckPath()); !errors.Is(err, fs.ErrNotExist) {
		f.t.Errorf("health-check copy left: %v", err)
	}
}

func hashOf(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// winFS emulates the Windows rules on a running executable: it can be
// renamed, but not replaced by a rename or removed.
type winFS struct {
	selfupdate.OS
	running []fs.FileInfo
}

// newWinFS returns a winFS for which the file now at each path is running.
func newWinFS(t testing.TB, paths ...string) *winFS {
	w := &winFS{}
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil {
			w.running = append(w.running, st)
		} else if !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
	}
	return w
}

var errAccessDenied = errors.New("access is denied (emulated Windows: file is a running executable)")

func (w *winFS) busy(p string) bool {
	st, err := os.Stat(p)
	return err == nil && slices.ContainsFunc(w.running, func(r fs.FileInfo) bool { return os.SameFile(r, st) })
}

func (w *winFS) Rename(oldpath, newpath string) error {
	if w.busy(newpath) {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: errAccessDenied}
	}
	return w.OS.Rename(oldpath, newpath)
}

func (w *winFS) Remove(name string) error {
	if w.busy(name) {
		return &fs.PathError{Op: "remove", Path: name, Err: errAccessDenied}
	}
	return w.OS.Remove(name)
}
