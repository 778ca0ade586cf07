// Package transparency names what release transparency is about, for
// those who check it and those who publish to it: the entry a vendor logs
// for each release ([Entry], with its one encoding), a verified checkpoint
// of the log ([Checkpoint]), and the errors of proving that a release is in
// the log, each with one meaning.
//
// Package client re-exports the sentinels and types under its own names
// (client.ErrNotLogged is ErrNotLogged, client.LogConflictError is
// ConflictError), so a caller of the client usually needs only client. They
// live here, apart, because the code that verifies logs is an internal
// package that client imports: both sides need one definition to share.
package transparency

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinels, matched with errors.Is. Most come wrapped in a typed error that
// carries the evidence.
var (
	// ErrMalformed: a checkpoint, tile, entry bundle or entry does not follow
	// its format.
	ErrMalformed = errors.New("malformed log data")
	// ErrLogSignature: the checkpoint carries no valid signature by the log
	// key. See *SignatureError.
	ErrLogSignature = errors.New("checkpoint not signed by the log key")
	// ErrOrigin: the checkpoint is signed but names another log. See
	// *OriginError.
	ErrOrigin = errors.New("checkpoint from another log")
	// ErrWitness: fewer witnesses than the threshold cosigned the checkpoint,
	// or a trusted witness's cosignature is invalid. See *WitnessError.
	ErrWitness = errors.New("checkpoint not cosigned by enough witnesses")
	// ErrRollback: the log shows a smaller tree than one trusted before. See
	// *ConflictError.
	ErrRollback = errors.New("checkpoint older than the trusted one")
	// ErrSplitView: the log shows a tree that does not extend the trusted
	// one: it shows different histories to different clients. See
	// *ConflictError, which carries both signed checkpoints as evidence.
	ErrSplitView = errors.New("checkpoint inconsistent with the trusted one")
	// ErrNotLogged: the log has no entry at the index the target names. See
	// *NotLoggedError.
	ErrNotLogged = errors.New("entry not in the log")
	// ErrWrongEntry: the log holds a different entry at the index the target
	// names. See *WrongEntryError.
	ErrWrongEntry = errors.New("log entry does not match the target")
	// ErrInvalidProof: tiles or an entry bundle do not hash to the signed
	// checkpoint: a tampered or corrupt copy of the log. See *ProofError.
	ErrInvalidProof = errors.New("log data does not match the checkpoint")
)

// SignatureError reports a checkpoint without a valid log signature.
type SignatureError struct {
	Key    string // the log key's name
	Reason string // "no signature by the log key", "invalid signature", ...
}

func (e *SignatureError) Error() string {
	return fmt.Sprintf("checkpoint: %s %s", e.Reason, e.Key)
}

func (e *SignatureError) Unwrap() error { return ErrLogSignature }

// OriginError reports a checkpoint whose origin line names another log.
type OriginError struct {
	Got, Want string
}

func (e *OriginError) Error() string {
	return fmt.Sprintf("checkpoint of log %q where %q was expected", e.Got, e.Want)
}

func (e *OriginError) Unwrap() error { return ErrOrigin }

// WitnessError reports a checkpoint whose witness cosignatures do not meet
// the threshold, or that carries an invalid cosignature by a trusted
// witness.
type WitnessError struct {
	Cosigned  []string // names of the trusted witnesses whose cosignatures verified
	Threshold int
	Invalid   string // a trusted witness whose cosignature failed to verify, or ""
}

func (e *WitnessError) Error() string {
	if e.Invalid != "" {
		return fmt.Sprintf("checkpoint carries an invalid cosignature by witness %s", e.Invalid)
	}
	names := "none"
	if len(e.Cosigned) > 0 {
		names = strings.Join(e.Cosigned, ", ")
	}
	return fmt.Sprintf("checkpoint cosigned by %d trusted witness(es) (%s), %d required: the log may be showing this client a view no witness has seen",
		len(e.Cosigned), names, e.Threshold)
}

func (e *WitnessError) Unwrap() error { return ErrWitness }

// ConflictError reports a validly signed checkpoint that conflicts with the
// trusted one: a smaller tree (ErrRollback) or one that does not contain the
// trusted tree as a prefix (ErrSplitView). Trusted and Got hold both signed
// notes as served: together they prove that the log signed two views.
type ConflictError struct {
	Trusted, Got *Checkpoint
	Err          error // ErrRollback or ErrSplitView
}

func (e *ConflictError) Error() string {
	if errors.Is(e.Err, ErrRollback) {
		return fmt.Sprintf("log %s: checkpoint of size %d is older than the trusted size %d: a stale mirror, or a rollback attack",
			e.Got.Origin, e.Got.Size, e.Trusted.Size)
	}
	return fmt.Sprintf("log %s: checkpoint of size %d (root %s) does not extend the trusted size %d (root %s): the log is showing different histories (split view); keep both checkpoints as evidence",
		e.Got.Origin, e.Got.Size, e.Got.Hash, e.Trusted.Size, e.Trusted.Hash)
}

func (e *ConflictError) Unwrap() error { return e.Err }

// NotLoggedError reports a release the log does not hold: an index the
// checkpoint does not cover, or (Reason) a target that names no entry.
type NotLoggedError struct {
	Index, Size int64
	Reason      string // set when there is no index to look at
}

func (e *NotLoggedError) Error() string {
	if e.Reason != "" {
		return "not in the transparency log: " + e.Reason
	}
	return fmt.Sprintf("no log entry %d in a log of %d entries: the release was not logged (or not yet)", e.Index, e.Size)
}

func (e *NotLoggedError) Unwrap() error { return ErrNotLogged }

// WrongEntryError reports that the log proves a different entry at the index
// a target names.
type WrongEntryError struct {
	Index int64
	Want  Entry
	Got   []byte // the entry the log holds at Index, proven included
}

func (e *WrongEntryError) Error() string {
	return fmt.Sprintf("log entry %d is %q, not %s %s (%d bytes, sha256 %x)",
		e.Index, e.Got, e.Want.Repository, e.Want.Path, e.Want.Length, e.Want.SHA256)
}

func (e *WrongEntryError) Unwrap() error { return ErrWrongEntry }

// ProofError reports log data (a tile, an entry bundle) that does not hash
// to the checkpoint it is read under.
type ProofError struct {
	What string // what was being proven, such as "inclusion of entry 41"
	Err  error
}

func (e *ProofError) Error() string {
	return fmt.Sprintf("%s: log data does not match the checkpoint: %v", e.What, e.Err)
}

func (e *ProofError) Unwrap() []error { return []error{ErrInvalidProof, e.Err} }

// FetchError reports a log resource that could not be had from the log's
// mirrors (through the client's Fetcher). It wraps the Fetcher's error.
type FetchError struct {
	Path string
	Err  error
}

func (e *FetchError) Error() string { return fmt.Sprintf("log %s: %v", e.Path, e.Err) }

func (e *FetchError) Unwrap() error { return e.Err }
