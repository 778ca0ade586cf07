package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// tempFiles lists the names in dir that look like our temporary files.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") && strings.HasSuffix(e.Name(), ".tmp") {
			names = append(names, e.Name())
		}
	}
	return names
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	if names := tempFiles(t, dir); len(names) != 0 {
		t.Errorf("temporary files left in %s: %v", dir, names)
	}
}

func assertContent(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s holds %q, want %q", path, got, want)
	}
}

func TestWriteFileCreatesAndReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	if err := WriteFile(path, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	assertContent(t, path, []byte("one"))
	if err := WriteFile(path, []byte("two, longer"), 0o600); err != nil {
		t.Fatal(err)
	}
	assertContent(t, path, []byte("two, longer"))
	if err := WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	assertContent(t, path, nil)
	assertNoTemp(t, dir)
}

func TestWriteFilePermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("windows has no unix permission bits")
	}
	dir := t.TempDir()
	// 0666 would become 0644 under the usual umask 022; WriteFile sets the
	// bits exactly. The mode-type bit in the last case must be ignored.
	for _, perm := range []fs.FileMode{0o600, 0o644, 0o666, 0o400, fs.ModeDir | 0o640} {
		path := filepath.Join(dir, fmt.Sprintf("f%o", uint32(perm)))
		if err := WriteFile(path, []byte("x"), perm); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm() != perm.Perm() {
			t.Errorf("perm %v: file mode is %v", perm, fi.Mode())
		}
	}
	// Replacing a file takes the new permissions, not the old ones.
	path := filepath.Join(dir, "f600")
	if err := WriteFile(path, []byte("y"), 0o640); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("after replace: mode %v, want 0640", fi.Mode())
	}
}

func TestWriteFileRenameFailsLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	// The destination is a non-empty directory, so the rename fails on every
	// system after the temporary file was written and synced.
	path := filepath.Join(dir, "target")
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	inside := filepath.Join(path, "keep")
	if err := os.WriteFile(inside, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := WriteFile(path, []byte("new"), 0o600)
	if err == nil {
		t.Fatal("WriteFile over a non-empty directory succeeded")
	}
	var linkErr *os.LinkError
	if !errors.As(err, &linkErr) {
		t.Errorf("error %v is not the failed rename", err)
	}
	if fi, err := os.Stat(path); err != nil || !fi.IsDir() {
		t.Errorf("destination directory damaged: %v, %v", fi, err)
	}
	assertContent(t, inside, []byte("old"))
	assertNoTemp(t, dir)
}

func TestWriteFileMissingDirectory(t *testing.T) {
	dir := t.TempDir()
	err := WriteFile(filepath.Join(dir, "absent", "f"), []byte("x"), 0o600)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v, want fs.ErrNotExist", err)
	}
	assertNoTemp(t, dir)
}

func TestCommitOtherDirectoryKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	other := filepath.Join(dir, "other")
	if err := os.Mkdir(other, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(other, "f")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := CreateTemp(dir, "f")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("new"); err != nil {
		t.Fatal(err)
	}
	if err := f.Commit(path); !errors.Is(err, fs.ErrInvalid) {
		t.Fatalf("commit to another directory: got %v, want fs.ErrInvalid", err)
	}
	assertContent(t, path, []byte("old"))
	assertNoTemp(t, dir)
	if err := f.Abort(); err != nil {
		t.Errorf("abort after failed commit: %v", err)
	}
}

func TestCreateTempName(t *testing.T) {
	dir := t.TempDir()
	seen := map[string]bool{}
	for _, pattern := range []string{"target", "target", "pre-*-post"} {
		f, err := CreateTemp(dir, pattern)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(f.Name())
		if filepath.Dir(f.Name()) != dir {
			t.Errorf("%s is not in %s", f.Name(), dir)
		}
		wantPrefix := "." + strings.SplitN(pattern, "*", 2)[0]
		if !strings.HasPrefix(name, wantPrefix) || !strings.HasSuffix(name, ".tmp") {
			t.Errorf("pattern %q gave %q, want %q...%q", pattern, name, wantPrefix, ".tmp")
		}
		if pattern == "pre-*-post" && !strings.HasSuffix(name, "-post.tmp") {
			t.Errorf("pattern %q gave %q: the random part must replace the *", pattern, name)
		}
		if len(name) <= len(wantPrefix)+len(".tmp") {
			t.Errorf("%q has no random part", name)
		}
		if seen[name] {
			t.Errorf("name %q repeated", name)
		}
		seen[name] = true
		fi, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
			t.Errorf("new temporary file mode %v, want 0600", fi.Mode())
		}
		if err := f.Abort(); err != nil {
			t.Fatal(err)
		}
	}
	assertNoTemp(t, dir)
}

