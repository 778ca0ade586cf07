package rollback

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/latchsec/latch/internal/testproc"
)

// The test binary doubles as a helper process that holds a store, so that
// locking across processes and surviving a restart can be tested.
const (
	envHelper  = "LATCH_ROLLBACK_TEST_HELPER" // the state directory
	envVersion = "LATCH_ROLLBACK_TEST_TIMESTAMP"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(envHelper); dir != "" {
		os.Exit(holdStore(dir))
	}
	os.Exit(m.Run())
}

// holdStore opens the store in dir, saves a timestamp record at the version
// in envVersion, says "ready" and waits for its stdin to close or to be
// killed. It exits without Close, like a process that is cut short.
func holdStore(dir string) int {
	st, err := OpenFileStore(dir)
	if err != nil {
		fmt.Println(err)
		return 2
	}
	v, err := strconv.ParseInt(os.Getenv(envVersion), 10, 64)
	if err != nil {
		fmt.Println(err)
		return 2
	}
	s, err := st.Load()
	if err == nil {
		err = s.Advance("timestamp", rec(v))
	}
	if err == nil {
		err = st.Save(s)
	}
	if err != nil {
		fmt.Println(err)
		return 2
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// helper starts a process that holds the store in dir and has saved
// timestamp version v; it returns once the process is ready.
func helper(t *testing.T, dir string, v int64) *testproc.Child {
	t.Helper()
	ch := testproc.Start(t, "^$", envHelper+"="+dir, envVersion+"="+strconv.FormatInt(v, 10))
	if line := ch.Line(t); line != "ready" {
		t.Fatalf("helper process said %q", line)
	}
	return ch
}

func openStore(t *testing.T, dir string) *FileStore {
	t.Helper()
	st, err := OpenFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func assertLocked(t *testing.T, dir string) {
	t.Helper()
	st, err := OpenFileStore(dir)
	if !errors.Is(err, ErrLocked) {
		if err == nil {
			st.Close()
		}
		t.Fatalf("OpenFileStore(%s): got %v, want ErrLocked", dir, err)
	}
	if !strings.Contains(err.Error(), filepath.Join(dir, "lock")) {
		t.Errorf("error %q does not name the lock file", err)
	}
}

func TestFileStoreLockedByOtherProcess(t *testing.T) {
	dir := t.TempDir()
	ch := helper(t, dir, 7)
	assertLocked(t, dir)

	// The helper exits without Close: the system releases the lock, and
	// what it saved survives the process.
	ch.End(t)
	st := openStore(t, dir)
	if got := load(t, st).Roles["timestamp"]; got != rec(7) {
		t.Errorf("after restart: timestamp %+v, want %+v", got, rec(7))
	}
	// And the next process starts from there.
	s := load(t, st)
	must(t, s.Advance("timestamp", rec(8)))
	must(t, st.Save(s))
}

func TestFileStoreLockReleasedWhenKilled(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	s := load(t, st)
	must(t, s.Advance("root", rec(1)))
	must(t, st.Save(s))
	must(t, st.Close())

	ch := helper(t, dir, 3)
	assertLocked(t, dir)
	ch.Kill(t)
	st = openStore(t, dir)
	got := load(t, st)
	if got.Roles["root"] != rec(1) || got.Roles["timestamp"] != rec(3) {
		t.Errorf("after kill: %+v", got.Roles)
	}
}

// TestFileStorePreviousHolderClosed: a store whose previous holder closed
// it says so and is not searched for temporary files (none can be left);
// one whose holder was killed with the lock held, or a new one, is.
func TestFileStorePreviousHolderClosed(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	if st.PreviousHolderClosed() {
		t.Error("a new lock file read as closed")
	}
	must(t, st.Save(baseState(t)))
	must(t, st.Close())
	planted := filepath.Join(dir, ".trusted-state-777.tmp")
	if err := os.WriteFile(planted, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	st = openStore(t, dir)
	if !st.PreviousHolderClosed() {
		t.Error("after Close: not read as closed")
	}
	if _, err := os.Stat(planted); err != nil {
		t.Errorf("after Close the directory was searched: %v", err)
	}
	must(t, st.Close())

	ch := helper(t, dir, 50) // holds the lock, saves, waits
	ch.Kill(t)
	st = openStore(t, dir)
	if st.PreviousHolderClosed() {
		t.Error("after a kill: read as closed")
	}
	if _, err := os.Stat(planted); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after a kill the temporary file stays: %v", err)
	}
	if got := load(t, st); got.Roles["timestamp"] != rec(50) {
		t.Errorf("after kill: %+v", got.Roles)
	}
}

func TestFileStoreLockedInProcess(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	assertLocked(t, dir)
	// The same directory under another name is the same store.
	if _, err := OpenFileStore(dir + string(filepath.Separator) + "."); !errors.Is(err, ErrLocked) {
		t.Errorf("dir/.: got %v, want ErrLocked", err)
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err == nil {
		if _, err := OpenFileStore(link); !errors.Is(err, ErrLocked) {
			t.Errorf("symlink: got %v, want ErrLocked", err)
		}
	} else if runtime.GOOS != "windows" {
		t.Fatal(err)
	}
	// The refused opens did not disturb the holder: another process is
	// still locked out.
	s := load(t, st)
	must(t, s.Advance("root", rec(2)))
	must(t, st.Save(s))
	out, err := testproc.Command("^$", envHelper+"="+dir, envVersion+"=1").Output()
	if err == nil || !strings.Contains(string(out), ErrLocked.Error()) {
		t.Errorf("helper process opened a held store: %q, %v", out, err)
	}

	must(t, st.Close())
	st2 := openStore(t, dir)
	if got := load(t, st2).Roles["root"]; got != rec(2) {
		t.Errorf("reopened: root %+v", got)
	}
	// Other directories are independent.
	openStore(t, t.TempDir())
}

func TestFileStoreClose(t *testing.T) {
	st, err := OpenFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	must(t, st.Close())
	if err := st.Close(); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("second Close: got %v, want fs.ErrClosed", err)
	}
	if _, err := st.Load(); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("Load after Close: got %v, want fs.ErrClosed", err)
	}
	if err := st.Save(NewState()); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("Save after Close: got %v, want fs.ErrClosed", err)
	}
}

func TestFileStoreReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	st := openStore(t, dir)
	must(t, st.Save(baseState(t)))
	must(t, st.Close())
	st = openStore(t, dir)
	if got := load(t, st); !reflect.DeepEqual(got, baseState(t)) {
		t.Errorf("after reopen\n%+v\nwant\n%+v", got, baseState(t))
	}
	if runtime.GOOS == "windows" {
		return
	}
	for path, want := range map[string]fs.FileMode{dir: 0o700, filepath.Join(dir, "trusted-state"): 0o600, filepath.Join(dir, "lock"): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), want)
		}
	}
}

