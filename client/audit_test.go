package client_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/internal/audit"
	"github.com/latchsec/latch/internal/simulator"
	"github.com/latchsec/latch/rollback"
)

// auditKinds returns the kinds of the records in the client's audit log.
func auditKinds(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "audit", "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var r audit.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, r.Kind)
	}
	return kinds
}

// anchorOf reads the audit anchor from the trusted state (the client must be
// closed: it holds the lock).
func anchorOf(t *testing.T, stateDir string) audit.Head {
	t.Helper()
	st, err := rollback.OpenFileStore(filepath.Join(stateDir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s, err := st.Load()
	if err != nil {
		t.Fatal(err)
	}
	h, err := audit.ParseHead(s.AuditAnchor)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Every trust decision is recorded: refreshes, root rotations, rejections
// and downloads; the chain verifies against the anchor kept in the trusted
// state, and a truncated log is detected at the next start.
func TestAuditTrail(t *testing.T) {
	t.Parallel()
	repo := simulator.New(t, simulator.Options{})
	repo.AddTarget("a", appV1, nil)
	repo.Publish()
	e := refreshed(t, repo)
	e.repo.AddKey("root")
	e.repo.PublishRoot()
	e.refresh()
	tg := e.target("a")
	if err := e.c.DownloadFile(context.Background(), tg, filepath.Join(e.dl, "a")); err != nil {
		t.Fatal(err)
	}
	repo.SetFault(repo.TargetName("a"), simulator.Fault{Mutate: simulator.FlipBit})
	wantIs(t, e.c.DownloadFile(context.Background(), tg, filepath.Join(e.dl, "b")), client.ErrHashMismatch)
	repo.SetFault("timestamp.json", simulator.Fault{Mutate: simulator.FlipBit})
	wantIs(t, e.refreshErr(), client.ErrThreshold)
	e.c.Close()
	e.c = nil

	want := []string{"refresh", "root-rotation", "refresh", "download", "download", "reject"}
	if got := auditKinds(t, e.cfg.StateDir); !slices.Equal(got, want) {
		t.Errorf("audit kinds %q, want %q", got, want)
	}
	dir := filepath.Join(e.cfg.StateDir, "audit")
	head := anchorOf(t, e.cfg.StateDir)
	if sum, err := audit.VerifyAnchored(dir, head); err != nil || sum.Records != len(want) {
		t.Fatalf("VerifyAnchored: %+v, %v", sum, err)
	}

	// Cut the last record: the anchor in the trusted state shows it.
	logPath := filepath.Join(dir, "audit.log")
	b, _ := os.ReadFile(logPath)
	lines := bytes.SplitAfter(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
	if err := os.WriteFile(logPath, bytes.Join(lines[:len(lines)-1], nil), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := audit.VerifyAnchored(dir, head)
	wantIs(t, err, audit.ErrAnchorMismatch)

	// By default a broken log doesn't stop the client, and Status says so;
	// with WithAuditRequired the client refuses to start.
	c := e.open()
	if st := c.Status(); !errors.Is(st.AuditError, client.ErrAudit) || !errors.Is(st.AuditError, audit.ErrBroken) {
		t.Errorf("Status().AuditError = %v, want ErrAudit and audit.ErrBroken", st.AuditError)
	}
	c.Close()
	e.c = nil
	_, err = client.New(e.cfg, append(e.opts, client.WithAuditRequired())...)
	wantIs(t, err, client.ErrAudit)
}
