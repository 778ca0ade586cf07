package rollback

import (
	"errors"
	"fmt"
	"os"
)

var (
	// ErrRollback means a version lower than the trusted one was offered:
	// metadata, an installed release or the trusted time would move
	// backwards. The error is a [*RollbackError] with the evidence.
	ErrRollback = errors.New("rollback refused")

	// ErrLocked means another process, or another [FileStore] in this
	// process, holds the state directory. The error is a [*LockedError]
	// that names the holder.
	ErrLocked = errors.New("state directory is locked")

	// ErrCorrupt means the stored state can't be read: bad JSON (a key
	// given twice in an object or a field name in another case included),
	// an unknown format version, an invalid record or a file larger than
	// any state (MaxStateSize). The state is the
	// anchor of rollback protection, so it is never reset silently; a
	// person has to look at it.
	ErrCorrupt = errors.New("trusted state is corrupt")

	// ErrInvalid means the caller passed a malformed value (a role record
	// with a version below 1, a hash that is not 64 lowercase hex digits, an
	// invalid semantic version, ...). Nothing was changed.
	ErrInvalid = errors.New("invalid trusted state input")
)

// RollbackError reports an attempt to move trusted state backwards. Exactly
// one of Role, App and Log is set, or none when the subject is the trusted
// time. Its Err is [ErrRollback].
type RollbackError struct {
	Role    string // TUF role name, for a metadata version
	App     string // application name, for an installed-version floor
	Log     string // transparency log origin, for a checkpoint's tree size
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
	case e.Log != "":
		subject, trusted = fmt.Sprintf("log %s checkpoint", e.Log), "trusted"
	default:
		subject, trusted = "reference time", "trusted"
	}
	if e.Got == "" {
		return fmt.Sprintf("%s record (%s %s) must not be dropped: possible rollback attack", subject, trusted, e.Trusted)
	}
	return fmt.Sprintf("%s %s is older than %s %s: possible rollback attack", subject, e.Got, trusted, e.Trusted)
}

func (e *RollbackError) Unwrap() error { return e.Err }

// LockedError reports that another store holds a state directory: another
// process, or another [FileStore] of this process. Its Err is [ErrLocked].
//
// The holder is named as it recorded itself in the lock file, which only
// holders write: PID is its process ID (0 if there is no record, as when
// the holder is a version of latch that keeps none), Program the base name
// of its executable. The record is for people; the lock itself
// is the system's.
type LockedError struct {
	Path    string // the lock file
	PID     int
	Program string
	Err     error
}

func (e *LockedError) Error() string {
	switch {
	case e.PID == os.Getpid():
		return fmt.Sprintf("rollback: %s: %v by another store of this process (pid %d)", e.Path, e.Err, e.PID)
	case e.PID > 0 && e.Program != "":
		return fmt.Sprintf("rollback: %s: %v by pid %d (%s)", e.Path, e.Err, e.PID, e.Program)
	case e.PID > 0:
		return fmt.Sprintf("rollback: %s: %v by pid %d", e.Path, e.Err, e.PID)
	}
	return fmt.Sprintf("rollback: %s: %v (the holder did not record its pid)", e.Path, e.Err)
}

func (e *LockedError) Unwrap() error { return e.Err }

// invalid marks err, a description of malformed input, with [ErrInvalid].
func invalid(err error) error {
	return fmt.Errorf("%w: %w", ErrInvalid, err)
}
