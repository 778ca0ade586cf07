//go:build unix

package client_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/internal/simulator"
	"github.com/latchsec/latch/rollback"
	"golang.org/x/mod/semver"
)

// The crash campaign: a randomised, seeded, reproducible crash-injection
// test of Apply, run the way an application runs it. The application is a
// shell script (one per build) that answers --version itself, as a
// health check, and runs its update by exec'ing this test binary, passing
// its own version as CurrentVersion: the build at the executable's path
// runs the update, as in a real application. Each scenario starts from a
// first install (latch has no record of the build) or a later one, and
// publishes rounds of releases that are good, slow, broken (can't start)
// or crashing (SIGSEGV), plain or archived, checked beside the executable
// or (HealthCheckAfterSwapUnsafe) in place. Runs are killed at a random
// log record of the updater (the self-updater logs every change to the
// disk before it makes it, so every step is a kill point), during the
// download, in the health check's process, in both at once, and in the
// run that recovers from the previous kill; each run has a random working
// directory, one of them full of the journal's names. After every run and
// after the application settles, the invariants below are checked.
//
//	LATCH_CAMPAIGN_RUNS      scenarios to run (default 8; the long mode is
//	                         LATCH_CAMPAIGN_RUNS=400, over 1,000 kills)
//	LATCH_CAMPAIGN_SEED      seed (default 1)
//	LATCH_CAMPAIGN_SCENARIO  run only this scenario of the seed
//
// The long campaign:
//
//	LATCH_CAMPAIGN_RUNS=400 go test ./client -run 'TestApplyCrashCampaign$' -v -timeout 2h

const (
	campaignJobEnv     = "LATCH_CAMPAIGN_JOB"
	campaignVersionEnv = "LATCH_CAMPAIGN_VERSION"
	campaignUpdaterEnv = "LATCH_CAMPAIGN_UPDATER"
	campaignCheckEnv   = "LATCH_CAMPAIGN_KILL_CHECK"
	campaignResult     = "CAMPAIGN-RESULT"
)

// campaignJob is what the parent tells an updater run.
type campaignJob struct {
	StateDir, Exe, Root, MetaURL, TargetURL string
	Now                                     time.Time
	Recover                                 bool // Recover only, as at start-up
	InPlace                                 bool // HealthCheckAfterSwapUnsafe
	KillLog                                 int  // kill at this log record; -1: never
	KillDownload                            bool // kill halfway through the download
}

// TestApplyCrashCampaignChild is an updater run; it does nothing unless
// started by an application of TestApplyCrashCampaign.
func TestApplyCrashCampaignChild(t *testing.T) {
	env := os.Getenv(campaignJobEnv)
	if env == "" {
		t.Skip("run by TestApplyCrashCampaign's applications")
	}
	var job campaignJob
	if err := json.Unmarshal([]byte(env), &job); err != nil {
		t.Fatal(err)
	}
	root, err := os.ReadFile(job.Root)
	if err != nil {
		t.Fatal(err)
	}
	opts := []client.Option{client.WithClock(func() time.Time { return job.Now }), client.WithFetcher(fastFetcher())}
	if job.KillDownload {
		opts = append(opts, client.WithFetcher(killFetcher{fastFetcher()}))
	}
	if job.KillLog >= 0 {
		opts = append(opts, client.WithLogger(slog.New(killHandler{n: new(atomic.Int64), kill: int64(job.KillLog)})))
	}
	c, err := client.New(client.Config{TrustedRoot: root, MetadataURLs: []string{job.MetaURL}, TargetURLs: []string{job.TargetURL}, StateDir: job.StateDir}, opts...)
	if err != nil {
		fmt.Printf("%s error %q\n", campaignResult, err)
		return
	}
	defer c.Close()
	if job.Recover {
		if err := c.Recover("app", job.Exe); err != nil {
			fmt.Printf("%s error %q\n", campaignResult, err)
			return
		}
		fmt.Printf("%s recovered\n", campaignResult)
		return
	}
	aopts := []client.ApplyOption{
		client.HealthCheckCommand(20*time.Second, "--version"),
		client.CurrentVersion(os.Getenv(campaignVersionEnv)),
		client.KeepPrevious(2),
	}
	if job.InPlace {
		aopts = append(aopts, client.HealthCheckAfterSwapUnsafe())
	}
	res, err := c.Apply(context.Background(), client.Release{App: "app"}, job.Exe, aopts...)
	var outcome string
	switch {
	case err == nil && res.Updated:
		outcome = "updated " + res.Release.Version
	case err == nil:
		outcome = "uptodate " + res.Release.Version
	case errors.Is(err, client.ErrHealthCheck):
		outcome = "unhealthy"
	case errors.Is(err, client.ErrHealthCheckInterrupted):
		outcome = "interrupted"
	case errors.Is(err, client.ErrKnownBad):
		outcome = "knownbad"
	case errors.Is(err, client.ErrRollback):
		outcome = "refused"
	default:
		outcome = fmt.Sprintf("error %q", err)
	}
	fmt.Printf("%s %s\n", campaignResult, outcome)
}

