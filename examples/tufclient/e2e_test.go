package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch/internal/simulator"
	"github.com/latchsec/latch/metadata"
)

// binary is the tufclient executable that TestMain builds; the end-to-end
// tests run it as a separate process against the repository simulator.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tufclient-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "tufclient")
	if runtime.GOOS == "windows" {
		binary += ".exe"
	}
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	code := 1
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building tufclient:", err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// fixture is one repository and one client's directories.
type fixture struct {
	t                            *testing.T
	repo                         *simulator.Repo
	metaURL, targetURL           string
	metaDir, targetDir, rootFile string
	consistent                   bool
}

func newFixture(t *testing.T, opts simulator.Options) *fixture {
	t.Helper()
	repo := simulator.New(t, opts)
	dir := t.TempDir()
	f := &fixture{
		t:          t,
		repo:       repo,
		metaDir:    filepath.Join(dir, "metadata"),
		targetDir:  filepath.Join(dir, "targets"),
		rootFile:   filepath.Join(dir, "root.json"),
		consistent: opts.ConsistentSnapshot,
	}
	if err := os.WriteFile(f.rootFile, repo.TrustedRoot(), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// serve publishes what the test set up and starts the server.
func (f *fixture) serve() {
	f.repo.Publish()
	f.metaURL, f.targetURL = f.repo.Serve()
}

// fakeTime is the FAKETIME value for at, read in TZ=UTC.
func fakeTime(at time.Time) string {
	return "FAKETIME=@" + at.UTC().Format("2006-01-02 15:04:05")
}

// run runs tufclient with args, TZ=UTC and FAKETIME at the repository's
// clock, then env (which may override both), and returns its exit status
// and standard error.
func (f *fixture) run(env []string, args ...string) (int, string) {
	f.t.Helper()
	return f.runCtx(f.t.Context(), env, args...)
}

// runCtx is run, killing tufclient when ctx ends (exit status -1).
func (f *fixture) runCtx(ctx context.Context, env []string, args ...string) (int, string) {
	f.t.Helper()
	cmd := exec.CommandContext(ctx, binary, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FAKETIME=") && !strings.HasPrefix(kv, "TZ=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "TZ=UTC", fakeTime(f.repo.Now()))
	cmd.Env = append(cmd.Env, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, stderr.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), stderr.String()
	default:
		f.t.Fatalf("running tufclient: %v", err)
		return 0, ""
	}
}

// mustRun runs tufclient and fails the test unless it exits 0.
func (f *fixture) mustRun(env []string, args ...string) string {
	f.t.Helper()
	code, stderr := f.run(env, args...)
	if code != 0 {
		f.t.Fatalf("tufclient %s: exit status %d\n%s", strings.Join(args, " "), code, stderr)
	}
	return stderr
}

// mustFail runs tufclient and fails the test unless it exits 1 with want in
// its standard error.
func (f *fixture) mustFail(env []string, want string, args ...string) string {
	f.t.Helper()
	code, stderr := f.run(env, args...)
	if code != 1 {
		f.t.Fatalf("tufclient %s: exit status %d, want 1\n%s", strings.Join(args, " "), code, stderr)
	}
	if !strings.Contains(stderr, want) {
		f.t.Fatalf("tufclient %s: stderr does not mention %q:\n%s", strings.Join(args, " "), want, stderr)
	}
	return stderr
}

func (f *fixture) initArgs() []string {
	return []string{"--metadata-dir", f.metaDir, "init", f.rootFile}
}

func (f *fixture) refreshArgs() []string {
	return []string{"--metadata-url", f.metaURL, "--metadata-dir", f.metaDir, "refresh"}
}

func (f *fixture) downloadArgs(names ...string) []string {
	args := []string{"--target-dir", f.targetDir, "--metadata-dir", f.metaDir, "--metadata-url", f.metaURL}
	for _, n := range names {
		args = append(args, "--target-name", n)
	}
	return append(args, "--target-base-url", f.targetURL, "download")
}

// tree lists every file and directory below dir, hidden ones included, as
// slash-separated relative paths, sorted; directories end in "/".
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			rel += "/"
		}
		out = append(out, rel)
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// checkTargets asserts that the target directory holds exactly want (path
// to contents): no other file, no temporary file, no empty directory.
func (f *fixture) checkTargets(want map[string][]byte) {
	f.t.Helper()
	var wantTree []string
	for p := range want {
		wantTree = append(wantTree, p)
		for d := filepath.Dir(filepath.FromSlash(p)); d != "."; d = filepath.Dir(d) {
			if !slices.Contains(wantTree, filepath.ToSlash(d)+"/") {
				wantTree = append(wantTree, filepath.ToSlash(d)+"/")
			}
		}
	}
	slices.Sort(wantTree)
	if got := tree(f.t, f.targetDir); !slices.Equal(got, wantTree) {
		f.t.Fatalf("target directory holds %q, want %q", got, wantTree)
	}
	for p, data := range want {
		got, err := os.ReadFile(filepath.Join(f.targetDir, filepath.FromSlash(p)))
		if err != nil {
			f.t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			f.t.Fatalf("target %s: contents differ from the published bytes", p)
		}
	}
}

