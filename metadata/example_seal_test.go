package metadata_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"slices"

	"github.com/latchsec/latch/metadata"
)

// ExampleSeal signs root metadata with an ed25519 key and an ECDSA P-256
// key (root needs both), then opens it as a client would. Key IDs are
// opaque names here; a repository usually takes the SHA-256 of the key's
// canonical JSON.
func ExampleSeal() {
	seed := sha256.Sum256([]byte("latch example seal key"))
	ed := ed25519.NewKeyFromSeed(seed[:])
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		fmt.Println(err)
		return
	}
	der, err := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	if err != nil {
		fmt.Println(err)
		return
	}

	keys := map[string]any{
		"ed": map[string]any{"keytype": "ed25519", "scheme": "ed25519",
			"keyval": map[string]any{"public": hex.EncodeToString(ed.Public().(ed25519.PublicKey))}},
		"ec": map[string]any{"keytype": "ecdsa", "scheme": "ecdsa-sha2-nistp256",
			"keyval": map[string]any{"public": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}},
	}
	one := map[string]any{"keyids": []string{"ed"}, "threshold": 1}
	signed, err := json.Marshal(map[string]any{
		"_type": "root", "spec_version": "1.0.31", "version": 1, "expires": "2030-01-01T00:00:00Z",
		"consistent_snapshot": true, "keys": keys,
		"roles": map[string]any{
			"root":      map[string]any{"keyids": []string{"ed", "ec"}, "threshold": 2},
			"timestamp": one, "snapshot": one, "targets": one,
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	doc, err := metadata.Seal(signed,
		metadata.NewSigner("ed", "ed25519", ed),
		metadata.NewSigner("ec", "ecdsa-sha2-nistp256", ec))
	if err != nil {
		fmt.Println(err)
		return
	}
	root, err := metadata.OpenRoot(doc, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	signers := root.Signers()
	slices.Sort(signers)
	fmt.Println("root version", root.Version(), "signed by", signers)
	fmt.Println("valid JSON:", json.Valid(doc)) // the PEM key's newlines are escaped
	// Output:
	// root version 1 signed by [ec ed]
	// valid JSON: true
}
