package client_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/internal/simulator"
	tufmeta "github.com/theupdateframework/go-tuf/v2/metadata"
)

// release publishes a build following the release convention in role.
func release(repo *simulator.Repo, role, path, version string, channels ...string) {
	repo.AddDelegatedTarget(role, path, []byte("build "+path), map[string]any{"version": version, "channels": channels})
}

func resolve(t *testing.T, c *client.Client, rel client.Release) *client.ReleaseInfo {
	t.Helper()
	info, err := c.Resolve(context.Background(), rel)
	if err != nil {
		t.Fatalf("Resolve(%+v): %v", rel, err)
	}
	return info
}

func TestResolve(t *testing.T) {
	repo := simulator.New(t, simulator.Options{})
	release(repo, "targets", "app/1.0.0/linux-amd64", "1.0.0", "stable", "beta")
	release(repo, "targets", "app/1.1.0/linux-amd64", "1.1.0", "stable", "beta")
	release(repo, "targets", "app/v1.10.0/linux-amd64.tar.gz", "v1.10.0", "stable")
	release(repo, "targets", "app/1.9.0/linux-amd64", "1.9.0", "stable")
	release(repo, "targets", "app/2.0.0-rc.1/linux-amd64", "2.0.0-rc.1", "beta")
	release(repo, "targets", "app/1.2.0/windows-amd64.exe", "1.2.0", "stable")
	release(repo, "targets", "app/1.3.0/windows-amd64.zip", "1.3.0", "stable")
	release(repo, "targets", "app/1.3.0/windows-amd64.exe", "1.3.0", "stable")
	release(repo, "targets", "app/1.5.0/linux-arm64", "1.5.0", "stable")
	release(repo, "targets", "other/9.0.0/linux-amd64", "9.0.0", "stable")
	release(repo, "targets", "app/9.0.0/linux-amd64/extra", "9.0.0", "stable")
	release(repo, "targets", "app/9.0.0/linux-amd64.deb", "9.0.0", "stable")
	release(repo, "targets", "app/9.0/linux-amd64", "9.0", "stable")
	release(repo, "targets", "application/9.0.0/linux-amd64", "9.0.0", "stable")
	repo.Publish()
	e := newEnv(t, repo)
	c := e.open()
	e.refresh()
	linux := client.Release{App: "app", OS: "linux", Arch: "amd64"}
	for _, tc := range []struct {
		name    string
		rel     client.Release
		path    string
		version string
	}{
		{"newest stable by semver", linux, "app/v1.10.0/linux-amd64.tar.gz", "v1.10.0"},
		{"beta", client.Release{App: "app", Channel: "beta", OS: "linux", Arch: "amd64"}, "app/2.0.0-rc.1/linux-amd64", "2.0.0-rc.1"},
		{"pin major", client.Release{App: "app", OS: "linux", Arch: "amd64", Pin: "1"}, "app/v1.10.0/linux-amd64.tar.gz", "v1.10.0"},
		{"pin minor", client.Release{App: "app", OS: "linux", Arch: "amd64", Pin: "v1.1"}, "app/1.1.0/linux-amd64", "1.1.0"},
		{"pin exact", client.Release{App: "app", OS: "linux", Arch: "amd64", Pin: "v1.0.0"}, "app/1.0.0/linux-amd64", "1.0.0"},
		{"pin exact without v", client.Release{App: "app", OS: "linux", Arch: "amd64", Pin: "1.9.0"}, "app/1.9.0/linux-amd64", "1.9.0"},
		{"other platform", client.Release{App: "app", OS: "linux", Arch: "arm64"}, "app/1.5.0/linux-arm64", "1.5.0"},
		{"bare executable before archive", client.Release{App: "app", OS: "windows", Arch: "amd64"}, "app/1.3.0/windows-amd64.exe", "1.3.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info := resolve(t, c, tc.rel)
			if info.Target.Path() != tc.path || info.Version != tc.version {
				t.Errorf("resolved %s (version %q), want %s (%q)", info.Target.Path(), info.Version, tc.path, tc.version)
			}
			if len(info.Channels) == 0 {
				t.Error("no channels")
			}
		})
	}
	// Defaults: this platform and "stable".
	release(repo, "targets", fmt.Sprintf("app/3.0.0/%s-%s", runtime.GOOS, runtime.GOARCH), "3.0.0", "stable")
	release(repo, "targets", fmt.Sprintf("app/4.0.0/%s-%s", runtime.GOOS, runtime.GOARCH), "4.0.0", "nightly")
	repo.Publish()
	e.refresh()
	if info := resolve(t, c, client.Release{App: "app"}); info.Version != "3.0.0" || !slices.Equal(info.Channels, []string{"stable"}) {
		t.Errorf("defaults resolved %s %v", info.Version, info.Channels)
	}
	for _, rel := range []client.Release{
		{App: "app", OS: "plan9", Arch: "amd64"},
		{App: "app", Channel: "lts", OS: "linux", Arch: "amd64"},
		{App: "app", OS: "linux", Arch: "amd64", Pin: "v7"},
		{App: "app", OS: "linux", Arch: "amd64", Pin: "v1.1.1"},
		{App: "nothing", OS: "linux", Arch: "amd64"},
	} {
		_, err := c.Resolve(context.Background(), rel)
		wantIs(t, err, client.ErrNoRelease)
		re := wantAs[*client.ReleaseError](t, err)
		if re.App != rel.App || re.Pin != rel.Pin || re.Channel == "" || len(re.Invalid) != 0 {
			t.Errorf("%+v: ReleaseError %+v", rel, re)
		}
	}
}

