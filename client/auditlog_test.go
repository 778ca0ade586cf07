package client_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/latchsec/latch/auditlog"
	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/internal/simulator"
)

// auditedEnv returns a closed env whose audit log holds a few records:
// refreshes and a download.
func auditedEnv(t *testing.T) *env {
	t.Helper()
	repo := simulator.New(t, simulator.Options{})
	repo.AddTarget("a", appV1, nil)
	repo.Publish()
	e := refreshed(t, repo)
	if err := e.c.DownloadFile(context.Background(), e.target("a"), filepath.Join(e.dl, "a")); err != nil {
		t.Fatal(err)
	}
	repo.AddTarget("b", appV1, nil) // a refresh that finds nothing new is not recorded
	repo.Publish()
	e.refresh()
	e.c.Close()
	e.c = nil
	return e
}

// TestVerifyAuditTampered: through the public API, every way someone who can
// write the audit directory but not the trusted state covers their tracks
// is reported as a *client.AuditError with its reason, and an intact log
// verifies.
func TestVerifyAuditTampered(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		tamper func(t *testing.T, dir string, lines [][]byte) // dir: the audit directory
		reason auditlog.Reason
		anchor bool // found only by the comparison with the trusted state
	}{
		{"edited", func(t *testing.T, dir string, lines [][]byte) {
			lines[1] = bytes.Replace(lines[1], []byte(`"kind":"`), []byte(`"kind":"x`), 1)
			writeLines(t, dir, lines)
		}, auditlog.ReasonEdited, false},
		{"deleted", func(t *testing.T, dir string, lines [][]byte) {
			writeLines(t, dir, slices.Delete(lines, 1, 2))
		}, auditlog.ReasonDeleted, false},
		{"last two cut", func(t *testing.T, dir string, lines [][]byte) {
			writeLines(t, dir, lines[:len(lines)-2])
		}, auditlog.ReasonTruncated, true},
		{"record added", func(t *testing.T, dir string, lines [][]byte) {
			last := lines[len(lines)-1]
			writeLines(t, dir, append(lines, forgeRecord(t, uint64(len(lines)+1), last, "refresh", `{}`)))
		}, auditlog.ReasonExtended, true},
		{"directory deleted", func(t *testing.T, dir string, _ [][]byte) {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
		}, auditlog.ReasonTruncated, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := auditedEnv(t)
			if sum, err := client.VerifyAudit(t.Context(), e.cfg.StateDir); err != nil || sum.Records < 3 || sum.FirstSeq != 1 {
				t.Fatalf("VerifyAudit before tampering: %+v, %v", sum, err)
			}
			dir := filepath.Join(e.cfg.StateDir, "audit")
			tt.tamper(t, dir, readLines(t, dir))
			_, err := client.VerifyAudit(t.Context(), e.cfg.StateDir)
			wantIs(t, err, client.ErrAuditBroken)
			ae := wantAs[*client.AuditError](t, err)
			if ae.Reason != tt.reason {
				t.Errorf("Reason %q, want %q (%v)", ae.Reason, tt.reason, err)
			}
			if got := errors.Is(err, client.ErrAuditAnchor); got != tt.anchor {
				t.Errorf("errors.Is(err, ErrAuditAnchor) = %v, want %v", got, tt.anchor)
			}
			// The chain alone shows edits and deletions, not what the
			// trusted state alone can tell.
			_, err = client.VerifyAuditFiles(dir)
			if tt.anchor && tt.name != "directory deleted" && err != nil {
				t.Errorf("VerifyAuditFiles: %v, want no error (the chain itself is intact)", err)
			}
			if !tt.anchor {
				wantIs(t, err, client.ErrAuditBroken)
			}
		})
	}
}

func readLines(t *testing.T, dir string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(b, []byte("\n"))
	return lines[:len(lines)-1] // after the last newline
}

func writeLines(t *testing.T, dir string, lines [][]byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "audit.log"), bytes.Join(lines, nil), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyAuditInputs: a state directory that does not exist is an
// error, not an empty log; one that never recorded anything verifies; a
// single file verifies by its chain.
func TestVerifyAuditInputs(t *testing.T) {
	t.Parallel()
	_, err := client.VerifyAudit(t.Context(), filepath.Join(t.TempDir(), "nothing"))
	wantIs(t, err, fs.ErrNotExist)
	_, err = client.VerifyAudit(t.Context(), "")
	wantIs(t, err, client.ErrInvalidOptions)
	if sum, err := client.VerifyAudit(t.Context(), t.TempDir()); err != nil || sum.Records != 0 {
		t.Errorf("VerifyAudit of an empty directory: %+v, %v", sum, err)
	}
	e := auditedEnv(t)
	file := filepath.Join(e.cfg.StateDir, "audit", "audit.log")
	sum, err := client.VerifyAuditFiles(file)
	if err != nil || sum.Records != len(readLines(t, filepath.Dir(file))) || sum.Last == "" {
		t.Errorf("VerifyAuditFiles(%s): %+v, %v", file, sum, err)
	}
}

// TestVerifyAuditBesideHolder: the log verifies while a client in another
// process holds the state directory and refreshes.
func TestVerifyAuditBesideHolder(t *testing.T) {
	t.Parallel()
	e := auditedEnv(t)
	ch := startChild(t, e, "hold")
	if got := ch.Line(t); got != "ready" {
		t.Fatalf("child: %q", got)
	}
	for range 3 {
		if _, err := client.VerifyAudit(t.Context(), e.cfg.StateDir); err != nil {
			t.Fatalf("VerifyAudit beside the holder: %v", err)
		}
		ch.Stdin.Write([]byte("refresh\n"))
		if got := ch.Line(t); got != "refreshed" {
			t.Fatalf("child: %q", got)
		}
	}
	ch.End(t)
}

