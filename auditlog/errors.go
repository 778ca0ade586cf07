// Package auditlog names what can be wrong with latch's audit log: the
// sentinels and the typed error that verifying a log reports, with the
// first broken link it found.
//
// The audit log is an append-only, hash-chained record of every trust
// decision a client makes (refreshes, root rotations, rejections,
// downloads, installs, reverts, clock resets). Each line is one JSON
// record whose "prev" member is the SHA-256 of the line before it, so an
// edit, a deletion or a reordering breaks the chain. The client also keeps
// its last record in the trusted state, out of reach of whoever can write
// only the audit directory: a check against it ([ErrAnchorMismatch]) also
// finds records cut from the end, records added at the end and a chain
// rewritten with new hashes. client.VerifyAudit checks a state directory's
// log that way; client.VerifyAuditFiles checks copied log files by their
// chain alone.
//
// # Format
//
// A log is a directory of text files: audit.log (the current file), then
// audit.1.log (the one before it), audit.2.log, and so on, the highest
// number being the oldest; client.AuditSummary.Files lists those a check
// read, oldest first. Each line is one record, a JSON object with exactly
// these members in this order, no spaces, and a newline:
//
//	{"seq":1,"time":"2025-01-02T03:04:05Z","kind":"refresh","fields":{...},"prev":"0000…0000"}
//
// seq is 1 for the first record and one more for each record after it,
// across files; time is when it was appended (RFC 3339, UTC); kind names the
// event (refresh, root-rotation, reject, download, install, revert,
// transparency, clock-reset, ...); fields describes it, keys sorted; prev is
// the SHA-256, in lowercase hex, of the previous record's line, newline
// included (64 zeros for the first). When rotation deletes the oldest file
// it first appends an "audit-drop" record naming that file and its first
// and last record, so the remaining log still accounts for every record.
//
// Package client re-exports these under its own names
// (client.ErrAuditBroken is ErrBroken, client.AuditError is BrokenError),
// so a caller of the client usually needs only client. They live here,
// apart, because the code that writes and verifies the log is an internal
// package that client imports: both sides need one definition to share.
package auditlog

import (
	"errors"
	"fmt"
)

var (
	// ErrBroken means the log is not the unbroken chain the client writes:
	// a record was edited, deleted, reordered or is malformed, or the log
	// does not end at its anchor. The error is a [*BrokenError] that names
	// the first broken link.
	ErrBroken = errors.New("audit log broken")

	// ErrAnchorMismatch means the chain itself is intact but does not end
	// where the anchor in the trusted state says: records were removed
	// from the end, the chain was rewritten, or records were added after
	// the anchored one. It comes with [ErrBroken] in a [*BrokenError].
	ErrAnchorMismatch = errors.New("audit log does not end at its anchor")
)

// Reason says what kind of damage a [BrokenError] found.
type Reason string

// The reasons a log is broken. The record a [BrokenError] names for each is
// given in brackets.
const (
	// ReasonEdited: a record's bytes no longer hash to the prev field of
	// the record after it, or its seq is not one more than that of the
	// record it chains from [the changed record: the one whose hash no
	// longer matches, or the one whose seq is wrong; the first record of
	// the log if it should chain from the genesis value and does not].
	ReasonEdited Reason = "edited"
	// ReasonDeleted: sequence numbers are missing and do not appear later
	// [the first record after the gap; the first record of the oldest file
	// when records before it are missing and no audit-drop record accounts
	// for them: with an anchor, only audit-drop records up to the anchored
	// end count].
	ReasonDeleted Reason = "deleted"
	// ReasonReordered: a record appears before one with a lower seq, or a
	// seq appears twice [the first record out of place, which may be the
	// first record of the oldest file].
	ReasonReordered Reason = "reordered"
	// ReasonMalformed: a line is not a record as the client writes it (not
	// JSON, unknown or missing fields, not in canonical form, too long, no
	// newline at the end of a file other than the newest) [that line; Seq
	// is 0].
	ReasonMalformed Reason = "malformed"
	// ReasonTruncated: the log ends before the anchored record, and not
	// just before a record whose line the anchor holds [the last record;
	// Line 0 if the log is empty].
	ReasonTruncated Reason = "truncated"
	// ReasonRewritten: the record with the anchored seq hashes to another
	// value, or is no longer in the log [that record, or the last one].
	ReasonRewritten Reason = "rewritten"
	// ReasonExtended: records follow the anchored record [the first of
	// them].
	ReasonExtended Reason = "extended"
)

// Anchored reports whether r is found only by comparing the log with its
// anchor (truncated, rewritten, extended).
func (r Reason) Anchored() bool {
	return r == ReasonTruncated || r == ReasonRewritten || r == ReasonExtended
}

// BrokenError reports the first broken link of an audit log. It matches
// [ErrBroken], and also [ErrAnchorMismatch] when the anchor found it.
type BrokenError struct {
	File   string // path of the file holding the record named
	Line   int    // 1-based line in File; 0 when no record can be named
	Seq    uint64 // seq of the record named; 0 when unknown (malformed line, empty log)
	Reason Reason
	Detail string // what was expected and found, with hashes
}

func (e *BrokenError) Error() string {
	at := e.File
	if e.Line > 0 {
		at = fmt.Sprintf("%s line %d", e.File, e.Line)
	}
	if e.Seq > 0 {
		at = fmt.Sprintf("%s (seq %d)", at, e.Seq)
	}
	return fmt.Sprintf("audit log broken at %s: %s: %s: possible tampering", at, e.Reason, e.Detail)
}

// Unwrap returns [ErrBroken], and [ErrAnchorMismatch] for the reasons found
// by the anchor.
func (e *BrokenError) Unwrap() []error {
	if e.Reason.Anchored() {
		return []error{ErrBroken, ErrAnchorMismatch}
	}
	return []error{ErrBroken}
}
