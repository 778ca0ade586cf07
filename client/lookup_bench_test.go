package client_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/internal/simulator"
)

// BenchmarkTarget looks a target up on a refreshed client: listed in the
// top-level targets (1,000 entries), or in a succinct bin (TAP 15) fetched
// by an earlier lookup.
func BenchmarkTarget(b *testing.B) {
	repo := simulator.New(b, simulator.Options{ConsistentSnapshot: true})
	for i := range 1000 {
		repo.AddTarget(fmt.Sprintf("app/%04d/app.bin", i), fmt.Appendf(nil, "app %d", i), nil)
	}
	repo.DelegateSuccinct("targets", 8, "bins")
	const delegated = "plugins/x/plugin.so"
	repo.AddDelegatedTarget(repo.SuccinctBin("targets", delegated), delegated, []byte("plugin"), nil)
	repo.Publish()
	metaURL, targetsURL := repo.Serve()
	c, err := client.New(client.Config{
		TrustedRoot:  repo.TrustedRoot(),
		MetadataURLs: []string{metaURL},
		TargetURLs:   []string{targetsURL},
		StateDir:     b.TempDir(),
	}, client.WithClock(repo.Now))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Refresh(ctx); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, path string }{{"flat", "app/0500/app.bin"}, {"succinct", delegated}} {
		b.Run(bc.name, func(b *testing.B) {
			if _, err := c.Target(ctx, bc.path); err != nil { // fetches the bin
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Target(ctx, bc.path); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
