package client_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	gomaps "maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/internal/archive"
	"github.com/latchsec/latch/internal/simulator"
	"github.com/latchsec/latch/rollback"
)

// Builds of the application under test: shell scripts, so that a health
// check can run them.
var (
	buildV1   = []byte("#!/bin/sh\necho 1.0.0\n")
	buildV15  = []byte("#!/bin/sh\necho 1.5.0\n")
	buildV2   = []byte("#!/bin/sh\necho 2.0.0\n")
	buildV2b  = []byte("#!/bin/sh\necho 2.0.0 rebuilt\n")
	buildV3   = []byte("#!/bin/sh\necho 3.0.0\n")
	buildPlat = runtime.GOOS + "-" + runtime.GOARCH
)

// publishApp adds a build of "app" for this platform in channel stable.
func publishApp(repo *simulator.Repo, version, ext string, data []byte) string {
	p := "app/" + version + "/" + buildPlat + ext
	repo.AddTarget(p, data, map[string]any{"version": version, "channels": []string{"stable"}})
	return p
}

// appEnv is a client that updates an executable holding v1.
type appEnv struct {
	*env
	exe string
}

// releasedAppEnv is a repository with one release of app (version, build)
// published, and an app environment on it.
func releasedAppEnv(t *testing.T, version string, build []byte, opts ...client.Option) (*simulator.Repo, *appEnv) {
	t.Helper()
	repo := simulator.New(t, simulator.Options{})
	publishApp(repo, version, "", build)
	repo.Publish()
	return repo, newAppEnv(t, repo, opts...)
}

func newAppEnv(t *testing.T, repo *simulator.Repo, opts ...client.Option) *appEnv {
	t.Helper()
	e := &appEnv{env: newEnv(t, repo, opts...), exe: filepath.Join(t.TempDir(), "app")}
	if err := os.WriteFile(e.exe, buildV1, 0o750); err != nil {
		t.Fatal(err)
	}
	e.open()
	return e
}

func (e *appEnv) apply(opts ...client.ApplyOption) (*client.ApplyResult, error) {
	return e.c.Apply(context.Background(), client.Release{App: "app"}, e.exe, opts...)
}

// mustApply applies and fails the test on an error.
func (e *appEnv) mustApply(opts ...client.ApplyOption) *client.ApplyResult {
	e.t.Helper()
	res, err := e.apply(opts...)
	if err != nil {
		e.t.Fatalf("Apply: %v", err)
	}
	return res
}

// applyErr applies and returns the error, which must not be nil; the
// executable and the floor must be unchanged.
func (e *appEnv) applyErr(opts ...client.ApplyOption) error {
	e.t.Helper()
	exe, floor := e.exeBytes(), e.floor()
	res, err := e.apply(opts...)
	if err == nil {
		e.t.Fatalf("Apply = %+v, want an error", res)
	}
	if got := e.exeBytes(); !bytes.Equal(got, exe) {
		e.t.Errorf("executable changed to %q after a failed Apply", got)
	}
	if got := e.floor(); got != floor {
		e.t.Errorf("floor changed from %+v to %+v after a failed Apply", floor, got)
	}
	e.noLeftovers()
	return err
}