// servedName is the wire name of the latest published metadata of role.
func (f *fixture) servedName(role string) string {
	v := f.repo.Version(role)
	switch {
	case role == simulator.RoleTimestamp:
		return "timestamp.json"
	case role == simulator.RoleRoot || f.consistent:
		return fmt.Sprintf("%d.%s.json", v, role)
	default:
		return role + ".json"
	}
}

// checkMetadataDir asserts the metadata directory's layout: at the top
// level exactly the cached metadata of roles (each <encoded role>.json,
// byte-identical to the latest version the repository served), the trust
// anchor trusted-root, unchanged, and the client's subdirectories, which
// hold no .json file.
func (f *fixture) checkMetadataDir(roles ...string) {
	f.t.Helper()
	want := []string{"trusted-root"}
	for _, role := range roles {
		enc, err := metadata.EncodeRoleName(role)
		if err != nil {
			f.t.Fatal(err)
		}
		want = append(want, enc+".json")
		got, err := os.ReadFile(filepath.Join(f.metaDir, enc+".json"))
		if err != nil {
			f.t.Fatalf("role %q: %v", role, err)
		}
		if !bytes.Equal(got, f.repo.Bytes(f.servedName(role))) {
			f.t.Fatalf("%s.json is not byte-identical to the served %s", enc, f.servedName(role))
		}
	}
	slices.Sort(want)
	var top []string
	for _, p := range tree(f.t, f.metaDir) {
		switch {
		case strings.Contains(p, "/"):
			if strings.HasSuffix(p, ".json") {
				f.t.Fatalf("metadata directory holds %s", p)
			}
		default:
			top = append(top, p)
		}
	}
	if !slices.Equal(top, want) {
		f.t.Fatalf("metadata directory top level holds %q, want %q", top, want)
	}
	anchor, err := os.ReadFile(filepath.Join(f.metaDir, "trusted-root"))
	if err != nil || !bytes.Equal(anchor, f.repo.TrustedRoot()) {
		f.t.Fatalf("trust anchor changed (err %v)", err)
	}
}

var topLevel = []string{simulator.RoleRoot, simulator.RoleTimestamp, simulator.RoleSnapshot, simulator.RoleTargets}

// targetRequests returns the target files requested since the last reset.
func targetRequests(repo *simulator.Repo) []string {
	var out []string
	for _, r := range repo.Requests() {
		if strings.HasPrefix(r, "targets/") {
			out = append(out, r)
		}
	}
	return out
}

