package client_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/internal/simulator"
	"github.com/latchsec/latch/verify"
)

// TestDelegations covers the pre-order depth-first search of spec §5.6.7.
func TestDelegations(t *testing.T) {
	t.Parallel()
	all := simulator.DelegationOpts{Paths: []string{"*"}}

	// Two roles list the same path: the first delegation wins, and the
	// search goes deep before it goes wide.
	t.Run("priority", func(t *testing.T) {
		t.Parallel()
		repo := simulator.New(t, simulator.Options{})
		repo.Delegate("targets", "a", all)
		repo.Delegate("targets", "b", all)
		repo.Delegate("a", "a1", all)
		repo.AddDelegatedTarget("b", "f", []byte("from b"), nil)
		repo.AddDelegatedTarget("a1", "f", []byte("from a1"), nil)
		repo.AddDelegatedTarget("b", "g", []byte("only b"), nil)
		repo.Publish()
		e := refreshed(t, repo)
		tg := e.target("f")
		if tg.Role() != "a1" || hexOf(tg.Hashes()["sha256"]) != hexSHA256([]byte("from a1")) {
			t.Errorf("f from %s, want a1", tg.Role())
		}
		var chain []string
		for _, r := range tg.Chain() {
			chain = append(chain, r.Role)
		}
		if !slices.Equal(chain, []string{"targets", "a", "a1"}) {
			t.Errorf("chain %q", chain)
		}
		wantRequests(t, repo, "a.json", "a1.json")
		e.wantRole("g", "b")
	})

	// §5.6.7.2.1: a terminating delegation ends the search, even without
	// a result.
	t.Run("terminating", func(t *testing.T) {
		t.Parallel()
		repo := simulator.New(t, simulator.Options{})
		repo.Delegate("targets", "a", simulator.DelegationOpts{Paths: []string{"t/*"}, Terminating: true})
		repo.Delegate("targets", "b", all)
		repo.Delegate("targets", "c", simulator.DelegationOpts{Paths: []string{"t/*"}})
		repo.AddDelegatedTarget("b", "t/h", []byte("b"), nil)
		repo.AddDelegatedTarget("c", "t/h", []byte("c"), nil)
		repo.AddDelegatedTarget("b", "u", []byte("b"), nil)
		repo.Publish()
		e := refreshed(t, repo)
		wantIs(t, e.targetErr("t/h"), client.ErrUnknownTarget)
		wantRequests(t, repo, "a.json")
		e.wantRole("u", "b")
	})

	// Roles before a terminating one are still searched first.
	t.Run("terminating after a match", func(t *testing.T) {
		t.Parallel()
		repo := simulator.New(t, simulator.Options{})
		repo.Delegate("targets", "a", all)
		repo.Delegate("targets", "b", simulator.DelegationOpts{Paths: []string{"*"}, Terminating: true})
		repo.Delegate("targets", "c", all)
		repo.AddDelegatedTarget("b", "h", []byte("b"), nil)
		repo.AddDelegatedTarget("c", "h", []byte("c"), nil)
		repo.Publish()
		e := refreshed(t, repo)
		e.wantRole("h", "b")
		wantRequests(t, repo, "a.json", "b.json")
	})

	t.Run("paths and path_hash_prefixes", func(t *testing.T) {
		t.Parallel()
		sum := sha256.Sum256([]byte("x/y"))
		prefix := hex.EncodeToString(sum[:])[:3]
		repo := simulator.New(t, simulator.Options{})
		repo.Delegate("targets", "hashed", simulator.DelegationOpts{PathHashPrefixes: []string{"000", prefix}})
		repo.Delegate("targets", "globbed", simulator.DelegationOpts{Paths: []string{"plugins/*.so"}})
		repo.AddDelegatedTarget("hashed", "x/y", []byte("x"), nil)
		repo.AddDelegatedTarget("globbed", "plugins/p.so", []byte("p"), nil)
		// Listed by the role, but outside the paths it is trusted for.
		repo.AddDelegatedTarget("globbed", "plugins/sub/q.so", []byte("q"), nil)
		repo.Publish()
		e := refreshed(t, repo)
		e.wantRole("x/y", "hashed")
		e.wantRole("plugins/p.so", "globbed")
		repo.ResetRequests()
		wantIs(t, e.targetErr("plugins/sub/q.so"), client.ErrUnknownTarget)
		wantIs(t, e.targetErr("plugins/p.dll"), client.ErrUnknownTarget)
		if got := repo.Requests(); len(got) != 0 {
			t.Errorf("requests %q for paths no role is trusted for", got)
		}
	})

	// TAP 15: only the bin the path hashes to is fetched.
	t.Run("succinct bins", func(t *testing.T) {
		t.Parallel()
		for _, consistent := range []bool{false, true} {
			repo := simulator.New(t, simulator.Options{ConsistentSnapshot: consistent})
			repo.DelegateSuccinct("targets", 4, "bin")
			path := "app/1.0/app.bin"
			bin := repo.SuccinctBin("targets", path)
			repo.AddDelegatedTarget(bin, path, appV1, nil)
			repo.Publish()
			e := refreshed(t, repo)
			tg := e.target(path)
			if tg.Role() != bin {
				t.Errorf("target from %s, want %s", tg.Role(), bin)
			}
			want := bin + ".json"
			if consistent {
				want = "1." + want
			}
			wantRequests(t, repo, want)
		}
	})

	t.Run("delegation cap", func(t *testing.T) {
		t.Parallel()
		repo := simulator.New(t, simulator.Options{})
		repo.Delegate("targets", "r1", all)
		repo.Delegate("r1", "r2", all)
		repo.Delegate("r2", "r3", all)
		repo.AddDelegatedTarget("r3", "deep", []byte("deep"), nil)
		repo.Publish()
		// Four roles visited: targets, r1, r2, r3.
		e := refreshed(t, repo, client.WithMaxDelegations(4))
		e.wantRole("deep", "r3")
		e = refreshed(t, repo, client.WithMaxDelegations(3))
		wantIs(t, e.targetErr("deep"), client.ErrDelegationLimit)
		if _, err := os.Stat(filepath.Join(e.cfg.StateDir, "r3.json")); err == nil {
			t.Error("r3 fetched beyond the cap")
		}
	})

	// §5.6.7.1: a role visited before is skipped, so a cycle ends.
	t.Run("cycle", func(t *testing.T) {
		t.Parallel()
		repo := simulator.New(t, simulator.Options{})
		repo.Delegate("targets", "a", all)
		repo.Delegate("a", "b", all)
		repo.Delegate("b", "a", simulator.DelegationOpts{Paths: []string{"*"}})
		repo.Publish()
		e := refreshed(t, repo, client.WithMaxDelegations(100))
		wantIs(t, e.targetErr("missing"), client.ErrUnknownTarget)
		wantRequests(t, repo, "a.json", "b.json")
	})

	t.Run("expired delegated role", func(t *testing.T) {
		t.Parallel()
		repo := simulator.New(t, simulator.Options{})
		repo.Delegate("targets", "d", all)
		repo.AddDelegatedTarget("d", "f", []byte("f"), nil)
		repo.SetExpires("d", repo.Now())
		repo.Publish()
		e := refreshed(t, repo)
		before := e.disk()
		err := e.targetErr("f")
		if ee := wantAs[*client.ExpiredError](t, err); ee.Role != "d" || ee.Version != 1 {
			t.Errorf("ExpiredError %+v", ee)
		}
		wantAs[*client.TargetError](t, err)
		e.sameDisk(before)
	})

	// A cached delegated role that expired since is refused at lookup.
	t.Run("delegated role expires after caching", func(t *testing.T) {
		t.Parallel()
		repo := simulator.New(t, simulator.Options{})
		repo.Delegate("targets", "d", all)
		repo.AddDelegatedTarget("d", "f", []byte("f"), nil)
		repo.SetExpires("d", repo.Now().Add(time.Hour))
		repo.Publish()
		e := refreshed(t, repo)
		e.target("f")
		e.clock.Set(repo.Now().Add(2 * time.Hour))
		if ee := wantAs[*client.ExpiredError](t, e.targetErr("f")); ee.Role != "d" {
			t.Errorf("ExpiredError %+v", ee)
		}
	})

	t.Run("bad signature on delegated role", func(t *testing.T) {
		t.Parallel()
		repo := simulator.New(t, simulator.Options{})
		repo.Delegate("targets", "d", all)
		repo.AddDelegatedTarget("d", "f", []byte("f"), nil)
		repo.Publish()
		repo.SetFault("d.json", simulator.Fault{Mutate: badSig})
		e := refreshed(t, repo)
		before := e.disk()
		err := e.targetErr("f")
		if te := wantAs[*verify.ThresholdError](t, err); te.Role != "d" {
			t.Errorf("ThresholdError %+v", te)
		}
		e.sameDisk(before)
		repo.ClearFaults()
		e.wantRole("f", "d")
	})

	t.Run("delegated role not in snapshot", func(t *testing.T) {
		t.Parallel()
		repo := simulator.New(t, simulator.Options{})
		repo.Delegate("targets", "d", all)
		repo.AddDelegatedTarget("d", "f", []byte("f"), nil)
		repo.Publish()
		delete(repo.Snapshot().Signed.Meta, "d.json")
		repo.Publish()
		e := refreshed(t, repo)
		wantIs(t, e.targetErr("f"), client.ErrNotListed)
		if got := repo.Requests(); len(got) != 0 {
			t.Errorf("requests %q for a role snapshot does not list", got)
		}
	})

	t.Run("hash mismatch on delegated role", func(t *testing.T) {
		t.Parallel()
		repo := simulator.New(t, simulator.Options{SnapshotHashes: true})
		repo.Delegate("targets", "d", all)
		repo.AddDelegatedTarget("d", "f", []byte("f"), nil)
		repo.Publish()
		repo.SetFault("d.json", simulator.Fault{Mutate: simulator.FlipBit})
		e := refreshed(t, repo)
		wantIs(t, e.targetErr("f"), client.ErrHashMismatch)
		if _, err := os.Stat(filepath.Join(e.cfg.StateDir, "d.json")); err == nil {
			t.Error("d.json cached")
		}
	})
}

