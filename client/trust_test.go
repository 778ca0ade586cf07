package client_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/internal/simulator"
)

// rotateKey replaces the key of role (one key, rotated only by rotateKey)
// with a new one; its delegator lists the new key at the next Publish.
func rotateKey(repo *simulator.Repo, role string) {
	i := repo.AddKey(role)
	repo.RemoveKey(role, i-1)
}

// A root that rotates only the timestamp key discards the trusted timestamp
// and keeps the trusted snapshot: the holder of the snapshot key, still
// valid, can't use the rotation to roll targets or a delegated role back
// (spec §5.5.5 against the kept snapshot).
func TestTimestampRotationKeepsFloors(t *testing.T) {
	t.Parallel()
	setup := func(t *testing.T) (*env, *simulator.Repo) {
		repo := simulator.New(t, simulator.Options{ConsistentSnapshot: true})
		repo.Delegate("targets", "d", simulator.DelegationOpts{Paths: []string{"d/*"}})
		repo.AddDelegatedTarget("d", "d/x", []byte("x1"), nil)
		repo.Publish() // targets v2, d v1
		repo.AddTarget("a", []byte("a"), nil)
		repo.AddDelegatedTarget("d", "d/x", []byte("x2"), nil)
		repo.Publish() // targets v3, d v2
		e := refreshed(t, repo)
		if got := e.target("d/x"); got.Length() != 2 || versions(e.c.View())["targets"] != 3 {
			t.Fatalf("setup: trusted %v", versions(e.c.View()))
		}
		return e, repo
	}
	for _, tc := range []struct {
		name, role string
		old        int64
		restart    bool
	}{
		{"targets", "targets.json", 2, false},
		{"delegated", "d.json", 1, false},
		{"targets after a restart", "targets.json", 2, true},
		{"delegated after a restart", "d.json", 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, repo := setup(t)
			before := e.disk()
			// The repository rotates the timestamp key; the snapshot key
			// holder signs a snapshot that lists an older version.
			rotateKey(repo, "timestamp")
			if tc.restart {
				// The refresh that trusts the new root gets no timestamp,
				// and the client starts again without one.
				repo.Publish()
				repo.SetFault("timestamp.json", simulator.Fault{Status: 503})
				e.refreshErr()
				repo.ClearFaults()
				e.open()
			}
			repo.Snapshot().Signed.Meta[tc.role].Version = tc.old
			repo.Publish()
			err := e.refreshErr()
			wantIs(t, err, client.ErrRollback)
			if se := wantAs[*client.StaleError](t, err); se.Role != strings.TrimSuffix(tc.role, ".json") || se.Got != tc.old {
				t.Errorf("StaleError %+v", se)
			}
			e.sameDisk(before, "snapshot.json", "targets.json", "d.json")
			if !tc.restart { // a process that never refreshed answers no lookup
				if got := e.target("d/x"); got.Length() != 2 {
					t.Errorf("d/x has length %d after the refused snapshot, want 2", got.Length())
				}
			}
			e.wantVersions(map[string]int64{"root": 2, "snapshot": 3, "targets": 3})
			st := e.state()
			if st.TimestampResetRoot != 2 || st.FastForwardRoot != 0 {
				t.Errorf("TimestampResetRoot %d, FastForwardRoot %d, want 2 and 0", st.TimestampResetRoot, st.FastForwardRoot)
			}
			for role, v := range map[string]int64{"snapshot": 3, "targets": 3, "d": 2} {
				if got := st.Roles[role].Version; got != v {
					t.Errorf("%s floor v%d, want v%d", role, got, v)
				}
			}
		})
	}
}

// An application upgrade that embeds a root rotating the timestamp key
// recovers from a fast-forwarded timestamp exactly as if the root had been
// fetched: one path makes a root trusted (spec §5.3.11).
func TestEmbeddedRootRecovery(t *testing.T) {
	t.Parallel()
	repo := simulator.New(t, simulator.Options{})
	e := refreshed(t, repo)
	repo.Timestamp().Signed.Version = 1000 // the attacker's timestamp
	repo.Publish()
	e.refresh()
	e.wantVersions(top(1, 1000, 1, 1))

	rotateKey(repo, "timestamp")
	repo.Timestamp().Signed.Version = 2
	repo.Publish() // root v2, timestamp v2 with the new key
	e.cfg.TrustedRoot = repo.Bytes("2.root.json")
	e.open() // the new build of the application
	if err := e.c.Status().AuditError; err != nil {
		t.Errorf("trusting the embedded root: %v", err)
	}
	if kinds := auditKinds(t, e.cfg.StateDir); !slices.Contains(kinds, "root-rotation") {
		t.Errorf("audit records %q, want a root-rotation", kinds)
	}
	e.refresh()
	e.wantVersions(top(2, 2, 1, 1))
	if st := e.state(); st.TimestampResetRoot != 2 {
		t.Errorf("TimestampResetRoot %d, want 2", st.TimestampResetRoot)
	}
}

