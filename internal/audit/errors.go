package audit

import (
	"errors"
	"fmt"

	"github.com/latchsec/latch/auditlog"
)

// The errors of a broken log are defined in the public package auditlog,
// so that a caller of the client can match them; these are the same values.
var (
	// ErrBroken is [auditlog.ErrBroken].
	ErrBroken = auditlog.ErrBroken

	// ErrAnchorMismatch is [auditlog.ErrAnchorMismatch].
	ErrAnchorMismatch = auditlog.ErrAnchorMismatch

	// ErrInvalid means the caller passed a malformed value: a bad event
	// kind, fields that are not a JSON object or are too large, bad
	// options, or an anchor value that is not a valid [Mark]. Nothing was
	// written.
	ErrInvalid = errors.New("invalid audit input")

	// ErrClosed means the [Log] was closed.
	ErrClosed = errors.New("audit log closed")
)

// Reason is [auditlog.Reason].
type Reason = auditlog.Reason

// The reasons a log is broken; see [auditlog.Reason].
const (
	ReasonEdited    = auditlog.ReasonEdited
	ReasonDeleted   = auditlog.ReasonDeleted
	ReasonReordered = auditlog.ReasonReordered
	ReasonMalformed = auditlog.ReasonMalformed
	ReasonTruncated = auditlog.ReasonTruncated
	ReasonRewritten = auditlog.ReasonRewritten
	ReasonExtended  = auditlog.ReasonExtended
)

// BrokenError is [auditlog.BrokenError].
type BrokenError = auditlog.BrokenError

// invalid marks err, a description of malformed input, with [ErrInvalid].
func invalid(err error) error {
	return fmt.Errorf("audit: %w: %w", ErrInvalid, err)
}