// TestDelegationKeysPerPath covers spec §5.6.7.2: a role reached through
// two delegators is verified with the keys of the delegator on the path
// taken. x is signed by its own key; a trusts that key for x, b trusts
// another one.
func TestDelegationKeysPerPath(t *testing.T) {
	t.Parallel()
	build := func(t *testing.T) *simulator.Repo {
		repo := simulator.New(t, simulator.Options{})
		repo.Delegate("targets", "a", simulator.DelegationOpts{Paths: []string{"a/*"}})
		repo.Delegate("targets", "b", simulator.DelegationOpts{Paths: []string{"b/*"}})
		repo.Delegate("a", "x", simulator.DelegationOpts{Paths: []string{"a/*"}})
		repo.Delegate("b", "x", simulator.DelegationOpts{Paths: []string{"b/*"}})
		repo.AddDelegatedTarget("x", "a/f", []byte("a/f"), nil)
		repo.AddDelegatedTarget("x", "b/f", []byte("b/f"), nil)
		other, err := metadata.KeyFromPublicKey(repo.Key("b", 0).Public().(ed25519.PublicKey))
		if err != nil {
			t.Fatal(err)
		}
		b := repo.Targets("b").Signed
		if err := b.AddKey(other, "x"); err != nil {
			t.Fatal(err)
		}
		if err := b.RevokeKey(repo.KeyID("x", 0), "x"); err != nil {
			t.Fatal(err)
		}
		repo.Publish()
		return repo
	}
	wantRefused := func(t *testing.T, e *env) {
		t.Helper()
		err := e.targetErr("b/f")
		te := wantAs[*verify.ThresholdError](t, err)
		if te.Role != "x" || te.Valid != 0 || !slices.Equal(te.Rejected, []string{e.repo.KeyID("x", 0)}) {
			t.Errorf("ThresholdError %+v, want x with key x/0 rejected", te)
		}
	}

	t.Run("reached through b first", func(t *testing.T) {
		t.Parallel()
		e := refreshed(t, build(t))
		wantRefused(t, e)
		if _, err := os.Stat(filepath.Join(e.cfg.StateDir, "x.json")); err == nil {
			t.Error("x.json cached after it was refused")
		}
		e.wantRole("a/f", "x")
	})

	// The copy verified through a, kept in memory and in the cache, must
	// not be taken for b.
	t.Run("verified through a first", func(t *testing.T) {
		t.Parallel()
		e := refreshed(t, build(t))
		e.wantRole("a/f", "x")
		cached, err := os.ReadFile(filepath.Join(e.cfg.StateDir, "x.json"))
		if err != nil || !bytes.Equal(cached, e.repo.Bytes("x.json")) {
			t.Fatalf("x.json not cached after the lookup through a: %v", err)
		}
		before := e.disk()
		wantRefused(t, e) // from memory
		e.sameDisk(before, "x.json")
		e.open() // from the cache
		e.refresh()
		wantRefused(t, e)
		e.sameDisk(before, "x.json")
	})
}

