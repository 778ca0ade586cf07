package client

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/latchsec/latch/internal/archive"
	"github.com/latchsec/latch/metadata"
	"github.com/latchsec/latch/mirror"
	"github.com/latchsec/latch/rollback"
	"github.com/latchsec/latch/verify"
)

// Sentinels, matched with errors.Is. Each has one meaning, given here; most
// come wrapped in a typed error that carries the evidence (role, versions,
// key IDs, mirror). Several are defined in packages metadata, verify,
// rollback and mirror, where they arise, and are the same values here.
var (
	// ErrExpired: metadata is expired at the reference time (freeze attack,
	// or a repository that stopped publishing). See *ExpiredError.
	ErrExpired = errors.New("metadata expired")
	// ErrRollback: a version lower than one trusted before. See
	// *rollback.RollbackError and *StaleError.
	ErrRollback = rollback.ErrRollback
	// ErrThreshold: too few of the keys trusted for a role signed its
	// metadata. See *verify.ThresholdError.
	ErrThreshold = verify.ErrThreshold
	// ErrHashMismatch: bytes whose digest differs from the one the
	// referring metadata lists. See *verify.HashError.
	ErrHashMismatch = verify.ErrHashMismatch
	// ErrLengthMismatch: fewer bytes than the length the referring
	// metadata lists. See *verify.LengthError. More bytes are ErrTooLarge.
	ErrLengthMismatch = verify.ErrLengthMismatch
	// ErrVersionMismatch: a document's version is not the one expected:
	// the version its referrer lists (mix-and-match), or for a new root,
	// the trusted version plus one. See *VersionError.
	ErrVersionMismatch = errors.New("version differs from the referring metadata")
	// ErrUnknownTarget: a complete search of the trusted targets roles,
	// delegations included, found no role that lists the target path. See
	// *UnknownTargetError. A mirror can't cause it by withholding a file:
	// that fails the search with ErrNotFound instead.
	ErrUnknownTarget = errors.New("no trusted role lists the target")
	// ErrNotListed: the referring metadata does not list a metadata file the
	// client needs.
	ErrNotListed = errors.New("metadata not listed by its referrer")
	// ErrDelegationLimit: a lookup reached the cap on roles visited with roles
	// still to visit.
	ErrDelegationLimit = errors.New("delegation limit reached")
	// ErrRootRotationLimit: the cap on root rotations per refresh was reached
	// while newer roots were still served.
	ErrRootRotationLimit = errors.New("root rotation limit reached")
	// ErrNotRefreshed: the trusted metadata an operation needs was never
	// fetched: a Refresh must come first (for a View, also an online lookup
	// that fetches the delegated roles the path needs).
	ErrNotRefreshed = errors.New("no trusted metadata: refresh first")
	// ErrClosed: the client was closed.
	ErrClosed = errors.New("client closed")

	// ErrMalformed: a document is not JSON of the form TUF metadata has.
	// See *metadata.Error, like the three below.
	ErrMalformed = metadata.ErrMalformed
	// ErrInvalidMetadata: a well-formed document breaks a rule of the
	// specification (a version below 1, a threshold below 1, a role's key
	// ID missing from "keys", ...).
	ErrInvalidMetadata = metadata.ErrInvalid
	// ErrType: a document's "_type" is not the role expected.
	ErrType = metadata.ErrType
	// ErrSpecVersion: a document's spec_version is not 1.x.
	ErrSpecVersion = metadata.ErrSpecVersion
	// ErrUnsafePath: a target path that cannot become a local file name.
	ErrUnsafePath = metadata.ErrUnsafePath
	// ErrCacheCorrupt: the cached targets metadata a lookup read no longer
	// matches what was verified (checked chunk by chunk as it is read).
	// Nothing from it is used, and the next Refresh fetches it again.
	ErrCacheCorrupt = metadata.ErrCacheCorrupt
)

// What a mirror did, as the default transport and a caller's Fetcher report
// it (see Fetcher, which says how the client reacts to each). They are
// defined in package mirror and are the same values here.
var (
	// ErrNotFound: a mirror (or the Fetcher) says it has no such file (for
	// HTTP: 404 or 403). A mirror can say it of any file: it never means
	// that no trusted role lists a target (ErrUnknownTarget), and a caller
	// that took it for "no such target, no update" would let the mirror
	// freeze it. Treat it as a failure to retry.
	ErrNotFound = mirror.ErrNotFound
	// ErrTooLarge: a file holds more bytes than allowed: its signed length
	// or a size limit (WithLimits, MaxExecutableSize). An endless data
	// attack, or a file replaced. See *TooLargeError.
	ErrTooLarge = mirror.ErrTooLarge
	// ErrRangeIgnored: a request to resume a download from an offset was
	// answered with other bytes than those from that offset; the client
	// then downloads the file again from its first byte.
	ErrRangeIgnored = mirror.ErrRangeIgnored
	// ErrSlowRetrieval: a mirror did not answer in time or sent too few
	// bytes per second (WithMetadataTimeouts, WithTransferLimits). See
	// *SlowError and *TimeoutError.
	ErrSlowRetrieval = mirror.ErrSlowRetrieval
	// ErrInsecureURL: a mirror URL, or a redirect, the default transport
	// refuses: plain http to a host that is not loopback (see
	// WithPlainHTTPUnsafe), or a redirect from https to http. See
	// *InsecureURLError.
	ErrInsecureURL = mirror.ErrInsecureURL
	// ErrTooManyRedirects: a request was redirected more than 10 times.
	ErrTooManyRedirects = mirror.ErrTooManyRedirects
	// ErrPinMismatch: a mirror's TLS key matches none of the pins
	// (WithSPKIPins). See *PinError.
	ErrPinMismatch = mirror.ErrPinMismatch
)

