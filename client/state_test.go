package client_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/internal/simulator"
	"github.com/latchsec/latch/rollback"
)

// releaseRepo is a repository with a top-level target and two delegated
// roles (versions: root 1, timestamp, snapshot and targets 2).
func releaseRepo(t *testing.T, opts simulator.Options) *simulator.Repo {
	repo := simulator.New(t, opts)
	repo.AddTarget("app/1.0/app.bin", appV1, nil)
	repo.Delegate("targets", "plugins", simulator.DelegationOpts{Paths: []string{"plugins/*"}})
	repo.AddDelegatedTarget("plugins", "plugins/x.so", pluginV1, nil)
	repo.Delegate("targets", "extras", simulator.DelegationOpts{Paths: []string{"extras/*"}})
	repo.AddDelegatedTarget("extras", "extras/y", []byte("y"), nil)
	repo.Publish()
	return repo
}

// TestRestart: a new client loads the verified cache without the network.
func TestRestart(t *testing.T) {
	t.Parallel()
	repo := releaseRepo(t, simulator.Options{})
	e := refreshed(t, repo)
	e.target("plugins/x.so")
	repo.Server().Close()

	c := e.open()
	v := c.View()
	if got := versions(v); !maps(got, top(1, 2, 2, 2)) {
		t.Errorf("versions after restart %v", got)
	}
	if v.Stale() {
		t.Errorf("view stale: %+v", v.Roles())
	}
	tg, err := v.Target("app/1.0/app.bin")
	if err != nil || tg.Role() != "targets" || tg.Length() != int64(len(appV1)) {
		t.Fatalf("View().Target: %v", err)
	}
	pl, err := v.Target("plugins/x.so")
	if err != nil || pl.Role() != "plugins" || pl.Chain()[1].Stale {
		t.Fatalf("View().Target(plugins/x.so): %v", err)
	}
	// extras was never fetched: the offline view does not have it.
	if _, err := v.Target("extras/y"); !errors.Is(err, client.ErrNotRefreshed) || errors.Is(err, client.ErrNotFound) {
		t.Errorf("View().Target(extras/y): %v, want ErrNotRefreshed", err)
	}
	// The online lookup needs a refresh in this process.
	wantIs(t, e.targetErr("app/1.0/app.bin"), client.ErrNotRefreshed)
	before := e.disk()
	wantAs[*client.MirrorError](t, e.refreshErr())
	e.sameDisk(before)
	if got := versions(c.View()); !maps(got, top(1, 2, 2, 2)) {
		t.Errorf("versions after a failed refresh %v", got)
	}
}

// maps reports whether a and b hold the same entries.
func maps(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || v != w {
			return false
		}
	}
	return true
}

// TestTamperedCache: a cache file that does not match its record is
// ignored and fetched again (docs/decisions.md, "The local disk").
//
// A cache file grown beyond its record (here, sparse, to a terabyte) is
// treated the same way without being read: reading it into memory would
// end the process.
func TestTamperedCache(t *testing.T) {
	t.Parallel()
	for _, role := range []string{"root", "timestamp", "snapshot", "targets", "plugins"} {
		for _, grown := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/grown=%v", role, grown), func(t *testing.T) {
				t.Parallel()
				testTamperedCache(t, role, grown)
			})
		}
	}
}

func testTamperedCache(t *testing.T, role string, grown bool) {
	repo := releaseRepo(t, simulator.Options{})
	repo.PublishRoot() // root v2, so that root.json comes from the repository
	e := refreshed(t, repo)
	e.target("plugins/x.so")
	e.c.Close()
	p := filepath.Join(e.cfg.StateDir, role+".json")
	good, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if grown {
		if err := os.Truncate(p, 1<<40); err != nil {
			t.Skipf("no sparse file of 1 TiB here: %v", err)
		}
		v, err := client.Offline(e.cfg, e.opts...)
		if err != nil {
			t.Fatalf("Offline: %v", err)
		}
		if _, ok := versions(v)[role]; ok && role != "root" {
			t.Errorf("Offline loaded the grown %s.json", role)
		}
	} else if err := os.WriteFile(p, simulator.FlipBit(good), 0o644); err != nil {
		t.Fatal(err)
	}
	e.open()
	loaded := versions(e.c.View())
	switch role {
	case "root": // back to the embedded root
		if loaded["root"] != 1 {
			t.Errorf("root v%d loaded, want v1", loaded["root"])
		}
	case "plugins":
		if _, err := e.c.View().Target("plugins/x.so"); !errors.Is(err, client.ErrNotRefreshed) {
			t.Errorf("View().Target from a tampered plugins.json: %v", err)
		}
	default:
		if loaded[role] != 0 {
			t.Errorf("tampered %s.json loaded", role)
		}
	}
	e.refresh()
	e.target("plugins/x.so")
	if b, _ := os.ReadFile(p); string(b) != string(good) {
		t.Errorf("%s.json not fetched again", role)
	}
	e.wantVersions(top(2, 2, 2, 2))
}

