// Package metadata is the TUF 1.0 document model of latch: root, timestamp,
// snapshot and targets metadata (with delegations, TAP 15 succinct hash bins),
// reachable only through verification.
//
// # Verify, then parse
//
// Every typed document comes out of one of the Open functions ([OpenRoot],
// [OpenTimestamp], [OpenSnapshot], [OpenTargets]), which share one chokepoint:
//
//  1. split the envelope strictly: the raw bytes of "signed" and the list of
//     "signatures" (at most [MaxSignatures], no key ID twice:
//     [ErrDuplicateSignature], even when the threshold is met); duplicate JSON
//     keys at any depth, nesting deeper than 64 and invalid UTF-8 are refused;
//  2. compute the canonical form (OLPC canonical JSON, as the spec requires) of
//     the received "signed" bytes, without decoding and re-encoding them, so
//     unknown fields and integers beyond 2^53 are signed exactly as received;
//  3. check the threshold of signatures with the keys the caller trusts for the
//     role (package verify: each distinct key counts once, key IDs are opaque);
//  4. only then decode the document and apply the rules that belong to the
//     document alone: _type, spec_version (major version 1), expires (RFC 3339),
//     version >= 1, thresholds >= 1, key IDs of every role present in "keys",
//     well-formed lengths and hashes, unique delegation names, succinct
//     bit_length in 1..32.
//
// # Signing
//
// [Seal] is the chokepoint's mirror image, for repositories, publishing tools
// and tests: it computes the canonical form of a "signed" object the same
// way, signs it with one or more [Signer] values ([NewSigner] wraps any
// [crypto.Signer] under a TUF scheme) and writes the envelope, refusing what
// the Open functions refuse (a key ID twice, more than [MaxSignatures]).
//
// Rules that compare a document with trusted state (version monotonicity,
// expiry against the reference time, hashes from the referring metadata) are
// the client's: the documents expose what it needs.
//
// # Large targets metadata
//
// [Targets] does not materialise its "targets" map. Open validates every entry
// (length, hashes) and keeps an index from target path to the entry's bytes
// (a hash table, and the entries' offsets in key order); [Targets.Target]
// decodes one entry on demand. A 100,000-entry targets.json costs the
// received bytes plus 12 to 20 bytes per entry. A client keeps the index
// beside its cache, so that a new process reads only the entries it looks
// up; only documents it reopens that way can fail a lookup
// ([ErrCacheCorrupt]).
//
// # Names
//
// Role names are arbitrary strings ("." , "../a" and "ö" are legal). They are
// never used as paths: [EncodeRoleName] maps them reversibly to a file-name-safe
// form and [RoleURLName] to a URL path segment. Target paths become local file
// names only through [LocalPath], which refuses anything that could escape the
// directory it is given.
package metadata
