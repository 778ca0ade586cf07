package metadata

import (
	"errors"
	"fmt"
)

// Sentinels for the reasons a document is refused. Errors returned by this
// package are *Error values that wrap one of these (and, where the cause lies
// in package verify or in the JSON layer, that cause as well).
var (
	// ErrMalformed: not JSON of the form TUF metadata has (envelope, field
	// types, missing required fields, duplicate keys, nesting too deep).
	ErrMalformed = errors.New("malformed metadata")
	// ErrDuplicateSignature: a key ID appears more than once in
	// "signatures" (spec §4.2 forbids it). Such a document is refused even
	// if its signatures meet the threshold; the error also wraps
	// ErrMalformed.
	ErrDuplicateSignature = errors.New("key ID appears twice in signatures")
	// ErrType: the "_type" field names another role type than expected.
	ErrType = errors.New("wrong metadata type")
	// ErrSpecVersion: a spec_version whose major version is not 1.
	ErrSpecVersion = errors.New("unsupported spec_version")
	// ErrInvalid: well-formed, but a rule of the specification is broken
	// (version < 1, threshold < 1, a role's key ID missing from "keys", ...).
	ErrInvalid = errors.New("invalid metadata")
	// ErrUnsafePath: a target path that cannot become a local file name.
	ErrUnsafePath = errors.New("unsafe target path")
	// ErrRoleName: a role name that cannot be stored under a file name.
	ErrRoleName = errors.New("role name cannot be stored")
	// ErrCacheCorrupt: targets metadata that a client reopened from its
	// cache no longer matches, where a lookup reads it, the bytes that were
	// verified (they are checked chunk by chunk as they are first read).
	// Nothing from the mismatching bytes is used; the client fetches the
	// document again at its next refresh.
	ErrCacheCorrupt = errors.New("cached metadata does not match the hashes recorded when it was verified")
)

// Error is the error type of this package: which role's document was refused,
// at which version when that is known, and why.
type Error struct {
	Role    string
	Version int64 // 0 when the document was refused before its version was read
	Err     error
}

func (e *Error) Error() string {
	if e.Version > 0 {
		return fmt.Sprintf("%s metadata v%d: %v", e.Role, e.Version, e.Err)
	}
	return fmt.Sprintf("%s metadata: %v", e.Role, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// malformed builds an error wrapping ErrMalformed with a detail.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// invalid builds an error wrapping ErrInvalid with a detail.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}
