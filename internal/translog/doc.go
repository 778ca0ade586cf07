// Package translog verifies release transparency logs: append-only logs in
// which a vendor records every release it publishes, so that a release
// signed for one victim with a stolen key is either logged for everyone to
// see or refused.
//
// # Formats
//
// A log follows C2SP tlog-tiles: a signed checkpoint (C2SP tlog-checkpoint, a
// C2SP signed-note) at <prefix>/checkpoint, the Merkle tree (RFC 6962 hashing)
// as static tiles of height 8 at <prefix>/tile/<L>/<N>[.p/<W>], and the
// entries in bundles of 256 at <prefix>/tile/entries/<N>[.p/<W>]. Each entry
// is one release ([transparency.Entry]; its encoding, version 1, is documented
// there). Witnesses may cosign checkpoints (C2SP tlog-cosignature,
// cosignature/v1 with Ed25519); a [Policy] can require k of n of them.
//
// # Trust
//
// Nothing a [Fetcher] returns is trusted. A checkpoint counts only once
// [Verifier.Open] has checked the log's signature, its origin and the witness
// threshold. Tiles count only once they hash to a verified checkpoint's root
// (golang.org/x/mod/sumdb/tlog authenticates them), and an entry only once its
// hash is proven to be the leaf at its index. [Log.Consistent] proves that a
// new checkpoint extends the one trusted before; a checkpoint that doesn't is
// a [*transparency.ConflictError] carrying both signed notes, evidence that
// the log showed two histories.
//
// Each failure has its own error: [transparency.ErrLogSignature],
// [transparency.ErrOrigin], [transparency.ErrWitness],
// [transparency.ErrRollback], [transparency.ErrSplitView],
// [transparency.ErrNotLogged], [transparency.ErrWrongEntry],
// [transparency.ErrInvalidProof], [transparency.ErrMalformed]; a resource the
// Fetcher could not get is a [*transparency.FetchError] wrapping the Fetcher's
// error.
//
// The package holds no state: what is trusted between calls (the latest
// verified checkpoint) is the caller's to keep.
package translog
