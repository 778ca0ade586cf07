package client_test

import (
	"context"
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
