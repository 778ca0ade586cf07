package client

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/latchsec/latch/internal/simulator"
	"github.com/latchsec/latch/internal/testdir"
	"github.com/latchsec/latch/metadata"
)

// countChecks counts, until the test ends, the signature checks of roots,
// timestamps and snapshots made through openRoot, openTimestamp and
// openSnapshot.
func countChecks(t *testing.T) (roots, timestamps, snapshots *int) {
	roots, timestamps, snapshots = new(int), new(int), new(int)
	prevRoot, prevTimestamp, prevSnapshot := openRoot, openTimestamp, openSnapshot
	openRoot = func(b []byte, trusted *metadata.Root) (*metadata.Root, error) {
		*roots++
		return prevRoot(b, trusted)
	}
	openTimestamp = func(b []byte, root *metadata.Root) (*metadata.Timestamp, error) {
		*timestamps++
		return prevTimestamp(b, root)
	}
	openSnapshot = func(b []byte, root *metadata.Root) (*metadata.Snapshot, error) {
		*snapshots++
		return prevSnapshot(b, root)
	}
	t.Cleanup(func() { openRoot, openTimestamp, openSnapshot = prevRoot, prevTimestamp, prevSnapshot })
	return roots, timestamps, snapshots
}

// refreshOnce starts a client of repo on dir with the embedded root root,
// refreshes it once and closes it.
func refreshOnce(t *testing.T, repo *simulator.Repo, root []byte, metaURL, dir string) {
	t.Helper()
	c, err := New(Config{TrustedRoot: root, MetadataURLs: []string{metaURL}, StateDir: dir}, WithClock(repo.Now))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestWarmStartChecksOnce: a new process on a filled state directory
// checks no signature of what it cached and recorded under the root it
// still trusts, when its embedded root is the cached one and the server
// sends nothing new (not the root as embedded, nor the cached timestamp
// and snapshot, nor the timestamp the server sends again); what is new,
// and what was recorded under an older root, is checked in full.
func TestWarmStartChecksOnce(t *testing.T) {
	repo := simulator.New(t, simulator.Options{})
	metaURL, _ := repo.Serve()
	dir := t.TempDir()
	embedded := repo.TrustedRoot()
	refreshOnce(t, repo, embedded, metaURL, dir)

	roots, timestamps, snapshots := countChecks(t)
	for _, step := range []struct {
		what                        string
		publish                     func()
		roots, timestamps, snapshot int
	}{
		{"nothing new", func() {}, 0, 0, 0},
		{"new timestamp and snapshot (the cached ones are not checked)", func() {
			repo.AddTarget("a", []byte("a"), nil)
			repo.Publish()
		}, 0, 1, 1},
		{"new root (the timestamp, the same bytes, is checked under it)", repo.PublishRoot, 1, 1, 0},
		// The embedded root is checked now: its bytes are no longer those
		// recorded. The timestamp and snapshot recorded under the older root
		// are checked with the current one's keys at each start, until the
		// repository publishes new ones.
		{"cached root newer than the embedded one", func() {}, 1, 1, 1},
		{"new timestamp and snapshot after the rotation", func() {
			repo.AddTarget("b", []byte("b"), nil)
			repo.Publish()
		}, 1, 2, 2},
		{"nothing new after the rotation", func() {}, 1, 0, 0},
	} {
		step.publish()
		*roots, *timestamps, *snapshots = 0, 0, 0
		refreshOnce(t, repo, embedded, metaURL, dir)
		if *roots != step.roots || *timestamps != step.timestamps || *snapshots != step.snapshot {
			t.Errorf("warm start, %s: %d root, %d timestamp and %d snapshot signature checks, want %d, %d and %d",
				step.what, *roots, *timestamps, *snapshots, step.roots, step.timestamps, step.snapshot)
		}
	}
}

// TestEmbeddedRootCheckedUnlessRecorded: an embedded root is taken without
// a signature check only when its bytes are the root the trusted state
// records. A root whose signature is broken is refused, with nothing
// written, when a state directory caches it without a record, beside
// another record, or under a record it doesn't match; by New and Offline.
func TestEmbeddedRootCheckedUnlessRecorded(t *testing.T) {
	repo := simulator.New(t, simulator.Options{})
	metaURL, _ := repo.Serve()
	good := repo.TrustedRoot()
	bad := bytes.Clone(good)
	i := bytes.Index(bad, []byte(`"sig":"`)) + len(`"sig":"`)
	bad[i] ^= 1 // '0'..'9' and 'a'..'f' stay hex
	if bytes.Equal(bad, good) || i < len(`"sig":"`) {
		t.Fatal("no signature to break")
	}
	filled := func(t *testing.T) string {
		dir := t.TempDir()
		refreshOnce(t, repo, good, metaURL, dir)
		return dir
	}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T) string
	}{
		{"cached without a record", func(t *testing.T) string {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "root.json"), bad, 0o644); err != nil {
				t.Fatal(err)
			}
			return dir
		}},
		{"beside the record of another root", filled},
		{"cached in place of the recorded root", func(t *testing.T) string {
			dir := filled(t)
			if err := os.WriteFile(filepath.Join(dir, "root.json"), bad, 0o644); err != nil {
				t.Fatal(err)
			}
			return dir
		}},
		{"cached in place of a lost trusted state", func(t *testing.T) string {
			dir := filled(t)
			if err := os.Remove(filepath.Join(dir, "state", "trusted-state")); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "root.json"), bad, 0o644); err != nil {
				t.Fatal(err)
			}
			return dir
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.setup(t)
			before := testdir.Files(t, dir)
			cfg := Config{TrustedRoot: bad, MetadataURLs: []string{metaURL}, StateDir: dir}
			var merr *metadata.Error
			if c, err := New(cfg, WithClock(repo.Now)); !errors.As(err, &merr) || merr.Role != metadata.RoleRoot {
				if c != nil {
					c.Close()
				}
				t.Errorf("New: %v, want the embedded root's signature error", err)
			}
			if _, err := Offline(cfg, WithClock(repo.Now)); !errors.As(err, &merr) || merr.Role != metadata.RoleRoot {
				t.Errorf("Offline: %v, want the embedded root's signature error", err)
			}
			testdir.Same(t, before, testdir.Files(t, dir))
			// The failed New released the state directory.
			c, err := New(Config{TrustedRoot: good, MetadataURLs: []string{metaURL}, StateDir: dir}, WithClock(repo.Now))
			if err != nil {
				t.Fatalf("New after the refused one: %v", err)
			}
			c.Close()
		})
	}
}