// TestDeletedCache: the trusted state, not the cache, holds the floors.
func TestDeletedCache(t *testing.T) {
	t.Parallel()
	removeCache := func(t *testing.T, e *env) {
		t.Helper()
		e.c.Close()
		names, _ := filepath.Glob(filepath.Join(e.cfg.StateDir, "*.json"))
		if len(names) == 0 {
			t.Fatal("no cache files")
		}
		for _, n := range names {
			if err := os.Remove(n); err != nil {
				t.Fatal(err)
			}
		}
		e.open()
	}

	t.Run("timestamp", func(t *testing.T) {
		t.Parallel()
		repo := simulator.New(t, simulator.Options{})
		publishTimestamps(repo, 2) // v3
		e := refreshed(t, repo)
		removeCache(t, e)
		repo.SetFault("timestamp.json", simulator.Fault{OldVersion: 2})
		err := e.refreshErr()
		if re := wantAs[*rollback.RollbackError](t, err); re.Role != "timestamp" || re.Got != "v2" || re.Trusted != "v3" {
			t.Errorf("RollbackError %+v", re)
		}
		repo.ClearFaults()
		e.refresh()
		e.wantVersions(top(1, 3, 1, 1))
	})

	t.Run("root", func(t *testing.T) {
		t.Parallel()
		repo := simulator.New(t, simulator.Options{})
		repo.PublishRoot()
		repo.PublishRoot()
		e := refreshed(t, repo)
		removeCache(t, e)
		if got := versions(e.c.View()); got["root"] != 1 {
			t.Errorf("root v%d without a cache, want the embedded v1", got["root"])
		}
		repo.SetFault("2.root.json", simulator.Fault{Status: 404})
		err := e.refreshErr()
		if re := wantAs[*rollback.RollbackError](t, err); re.Role != "root" || re.Got != "v1" || re.Trusted != "v3" {
			t.Errorf("RollbackError %+v", re)
		}
		repo.ClearFaults()
		e.refresh()
		e.wantVersions(top(3, 1, 1, 1))
	})
}

// TestStartRoot: the newer of the embedded root and the cached chain is the
// starting point (DESIGN.md "Root at start-up").
func TestStartRoot(t *testing.T) {
	t.Parallel()
	repo := simulator.New(t, simulator.Options{})
	repo.PublishRoot()
	e := refreshed(t, repo)
	e.c.Close()

	repo.PublishRoot()
	e.cfg.TrustedRoot = repo.Bytes("3.root.json")
	repo.Server().Close() // no network needed to start from v3
	e.open()
	if got := versions(e.c.View())["root"]; got != 3 {
		t.Errorf("embedded v3 over cached v2: root v%d", got)
	}
	if string(e.cacheFile("root")) != string(repo.Bytes("3.root.json")) {
		t.Error("embedded root v3 not cached")
	}

	e.cfg.TrustedRoot = repo.TrustedRoot()
	e.open()
	if got := versions(e.c.View())["root"]; got != 3 {
		t.Errorf("cached v3 over embedded v1: root v%d", got)
	}
}

// TestLocked: one client per state directory; the second learns who holds
// it. Reading needs no lock (TestOfflineBesideClient).
func TestLocked(t *testing.T) {
	t.Parallel()
	repo := simulator.New(t, simulator.Options{})
	e := newEnv(t, repo)
	e.open()
	c, err := client.New(e.cfg, e.opts...)
	if !errors.Is(err, client.ErrLocked) || !errors.Is(err, rollback.ErrLocked) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("second New: %v, want ErrLocked", err)
	}
	if le := wantAs[*rollback.LockedError](t, err); le.PID != os.Getpid() || !strings.Contains(err.Error(), "this process") {
		t.Errorf("second New: %v, want the holder named as this process (pid %d)", err, os.Getpid())
	}
	if err := e.c.Close(); err != nil {
		t.Fatal(err)
	}
	wantIs(t, e.c.Refresh(context.Background()), client.ErrClosed)
	e.c = nil
	e.open()
	e.refresh()
}

