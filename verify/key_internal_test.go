package verify

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/hex"
	"testing"
)

// TestEd25519ID: an Ed25519 key's identity is its DER SubjectPublicKeyInfo,
// the bytes x509 encodes, as for the other key types.
func TestEd25519ID(t *testing.T) {
	for seed := range byte(8) {
		priv := ed25519.NewKeyFromSeed(append(make([]byte, ed25519.SeedSize-1), seed))
		k, err := ParseKey("ed25519", "ed25519", hex.EncodeToString(priv.Public().(ed25519.PublicKey)))
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKIXPublicKey(priv.Public())
		if err != nil {
			t.Fatal(err)
		}
		if k.id != string(der) {
			t.Fatalf("id %x, want %x", k.id, der)
		}
	}
}
