//go:build unix

package client_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/internal/testdir"
	"github.com/latchsec/latch/rollback"
)

// Tests of what self-update records and does after crashes, interrupted
// health checks and hostile directories. A crash is emulated in-process:
// at the crash point the executable's and the state's directories are
// copied, and once the call returns the copies replace them.

// crash is a copy of an appEnv's directories taken at a crash point.
type crash struct {
	e     *appEnv
	dirs  map[string]string // directory -> its copy
	taken bool
}

func (e *appEnv) newCrash() *crash {
	return &crash{e: e, dirs: map[string]string{filepath.Dir(e.exe): e.t.TempDir(), e.cfg.StateDir: e.t.TempDir()}}
}

// take copies the directories, as they are now.
func (c *crash) take() {
	for dir, cp := range c.dirs {
		testdir.Replace(c.e.t, cp, dir)
	}
	c.taken = true
}

// restore closes the client, puts the copies back and opens a client, as
// the next start after the crash would.
func (c *crash) restore() {
	c.e.t.Helper()
	if !c.taken {
		c.e.t.Fatal("the crash point was never reached")
	}
	c.e.c.Close()
	c.e.c = nil
	for dir, cp := range c.dirs {
		testdir.Replace(c.e.t, dir, cp)
	}
	c.e.open()
}

// TestApplyRecordsTruthAfterCrash (issue 9 item 11): 1.0.0 was installed
// outside latch; Apply to 3.0.0 crashes during the health check. The next
// Apply runs in a process that believes it is 3.0.0 (the build that a
// crash after the swap leaves in place). What the records say about the
// bytes on disk must not come from that belief: the kept build is 1.0.0,
// a revert records 1.0.0, and 2.0.0 is then an upgrade.
func TestApplyRecordsTruthAfterCrash(t *testing.T) {
	repo, e := releasedAppEnv(t, "3.0.0", buildV3)
	c := e.newCrash()
	e.mustApply(client.CurrentVersion("1.0.0"), client.HealthCheck(func(context.Context, string) error {
		c.take()
		return nil
	}))
	c.restore()
	e.mustApply(client.CurrentVersion("3.0.0"))
	e.wantExe(buildV3)
	if b, err := e.c.Builds("app", e.exe); err != nil || len(b.Kept) != 1 || b.Kept[0].Version != "1.0.0" || b.Kept[0].ExecutableSHA256 != hexSHA256(buildV1) {
		t.Errorf("Builds = %+v, %v; want v1 kept as 1.0.0", b, err)
	}
	if err := e.c.RevertUnsafe("app", e.exe); err != nil {
		t.Fatalf("RevertUnsafe: %v", err)
	}
	e.wantExe(buildV1)
	if fl := e.floor(); fl.Version != "1.0.0" || fl.SHA256 != hexSHA256(buildV1) {
		t.Errorf("after the revert the floor is %s (sha256 %.12s), want 1.0.0 (sha256 %.12s): the bytes on disk", fl.Version, fl.SHA256, hexSHA256(buildV1))
	}
	publishApp(repo, "2.0.0", "", buildV2)
	repo.Publish()
	res := e.mustApply(client.CurrentVersion("1.0.0"))
	if !res.Updated || res.Release.Version != "2.0.0" {
		t.Errorf("Apply after the revert = %+v, want 2.0.0 installed", res)
	}
}

