//go:build unix

package client

import (
	"encoding/json"
	"errors"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/latchsec/latch/internal/audit"
	"github.com/latchsec/latch/internal/simulator"
	"github.com/latchsec/latch/rollback"
)

// Crashes while a refresh persists what it verified: a child process (this
// test binary again) refreshes and SIGKILLs itself just before its n-th
// save of the trusted state in Refresh, when the cache files of that save
// are written and their records are not. The trusted state's own save is atomic
// (rollback's tests interrupt it).

const persistCrashEnv = "LATCH_PERSIST_CRASH"

type persistCrashJob struct {
	StateDir, RootFile, MetaURL string
	Now                         time.Time
	Kill                        int64 // the save of Refresh to die at, counted from 0
}

func TestPersistCrashChild(t *testing.T) {
	env := os.Getenv(persistCrashEnv)
	if env == "" {
		t.Skip("run by TestRefreshKilled as a child process")
	}
	var job persistCrashJob
	if err := json.Unmarshal([]byte(env), &job); err != nil {
		t.Fatal(err)
	}
	root, err := os.ReadFile(job.RootFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{TrustedRoot: root, MetadataURLs: []string{job.MetaURL}, StateDir: job.StateDir}
	c, err := New(cfg, WithClock(func() time.Time { return job.Now }))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	countSaves(c).before = func(n int64) {
		if n == job.Kill {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	}
	if err := c.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestRefreshKilled kills a refresh before each save of the trusted state,
// on a first start and on a refresh that follows a root rotation to new
// timestamp, snapshot and targets metadata. After each kill the next start
// succeeds without reporting a lost state, the audit log verifies against
// its anchor, no recorded version went back, a rollback to the metadata
// trusted before the kill is refused, and a refresh then completes.
func TestRefreshKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	t.Parallel()
	repo := simulator.New(t, simulator.Options{})
	repo.AddTarget("a", []byte("a"), nil)
	repo.Publish()
	metaURL, _ := repo.Serve()
	rootFile := filepath.Join(t.TempDir(), "root.json")
	if err := os.WriteFile(rootFile, repo.TrustedRoot(), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := func(dir string) Config {
		return Config{TrustedRoot: repo.TrustedRoot(), MetadataURLs: []string{metaURL}, StateDir: dir}
	}
	now := repo.Now()
	clock := WithClock(func() time.Time { return now })

	// base: a state directory that trusts the repository as it is now.
	base := t.TempDir()
	c, err := New(cfg(base), clock)
	if err == nil {
		err = c.Refresh(t.Context())
		c.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	trustedTimestamp := repo.Version("timestamp")
	repo.AddKey("root")
	repo.PublishRoot()
	repo.AddTarget("b", []byte("b"), nil)
	repo.Publish()

	for _, start := range []string{"first", "later"} {
		for kill := int64(0); ; kill++ {
			dir := t.TempDir()
			if start == "later" {
				copyTree(t, base, dir)
			}
			before := recordedVersions(t, dir)
			job, _ := json.Marshal(persistCrashJob{StateDir: dir, RootFile: rootFile, MetaURL: metaURL, Now: now, Kill: kill})
			cmd := exec.Command(os.Args[0], "-test.run=^TestPersistCrashChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), persistCrashEnv+"="+string(job))
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			killed := errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signaled()
			if err != nil && !killed {
				t.Fatalf("%s start, kill at save %d: child: %v\n%s", start, kill, err, out)
			}
			after := recordedVersions(t, dir)
			for role, v := range before {
				if after[role] < v {
					t.Errorf("%s start, kill at save %d: %s recorded at v%d, was v%d", start, kill, role, after[role], v)
				}
			}

			c, err := New(cfg(dir), clock, WithAuditRequired())
			if err != nil {
				t.Fatalf("%s start, kill at save %d: New: %v", start, kill, err)
			}
			if c.Status().TrustedStateLost {
				t.Errorf("%s start, kill at save %d: the next start reports a lost trusted state", start, kill)
			}
			if start == "later" {
				repo.SetFault("timestamp.json", simulator.Fault{OldVersion: trustedTimestamp - 1})
				if err := c.Refresh(t.Context()); !errors.Is(err, ErrRollback) {
					t.Errorf("%s start, kill at save %d: a timestamp older than the one trusted before: %v, want ErrRollback", start, kill, err)
				}
				repo.ClearFaults()
			}
			if err := c.Refresh(t.Context()); err != nil {
				t.Errorf("%s start, kill at save %d: Refresh after the kill: %v", start, kill, err)
			}
			c.Close()
			s, err := rollback.ReadFileState(filepath.Join(dir, stateSubdir))
			if err != nil {
				t.Fatal(err)
			}
			m, err := audit.ParseMark(s.AuditAnchor)
			if err == nil {
				_, err = audit.VerifyAnchored(filepath.Join(dir, auditSubdir), m)
			}
			if err != nil {
				t.Errorf("%s start, kill at save %d: audit log: %v", start, kill, err)
			}
			if got, want := recordedVersions(t, dir), map[string]int64{"root": 2, "timestamp": repo.Version("timestamp"), "snapshot": repo.Version("snapshot"), "targets": repo.Version("targets")}; !maps.Equal(got, want) {
				t.Errorf("%s start, kill at save %d: recorded %v after the refresh, want %v", start, kill, got, want)
			}
			if !killed {
				if kill == 0 {
					t.Errorf("%s start: the refresh saved nothing", start)
				}
				break
			}
		}
	}
}

// recordedVersions returns the version of each role the trusted state in
// dir records.
func recordedVersions(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	s, err := rollback.ReadFileState(filepath.Join(dir, stateSubdir))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for role, rec := range s.Roles {
		out[role] = rec.Version
	}
	return out
}

// copyTree copies the regular files and directories below src into dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}
