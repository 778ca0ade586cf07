package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch/client"
)

// gateFixture is a vendor's repository and an organisation's that approves
// its releases, both made with publish, and a client that needs both.
type gateFixture struct {
	vendor, org *fixture
	vendorRoot  string // the vendor's 1.root.json, as the organisation keeps it
	state       string // approve's state of the vendor's repository
}

func newGate(t *testing.T) *gateFixture {
	t.Helper()
	g := &gateFixture{vendor: newFixture(t), org: newFixture(t)}
	g.org.rand = &entropy{label: t.Name() + "/org"}
	g.vendor.init()
	g.org.init()
	g.vendorRoot = filepath.Join(g.org.tmp, "vendor.root.json")
	if err := os.WriteFile(g.vendorRoot, g.vendor.root1, 0o644); err != nil {
		t.Fatal(err)
	}
	g.state = filepath.Join(g.org.tmp, "vendor-state")
	return g
}

func (g *gateFixture) approve(at time.Time, target string, extra ...string) error {
	return g.org.publish(at, append([]string{"approve", "-vendor-root", g.vendorRoot, "-vendor-url", g.vendor.srv.URL,
		"-vendor-state", g.state, "-target", target}, extra...)...)
}

// multi opens a client that needs both repositories to agree on myapp's
// releases; targetURLs, if given, serve the targets of both.
func (g *gateFixture) multi(t *testing.T, at time.Time, targetURLs ...string) *client.Multi {
	t.Helper()
	m, err := client.ParseMap([]byte(`{"repositories": {"vendor": ["` + g.vendor.srv.URL + `"], "org": ["` + g.org.srv.URL + `"]},
		"mapping": [{"paths": ["myapp/*/*"], "repositories": ["vendor", "org"], "threshold": 2, "terminating": true}]}`))
	if err != nil {
		t.Fatal(err)
	}
	mc, err := client.NewMulti(client.MultiConfig{Map: m, TrustedRoots: map[string][]byte{"vendor": g.vendor.root1, "org": g.org.root1},
		StateDir: t.TempDir(), TargetURLs: targetURLs}, client.WithClock(func() time.Time { return at }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mc.Close() })
	if err := mc.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	return mc
}