// clockRolledBack returns an env whose trusted time lies an hour ahead of
// its clock, as after a clock that was wrong in the future, and whose
// refresh therefore fails with a *ClockError. The client is open.
func clockRolledBack(t *testing.T) *env {
	t.Helper()
	repo := simulator.New(t, simulator.Options{})
	repo.Publish()
	e := newEnv(t, repo)
	e.clock.Set(repo.Now().Add(time.Hour))
	e.open()
	e.refresh()
	e.clock.Set(repo.Now())
	wantAs[*client.ClockError](t, e.refreshErr())
	return e
}

// TestResetTrustedTimeUnsafe: after a clock that was wrong in the future,
// the reset lowers the trusted time to the clock, so that refreshes work
// again, and the audit log records it.
func TestResetTrustedTimeUnsafe(t *testing.T) {
	t.Parallel()
	e := clockRolledBack(t)
	if err := e.c.ResetTrustedTimeUnsafe(); err != nil {
		t.Fatal(err)
	}
	if got := e.c.Status().LastTrustedTime; !got.Equal(e.repo.Now()) {
		t.Errorf("LastTrustedTime %v, want %v", got, e.repo.Now())
	}
	e.refresh()
	e.c.Close()
	e.c = nil
	if got := auditKinds(t, e.cfg.StateDir); !slices.Contains(got, "clock-reset") {
		t.Errorf("audit kinds %q, want a clock-reset record", got)
	}
	if _, err := client.VerifyAudit(t.Context(), e.cfg.StateDir); err != nil {
		t.Error(err)
	}
	if got := e.state().LastTime; !got.Equal(e.repo.Now()) {
		t.Errorf("stored LastTime %v, want %v", got, e.repo.Now())
	}
}

// TestResetTrustedTimeUnsafeChangesNothing: a clock that is not behind
// resets nothing and records nothing; a closed client refuses; neither
// moves the trusted time.
func TestResetTrustedTimeUnsafeChangesNothing(t *testing.T) {
	t.Parallel()
	e := clockRolledBack(t)
	trusted := e.repo.Now().Add(time.Hour)
	e.clock.Set(trusted.Add(time.Minute))
	if err := e.c.ResetTrustedTimeUnsafe(); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(e.repo.Now())
	c := e.c
	c.Close()
	e.c = nil
	wantIs(t, c.ResetTrustedTimeUnsafe(), client.ErrClosed)
	if got := e.state().LastTime; !got.Equal(trusted) {
		t.Errorf("stored LastTime %v, want %v unchanged", got, trusted)
	}
	if got := auditKinds(t, e.cfg.StateDir); slices.Contains(got, "clock-reset") {
		t.Errorf("audit kinds %q: a reset was recorded", got)
	}
}

// TestResetTrustedTimeUnsafeLocked: while another process holds the state
// directory no client can reset its trusted time: New is refused with
// ErrLocked, Open waits and gives up at its deadline, and the trusted time
// is unchanged.
func TestResetTrustedTimeUnsafeLocked(t *testing.T) {
	t.Parallel()
	repo := simulator.New(t, simulator.Options{})
	repo.Publish()
	e := refreshed(t, repo)
	e.c.Close()
	e.c = nil
	trusted := e.state().LastTime
	ch := startChild(t, e, "hold")
	if got := ch.Line(t); got != "ready" {
		t.Fatalf("child: %q", got)
	}
	e.clock.Set(repo.Now().Add(-time.Hour))
	_, err := client.New(e.cfg, e.opts...)
	wantIs(t, err, client.ErrLocked)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err = client.Open(ctx, e.cfg, e.opts...)
	wantIs(t, err, client.ErrLocked)
	wantIs(t, err, context.DeadlineExceeded)
	ch.End(t)
	if got := e.state().LastTime; !got.Equal(trusted) || trusted.IsZero() {
		t.Errorf("stored LastTime %v, want %v unchanged", got, trusted)
	}
}

// TestMultiResetTrustedTimeUnsafe: after a clock that was wrong in the
// future, every repository refuses to refresh; the reset lowers the trusted
// time of each, and they refresh again; each repository's audit log
// records it and verifies.
func TestMultiResetTrustedTimeUnsafe(t *testing.T) {
	t.Parallel()
	repos := newRepos(t, simulator.Options{}, "vendor", "org")
	publish(repos, "app.bin", []byte("v1"), nil, "vendor", "org")
	e := newMultiEnv(t, repos, []string{"vendor", "org"}, mapping(all, 2, true, "vendor", "org"))
	now := e.clock.Now()
	e.clock.Set(now.Add(time.Hour))
	e.open()
	e.refresh()
	e.clock.Set(now)
	err := e.m.Refresh(context.Background())
	me := wantAs[*client.MultiError](t, err)
	if len(me.Errs) != 2 || !errors.Is(me.Errs[0], client.ErrClockRollback) || !errors.Is(me.Errs[1], client.ErrClockRollback) {
		t.Fatalf("refresh with the clock set back: %v", err)
	}
	if err := e.m.ResetTrustedTimeUnsafe(); err != nil {
		t.Fatal(err)
	}
	e.refresh()
	e.m.Close()
	e.m = nil
	for _, name := range []string{"vendor", "org"} {
		dir := filepath.Join(e.cfg.StateDir, name)
		if got := auditKinds(t, dir); !slices.Contains(got, "clock-reset") {
			t.Errorf("%s: audit kinds %q, want a clock-reset record", name, got)
		}
		if _, err := client.VerifyAudit(t.Context(), dir); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
