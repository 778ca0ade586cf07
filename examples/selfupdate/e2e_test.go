package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch/internal/simulator"
	"github.com/latchsec/latch/internal/testproc"
)

// TestSelfUpdate builds version 1.0.0 and 2.0.0 of the application,
// publishes 2.0.0 in a loopback repository, and runs 1.0.0 with --update:
// the executable on disk becomes 2.0.0 and runs. Then a tampered build (its
// bytes flipped on the server) and an older build (1.5.0 as the newest in
// the channel, below the installed 2.0.0) are both refused, and the
// executable stays 2.0.0.
func TestSelfUpdate(t *testing.T) {
	dir, exeName, builds := buildVersions(t, "1.0.0", "2.0.0")

	repo := simulator.New(t, simulator.Options{ConsistentSnapshot: true})
	platform := runtime.GOOS + "-" + runtime.GOARCH
	publish := func(version string, data []byte) string {
		p := fmt.Sprintf("selfupdate/%s/%s", version, platform)
		repo.AddTarget(p, data, map[string]any{"version": version, "channels": []string{"stable"}})
		return p
	}
	v2 := publish("2.0.0", builds["2.0.0"])
	repo.Publish()
	metaURL, targetURL := repo.Serve()
	rootFile := filepath.Join(dir, "root.json")
	if err := os.WriteFile(rootFile, repo.TrustedRoot(), 0o644); err != nil {
		t.Fatal(err)
	}

	// The installed application is 1.0.0.
	exe := filepath.Join(dir, "installed", exeName)
	if err := os.MkdirAll(filepath.Dir(exe), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, builds["1.0.0"], 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (int, string, string) {
		t.Helper()
		return runExe(t, exe, args...)
	}
	update := func() (int, string, string) {
		t.Helper()
		return run("--update", "--root", rootFile, "--metadata-url", metaURL, "--target-url", targetURL,
			"--state-dir", filepath.Join(dir, "state"), "--now", repo.Now().Format(time.RFC3339))
	}
	wantInstalled := func(version string) {
		t.Helper()
		b, err := os.ReadFile(exe)
		if err != nil || !bytes.Equal(b, builds[version]) {
			t.Fatalf("the executable on disk is not the %s build (%v)", version, err)
		}
		if code, out, stderr := run("--version"); code != 0 || strings.TrimSpace(out) != version {
			t.Fatalf("--version: exit %d, %q, %s; want %s", code, out, stderr, version)
		}
	}
	wantInstalled("1.0.0")

	code, out, stderr := update()
	if code != 0 || !strings.Contains(out, "updated 1.0.0 to 2.0.0") {
		t.Fatalf("--update: exit %d\n%s%s", code, out, stderr)
	}
	wantInstalled("2.0.0")
	if code, out, stderr := update(); code != 0 || !strings.Contains(out, "up to date: 2.0.0") {
		t.Fatalf("--update again: exit %d\n%s%s", code, out, stderr)
	}

	// A tampered 3.0.0: the repository signed one build, the server sends
	// other bytes.
	v3 := publish("3.0.0", builds["1.0.0"])
	repo.Publish()
	repo.SetFault(repo.TargetName(v3), simulator.Fault{Mutate: simulator.FlipBit})
	code, out, stderr = update()
	if code != 4 || !strings.Contains(stderr, "hash") {
		t.Fatalf("tampered build: exit %d, want 4 (hash mismatch)\n%s%s", code, out, stderr)
	}
	wantInstalled("2.0.0")

	// An older build as the newest in the channel: 1.5.0 below the
	// installed 2.0.0.
	repo.ClearFaults()
	repo.RemoveTarget("targets", v3)
	repo.RemoveTarget("targets", v2)
	publish("1.5.0", builds["1.0.0"])
	repo.Publish()
	code, out, stderr = update()
	if code != 3 || !strings.Contains(stderr, "1.5.0 is older than installed 2.0.0") {
		t.Fatalf("older build: exit %d, want 3 (rollback)\n%s%s", code, out, stderr)
	}
	wantInstalled("2.0.0")

	// --builds lists what is on disk: 2.0.0 in place, 1.0.0 kept (the
	// version 1.0.0 said it was at its first update).
	code, out, stderr = run("--builds", "--root", rootFile, "--state-dir", filepath.Join(dir, "state"))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "installed 2.0.0") || !strings.HasPrefix(lines[1], "kept      1.0.0") {
		t.Fatalf("--builds: exit %d\n%s%s", code, out, stderr)
	}

	// Nothing left beside the executable but latch's hidden work directory
	// with the kept 1.0.0 build.
	entries, err := os.ReadDir(filepath.Dir(exe))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != exeName && e.Name() != "."+exeName+".latch" {
			t.Errorf("left beside the executable: %s", e.Name())
		}
	}
}

// buildVersions builds the application once for each version, in a
// temporary directory, and returns that directory, the executable's file
// name and the executables' bytes by version. It skips the test in -short
// mode.
func buildVersions(t *testing.T, versions ...string) (dir, exeName string, builds map[string][]byte) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the application")
	}
	dir, exeName, builds = t.TempDir(), "selfupdate", map[string][]byte{}
	if runtime.GOOS == "windows" {
		exeName += ".exe"
	}
	for _, v := range versions {
		out := filepath.Join(dir, "build-"+v, exeName)
		cmd := exec.Command("go", "build", "-ldflags", "-X main.version="+v, "-o", out, ".")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", v, err, b)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		builds[v] = b
	}
	return dir, exeName, builds
}

// runExe runs exe with args and returns its exit status and output.
func runExe(t *testing.T, exe string, args ...string) (int, string, string) {
	t.Helper()
	return testproc.Run(t, exec.Command(exe, args...))
}

func TestUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(t.Context(), []string{"--version"}, &out, &errOut); code != 0 || strings.TrimSpace(out.String()) != version {
		t.Errorf("--version: %d %q", code, out.String())
	}
	for _, args := range [][]string{{"--update"}, {"--builds"}, {"extra"}, {"--bogus"}, {"--update", "--map", "m.json", "--state-dir", "s"},
		{"--update", "--map", "m.json", "--roots", "r", "--state-dir", "s", "--root", "root.json"}, {"--builds", "--map", "m.json", "--state-dir", "s"}} {
		if code := run(t.Context(), args, &out, &errOut); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}