// TestApplyFirstFloor (issue 9 item 12): CurrentVersion is a floor from
// the first Apply on; a version that isn't semver is "unknown" and updates
// to the newest release.
func TestApplyFirstFloor(t *testing.T) {
	t.Run("older", func(t *testing.T) {
		repo, e := releasedAppEnv(t, "1.0.0", buildV1)
		writeExe(t, e.exe, buildV2)
		repo.ResetRequests()
		err := e.applyErr(client.CurrentVersion("2.0.0"))
		wantIs(t, err, client.ErrRollback)
		if rb := wantAs[*rollback.RollbackError](t, err); rb.Trusted != "2.0.0" || rb.Got != "1.0.0" {
			t.Errorf("RollbackError %+v", rb)
		}
		if got := e.targetRequests(); len(got) != 0 {
			t.Errorf("downloaded %v", got)
		}
	})
	t.Run("equal, other bytes", func(t *testing.T) {
		_, e := releasedAppEnv(t, "2.0.0", buildV2b)
		writeExe(t, e.exe, buildV2)
		res := e.mustApply(client.CurrentVersion("2.0.0"))
		if res.Updated {
			t.Errorf("Apply = %+v, want up to date", res)
		}
		e.wantExe(buildV2)
		if fl := e.floor(); fl.Version != "" {
			t.Errorf("recorded %+v for bytes that are not the release", fl)
		}
	})
	t.Run("replaced by other means", func(t *testing.T) {
		// latch installed 1.0.0; then a 3.0.0 build was copied over it.
		repo, e := releasedAppEnv(t, "1.0.0", buildV1)
		e.mustApply()
		writeExe(t, e.exe, buildV3)
		publishApp(repo, "2.0.0", "", buildV2)
		repo.Publish()
		err := e.applyErr(client.CurrentVersion("3.0.0"))
		if rb := wantAs[*rollback.RollbackError](t, err); rb.Trusted != "3.0.0" || rb.Got != "2.0.0" {
			t.Errorf("RollbackError %+v", rb)
		}
	})
	t.Run("unknown", func(t *testing.T) {
		_, e := releasedAppEnv(t, "1.0.0", buildV1)
		writeExe(t, e.exe, buildV2)
		res := e.mustApply(client.CurrentVersion("dev"))
		if !res.Updated || res.Release.Version != "1.0.0" || res.Previous != "" {
			t.Errorf("Apply = %+v, want 1.0.0 installed over an unknown version", res)
		}
		if fl := e.floor(); fl.Version != "1.0.0" {
			t.Errorf("floor %+v, want 1.0.0", fl)
		}
	})
}

func writeExe(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o750); err != nil {
		t.Fatal(err)
	}
}

// TestApplyModeNoGroupWrite (issue 9 item 14): the new executable gets the
// old one's permission bits without group and other write.
func TestApplyModeNoGroupWrite(t *testing.T) {
	repo, e := releasedAppEnv(t, "2.0.0", buildV2)
	if err := os.Chmod(e.exe, 0o777); err != nil {
		t.Fatal(err)
	}
	e.mustApply()
	publishApp(repo, "3.0.0", ".tar.gz", tarGz(t, map[string][]byte{"app": buildV3}))
	repo.Publish()
	if err := os.Chmod(e.exe, 0o777); err != nil {
		t.Fatal(err)
	}
	e.mustApply()
	if st, err := os.Stat(e.exe); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("executable mode %v, %v; want 0755", st.Mode(), err)
	}
}

