// Package cacheopen lets package client reopen the root, timestamp and
// snapshot metadata it cached after verifying them, without checking their
// signatures again in every new process.
//
// Package metadata sets the hook in its init; nothing in metadata's public
// API returns a document that skipped the signature check. The client
// calls it only for bytes whose length and SHA-256 its trusted state
// records, and, for the timestamp and the snapshot, only while the root
// whose keys verified them is still the trusted one: those bytes were
// verified before they were recorded, and whoever can rewrite the cache can
// rewrite the trusted state too.
package cacheopen

// Reopen decodes data, a document of role (root, timestamp or snapshot),
// as the role's Open function of package metadata does, without checking
// its signatures. It returns a *metadata.Root, *metadata.Timestamp or
// *metadata.Snapshot (as any: this package can't import metadata, which
// imports it), or the error the Open function would return for bytes
// that don't decode.
var Reopen func(role string, data []byte) (any, error)
