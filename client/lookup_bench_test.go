package client_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
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
// the same run, as the benchmark program does (internal/bench), on 100,000
// targets listed in the top-level targets ("flat") or spread over 256
// succinct bins (TAP 15, "bins"). Both clients look up the same names in
// the same order, drawn at random without repeats with a fixed seed: for
// flat, 10,000 of the 100,000; for bins, those of one bin, fetched by an
// untimed lookup of another of its names. ns/op is per lookup.
//
//   - first: each lookup is the first of its name on a client that has just
//     started (latch: New and Refresh on a state directory a refresh filled,
//     the targets reopened from the cache, each lookup reading and checking
//     the chunks it needs; go-tuf: a refreshed Updater) and looked up one
//     name; a new client starts, untimed, once every name was looked up.
//   - repeat: the same names again, on one client that looked each up
//     before the timer started.
//
// Run with -benchtime=10000x for one flat client per run of "first".
//
// The repository is served from its bytes, and one client lives at a time:
// every garbage collection scans what is alive, and the simulator's and
// go-tuf's decoded metadata take hundreds of MiB.
func BenchmarkLookup100k(b *testing.B) {
	const n, flatNames = 100_000, 10_000
	ctx := context.Background()
	for _, layout := range []string{"flat", "bins"} {
		var names []string
		srv := servedRepo(b, func(repo *simulator.Repo) {
			if layout == "bins" {
				repo.DelegateSuccinct("targets", 8, "bins")
			}
			for i := range n {
				p := fmt.Sprintf("pkgs/%06d/pkg-%06d.tar.gz", i, i)
				role := simulator.RoleTargets
				if layout == "bins" {
					role = repo.SuccinctBin("targets", p)
				}
				if layout == "flat" || role == repo.SuccinctBin("targets", "pkgs/000000/pkg-000000.tar.gz") {
					names = append(names, p)
				}
				repo.AddDelegatedTarget(role, p, fmt.Appendf(nil, "content %d", i), nil)
			}
		})
		rand.New(rand.NewChaCha8([32]byte{})).Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
		// names[0] is looked up before timing: for bins, it fetches the bin.
		pre, names := names[0], names[1:]
		if layout == "flat" {
			names = names[:flatNames]
		}
		dir := b.TempDir()
		latch := func(b *testing.B) (func(string) error, func()) {
			c := openBench(b, srv, dir)
			if err := c.Refresh(ctx); err != nil {
				b.Fatal(err)
			}
			lookup := func(p string) error { _, err := c.Target(ctx, p); return err }
			if err := lookup(pre); err != nil {
				b.Fatal(err)
			}
			return lookup, func() { c.Close() }
		}
		goTUF := func(b *testing.B) (func(string) error, func()) {
			up := goTUFRefreshed(b, srv)
			lookup := func(p string) error { _, err := up.GetTargetInfo(p); return err }
			if err := lookup(pre); err != nil {
				b.Fatal(err)
			}
			return lookup, func() {}
		}
		_, done := latch(b) // fills dir
		done()
		for _, cl := range []struct {
			name  string
			start func(*testing.B) (func(string) error, func())
		}{{"latch", latch}, {"go-tuf", goTUF}} {
			b.Run(cl.name+"/"+layout+"/first", func(b *testing.B) {
				benchLookups(b, cl.start, names, false)
			})
			b.Run(cl.name+"/"+layout+"/repeat", func(b *testing.B) {
				benchLookups(b, cl.start, names, true)
			})
			runtime.GC()
		}
		srv.Close()
	}
}

// benchLookups times lookups of names in turn on clients that start
// returns, untimed. With repeat, one client looks every name up once before
// the timer starts, and lookups cycle over them; else a new client starts
// whenever every name was looked up, so that each lookup timed is the first
// of its name on its client.
func benchLookups(b *testing.B, start func(*testing.B) (func(string) error, func()), names []string, repeat bool) {
	lookup, done := start(b)
	if repeat {
		for _, p := range names {
			if err := lookup(p); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportAllocs()
	// CPU time, as the wall time swings with other work on the machine;
	// without the untimed starts.
	var cpu time.Duration
	b.ResetTimer()
	t0 := cpuTime()
	for i := range b.N {
		if i%len(names) == 0 && i > 0 && !repeat {
			b.StopTimer()
			cpu += cpuTime() - t0
			done()
			lookup, done = start(b)
			t0 = cpuTime()
			b.StartTimer()
		}
		if err := lookup(names[i%len(names)]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if cpu += cpuTime() - t0; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
	done()
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