func TestCommitStreamed(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "download")
	if err := os.WriteFile(path, []byte("previous"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := CreateTemp(dir, "download")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		fmt.Fprintf(f, "chunk%d;", i)
	}
	// Not yet visible: the destination still holds the old contents.
	assertContent(t, path, []byte("previous"))
	if err := f.Commit(path); err != nil {
		t.Fatal(err)
	}
	assertContent(t, path, []byte("chunk0;chunk1;chunk2;"))
	assertNoTemp(t, dir)

	// Abort after Commit does nothing: the committed file stays.
	if err := f.Abort(); err != nil {
		t.Errorf("abort after commit: %v", err)
	}
	assertContent(t, path, []byte("chunk0;chunk1;chunk2;"))
	// A second Commit is refused and changes nothing.
	if err := f.Commit(filepath.Join(dir, "again")); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("second commit: got %v, want fs.ErrClosed", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "again")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("second commit created a file: %v", err)
	}
}

func TestAbort(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "dest")
	f, err := CreateTemp(dir, "dest")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("partial"); err != nil {
		t.Fatal(err)
	}
	for i := range 2 { // idempotent
		if err := f.Abort(); err != nil {
			t.Fatalf("abort %d: %v", i, err)
		}
	}
	assertNoTemp(t, dir)
	if err := f.Commit(path); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("commit after abort: got %v, want fs.ErrClosed", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("commit after abort created the destination: %v", err)
	}

	// Abort also copes with a caller that already closed the file.
	g, err := CreateTemp(dir, "dest")
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if err := g.Abort(); err != nil {
		t.Errorf("abort after close: %v", err)
	}
	assertNoTemp(t, dir)
}

// Concurrent writers to one path never expose a partial file, and the final
// file is one of the complete versions.
func TestWriteFileConcurrent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "shared")
	const writers, rounds = 4, 10
	content := func(w, r int) []byte {
		return bytes.Repeat([]byte{byte('a' + w), byte('0' + r)}, 4096)
	}
	valid := func(b []byte) bool {
		if len(b) != 8192 {
			return false
		}
		return bytes.Equal(b, bytes.Repeat(b[:2], 4096))
	}
	if err := WriteFile(path, content(0, 0), 0o600); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	errs := make(chan error, writers*rounds+1)
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			b, err := os.ReadFile(path)
			if err != nil && runtime.GOOS == "windows" {
				continue // a rename can briefly make the file unreadable there
			}
			if err != nil || !valid(b) {
				errs <- fmt.Errorf("reader saw %d bytes, err %v", len(b), err)
				return
			}
		}
	}()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				if err := WriteFile(path, content(w, r), 0o600); err != nil && runtime.GOOS != "windows" {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || !valid(b) {
		t.Errorf("final file: %d bytes, err %v", len(b), err)
	}
	assertNoTemp(t, dir)
}

func TestSyncDir(t *testing.T) {
	if err := SyncDir(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "windows" {
		return
	}
	if err := SyncDir(filepath.Join(t.TempDir(), "absent")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing directory: got %v, want fs.ErrNotExist", err)
	}
}

// StartWriteback is a hint: the file commits with the same bytes, and on
// Linux the call itself succeeds.
func TestStartWriteback(t *testing.T) {
	dir := t.TempDir()
	f, err := CreateTemp(dir, "wb-*")
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("x"), 1<<20)
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.StartWriteback(0, int64(len(data))); err != nil {
		t.Fatalf("StartWriteback: %v", err)
	}
	dest := filepath.Join(dir, "out")
	if err := f.Commit(dest); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(dest); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("committed file: %d bytes, %v", len(got), err)
	}
}

// TestRemoveTemps: the temporary files WriteFile makes for the accepted
// names are removed, and nothing else, however close its name.
func TestRemoveTemps(t *testing.T) {
	dir := t.TempDir()
	// A WriteFile cut short leaves its temporary file: make real ones.
	var ours []string
	for _, base := range []string{"state.json", "a-b", "x.y-1"} {
		f, err := CreateTemp(dir, base+"-*")
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		ours = append(ours, filepath.Base(f.Name()))
		if got, ok := TempBase(filepath.Base(f.Name())); !ok || got != base {
			t.Errorf("TempBase(%q) = %q, %v; want %q", filepath.Base(f.Name()), got, ok, base)
		}
	}
	theirs := []string{
		"state.json", ".state.json", ".state.json.tmp", ".state.json-.tmp", ".state.json-1x.tmp",
		"state.json-1.tmp", ".other-1.tmp", ".-1.tmp", ".state.json-1.tmp.bak",
	}
	for _, name := range theirs {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A directory with a temporary file's name is not ours either.
	if err := os.Mkdir(filepath.Join(dir, ".a-b-5.tmp"), 0o700); err != nil {
		t.Fatal(err)
	}
	theirs = append(theirs, ".a-b-5.tmp")
	accepted := map[string]bool{"state.json": true, "a-b": true, "x.y-1": true}
	if err := RemoveTemps(dir, func(base string) bool { return accepted[base] }); err != nil {
		t.Fatal(err)
	}
	for _, name := range ours {
		if _, err := os.Lstat(filepath.Join(dir, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s not removed: %v", name, err)
		}
	}
	for _, name := range theirs {
		if _, err := os.Lstat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s: %v; want it left alone", name, err)
		}
	}
	if err := RemoveTemps(filepath.Join(dir, "missing"), func(string) bool { return true }); err != nil {
		t.Errorf("missing directory: %v", err)
	}
}