func TestInitRefreshDownload(t *testing.T) {
	for _, consistent := range []bool{false, true} {
		t.Run(fmt.Sprintf("consistent=%v", consistent), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, simulator.Options{ConsistentSnapshot: consistent, Seed: "init-refresh-download"})
			files := map[string][]byte{
				"app.txt":          []byte("application v1\n"),
				"lib/core.bin":     bytes.Repeat([]byte{0, 1, 2, 0xff}, 5000),
				"lib/plugins/x.so": []byte("plugin"),
				"docs/read me.txt": []byte("spaces are fine"),
			}
			for p, data := range files {
				f.repo.AddTarget(p, data, nil)
			}
			f.serve()

			stderr := f.mustRun(nil, f.initArgs()...)
			if !strings.Contains(stderr, "initialised") {
				t.Errorf("init log does not say it initialised:\n%s", stderr)
			}
			if got := f.repo.Requests(); len(got) != 0 {
				t.Fatalf("init made requests: %q", got)
			}
			f.mustRun(nil, f.refreshArgs()...)
			f.checkMetadataDir(topLevel...)

			// A stale file at a target's place is replaced.
			if err := os.MkdirAll(f.targetDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(f.targetDir, "app.txt"), []byte("application v0\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			names := []string{"lib/core.bin", "app.txt", "lib/plugins/x.so", "docs/read me.txt"}
			f.mustRun(nil, f.downloadArgs(names...)...)
			f.checkTargets(files)
			f.checkMetadataDir(topLevel...)

			// Verified copies in place are not fetched again.
			f.repo.ResetRequests()
			stderr = f.mustRun([]string{}, append([]string{"-v"}, f.downloadArgs(names...)...)...)
			if got := targetRequests(f.repo); len(got) != 0 {
				t.Fatalf("second download fetched %q", got)
			}
			if !strings.Contains(stderr, "level=DEBUG") {
				t.Errorf("-v does not log at debug level:\n%s", stderr)
			}
			f.checkTargets(files)

			// A file changed on disk is fetched again, and only that one.
			if err := os.WriteFile(filepath.Join(f.targetDir, "lib", "core.bin"), []byte("tampered"), 0o644); err != nil {
				t.Fatal(err)
			}
			f.mustRun(nil, f.downloadArgs(names...)...)
			if got, want := targetRequests(f.repo), []string{f.repo.TargetName("lib/core.bin")}; !slices.Equal(got, want) {
				t.Fatalf("download after a local change fetched %q, want %q", got, want)
			}
			f.checkTargets(files)

			// init again with the same root changes nothing.
			f.mustRun(nil, f.initArgs()...)
			f.checkMetadataDir(topLevel...)
		})
	}
}

func TestRootRotation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, simulator.Options{ConsistentSnapshot: true, Seed: "rotation"})
	f.repo.AddTarget("a.txt", []byte("a1"), nil)
	f.serve()
	f.mustRun(nil, f.initArgs()...)
	f.mustRun(nil, f.refreshArgs()...)

	// Root v2 replaces the root key and the timestamp key; v3 follows.
	f.repo.AddKey(simulator.RoleRoot)
	f.repo.RemoveKey(simulator.RoleRoot, 0)
	f.repo.AddKey(simulator.RoleTimestamp)
	f.repo.RemoveKey(simulator.RoleTimestamp, 0)
	f.repo.AddTarget("a.txt", []byte("a2"), nil)
	f.repo.Publish()
	f.repo.PublishRoot()
	if v := f.repo.Version(simulator.RoleRoot); v != 3 {
		t.Fatalf("repository root is v%d, want v3", v)
	}
	f.mustRun(nil, f.refreshArgs()...)
	f.checkMetadataDir(topLevel...)

	// The next process starts from the cached root v3 and downloads the
	// target the new metadata lists.
	f.repo.ResetRequests()
	f.mustRun(nil, f.downloadArgs("a.txt")...)
	if got := f.repo.Requests(); !slices.Contains(got, "4.root.json") || slices.Contains(got, "2.root.json") {
		t.Fatalf("second process did not start from root v3: requests %q", got)
	}
	f.checkTargets(map[string][]byte{"a.txt": []byte("a2")})
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	f := newFixture(t, simulator.Options{Seed: "expiry"})
	f.repo.AddTarget("a.txt", []byte("a"), nil)
	f.serve()
	f.mustRun(nil, f.initArgs()...)
	f.mustRun(nil, f.refreshArgs()...)
	before := tree(t, f.metaDir)

	// The timestamp expires a day after the repository's clock.
	late := f.repo.Now().Add(25 * time.Hour)
	stderr := f.mustFail([]string{fakeTime(late)}, "expired", f.refreshArgs()...)
	if !strings.Contains(stderr, "timestamp") {
		t.Errorf("stderr does not name the expired role:\n%s", stderr)
	}
	f.mustFail([]string{fakeTime(late)}, "expired", f.downloadArgs("a.txt")...)
	f.checkTargets(nil)
	f.checkMetadataDir(topLevel...)
	if after := tree(t, f.metaDir); !slices.Equal(before, after) {
		t.Fatalf("metadata directory changed by a failed refresh: %q, was %q", after, before)
	}

	// The offset form: real time shifted past the expiry.
	offset := fmt.Sprintf("FAKETIME=%+ds", int64(time.Until(late)/time.Second))
	f.mustFail([]string{offset}, "expired", f.refreshArgs()...)

	// The frozen form, before the expiry.
	f.mustRun([]string{"FAKETIME=" + f.repo.Now().Add(time.Hour).Format("2006-01-02 15:04:05")}, f.downloadArgs("a.txt")...)
	f.checkTargets(map[string][]byte{"a.txt": []byte("a")})

	// Dates are read in the zone TZ names: 05:00 on the day of expiry is
	// past it in UTC, and still before it in Tokyo (UTC+9).
	at := f.repo.Now().Add(24 * time.Hour).Add(5 * time.Hour).Format("FAKETIME=@2006-01-02 15:04:05")
	f.mustFail([]string{at}, "expired", f.refreshArgs()...)
	f.mustRun([]string{at, "TZ=Asia/Tokyo"}, f.refreshArgs()...)
}