// TestResolveInvalidCustom: a candidate whose signed custom data breaks the
// convention is passed over for the next one; if none is left, the error
// lists it.
func TestResolveInvalidCustom(t *testing.T) {
	for name, custom := range map[string]map[string]any{
		"no custom":           nil,
		"no version":          {"channels": []string{"stable"}},
		"version not string":  {"version": 2, "channels": []string{"stable"}},
		"version not semver":  {"version": "two", "channels": []string{"stable"}},
		"version short":       {"version": "2.0", "channels": []string{"stable"}},
		"version differs":     {"version": "3.0.0", "channels": []string{"stable"}},
		"build differs":       {"version": "2.0.0+other", "channels": []string{"stable"}},
		"no channels":         {"version": "2.0.0"},
		"channels not list":   {"version": "2.0.0", "channels": "stable"},
		"channel not strings": {"version": "2.0.0", "channels": []any{1}},
	} {
		t.Run(name, func(t *testing.T) {
			repo := simulator.New(t, simulator.Options{})
			repo.AddTarget("app/2.0.0/linux-amd64", []byte("bad"), custom)
			repo.Publish()
			e := newEnv(t, repo)
			c := e.open()
			e.refresh()
			rel := client.Release{App: "app", OS: "linux", Arch: "amd64"}
			_, err := c.Resolve(context.Background(), rel)
			wantIs(t, err, client.ErrNoRelease)
			wantIs(t, err, client.ErrInvalidRelease)
			if inv := wantAs[*client.InvalidReleaseError](t, err); inv.Path != "app/2.0.0/linux-amd64" || inv.Reason == "" {
				t.Errorf("InvalidReleaseError %+v", inv)
			}
			release(repo, "targets", "app/1.0.0/linux-amd64", "1.0.0", "stable")
			repo.Publish()
			e.refresh()
			if info := resolve(t, c, rel); info.Version != "1.0.0" {
				t.Errorf("resolved %s past the invalid candidate, want 1.0.0", info.Version)
			}
		})
	}
}