// TestOfflineView: expired metadata is reported, not refused, by the view;
// the online client refuses it.
func TestOfflineView(t *testing.T) {
	t.Parallel()
	repo := releaseRepo(t, simulator.Options{})
	e := refreshed(t, repo)
	e.target("plugins/x.so")

	// A day and a bit later only the timestamp has expired.
	e.clock.Set(repo.Now().Add(25 * time.Hour))
	v := e.c.View()
	if !v.Stale() {
		t.Error("view with an expired timestamp not stale")
	}
	for _, r := range v.Roles() {
		if r.Stale != (r.Role == "timestamp") {
			t.Errorf("%s: stale %v", r.Role, r.Stale)
		}
	}
	if tg, err := v.Target("app/1.0/app.bin"); err != nil || tg.Chain()[0].Stale {
		t.Errorf("View().Target: %v", err)
	}

	// Two years later everything has.
	late := repo.Now().AddDate(2, 0, 0)
	e.clock.Set(late)
	check := func(v *client.View) {
		t.Helper()
		if !v.Stale() {
			t.Error("view not stale")
		}
		for _, r := range v.Roles() {
			if !r.Stale {
				t.Errorf("%s not stale", r.Role)
			}
		}
		tg, err := v.Target("plugins/x.so")
		if err != nil {
			t.Fatalf("View().Target: %v", err)
		}
		chain := tg.Chain()
		if len(chain) != 2 || !chain[0].Stale || !chain[1].Stale || chain[1].Role != "plugins" {
			t.Errorf("chain %+v, want targets and plugins, stale", chain)
		}
	}
	check(e.c.View())
	before := e.disk()
	if ee := wantAs[*client.ExpiredError](t, e.refreshErr()); ee.Role != "root" || !ee.Now.Equal(late) {
		t.Errorf("Refresh: ExpiredError %+v", ee)
	}
	wantIs(t, e.targetErr("plugins/x.so"), client.ErrExpired)
	e.sameDisk(before)

	e.c.Close()
	e.c = nil
	v, err := client.Offline(e.cfg, e.opts...)
	if err != nil {
		t.Fatal(err)
	}
	check(v)

	// A state directory never refreshed: stale, nothing to look up.
	fresh := newEnv(t, repo)
	v, err = client.Offline(fresh.cfg, fresh.opts...)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Stale() || len(v.Roles()) != 1 {
		t.Errorf("fresh view: stale %v, roles %+v", v.Stale(), v.Roles())
	}
	if _, err := v.Target("app/1.0/app.bin"); !errors.Is(err, client.ErrNotRefreshed) {
		t.Errorf("fresh View().Target: %v, want ErrNotRefreshed", err)
	}
}

// TestConcurrentUse: one client, Refresh, Target and View from several
// goroutines while the repository publishes (run with -race).
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	repo := releaseRepo(t, simulator.Options{ConsistentSnapshot: true})
	e := refreshed(t, repo)
	c := e.c
	ctx := context.Background()

	stop := make(chan struct{})
	errs := make(chan error, 100)
	var wg sync.WaitGroup
	worker := func(name string, step func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := step(); err != nil {
					errs <- fmt.Errorf("%s: %w", name, err)
					return
				}
			}
		}()
	}
	for i := range 2 {
		worker(fmt.Sprint("refresh ", i), func() error { return c.Refresh(ctx) })
	}
	for i, path := range []string{"app/1.0/app.bin", "plugins/x.so", "plugins/x.so", "extras/y"} {
		worker(fmt.Sprint("target ", i), func() error {
			_, err := c.Target(ctx, path)
			return err
		})
	}
	var last int64
	worker("view", func() error {
		v := c.View()
		ts := versions(v)["timestamp"]
		if ts < last {
			return fmt.Errorf("timestamp went from v%d to v%d", last, ts)
		}
		last = ts
		_, err := v.Target("app/1.0/app.bin")
		return err
	})

	const releases = 15
	for i := range releases {
		repo.AddTarget(fmt.Sprintf("app/%d/app.bin", i), []byte(fmt.Sprint(i)), nil)
		repo.AddDelegatedTarget("plugins", fmt.Sprintf("plugins/%d.so", i), []byte(fmt.Sprint(i)), nil)
		repo.Publish()
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	e.refresh()
	want := top(1, 2+releases, 2+releases, 2+releases)
	if got := versions(c.View()); !maps(got, want) {
		t.Errorf("versions %v, want %v", got, want)
	}
	if tg := e.target(fmt.Sprintf("plugins/%d.so", releases-1)); tg.Chain()[1].Version != 1+releases {
		t.Errorf("plugins v%d", tg.Chain()[1].Version)
	}
}