// TestWithheldRoleIsNotUnknownTarget: "no trusted role lists this target"
// (ErrUnknownTarget) and "a mirror has no such file" (ErrNotFound) are two
// answers. A mirror that withholds a delegated role must not make a lookup,
// a release resolution or an update look like "no update": an app that
// treats ErrUnknownTarget or ErrNoRelease as fine would accept a freeze.
func TestWithheldRoleIsNotUnknownTarget(t *testing.T) {
	t.Parallel()
	repo := simulator.New(t, simulator.Options{})
	repo.Delegate("targets", "apps", simulator.DelegationOpts{Paths: []string{"app/*/*"}})
	listed := "app/2.0.0/" + buildPlat
	repo.AddDelegatedTarget("apps", listed, buildV2, map[string]any{"version": "2.0.0", "channels": []string{"stable"}})
	repo.Publish()
	e := newAppEnv(t, repo)
	e.refresh()

	// Listed by no trusted role: the search is complete, and the answer
	// comes from signed metadata alone.
	err := e.targetErr("other/x")
	wantIs(t, err, client.ErrUnknownTarget)
	if ute := wantAs[*client.UnknownTargetError](t, err); ute.Path != "other/x" || ute.Visited != 1 {
		t.Errorf("UnknownTargetError %+v", ute)
	}
	wantIsNot(t, err, client.ErrNotFound)

	// The mirror withholds the delegated role that lists releases of app.
	repo.SetFault("apps.json", simulator.Fault{Status: 404})
	before := e.disk()
	for _, path := range []string{listed, "app/9.9.9/unlisted"} {
		err := e.targetErr(path)
		wantIs(t, err, client.ErrNotFound)
		wantAs[*client.MirrorError](t, err)
		wantIsNot(t, err, client.ErrUnknownTarget)
		var ute *client.UnknownTargetError
		if errors.As(err, &ute) {
			t.Errorf("Target(%q): %v is an *UnknownTargetError", path, err)
		}
	}
	_, err = e.c.Resolve(context.Background(), client.Release{App: "app"})
	wantIs(t, err, client.ErrNotFound)
	wantIsNot(t, err, client.ErrUnknownTarget, client.ErrNoRelease)
	err = e.applyErr()
	wantIs(t, err, client.ErrNotFound)
	wantIsNot(t, err, client.ErrUnknownTarget, client.ErrNoRelease)
	e.sameDisk(before)

	// Offline, a delegated role that was never cached is not an answer
	// either: what the view lacks is an online lookup.
	_, err = e.c.View().Target(listed)
	wantIs(t, err, client.ErrNotRefreshed)
	wantIsNot(t, err, client.ErrUnknownTarget)

	// Served again, the release is found.
	repo.ClearFaults()
	if res := e.mustApply(); !res.Updated || res.Release.Version != "2.0.0" {
		t.Errorf("Apply = %+v", res)
	}
}
