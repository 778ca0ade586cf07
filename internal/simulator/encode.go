package simulator

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"testing"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	latchmeta "github.com/latchsec/latch/metadata"
)

// Seal returns m as the simulator serves it, signed by keys (ed25519, listed
// under their go-tuf key IDs) with latch's [latchmeta.Seal]: compact
// canonical JSON, or, when pretty is set, the same document indented with
// one space per level like python-tuf's output. The signatures cover the
// canonical form of m.Signed, so they verify either way. m itself is not
// changed. Use it with [Repo.Key] to forge documents.
func Seal[T metadata.Roles](t testing.TB, m *metadata.Metadata[T], pretty bool, keys ...ed25519.PrivateKey) []byte {
	t.Helper()
	signed, err := json.Marshal(m.Signed)
	if err != nil {
		t.Fatalf("simulator: encoding signed: %v", err)
	}
	signers := make([]latchmeta.Signer, len(keys))
	for i, k := range keys {
		signers[i] = latchmeta.NewSigner(keyID(t, k.Public().(ed25519.PublicKey)), "ed25519", k)
	}
	env, err := latchmeta.Seal(signed, signers...)
	if err != nil {
		t.Fatalf("simulator: %v", err)
	}
	if !pretty {
		return env
	}
	var p bytes.Buffer
	p.Grow(len(env) * 3 / 2)
	if err := json.Indent(&p, env, "", " "); err != nil {
		t.Fatalf("simulator: indenting metadata: %v", err)
	}
	return p.Bytes()
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
