package client_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/internal/simulator"
)

// A walk keeps the names of the roles it visited in a list while they are
// few, then in a map: a cycle that closes after more roles than the list
// holds still ends (§5.6.7.1), each role fetched once, and the cap counts
// every role visited.
func TestWalkManyRolesCycle(t *testing.T) {
	t.Parallel()
	all := simulator.DelegationOpts{Paths: []string{"*"}}
	repo := simulator.New(t, simulator.Options{})
	const n = 12
	repo.Delegate("targets", "r1", all)
	var want []string
	for i := 1; i < n; i++ {
		repo.Delegate(fmt.Sprintf("r%d", i), fmt.Sprintf("r%d", i+1), all)
		want = append(want, fmt.Sprintf("r%d.json", i))
	}
	want = append(want, fmt.Sprintf("r%d.json", n))
	for i := 1; i <= n; i += 3 { // back to roles visited, early and late
		repo.Delegate(fmt.Sprintf("r%d", n), fmt.Sprintf("r%d", i), all)
	}
	repo.AddDelegatedTarget(fmt.Sprintf("r%d", n), "deep", []byte("deep"), nil)
	repo.Publish()
	e := refreshed(t, repo, client.WithMaxDelegations(100))
	err := e.targetErr("missing")
	if ute := wantAs[*client.UnknownTargetError](t, err); ute.Visited != n+1 {
		t.Errorf("%d roles visited, want %d", ute.Visited, n+1)
	}
	wantRequests(t, repo, want...)
	e.wantRole("deep", fmt.Sprintf("r%d", n))
	e = refreshed(t, repo, client.WithMaxDelegations(n))
	wantIs(t, e.targetErr("deep"), client.ErrDelegationLimit)
}

// The chain of a target is the path to the role that listed it, whatever
// the walk visited before: pre-order, a role searched after a deeper
// subtree of its sibling has the chain of its own delegator.
func TestWalkChainAfterSubtree(t *testing.T) {
	t.Parallel()
	all := simulator.DelegationOpts{Paths: []string{"*"}}
	repo := simulator.New(t, simulator.Options{})
	repo.Delegate("targets", "a", all)
	repo.Delegate("targets", "b", all)
	repo.Delegate("a", "a1", all)
	repo.Delegate("a1", "a2", all)
	repo.Delegate("b", "b1", all)
	repo.AddDelegatedTarget("a2", "deep", []byte("deep"), nil)
	repo.AddDelegatedTarget("b1", "f", []byte("f"), nil)
	repo.Publish()
	e := refreshed(t, repo)
	for _, c := range []struct {
		path  string
		chain []string
	}{
		{"f", []string{"targets", "b", "b1"}},
		{"deep", []string{"targets", "a", "a1", "a2"}},
	} {
		var got []string
		for _, r := range e.target(c.path).Chain() {
			got = append(got, r.Role)
		}
		if !slices.Equal(got, c.chain) {
			t.Errorf("%s: chain %q, want %q", c.path, got, c.chain)
		}
	}
}

// A lookup that reaches a succinct bin (TAP 15) knows its name first and
// makes its keys only to load it: the keys it verifies the bin with are
// still those the delegator assigns to the bins, fetched or cached.
func TestSuccinctBinVerifiedWithBinKeys(t *testing.T) {
	t.Parallel()
	const path = "app/1.0/app.bin"
	repo := simulator.New(t, simulator.Options{})
	repo.DelegateSuccinct("targets", 4, "bin")
	bin := repo.SuccinctBin("targets", path)
	repo.AddDelegatedTarget(bin, path, appV1, nil)
	repo.Sign(bin) // by no key
	repo.Publish()
	e := refreshed(t, repo)
	wantIs(t, e.targetErr(path), client.ErrThreshold)
	if _, err := os.Stat(filepath.Join(e.cfg.StateDir, "state", bin+".json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused bin is cached (%v)", err)
	}

	// Signed with the bins' key: found, then from memory, then from the
	// cache in a new process (no request).
	other := ""
	for i := 0; other == ""; i++ {
		if p := fmt.Sprintf("app/%d/app.bin", i); p != path && repo.SuccinctBin("targets", p) == bin {
			other = p
		}
	}
	repo.AddDelegatedTarget(bin, other, []byte("v2"), nil)
	repo.Publish()
	e.refresh()
	e.wantRole(path, bin)
	e.wantRole(other, bin)
	e.open()
	e.refresh()
	repo.ResetRequests()
	e.wantRole(other, bin)
	wantRequests(t, repo)
}