func TestApplyCrashCampaign(t *testing.T) {
	if os.Getenv(campaignJobEnv) != "" {
		t.Skip("in a child process")
	}
	runs, seed, only := 8, uint64(1), -1
	for name, p := range map[string]*int{"LATCH_CAMPAIGN_RUNS": &runs, "LATCH_CAMPAIGN_SCENARIO": &only} {
		if v := os.Getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			*p = n
		}
	}
	if v := os.Getenv("LATCH_CAMPAIGN_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("LATCH_CAMPAIGN_SEED: %v", err)
		}
		seed = n
	}
	if only >= 0 {
		runs = only + 1
	}
	updater, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var total campaignFigures
	for i := range runs {
		if only >= 0 && i != only {
			continue
		}
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			s := newScenario(t, updater, seed, i)
			if err := s.run(); err != nil {
				s.figures.violations++
				t.Errorf("violation (reproduce with LATCH_CAMPAIGN_SEED=%d LATCH_CAMPAIGN_SCENARIO=%d): %v\n%s", seed, i, err, strings.Join(s.history, "\n"))
			} else if testing.Verbose() && only >= 0 {
				t.Log(strings.Join(s.history, "\n"))
			}
			total.add(s.figures)
		})
	}
	t.Logf("seed %d: %d scenarios, %d runs, %d kills (%d updaters, %d health checks, %d in the run recovering from a kill), %d outside recoveries, %d violations, %v",
		seed, total.scenarios, total.runs, total.kills(), total.updaterKills, total.checkKills, total.recoveryKills, total.outsideRecovers, total.violations, time.Since(start).Round(time.Second))
}

type campaignFigures struct {
	scenarios, runs, updaterKills, checkKills, recoveryKills, outsideRecovers, violations int
}

func (f *campaignFigures) kills() int { return f.updaterKills + f.checkKills }

func (f *campaignFigures) add(g campaignFigures) {
	f.scenarios += g.scenarios
	f.runs += g.runs
	f.updaterKills += g.updaterKills
	f.checkKills += g.checkKills
	f.recoveryKills += g.recoveryKills
	f.outsideRecovers += g.outsideRecovers
	f.violations += g.violations
}

// campaignBuild is one build of the application.
type campaignBuild struct {
	version string
	kind    string // "good", "slow", "broken" (can't start), "crash" (SIGSEGV in its check)
	label   string // what it passes as CurrentVersion
	data    []byte
}

// works reports whether the build passes its health check.
func (b campaignBuild) works() bool { return b.kind == "good" || b.kind == "slow" }

func appScript(version, kind, label string) []byte {
	if kind == "broken" {
		return []byte("#!/bin/sh\n# app " + version + ", broken\necho cannot start >&2\nexit 1\n")
	}
	check := ""
	switch kind {
	case "slow":
		check = "sleep 0.2\n"
	case "crash":
		check = "kill -SEGV $$\n"
	}
	return fmt.Appendf(nil, `#!/bin/sh
# app %s, %s
if [ "$1" = --version ]; then
	case "$%s" in
	self) kill -9 $$ ;;
	both) kill -9 $PPID; kill -9 $$ ;;
	esac
	%secho %s
	exit 0
fi
%s=%s exec "$%s" -test.run='^TestApplyCrashCampaignChild$' -test.count=1
`, version, kind, campaignCheckEnv, check, version, campaignVersionEnv, label, campaignUpdaterEnv)
}