func TestResolveNoSHA256(t *testing.T) {
	repo := simulator.New(t, simulator.Options{})
	release(repo, "targets", "app/2.0.0/linux-amd64", "2.0.0", "stable")
	tf := repo.Targets("targets").Signed.Targets["app/2.0.0/linux-amd64"]
	tf.Hashes = tufmeta.Hashes{"sha512": make(tufmeta.HexBytes, 64)}
	repo.Publish()
	e := newEnv(t, repo)
	c := e.open()
	e.refresh()
	_, err := c.Resolve(context.Background(), client.Release{App: "app", OS: "linux", Arch: "amd64"})
	wantIs(t, err, client.ErrInvalidRelease)
}

// TestResolveDelegations: releases in delegated roles are found; the
// delegations' priority and terminating rules decide between candidates;
// roles that can't hold releases of the app are not fetched.
func TestResolveDelegations(t *testing.T) {
	repo := simulator.New(t, simulator.Options{})
	release(repo, "targets", "app/1.0.0/linux-amd64", "1.0.0", "stable")
	repo.Delegate("targets", "releases", simulator.DelegationOpts{Paths: []string{"app/*/*"}, Terminating: true})
	repo.Delegate("targets", "shadowed", simulator.DelegationOpts{Paths: []string{"app/*/linux-*"}})
	repo.Delegate("targets", "unrelated", simulator.DelegationOpts{Paths: []string{"docs/*/*", "app/*", "app/*/*/*"}})
	repo.Delegate("releases", "nested", simulator.DelegationOpts{Paths: []string{"app/2.*/*"}})
	release(repo, "releases", "app/1.5.0/linux-amd64", "1.5.0", "stable")
	release(repo, "nested", "app/2.1.0/linux-amd64", "2.1.0", "stable")
	// Listed by a role the terminating "releases" delegation hides for
	// this path: a lookup never reaches it.
	release(repo, "shadowed", "app/9.0.0/linux-amd64", "9.0.0", "stable")
	release(repo, "unrelated", "docs/1.0.0/linux-amd64", "1.0.0", "stable")
	repo.Publish()
	e := newEnv(t, repo)
	c := e.open()
	e.refresh()
	repo.ResetRequests()
	info := resolve(t, c, client.Release{App: "app", OS: "linux", Arch: "amd64"})
	if info.Target.Path() != "app/2.1.0/linux-amd64" || info.Target.Role() != "nested" {
		t.Errorf("resolved %s from %s, want app/2.1.0/linux-amd64 from nested", info.Target.Path(), info.Target.Role())
	}
	reqs := repo.Requests()
	if slices.Contains(reqs, "unrelated.json") {
		t.Errorf("fetched a role that can't list releases of app: %v", reqs)
	}
	if !slices.Contains(reqs, "shadowed.json") {
		t.Errorf("requests %v: the shadowed role's candidates should have been listed", reqs)
	}
	// The shadowed candidate is what a mirror can't make a client take.
	if info, err := c.Resolve(context.Background(), client.Release{App: "app", OS: "linux", Arch: "amd64", Pin: "9.0.0"}); !errors.Is(err, client.ErrNoRelease) {
		t.Errorf("Resolve(pin 9.0.0) = %v, %v; want ErrNoRelease", info, err)
	}
}

// TestResolveHashedDelegations: roles reached by hash prefix or TAP 15 bins
// can't be listed, so their releases are found with an exact pin only.
func TestResolveHashedDelegations(t *testing.T) {
	for _, succinct := range []bool{false, true} {
		t.Run(fmt.Sprintf("succinct=%v", succinct), func(t *testing.T) {
			repo := simulator.New(t, simulator.Options{})
			path := "app/2.0.0/linux-amd64"
			role := "hashed"
			if succinct {
				repo.DelegateSuccinct("targets", 4, "bin")
				role = repo.SuccinctBin("targets", path)
			} else {
				repo.Delegate("targets", role, simulator.DelegationOpts{PathHashPrefixes: []string{""}})
			}
			release(repo, role, path, "2.0.0", "stable")
			repo.Publish()
			e := newEnv(t, repo)
			c := e.open()
			e.refresh()
			_, err := c.Resolve(context.Background(), client.Release{App: "app", OS: "linux", Arch: "amd64"})
			wantIs(t, err, client.ErrNoRelease)
			info := resolve(t, c, client.Release{App: "app", OS: "linux", Arch: "amd64", Pin: "v2.0.0"})
			if info.Target.Path() != path || info.Target.Role() != role {
				t.Errorf("resolved %s from %s", info.Target.Path(), info.Target.Role())
			}
		})
	}
}

