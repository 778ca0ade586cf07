package client

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/latchsec/latch/auditlog"
	"github.com/latchsec/latch/internal/audit"
	"github.com/latchsec/latch/rollback"
)

// Audit log errors, matched with errors.Is; the *AuditError beside them
// names the first broken link. They are defined in package auditlog and
// are the same values there.
var (
	// ErrAuditBroken: the audit log is not the unbroken chain the client
	// wrote: a record was edited, deleted, reordered or is malformed, or
	// the log does not end where the trusted state says. See *AuditError.
	ErrAuditBroken = auditlog.ErrBroken
	// ErrAuditAnchor: the chain is intact but does not end at the record
	// the trusted state holds: records were cut from the end or added
	// after it, or the chain was rewritten. It comes with ErrAuditBroken.
	ErrAuditAnchor = auditlog.ErrAnchorMismatch
)

// AuditError reports the first broken link of an audit log: the file, line
// and sequence number of the record, and the Reason (edited, deleted,
// reordered, malformed, truncated, rewritten, extended).
type AuditError = auditlog.BrokenError

// AuditSummary describes an audit log that verified.
type AuditSummary struct {
	// Files are the log files read, oldest first.
	Files []string
	// Records is the number of records in them.
	Records int
	// FirstSeq is the sequence number of the first record read: 1 for a
	// log that starts at its beginning, more when rotation deleted older
	// files (each deletion is itself recorded). Zero without records.
	FirstSeq uint64
	// Last is the last record, as "seq:sha256" of its line; "" without
	// records.
	Last string
	// TornBytes is the length of an incomplete line at the end of the
	// newest file: a crash while appending, which the next client cuts off.
	TornBytes int64
	// Missing is the last record as the trusted state holds it, when the
	// log ends just before it: a crash before the record reached the log,
	// or the record removed since. The next client writes it back. ""
	// otherwise, and always from VerifyAuditFiles.
	Missing string
}

func auditSummary(s audit.Summary) AuditSummary {
	sum := AuditSummary{Files: s.Files, Records: s.Records, Last: s.Last.String(), TornBytes: s.TornBytes, Missing: s.Missing}
	if s.Records > 0 {
		sum.FirstSeq = s.Start.Seq + 1
	}
	return sum
}

// VerifyAudit checks the audit log of stateDir (a Config.StateDir) against
// the trusted state kept there: every record chains from the one before it,
// and the log ends at the last record the state holds, which someone who
// can write the audit log but not the state can't change. An edited,
// deleted, reordered, added or rewritten record, records cut from the end,
// a deleted log and history removed behind a forged "records dropped"
// record are reported as an *AuditError (errors.Is ErrAuditBroken; also
// ErrAuditAnchor when the comparison with the state found it) naming the
// first broken link. Whoever can write the state too can rewrite the log
// unseen: the log is evidence against the first attacker, not the second.
//
// VerifyAudit reads without the lock, beside a Client holding stateDir in
// this process or another, and writes nothing. A Client may append while it
// reads, so it reads the state before and after the log and starts again
// (after a short pause) when they differ, until ctx is done. A stateDir
// that does not exist is an error matching fs.ErrNotExist.
//
// A [Multi] keeps a log in each state directory that MultiConfig.StateDir
// describes.
func VerifyAudit(ctx context.Context, stateDir string) (AuditSummary, error) {
	if stateDir == "" {
		return AuditSummary{}, &OptionError{Option: "Config.StateDir", Reason: "required"}
	}
	if _, err := os.Stat(stateDir); err != nil {
		return AuditSummary{}, fmt.Errorf("client: audit log: %w", err)
	}
	pause := time.Millisecond
	for {
		before, err := auditAnchor(stateDir)
		if err != nil {
			return AuditSummary{}, err
		}
		sum, verr := verifyAnchored(stateDir, before)
		after, err := auditAnchor(stateDir)
		if err != nil {
			return AuditSummary{}, err
		}
		if after == before {
			return sum, verr
		}
		select {
		case <-ctx.Done():
			return AuditSummary{}, fmt.Errorf("client: the audit log of %s changed each time it was read (a client is writing it): %w", stateDir, ctx.Err())
		case <-time.After(pause):
		}
		pause = min(2*pause, 100*time.Millisecond)
	}
}