// campaignRelease is a published build.
type campaignRelease struct {
	build campaignBuild
	sum   string // of the release file
}

// scenario is one run of the campaign: an application, its repository and
// what the campaign knows and expects.
type scenario struct {
	t        *testing.T
	rng      *rand.Rand
	updater  string
	repo     *simulator.Repo
	job      campaignJob
	cwds     []string
	initial  campaignBuild
	first    bool
	builds   map[string]campaignBuild // by the SHA-256 of the executable
	releases []campaignRelease
	// settled is the build in place when the application last settled.
	settled campaignBuild
	// floor is the highest installed-version floor seen.
	floor string
	// interrupts counts the health checks that did not finish, per
	// release (from the audit log); installs and failures count the
	// installs and failed checks per release.
	interrupts, installs, failures map[string]int
	counted                        map[int64]bool // operations counted by countCrashInCheck
	auditSeen                      int
	killedSince                    bool // a run was killed since the last one that completed
	figures                        campaignFigures
	history                        []string
}

func newScenario(t *testing.T, updater string, seed uint64, i int) *scenario {
	s := &scenario{
		t: t, rng: rand.New(rand.NewPCG(seed, uint64(i))), updater: updater,
		builds: map[string]campaignBuild{}, interrupts: map[string]int{}, installs: map[string]int{}, failures: map[string]int{},
		counted: map[int64]bool{},
	}
	s.figures.scenarios = 1
	s.repo = simulator.New(t, simulator.Options{Seed: fmt.Sprintf("campaign-%d-%d", seed, i), ConsistentSnapshot: s.rng.IntN(2) == 0})
	dir := t.TempDir()
	s.job = campaignJob{
		StateDir: filepath.Join(dir, "state"), Exe: filepath.Join(dir, "bin", "app"), Root: filepath.Join(dir, "root.json"),
		Now: s.repo.Now(), InPlace: s.rng.IntN(4) == 0, KillLog: -1,
	}
	s.job.MetaURL, s.job.TargetURL = s.repo.Serve()
	names := filepath.Join(dir, "names")
	s.cwds = []string{filepath.Dir(s.job.Exe), names, dir, "/"}
	for _, d := range []string{names, filepath.Dir(s.job.Exe)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"new", "backup-1", "backup-2", "backup-3", "backup-4", "old-1", "old-2", ".app.latch-check", "app", "download"} {
		if err := os.WriteFile(filepath.Join(names, n), appScript("9.9.9", "broken", "9.9.9"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(s.job.Root, s.repo.TrustedRoot(), 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *scenario) logf(format string, args ...any) {
	s.history = append(s.history, fmt.Sprintf(format, args...))
}

// addBuild makes a build and remembers it by its executable's hash.
func (s *scenario) addBuild(version, kind, label string) campaignBuild {
	b := campaignBuild{version: version, kind: kind, label: label, data: appScript(version, kind, label)}
	s.builds[hexSHA256(b.data)] = b
	return b
}

// publish publishes b, plain or archived.
func (s *scenario) publish(b campaignBuild) {
	data, ext := b.data, ""
	if s.rng.IntN(3) == 0 {
		data, ext = tarGz(s.t, map[string][]byte{"app": b.data}), ".tar.gz"
	}
	publishApp(s.repo, b.version, ext, data)
	s.releases = append(s.releases, campaignRelease{build: b, sum: hexSHA256(data)})
	s.logf("published %s (%s%s)", b.version, b.kind, ext)
}

func (s *scenario) run() error {
	s.first = s.rng.IntN(2) == 0
	label := "1.0.0"
	if s.rng.IntN(4) == 0 {
		label = "dev"
	}
	s.initial = s.addBuild("1.0.0", "good", label)
	s.settled = s.initial
	mode := []fs.FileMode{0o755, 0o775, 0o777}[s.rng.IntN(3)]
	if err := os.WriteFile(s.job.Exe, s.initial.data, mode); err != nil {
		return err
	}
	if err := os.Chmod(s.job.Exe, mode); err != nil {
		return err
	}
	s.logf("first %v, label %s, in place %v, mode %v", s.first, label, s.job.InPlace, mode)
	if !s.first {
		// 1.0.0 is a release, recorded as installed.
		s.releases = append(s.releases, campaignRelease{build: s.initial, sum: hexSHA256(s.initial.data)})
		publishApp(s.repo, "1.0.0", "", s.initial.data)
		s.repo.Publish()
		if err := s.settle(); err != nil {
			return err
		}
	}
	next := 2
	for range 1 + s.rng.IntN(3) {
		for range 1 + s.rng.IntN(2) {
			kind := []string{"good", "good", "slow", "broken", "crash"}[s.rng.IntN(5)]
			v := fmt.Sprintf("%d.0.0", next)
			next++
			s.publish(s.addBuild(v, kind, v))
		}
		s.repo.Publish()
		// Runs that may be killed, until one finds nothing more to do.
		killed := false
		for range 1 + s.rng.IntN(5) {
			r, err := s.runApp(s.plan(killed))
			if err != nil {
				return err
			}
			if r.settled() {
				break
			}
			killed = r.killed
		}
		if err := s.settle(); err != nil {
			return err
		}
	}
	// A later update still works.
	v := fmt.Sprintf("%d.0.0", next)
	s.publish(s.addBuild(v, "good", v))
	s.repo.Publish()
	r, err := s.runApp(campaignPlan{killLog: -1})
	if err != nil {
		return err
	}
	if r.outcome != "updated "+v {
		return fmt.Errorf("a later update of a good release: %q, want updated %s", r.outcome, v)
	}
	return s.settle()
}

// campaignPlan is what one run of the application does and suffers.
type campaignPlan struct {
	recover      bool
	killLog      int
	killDownload bool
	killCheck    string // "", "self" or "both"
	cwd          string
}

func (p campaignPlan) String() string {
	var b strings.Builder
	if p.recover {
		b.WriteString("recover")
	} else {
		b.WriteString("update")
	}
	if p.killLog >= 0 {
		fmt.Fprintf(&b, ", kill at log record %d", p.killLog)
	}
	if p.killDownload {
		b.WriteString(", kill in the download")
	}
	if p.killCheck != "" {
		fmt.Fprintf(&b, ", kill the check (%s)", p.killCheck)
	}
	fmt.Fprintf(&b, ", in %s", p.cwd)
	return b.String()
}

// plan draws a run; after a kill it may be a start-up recovery, and it may
// be killed too.
func (s *scenario) plan(afterKill bool) campaignPlan {
	p := campaignPlan{killLog: -1, recover: afterKill && s.rng.IntN(3) == 0}
	switch r := s.rng.IntN(20); {
	case r < 12:
		p.killLog = s.rng.IntN(28)
	case r < 15:
		p.killCheck = "self"
	case r < 18:
		p.killCheck = "both"
	case r < 19:
		p.killDownload = true
	}
	return p
}

// runResult is what a run of the application did.
type runResult struct {
	killed      bool
	cannotStart bool   // the build in place can't start
	outcome     string // the updater's CAMPAIGN-RESULT
}

// settled reports whether the run completed and found nothing more to
// do.
func (r runResult) settled() bool {
	f := strings.Fields(r.outcome)
	return !r.killed && len(f) > 0 && (f[0] == "uptodate" || f[0] == "knownbad" || f[0] == "refused")
}

// runApp runs the application at the executable's path with p and checks
// the invariants.
func (s *scenario) runApp(p campaignPlan) (runResult, error) {
	if p.cwd == "" {
		p.cwd = s.cwds[s.rng.IntN(len(s.cwds))]
		if work := filepath.Join(filepath.Dir(s.job.Exe), ".app.latch"); s.rng.IntN(5) == 0 && exists(work) {
			p.cwd = work
		}
	}
	job := s.job
	job.Recover, job.KillLog, job.KillDownload = p.recover, p.killLog, p.killDownload
	env, err := json.Marshal(job)
	if err != nil {
		return runResult{}, err
	}
	cmd := exec.Command(s.job.Exe)
	cmd.Dir = p.cwd
	cmd.Env = append(os.Environ(), campaignJobEnv+"="+string(env), campaignUpdaterEnv+"="+s.updater, campaignCheckEnv+"="+p.killCheck,
		"GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	out, err := cmd.CombinedOutput()
	s.figures.runs++
	var r runResult
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL:
		r.killed = true
		s.figures.updaterKills++
		if p.killCheck == "both" {
			s.figures.checkKills++
		}
		if s.killedSince {
			s.figures.recoveryKills++
		}
	case bytes.Contains(out, []byte("cannot start")) && !bytes.Contains(out, []byte(campaignResult)):
		r.cannotStart = true
	case err != nil:
		return r, fmt.Errorf("run (%v): %v\n%s", p, err, out)
	default:
		line := ""
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), campaignResult+" "); ok {
				line = rest
			}
		}
		if line == "" || strings.HasPrefix(line, "error") {
			return r, fmt.Errorf("run (%v): %s\n%s", p, line, out)
		}
		r.outcome = line
	}
	s.logf("run: %v -> killed %v, cannot start %v, %s", p, r.killed, r.cannotStart, r.outcome)
	if err := s.checkAfterRun(p, r); err != nil {
		return r, err
	}
	if r.killed {
		s.killedSince = true
		if err := s.countCrashInCheck(); err != nil {
			return r, err
		}
	} else if !r.cannotStart {
		s.killedSince = false
	}
	return r, nil
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// inPlace returns the build at the executable's path.
func (s *scenario) inPlace() (campaignBuild, fs.FileMode, error) {
	st, err := os.Lstat(s.job.Exe)
	if err != nil {
		return campaignBuild{}, 0, fmt.Errorf("the executable: %w", err)
	}
	if !st.Mode().IsRegular() {
		return campaignBuild{}, 0, fmt.Errorf("the executable is %v", st.Mode())
	}
	data, err := os.ReadFile(s.job.Exe)
	if err != nil {
		return campaignBuild{}, 0, err
	}
	b, ok := s.builds[hexSHA256(data)]
	if !ok {
		return campaignBuild{}, 0, fmt.Errorf("the executable holds unknown bytes %q", data)
	}
	return b, st.Mode().Perm(), nil
}

// checkAfterRun checks what must hold after every run: the executable
// exists and is a build that works or the one that was there before
// (never a broken build, unless checked in place and killed), never older
// than the last settled one; after a run that completed, nothing stray is
// left and the records match the bytes on disk.
func (s *scenario) checkAfterRun(p campaignPlan, r runResult) error {
	b, mode, err := s.inPlace()
	if err != nil {
		return err
	}
	if b.data != nil && string(b.data) != string(s.initial.data) && mode&0o022 != 0 {
		return fmt.Errorf("%s installed with mode %v: group or others can write it", b.version, mode)
	}
	if !b.works() && !(s.job.InPlace && (r.killed || r.cannotStart)) {
		return fmt.Errorf("%s (%s) is at the executable's path", b.version, b.kind)
	}
	if semver.Compare("v"+b.version, "v"+s.settled.version) < 0 {
		return fmt.Errorf("%s is older than %s, in place before", b.version, s.settled.version)
	}
	if r.killed || r.cannotStart {
		return nil
	}
	if err := s.checkNoStrays(); err != nil {
		return err
	}
	return s.checkRecords(p, b)
}

// checkNoStrays: beside the executable only it and the work directory, in
// the state directory no temporary file.
func (s *scenario) checkNoStrays() error {
	entries, err := os.ReadDir(filepath.Dir(s.job.Exe))
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() != "app" && e.Name() != ".app.latch" {
			return fmt.Errorf("left beside the executable: %s", e.Name())
		}
	}
	return filepath.WalkDir(s.job.StateDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".") {
			return fmt.Errorf("left in the state directory: %s", p)
		}
		return err
	})
}