// Typed errors of a mirror, defined in package mirror; see there for their
// fields.
type (
	// StatusError reports an HTTP status that is not a usable answer
	// (errors.Is ErrNotFound for 404 and 403).
	StatusError = mirror.StatusError
	// TooLargeError reports a file longer than allowed (ErrTooLarge).
	TooLargeError = mirror.TooLargeError
	// InsecureURLError reports a refused URL and why (ErrInsecureURL).
	InsecureURLError = mirror.InsecureURLError
	// PinError reports a mirror whose TLS key is not pinned, with the keys
	// it presented (ErrPinMismatch).
	PinError = mirror.PinError
	// SlowError reports a mirror that sent too few bytes per second
	// (ErrSlowRetrieval).
	SlowError = mirror.SlowError
	// TimeoutError reports a mirror that did not answer, or finish, in time
	// (ErrSlowRetrieval).
	TimeoutError = mirror.TimeoutError
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
// Err is the cause: a *MirrorError when no mirror delivered verified bytes
// or served a delegated role that verified, else what failed on this
// machine or in the trusted metadata (ErrUnknownTarget, ErrExpired, a
// destination that can't be written, the end of the context).
type TargetError struct {
	Path string
	Err  error
}

func (e *TargetError) Error() string { return fmt.Sprintf("target %q: %v", e.Path, e.Err) }

func (e *TargetError) Unwrap() error { return e.Err }

// RefreshError reports a failed Refresh: which role's update failed and
// why. Err is the cause: a *MirrorError when no mirror served the role's
// metadata that passed every check (each mirror's reason listed), else what
// failed apart from the mirrors (a *ClockError, the final root expired, a
// write to the state directory, the end of the context).
type RefreshError struct {
	// Role is the top-level role being updated: "root", "timestamp",
	// "snapshot" or "targets"; "" for a failure before the first (the
	// clock) or after the last (recording the reference time, the audit
	// log).
	Role string
	Err  error
}

// Error names the role and the cause, with what to check where the cause
// is a common misconfiguration rather than an attack.
func (e *RefreshError) Error() string {
	role := ""
	if e.Role != "" {
		role = " " + e.Role
	}
	msg := fmt.Sprintf("refresh%s: %v", role, e.Err)
	var te *verify.ThresholdError
	switch {
	case e.Role == metadata.RoleTimestamp && errors.Is(e.Err, ErrNotFound):
		// Every repository serves timestamp.json at the root of its
		// metadata URL.
		msg += "; is there a TUF repository at that URL? Check Config.MetadataURLs: each must be the URL of the directory that holds timestamp.json"
	case e.Role != "" && e.Role != metadata.RoleRoot && errors.As(e.Err, &te) && te.Valid == 0 && errors.Is(te, ErrThreshold):
		// Only the trusted root assigns the keys of these roles. (A new
		// root must also be signed by its own keys, which proves nothing
		// about the trusted one.)
		msg += fmt.Sprintf("; none of the keys the trusted root assigns to %s signed it: if the repository was set up again with new keys "+
			"(or Config.MetadataURLs point at another repository), the application's trusted root (Config.TrustedRoot) "+
			"does not match it: check both; otherwise the metadata is forged", e.Role)
	}
	return msg
}

func (e *RefreshError) Unwrap() error { return e.Err }

// cause returns what explains err, a Refresh or download error: the Err of
// a *RefreshError or *TargetError, and within a *MirrorError that lists one
// mirror, that mirror's reason.
func cause(err error) error {
	switch e := err.(type) {
	case *RefreshError:
		err = e.Err
	case *TargetError:
		err = e.Err
	}
	if me, ok := err.(*MirrorError); ok && len(me.Errs) == 1 {
		err = me.Errs[0]
	}
	return err
}

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
		"or it was wrong before; fix the clock (after a clock that was wrong in the future, a person who checked it calls Client.ResetTrustedTimeUnsafe)",
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

// ErrArchive: a release archive (.tar.gz, .zip) that Apply can't take the
// executable from, although it matches its signed hashes: the member is
// missing (see ArchiveMember), not a regular file or there twice, an entry is
// unsafe (an absolute path, "..", a link out), or the archive is malformed.
// Nothing was installed; the publisher has to fix the release. A member
// larger than MaxExecutableSize is ErrTooLarge.
var ErrArchive = errors.New("release archive unusable")

// exportErr returns err, an error of the internal archive package, so that
// it also matches the client's sentinel for the condition it reports:
// callers match exported sentinels only.
func exportErr(err error) error {
	for _, p := range [...]struct{ internal, public error }{
		{archive.ErrTooLarge, ErrTooLarge},
		{archive.ErrNotFound, ErrArchive},
		{archive.ErrUnsafeEntry, ErrArchive},
		{archive.ErrNotRegular, ErrArchive},
		{archive.ErrDuplicate, ErrArchive},
		{archive.ErrFormat, ErrArchive},
	} {
		if errors.Is(err, p.internal) {
			return &exportedErr{sentinel: p.public, err: err}
		}
	}
	return err
}

// exportedErr is err, matching sentinel too, with err's message.
type exportedErr struct{ sentinel, err error }

func (e *exportedErr) Error() string   { return e.err.Error() }
func (e *exportedErr) Unwrap() []error { return []error{e.sentinel, e.err} }
