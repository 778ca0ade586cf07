package client_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/internal/simulator"
)

var linux = client.Release{App: "myapp", OS: "linux", Arch: "amd64"}

// releaseIn publishes myapp version v for linux-amd64 in each named
// repository, in channels, and returns its content.
func releaseIn(repos map[string]*simulator.Repo, v string, channels []string, names ...string) []byte {
	data := []byte("myapp " + v)
	publish(repos, "myapp/"+v+"/linux-amd64", data, map[string]any{"version": v, "channels": channels}, names...)
	return data
}

func (e *multiEnv) resolve(rel client.Release, want string) *client.ReleaseInfo {
	e.t.Helper()
	info, err := e.m.Resolve(context.Background(), rel)
	if err != nil {
		e.t.Fatalf("Resolve: %v", err)
	}
	if info.Version != want || info.Agreed == nil || info.Agreed.Target != info.Target {
		e.t.Fatalf("Resolve = %s (agreed %v), want %s", info.Version, info.Agreed, want)
	}
	return info
}

// The approval gate for releases: the newest release both repositories
// agree on is the answer; one the organisation has not approved is passed
// over, and it is the answer once approved.
func TestMultiResolveGate(t *testing.T) {
	t.Parallel()
	repos := newRepos(t, simulator.Options{}, "vendor", "org")
	stable := []string{"stable"}
	releaseIn(repos, "1.0.0", stable, "vendor", "org")
	v11 := releaseIn(repos, "1.1.0", stable, "vendor")
	e := newMultiEnv(t, repos, []string{"vendor", "org"}, mapping([]string{"myapp/*/*"}, 2, true, "vendor", "org"))
	e.open()
	e.refresh()
	e.resolve(linux, "1.0.0")

	releaseIn(repos, "1.1.0", stable, "org")
	e.refresh()
	info := e.resolve(linux, "1.1.0")
	dest := filepath.Join(e.dl, "myapp")
	if err := e.m.DownloadFile(context.Background(), info.Agreed, dest); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dest); string(got) != string(v11) {
		t.Errorf("downloaded %q", got)
	}
}

// Channels are the ones every agreeing repository lists: a build the
// organisation approved for beta only is not a stable release; custom data
// that breaks the convention in one agreeing repository disqualifies it.
func TestMultiResolveChannels(t *testing.T) {
	t.Parallel()
	repos := newRepos(t, simulator.Options{}, "vendor", "org")
	releaseIn(repos, "1.0.0", []string{"stable"}, "vendor", "org")
	releaseIn(repos, "1.1.0", []string{"stable", "beta"}, "vendor")
	releaseIn(repos, "1.1.0", []string{"beta"}, "org")
	releaseIn(repos, "1.2.0", []string{"stable"}, "vendor")
	publish(repos, "myapp/1.2.0/linux-amd64", []byte("myapp 1.2.0"), map[string]any{"version": "1.2.1", "channels": []string{"stable"}}, "org")
	e := newMultiEnv(t, repos, []string{"vendor", "org"}, mapping([]string{"myapp/*/*"}, 2, true, "vendor", "org"))
	e.open()
	e.refresh()
	e.resolve(linux, "1.0.0")
	beta := linux
	beta.Channel = "beta"
	e.resolve(beta, "1.1.0")

	pinned := linux
	pinned.Pin = "1.2.0"
	_, err := e.m.Resolve(context.Background(), pinned)
	wantIs(t, err, client.ErrNoRelease)
	if re := wantAs[*client.ReleaseError](t, err); len(re.Invalid) != 1 || re.Invalid[0].Path != "myapp/1.2.0/linux-amd64" {
		t.Errorf("invalid candidates %v", re.Invalid)
	}
}

