package rollback

import (
	"errors"
	"fmt"
)

var (
	// ErrRollback means a version lower than the trusted one was offered:
	// metadata, an installed release or the trusted time would move
	// backwards. The error is a [*RollbackError] with the evidence.
	ErrRollback = errors.New("rollback refused")

	// ErrLocked means another process, or another [FileStore] in this
	// process, holds the state directory.
	ErrLocked = errors.New("state directory is locked by another store")

	// ErrCorrupt means the stored state can't be read: bad JSON, an unknown
	// format version or an invalid record. The state is the anchor of
	// rollback protection, so it is never reset silently; a person has to
	// look at it.
	ErrCorrupt = errors.New("trusted state is corrupt")

	// ErrInvalid means the caller passed a malformed value (a role record
	// with a version below 1, a hash that is not 64 lowercase hex digits, an
	// invalid semantic version, ...). Nothing was changed.
	ErrInvalid = errors.New("invalid trusted state input")
)

// RollbackError reports an attempt to move trusted state backwards. Exactly
// one of Role and App is set, or neither when the subject is the trusted
// time. Its Err is [ErrRollback].
type RollbackError struct {
	Role    string // TUF role name, for a metadata version
	App     string // application name, for an installed-version floor
	Trusted string // what is trusted now: "v14", a semantic version or a time
	Got     string // what was offered, in the same form; "" if the record was dropped
	Err     error
}

func (e *RollbackError) Error() string {
	var subject, trusted string
	switch {
	case e.Role != "":
		subject, trusted = e.Role, "trusted"
	case e.App != "":
		subject, trusted = fmt.Sprintf("%s release", e.App), "installed"
	default:
		subject, trusted = "reference time", "trusted"
	}
	if e.Got == "" {
		return fmt.Sprintf("%s record (%s %s) must not be dropped: possible rollback attack", subject, trusted, e.Trusted)
	}
	return fmt.Sprintf("%s %s is older than %s %s: possible rollback attack", subject, e.Got, trusted, e.Trusted)
}

func (e *RollbackError) Unwrap() error { return e.Err }

// invalid marks err, a description of malformed input, with [ErrInvalid].
func invalid(err error) error {
	return fmt.Errorf("%w: %w", ErrInvalid, err)
}