func TestTamperedTarget(t *testing.T) {
	t.Parallel()
	f := newFixture(t, simulator.Options{Seed: "tampered"})
	files := map[string][]byte{
		"good.txt":        []byte("good"),
		"nested/deep/bad": bytes.Repeat([]byte("payload "), 4096),
		"after.txt":       []byte("after"),
	}
	for p, data := range files {
		f.repo.AddTarget(p, data, nil)
	}
	f.serve()
	f.repo.SetFault(f.repo.TargetName("nested/deep/bad"), simulator.Fault{Mutate: simulator.FlipBit})
	f.mustRun(nil, f.initArgs()...)

	stderr := f.mustFail(nil, "hash", f.downloadArgs("good.txt", "nested/deep/bad", "after.txt")...)
	if !strings.Contains(stderr, "nested/deep/bad") {
		t.Errorf("stderr does not name the target:\n%s", stderr)
	}
	// Stopped at the failure: nothing of the bad target (no temporary
	// file, no directory made for it), and the next one never fetched.
	f.checkTargets(map[string][]byte{"good.txt": files["good.txt"]})
	if slices.Contains(f.repo.Requests(), f.repo.TargetName("after.txt")) {
		t.Fatal("download went on after a failed target")
	}

	// A cut connection fails the same way.
	f.repo.SetFault(f.repo.TargetName("nested/deep/bad"), simulator.Fault{CutAfter: 1000})
	f.mustFail(nil, "nested/deep/bad", f.downloadArgs("nested/deep/bad")...)
	f.checkTargets(map[string][]byte{"good.txt": files["good.txt"]})

	f.repo.ClearFaults()
	f.mustRun(nil, f.downloadArgs("good.txt", "nested/deep/bad", "after.txt")...)
	f.checkTargets(files)
}

func TestUnsafeTargetPath(t *testing.T) {
	t.Parallel()
	f := newFixture(t, simulator.Options{Seed: "unsafe"})
	f.repo.AddTarget("ok.txt", []byte("ok"), nil)
	// The repository lists a hostile name; its content is what a malicious
	// repository would like written outside the target directory.
	f.repo.AddTarget("../escape.txt", []byte("escaped"), nil)
	f.serve()
	f.mustRun(nil, f.initArgs()...)
	for _, name := range []string{"../escape.txt", "/etc/passwd", "a/../../b", `a\b`, "a/./b", "", "con.txt"} {
		f.repo.ResetRequests()
		f.mustFail(nil, "unsafe", f.downloadArgs("ok.txt", name)...)
		if got := f.repo.Requests(); len(got) != 0 {
			t.Fatalf("target %q: refused only after requests %q", name, got)
		}
	}
	f.checkTargets(nil)
	if _, err := os.Stat(filepath.Join(filepath.Dir(f.targetDir), "escape.txt")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("escape.txt outside the target directory: %v", err)
	}
}