func TestResolveErrors(t *testing.T) {
	repo := simulator.New(t, simulator.Options{})
	release(repo, "targets", "app/1.0.0/linux-amd64", "1.0.0", "stable")
	for _, name := range []string{"a", "b", "c"} {
		repo.Delegate("targets", name, simulator.DelegationOpts{Paths: []string{"app/*/*"}})
	}
	repo.Publish()
	e := newEnv(t, repo, client.WithMaxDelegations(3))
	c := e.open()
	rel := client.Release{App: "app", OS: "linux", Arch: "amd64"}
	_, err := c.Resolve(context.Background(), rel)
	wantIs(t, err, client.ErrNotRefreshed)
	e.refresh()
	for _, bad := range []client.Release{
		{}, {App: "../app"}, {App: "a/b"}, {App: ".app"}, {App: "app*"},
		{App: "app", Pin: "vx"}, {App: "app", Pin: "1.2.3.4"}, {App: "app", OS: "linux/x"},
	} {
		_, err := c.Resolve(context.Background(), bad)
		wantIs(t, err, client.ErrInvalidOptions)
		wantAs[*client.ReleaseError](t, err)
	}
	_, err = c.Resolve(context.Background(), rel)
	wantIs(t, err, client.ErrDelegationLimit)
	// Expired metadata: the lookup that confirms a candidate refuses it.
	e2 := newEnv(t, repo)
	c2 := e2.open()
	e2.refresh()
	e2.clock.Set(repo.Now().Add(400 * 24 * time.Hour))
	_, err = c2.Resolve(context.Background(), rel)
	wantIs(t, err, client.ErrExpired)
}

// The delegation cap is one: a lookup and a release resolution over the same
// chain of roles stop at the same count, and neither fetches a role beyond
// it.
func TestDelegationCapSharedByLookupAndResolve(t *testing.T) {
	t.Parallel()
	repo := simulator.New(t, simulator.Options{})
	all := simulator.DelegationOpts{Paths: []string{"app/*/*"}}
	repo.Delegate("targets", "r1", all)
	repo.Delegate("r1", "r2", all)
	repo.Delegate("r2", "r3", all)
	path := "app/1.0.0/linux-amd64"
	release(repo, "r3", path, "1.0.0", "stable")
	repo.Publish()
	rel := client.Release{App: "app", OS: "linux", Arch: "amd64"}
	for _, tc := range []struct {
		max int
		ok  bool
	}{{4, true}, {3, false}, {1, false}} {
		t.Run(fmt.Sprint(tc.max), func(t *testing.T) {
			t.Parallel()
			lookup := refreshed(t, repo, client.WithMaxDelegations(tc.max))
			resolver := refreshed(t, repo, client.WithMaxDelegations(tc.max))
			_, lerr := lookup.c.Target(context.Background(), path)
			_, rerr := resolver.c.Resolve(context.Background(), rel)
			for _, e := range []*env{lookup, resolver} {
				if _, err := os.Stat(filepath.Join(e.cfg.StateDir, "r3.json")); (err == nil) != tc.ok {
					t.Errorf("max %d: r3.json cached: %v", tc.max, err == nil)
				}
			}
			if tc.ok {
				if lerr != nil || rerr != nil {
					t.Fatalf("max %d: Target: %v; Resolve: %v", tc.max, lerr, rerr)
				}
				return
			}
			wantIs(t, lerr, client.ErrDelegationLimit)
			wantIs(t, rerr, client.ErrDelegationLimit)
		})
	}
}
