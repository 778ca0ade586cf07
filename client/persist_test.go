package client

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchsec/latch/internal/audit"
	"github.com/latchsec/latch/internal/simulator"
	"github.com/latchsec/latch/rollback"
)

// countingStore counts the saves of the trusted state; before each, it
// calls before (if set) with the save's number, counted from 0.
type countingStore struct {
	rollback.Store
	saves  atomic.Int64
	before func(n int64)
}

func (s *countingStore) Save(st *rollback.State) error {
	n := s.saves.Add(1) - 1
	if s.before != nil {
		s.before(n)
	}
	return s.Store.Save(st)
}

// countSaves wraps the store of c, which must not be in use.
func countSaves(c *Client) *countingStore {
	s := &countingStore{Store: c.store}
	c.store = s
	return s
}

// testClock is a settable clock for WithClock.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// persistEnv is a repository and a state directory for the tests of what
// the client writes.
type persistEnv struct {
	t     *testing.T
	repo  *simulator.Repo
	clock *testClock
	cfg   Config
}

func newPersistEnv(t *testing.T) *persistEnv {
	repo := simulator.New(t, simulator.Options{})
	repo.AddTarget("a", []byte("a"), nil)
	repo.Publish()
	metaURL, _ := repo.Serve()
	return &persistEnv{t: t, repo: repo, clock: &testClock{now: repo.Now()},
		cfg: Config{TrustedRoot: repo.TrustedRoot(), MetadataURLs: []string{metaURL}, StateDir: t.TempDir()}}
}

