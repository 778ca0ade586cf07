package rollback

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/latchsec/latch/internal/testdir"
)

// TestLockedErrorNamesHolder: a second store learns who holds the
// directory, in another process or in this one.
func TestLockedErrorNamesHolder(t *testing.T) {
	dir := t.TempDir()
	ch := helper(t, dir, 7)
	pid := ch.Cmd.Process.Pid
	_, err := OpenFileStore(dir)
	var le *LockedError
	if !errors.As(err, &le) || !errors.Is(err, ErrLocked) {
		t.Fatalf("OpenFileStore beside another process: %v, want a *LockedError", err)
	}
	if le.PID != pid || le.Program == "" || le.Path != filepath.Join(dir, "lock") {
		t.Errorf("LockedError %+v, want pid %d, a program name and the lock file", le, pid)
	}
	if want := "pid " + strconv.Itoa(pid); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	ch.End(t)

	// The holder is this process.
	st := openStore(t, dir)
	_, err = OpenFileStore(dir)
	if !errors.As(err, &le) || le.PID != os.Getpid() || !strings.Contains(err.Error(), "this process") {
		t.Errorf("OpenFileStore beside a store of this process: %v (%+v)", err, le)
	}
	// Close clears the record, so a lock file left behind names nobody.
	must(t, st.Close())
	lock, err := os.Open(filepath.Join(dir, "lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if h := readHolder(lock); h.pid != 0 {
		t.Errorf("after Close the lock file still names pid %d", h.pid)
	}
}

// TestOpenFileStoreWait: a second store waits for the first to be released,
// or for its context to end.
func TestOpenFileStoreWait(t *testing.T) {
	dir := t.TempDir()
	ch := helper(t, dir, 7)

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := OpenFileStoreWait(ctx, dir)
		done <- err
	}()
	cancel()
	err := <-done
	if !errors.Is(err, ErrLocked) || !errors.Is(err, context.Canceled) {
		t.Fatalf("OpenFileStoreWait cancelled: %v, want ErrLocked and context.Canceled", err)
	}

	opened := make(chan *FileStore, 1)
	go func() {
		st, err := OpenFileStoreWait(t.Context(), dir)
		if err != nil {
			t.Error(err)
		}
		opened <- st
	}()
	ch.End(t) // the holder exits; the waiting store gets the directory
	st := <-opened
	if st == nil {
		t.FailNow()
	}
	defer st.Close()
	if got := load(t, st).Roles["timestamp"]; got != rec(7) {
		t.Errorf("after waiting: timestamp %+v, want %+v", got, rec(7))
	}
}

// TestReadFileState: a reader sees what the holder saved, without the lock
// and without writing anything.
func TestReadFileState(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "state")
	s, err := ReadFileState(dir)
	if err != nil || len(s.Roles) != 0 {
		t.Fatalf("ReadFileState of a missing directory: %+v, %v; want an empty state", s, err)
	}
	assertOnly(t, parent)

	ch := helper(t, dir, 7)
	if err := os.WriteFile(filepath.Join(dir, ".trusted-state-1.tmp"), []byte("left by a crash"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := testdir.Files(t, dir)
	s, err = ReadFileState(dir)
	if err != nil || s.Roles["timestamp"] != rec(7) {
		t.Fatalf("ReadFileState beside the holder: %+v, %v; want timestamp %+v", s, err, rec(7))
	}
	testdir.Same(t, before, testdir.Files(t, dir))
	ch.End(t)

	must(t, os.WriteFile(filepath.Join(dir, stateName), []byte("{"), 0o600))
	if _, err := ReadFileState(dir); !errors.Is(err, ErrCorrupt) {
		t.Errorf("ReadFileState of a corrupt state: %v, want ErrCorrupt", err)
	}
}