func TestDelegatedRoleNames(t *testing.T) {
	t.Parallel()
	f := newFixture(t, simulator.Options{ConsistentSnapshot: true, Seed: "delegated"})
	f.repo.Delegate(simulator.RoleTargets, "team/a", simulator.DelegationOpts{Paths: []string{"a/*"}})
	f.repo.Delegate(simulator.RoleTargets, "..", simulator.DelegationOpts{Paths: []string{"dots/*"}})
	f.repo.Delegate(simulator.RoleTargets, "../up", simulator.DelegationOpts{Paths: []string{"up/*"}})
	f.repo.AddDelegatedTarget("team/a", "a/x.txt", []byte("x"), nil)
	f.repo.AddDelegatedTarget("..", "dots/y.txt", []byte("y"), nil)
	f.repo.AddDelegatedTarget("../up", "up/z.txt", []byte("z"), nil)
	f.serve()
	f.mustRun(nil, f.initArgs()...)
	f.mustRun(nil, f.downloadArgs("a/x.txt", "dots/y.txt", "up/z.txt")...)
	f.checkTargets(map[string][]byte{"a/x.txt": []byte("x"), "dots/y.txt": []byte("y"), "up/z.txt": []byte("z")})
	f.checkMetadataDir(append(slices.Clone(topLevel), "team/a", "..", "../up")...)
	for _, name := range []string{"team%2Fa.json", "%2E%2E.json", "%2E%2E%2Fup.json"} {
		if _, err := os.Stat(filepath.Join(f.metaDir, name)); err != nil {
			t.Errorf("delegated role file: %v", err)
		}
	}
}

func TestFailures(t *testing.T) {
	t.Parallel()
	f := newFixture(t, simulator.Options{Seed: "failures"})
	f.serve()

	// Nothing initialised yet.
	f.mustFail(nil, "not initialised", f.refreshArgs()...)
	if got := f.repo.Requests(); len(got) != 0 {
		t.Fatalf("refresh without a trust anchor made requests %q", got)
	}

	// A root that does not verify is refused and stored nowhere.
	bad := filepath.Join(t.TempDir(), "bad-root.json")
	if err := os.WriteFile(bad, simulator.FlipBit(f.repo.TrustedRoot()), 0o644); err != nil {
		t.Fatal(err)
	}
	f.mustFail(nil, "command=init", "--metadata-dir", f.metaDir, "init", bad)
	if _, err := os.Stat(filepath.Join(f.metaDir, "state", "trusted-root")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a bad root was stored: %v", err)
	}
	f.mustFail(nil, "no such file", "--metadata-dir", f.metaDir, "init", filepath.Join(t.TempDir(), "missing.json"))

	f.mustRun(nil, f.initArgs()...)
	f.mustRun(nil, f.refreshArgs()...)

	// Another root can't replace the anchor of an initialised directory.
	other := simulator.New(t, simulator.Options{Seed: "another repository"})
	otherRoot := filepath.Join(t.TempDir(), "other-root.json")
	if err := os.WriteFile(otherRoot, other.TrustedRoot(), 0o644); err != nil {
		t.Fatal(err)
	}
	f.mustFail(nil, "already initialised", "--metadata-dir", f.metaDir, "init", otherRoot)
	f.checkMetadataDir(topLevel...)

	f.mustFail(nil, "not an absolute http(s) URL", "--metadata-dir", f.metaDir, "--metadata-url", "ftp://example.com/", "refresh")

	// Plain http to a host that is not loopback is refused.
	f.mustFail(nil, "loopback", "--metadata-dir", f.metaDir, "--metadata-url", "http://192.0.2.1/metadata/", "refresh")

	// An invalid FAKETIME is an error before anything else happens.
	f.repo.ResetRequests()
	f.mustFail([]string{"FAKETIME=tomorrow"}, "invalid FAKETIME", f.refreshArgs()...)
	f.mustFail([]string{"FAKETIME=+1w"}, "invalid FAKETIME", f.refreshArgs()...)
	if got := f.repo.Requests(); len(got) != 0 {
		t.Fatalf("requests despite an invalid FAKETIME: %q", got)
	}
	// An empty FAKETIME means the real clock.
	f.mustRun([]string{"FAKETIME="}, "--metadata-dir", f.metaDir, "init", f.rootFile)

	// A target the metadata does not list.
	f.mustFail(nil, "no trusted role lists", f.downloadArgs("missing.txt")...)
	f.checkTargets(nil)
	f.checkMetadataDir(topLevel...)
}

