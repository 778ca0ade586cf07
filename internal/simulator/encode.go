package simulator

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"sort"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/cjson"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// AddSignatures appends to m one ed25519 signature per key over the canonical
// form of m.Signed, the bytes the TUF specification says are signed. Existing
// signatures are kept, so a test can add a valid signature next to a bogus one
// or sign twice with the same key. Use it with [Repo.Key] to forge documents.
func AddSignatures[T metadata.Roles](t testing.TB, m *metadata.Metadata[T], keys ...ed25519.PrivateKey) {
	t.Helper()
	m.Signatures = appendSignatures(t, m.Signatures, canonicalSigned(t, m), keys)
}

// WireBytes serialises m as the simulator serves it: compact canonical JSON
// of the whole envelope, or, when pretty is set, the same document indented
// with one space per level like python-tuf's output. Signatures are not
// touched; they verify either way because they cover the canonical form of
// "signed", not the served bytes.
func WireBytes[T metadata.Roles](t testing.TB, m *metadata.Metadata[T], pretty bool) []byte {
	t.Helper()
	return envelope(t, canonicalSigned(t, m), m, pretty)
}

// seal replaces m's signatures with one per key and returns the wire bytes,
// encoding m.Signed only once (it dominates the cost for large targets files).
func seal[T metadata.Roles](t testing.TB, m *metadata.Metadata[T], keys []ed25519.PrivateKey, pretty bool) []byte {
	t.Helper()
	signed := canonicalSigned(t, m)
	m.Signatures = appendSignatures(t, []metadata.Signature{}, signed, keys)
	return envelope(t, signed, m, pretty)
}

func canonicalSigned[T metadata.Roles](t testing.TB, m *metadata.Metadata[T]) []byte {
	t.Helper()
	b, err := cjson.EncodeCanonical(m.Signed)
	if err != nil {
		t.Fatalf("simulator: canonical encoding of signed: %v", err)
	}
	return b
}

func appendSignatures(t testing.TB, sigs []metadata.Signature, signed []byte, keys []ed25519.PrivateKey) []metadata.Signature {
	t.Helper()
	for _, k := range keys {
		sigs = append(sigs, metadata.Signature{
			KeyID:     keyID(t, k.Public().(ed25519.PublicKey)),
			Signature: ed25519.Sign(k, signed),
		})
	}
	return sigs
}

// keyID is the TUF key ID of an ed25519 public key: the hex SHA-256 of the
// canonical JSON of its metadata form, as go-tuf computes it.
func keyID(t testing.TB, pub ed25519.PublicKey) string {
	t.Helper()
	k, err := metadata.KeyFromPublicKey(pub)
	if err != nil {
		t.Fatalf("simulator: key: %v", err)
	}
	id, err := k.ID()
	if err != nil {
		t.Fatalf("simulator: key id: %v", err)
	}
	return id
}

// envelope assembles the canonical envelope around already canonical signed
// bytes: the members are "signatures", "signed" and any unrecognised
// envelope fields, sorted by key as canonical JSON requires.
func envelope[T metadata.Roles](t testing.TB, signed []byte, m *metadata.Metadata[T], pretty bool) []byte {
	t.Helper()
	sigs := m.Signatures
	if sigs == nil {
		sigs = []metadata.Signature{}
	}
	members := map[string][]byte{}
	for k, v := range m.UnrecognizedFields {
		members[k] = mustCanonical(t, v)
	}
	members["signatures"] = mustCanonical(t, sigs)
	members["signed"] = signed
	names := make([]string, 0, len(members))
	for k := range members {
		names = append(names, k)
	}
	sort.Strings(names)
	var b bytes.Buffer
	b.Grow(len(signed) + len(members["signatures"]) + 64)
	b.WriteByte('{')
	for i, k := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(mustCanonical(t, k))
		b.WriteByte(':')
		b.Write(members[k])
	}
	b.WriteByte('}')
	if !pretty {
		return b.Bytes()
	}
	var p bytes.Buffer
	if err := json.Indent(&p, b.Bytes(), "", " "); err != nil {
		t.Fatalf("simulator: indenting metadata: %v", err)
	}
	return p.Bytes()
}

func mustCanonical(t testing.TB, v any) []byte {
	t.Helper()
	b, err := cjson.EncodeCanonical(v)
	if err != nil {
		t.Fatalf("simulator: canonical encoding: %v", err)
	}
	return b
}