// verifyAnchored checks the audit log of stateDir against m. A log
// directory that is gone while the state anchors a record is a truncated
// log.
func verifyAnchored(stateDir string, m audit.Mark) (AuditSummary, error) {
	dir := filepath.Join(stateDir, auditSubdir)
	sum, err := audit.VerifyAnchored(dir, m)
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(dir); errors.Is(serr, fs.ErrNotExist) {
			if m == (audit.Mark{}) {
				return AuditSummary{}, nil
			}
			return AuditSummary{}, &AuditError{File: dir, Reason: auditlog.ReasonTruncated,
				Detail: fmt.Sprintf("the audit directory is gone; the trusted state holds record %d", m.Head.Seq)}
		}
	}
	if err != nil {
		return AuditSummary{}, err
	}
	return auditSummary(sum), nil
}

// auditAnchor reads the audit log's anchor from the trusted state of
// stateDir, without its lock.
func auditAnchor(stateDir string) (audit.Mark, error) {
	s, err := rollback.ReadFileState(filepath.Join(stateDir, stateSubdir))
	if err != nil {
		return audit.Mark{}, fmt.Errorf("client: audit log: %w", err)
	}
	m, err := audit.ParseMark(s.AuditAnchor)
	if err != nil {
		return audit.Mark{}, fmt.Errorf("client: audit anchor in the trusted state of %s: %w", stateDir, err)
	}
	return m, nil
}

// VerifyAuditFiles checks audit log files by their hash chain alone: path is
// one file, or a directory of a log and its rotated files (audit.log,
// audit.1.log, ...), such as a copy taken off a machine. A broken chain is
// an *AuditError (errors.Is ErrAuditBroken) naming the first broken link.
//
// Without the trusted state it can't see records cut from the end, records
// added at the end or a chain rewritten from some record on, and it
// believes any "records dropped" record: use VerifyAudit on the state
// directory where there is one.
func VerifyAuditFiles(path string) (AuditSummary, error) {
	st, err := os.Stat(path)
	if err != nil {
		return AuditSummary{}, fmt.Errorf("client: audit log: %w", err)
	}
	var sum audit.Summary
	if st.IsDir() {
		sum, err = audit.Verify(path)
	} else {
		sum, err = audit.VerifyFile(path)
	}
	if err != nil {
		return AuditSummary{}, err
	}
	return auditSummary(sum), nil
}

// kindClockReset is the audit record of ResetTrustedTimeUnsafe.
const kindClockReset = "clock-reset"

// ResetTrustedTimeUnsafe sets the latest trusted time (see
// Status.LastTrustedTime) back to what the client's clock reads now, and
// records that in the audit log. It is the fix for a *ClockError after a
// clock that was wrong in the future: without it, every refresh is refused
// until that wrong time comes round again.
//
// It lowers a security floor. The trusted time is what stops an attacker
// who can set this machine's clock back from replaying metadata that has
// expired since (a freeze attack). Call it only once a person has checked
// the clock by other means, never automatically on a ClockError. A clock
// that reads no earlier than the trusted time changes nothing and records
// nothing.
//
// The Client holds the state directory, so a reset can't race another
// process's refresh; get the Client with Open to wait for a busy state
// directory. It waits for a Refresh in progress in this Client. An error
// saving the state leaves the trusted time unchanged; an audit record that
// can't be written is reported as for every operation (ErrAudit with
// WithAuditRequired).
func (c *Client) ResetTrustedTimeUnsafe() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return ErrClosed
	}
	now := c.opts.clock().UTC()
	var prev time.Time
	err := c.updateState(func(s *rollback.State) error {
		prev = s.LastTime
		if !now.Before(prev) {
			return errNothingToReset
		}
		s.ResetTimeUnsafe(now)
		return nil
	})
	if errors.Is(err, errNothingToReset) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("client: resetting the trusted time: %w", err)
	}
	c.log.Warn("TRUSTED TIME RESET: the clock-rollback floor was lowered", "from", prev, "to", now)
	return c.record(kindClockReset, map[string]any{"from": prev.Format(time.RFC3339Nano), "to": now.Format(time.RFC3339Nano)})
}

// errNothingToReset ends ResetTrustedTimeUnsafe's state update without a
// write.
var errNothingToReset = errors.New("trusted time not later than the clock")

// ResetTrustedTimeUnsafe is Client.ResetTrustedTimeUnsafe for every
// repository: after a clock that was wrong in the future, each repository's
// latest trusted time is set back to the clock, and each reset is recorded
// in that repository's audit log. The same warning applies: a person checks
// the clock first. A failure in some repositories is a *MultiError with
// every repository's outcome; the others are reset.
func (m *Multi) ResetTrustedTimeUnsafe() error {
	errs := make([]error, len(m.repos))
	for i, r := range m.repos {
		errs[i] = r.c.ResetTrustedTimeUnsafe()
	}
	return m.outcome("reset trusted time", errs)
}