// A mirror that accepts connections and never answers fails the refresh
// after one header timeout (10 s), not after minutes of retries.
func TestStalledMirror(t *testing.T) {
	t.Parallel()
	f := newFixture(t, simulator.Options{Seed: "stalled"})
	f.serve()
	f.mustRun(nil, f.initArgs()...)
	stalled := simulator.NewStalled(t)
	f.metaURL, _ = stalled.URLs()
	// A liveness bound, not a measurement.
	ctx, cancel := context.WithTimeout(t.Context(), 45*time.Second)
	defer cancel()
	code, stderr := f.runCtx(ctx, nil, f.refreshArgs()...)
	if ctx.Err() != nil {
		t.Fatalf("tufclient refresh with a stalled mirror still running after 45 s\n%s", stderr)
	}
	if code != 1 || !strings.Contains(stderr, "no response headers within 10s") {
		t.Fatalf("tufclient refresh with a stalled mirror: exit status %d, want 1 and the timeout\n%s", code, stderr)
	}
	if n := stalled.Accepted(); n > 1 {
		t.Errorf("the stalled mirror got %d connections, want 1", n)
	}
	f.checkMetadataDir(simulator.RoleRoot)
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, simulator.Options{Seed: "usage"})
	f.serve()
	d, u := f.metaDir, f.metaURL
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no arguments", nil, "no command"},
		{"only flags", []string{"--metadata-dir", d}, "no command"},
		{"unknown command", []string{"--metadata-dir", d, "update"}, "unknown command"},
		{"unknown flag", []string{"--metadata-dir", d, "--mirror", u, "refresh"}, "not defined"},
		{"flag without value", []string{"refresh", "--metadata-dir"}, "unexpected"},
		{"missing value", []string{"--metadata-dir"}, "needs an argument"},
		{"init without root", []string{"--metadata-dir", d, "init"}, "one argument"},
		{"init with two roots", []string{"--metadata-dir", d, "init", f.rootFile, f.rootFile}, "one argument"},
		{"init without dir", []string{"init", f.rootFile}, "needs --metadata-dir"},
		{"init with url", []string{"--metadata-dir", d, "--metadata-url", u, "init", f.rootFile}, "does not apply"},
		{"refresh without url", []string{"--metadata-dir", d, "refresh"}, "needs --metadata-url"},
		{"refresh with target", []string{"--metadata-dir", d, "--metadata-url", u, "--target-name", "a", "refresh"}, "does not apply"},
		{"flag after command", []string{"--metadata-dir", d, "refresh", "--metadata-url", u}, "flags come before"},
		{"download without target", []string{"--metadata-dir", d, "--metadata-url", u, "--target-dir", d, "--target-base-url", u, "download"}, "needs --target-name"},
		{"download without target dir", []string{"--metadata-dir", d, "--metadata-url", u, "--target-name", "a", "--target-base-url", u, "download"}, "needs --target-dir"},
		{"empty dir", []string{"--metadata-dir", "", "--metadata-url", u, "refresh"}, "must not be empty"},
		{"log key without log url", []string{"--metadata-dir", d, "--metadata-url", u, "--target-dir", d, "--target-name", "a", "--target-base-url", u, "--log-key", "k", "download"}, "need --log-url and --log-key"},
		{"refresh with a log", []string{"--metadata-dir", d, "--metadata-url", u, "--log-url", u, "--log-key", "k", "refresh"}, "does not apply"},
		{"log without monitor", []string{"--metadata-dir", d, "--metadata-url", u, "--log-url", u, "--log-key", "k", "log"}, "log takes: monitor"},
		{"monitor without log key", []string{"--metadata-dir", d, "--metadata-url", u, "--log-url", u, "log", "monitor"}, "needs --log-key"},
	}
	for _, tt := range tests {
		stderr := f.mustFail(nil, tt.want, tt.args...)
		if !strings.Contains(stderr, "usage:") {
			t.Errorf("%s: no usage text:\n%s", tt.name, stderr)
		}
	}
	if got := f.repo.Requests(); len(got) != 0 {
		t.Fatalf("usage errors made requests %q", got)
	}
	if got := tree(t, d); len(got) != 0 {
		t.Fatalf("usage errors created %q", got)
	}
	code, stderr := f.run(nil, "-h")
	if code != 0 || !strings.Contains(stderr, "FAKETIME") || !strings.Contains(stderr, "-target-name PATH") {
		t.Fatalf("-h: exit status %d\n%s", code, stderr)
	}
}