func (e *appEnv) exeBytes() []byte {
	e.t.Helper()
	b, err := os.ReadFile(e.exe)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// wantExe checks the executable's content and that its mode is the one it
// started with.
func (e *appEnv) wantExe(want []byte) {
	e.t.Helper()
	if got := e.exeBytes(); !bytes.Equal(got, want) {
		e.t.Errorf("executable holds %q, want %q", got, want)
	}
	if st, err := os.Stat(e.exe); err != nil || st.Mode().Perm() != 0o750 {
		e.t.Errorf("executable mode %v, %v; want 0750 kept", st.Mode(), err)
	}
}

// floor is the installed release the trusted state records for "app".
func (e *appEnv) floor() rollback.Install {
	return e.c.Status().Installed["app"]
}

// workDir is the self-update work directory beside the executable.
func (e *appEnv) workDir() string { return filepath.Join(filepath.Dir(e.exe), ".app.latch") }

// noLeftovers checks that the work directory holds only kept builds.
func (e *appEnv) noLeftovers() {
	e.t.Helper()
	entries, _ := os.ReadDir(e.workDir())
	for _, de := range entries {
		if !strings.HasPrefix(de.Name(), "backup-") {
			e.t.Errorf("left in the work directory: %s", de.Name())
		}
	}
	names, _ := os.ReadDir(filepath.Dir(e.exe))
	for _, de := range names {
		if de.Name() != "app" && de.Name() != ".app.latch" {
			e.t.Errorf("left beside the executable: %s", de.Name())
		}
	}
}

func (e *appEnv) targetRequests() []string {
	var out []string
	for _, r := range e.repo.Requests() {
		if strings.HasPrefix(r, "targets/app/") {
			out = append(out, r)
		}
	}
	return out
}

func TestApply(t *testing.T) {
	repo := simulator.New(t, simulator.Options{ConsistentSnapshot: true})
	publishApp(repo, "1.0.0", "", buildV1)
	publishApp(repo, "2.0.0", "", buildV2)
	repo.Publish()
	e := newAppEnv(t, repo)
	res := e.mustApply(client.CurrentVersion("1.0.0"))
	if !res.Updated || res.Release.Version != "2.0.0" || res.Previous != "1.0.0" {
		t.Errorf("Apply = %+v", res)
	}
	e.wantExe(buildV2)
	if b, err := os.ReadFile(res.Backup); err != nil || !bytes.Equal(b, buildV1) {
		t.Errorf("backup %s holds %q, %v", res.Backup, b, err)
	}
	if fl := e.floor(); fl.Version != "2.0.0" || fl.SHA256 != hexSHA256(buildV2) || !fl.Time.Equal(repo.Now()) {
		t.Errorf("floor %+v", fl)
	}
	e.noLeftovers()
	// Up to date, in this process and the next.
	for range 2 {
		res = e.mustApply()
		if res.Updated || res.Release.Version != "2.0.0" || res.Previous != "2.0.0" || res.Backup != "" {
			t.Errorf("second Apply = %+v, want up to date", res)
		}
		e.open()
	}
	e.wantExe(buildV2)
}

// TestApplyFloor: a release older than the installed one, or another build
// of the installed version, is refused, also after the metadata cache was
// deleted, unless AllowDowngradeUnsafe.
func TestApplyFloor(t *testing.T) {
	repo := simulator.New(t, simulator.Options{})
	v2 := publishApp(repo, "2.0.0", "", buildV2)
	repo.Publish()
	e := newAppEnv(t, repo)
	e.mustApply()

	// The metadata cache goes; the repository now offers 1.5.0 as newest.
	e.c.Close()
	e.c = nil
	matches, _ := filepath.Glob(filepath.Join(e.cfg.StateDir, "*.json"))
	if len(matches) == 0 {
		t.Fatal("no metadata cache")
	}
	for _, m := range matches {
		os.Remove(m)
	}
	repo.RemoveTarget("targets", v2)
	publishApp(repo, "1.5.0", "", buildV15)
	repo.Publish()
	e.open()
	repo.ResetRequests()
	err := e.applyErr()
	wantIs(t, err, client.ErrRollback)
	if rb := wantAs[*rollback.RollbackError](t, err); rb.App != "app" || rb.Trusted != "2.0.0" || rb.Got != "1.5.0" {
		t.Errorf("RollbackError %+v", rb)
	}
	if len(e.targetRequests()) != 0 {
		t.Errorf("downloaded a refused release: %v", e.targetRequests())
	}

	// Another build of 2.0.0.
	repo.RemoveTarget("targets", "app/1.5.0/"+buildPlat)
	publishApp(repo, "2.0.0", "", buildV2b)
	repo.Publish()
	err = e.applyErr()
	wantIs(t, err, client.ErrReleaseChanged)
	if rc := wantAs[*client.ReleaseChangedError](t, err); rc.InstalledSHA256 != hexSHA256(buildV2) || rc.SHA256 != hexSHA256(buildV2b) {
		t.Errorf("ReleaseChangedError %+v", rc)
	}
	e.mustApply(client.AllowDowngradeUnsafe())
	e.wantExe(buildV2b)
	if fl := e.floor(); fl.Version != "2.0.0" || fl.SHA256 != hexSHA256(buildV2b) {
		t.Errorf("floor %+v after replacing the build", fl)
	}

	// Downgrade on purpose.
	repo.RemoveTarget("targets", v2)
	publishApp(repo, "1.5.0", "", buildV15)
	repo.Publish()
	res := e.mustApply(client.AllowDowngradeUnsafe())
	if !res.Updated || res.Previous != "2.0.0" {
		t.Errorf("downgrade: %+v", res)
	}
	e.wantExe(buildV15)
	if fl := e.floor(); fl.Version != "1.5.0" {
		t.Errorf("floor %+v after the downgrade", fl)
	}
	e.open()
	if fl := e.floor(); fl.Version != "1.5.0" {
		t.Errorf("floor %+v after reopening", fl)
	}
}

// TestApplyHealthCheck: a build whose health check fails is rolled back,
// not recorded, remembered, and passed over until another build appears.
func TestApplyHealthCheck(t *testing.T) {
	repo := simulator.New(t, simulator.Options{})
	publishApp(repo, "1.0.0", "", buildV1)
	publishApp(repo, "2.0.0", "", buildV2)
	repo.Publish()
	e := newAppEnv(t, repo)
	errBroken := errors.New("broken")
	var checked []string
	check := client.HealthCheck(func(ctx context.Context, exe string) error {
		b, _ := os.ReadFile(exe)
		checked = append(checked, string(b))
		if bytes.Equal(b, buildV2) {
			return errBroken
		}
		return nil
	})
	err := e.applyErr(check)
	wantIs(t, err, client.ErrHealthCheck)
	wantIs(t, err, errBroken)
	if he := wantAs[*client.HealthCheckError](t, err); he.App != "app" || he.Version != "2.0.0" || he.SHA256 != hexSHA256(buildV2) {
		t.Errorf("HealthCheckError %+v", he)
	}
	if len(checked) != 1 || checked[0] != string(buildV2) {
		t.Errorf("health check saw %q", checked)
	}
	// No install loop: 2.0.0 is passed over; 1.0.0 is what is running,
	// and is recorded as installed.
	repo.ResetRequests()
	res := e.mustApply(check)
	if res.Updated || res.Release.Version != "1.0.0" {
		t.Errorf("Apply after the failure = %+v, want 1.0.0 up to date", res)
	}
	if got := e.targetRequests(); len(got) != 0 {
		t.Errorf("downloaded %v", got)
	}
	if fl := e.floor(); fl.Version != "1.0.0" {
		t.Errorf("floor %+v", fl)
	}
	// Only the failed build left: a typed refusal.
	repo.RemoveTarget("targets", "app/1.0.0/"+buildPlat)
	repo.Publish()
	err = e.applyErr(check)
	wantIs(t, err, client.ErrKnownBad)
	if kb := wantAs[*client.KnownBadError](t, err); kb.Version != "2.0.0" || kb.SHA256 != hexSHA256(buildV2) {
		t.Errorf("KnownBadError %+v", kb)
	}
	// The failure is persisted.
	e.open()
	wantIs(t, e.applyErr(check), client.ErrKnownBad)
	// A new build of 2.0.0 is tried.
	publishApp(repo, "2.0.0", "", buildV2b)
	repo.Publish()
	e.mustApply(check)
	e.wantExe(buildV2b)
	want := []string{"install:rolled-back", "install:recorded", "install:refused", "install:refused", "install:installed"}
	if got := installAudit(t, e.cfg.StateDir); !slices.Equal(got, want) {
		t.Errorf("audit log: %q, want %q", got, want)
	}
}

// TestApplyReportsKnownBad: when a newer release is passed over because it
// failed its health check before, ApplyResult.KnownBad names it (version
// and target), so that the caller can report it; it is nil when nothing
// newer was passed over.
func TestApplyReportsKnownBad(t *testing.T) {
	repo := simulator.New(t, simulator.Options{})
	publishApp(repo, "1.0.0", "", buildV1)
	v2 := publishApp(repo, "2.0.0", "", buildV2)
	repo.Publish()
	e := newAppEnv(t, repo)
	check := client.HealthCheck(func(ctx context.Context, exe string) error {
		if b, _ := os.ReadFile(exe); bytes.Equal(b, buildV2) {
			return errors.New("broken")
		}
		return nil
	})
	wantIs(t, e.applyErr(check), client.ErrHealthCheck)
	res := e.mustApply(check)
	if res.Updated || res.Release.Version != "1.0.0" {
		t.Fatalf("Apply = %+v, want 1.0.0 up to date", res)
	}
	if kb := res.KnownBad; kb == nil || kb.Version != "2.0.0" || kb.Target.Path() != v2 {
		t.Errorf("KnownBad = %+v, want 2.0.0 at %s", kb, v2)
	}
	e.wantExe(buildV1)
	// A newer, good release: installed, nothing newer passed over.
	publishApp(repo, "3.0.0", "", buildV3)
	repo.Publish()
	res = e.mustApply(check)
	if !res.Updated || res.Release.Version != "3.0.0" || res.KnownBad != nil {
		t.Errorf("Apply = %+v (KnownBad %+v), want 3.0.0 installed and KnownBad nil", res, res.KnownBad)
	}
}

func TestApplyTampered(t *testing.T) {
	repo := simulator.New(t, simulator.Options{})
	v2 := publishApp(repo, "2.0.0", "", buildV2)
	repo.Publish()
	e := newAppEnv(t, repo)
	repo.SetFault(repo.TargetName(v2), simulator.Fault{Mutate: simulator.FlipBit})
	err := e.applyErr()
	wantIs(t, err, client.ErrHashMismatch)
	if fl := e.floor(); fl.Version != "" {
		t.Errorf("floor %+v", fl)
	}
	repo.ClearFaults()
	e.mustApply()
	e.wantExe(buildV2)
}

func tarGz(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, name := range slices.Sorted(gomaps.Keys(files)) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(files[name])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(files[name])
	}
	if err := errors.Join(tw.Close(), gz.Close()); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zipOf(t *testing.T, name string, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestApplyArchive(t *testing.T) {
	repo := simulator.New(t, simulator.Options{})
	publishApp(repo, "2.0.0", ".tar.gz", tarGz(t, map[string][]byte{"app": buildV2, "README": []byte("read me")}))
	repo.Publish()
	e := newAppEnv(t, repo)
	e.mustApply()
	e.wantExe(buildV2)
	e.noLeftovers()

	publishApp(repo, "3.0.0", ".zip", zipOf(t, "bin/app", buildV3))
	repo.Publish()
	// Each reason matches an exported sentinel (and, here, the internal
	// one that says exactly which).
	err := e.applyErr()
	wantIs(t, err, client.ErrArchive)
	wantIs(t, err, archive.ErrNotFound)
	err = e.applyErr(client.ArchiveMember("bin/app"), client.MaxExecutableSize(4))
	wantIs(t, err, client.ErrTooLarge)
	wantIs(t, err, archive.ErrTooLarge)
	e.mustApply(client.ArchiveMember("bin/app"))
	e.wantExe(buildV3)
	if fl := e.floor(); fl.Version != "3.0.0" || fl.SHA256 != hexSHA256(repo.Bytes(repo.TargetName("app/3.0.0/"+buildPlat+".zip"))) {
		t.Errorf("floor %+v: want the archive's hash", fl)
	}

	// A hostile archive: signed, but with an entry that escapes.
	publishApp(repo, "4.0.0", ".tgz", tarGz(t, map[string][]byte{"app": buildV2, "../evil": []byte("x")}))
	repo.Publish()
	err = e.applyErr()
	wantIs(t, err, client.ErrArchive)
	wantIs(t, err, archive.ErrUnsafeEntry)
	if _, err := os.Stat(filepath.Join(filepath.Dir(e.exe), "evil")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("hostile entry written: %v", err)
	}
}

func TestApplyTooLarge(t *testing.T) {
	repo, e := releasedAppEnv(t, "2.0.0", buildV2)
	repo.ResetRequests()
	wantIs(t, e.applyErr(client.MaxExecutableSize(int64(len(buildV2)-1))), client.ErrTooLarge)
	if got := e.targetRequests(); len(got) != 0 {
		t.Errorf("downloaded %v", got)
	}
}

func TestApplyHealthCheckCommand(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the builds are shell scripts")
	}
	repo := simulator.New(t, simulator.Options{})
	publishApp(repo, "2.0.0", "", []byte("#!/bin/sh\n[ \"$1\" = --version ] && echo 2.0.0\n"))
	repo.Publish()
	e := newAppEnv(t, repo)
	e.mustApply(client.HealthCheckCommand(10*time.Second, "--version"))

	publishApp(repo, "3.0.0", "", []byte("#!/bin/sh\necho cannot start >&2\nexit 3\n"))
	repo.Publish()
	err := e.applyErr(client.HealthCheckCommand(10*time.Second, "--version"))
	wantIs(t, err, client.ErrHealthCheck)
	if !strings.Contains(err.Error(), "cannot start") || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("error %q does not show the output and status", err)
	}

	publishApp(repo, "4.0.0", "", []byte("#!/bin/sh\nexec sleep 30\n"))
	repo.Publish()
	start := time.Now()
	err = e.applyErr(client.HealthCheckCommand(200*time.Millisecond, "--version"))
	wantIs(t, err, client.ErrHealthCheck)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("health check timeout took %v", d)
	}
}

