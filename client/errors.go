package client

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/latchsec/latch/internal/fetch"
	"github.com/latchsec/latch/metadata"
	"github.com/latchsec/latch/rollback"
	"github.com/latchsec/latch/verify"
)

// Sentinels, matched with errors.Is. Most come wrapped in a typed error that
// carries the evidence (role, versions, key IDs, mirror).
var (
	// ErrExpired: metadata is expired at the reference time (freeze attack,
	// or a repository that stopped publishing). See *ExpiredError.
	ErrExpired = errors.New("metadata expired")
	// ErrRollback: a version lower than one trusted before. See
	// *rollback.RollbackError.
	ErrRollback = rollback.ErrRollback
	// ErrThreshold: not enough valid signatures. See *verify.ThresholdError.
	ErrThreshold = verify.ErrThreshold
	// ErrHashMismatch and ErrLengthMismatch: bytes differ from what the
	// referring metadata lists.
	ErrHashMismatch   = verify.ErrHashMismatch
	ErrLengthMismatch = verify.ErrLengthMismatch
	// ErrVersionMismatch: a version differs from the one its referrer lists
	// (mix-and-match), or a new root is not exactly trusted+1.
	ErrVersionMismatch = errors.New("version differs from the referring metadata")
	// ErrNotFound: a target is not listed by any trusted role; also what a
	// Fetcher returns for a missing file.
	ErrNotFound = fetch.ErrNotFound
	// ErrTooLarge: a file is larger than its signed length or size limit
	// (endless data attack).
	ErrTooLarge = fetch.ErrTooLarge
	// ErrNotListed: the referring metadata does not list a metadata file the
	// client needs.
	ErrNotListed = errors.New("metadata not listed by its referrer")
	// ErrDelegationLimit: a lookup reached the cap on roles visited with roles
	// still to visit.
	ErrDelegationLimit = errors.New("delegation limit reached")
	// ErrRootRotationLimit: the cap on root rotations per refresh was reached
	// while newer roots were still served.
	ErrRootRotationLimit = errors.New("root rotation limit reached")
	// ErrNotRefreshed: the operation needs a successful Refresh first.
	ErrNotRefreshed = errors.New("no trusted metadata: refresh first")
	// ErrClosed: the client was closed.
	ErrClosed = errors.New("client closed")
	// Document errors from package metadata.
	ErrMalformed   = metadata.ErrMalformed
	ErrInvalid     = metadata.ErrInvalid
	ErrType        = metadata.ErrType
	ErrSpecVersion = metadata.ErrSpecVersion
	ErrUnsafePath  = metadata.ErrUnsafePath
)

// ExpiredError reports metadata that is expired at the reference time.
type ExpiredError struct {
	Role    string
	Version int64
	Expires time.Time
	Now     time.Time // the reference time
}

func (e *ExpiredError) Error() string {
	return fmt.Sprintf("%s v%d expired at %s (reference time %s): possible freeze attack, or the repository stopped publishing",
		e.Role, e.Version, e.Expires.Format(time.RFC3339), e.Now.Format(time.RFC3339))
}

func (e *ExpiredError) Unwrap() error { return ErrExpired }

// VersionError reports a version that differs from the expected one.
type VersionError struct {
	Role      string
	Got, Want int64
	Referrer  string // the role whose listing was expected, "" for root
}

func (e *VersionError) Error() string {
	if e.Referrer == "" {
		return fmt.Sprintf("%s v%d served where v%d was expected", e.Role, e.Got, e.Want)
	}
	return fmt.Sprintf("%s v%d does not match v%d listed by %s: possible mix-and-match attack", e.Role, e.Got, e.Want, e.Referrer)
}

func (e *VersionError) Unwrap() error { return ErrVersionMismatch }

// MirrorError reports a file that no mirror could provide, with each mirror's
// reason, in mirror order. errors.Is and errors.As see every reason.
type MirrorError struct {
	File    string
	Mirrors []string
	Errs    []error
}

func (e *MirrorError) Error() string {
	if len(e.Errs) == 1 {
		return fmt.Sprintf("%s from %s: %v", e.File, e.Mirrors[0], e.Errs[0])
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: every mirror failed:", e.File)
	for i, err := range e.Errs {
		fmt.Fprintf(&b, " [%s: %v]", e.Mirrors[i], err)
	}
	return b.String()
}

func (e *MirrorError) Unwrap() []error { return e.Errs }

// TargetError reports a target that could not be resolved or delivered.
type TargetError struct {
	Path string
	Err  error
}

func (e *TargetError) Error() string { return fmt.Sprintf("target %q: %v", e.Path, e.Err) }

func (e *TargetError) Unwrap() error { return e.Err }
