package metadata_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/latchsec/latch/metadata"
	"github.com/latchsec/latch/verify"
)

// ExampleOpenRoot verifies a root document signed by a fixed ed25519 key,
// then shows that one changed byte of "signed" makes it worthless.
func ExampleOpenRoot() {
	seed := sha256.Sum256([]byte("latch example root key"))
	priv := ed25519.NewKeyFromSeed(seed[:])
	pub := hex.EncodeToString(priv.Public().(ed25519.PublicKey))

	// The "signed" part in canonical JSON (sorted keys, no white space);
	// one key, "k1", for every top-level role. Key IDs are opaque names.
	key := `{"keytype":"ed25519","keyval":{"public":"` + pub + `"},"scheme":"ed25519"}`
	role := `{"keyids":["k1"],"threshold":1}`
	signed := `{"_type":"root","consistent_snapshot":true,"expires":"2030-01-01T00:00:00Z",` +
		`"keys":{"k1":` + key + `},` +
		`"roles":{"root":` + role + `,"snapshot":` + role + `,"targets":` + role + `,"timestamp":` + role + `},` +
		`"spec_version":"1.0.31","version":1}`
	sig := hex.EncodeToString(ed25519.Sign(priv, []byte(signed)))
	doc := []byte(`{"signatures":[{"keyid":"k1","sig":"` + sig + `"}],"signed":` + signed + `}`)

	// The embedded root is trusted by fiat, but must still be signed by a
	// threshold of its own root keys.
	root, err := metadata.OpenRoot(doc, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	keys, _ := root.RoleKeys(metadata.RoleTimestamp)
	fmt.Println("root version", root.Version(), "expires", root.Expires().Format(time.DateOnly))
	fmt.Println("timestamp keys", keys.KeyIDs, "threshold", keys.Threshold)
	fmt.Println("expired on 2029-06-01:", root.Expired(time.Date(2029, 6, 1, 0, 0, 0, 0, time.UTC)))

	tampered := bytes.Replace(doc, []byte(`"version":1`), []byte(`"version":2`), 1)
	_, err = metadata.OpenRoot(tampered, nil)
	fmt.Println(err)
	fmt.Println("threshold not met:", errors.Is(err, verify.ErrThreshold))
	// Output:
	// root version 1 expires 2030-01-01
	// timestamp keys [k1] threshold 1
	// expired on 2029-06-01: false
	// root metadata v2: role "root": 0 of 1 required signatures valid (signed by []; rejected [k1])
	// threshold not met: true
}

// ExampleLocalPath maps target paths to local file names; paths that could
// escape the directory or mean something else to some OS are refused.
func ExampleLocalPath() {
	for _, target := range []string{"app/1.4.2/linux-amd64", "../../etc/passwd", "docs/CON.txt"} {
		p, err := metadata.LocalPath("/var/lib/app/targets", target)
		if err != nil {
			fmt.Println("refused", target, errors.Is(err, metadata.ErrUnsafePath))
			continue
		}
		fmt.Println(filepath.ToSlash(p))
	}
	// Output:
	// /var/lib/app/targets/app/1.4.2/linux-amd64
	// refused ../../etc/passwd true
	// refused docs/CON.txt true
}