// After a refresh that trusts a root revoking the targets key, the same
// client answers no lookup from the targets metadata signed by the revoked
// key, as a new process would not.
func TestRevokedTargetsKey(t *testing.T) {
	t.Parallel()
	repo := simulator.New(t, simulator.Options{ConsistentSnapshot: true})
	repo.AddTarget("a", []byte("a"), nil)
	repo.Publish()
	e := refreshed(t, repo)
	e.target("a")
	ts := repo.Version("timestamp")

	rotateKey(repo, "targets")
	repo.Publish() // root v2, targets re-signed with the new key
	// An application shipped with root v2 does not answer from the cached
	// targets either, even offline.
	cfg := e.cfg
	cfg.TrustedRoot = repo.Bytes("2.root.json")
	view, err := client.Offline(cfg, e.opts...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := view.Target("a"); err == nil {
		t.Error("the offline view of a new build answers from the revoked targets")
	}
	// A mirror keeps serving the trusted timestamp: the snapshot and the
	// targets it lists are the old ones.
	repo.SetFault("timestamp.json", simulator.Fault{OldVersion: ts})
	for _, process := range []string{"same", "new"} {
		if process == "new" {
			e.open()
		}
		wantIs(t, e.refreshErr(), client.ErrThreshold)
		wantIs(t, e.targetErr("a"), client.ErrNotRefreshed)
		if _, err := e.c.View().Target("a"); err == nil {
			t.Errorf("%s process: the view answers from the revoked targets", process)
		}
		if got := versions(e.c.View()); got["root"] != 2 || got["targets"] != 0 {
			t.Errorf("%s process: trusted %v, want root v2 and no targets", process, got)
		}
	}
	repo.ClearFaults()
	e.refresh()
	e.target("a")
}

// blockingFetcher holds the first fetch of one file name, with the bytes
// already read, until released.
type blockingFetcher struct {
	client.Fetcher
	name     string
	once     sync.Once
	started  chan struct{}
	released chan struct{}
}

func (f *blockingFetcher) Fetch(ctx context.Context, url string, offset, maxLength int64) (io.ReadCloser, error) {
	rc, err := f.Fetcher.Fetch(ctx, url, offset, maxLength)
	if err != nil || !strings.HasSuffix(url, "/"+f.name) {
		return rc, err
	}
	hold := false
	f.once.Do(func() { hold = true })
	if !hold {
		return rc, nil
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	close(f.started)
	<-f.released
	return io.NopCloser(bytes.NewReader(b)), nil
}

// A delegated role verified by a lookup that raced a refresh is not used
// by later lookups once the refresh trusted a delegator that changed the
// role's keys, even when a fast-forward recovery made the versions repeat.
func TestRevokedDelegatedKeyRace(t *testing.T) {
	t.Parallel()
	repo := simulator.New(t, simulator.Options{ConsistentSnapshot: true})
	repo.Delegate("targets", "d", simulator.DelegationOpts{Paths: []string{"d/*"}})
	repo.AddDelegatedTarget("d", "d/x", []byte("old"), nil)
	repo.Publish() // targets v2, d v1 signed by d's key 0
	f := &blockingFetcher{Fetcher: fastFetcher(), name: "1.d.json", started: make(chan struct{}), released: make(chan struct{})}
	e := refreshed(t, repo, client.WithFetcher(f))

	type result struct {
		tg  *client.Target
		err error
	}
	first := make(chan result)
	go func() {
		tg, err := e.c.Target(context.Background(), "d/x")
		first <- result{tg, err}
	}()
	<-f.started

	// The repository recovers from a compromise: new snapshot and d keys,
	// and targets v2 and d v1 again, now trusting d's new key only.
	repo.Targets("targets")
	repo.Targets("d")
	repo.Publish() // targets v3, d v2: never seen by the client
	rotateKey(repo, "snapshot")
	rotateKey(repo, "d")
	repo.AddDelegatedTarget("d", "d/x", []byte("new"), nil)
	repo.Targets("targets").Signed.Version = 2
	repo.Targets("d").Signed.Version = 1
	repo.Publish()
	e.refresh()
	close(f.released)
	if r := <-first; r.err != nil {
		t.Fatalf("lookup begun before the refresh: %v", r.err)
	}

	tg := e.target("d/x")
	if got, want := hexOf(tg.Hashes()["sha256"]), hexSHA256([]byte("new")); got != want {
		t.Errorf("d/x has sha256 %.12s, want %.12s (the new d v1): the old d, signed by a dropped key, was used", got, want)
	}
}

// A deleted trusted state with cache files present is not taken for a
// first run silently: the log, the audit log and Status report it.
func TestTrustedStateDeleted(t *testing.T) {
	t.Parallel()
	for _, auditToo := range []bool{false, true} {
		name := "state"
		if auditToo {
			name = "state and audit log"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			repo := simulator.New(t, simulator.Options{})
			e := refreshed(t, repo)
			e.refresh() // two audit records
			if e.c.Status().TrustedStateLost {
				t.Fatal("TrustedStateLost on a first run")
			}
			e.c.Close()
			e.c = nil
			if err := os.Remove(filepath.Join(e.cfg.StateDir, "state", "trusted-state")); err != nil {
				t.Fatal(err)
			}
			if auditToo {
				if err := os.RemoveAll(filepath.Join(e.cfg.StateDir, "audit")); err != nil {
					t.Fatal(err)
				}
			}
			logBuf := &logBuffer{}
			e.opts = append(e.opts, client.WithLogger(slog.New(slog.NewTextHandler(logBuf, nil))))
			e.open()
			if !e.c.Status().TrustedStateLost {
				t.Error("Status().TrustedStateLost is false")
			}
			if !strings.Contains(logBuf.String(), "level=WARN msg=\"trusted state missing") {
				t.Errorf("no warning in the log:\n%s", logBuf.String())
			}
			if auditToo {
				if kinds := auditKinds(t, e.cfg.StateDir); len(kinds) == 0 || kinds[0] != "state-lost" {
					t.Errorf("audit records %q, want state-lost first", kinds)
				}
			} else if err := e.c.Status().AuditError; !errors.Is(err, client.ErrAudit) {
				// The anchor of the old log was in the lost state: the
				// log can't be continued, and Status says so too.
				t.Errorf("Status().AuditError = %v with an unanchored audit log, want ErrAudit", err)
			}
			e.refresh()
			e.open() // the state was saved again: a normal start
			if e.c.Status().TrustedStateLost {
				t.Error("TrustedStateLost after the state was saved again")
			}
		})
	}
}
