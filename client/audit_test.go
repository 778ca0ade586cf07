package client_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

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

// anchorText reads the audit anchor as the trusted state holds it (the
// client must be closed: it holds the lock).
func anchorText(t *testing.T, stateDir string) string {
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
	return s.AuditAnchor
}

// anchorOf reads the audit anchor from the trusted state (the client must be
// closed).
func anchorOf(t *testing.T, stateDir string) audit.Mark {
	t.Helper()
	m, err := audit.ParseMark(anchorText(t, stateDir))
	if err != nil {
		t.Fatal(err)
	}
	return m
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

	// Cut the last two records: the anchor in the trusted state shows it
	// (it holds the last record in full, which would restore that one).
	logPath := filepath.Join(dir, "audit.log")
	b, _ := os.ReadFile(logPath)
	lines := bytes.SplitAfter(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
	if err := os.WriteFile(logPath, bytes.Join(lines[:len(lines)-2], nil), 0o600); err != nil {
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
	// The refused New released the state directory.
	c = e.open()
	c.Close()
	e.c = nil
}

// forgeRecord returns the line of a record chaining from the line prev, as
// someone who can write the audit directory but not the trusted state
// would write it; fields must be a canonical JSON object.
func forgeRecord(t *testing.T, seq uint64, prev []byte, kind, fields string) []byte {
	t.Helper()
	sum := sha256.Sum256(prev)
	r := audit.Record{Seq: seq, Time: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), Kind: kind, Fields: json.RawMessage(fields), Prev: hex.EncodeToString(sum[:])}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// Someone who can write the audit directory but not the trusted state
// tampers with the log between two runs. The next start reports the broken
// log (in Status; New fails with WithAuditRequired) and neither adopts the
// tampered log nor moves the anchor, whatever the client does next. (The
// last record alone removed is written back: TestAuditLastRecordRestored.)
func TestAuditTamperedBetweenRuns(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		attack func(t *testing.T, lines [][]byte) [][]byte // nil: no log at all
	}{
		{"replaced by a forged audit-drop record", func(t *testing.T, lines [][]byte) [][]byte {
			last := lines[len(lines)-1]
			sum := sha256.Sum256(last)
			fields := fmt.Sprintf(`{"file":"audit.1.log","first_seq":1,"last_hash":"%x","last_seq":%d}`, sum, len(lines))
			return [][]byte{forgeRecord(t, uint64(len(lines)+1), last, "audit-drop", fields)}
		}},
		{"forged record appended", func(t *testing.T, lines [][]byte) [][]byte {
			return append(lines, forgeRecord(t, uint64(len(lines)+1), lines[len(lines)-1], "install", `{"app":"evil"}`))
		}},
		{"last two records removed", func(t *testing.T, lines [][]byte) [][]byte {
			return lines[:len(lines)-2]
		}},
		{"chain rewritten", func(t *testing.T, lines [][]byte) [][]byte {
			var first audit.Record
			if err := json.Unmarshal(lines[0], &first); err != nil {
				t.Fatal(err)
			}
			first.Fields = json.RawMessage(`{}`)
			b, err := json.Marshal(first)
			if err != nil {
				t.Fatal(err)
			}
			lines[0] = append(b, '\n')
			for i := 1; i < len(lines); i++ {
				lines[i] = forgeRecord(t, uint64(i+1), lines[i-1], "refresh", `{}`)
			}
			return lines
		}},
		{"records reordered", func(t *testing.T, lines [][]byte) [][]byte {
			n := len(lines)
			lines[n-2], lines[n-1] = lines[n-1], lines[n-2]
			return lines
		}},
		{"log deleted", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			repo := simulator.New(t, simulator.Options{})
			e := refreshed(t, repo)
			// Two more refreshes that trust something new, two more
			// records (one that finds nothing new records nothing).
			changed := func() {
				repo.AddTarget(fmt.Sprintf("t%d", repo.Version("targets")), []byte("x"), nil)
				repo.Publish()
				e.refresh()
			}
			changed()
			changed()
			e.c.Close()
			e.c = nil
			anchor := anchorText(t, e.cfg.StateDir)
			dir := filepath.Join(e.cfg.StateDir, "audit")
			logPath := filepath.Join(dir, "audit.log")
			b, err := os.ReadFile(logPath)
			if err != nil {
				t.Fatal(err)
			}
			lines := bytes.SplitAfter(b, []byte("\n"))
			lines = lines[:len(lines)-1] // after the last newline
			if len(lines) != 3 {
				t.Fatalf("%d records, want 3", len(lines))
			}
			if tt.attack == nil {
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(logPath, bytes.Join(tt.attack(t, lines), nil), 0o600); err != nil {
				t.Fatal(err)
			}
			tampered := auditFiles(t, dir)

			c := e.open()
			if st := c.Status(); !errors.Is(st.AuditError, client.ErrAudit) || !errors.Is(st.AuditError, audit.ErrBroken) {
				t.Errorf("Status().AuditError = %v, want ErrAudit and audit.ErrBroken", st.AuditError)
			}
			changed()
			e.c.Close()
			e.c = nil
			if got := anchorText(t, e.cfg.StateDir); got != anchor {
				t.Errorf("anchor moved from %q to %q", anchor, got)
			}
			if got := auditFiles(t, dir); fmt.Sprint(got) != fmt.Sprint(tampered) {
				t.Errorf("audit directory changed by the client:\n%v\nwas\n%v", got, tampered)
			}
			_, err = client.New(e.cfg, append(e.opts, client.WithAuditRequired())...)
			wantIs(t, err, client.ErrAudit)
			wantIs(t, err, audit.ErrBroken)
		})
	}
}

// auditFiles returns the contents of the files in dir, none if it is
// missing.
func auditFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, en := range entries {
		b, err := os.ReadFile(filepath.Join(dir, en.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[en.Name()] = string(b)
	}
	return out
}

// The trusted state holds the last audit record in full: removed from the
// log (or lost in a crash before it was written), it is written back at the
// next start.
func TestAuditLastRecordRestored(t *testing.T) {
	t.Parallel()
	repo := simulator.New(t, simulator.Options{})
	e := refreshed(t, repo)
	e.refresh()
	e.c.Close()
	e.c = nil
	logPath := filepath.Join(e.cfg.StateDir, "audit", "audit.log")
	full, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cut := bytes.LastIndexByte(full[:len(full)-1], '\n') + 1
	if err := os.WriteFile(logPath, full[:cut], 0o600); err != nil {
		t.Fatal(err)
	}
	c := e.open()
	if st := c.Status(); st.AuditError != nil {
		t.Fatalf("Status().AuditError = %v", st.AuditError)
	}
	if b, err := os.ReadFile(logPath); err != nil || !bytes.Equal(b, full) {
		t.Fatalf("audit.log not restored: %v\n%s", err, b)
	}
}
