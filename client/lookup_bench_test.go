package client_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

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

// BenchmarkLookup100k compares latch's lookups with go-tuf v2's updater in
// the same run, as the benchmark program does (internal/bench): 100,000
// targets listed in the top-level targets, or spread over 256 succinct bins
// (TAP 15). Each iteration looks up the next of 1,000 paths spread over the
// repository (for bins: those in the bin fetched before timing), so lookups
// stay in memory. The first pass over the paths is timed too: nothing is
// looked up before the timer starts but the first path. The "distinct"
// runs look up every path of the flat repository in turn, so that nearly
// every lookup is one the client has not answered before.
//
// The repository is served from its bytes, and one client lives at a time:
// every garbage collection scans what is alive, and the simulator's and
// go-tuf's decoded metadata take hundreds of MiB.
func BenchmarkLookup100k(b *testing.B) {
	const n = 100_000
	for _, layout := range []string{"flat", "bins"} {
		var paths []string
		srv := servedRepo(b, func(repo *simulator.Repo) {
			if layout == "bins" {
				repo.DelegateSuccinct("targets", 8, "bins")
			}
			for i := range n {
				p := fmt.Sprintf("pkgs/%06d/pkg-%06d.tar.gz", i, i)
				role := simulator.RoleTargets
				if layout == "bins" {
					role = repo.SuccinctBin("targets", p)
					if role != repo.SuccinctBin("targets", "pkgs/000000/pkg-000000.tar.gz") {
						p = ""
					}
				}
				if p != "" {
					paths = append(paths, p)
				}
				repo.AddDelegatedTarget(role, fmt.Sprintf("pkgs/%06d/pkg-%06d.tar.gz", i, i), fmt.Appendf(nil, "content %d", i), nil)
			}
		})
		lookups := map[string][]string{layout: paths}
		if layout == "flat" {
			var spread []string
			for i := 0; i < n; i += n / 1000 {
				spread = append(spread, paths[i])
			}
			lookups = map[string][]string{"flat": spread, "flat-distinct": paths}
		}
		var names []string
		for name := range lookups {
			names = append(names, name)
		}
		slices.Sort(names)
		ctx := context.Background()
		dir := b.TempDir()
		c := openBench(b, srv, dir)
		if err := c.Refresh(ctx); err != nil {
			b.Fatal(err)
		}
		for _, name := range names {
			b.Run("latch/"+name, func(b *testing.B) {
				paths := lookups[name]
				if _, err := c.Target(ctx, paths[0]); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				defer reportCPU(b)()
				i := 0
				for b.Loop() {
					if _, err := c.Target(ctx, paths[i%len(paths)]); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
		c.Close()
		if layout == "flat" {
			b.Run("latch/flat-new-process", func(b *testing.B) {
				benchFirstLookups(b, srv, dir, lookups["flat"])
			})
		}
		runtime.GC()
		up := goTUFRefreshed(b, srv)
		for _, name := range names {
			b.Run("go-tuf/"+name, func(b *testing.B) {
				paths := lookups[name]
				if _, err := up.GetTargetInfo(paths[0]); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				defer reportCPU(b)()
				i := 0
				for b.Loop() {
					if _, err := up.GetTargetInfo(paths[i%len(paths)]); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
		srv.Close()
	}
}

// staticRepo serves the metadata of a simulated repository from its bytes.
type staticRepo struct {
	*httptest.Server
	root    []byte
	now     time.Time
	targets string // the name targets.json is served under
}

// servedRepo builds a repository with consistent snapshots, lets build
// add to it, publishes it and serves every metadata file a client may ask
// for from a copy of its bytes; the simulator itself is gone by then.
func servedRepo(b *testing.B, build func(*simulator.Repo)) *staticRepo {
	return servedRepoOpts(b, simulator.Options{ConsistentSnapshot: true}, build)
}

// servedRepoOpts is servedRepo with options; they must ask for consistent
// snapshots.
func servedRepoOpts(b *testing.B, opts simulator.Options, build func(*simulator.Repo)) *staticRepo {
	b.Helper()
	tb := &scopedTB{TB: b}
	defer tb.done()
	repo := simulator.New(tb, opts)
	build(repo)
	repo.Publish()
	files := map[string][]byte{"timestamp.json": repo.Bytes("timestamp.json")}
	for _, role := range []string{simulator.RoleRoot, simulator.RoleSnapshot, simulator.RoleTargets} {
		name := fmt.Sprintf("%d.%s.json", repo.Version(role), role)
		files[name] = repo.Bytes(name)
	}
	if d := repo.Targets(simulator.RoleTargets).Signed.Delegations; d != nil && d.SuccinctRoles != nil {
		for _, bin := range d.SuccinctRoles.GetRoles() {
			name := fmt.Sprintf("%d.%s.json", repo.Version(bin), bin)
			files[name] = repo.Bytes(name)
		}
	}
	s := &staticRepo{root: repo.TrustedRoot(), now: repo.Now(), targets: fmt.Sprintf("%d.targets.json", repo.Version(simulator.RoleTargets))}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/metadata/")
		data, ok := files[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(data))
	}))
	return s
}

// scopedTB is a testing.TB whose cleanups run when done is called, so that
// a simulator can be dropped before the benchmark ends.
type scopedTB struct {
	testing.TB
	cleanups []func()
}

func (s *scopedTB) Cleanup(f func()) { s.cleanups = append(s.cleanups, f) }

func (s *scopedTB) done() {
	for i := len(s.cleanups) - 1; i >= 0; i-- {
		s.cleanups[i]()
	}
}

// goTUFRefreshed returns a go-tuf v2 updater refreshed from srv.
func goTUFRefreshed(b *testing.B, srv *staticRepo) *updater.Updater {
	b.Helper()
	cfg, err := config.New(srv.URL+"/metadata/", srv.root)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	cfg.RemoteTargetsURL = srv.URL + "/targets/"
	cfg.LocalMetadataDir = filepath.Join(dir, "metadata")
	cfg.LocalTargetsDir = filepath.Join(dir, "targets")
	cfg.TargetsMaxLength = 64 << 20
	up, err := updater.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	up.UnsafeSetRefTime(srv.now)
	if err := up.Refresh(); err != nil {
		b.Fatal(err)
	}
	return up
}

// benchFirstLookups times the first lookups of each path in a client that
// starts on the state directory dir, as in a new process: its targets are
// reopened from the cache, and each lookup reads and checks the chunks it
// needs. New and Refresh are not timed; ns/op is per lookup.
func benchFirstLookups(b *testing.B, srv *staticRepo, dir string, paths []string) {
	ctx := context.Background()
	b.ReportAllocs()
	defer reportCPU(b)()
	for i := 0; i < b.N; {
		b.StopTimer()
		c := openBench(b, srv, dir)
		if err := c.Refresh(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for _, p := range paths {
			if i == b.N {
				break
			}
			if _, err := c.Target(ctx, p); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.StopTimer()
		c.Close()
		b.StartTimer()
	}
}

// openBench returns a client of srv on the state directory dir.
func openBench(b *testing.B, srv *staticRepo, dir string) *client.Client {
	b.Helper()
	c, err := client.New(client.Config{
		TrustedRoot:  srv.root,
		MetadataURLs: []string{srv.URL + "/metadata/"},
		TargetURLs:   []string{srv.URL + "/targets/"},
		StateDir:     dir,
	}, client.WithClock(func() time.Time { return srv.now }), client.WithLimits(client.Limits{Targets: 64 << 20}))
	if err != nil {
		b.Fatal(err)
	}
	return c
}