// The audit log of a run verifies, and `audit verify` reports the exact
// record after an edit, a deletion and a reordering, and truncation against
// the anchor in the trusted state.
func TestAuditVerify(t *testing.T) {
	t.Parallel()
	f := newFixture(t, simulator.Options{})
	f.repo.AddTarget("a.txt", []byte("a"), nil)
	f.serve()
	f.mustRun(nil, f.initArgs()...)
	f.mustRun(nil, f.refreshArgs()...)
	f.repo.AddKey("root")
	f.repo.PublishRoot()
	f.mustRun(nil, f.downloadArgs("a.txt")...)
	logFile := filepath.Join(f.metaDir, "audit", "audit.log")
	f.mustRun(nil, "audit", "verify", logFile)
	f.mustRun(nil, "audit", "verify", filepath.Join(f.metaDir, "audit"))
	f.mustRun(nil, "--metadata-dir", f.metaDir, "audit", "verify")

	orig, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(bytes.TrimSuffix(orig, []byte("\n")), []byte("\n"))
	if len(lines) < 4 {
		t.Fatalf("audit log has %d records, want at least 4", len(lines))
	}
	for name, tc := range map[string]struct {
		edit func([][]byte) [][]byte
		want string
	}{
		"edit": {func(l [][]byte) [][]byte {
			l[1] = bytes.Replace(l[1], []byte(`"kind":"`), []byte(`"kind":"x`), 1)
			return l
		}, "line 2"},
		"deletion":   {func(l [][]byte) [][]byte { return append(l[:1:1], l[2:]...) }, "line 2"},
		"reordering": {func(l [][]byte) [][]byte { l[1], l[2] = l[2], l[1]; return l }, "line 2"},
	} {
		tampered := tc.edit(slices.Clone(lines))
		if err := os.WriteFile(logFile, bytes.Join(tampered, nil), 0o600); err != nil {
			t.Fatal(err)
		}
		stderr := f.mustFail(nil, tc.want, "audit", "verify", logFile)
		if !strings.Contains(stderr, name[:4]) && name != "edit" {
			t.Errorf("%s: stderr does not name the kind of break:\n%s", name, stderr)
		}
	}
	// Truncation leaves a valid chain: only the anchor shows it. It holds
	// the last record in full, so one record missing is a crash the next
	// start repairs; two are truncation.
	if err := os.WriteFile(logFile, bytes.Join(lines[:len(lines)-1], nil), 0o600); err != nil {
		t.Fatal(err)
	}
	f.mustRun(nil, "--metadata-dir", f.metaDir, "audit", "verify")
	if err := os.WriteFile(logFile, bytes.Join(lines[:len(lines)-2], nil), 0o600); err != nil {
		t.Fatal(err)
	}
	f.mustRun(nil, "audit", "verify", logFile)
	f.mustFail(nil, "truncated", "--metadata-dir", f.metaDir, "audit", "verify")
}

// After a clock that was wrong in the future, refresh fails naming the
// fix; clock reset-unsafe applies it, recorded in the audit log, and
// refresh works again. Before the refresh that trusted the wrong time, the
// reset changes nothing.
func TestClockReset(t *testing.T) {
	t.Parallel()
	f := newFixture(t, simulator.Options{})
	f.serve()
	f.mustRun(nil, f.initArgs()...)
	f.mustRun(nil, "--metadata-dir", f.metaDir, "clock", "reset-unsafe")
	f.mustRun([]string{fakeTime(f.repo.Now().Add(time.Hour))}, f.refreshArgs()...)
	stderr := f.mustFail(nil, "clock reads", f.refreshArgs()...)
	if !strings.Contains(stderr, "ResetTrustedTimeUnsafe") {
		t.Errorf("the clock failure does not name the fix:\n%s", stderr)
	}
	f.mustFail(nil, "clock takes: reset-unsafe", "--metadata-dir", f.metaDir, "clock", "reset")
	f.mustRun(nil, "--metadata-dir", f.metaDir, "clock", "reset-unsafe")
	f.mustRun(nil, f.refreshArgs()...)
	f.mustRun(nil, "--metadata-dir", f.metaDir, "audit", "verify")
	log, err := os.ReadFile(filepath.Join(f.metaDir, "audit", "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(log, []byte(`"kind":"clock-reset"`)); n != 1 {
		t.Errorf("audit log holds %d clock-reset records, want 1:\n%s", n, log)
	}
}
