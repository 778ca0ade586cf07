package audit

import (
	"errors"
	"fmt"
)

var (
	// ErrBroken means the log is not the unbroken chain that Append writes:
	// a record was edited, deleted, reordered or is malformed, or the log
	// does not end at its anchor. The error is a [*BrokenError] that names
	// the first broken link.
	ErrBroken = errors.New("audit log broken")

	// ErrAnchorMismatch means the chain itself is intact but does not end
	// where the anchor says: records were removed from the end, the chain
	// was rewritten, or records were added after the anchored one. It
	// comes with [ErrBroken] in a [*BrokenError].
	ErrAnchorMismatch = errors.New("audit log does not end at its anchor")

	// ErrInvalid means the caller passed a malformed value: a bad event
	// kind, fields that are not a JSON object or are too large, bad
	// options, or an anchor value that is not a valid [Mark]. Nothing was
	// written.
	ErrInvalid = errors.New("invalid audit input")

	// ErrClosed means the [Log] was closed.
	ErrClosed = errors.New("audit log closed")
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
	// ReasonMalformed: a line is not a record as Append writes it (not
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

// anchored reports whether r is found by comparing with the anchor.
func (r Reason) anchored() bool {
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
	if e.Reason.anchored() {
		return []error{ErrBroken, ErrAnchorMismatch}
	}
	return []error{ErrBroken}
}

// invalid marks err, a description of malformed input, with [ErrInvalid].
func invalid(err error) error {
	return fmt.Errorf("audit: %w: %w", ErrInvalid, err)
}
