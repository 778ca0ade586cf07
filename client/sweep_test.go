package client_test

import (
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
	repo := simulator.New(t, simulator.Options{})
	repo.Publish()
	e := newEnv(t, repo)
	e.open()
	e.refresh()
	e.c.Close()
	e.c = nil
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