func (e *persistEnv) open(opts ...Option) *Client {
	e.t.Helper()
	c, err := New(e.cfg, append([]Option{WithClock(e.clock.Now)}, opts...)...)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *persistEnv) refresh(c *Client) {
	e.t.Helper()
	if err := c.Refresh(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
}

// files returns the trusted state file and the audit log.
func (e *persistEnv) files() (state, auditLog []byte) {
	e.t.Helper()
	state, err := os.ReadFile(filepath.Join(e.cfg.StateDir, stateSubdir, "trusted-state"))
	if err != nil {
		e.t.Fatal(err)
	}
	auditLog, err = os.ReadFile(filepath.Join(e.cfg.StateDir, auditSubdir, "audit.log"))
	if err != nil {
		e.t.Fatal(err)
	}
	return state, auditLog
}

// TestIdleRefreshWritesNothing: a refresh that finds nothing new saves no
// trusted state and appends no audit record, in a long-lived client (the
// clock moved on by more than a minute each time) and in a new process.
func TestIdleRefreshWritesNothing(t *testing.T) {
	t.Parallel()
	e := newPersistEnv(t)
	c := e.open()
	e.refresh(c)
	state, auditLog := e.files()
	saves := countSaves(c)
	for i := range 3 {
		e.clock.Set(e.repo.Now().Add(time.Duration(i+1) * 5 * time.Minute))
		e.refresh(c)
	}
	if n := saves.saves.Load(); n != 0 {
		t.Errorf("idle refreshes saved the trusted state %d times, want 0", n)
	}
	c.Close()

	c = e.open() // a warm start
	saves = countSaves(c)
	e.refresh(c)
	if _, err := c.Target(t.Context(), "a"); err != nil {
		t.Fatal(err)
	}
	if n := saves.saves.Load(); n != 0 {
		t.Errorf("a warm start's refresh saved the trusted state %d times, want 0", n)
	}
	c.Close()
	if s, a := e.files(); !bytes.Equal(s, state) || !bytes.Equal(a, auditLog) {
		t.Errorf("idle refreshes changed the trusted state (%v) or the audit log (%v)", !bytes.Equal(s, state), !bytes.Equal(a, auditLog))
	}
}

// TestRefreshSavesOnce: a refresh that trusts new metadata saves the
// trusted state once, audit anchor and trusted time included, whether it
// starts from nothing (New saved the embedded root) or from an older
// state; and what it saved is what a new process starts from.
func TestRefreshSavesOnce(t *testing.T) {
	t.Parallel()
	e := newPersistEnv(t)
	c := e.open()
	saves := countSaves(c)
	e.refresh(c)
	if n := saves.saves.Load(); n != 1 {
		t.Errorf("a cold refresh saved the trusted state %d times, want 1", n)
	}
	e.repo.AddTarget("b", []byte("b"), nil)
	e.repo.Publish()
	e.clock.Set(e.repo.Now().Add(time.Hour))
	saves.saves.Store(0)
	e.refresh(c)
	if n := saves.saves.Load(); n != 1 {
		t.Errorf("a refresh to new timestamp, snapshot and targets saved the trusted state %d times, want 1", n)
	}
	c.Close()

	s, err := rollback.ReadFileState(filepath.Join(e.cfg.StateDir, stateSubdir))
	if err != nil {
		t.Fatal(err)
	}
	for _, role := range []string{"root", "timestamp", "snapshot", "targets"} {
		if got, want := s.Roles[role].Version, e.repo.Version(role); got != want {
			t.Errorf("%s recorded at v%d, want v%d", role, got, want)
		}
	}
	if !s.LastTime.Equal(e.repo.Now().Add(time.Hour)) {
		t.Errorf("trusted time %v, want %v", s.LastTime, e.repo.Now().Add(time.Hour))
	}
	m, err := audit.ParseMark(s.AuditAnchor)
	if err != nil {
		t.Fatal(err)
	}
	if sum, err := audit.VerifyAnchored(filepath.Join(e.cfg.StateDir, auditSubdir), m); err != nil || sum.Records != 2 {
		t.Errorf("audit log: %+v, %v; want 2 records that verify", sum, err)
	}
}

// TestRefreshFailureKeepsAccepted: a refresh that fails at the snapshot
// still saves the timestamp it accepted (spec §5.4.5 persists it before the
// snapshot is fetched), so that a new process refuses an older one.
func TestRefreshFailureKeepsAccepted(t *testing.T) {
	t.Parallel()
	e := newPersistEnv(t)
	c := e.open()
	e.refresh(c)
	e.repo.AddTarget("b", []byte("b"), nil)
	e.repo.Publish()
	e.repo.SetFault("snapshot.json", simulator.Fault{Mutate: simulator.FlipBit})
	var re *RefreshError
	if err := c.Refresh(t.Context()); !errors.As(err, &re) || re.Role != "snapshot" {
		t.Fatalf("Refresh: %v, want a failure at the snapshot", err)
	}
	c.Close()
	s, err := rollback.ReadFileState(filepath.Join(e.cfg.StateDir, stateSubdir))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.Roles["timestamp"].Version, e.repo.Version("timestamp"); got != want {
		t.Errorf("timestamp recorded at v%d after the failed refresh, want v%d", got, want)
	}
	if got := s.Roles["snapshot"].Version; got != e.repo.Version("snapshot")-1 {
		t.Errorf("snapshot recorded at v%d, want the one trusted before", got)
	}

	e.repo.ClearFaults()
	e.repo.SetFault("timestamp.json", simulator.Fault{OldVersion: e.repo.Version("timestamp") - 1})
	c = e.open()
	defer c.Close()
	if err := c.Refresh(t.Context()); !errors.Is(err, ErrRollback) {
		t.Fatalf("Refresh with the timestamp trusted before: %v, want ErrRollback", err)
	}
}

// TestClockFloorSavedWithChanges: the latest trusted time is kept in memory
// at every refresh and saved with the next save of the trusted state, not
// alone: what a new process starts from is the time of the last refresh
// that trusted something new, and that is still refused when the clock
// goes back beyond it.
func TestClockFloorSavedWithChanges(t *testing.T) {
	t.Parallel()
	e := newPersistEnv(t)
	t0 := e.repo.Now()
	c := e.open()
	e.refresh(c) // saved with the cold refresh's records
	e.clock.Set(t0.Add(2 * time.Hour))
	e.refresh(c) // idle: kept in memory
	e.clock.Set(t0.Add(time.Hour))
	var ce *ClockError
	if err := c.Refresh(t.Context()); !errors.As(err, &ce) || !ce.Trusted.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("Refresh with the clock an hour back in the same process: %v, want a ClockError at %v", err, t0.Add(2*time.Hour))
	}
	c.Close()

	c = e.open()
	e.clock.Set(t0.Add(-time.Hour))
	if err := c.Refresh(t.Context()); !errors.As(err, &ce) || !ce.Trusted.Equal(t0) {
		t.Fatalf("Refresh with the clock before the saved time: %v, want a ClockError at %v", err, t0)
	}
	e.clock.Set(t0.Add(time.Hour))
	e.refresh(c) // after the saved floor: accepted
	e.repo.AddTarget("b", []byte("b"), nil)
	e.repo.Publish()
	e.clock.Set(t0.Add(3 * time.Hour))
	e.refresh(c) // trusts new metadata: saves the time too
	c.Close()
	s, err := rollback.ReadFileState(filepath.Join(e.cfg.StateDir, stateSubdir))
	if err != nil {
		t.Fatal(err)
	}
	if !s.LastTime.Equal(t0.Add(3 * time.Hour)) {
		t.Errorf("saved trusted time %v, want %v", s.LastTime, t0.Add(3*time.Hour))
	}
}
