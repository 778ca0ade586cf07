package client

import (
	"testing"

	"github.com/latchsec/latch/internal/simulator"
	"github.com/latchsec/latch/metadata"
)

// countChecks counts, until the test ends, the signature checks of roots
// and timestamps made through openRoot and openTimestamp.
func countChecks(t *testing.T) (roots, timestamps *int) {
	roots, timestamps = new(int), new(int)
	prevRoot, prevTimestamp := openRoot, openTimestamp
	openRoot = func(b []byte, trusted *metadata.Root) (*metadata.Root, error) {
		*roots++
		return prevRoot(b, trusted)
	}
	openTimestamp = func(b []byte, root *metadata.Root) (*metadata.Timestamp, error) {
		*timestamps++
		return prevTimestamp(b, root)
	}
	t.Cleanup(func() { openRoot, openTimestamp = prevRoot, prevTimestamp })
	return roots, timestamps
}

// TestWarmStartChecksOnce: a new process on a filled state directory,
// whose embedded root is the cached one, refreshing while the repository
// publishes nothing new, checks the root's signatures once (not once as
// embedded and again as cached) and the timestamp's once (not again when
// the server sends the same bytes); a new timestamp, or a new root, is
// checked in full.
func TestWarmStartChecksOnce(t *testing.T) {
	repo := simulator.New(t, simulator.Options{})
	metaURL, _ := repo.Serve()
	dir := t.TempDir()
	start := func(root []byte) {
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
	embedded := repo.TrustedRoot()
	start(embedded)

	roots, timestamps := countChecks(t)
	start(embedded)
	if *roots != 1 || *timestamps != 1 {
		t.Errorf("warm start, nothing new: %d root and %d timestamp signature checks, want 1 and 1", *roots, *timestamps)
	}

	// A new timestamp is checked; so is the cached one it replaces.
	repo.AddTarget("a", []byte("a"), nil)
	repo.Publish()
	*roots, *timestamps = 0, 0
	start(embedded)
	if *roots != 1 || *timestamps != 2 {
		t.Errorf("warm start, new timestamp: %d root and %d timestamp signature checks, want 1 and 2", *roots, *timestamps)
	}

	// A new root is checked, and the timestamp, the same bytes, again
	// under it.
	repo.PublishRoot()
	*roots, *timestamps = 0, 0
	start(embedded)
	if *roots != 2 || *timestamps != 2 {
		t.Errorf("warm start, new root: %d root and %d timestamp signature checks, want 2 and 2", *roots, *timestamps)
	}

	// The cached root, no longer the embedded one, is checked.
	*roots, *timestamps = 0, 0
	start(embedded)
	if *roots != 2 || *timestamps != 1 {
		t.Errorf("warm start, cached root newer than the embedded one: %d root and %d timestamp signature checks, want 2 and 1", *roots, *timestamps)
	}
}
