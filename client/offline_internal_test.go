package client

import (
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/latchsec/latch/internal/simulator"
	"github.com/latchsec/latch/rollback"
)

// TestOfflineTornPair: a reader that finds a cache file newer than its
// record (a writer between the two renames) reads again once the record is
// saved, and gets every role; one whose pair stays torn (a crash between
// them) gets every role whose pair is whole, as New would.
func TestOfflineTornPair(t *testing.T) {
	repo := simulator.New(t, simulator.Options{})
	metaURL, _ := repo.Serve()
	writer, reader := t.TempDir(), t.TempDir()
	refreshOnce(t, repo, repo.TrustedRoot(), metaURL, reader) // everything at v1
	repo.AddTarget("a", []byte("a"), nil)
	repo.Publish()
	refreshOnce(t, repo, repo.TrustedRoot(), metaURL, writer) // timestamp, snapshot and targets v2

	// The writer has renamed timestamp.json v2 into place, and not yet the
	// record that describes it.
	ts, err := os.ReadFile(filepath.Join(writer, "timestamp.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(reader, "timestamp.json"), ts, 0o644); err != nil {
		t.Fatal(err)
	}
	written, err := rollback.ReadFileState(filepath.Join(writer, stateSubdir))
	if err != nil {
		t.Fatal(err)
	}
	saveRecord := func() {
		st, err := rollback.OpenFileStore(filepath.Join(reader, stateSubdir))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		s, err := st.Load()
		if err == nil {
			err = s.Advance("timestamp", written.Roles["timestamp"])
		}
		if err == nil {
			err = st.Save(s)
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	view := func(pause func(int) bool) map[string]int64 {
		t.Helper()
		c, embedded, err := configure(Config{TrustedRoot: repo.TrustedRoot(), StateDir: reader}, nil)
		if err != nil {
			t.Fatal(err)
		}
		d := &stateDir{dir: reader, log: c.log}
		if err := d.readUnlocked(pause); err != nil {
			t.Fatal(err)
		}
		c.disk = d
		c.trusted.Store(c.offlineSet(embedded))
		got := map[string]int64{}
		for _, r := range c.View().Roles() {
			got[r.Role] = r.Version
		}
		return got
	}

	// A crash left the pair torn: the reader gives up and, like New,
	// ignores the timestamp; the snapshot and targets it recorded stand.
	pauses := 0
	got := view(func(int) bool { pauses++; return false })
	want := map[string]int64{"root": 1, "snapshot": 1, "targets": 1}
	if !maps.Equal(got, want) || pauses != 1 {
		t.Errorf("torn for good: %v after %d pauses, want %v after 1", got, pauses, want)
	}

	// The writer saves the record during the reader's pause.
	pauses = 0
	got = view(func(try int) bool {
		pauses++
		if try == 0 {
			saveRecord()
		}
		return true
	})
	want = map[string]int64{"root": 1, "timestamp": 2, "snapshot": 1, "targets": 1}
	if !maps.Equal(got, want) || pauses != 1 {
		t.Errorf("record saved during the pause: %v after %d pauses, want %v after 1", got, pauses, want)
	}
}