// labelOf is the version latch must record for a build: its release
// version, or for the build that was there before latch its
// CurrentVersion if that is a version.
func (s *scenario) labelOf(b campaignBuild) string {
	if _, ok := s.release(b); !ok && b.label == "dev" {
		return ""
	}
	return b.version
}

// checkRecords checks the records against the bytes on disk, the floor's
// monotony and the failures and interruptions the audit log shows.
func (s *scenario) checkRecords(p campaignPlan, b campaignBuild) error {
	c, err := s.open()
	if err != nil {
		return err
	}
	builds, err := c.Builds("app", s.job.Exe)
	floor := c.Status().Installed["app"]
	c.Close()
	if err != nil {
		return err
	}
	switch {
	case builds.Pending:
		return fmt.Errorf("an operation is pending after a run that completed")
	case !builds.Known && string(b.data) != string(s.initial.data):
		return fmt.Errorf("latch has no record of %s, which it installed", b.version)
	case builds.Known && builds.Installed.Version != s.labelOf(b):
		return fmt.Errorf("the executable is %s, recorded as %q", b.version, builds.Installed.Version)
	}
	work := filepath.Join(filepath.Dir(s.job.Exe), ".app.latch")
	entries, _ := os.ReadDir(work)
	if len(entries) != len(builds.Kept) {
		return fmt.Errorf("work directory holds %d files, %d builds kept", len(entries), len(builds.Kept))
	}
	for _, k := range builds.Kept {
		data, err := os.ReadFile(k.Path)
		if err != nil {
			return fmt.Errorf("kept build: %w", err)
		}
		kb, ok := s.builds[hexSHA256(data)]
		switch {
		case !ok || k.ExecutableSHA256 != hexSHA256(data):
			return fmt.Errorf("kept %s holds other bytes than recorded", k.Path)
		case k.Version != s.labelOf(kb):
			return fmt.Errorf("kept %s is %s, recorded as %q", k.Path, kb.version, k.Version)
		}
	}
	if floor.Version != "" {
		if s.floor != "" && semver.Compare("v"+floor.Version, "v"+s.floor) < 0 {
			return fmt.Errorf("floor went down from %s to %s", s.floor, floor.Version)
		}
		s.floor = floor.Version
	}
	if rel, ok := s.release(b); ok {
		if floor.Version != b.version || floor.SHA256 != rel.sum {
			return fmt.Errorf("the executable is release %s, the floor says %s (%.12s)", b.version, floor.Version, floor.SHA256)
		}
	} else if floor.Version != "" {
		return fmt.Errorf("the executable is the build from before latch, the floor says %s", floor.Version)
	}
	if err := s.readAudit(p); err != nil {
		return err
	}
	state, err := s.state()
	if err != nil {
		return err
	}
	for _, rel := range s.releases {
		if state.IsFailed("app", rel.sum) && rel.build.works() && s.interrupts[rel.sum] < 2 {
			return fmt.Errorf("%s (%s) marked failed after %d interrupted checks", rel.build.version, rel.build.kind, s.interrupts[rel.sum])
		}
	}
	return nil
}