// The file format is pinned: a change needs a new format version.
func TestFileStoreFormat(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	s := NewState()
	must(t, s.Advance("root", RoleRecord{Version: 3, SHA256: hash(0xa), Length: 1234}))
	must(t, s.FastForward(2))
	must(t, s.ResetTimestamp(3))
	must(t, s.Advance("bins/../ö", RoleRecord{Version: 1, SHA256: hash(0xb), Length: 0}))
	must(t, s.CommitInstall("app", Install{Version: "1.2.3-rc.1+b7", SHA256: hash(0xc), Time: t0}))
	must(t, s.MarkFailed("app", hash(0xd)))
	s.AdvanceTime(t0.Add(1500))
	s.AuditAnchor = "anchor"
	must(t, st.Save(s))
	want := `{
	"format": 2,
	"roles": {
		"bins/../ö": {
			"version": 1,
			"sha256": "` + hash(0xb) + `",
			"length": 0
		},
		"root": {
			"version": 3,
			"sha256": "` + hash(0xa) + `",
			"length": 1234
		}
	},
	"timestamp_reset_root": 3,
	"fast_forward_root": 2,
	"last_time": "2025-03-01T12:00:00.0000015Z",
	"installed": {
		"app": {
			"version": "1.2.3-rc.1+b7",
			"sha256": "` + hash(0xc) + `",
			"time": "2025-03-01T12:00:00Z"
		}
	},
	"failed": {
		"app": [
			"` + hash(0xd) + `"
		]
	},
	"audit_anchor": "anchor"
}
`
	got, err := os.ReadFile(filepath.Join(dir, "trusted-state"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("trusted-state:\n%s\nwant:\n%s", got, want)
	}
}

// A state file of format 1 (before timestamp resets were recorded apart)
// is read, as a state without a timestamp reset, and saved as format 2.
func TestFileStoreReadsFormat1(t *testing.T) {
	want := baseState(t)
	want.TimestampResetRoot = 0
	data, err := encodeState(want)
	if err != nil {
		t.Fatal(err)
	}
	v1 := strings.Replace(strings.Replace(string(data), `"format": 2`, `"format": 1`, 1), "\t\"timestamp_reset_root\": 0,\n", "", 1)
	if strings.Contains(v1, "timestamp_reset_root") || !strings.Contains(v1, `"format": 1`) {
		t.Fatalf("not a format 1 file:\n%s", v1)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "trusted-state"), []byte(v1), 0o600); err != nil {
		t.Fatal(err)
	}
	st := openStore(t, dir)
	got, err := st.Load()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("loaded\n%+v\nwant\n%+v", got, want)
	}
	must(t, st.Save(got))
	if b, err := os.ReadFile(filepath.Join(dir, "trusted-state")); err != nil || string(b) != string(data) {
		t.Errorf("saved\n%s\nwant\n%s (%v)", b, data, err)
	}
}

