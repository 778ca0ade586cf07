package client_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/internal/simulator"
)

// logBuffer collects a client's log for assertions.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A restart reopens the cached targets through their index; a corrupted
// index costs a full verification, nothing else.
func TestTargetsIndex(t *testing.T) {
	t.Parallel()
	repo := simulator.New(t, simulator.Options{ConsistentSnapshot: true})
	repo.AddTarget("a", appV1, nil)
	repo.Publish()
	logs := &logBuffer{}
	e := refreshed(t, repo, client.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	index := filepath.Join(e.cfg.StateDir, "state", "targets.index")
	if _, err := os.Stat(index); err != nil {
		t.Fatalf("no targets index after a refresh: %v", err)
	}

	e.open()
	e.refresh()
	if tg := e.target("a"); tg.Length() != int64(len(appV1)) {
		t.Errorf("target after reopening: %d bytes", tg.Length())
	}
	if strings.Contains(logs.String(), "index unusable") {
		t.Errorf("the index was not used:\n%s", logs)
	}

	b, err := os.ReadFile(index)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := os.WriteFile(index, b, 0o600); err != nil {
		t.Fatal(err)
	}
	e.open()
	if !strings.Contains(logs.String(), "index unusable") {
		t.Errorf("a corrupted index went unnoticed:\n%s", logs)
	}
	if got := versions(e.c.View()); got["targets"] != repo.Version("targets") {
		t.Errorf("after a corrupted index: trusted %v", got)
	}
	e.refresh()
	e.target("a")
}

// Cached targets are reopened without their signature check only while the
// root whose keys verified them is still the trusted one: after a root that
// rotated the targets key, the cached document must pass the new keys, which
// it can't, even though its bytes and index are intact.
func TestTargetsIndexBoundToRoot(t *testing.T) {
	t.Parallel()
	repo := simulator.New(t, simulator.Options{ConsistentSnapshot: true})
	repo.AddTarget("a", appV1, nil)
	repo.Publish()
	e := refreshed(t, repo)

	// Root v2 revokes the targets key; the new targets can't be fetched,
	// so the refresh stops after accepting the new root.
	repo.AddKey("targets")
	repo.RemoveKey("targets", 0)
	repo.Publish()
	repo.SetFault(fmt.Sprintf("%d.targets.json", repo.Version("targets")), simulator.Fault{Status: 500})
	e.refreshErr()
	if got := versions(e.c.View()); got["root"] != repo.Version("root") {
		t.Fatalf("root not rotated: %v", got)
	}

	e.open()
	got := versions(e.c.View())
	if _, ok := got["targets"]; ok {
		t.Errorf("targets signed by a revoked key trusted after a restart: %v", got)
	}
}

// An index that can't be written costs speed only: the refresh succeeds, the
// failure is logged, and the next start verifies the cache in full.
func TestTargetsIndexNotWritten(t *testing.T) {
	t.Parallel()
	repo := simulator.New(t, simulator.Options{ConsistentSnapshot: true})
	repo.AddTarget("a", appV1, nil)
	repo.Publish()
	logs := &logBuffer{}
	e := newEnv(t, repo, client.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	// A directory where the index goes makes its atomic write fail.
	if err := os.MkdirAll(filepath.Join(e.cfg.StateDir, "state", "targets.index", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	e.open()
	e.refresh()
	if !strings.Contains(logs.String(), "targets index not written") {
		t.Errorf("the failed index write was not logged:\n%s", logs)
	}
	e.open()
	if got := versions(e.c.View()); got["targets"] != repo.Version("targets") {
		t.Errorf("after a restart without an index: trusted %v", got)
	}
	e.refresh()
	e.target("a")
}
