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
	// ErrNotFound: a file the client needs could not be had because a
	// mirror (or the Fetcher) says it has no such file (HTTP 404 and 403),
	// or, in the offline View, because a delegated role is not in the cache.
	// It never means that no trusted role lists a target (ErrUnknownTarget):
	// a mirror can withhold any file, and a caller that took this for "no
	// such target, no update" would let the mirror freeze it.
	ErrNotFound = fetch.ErrNotFound
	// ErrUnknownTarget: a complete search of the trusted targets roles,
	// delegations included, found no role that lists the target path. See
	// *UnknownTargetError. A mirror can't cause it by withholding a file:
	// that fails the search with ErrNotFound instead.
	ErrUnknownTarget = errors.New("no trusted role lists the target")
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

// ErrClockRollback: the clock reads earlier than a reference time the client
// trusted before, by more than the tolerance. See *ClockError.
var ErrClockRollback = errors.New("clock is earlier than a trusted time")

// ClockError reports a clock that went back: accepting metadata now could
// accept documents that have in fact expired.
type ClockError struct {
	Now       time.Time // the clock at the start of the refresh
	Trusted   time.Time // the latest reference time of a successful refresh
	Tolerance time.Duration
}

func (e *ClockError) Error() string {
	return fmt.Sprintf("clock reads %s, %s before the last trusted time %s (tolerance %s): the clock was set back, "+
		"or it was wrong before; fix the clock (see rollback.State.ResetTimeUnsafe for a clock that was wrong in the future)",
		e.Now.Format(time.RFC3339), e.Trusted.Sub(e.Now).Round(time.Second), e.Trusted.Format(time.RFC3339), e.Tolerance)
}

func (e *ClockError) Unwrap() error { return ErrClockRollback }

// StaleError reports metadata older than what is trusted, as one mirror
// served it. Behind CDNs this is mostly a stale cache, so the client tries
// the next mirror; if none serves current metadata the refresh fails with
// it (errors.Is ErrRollback, errors.As *rollback.RollbackError).
type StaleError struct {
	Mirror       string
	Role         string
	Got, Trusted int64
	Err          *rollback.RollbackError
}

func (e *StaleError) Error() string {
	mirror := ""
	if e.Mirror != "" {
		mirror = "mirror " + e.Mirror + " serves "
	}
	return fmt.Sprintf("%s%s v%d, %d version(s) behind trusted v%d: a stale cache, or a rollback attack",
		mirror, e.Role, e.Got, e.Trusted-e.Got, e.Trusted)
}

func (e *StaleError) Unwrap() error { return e.Err }

func staleErr(role string, got, trusted int64) error {
	return &StaleError{Role: role, Got: got, Trusted: trusted,
		Err: &rollback.RollbackError{Role: role, Got: fmt.Sprintf("v%d", got), Trusted: fmt.Sprintf("v%d", trusted), Err: rollback.ErrRollback}}
}

// UnknownTargetError reports a target path that no trusted role lists
// (errors.Is ErrUnknownTarget), as opposed to a file a mirror could not
// serve (ErrNotFound).
type UnknownTargetError struct {
	Path    string
	Visited int // targets roles searched
}

func (e *UnknownTargetError) Error() string {
	return fmt.Sprintf("no trusted role lists %q (%d role(s) searched)", e.Path, e.Visited)
}

func (e *UnknownTargetError) Unwrap() error { return ErrUnknownTarget }