func TestRevertUnsafe(t *testing.T) {
	repo := simulator.New(t, simulator.Options{})
	publishApp(repo, "1.0.0", "", buildV1)
	publishApp(repo, "2.0.0", "", buildV2)
	repo.Publish()
	e := newAppEnv(t, repo)
	wantIs(t, e.c.RevertUnsafe("app", e.exe), client.ErrNoBackup)
	e.mustApply(client.CurrentVersion("1.0.0"))
	if err := e.c.RevertUnsafe("app", e.exe); err != nil {
		t.Fatalf("RevertUnsafe: %v", err)
	}
	e.wantExe(buildV1)
	if fl := e.floor(); fl.Version != "1.0.0" || fl.SHA256 != hexSHA256(buildV1) {
		t.Errorf("floor %+v after the revert", fl)
	}
	// 2.0.0 is not installed again; 1.0.0 is up to date.
	res := e.mustApply()
	if res.Updated || res.Release.Version != "1.0.0" {
		t.Errorf("Apply after the revert = %+v", res)
	}
	wantIs(t, e.c.RevertUnsafe("app", e.exe), client.ErrNoBackup)
	e.noLeftovers()
	if got, want := installAudit(t, e.cfg.StateDir), []string{"install:installed", "revert"}; !slices.Equal(got, want) {
		t.Errorf("audit log: %q, want %q", got, want)
	}
}

