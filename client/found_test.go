package client_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"

	"github.com/latchsec/latch/internal/simulator"
)

// Lookups remember what they found, in a table that grows as more targets
// are looked up, filled by concurrent lookups: whatever a lookup returns,
// first or repeated, while the table grows or not, is the target of the
// path asked for (go test -race checks the hand-over).
func TestRepeatedLookupsConcurrent(t *testing.T) {
	t.Parallel()
	const n = 3000 // more than the table first holds
	_, e := warmRepo(t, simulator.Options{}, n)
	e.open()
	e.refresh()
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for round := range 2 {
				for i := range n {
					i := (i*7 + g*977 + round) % n
					p := fmt.Sprintf("pkg/%06d", i)
					tg, err := e.c.Target(ctx, p)
					if err != nil {
						t.Errorf("Target(%q): %v", p, err)
						return
					}
					want := sha256.Sum256(fmt.Appendf(nil, "content %d", i))
					if tg.Path() != p || !bytes.Equal(tg.Hashes()["sha256"], want[:]) {
						t.Errorf("Target(%q) returned %q, sha256 %x", p, tg.Path(), tg.Hashes()["sha256"])
						return
					}
				}
			}
		})
	}
	wg.Wait()
}
