//go:build !windows

package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/latchsec/latch/internal/translog"
	"github.com/latchsec/latch/transparency"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// readLog opens the log publish keeps at REPO/log with the key log-init
// printed.
func readLog(t *testing.T, f *fixture) (*translog.Log, logConfig) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(f.repo, logDir, logConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	var cfg logConfig
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	v, err := translog.NewVerifier(translog.Policy{Origin: cfg.Origin, LogKey: cfg.VKey})
	if err != nil {
		t.Fatal(err)
	}
	l, err := translog.NewLog(v, translog.Dir(filepath.Join(f.repo, logDir)), translog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return l, cfg
}

// TestLogAdd: with a log, every release add publishes is in the log at the
// index its signed custom data names, as exactly the entry of its target.
func TestLogAdd(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.init()
	f.mustPublish(t0, "log-init", "-origin", "example.com/myapp/log")
	if fi, err := os.Stat(filepath.Join(f.keys, logKeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("log key file: %v, %v", fi, err)
	}
	if err := f.publish(t0, "log-init", "-origin", "example.com/myapp/log"); !errors.Is(err, ErrExists) {
		t.Fatalf("second log-init: %v, want ErrExists", err)
	}
	f.release(t0, "1.0.0", "a", "stable")
	f.release(t0, "1.1.0", "b", "stable,beta")

	l, cfg := readLog(t, f)
	if cfg.Repository != "example.com/myapp/log" {
		t.Errorf("repository %q, want the origin", cfg.Repository)
	}
	ctx := context.Background()
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != 2 {
		t.Fatalf("log of %d entries, want 2", cp.Size)
	}
	targets := readTargets(t, f.repo)
	for i, name := range []string{"myapp/1.0.0/linux-amd64", "myapp/1.1.0/linux-amd64"} {
		tf := targets.Signed.Targets[name]
		var info releaseInfo
		if err := json.Unmarshal(*tf.Custom, &info); err != nil || info.TLog == nil || info.TLog.Index != int64(i) {
			t.Fatalf("%s custom %s: %v", name, *tf.Custom, err)
		}
		want := transparency.Entry{Repository: cfg.Repository, Path: name, Length: tf.Length}
		copy(want.SHA256[:], tf.Hashes["sha256"])
		if _, err := l.Prove(ctx, cp, info.TLog.Index, want); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Clients still accept the repository (the custom data is only
	// longer).
	f.check(t0)
}

// TestLogAddRefusals: add with a log and without the log key, or with
// another log's key, publishes nothing and logs nothing.
func TestLogAddRefusals(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.init()
	f.mustPublish(t0, "log-init", "-origin", "example.com/myapp/log", "-repository", "myapp")
	f.release(t0, "1.0.0", "a", "stable")
	before := snapshotTree(t, f.repo, f.keys, f.online)

	// The signing keys without the log key.
	pems, other := filepath.Join(f.tmp, "pems"), filepath.Join(f.tmp, "other")
	for _, d := range []string{pems, other} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	copyGlob(t, filepath.Join(f.keys, "*.pem"), pems)
	name := filepath.Join(f.tmp, "c")
	if err := os.WriteFile(name, []byte("c"), 0o644); err != nil {
		t.Fatal(err)
	}
	add := []string{"add", "-app", "myapp", "-version", "1.2.0", "-os", "linux", "-arch", "amd64", "-file", name}
	if err := f.publish(t0, append(add, "-keys", pems, "-keys", f.online)...); !errors.Is(err, ErrMissingKeys) {
		t.Fatalf("add without the log key: %v, want ErrMissingKeys", err)
	}
	// Another log's key under the right file name.
	g := newFixture(t)
	g.rand = &entropy{label: "another log"}
	g.init()
	g.mustPublish(t0, "log-init", "-origin", "example.com/myapp/log")
	copyGlob(t, filepath.Join(g.keys, logKeyFile), other)
	if err := f.publish(t0, append(add, "-keys", pems, "-keys", f.online, "-keys", other)...); !errors.Is(err, ErrKeyFile) {
		t.Fatalf("add with another log's key: %v, want ErrKeyFile", err)
	}
	// A -log directory that holds no log.
	if err := f.publish(t0, append(add, "-log", filepath.Join(f.tmp, "nolog"))...); !errors.Is(err, ErrBadRepository) {
		t.Fatalf("add -log to no log: %v, want ErrBadRepository", err)
	}
	before.check(t)

	l, _ := readLog(t, f)
	if cp, err := l.Checkpoint(context.Background()); err != nil || cp.Size != 1 {
		t.Fatalf("log after refusals: %v, %v", cp, err)
	}
}

func readTargets(t *testing.T, repo string) *metadata.Metadata[metadata.TargetsType] {
	t.Helper()
	r, err := loadRepo(repo, "")
	if err != nil {
		t.Fatal(err)
	}
	return r.targets
}
