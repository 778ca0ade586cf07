package client_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/internal/simulator"
)

// A repository whose targets version was fast-forwarded recovers by rotating
// the snapshot key (spec §5.3.11): the new root discards the trusted
// timestamp, snapshot and the targets floor that came from them, so the
// lower targets version is accepted, and a role the new snapshot no longer
// lists leaves the cache.
func TestTargetsFastForwardRecovery(t *testing.T) {
	t.Parallel()
	repo := simulator.New(t, simulator.Options{ConsistentSnapshot: true})
	repo.Delegate("targets", "delegated", simulator.DelegationOpts{Paths: []string{"delegated/*"}})
	repo.AddDelegatedTarget("delegated", "delegated/a", []byte("a"), nil)
	repo.Publish()
	for range 20 {
		repo.Targets("targets").Signed.Version++
		repo.Publish()
	}
	e := refreshed(t, repo)
	e.target("delegated/a") // caches the delegated role
	fastForwarded := repo.Version("targets")
	if fastForwarded < 20 {
		t.Fatalf("targets v%d, want a fast-forwarded version", fastForwarded)
	}

	repo.AddKey("snapshot")
	repo.RemoveKey("snapshot", 0)
	repo.Targets("targets").Signed.Version = 1
	repo.Targets("targets").Signed.Delegations = nil
	delete(repo.Snapshot().Signed.Meta, "delegated.json")
	repo.Publish()
	if v := repo.Version("targets"); v != 1 {
		t.Fatalf("repository targets v%d after recovery, want v1", v)
	}

	e.refresh()
	got := versions(e.c.View())
	if got["targets"] != 1 {
		t.Errorf("trusted targets v%d after recovery, want v1", got["targets"])
	}
	if got := e.state().FastForwardRoot; got != repo.Version("root") {
		t.Errorf("FastForwardRoot = %d, want root v%d", got, repo.Version("root"))
	}
	if _, err := os.Stat(filepath.Join(e.cfg.StateDir, "delegated.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("delegated.json still cached after recovery: %v", err)
	}
	// A new process starts from the recovered state.
	e.open()
	e.refresh()
	if got := versions(e.c.View()); got["targets"] != 1 {
		t.Errorf("after restart: targets v%d, want v1", got["targets"])
	}
}

// Without a key rotation, the same lowered targets version is a rollback.
func TestTargetsRollbackWithoutRecovery(t *testing.T) {
	t.Parallel()
	repo := simulator.New(t, simulator.Options{})
	repo.Targets("targets").Signed.Version = 5
	repo.Publish()
	e := refreshed(t, repo)
	before := e.disk()

	repo.Targets("targets").Signed.Version = 2
	repo.Publish()
	err := e.refreshErr()
	wantIs(t, err, client.ErrRollback)
	e.sameDisk(before, "targets.json")
}

// A delegated role the snapshot does not list is never fetched (spec
// §5.6.7.2 runs §5.6.1 first), and a later process asks the repository for
// nothing but the root probe and the timestamp when nothing changed.
func TestDelegationNotInSnapshot(t *testing.T) {
	t.Parallel()
	repo := simulator.New(t, simulator.Options{ConsistentSnapshot: true})
	repo.Delegate("targets", "delegated", simulator.DelegationOpts{Paths: []string{"delegatedpath/*"}})
	repo.Publish()
	delete(repo.Snapshot().Signed.Meta, "delegated.json")
	repo.Publish()

	e := refreshed(t, repo)
	e.open() // a new process
	repo.ResetRequests()
	e.refresh()
	err := e.targetErr("delegatedpath/foo")
	wantIs(t, err, client.ErrNotListed)
	want := []string{itoa(repo.Version("root")+1) + ".root.json", "timestamp.json"}
	wantRequests(t, repo, want...)
	if _, err := os.Stat(filepath.Join(e.cfg.StateDir, "delegated.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("delegated.json cached: %v", err)
	}
}

// Unusual role names reach the right file on the repository (escaped as one
// path segment: TestRoleURLNameMatchesPythonQuote in package metadata checks
// the exact escaping; the simulator logs decoded names) and are cached under
// a reversible file name.
func TestUnusualRoleNames(t *testing.T) {
	t.Parallel()
	for _, role := range []string{"?", "#", "/delegatedrole", "../delegatedrole"} {
		t.Run(role, func(t *testing.T) {
			t.Parallel()
			repo := simulator.New(t, simulator.Options{ConsistentSnapshot: true})
			repo.Delegate("targets", role, simulator.DelegationOpts{Paths: []string{"*"}})
			repo.Publish()
			e := refreshed(t, repo)
			repo.ResetRequests()
			wantIs(t, e.targetErr("nonexistent"), client.ErrUnknownTarget)
			name := itoa(repo.Version(role)) + "." + role + ".json"
			if got := repo.Requests(); !slices.Contains(got, name) {
				t.Errorf("requests = %q, want %q among them", got, name)
			}
			entries, err := os.ReadDir(e.cfg.StateDir)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, de := range entries {
				if filepath.Ext(de.Name()) == ".json" {
					n++
				}
			}
			if n != 5 {
				t.Errorf("%d cached .json files, want 5 (4 top-level roles and %q)", n, role)
			}
		})
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
