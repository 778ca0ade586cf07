package client_test

import (
	"fmt"
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