func TestFileStoreCorrupt(t *testing.T) {
	valid, replace := validStateFile(t)
	canonical := `{"audit_anchor":"a\u0001b","format":2,"timestamp_reset_root":0}`
	if _, err := decodeState([]byte(canonical)); err != nil {
		t.Fatalf("the canonical file itself: %v", err)
	}
	for name, content := range map[string]string{
		"empty":                            "",
		"not json":                         "hello",
		"truncated":                        valid[:len(valid)/2],
		"array":                            "[]",
		"null":                             "null",
		"no format":                        `{"roles": {}}`,
		"format null":                      replace(`"format": 2`, `"format": null`),
		"format 3":                         replace(`"format": 2`, `"format": 3`),
		"format 0":                         replace(`"format": 2`, `"format": 0`),
		"format as text":                   replace(`"format": 2`, `"format": "2"`),
		"format 1, reset":                  replace(`"format": 2`, `"format": 1`),
		"format 2, no reset":               replace(`"timestamp_reset_root": 3,`, ``),
		"format 2, null reset":             replace(`"timestamp_reset_root": 3`, `"timestamp_reset_root": null`),
		"unknown field":                    replace(`"format": 2,`, `"format": 2, "extra": true,`),
		"unknown role field":               replace(`"version": 40,`, `"version": 40, "extra": {"a": [1]},`),
		"reset > root":                     replace(`"timestamp_reset_root": 3`, `"timestamp_reset_root": 9`),
		"trailing data":                    valid + "{}",
		"byte order mark":                  "\ufeff" + valid,
		"version 0":                        replace(`"version": 40`, `"version": 0`),
		"version 1e3":                      replace(`"version": 40`, `"version": 1e3`),
		"version 40.0":                     replace(`"version": 40`, `"version": 40.0`),
		"version 040":                      replace(`"version": 40`, `"version": 040`),
		"version beyond int64":             replace(`"version": 40`, `"version": 9223372036854775808`),
		"version as text":                  replace(`"version": 40`, `"version": "40"`),
		"bad hash":                         replace(hash(40), "zz"),
		"upper-case hash":                  replace(hash(40), strings.ToUpper(hash(0xab))),
		"role null":                        replace(`"roles": {`, `"roles": {"x": null,`),
		"bad install":                      replace(`"v1.10.0"`, `"v1.10"`),
		"bad failed hash":                  replace(`"`+hash(8)+`"`, `"x"`),
		"null failed hash":                 replace(`"`+hash(8)+`"`, `null`),
		"fast-forward > root":              replace(`"fast_forward_root": 2`, `"fast_forward_root": 9`),
		"negative length":                  replace(`"length": 120`, `"length": -1`),
		"bad time":                         replace(`"2025-03-01T12:00:00Z"`, `"yesterday"`),
		"time with an escape":              replace(`"2025-03-01T12:00:00Z"`, `"2025-03-01T12:00:00\u005a"`),
		"time as a number":                 replace(`"2025-03-01T12:00:00Z"`, `1740830400`),
		"raw control character":            replace(`"audit_anchor": "`, "\"audit_anchor\": \"\x01"),
		"raw control character, canonical": strings.Replace(canonical, `\u0001`, "\x01", 1),
		"raw newline, canonical":           strings.Replace(canonical, `\u0001`, "\n", 1),
	} {
		t.Run(name, func(t *testing.T) {
			assertCorrupt(t, content, nil)
		})
	}
}

// Save compares with the file, not with a copy in memory.
func TestFileStoreChecksAgainstDisk(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	must(t, st.Save(baseState(t)))
	s := load(t, st)

	newer := baseState(t)
	must(t, newer.Advance("snapshot", rec(31)))
	data, err := encodeState(newer)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "trusted-state")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	assertRollback(t, st.Save(s), "snapshot", "", "v31", "v30")
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, data) {
		t.Errorf("state file changed by a refused Save: %v", err)
	}
	assertOnly(t, dir, "lock", "trusted-state")
}

func TestFileStoreRemovesLeftoverTemps(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	must(t, st.Save(baseState(t)))
	must(t, st.Close())
	for _, name := range []string{".trusted-state-12345.tmp", ".trusted-state-.tmp", ".other-1.tmp", "notes"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// What a holder killed with the lock held leaves in the lock file.
	if err := os.WriteFile(filepath.Join(dir, lockName), holder{pid: 99999, program: "killed"}.record(), 0o600); err != nil {
		t.Fatal(err)
	}
	st = openStore(t, dir)
	if st.PreviousHolderClosed() {
		t.Error("a killed holder's record read as closed")
	}
	// Only names that atomicfile makes go (its random part is never empty).
	assertOnly(t, dir, ".other-1.tmp", ".trusted-state-.tmp", "lock", "notes", "trusted-state")
	if got := load(t, st); !reflect.DeepEqual(got, baseState(t)) {
		t.Errorf("state changed: %+v", got)
	}
}

// assertOnly checks that dir holds exactly the given names, in order.
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if !reflect.DeepEqual(got, names) {
		t.Errorf("%s holds %v, want %v", dir, got, names)
	}
}
