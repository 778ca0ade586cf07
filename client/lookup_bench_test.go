package client_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"

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
	c := refreshedBench(b, repo)
	ctx := context.Background()
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

// BenchmarkLookup100k compares latch's lookups with go-tuf v2's updater in
// the same run, as the benchmark program does (internal/bench): 100,000
// targets listed in the top-level targets, or spread over 256 succinct bins
// (TAP 15). Each iteration looks up the next of 1,000 paths spread over the
// repository (for bins: those in the bin fetched before timing), so lookups
// stay in memory. The first pass over the paths is timed too: nothing is
// looked up before the timer starts but the first path.
func BenchmarkLookup100k(b *testing.B) {
	const n = 100_000
	for _, layout := range []string{"flat", "bins"} {
		repo := simulator.New(b, simulator.Options{ConsistentSnapshot: true})
		if layout == "bins" {
			repo.DelegateSuccinct("targets", 8, "bins")
		}
		paths := make([]string, 0, n)
		for i := range n {
			p := fmt.Sprintf("pkgs/%06d/pkg-%06d.tar.gz", i, i)
			paths = append(paths, p)
			role := simulator.RoleTargets
			if layout == "bins" {
				role = repo.SuccinctBin("targets", p)
			}
			repo.AddDelegatedTarget(role, p, fmt.Appendf(nil, "content %d", i), nil)
		}
		repo.Publish()
		var lookups []string
		if layout == "bins" {
			bin := repo.SuccinctBin("targets", paths[0])
			for _, p := range paths {
				if repo.SuccinctBin("targets", p) == bin {
					lookups = append(lookups, p)
				}
			}
		} else {
			for i := 0; i < n; i += n / 1000 {
				lookups = append(lookups, paths[i])
			}
		}
		ctx := context.Background()
		b.Run("latch/"+layout, func(b *testing.B) {
			c := refreshedBench(b, repo)
			if _, err := c.Target(ctx, lookups[0]); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := c.Target(ctx, lookups[i%len(lookups)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run("go-tuf/"+layout, func(b *testing.B) {
			metaURL, targetsURL := repo.Serve()
			cfg, err := config.New(metaURL, repo.TrustedRoot())
			if err != nil {
				b.Fatal(err)
			}
			dir := b.TempDir()
			cfg.RemoteTargetsURL = targetsURL
			cfg.LocalMetadataDir = filepath.Join(dir, "metadata")
			cfg.LocalTargetsDir = filepath.Join(dir, "targets")
			cfg.TargetsMaxLength = 64 << 20
			up, err := updater.New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			up.UnsafeSetRefTime(repo.Now())
			if err := up.Refresh(); err != nil {
				b.Fatal(err)
			}
			if _, err := up.GetTargetInfo(lookups[0]); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := up.GetTargetInfo(lookups[i%len(lookups)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// refreshedBench returns a client refreshed from repo, closed with b.
func refreshedBench(b *testing.B, repo *simulator.Repo) *client.Client {
	b.Helper()
	metaURL, targetsURL := repo.Serve()
	c, err := client.New(client.Config{
		TrustedRoot:  repo.TrustedRoot(),
		MetadataURLs: []string{metaURL},
		TargetURLs:   []string{targetsURL},
		StateDir:     b.TempDir(),
	}, client.WithClock(repo.Now), client.WithLimits(client.Limits{Targets: 64 << 20}))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	if err := c.Refresh(context.Background()); err != nil {
		b.Fatal(err)
	}
	return c
}