func TestRevertUnsafeUnknownVersion(t *testing.T) {
	_, e := releasedAppEnv(t, "2.0.0", buildV2)
	e.mustApply() // without CurrentVersion: v1's version is unknown
	wantIs(t, e.c.RevertUnsafe("app", e.exe), client.ErrNoBackup)
	e.wantExe(buildV2)
}

// TestApplyRecordsInstalled: an executable that is the newest release
// already (installed by other means) is recorded, not downloaded.
func TestApplyRecordsInstalled(t *testing.T) {
	repo, e := releasedAppEnv(t, "1.0.0", buildV1)
	repo.ResetRequests()
	res := e.mustApply()
	if res.Updated || res.Release.Version != "1.0.0" {
		t.Errorf("Apply = %+v", res)
	}
	if fl := e.floor(); fl.Version != "1.0.0" {
		t.Errorf("floor %+v", fl)
	}
	if got := e.targetRequests(); len(got) != 0 {
		t.Errorf("downloaded %v", got)
	}
}

func TestApplyKeep(t *testing.T) {
	repo := simulator.New(t, simulator.Options{})
	e := newAppEnv(t, repo)
	for i, b := range [][]byte{buildV15, buildV2, buildV3} {
		publishApp(repo, []string{"1.5.0", "2.0.0", "3.0.0"}[i], "", b)
		repo.Publish()
		e.mustApply(client.KeepPrevious(2))
	}
	entries, err := os.ReadDir(e.workDir())
	if err != nil || len(entries) != 2 {
		t.Fatalf("work directory %v, %v; want two kept builds", entries, err)
	}
	publishApp(repo, "4.0.0", "", buildV1)
	repo.Publish()
	e.mustApply(client.KeepPrevious(0))
	if entries, _ := os.ReadDir(e.workDir()); len(entries) != 0 {
		t.Errorf("work directory %v with KeepPrevious(0)", entries)
	}
}

