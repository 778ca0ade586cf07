package client_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/latchsec/latch/internal/simulator"
)

// TestNewSweepsTemps (issue 10 item 4): temporary files that a killed
// process left in the state directory (atomic writes of cached metadata,
// the targets index, the trusted state and the self-update journal) are
// removed when a client opens it; files with names the client doesn't
// write are left alone.
func TestNewSweepsTemps(t *testing.T) {
	e := closedEnv(t)
	dir := e.cfg.StateDir
	if err := os.MkdirAll(filepath.Join(dir, "selfupdate"), 0o700); err != nil {
		t.Fatal(err)
	}
	ours := []string{
		".timestamp.json-123456.tmp",
		".targets.json-1.tmp",
		".role%2Fa.json-42.tmp",
		"state/.trusted-state-99.tmp",
		"state/.targets.index-7.tmp",
		"selfupdate/.app-3141.tmp",
		"selfupdate/.my_app.v2-0.tmp",
	}
	theirs := []string{
		"notes.tmp",
		".notes.tmp",
		".timestamp.json.tmp",
		".timestamp.json-12x.tmp",
		".Timestamp.json-1.tmp",
		"state/.other-1.tmp",
		"selfupdate/app-1.tmp",
		"selfupdate/.app-1.temp",
		"selfupdate/..app-1.tmp",
	}
	for _, name := range append(ours, theirs...) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	killedHolder(t, dir)
	e.open()
	for _, name := range ours {
		if _, err := os.Lstat(filepath.Join(dir, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s not removed: %v", name, err)
		}
	}
	for _, name := range theirs {
		if _, err := os.Lstat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s: %v; want it left alone", name, err)
		}
		os.Remove(filepath.Join(dir, name))
	}
}

// killedHolder leaves in dir's lock file what a client killed while it held
// the lock leaves there: its record, not the blank one Close writes.
func killedHolder(t *testing.T, dir string) {
	t.Helper()
	rec := []byte("\npid=99999 program=killed")
	rec = append(rec, bytes.Repeat([]byte(" "), 128-len(rec)-1)...)
	if err := os.WriteFile(filepath.Join(dir, "state", "lock"), append(rec, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestNewSkipsSweepAfterClose: a start after a client closed the state
// directory doesn't search it for temporary files (every write ends before
// Close); one after a client was killed with the lock held does.
func TestNewSkipsSweepAfterClose(t *testing.T) {
	e := closedEnv(t)
	planted := filepath.Join(e.cfg.StateDir, ".timestamp.json-5.tmp")
	if err := os.WriteFile(planted, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.open()
	if _, err := os.Stat(planted); err != nil {
		t.Errorf("after Close the state directory was searched: %v", err)
	}
	e.c.Close()
	e.c = nil
	killedHolder(t, e.cfg.StateDir)
	e.open()
	if _, err := os.Stat(planted); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after a killed holder the temporary file stays: %v", err)
	}
}

// closedEnv is a state directory a client refreshed and closed.
func closedEnv(t *testing.T) *env {
	t.Helper()
	repo := simulator.New(t, simulator.Options{})
	repo.Publish()
	e := newEnv(t, repo)
	e.open()
	e.refresh()
	e.c.Close()
	e.c = nil
	return e
}
