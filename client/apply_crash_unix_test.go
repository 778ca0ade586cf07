//go:build unix

package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/internal/simulator"
)

// Crashes during client.Apply: a child process (this test binary again)
// runs Apply and SIGKILLs itself at the n-th log record the client writes,
// inside the health check, or in the middle of the download. The swap's own
// steps are interrupted one by one in internal/selfupdate's crash tests.

const applyCrashEnv = "LATCH_APPLY_CRASH"

type applyCrashJob struct {
	StateDir, Exe string
	Mode          string // "log", "revert", "recover", "check" or "download"
	Kill          int    // log, revert and recover modes: kill at this record, counted from 0
	// First: the first update; latch has no record of the executable
	// (v1, which says so with CurrentVersion).
	First bool
	// Unhealthy: v2's health check fails (otherwise it passes, and says
	// so in checkedMarker).
	Unhealthy bool
}

// checkedMarker is the file a passing health check of the child writes
// before it returns.
func (j applyCrashJob) checkedMarker() string {
	return filepath.Join(filepath.Dir(j.StateDir), "checked")
}

var errUnhealthy = errors.New("unhealthy")

// crashRepo is the repository both processes build: same seed, same
// steps, so the same signed bytes. It offers 1.0.0 and, with both, 2.0.0.
func crashRepo(t *testing.T, both bool) *simulator.Repo {
	repo := simulator.New(t, simulator.Options{Seed: "apply-crash"})
	publishApp(repo, "1.0.0", "", buildV1)
	repo.Publish()
	if both {
		publishApp(repo, "2.0.0", "", buildV2)
		repo.Publish()
	}
	return repo
}

