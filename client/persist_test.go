package client_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/internal/audit"
	"github.com/latchsec/latch/internal/simulator"
	"github.com/latchsec/latch/rollback"
)

// persistRepo is a repository with one target, published.
func persistRepo(t *testing.T) *simulator.Repo {
	repo := simulator.New(t, simulator.Options{})
	repo.AddTarget("a", []byte("a"), nil)
	repo.Publish()
	return repo
}

// savedState returns the trusted state saved in the env's state directory.
func (e *env) savedState() *rollback.State {
	e.t.Helper()
	s, err := rollback.ReadFileState(filepath.Join(e.cfg.StateDir, "state"))
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// stateFiles returns the trusted state file and the audit log.
func (e *env) stateFiles() (state, auditLog []byte) {
	e.t.Helper()
	state, err := os.ReadFile(filepath.Join(e.cfg.StateDir, "state", "trusted-state"))
	if err != nil {
		e.t.Fatal(err)
	}
	auditLog, err = os.ReadFile(filepath.Join(e.cfg.StateDir, "audit", "audit.log"))
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
	e := refreshed(t, persistRepo(t))
	state, auditLog := e.stateFiles()
	saves := client.CountSaves(e.c)
	for i := range 3 {
		e.clock.Set(e.repo.Now().Add(time.Duration(i+1) * 5 * time.Minute))
		e.refresh()
	}
	if n := saves.Saves(); n != 0 {
		t.Errorf("idle refreshes saved the trusted state %d times, want 0", n)
	}

	saves = client.CountSaves(e.open()) // a warm start
	e.refresh()
	e.target("a")
	if n := saves.Saves(); n != 0 {
		t.Errorf("a warm start's refresh saved the trusted state %d times, want 0", n)
	}
	e.c.Close()
	if s, a := e.stateFiles(); !bytes.Equal(s, state) || !bytes.Equal(a, auditLog) {
		t.Errorf("idle refreshes changed the trusted state (%v) or the audit log (%v)", !bytes.Equal(s, state), !bytes.Equal(a, auditLog))
	}
}

// TestRefreshSavesOnce: a refresh that trusts new metadata saves the
// trusted state once, audit anchor and trusted time included, whether it
// starts from nothing (New saved the embedded root) or from an older
// state; and what it saved is what a new process starts from.
func TestRefreshSavesOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, persistRepo(t))
	saves := client.CountSaves(e.open())
	e.refresh()
	if n := saves.Saves(); n != 1 {
		t.Errorf("a cold refresh saved the trusted state %d times, want 1", n)
	}
	e.repo.AddTarget("b", []byte("b"), nil)
	e.repo.Publish()
	e.clock.Set(e.repo.Now().Add(time.Hour))
	e.refresh()
	if n := saves.Saves(); n != 1 {
		t.Errorf("a refresh to new timestamp, snapshot and targets saved the trusted state %d times, want 1", n)
	}
	e.c.Close()

	s := e.savedState()
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
	if sum, err := audit.VerifyAnchored(filepath.Join(e.cfg.StateDir, "audit"), m); err != nil || sum.Records != 2 {
		t.Errorf("audit log: %+v, %v; want 2 records that verify", sum, err)
	}
}

// TestRefreshFailureKeepsAccepted: a refresh that fails at the snapshot
// still saves the timestamp it accepted (spec §5.4.5 persists it before the
// snapshot is fetched), so that a new process refuses an older one.
func TestRefreshFailureKeepsAccepted(t *testing.T) {
	t.Parallel()
	e := refreshed(t, persistRepo(t))
	e.repo.AddTarget("b", []byte("b"), nil)
	e.repo.Publish()
	e.repo.SetFault("snapshot.json", simulator.Fault{Mutate: simulator.FlipBit})
	if re := wantAs[*client.RefreshError](t, e.refreshErr()); re.Role != "snapshot" {
		t.Fatalf("Refresh failed at %q, want at the snapshot", re.Role)
	}
	e.c.Close()
	s := e.savedState()
	if got, want := s.Roles["timestamp"].Version, e.repo.Version("timestamp"); got != want {
		t.Errorf("timestamp recorded at v%d after the failed refresh, want v%d", got, want)
	}
	if got := s.Roles["snapshot"].Version; got != e.repo.Version("snapshot")-1 {
		t.Errorf("snapshot recorded at v%d, want the one trusted before", got)
	}

	e.repo.ClearFaults()
	e.repo.SetFault("timestamp.json", simulator.Fault{OldVersion: e.repo.Version("timestamp") - 1})
	e.open()
	wantIs(t, e.refreshErr(), client.ErrRollback)
}