// countCrashInCheck counts, after a kill, a health check that the kill
// interrupted: the journal (a file of the state directory, read here as
// the next recovery will) describes an install in its check phase. The
// audit record of the recovery that counts it can be lost to a kill
// right after the recovery, so the journal is the witness; each
// operation counts once, however many recoveries of it are killed.
func (s *scenario) countCrashInCheck() error {
	b, err := os.ReadFile(filepath.Join(s.job.StateDir, "selfupdate", "app"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var j struct {
		Seq int64
		Op  *struct {
			Phase string
			Build struct{ SHA256 string }
		}
	}
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if j.Op != nil && j.Op.Phase == "check" && !s.counted[j.Seq] {
		s.counted[j.Seq] = true
		s.interrupts[j.Op.Build.SHA256]++
	}
	return nil
}

// release returns the release b was published as, if any.
func (s *scenario) release(b campaignBuild) (campaignRelease, bool) {
	for _, r := range s.releases {
		if string(r.build.data) == string(b.data) {
			return r, true
		}
	}
	return campaignRelease{}, false
}

// readAudit reads the install records written since the last call: a
// health check may have been interrupted only if this run or one killed
// since the last completed run was told to kill; a release is installed at
// most once (no install loop) and fails its check at most once.
func (s *scenario) readAudit(p campaignPlan) error {
	f, err := os.Open(filepath.Join(s.job.StateDir, "audit", "audit.log"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil // nothing recorded yet
	}
	if err != nil {
		return err
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	for i := 0; ; i++ {
		var rec struct {
			Kind   string
			Fields struct{ Outcome, Version, SHA256 string }
		}
		if err := dec.Decode(&rec); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fmt.Errorf("audit log: %w", err)
		}
		if i < s.auditSeen || rec.Kind != "install" {
			continue
		}
		s.auditSeen = i + 1
		o := rec.Fields.Outcome
		switch {
		case strings.HasPrefix(o, "check-interrupted"):
			// The check's process was killed, the updater was not.
			if p.killCheck != "self" {
				return fmt.Errorf("a health check of %s was interrupted without a kill", rec.Fields.Version)
			}
			s.interrupts[rec.Fields.SHA256]++
			s.figures.checkKills++
		case strings.HasPrefix(o, "recovered: health check interrupted") && !s.killedSince:
			return fmt.Errorf("a health check of %s was interrupted without a kill", rec.Fields.Version)
		case o == "installed":
			if s.installs[rec.Fields.SHA256]++; s.installs[rec.Fields.SHA256] > 1 {
				return fmt.Errorf("%s installed twice: an install loop", rec.Fields.Version)
			}
		case o == "rolled-back":
			if s.failures[rec.Fields.SHA256]++; s.failures[rec.Fields.SHA256] > 1 {
				return fmt.Errorf("%s failed its check twice: an install loop", rec.Fields.Version)
			}
		}
		if s.interrupts[rec.Fields.SHA256] > 2 {
			return fmt.Errorf("%s interrupted %d times: an install loop", rec.Fields.Version, s.interrupts[rec.Fields.SHA256])
		}
	}
	return nil
}

// settle runs the application without kills until it is up to date, with
// a recovery from outside when the build in place can't start (only
// possible with HealthCheckAfterSwapUnsafe), and checks that the newest
// release that works and was not given up on is installed, and runs.
func (s *scenario) settle() error {
	done := false
	for range len(s.releases) + 4 {
		r, err := s.runApp(campaignPlan{killLog: -1})
		if err != nil {
			return err
		}
		if r.cannotStart {
			if !s.job.InPlace {
				return fmt.Errorf("the build in place can't start")
			}
			if err := s.recoverOutside(); err != nil {
				return err
			}
			continue
		}
		if r.settled() {
			done = true
			break
		}
	}
	if !done {
		return fmt.Errorf("the application did not settle: an install loop")
	}
	b, _, err := s.inPlace()
	if err != nil {
		return err
	}
	want := s.settled
	state, err := s.state()
	if err != nil {
		return err
	}
	for _, rel := range s.releases {
		if rel.build.works() && !state.IsFailed("app", rel.sum) && semver.Compare("v"+rel.build.version, "v"+want.version) > 0 {
			want = rel.build
		}
	}
	if b.version != want.version {
		return fmt.Errorf("settled on %s, want %s", b.version, want.version)
	}
	out, err := exec.Command(s.job.Exe, "--version").Output()
	if err != nil || strings.TrimSpace(string(out)) != b.version {
		return fmt.Errorf("the settled %s does not run: %q, %v", b.version, out, err)
	}
	// Each operation on the executable, killed or not, has one audit
	// record once the application settled.
	if recs, ops := len(actionRecords(s.t, s.job.StateDir)), journalOps(s.t, s.job.StateDir); int64(recs) != ops {
		return fmt.Errorf("%d operations on the executable, %d audit records of them", ops, recs)
	}
	s.settled = b
	s.logf("settled on %s", b.version)
	return nil
}

// recoverOutside runs Recover from another process than the application,
// as the documentation of HealthCheckAfterSwapUnsafe asks.
func (s *scenario) recoverOutside() error {
	c, err := s.open()
	if err != nil {
		return err
	}
	defer c.Close()
	s.figures.outsideRecovers++
	s.logf("recovered from outside")
	return c.Recover("app", s.job.Exe)
}

// open opens a client of the application's state directory in this
// process (no application run may be running).
func (s *scenario) open() (*client.Client, error) {
	return client.New(client.Config{TrustedRoot: s.repo.TrustedRoot(), MetadataURLs: []string{s.job.MetaURL}, TargetURLs: []string{s.job.TargetURL}, StateDir: s.job.StateDir},
		client.WithClock(s.repo.Now))
}

// state loads the trusted state (no application run may be running).
func (s *scenario) state() (*rollback.State, error) {
	st, err := rollback.OpenFileStore(filepath.Join(s.job.StateDir, "state"))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return st.Load()
}
