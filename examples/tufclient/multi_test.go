package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/latchsec/latch/internal/simulator"
)

// multiFixture is a vendor's repository (the fixture's) and an
// organisation's, a map that needs both to agree on every target, and the
// roots directory init reads.
type multiFixture struct {
	*fixture
	org               *simulator.Repo
	mapFile, rootsDir string
}

func newMultiFixture(t *testing.T, threshold int) *multiFixture {
	t.Helper()
	f := &multiFixture{fixture: newFixture(t, simulator.Options{Seed: "vendor"}), org: simulator.New(t, simulator.Options{Seed: "org", ConsistentSnapshot: true})}
	dir := filepath.Dir(f.metaDir)
	f.mapFile, f.rootsDir = filepath.Join(dir, "map.json"), filepath.Join(dir, "roots")
	base := func(r *simulator.Repo) string { m, _ := r.Serve(); return strings.TrimSuffix(m, "metadata/") }
	doc, _ := json.Marshal(map[string]any{
		"repositories": map[string][]string{"vendor": {base(f.repo)}, "org": {base(f.org)}},
		"mapping":      []map[string]any{{"paths": []string{"*", "*/*"}, "repositories": []string{"vendor", "org"}, "threshold": threshold, "terminating": true}},
	})
	if err := os.WriteFile(f.mapFile, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(f.rootsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]*simulator.Repo{"vendor": f.repo, "org": f.org} {
		if err := os.WriteFile(filepath.Join(f.rootsDir, name+".root.json"), r.TrustedRoot(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *multiFixture) args(command string, names ...string) []string {
	args := []string{"--metadata-dir", f.metaDir, "--map", f.mapFile}
	if command == "download" {
		args = append(args, "--target-dir", f.targetDir)
	}
	for _, n := range names {
		args = append(args, "--target-name", n)
	}
	args = append(args, command)
	if command == "init" {
		args = append(args, f.rootsDir)
	}
	return args
}

// The approval gate through the CLI: a target both repositories list is
// downloaded; one only the vendor lists is refused, naming each
// repository's answer, until the organisation lists it too.
func TestMapInitRefreshDownload(t *testing.T) {
	t.Parallel()
	f := newMultiFixture(t, 2)
	f.repo.AddTarget("app.txt", []byte("app v1"), nil)
	f.repo.AddTarget("dir/new.txt", []byte("app v2"), nil)
	f.org.AddTarget("app.txt", []byte("app v1"), nil)
	f.org.Publish()
	f.serve()

	f.mustRun(nil, f.args("init")...)
	if got := append(f.repo.Requests(), f.org.Requests()...); len(got) != 0 {
		t.Fatalf("init made requests: %q", got)
	}
	for _, name := range []string{"vendor", "org"} {
		if _, err := os.Stat(filepath.Join(f.metaDir, name+".trusted-root")); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	f.mustRun(nil, f.args("init")...) // again, with the same roots: no change
	f.mustRun(nil, append(f.args("clock"), "reset-unsafe")...)
	f.mustRun(nil, f.args("refresh")...)
	f.mustRun(nil, f.args("download", "app.txt")...)
	f.checkTargets(map[string][]byte{"app.txt": []byte("app v1")})

	stderr := f.mustFail(nil, "org: not listed", f.args("download", "dir/new.txt")...)
	if !strings.Contains(stderr, "vendor: listed (6 bytes") {
		t.Errorf("the vendor's listing is not reported:\n%s", stderr)
	}
	f.checkTargets(map[string][]byte{"app.txt": []byte("app v1")})

	// The organisation approves: the same target info in its repository.
	f.org.AddTarget("dir/new.txt", []byte("app v2"), nil)
	f.org.Publish()
	f.mustRun(nil, f.args("download", "app.txt", "dir/new.txt")...)
	f.checkTargets(map[string][]byte{"app.txt": []byte("app v1"), "dir/new.txt": []byte("app v2")})

	// A repository that is down: refresh fails naming it, and with both
	// needed nothing new is trusted.
	f.org.Server().Close()
	f.mustFail(nil, "[org: refresh root:", f.args("refresh")...)
	f.mustFail(nil, "org: failed", f.args("download", "dir/new.txt")...)
}

// With a threshold of 1 of 2, a repository that is down is reported and
// the other one suffices; --target-base-url serves every repository's
// targets.
func TestMapOneRepositoryDown(t *testing.T) {
	t.Parallel()
	f := newMultiFixture(t, 1)
	f.repo.AddTarget("app.txt", []byte("app v1"), nil)
	f.serve()
	f.mustRun(nil, f.args("init")...)
	f.org.Server().Close()
	stderr := f.mustRun(nil, append([]string{"--target-base-url", f.targetURL}, f.args("download", "app.txt")...)...)
	if !strings.Contains(stderr, "some repositories did not refresh") {
		t.Errorf("the failed repository is not reported:\n%s", stderr)
	}
	f.checkTargets(map[string][]byte{"app.txt": []byte("app v1")})
}

// init checks every root and the map before it stores anything.
func TestMapInitRefuses(t *testing.T) {
	t.Parallel()
	f := newMultiFixture(t, 2)
	f.serve()
	if err := os.WriteFile(filepath.Join(f.rootsDir, "org.root.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.mustFail(nil, "org.root.json: root metadata", f.args("init")...)
	if got := tree(t, f.metaDir); len(got) != 0 {
		t.Fatalf("init stored %q", got)
	}
	if err := os.WriteFile(filepath.Join(f.rootsDir, "org.root.json"), f.repo.TrustedRoot(), 0o644); err != nil {
		t.Fatal(err)
	}
	f.mustFail(nil, "same trusted root", f.args("init")...)
	if got := tree(t, f.metaDir); len(got) != 0 {
		t.Fatalf("init stored %q", got)
	}
	f.mustFail(nil, "not initialised", f.args("refresh")...)
	if err := os.WriteFile(f.mapFile, []byte(`{"repositories": {}, "mapping": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	f.mustFail(nil, "invalid map file", f.args("init")...)
}

func TestMapUsageErrors(t *testing.T) {
	t.Parallel()
	f := newMultiFixture(t, 2)
	d, m := f.metaDir, f.mapFile
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--metadata-dir", d, "--map", m, "--metadata-url", f.targetDir, "refresh"}, "--map replaces --metadata-url"},
		{[]string{"--metadata-dir", d, "--map", m, "init"}, "directory of the roots"},
		{[]string{"--metadata-dir", d, "--map", m, "audit", "verify"}, "--map does not apply to audit"},
		{[]string{"--metadata-dir", d, "--map", m, "--target-name", "a", "download"}, "needs --target-dir"},
		{[]string{"--metadata-dir", d, "--map", "", "refresh"}, "must not be empty"},
	} {
		stderr := f.mustFail(nil, tt.want, tt.args...)
		if !strings.Contains(stderr, "usage:") {
			t.Errorf("%q: no usage text:\n%s", tt.args, stderr)
		}
	}
	if got := tree(t, d); len(got) != 0 || slices.Contains(f.repo.Requests(), "timestamp.json") {
		t.Fatalf("usage errors created %q", got)
	}
}