// TestClockFloorSavedWithChanges: the latest trusted time is kept in memory
// at every refresh and saved with the next save of the trusted state, not
// alone: a new process starts from the time of the last refresh that
// trusted something new (or was refused), and refuses a clock set back
// beyond it; the process that saw a later time refuses a clock set back
// beyond that one.
func TestClockFloorSavedWithChanges(t *testing.T) {
	t.Parallel()
	e := refreshed(t, persistRepo(t)) // saved with the cold refresh's records
	t0 := e.repo.Now()
	clockError := func(trusted time.Time) {
		t.Helper()
		if ce := wantAs[*client.ClockError](t, e.refreshErr()); !ce.Trusted.Equal(trusted) {
			t.Errorf("ClockError with the trusted time %v, want %v", ce.Trusted, trusted)
		}
	}
	e.clock.Set(t0.Add(2 * time.Hour))
	e.refresh() // idle: kept in memory

	e.open()
	e.clock.Set(t0.Add(-time.Hour))
	clockError(t0)
	e.clock.Set(t0.Add(time.Hour))
	e.refresh() // after the saved time: accepted
	e.clock.Set(t0.Add(3 * time.Hour))
	e.refresh()
	e.clock.Set(t0.Add(2 * time.Hour))
	clockError(t0.Add(3 * time.Hour))

	e.repo.AddTarget("b", []byte("b"), nil)
	e.repo.Publish()
	e.clock.Set(t0.Add(4 * time.Hour))
	e.refresh() // trusts new metadata: saves the time too
	e.c.Close()
	if got := e.savedState().LastTime; !got.Equal(t0.Add(4 * time.Hour)) {
		t.Errorf("saved trusted time %v, want %v", got, t0.Add(4*time.Hour))
	}
}

// gateFetcher holds the first request for a name ending in suffix until
// gate is closed, having closed reached.
type gateFetcher struct {
	client.Fetcher
	suffix        string
	reached, gate chan struct{}
	once          *sync.Once
}

func (f gateFetcher) Fetch(ctx context.Context, url string, offset, max int64) (io.ReadCloser, error) {
	if strings.HasSuffix(url, f.suffix) {
		f.once.Do(func() {
			close(f.reached)
			<-f.gate
		})
	}
	return f.Fetcher.Fetch(ctx, url, offset, max)
}

// TestOfflineBesideRefresh: a reader that looks while a refresh has
// verified a new timestamp and snapshot and waits for the targets metadata
// finds the state saved before, whole: the refresh writes its cache files
// when it saves, not as each document arrives.
func TestOfflineBesideRefresh(t *testing.T) {
	t.Parallel()
	e := refreshed(t, persistRepo(t))
	before := map[string]int64{}
	for _, role := range []string{"root", "timestamp", "snapshot", "targets"} {
		before[role] = e.repo.Version(role)
	}
	e.repo.AddTarget("b", []byte("b"), nil)
	e.repo.Publish()
	gf := gateFetcher{Fetcher: fastFetcher(), suffix: "/targets.json", reached: make(chan struct{}), gate: make(chan struct{}), once: new(sync.Once)}
	e.opts = append(e.opts, client.WithFetcher(gf))
	e.open()
	done := make(chan error, 1)
	go func() { done <- e.c.Refresh(context.Background()) }()
	<-gf.reached
	v, err := client.Offline(e.cfg, client.WithClock(e.clock.Now))
	close(gf.gate)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, r := range v.Roles() {
		got[r.Role] = r.Version
	}
	if !maps(got, before) {
		t.Errorf("Offline beside a refresh in progress: %v, want %v", got, before)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
