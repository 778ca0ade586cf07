// Package verify holds the cryptographic checks of a TUF client: public keys
// and their signature schemes, threshold counting over distinct keys, and the
// length-and-hash check of downloaded bytes.
//
// The package knows nothing about JSON or metadata. It verifies signatures
// over the bytes it is given (the metadata package passes the canonical form
// of the received "signed" object) and checks lengths and hashes that the
// caller took from already verified metadata. All cryptography is the Go
// standard library's (crypto/ed25519, crypto/ecdsa, crypto/rsa,
// crypto/sha256, crypto/sha512).
//
// # Keys and schemes
//
// [ParseKey] turns the keytype, scheme and public value of a TUF key into a
// [PublicKey] bound to exactly one scheme:
//
//   - "ed25519": the spec's ed25519 keys, public as 64 hex digits.
//   - "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"
//     with keytype "ecdsa" (or "ecdsa-sha2-nistp256", which older go-tuf and
//     Sigstore roots use): public as PEM SubjectPublicKeyInfo or as the hex of
//     the uncompressed point (Sigstore roots 1 to 4). The key's curve must be
//     the scheme's; a P-384 key under the P-256 scheme is invalid rather than
//     verified with the wrong hash.
//   - "rsassa-pss-sha256/384/512" (any salt length) and
//     "rsa-pkcs1v15-sha256/384/512" with keytype "rsa": public as PEM,
//     modulus of 2048 to 16384 bits. A PSS key never accepts a PKCS #1 v1.5
//     signature, nor the reverse.
//
// Anything else is [ErrUnsupportedKey]: callers skip such keys, so a
// repository may list key types this client does not know, but those keys
// never count towards a threshold. A key of a supported type that is
// malformed, too small or on the wrong curve is [ErrInvalidKey].
//
// [Sign] is the other side, for repositories and tests: it signs under the
// same schemes from the same table, with any [crypto.Signer] whose key fits
// the scheme, so what it signs is what [PublicKey.Verify] accepts.
//
// # Key IDs and thresholds
//
// Key IDs are opaque (TAP 12): [Threshold] looks them up in the delegator's
// key map and never recomputes them, because many real repositories,
// Sigstore's production root among them, use key IDs that are not the hash
// of the key. A signature counts only if its key ID is authorised for the
// role, the delegator lists a usable key for it and the signature verifies.
// Each distinct public key counts once, however many key IDs, encodings or
// signatures point at it: two key IDs that name the same key (one as PEM,
// one as hex) are one signer, and so is one RSA key listed under a PSS and a
// PKCS #1 v1.5 scheme. A repeated signature counts once. Signatures by keys
// the role does not authorise are ignored, not errors.
//
// # Hashes
//
// The supported hash algorithms are "sha256" and "sha512". An unknown
// algorithm is ignored when at least one supported algorithm is listed, and
// every supported algorithm listed must match. A hash set that lists no
// supported algorithm, or none at all, is [ErrNoSupportedHash]: there is no
// fallback, and such data is refused. Checks fail closed: this package never
// treats a missing length or missing hashes as "nothing to check" (where a
// format makes them optional, as TUF does for snapshot and timestamp
// listings, the caller decides what to check). Digests are compared in
// constant time.
//
// [HashWriter] checks data as it streams to disk: it never hashes, or passes
// on through [HashWriter.Tee], a byte beyond the expected length, and
// [HashWriter.Verify] demands the exact length before it compares digests.
// [CheckBytes] does the same for data already in memory.
//
// # Errors
//
// Errors wrap one of the package's sentinels and come as typed errors with
// the evidence: [KeyError], [ThresholdError] (role, threshold, signers,
// rejected key IDs), [LengthError] and [HashError].
//
// # Concurrency and compatibility
//
// [PublicKey] values and the package's functions are safe for concurrent
// use; a [HashWriter] belongs to one transfer at a time. latch is at v0: the
// API may still change. The set of supported schemes and hash algorithms
// only grows, and a change that makes a check weaker is never a minor one.
package verify