// TestApplyRefusesUnsafeWorkDir (issue 9 item 14): a work directory that
// someone else could write, or that is a symbolic link, is refused.
func TestApplyRefusesUnsafeWorkDir(t *testing.T) {
	for name, setUp := range map[string]func(t *testing.T, work string){
		"group and other write": func(t *testing.T, work string) {
			if err := os.Mkdir(work, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(work, 0o777); err != nil {
				t.Fatal(err)
			}
		},
		"symbolic link": func(t *testing.T, work string) {
			if err := os.Symlink(t.TempDir(), work); err != nil {
				t.Fatal(err)
			}
		},
		"not a directory": func(t *testing.T, work string) {
			if err := os.WriteFile(work, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			_, e := releasedAppEnv(t, "2.0.0", buildV2)
			setUp(t, e.workDir())
			err := e.applyErr()
			wantIs(t, err, client.ErrUnsafeWorkDir)
			if wde := wantAs[*client.WorkDirError](t, err); wde.Path != e.workDir() {
				t.Errorf("WorkDirError %+v", wde)
			}
			if fl := e.floor(); fl.Version != "" {
				t.Errorf("floor %+v", fl)
			}
		})
	}
}

// TestApplyChecksBeforeSwap (issue 10 item 3): the health check runs the
// new build beside the executable, in its directory, while the old build
// is still in place.
func TestApplyChecksBeforeSwap(t *testing.T) {
	_, e := releasedAppEnv(t, "2.0.0", buildV2)
	checked := 0
	e.mustApply(client.HealthCheck(func(_ context.Context, p string) error {
		checked++
		if filepath.Dir(p) != filepath.Dir(e.exe) || p == e.exe {
			t.Errorf("health check of %s, want a path beside %s", p, e.exe)
		}
		if b, err := os.ReadFile(p); err != nil || !bytes.Equal(b, buildV2) {
			t.Errorf("health check path holds %q, %v", b, err)
		}
		e.wantExe(buildV1)
		return nil
	}))
	if checked != 1 {
		t.Errorf("%d health checks", checked)
	}
	e.wantExe(buildV2)
	e.noLeftovers()
}

// TestApplyCheckKilled (issue 10 item 5): a health check whose process is
// killed (the OOM killer, a user's Ctrl-C) neither passes nor fails the
// build: it is tried once more at the next Apply; a second check that
// doesn't finish counts as failed, so there is no install loop.
func TestApplyCheckKilled(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "runs")
	// Each run of the check appends a line to marker; the first run of
	// "once" and every run of "always" is killed.
	once := []byte("#!/bin/sh\necho x >> " + marker + "\n[ $(wc -l < " + marker + ") -gt 1 ] && exit 0\nkill -9 $$\n")
	always := []byte("#!/bin/sh\necho x >> " + marker + "\nkill -9 $$\n")
	runs := func() int {
		b, _ := os.ReadFile(marker)
		return bytes.Count(b, []byte("\n"))
	}
	check := client.HealthCheckCommand(10*time.Second, "--version")

	t.Run("once", func(t *testing.T) {
		os.Remove(marker)
		_, e := releasedAppEnv(t, "2.0.0", once)
		err := e.applyErr(check)
		wantIs(t, err, client.ErrHealthCheckInterrupted)
		if errors.Is(err, client.ErrHealthCheck) {
			t.Errorf("a killed check failed the build: %v", err)
		}
		e.mustApply(check)
		e.wantExe(once)
		if n := runs(); n != 2 {
			t.Errorf("%d checks, want 2", n)
		}
	})
	t.Run("always", func(t *testing.T) {
		os.Remove(marker)
		_, e := releasedAppEnv(t, "2.0.0", always)
		if err := e.applyErr(check); errors.Is(err, client.ErrHealthCheck) || !errors.Is(err, client.ErrHealthCheckInterrupted) {
			t.Errorf("first killed check: %v, want ErrHealthCheckInterrupted only", err)
		}
		err := e.applyErr(check)
		wantIs(t, err, client.ErrHealthCheck)
		wantIs(t, err, client.ErrHealthCheckInterrupted)
		wantAs[*client.HealthCheckError](t, err)
		wantIs(t, e.applyErr(check), client.ErrKnownBad)
		if n := runs(); n != 2 {
			t.Errorf("%d checks, want 2", n)
		}
		want := []string{"install:check-interrupted", "install:check-interrupted: marked failed", "install:refused"}
		if got := installAudit(t, e.cfg.StateDir); !slices.Equal(got, want) {
			t.Errorf("audit log %q, want %q", got, want)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		_, e := releasedAppEnv(t, "2.0.0", buildV2)
		ctx, cancel := context.WithCancel(context.Background())
		_, err := e.c.Apply(ctx, client.Release{App: "app"}, e.exe, client.HealthCheck(func(ctx context.Context, _ string) error {
			cancel()
			<-ctx.Done()
			return errors.New("interrupted by the user")
		}))
		wantIs(t, err, client.ErrHealthCheckInterrupted)
		wantIs(t, err, context.Canceled)
		if errors.Is(err, client.ErrHealthCheck) {
			t.Errorf("a cancelled check failed the build: %v", err)
		}
		e.wantExe(buildV1)
		e.mustApply()
		e.wantExe(buildV2)
	})
	t.Run("updater crashes", func(t *testing.T) {
		_, e := releasedAppEnv(t, "2.0.0", buildV2)
		for range 2 {
			c := e.newCrash()
			e.mustApply(client.HealthCheck(func(context.Context, string) error { c.take(); return nil }))
			c.restore()
		}
		e.c.Recover("app", e.exe)
		e.wantExe(buildV1)
		ran := false
		err := e.applyErr(client.HealthCheck(func(context.Context, string) error { ran = true; return nil }))
		wantIs(t, err, client.ErrKnownBad)
		if ran {
			t.Error("a build whose check was interrupted twice was checked a third time")
		}
	})
}

// TestApplyCheckAfterSwap: HealthCheckAfterSwapUnsafe checks the new build
// at the executable's path, after the swap; a failure puts the previous
// build back.
func TestApplyCheckAfterSwap(t *testing.T) {
	_, e := releasedAppEnv(t, "2.0.0", buildV2)
	errBroken := errors.New("broken")
	var saw []string
	err := e.applyErr(client.HealthCheckAfterSwapUnsafe(), client.HealthCheck(func(_ context.Context, p string) error {
		b, _ := os.ReadFile(p)
		saw = append(saw, p, string(b))
		return errBroken
	}))
	wantIs(t, err, client.ErrHealthCheck)
	wantIs(t, err, errBroken)
	if len(saw) != 2 || saw[0] != e.exe || saw[1] != string(buildV2) {
		t.Errorf("health check saw %q, want the executable's path holding v2", saw)
	}
}

// TestBuilds (issue 10 item 6): the installed build and the kept ones are
// listed with version, hashes and install time, from the records and the
// bytes on disk.
func TestBuilds(t *testing.T) {
	repo, e := releasedAppEnv(t, "2.0.0", buildV2)
	b, err := e.c.Builds("app", e.exe)
	if err != nil || b.Known || b.Installed.ExecutableSHA256 != hexSHA256(buildV1) || b.Installed.Version != "" || len(b.Kept) != 0 || b.Pending {
		t.Fatalf("Builds before any update = %+v, %v", b, err)
	}
	e.mustApply(client.CurrentVersion("1.0.0"))
	publishApp(repo, "3.0.0", ".tar.gz", tarGz(t, map[string][]byte{"app": buildV3}))
	repo.Publish()
	e.clock.Set(repo.Now().Add(time.Hour))
	e.mustApply(client.KeepPrevious(2))
	b, err = e.c.Builds("app", e.exe)
	if err != nil {
		t.Fatal(err)
	}
	archiveSum := hexSHA256(repo.Bytes(repo.TargetName("app/3.0.0/" + buildPlat + ".tar.gz")))
	want := client.BuildInfo{Path: e.exe, Version: "3.0.0", SHA256: archiveSum, ExecutableSHA256: hexSHA256(buildV3), Installed: repo.Now().Add(time.Hour).UTC()}
	if !b.Known || b.Installed != want || b.Pending {
		t.Errorf("installed %+v (known %v), want %+v", b.Installed, b.Known, want)
	}
	if len(b.Kept) != 2 {
		t.Fatalf("kept %+v, want two", b.Kept)
	}
	wantKept := []client.BuildInfo{
		{Path: b.Kept[0].Path, Version: "2.0.0", SHA256: hexSHA256(buildV2), ExecutableSHA256: hexSHA256(buildV2), Installed: repo.Now().UTC()},
		{Path: b.Kept[1].Path, Version: "1.0.0", ExecutableSHA256: hexSHA256(buildV1)},
	}
	for i, k := range b.Kept {
		if k != wantKept[i] {
			t.Errorf("kept[%d] = %+v, want %+v", i, k, wantKept[i])
		}
		if got, err := os.ReadFile(k.Path); err != nil || hexSHA256(got) != k.ExecutableSHA256 {
			t.Errorf("kept[%d] at %s: %v; its bytes are not what Builds says", i, k.Path, err)
		}
	}
	// Replaced by other means: not known.
	writeExe(t, e.exe, buildV15)
	if b, err := e.c.Builds("app", e.exe); err != nil || b.Known || b.Installed.ExecutableSHA256 != hexSHA256(buildV15) {
		t.Errorf("Builds after a replacement outside latch = %+v, %v", b, err)
	}
	_, err = e.c.Builds("../app", e.exe)
	wantIs(t, err, client.ErrInvalidOptions)
}