func TestApplyBadInput(t *testing.T) {
	_, e := releasedAppEnv(t, "2.0.0", buildV2)
	for name, opts := range map[string][]client.ApplyOption{
		"negative keep": {client.KeepPrevious(-1)},
		"zero size":     {client.MaxExecutableSize(0)},
	} {
		t.Run(name, func(t *testing.T) { wantIs(t, e.applyErr(opts...), client.ErrInvalidOptions) })
	}
	_, err := e.c.Apply(context.Background(), client.Release{App: "../app"}, e.exe)
	wantIs(t, err, client.ErrInvalidOptions)
	_, err = e.c.Apply(context.Background(), client.Release{App: "app"}, filepath.Join(t.TempDir(), "missing"))
	wantIs(t, err, fs.ErrNotExist)
	wantIs(t, e.c.Recover("a/b", e.exe), client.ErrInvalidOptions)
	wantIs(t, e.c.RevertUnsafe("", e.exe), client.ErrInvalidOptions)
	if _, err := os.Stat(filepath.Join(e.cfg.StateDir, "selfupdate")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("bad input created the journal directory: %v", err)
	}
	e.c.Close()
	_, err = e.apply()
	wantIs(t, err, client.ErrClosed)
	wantIs(t, e.c.Recover("app", e.exe), client.ErrClosed)
	wantIs(t, e.c.RevertUnsafe("app", e.exe), client.ErrClosed)
	e.c = nil
}

// TestApplySymlink: the executable is reached through a symbolic link;
// the file behind it is replaced and the link stays.
func TestApplySymlink(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need privileges on Windows")
	}
	_, e := releasedAppEnv(t, "2.0.0", buildV2)
	link := filepath.Join(t.TempDir(), "app-link")
	if err := os.Symlink(e.exe, link); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Apply(context.Background(), client.Release{App: "app"}, link); err != nil {
		t.Fatal(err)
	}
	e.wantExe(buildV2)
	if st, err := os.Lstat(link); err != nil || st.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("link replaced: %v, %v", st, err)
	}
}

// installAudit returns the install and revert records of the audit log, as
// "kind:outcome".
func installAudit(t *testing.T, stateDir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(stateDir, "audit", "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for line := range bytes.Lines(b) {
		var r struct {
			Kind   string
			Fields struct{ Outcome string }
		}
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatal(err)
		}
		switch r.Kind {
		case "install":
			out = append(out, "install:"+r.Fields.Outcome)
		case "revert":
			out = append(out, "revert")
		}
	}
	return out
}
