package verify

import (
	"encoding/hex"
	"encoding/pem"
	"errors"
	"testing"

	"github.com/latchsec/latch/internal/testvec"
)

// FuzzParseKey: a key is refused with a *KeyError naming the keytype and
// scheme and wrapping exactly one of ErrUnsupportedKey and ErrInvalidKey,
// and no key; an accepted key keeps its labels, and its material written
// out again in the canonical encoding (hex for ed25519, a PEM
// SubjectPublicKeyInfo otherwise) parses to an equal key. Seeded with
// every key of the test vectors and the interop corpus.
func FuzzParseKey(f *testing.F) {
	for _, k := range testvec.Keys(f) {
		f.Add(k[0], k[1], k[2])
	}
	f.Fuzz(func(t *testing.T, keyType, scheme, public string) {
		k, err := ParseKey(keyType, scheme, public)
		if err != nil {
			var ke *KeyError
			if k != nil || !errors.As(err, &ke) || ke.KeyType != keyType || ke.Scheme != scheme {
				t.Fatalf("ParseKey(%q, %q, %q) = %v, %v", keyType, scheme, public, k, err)
			}
			if errors.Is(err, ErrUnsupportedKey) == errors.Is(err, ErrInvalidKey) {
				t.Fatalf("error %v wraps neither or both of ErrUnsupportedKey and ErrInvalidKey", err)
			}
			return
		}
		if k.KeyType() != keyType || k.Scheme() != scheme || !k.Equal(k) {
			t.Fatalf("key %q %q parsed as %q %q", keyType, scheme, k.KeyType(), k.Scheme())
		}
		again := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte(k.id)}))
		if k.ed != nil {
			again = hex.EncodeToString(k.ed)
		}
		k2, err := ParseKey(keyType, scheme, again)
		if err != nil || !k2.Equal(k) {
			t.Fatalf("canonical encoding %q of %q: %v, %v", again, public, k2, err)
		}
	})
}
