package verify_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/latchsec/latch/verify"
)

// A role with two keys and threshold 2: one signature is not enough, and a
// key listed under a second key ID does not make it two.
func ExampleThreshold() {
	// Keys as a root lists them (fixed seeds stand in for the signers' keys).
	alice := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{'a'}, ed25519.SeedSize))
	bob := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{'b'}, ed25519.SeedSize))
	keys := map[string]*verify.PublicKey{}
	for id, priv := range map[string]ed25519.PrivateKey{"alice-1": alice, "alice-2": alice, "bob": bob} {
		k, err := verify.ParseKey("ed25519", "ed25519", hex.EncodeToString(priv.Public().(ed25519.PublicKey)))
		if err != nil {
			panic(err)
		}
		keys[id] = k
	}
	authorised := []string{"alice-1", "alice-2", "bob"}

	// The canonical bytes of a timestamp's "signed" object and its signatures.
	signed := []byte(`{"_type":"timestamp","version":7}`)
	sigs := []verify.Signature{
		{KeyID: "alice-1", Sig: ed25519.Sign(alice, signed)},
		{KeyID: "alice-2", Sig: ed25519.Sign(alice, signed)},
	}

	_, err := verify.Threshold("timestamp", 2, authorised, keys, signed, sigs)
	fmt.Println(err)
	fmt.Println(errors.Is(err, verify.ErrThreshold))

	sigs = append(sigs, verify.Signature{KeyID: "bob", Sig: ed25519.Sign(bob, signed)})
	signers, err := verify.Threshold("timestamp", 2, authorised, keys, signed, sigs)
	fmt.Println(signers, err)
	// Output:
	// role "timestamp": 1 of 2 required signatures valid (signed by [alice-1])
	// true
	// [alice-1 bob] <nil>
}