// A repository that can't be read does not turn an update into "no
// update": resolution fails, naming it, when it could change the answer.
func TestMultiResolveFailures(t *testing.T) {
	t.Parallel()
	t.Run("not refreshed", func(t *testing.T) {
		t.Parallel()
		repos := newRepos(t, simulator.Options{}, "vendor", "org")
		releaseIn(repos, "1.0.0", []string{"stable"}, "vendor", "org")
		e := newMultiEnv(t, repos, []string{"vendor", "org"}, mapping([]string{"myapp/*/*"}, 1, true, "vendor", "org"))
		repos["vendor"].Server().Close()
		e.open()
		e.m.Refresh(context.Background())
		// Either one alone suffices, and the vendor could list a newer
		// release that the organisation does not.
		_, err := e.m.Resolve(context.Background(), linux)
		wantIsNot(t, err, client.ErrNoRelease)
		if me := wantAs[*client.MultiError](t, err); len(me.Repositories) != 1 || me.Repositories[0] != "vendor" {
			t.Errorf("unread repositories %v", me.Repositories)
		}
		wantIs(t, err, client.ErrNotRefreshed)
	})
	t.Run("withheld role", func(t *testing.T) {
		t.Parallel()
		repos := newRepos(t, simulator.Options{}, "vendor", "org")
		releaseIn(repos, "1.0.0", []string{"stable"}, "vendor")
		repos["org"].Delegate("targets", "approved", simulator.DelegationOpts{Paths: []string{"myapp/*/*"}})
		repos["org"].AddDelegatedTarget("approved", "myapp/1.0.0/linux-amd64", []byte("myapp 1.0.0"), map[string]any{"version": "1.0.0", "channels": []string{"stable"}})
		repos["org"].Publish()
		releaseIn(repos, "1.1.0", []string{"stable"}, "vendor")
		e := newMultiEnv(t, repos, []string{"vendor", "org"}, mapping([]string{"myapp/*/*"}, 2, true, "vendor", "org"))
		e.open()
		e.refresh()
		repos["org"].SetFault("approved.json", simulator.Fault{Status: 404})
		_, err := e.m.Resolve(context.Background(), linux)
		wantIs(t, err, client.ErrUndecided)
		wantIs(t, err, client.ErrNotFound)
		wantIsNot(t, err, client.ErrNoRelease)
	})
}

// Apply through the gate: a build the vendor alone signs is not installed;
// once the organisation approves it, it is. The floor is the application's:
// a repository rolled back can't lower it, and a build whose health check
// failed is remembered across both repositories.
func TestMultiApply(t *testing.T) {
	t.Parallel()
	repos := newRepos(t, simulator.Options{}, "vendor", "org")
	for _, n := range []string{"vendor", "org"} {
		publishApp(repos[n], "1.0.0", "", buildV1)
		publishApp(repos[n], "2.0.0", "", buildV2)
		repos[n].Publish()
	}
	publishApp(repos["vendor"], "3.0.0", "", buildV3)
	repos["vendor"].Publish()
	e := newMultiEnv(t, repos, []string{"vendor", "org"}, mapping([]string{"app/*/*"}, 2, true, "vendor", "org"))
	e.open()
	exe := filepath.Join(t.TempDir(), "app")
	if err := os.WriteFile(exe, buildV1, 0o750); err != nil {
		t.Fatal(err)
	}
	apply := func(opts ...client.ApplyOption) (*client.ApplyResult, error) {
		return e.m.Apply(context.Background(), client.Release{App: "app"}, exe, opts...)
	}
	res, err := apply(client.CurrentVersion("1.0.0"))
	if err != nil || !res.Updated || res.Release.Version != "2.0.0" || res.Release.Agreed == nil {
		t.Fatalf("Apply = %+v, %v; want 2.0.0, agreed", res, err)
	}
	if got, _ := os.ReadFile(exe); !bytes.Equal(got, buildV2) {
		t.Fatalf("executable holds %q", got)
	}
	if in := e.m.Status().Installed["app"]; in.Version != "2.0.0" {
		t.Errorf("installed %+v", in)
	}
	if b, err := e.m.Builds("app", exe); err != nil || b.Installed.Version != "2.0.0" || len(b.Kept) != 1 {
		t.Errorf("Builds = %+v, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(e.cfg.StateDir, "app.state", "state")); err != nil {
		t.Errorf("application state: %v", err)
	}

	// 3.0.0 is approved, but its health check fails: not installed, and
	// remembered.
	publishApp(repos["org"], "3.0.0", "", buildV3)
	repos["org"].Publish()
	_, err = apply(client.HealthCheck(func(context.Context, string) error { return errors.New("broken") }))
	wantIs(t, err, client.ErrHealthCheck)
	// Passed over: 2.0.0 is the newest release left, installed already.
	if res, err := apply(); err != nil || res.Updated || res.Release.Version != "2.0.0" {
		t.Fatalf("Apply after a failed check = %+v, %v; want 2.0.0 up to date", res, err)
	}
	if got, _ := os.ReadFile(exe); !bytes.Equal(got, buildV2) {
		t.Fatalf("executable holds %q", got)
	}

	// A new process, whose organisation repository is rolled back to before
	// 2.0.0 was approved: it can't refresh it, and nothing is installed or
	// lowered.
	e.open()
	repos["org"].SetFault("timestamp.json", simulator.Fault{OldVersion: 1})
	_, err = apply()
	wantIs(t, err, client.ErrRollback)
	if in := e.m.Status().Installed["app"]; in.Version != "2.0.0" {
		t.Errorf("installed %+v after a rolled-back repository", in)
	}
}