func crashClient(t *testing.T, repo *simulator.Repo, stateDir string, opts ...client.Option) *client.Client {
	t.Helper()
	metaURL, targetsURL := repo.Serve()
	cfg := client.Config{TrustedRoot: repo.TrustedRoot(), MetadataURLs: []string{metaURL}, TargetURLs: []string{targetsURL}, StateDir: stateDir}
	c, err := client.New(cfg, append([]client.Option{client.WithClock(repo.Now), client.WithFetcher(fastFetcher())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func die() {
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

// killHandler is a slog.Handler that kills the process at record number
// kill.
type killHandler struct {
	n    *atomic.Int64
	kill int64
}

func (h killHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h killHandler) Handle(context.Context, slog.Record) error {
	if h.n.Add(1)-1 == h.kill {
		die()
	}
	return nil
}
func (h killHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h killHandler) WithGroup(string) slog.Handler      { return h }

// killFetcher kills the process halfway through the first target body.
type killFetcher struct{ client.Fetcher }

func (f killFetcher) Fetch(ctx context.Context, url string, offset, max int64) (io.ReadCloser, error) {
	rc, err := f.Fetcher.Fetch(ctx, url, offset, max)
	if err != nil || !strings.Contains(url, "/targets/app/") {
		return rc, err
	}
	return killReader{rc}, nil
}

type killReader struct{ io.ReadCloser }

func (r killReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p[:min(len(p), 8)])
	if n > 0 {
		die()
	}
	return n, err
}

func TestApplyCrashChild(t *testing.T) {
	env := os.Getenv(applyCrashEnv)
	if env == "" {
		t.Skip("run by TestApplyCrash as a child process")
	}
	var job applyCrashJob
	if err := json.Unmarshal([]byte(env), &job); err != nil {
		t.Fatal(err)
	}
	repo := crashRepo(t, true)
	var opts []client.Option
	check := func(context.Context, string) error {
		if job.Unhealthy {
			return errUnhealthy
		}
		return os.WriteFile(job.checkedMarker(), nil, 0o600)
	}
	switch job.Mode {
	case "log", "revert", "recover":
		opts = append(opts, client.WithLogger(slog.New(killHandler{n: new(atomic.Int64), kill: int64(job.Kill)})))
	case "check":
		check = func(context.Context, string) error { die(); return nil }
	case "download":
		opts = append(opts, client.WithFetcher(killFetcher{fastFetcher()}))
	}
	c := crashClient(t, repo, job.StateDir, opts...)
	defer c.Close()
	switch job.Mode {
	case "revert":
		if err := c.RevertUnsafe("app", job.Exe); err != nil {
			t.Fatal(err)
		}
		return
	case "recover":
		if err := c.Recover("app", job.Exe); err != nil {
			t.Fatal(err)
		}
		return
	}
	_, err := c.Apply(context.Background(), client.Release{App: "app"}, job.Exe, client.HealthCheck(check), client.CurrentVersion("1.0.0"))
	if err != nil && !(job.Unhealthy && errors.Is(err, errUnhealthy)) {
		t.Fatal(err)
	}
}

// TestApplyCrash kills Apply at each log record (the self-updater logs
// every change to the disk before it makes it), in the health check and
// during the download, for the first update (latch has no record of v1)
// and a later one (v1 was recorded). After each kill the executable is
// exactly v1 or v2 and runnable, v2 only if its health check passed, and
// the floor is none, 1.0.0 or 2.0.0; Recover then makes the executable,
// the floor and the records of the bytes on disk agree, and Apply completes
// the update.
func TestApplyCrash(t *testing.T) {
	applyCrashEverywhere(t, false)
}

// TestApplyCrashNeverUnchecked: as TestApplyCrash for a v2 whose health
// check fails. With the default placement of the check (beside the
// executable, before the swap), no kill at any point leaves v2 at the
// executable's path, and an application whose start-up just calls Apply
// (which recovers first) keeps running v1: a crash never makes it run a
// build that did not pass its check.
func TestApplyCrashNeverUnchecked(t *testing.T) {
	applyCrashEverywhere(t, true)
}

func applyCrashEverywhere(t *testing.T, unhealthy bool) {
	if os.Getenv(applyCrashEnv) != "" {
		t.Skip("in a child process")
	}
	for _, first := range []bool{false, true} {
		t.Run(map[bool]string{false: "later", true: "first"}[first], func(t *testing.T) {
			kills := 0
			for _, job := range []applyCrashJob{{Mode: "check"}, {Mode: "download"}} {
				job.First, job.Unhealthy = first, unhealthy
				if !applyCrashRun(t, job) {
					t.Fatalf("%+v: the child was not killed", job)
				}
				kills++
			}
			for n := 0; ; n++ {
				if n == 500 {
					t.Fatal("the child was killed at every log record")
				}
				if !applyCrashRun(t, applyCrashJob{Mode: "log", Kill: n, First: first, Unhealthy: unhealthy}) {
					if n < 10 {
						t.Fatalf("only %d log records", n)
					}
					break
				}
				kills++
			}
			t.Logf("%d kills in Apply", kills)
		})
	}
}

// applyCrashRun runs job in a child, checks what the kill (or the end of
// the update) left, recovers and updates, and reports whether the child
// was killed.
func applyCrashRun(t *testing.T, job applyCrashJob) bool {
	t.Helper()
	setUpCrash(t, &job)
	killed := runCrashChild(t, job)

	// What a user finds after the kill (or the completed update).
	exe, err := os.ReadFile(job.Exe)
	if err != nil || !bytes.Equal(exe, buildV1) && !bytes.Equal(exe, buildV2) {
		t.Fatalf("%+v: executable %q, %v", job, exe, err)
	}
	if st, err := os.Stat(job.Exe); err != nil || st.Mode().Perm() != 0o755 {
		t.Fatalf("%+v: executable mode %v, %v", job, st.Mode(), err)
	}
	// Even before any recovery, v2 is at the executable's path only once
	// its health check passed.
	if bytes.Equal(exe, buildV2) && (job.Unhealthy || !exists(job.checkedMarker())) {
		t.Fatalf("%+v: v2 at the executable's path before its health check passed", job)
	}
	repo := crashRepo(t, true)
	c := crashClient(t, repo, job.StateDir)
	defer c.Close()
	floor := c.Status().Installed["app"].Version
	if floor != "1.0.0" && floor != "2.0.0" && !(job.First && floor == "") {
		t.Fatalf("%+v: floor %q", job, floor)
	}
	if job.Unhealthy {
		applyUnhealthyAfterCrash(t, c, job)
		c.Close()
		wantEachActionAudited(t, job.StateDir, buildV2, nil, job)
		return killed
	}
	if !killed {
		if floor != "2.0.0" || !bytes.Equal(exe, buildV2) {
			t.Errorf("completed: floor %q, executable %q", floor, exe)
		}
		c.Close()
		wantEachActionAudited(t, job.StateDir, buildV2, nil, job)
		return false
	}
	if err := c.Recover("app", job.Exe); err != nil {
		t.Fatalf("%+v: Recover: %v", job, err)
	}
	// Whatever the kill interrupted, each operation on the executable
	// that began has one audit record, written by the update or by the
	// recovery.
	c.Close()
	wantEachActionAudited(t, job.StateDir, buildV2, nil, job)
	c = crashClient(t, repo, job.StateDir)
	defer c.Close()
	exe, _ = os.ReadFile(job.Exe)
	floor = c.Status().Installed["app"].Version
	if !(floor == "1.0.0" && bytes.Equal(exe, buildV1) || floor == "2.0.0" && bytes.Equal(exe, buildV2) || job.First && floor == "" && bytes.Equal(exe, buildV1)) {
		t.Fatalf("%+v: after Recover, floor %q and executable %q disagree", job, floor, exe)
	}
	checkBuilds(t, c, job.Exe)
	if _, err := c.Apply(context.Background(), client.Release{App: "app"}, job.Exe, client.CurrentVersion("1.0.0")); err != nil {
		t.Fatalf("%+v: Apply after the crash: %v", job, err)
	}
	exe, _ = os.ReadFile(job.Exe)
	if floor := c.Status().Installed["app"].Version; floor != "2.0.0" || !bytes.Equal(exe, buildV2) {
		t.Fatalf("%+v: after Apply, floor %q, executable %q", job, floor, exe)
	}
	checkBuilds(t, c, job.Exe)
	entries, _ := os.ReadDir(filepath.Dir(job.Exe))
	for _, e := range entries {
		if e.Name() != "app" && e.Name() != ".app.latch" {
			t.Errorf("%+v: left beside the executable: %s", job, e.Name())
		}
	}
	return true
}

// setUpCrash gives job a new state directory and executable, v1, and
// unless job.First records 1.0.0 as installed.
func setUpCrash(t *testing.T, job *applyCrashJob) {
	t.Helper()
	dir := t.TempDir()
	job.StateDir, job.Exe = filepath.Join(dir, "state"), filepath.Join(dir, "bin", "app")
	if err := os.MkdirAll(filepath.Dir(job.Exe), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(job.Exe, buildV1, 0o755); err != nil {
		t.Fatal(err)
	}
	if !job.First {
		// 1.0.0 is installed (and recorded) before the update.
		repo := crashRepo(t, false)
		c := crashClient(t, repo, job.StateDir)
		if res, err := c.Apply(context.Background(), client.Release{App: "app"}, job.Exe); err != nil || res.Updated {
			t.Fatalf("recording 1.0.0: %+v, %v", res, err)
		}
		c.Close()
	}
}

// runCrashChild runs job in a child process and reports whether it was
// killed.
func runCrashChild(t *testing.T, job applyCrashJob) bool {
	t.Helper()
	env, _ := json.Marshal(job)
	cmd := exec.Command(os.Args[0], "-test.run=^TestApplyCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), applyCrashEnv+"="+string(env), "GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	killed := errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL
	if err != nil && !killed {
		t.Fatalf("child %+v: %v\n%s", job, err, out)
	}
	return killed
}

// checkBuilds checks that what Builds says about the executable and the
// kept builds is what their bytes are: v1 is 1.0.0, v2 is 2.0.0.
func checkBuilds(t *testing.T, c *client.Client, exe string) {
	t.Helper()
	b, err := c.Builds("app", exe)
	if err != nil {
		t.Fatal(err)
	}
	versions := map[string]string{hexSHA256(buildV1): "1.0.0", hexSHA256(buildV2): "2.0.0"}
	for _, bi := range append([]client.BuildInfo{b.Installed}, b.Kept...) {
		data, err := os.ReadFile(bi.Path)
		if err != nil {
			t.Fatal(err)
		}
		if bi.ExecutableSHA256 != hexSHA256(data) {
			t.Errorf("%s: Builds says sha256 %.12s, the bytes are %.12s", bi.Path, bi.ExecutableSHA256, hexSHA256(data))
		}
		if bi.Version != "" && bi.Version != versions[bi.ExecutableSHA256] {
			t.Errorf("%s: labelled %s, its bytes are %s", bi.Path, bi.Version, versions[bi.ExecutableSHA256])
		}
	}
}

// applyUnhealthyAfterCrash is the start-up of an application whose v2
// fails its health check, after the kill (or the end) of an update to v2:
// it calls Apply alone, with the same check, which recovers first. v1
// stays at the executable's path throughout, and is what latch records.
func applyUnhealthyAfterCrash(t *testing.T, c *client.Client, job applyCrashJob) {
	t.Helper()
	unhealthy := client.HealthCheck(func(context.Context, string) error { return errUnhealthy })
	res, err := c.Apply(context.Background(), client.Release{App: "app"}, job.Exe, unhealthy, client.CurrentVersion("1.0.0"))
	if err != nil && !errors.Is(err, client.ErrHealthCheck) {
		t.Fatalf("%+v: Apply after the crash: %v", job, err)
	}
	if exe, err := os.ReadFile(job.Exe); err != nil || !bytes.Equal(exe, buildV1) {
		t.Fatalf("%+v: after Apply, executable %q, %v; want v1", job, exe, err)
	}
	floor := c.Status().Installed["app"].Version
	if err == nil && (res.Updated || floor != "1.0.0" || res.KnownBad == nil || res.KnownBad.Version != "2.0.0") {
		t.Errorf("%+v: after Apply, %+v (known bad %+v), floor %q; want v1 recorded and v2 named known bad", job, res, res.KnownBad, floor)
	}
	if err != nil && floor != "1.0.0" && !(job.First && floor == "") {
		t.Errorf("%+v: after Apply, floor %q", job, floor)
	}
	checkBuilds(t, c, job.Exe)
}