// The approval gate: a release the vendor signed is installed only once
// the organisation approved it, and approve copies exactly what latch
// verified in the vendor's repository.
func TestApprove(t *testing.T) {
	t.Parallel()
	g := newGate(t)
	v1 := g.vendor.release(t0.Add(time.Minute), "1.0.0", "myapp", "stable")
	at := t0.Add(time.Hour)
	const target = "myapp/1.0.0/linux-amd64"

	_, err := g.multi(t, at).Target(context.Background(), target)
	ce := wantConsensusError(t, err)
	if got := ce.Mappings[0].Repositories[1]; got.Outcome != client.OutcomeNotListed {
		t.Fatalf("org before approval: %v", got)
	}

	// A file that is not the vendor's release is not approved, and nothing
	// changes.
	other := filepath.Join(g.org.tmp, "other")
	if err := os.WriteFile(other, []byte("not the release"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := snapshotTree(t, g.org.repo)
	if err := g.approve(at, target, "-file", other); !errors.Is(err, ErrNotVetted) {
		t.Fatalf("approve of another file: %v", err)
	}
	if err := g.approve(at, "myapp/9.9.9/linux-amd64"); !errors.Is(err, client.ErrUnknownTarget) {
		t.Fatalf("approve of a target the vendor does not list: %v", err)
	}
	before.check(t)

	vetted := filepath.Join(g.vendor.tmp, "myapp")
	if err := g.approve(at, target, "-file", vetted); err != nil {
		t.Fatalf("approve: %v\n%s", err, g.org.stdout.String())
	}
	if !strings.Contains(g.org.stdout.String(), "approved "+target) {
		t.Errorf("output: %s", g.org.stdout.String())
	}
	// Downloaded from the organisation's own repository: the copy
	// approve made verifies against both repositories' listings.
	mc := g.multi(t, at, g.org.srv.URL+"/targets/")
	a, err := mc.Target(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Repositories(), []string{"vendor", "org"}) || string(a.Custom()) != string(a.Mapping().Repositories[1].Target.Custom()) {
		t.Errorf("agreed by %v, custom %s", a.Repositories(), a.Custom())
	}
	dest := filepath.Join(t.TempDir(), "myapp")
	if err := mc.DownloadFile(context.Background(), a, dest); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dest); string(got) != string(v1) {
		t.Errorf("downloaded %q", got)
	}

	// Again: nothing to do.
	before = snapshotTree(t, g.org.repo)
	if err := g.approve(at, target); err != nil || !strings.Contains(g.org.stdout.String(), "approved already") {
		t.Fatalf("second approve: %v, %s", err, g.org.stdout.String())
	}
	before.check(t)
}

// A vendor's mirror that serves other bytes than the vendor signed: approve
// refuses, and the organisation's repository does not change.
func TestApproveRefusesTamperedRelease(t *testing.T) {
	t.Parallel()
	g := newGate(t)
	g.vendor.release(t0.Add(time.Minute), "1.0.0", "myapp", "stable")
	files, _ := filepath.Glob(filepath.Join(g.vendor.repo, "targets", "myapp", "1.0.0", "*.linux-amd64"))
	if len(files) != 1 {
		t.Fatalf("release files %q", files)
	}
	// The same length, other bytes.
	if err := os.WriteFile(files[0], []byte("myapp 6.6.6 for linux/amd64\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := snapshotTree(t, g.org.repo)
	err := g.approve(t0.Add(time.Hour), "myapp/1.0.0/linux-amd64")
	if !errors.Is(err, client.ErrHashMismatch) {
		t.Fatalf("approve of a tampered release: %v", err)
	}
	before.check(t)
}

func wantConsensusError(t *testing.T, err error) *client.ConsensusError {
	t.Helper()
	var ce *client.ConsensusError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v: want a *client.ConsensusError", err)
	}
	return ce
}

// TestReadmeApprovalGate runs the README's approval commands as written,
// against a vendor repository on loopback (its URL in place of the
// README's), then resolves and downloads the release through both
// repositories with latch.
func TestReadmeApprovalGate(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC().Truncate(time.Second)
	vendor := newFixture(t)
	vendor.mustPublish(now, "init", "-root-keys", "1", "-root-threshold", "1")
	app := vendor.release(now, "1.4.2", "myapp", "stable")
	dir := t.TempDir()
	root, err := os.ReadFile(filepath.Join(vendor.repo, "metadata", "1.root.json"))
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"vendor.root.json": root, "myapp-1.4.2": app} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	runReadmeBlock(t, "## Multiple repositories", dir, strings.NewReplacer("https://updates.vendor.example/", vendor.srv.URL+"/"))

	org := httptest.NewServer(http.FileServer(http.Dir(filepath.Join(dir, "org-repo"))))
	defer org.Close()
	orgRoot, err := os.ReadFile(filepath.Join(dir, "org-repo", "metadata", "1.root.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := client.ParseMap([]byte(`{"repositories": {"vendor": ["` + vendor.srv.URL + `"], "org": ["` + org.URL + `"]},
		"mapping": [{"paths": ["myapp/*/*"], "repositories": ["vendor", "org"], "threshold": 2, "terminating": true}]}`))
	if err != nil {
		t.Fatal(err)
	}
	mc, err := client.NewMulti(client.MultiConfig{Map: m, TrustedRoots: map[string][]byte{"vendor": root, "org": orgRoot}, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	if err := mc.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	info, err := mc.Resolve(t.Context(), client.Release{App: "myapp", OS: "linux", Arch: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), "myapp")
	if err := mc.DownloadFile(t.Context(), info.Agreed, dest); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dest); info.Version != "1.4.2" || string(got) != string(app) {
		t.Errorf("resolved %s, downloaded %q", info.Version, got)
	}
}
