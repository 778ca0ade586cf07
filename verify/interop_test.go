package verify_test

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/cjson"

	"github.com/latchsec/latch/verify"
)

// Real third-party metadata lives in the shared interop corpus beside the
// clone (see its README); it is read in place, never copied into the repo.

func interopDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "shared", "interop"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("interop corpus not found at %s (CI places the clone and shared/ side by side): %v", dir, err)
	}
	return dir
}

type tufKey struct {
	KeyType string `json:"keytype"`
	Scheme  string `json:"scheme"`
	KeyVal  struct {
		Public string `json:"public"`
	} `json:"keyval"`
}

type tufRole struct {
	Name      string   `json:"name"`
	KeyIDs    []string `json:"keyids"`
	Threshold int      `json:"threshold"`
}

type envelope struct {
	Signed     json.RawMessage `json:"signed"`
	Signatures []struct {
		KeyID string `json:"keyid"`
		Sig   string `json:"sig"`
	} `json:"signatures"`
}

// signedPart holds the fields of root and targets metadata that name keys.
type signedPart struct {
	Keys        map[string]tufKey  `json:"keys"`
	Roles       map[string]tufRole `json:"roles"`
	Delegations *struct {
		Keys  map[string]tufKey `json:"keys"`
		Roles []tufRole         `json:"roles"`
	} `json:"delegations"`
}

// metadataFile is one parsed metadata file: its keys parsed with ParseKey,
// the canonical form of its signed part (go-securesystemslib's cjson is the
// oracle here) and its signatures.
type metadataFile struct {
	signedPart
	keys, delegatedKeys map[string]*verify.PublicKey
	canonical           []byte
	sigs                []verify.Signature
}

func loadMetadata(t *testing.T, path string) *metadataFile {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	m := &metadataFile{}
	if err := json.Unmarshal(env.Signed, &m.signedPart); err != nil {
		t.Fatalf("%s: signed: %v", path, err)
	}
	if m.canonical, err = cjson.EncodeCanonical(env.Signed); err != nil {
		t.Fatalf("%s: canonical form: %v", path, err)
	}
	for _, s := range env.Signatures {
		sig, err := hex.DecodeString(s.Sig)
		if err != nil {
			t.Fatalf("%s: signature by %s: %v", path, s.KeyID, err)
		}
		m.sigs = append(m.sigs, verify.Signature{KeyID: s.KeyID, Sig: sig})
	}
	m.keys = parseKeys(t, path, m.Keys)
	if m.Delegations != nil {
		m.delegatedKeys = parseKeys(t, path, m.Delegations.Keys)
	}
	return m
}

func parseKeys(t *testing.T, path string, in map[string]tufKey) map[string]*verify.PublicKey {
	t.Helper()
	out := make(map[string]*verify.PublicKey, len(in))
	for id, k := range in {
		pk, err := verify.ParseKey(k.KeyType, k.Scheme, k.KeyVal.Public)
		if err != nil {
			t.Errorf("%s: key %s: %v", path, id, err)
		}
		out[id] = pk
	}
	return out
}

// verifiedBy checks m's signatures against role in the delegator's keys.
func (m *metadataFile) verifiedBy(keys map[string]*verify.PublicKey, role tufRole, name string) ([]string, error) {
	return verify.Threshold(name, role.Threshold, role.KeyIDs, keys, m.canonical, m.sigs)
}

// Every key in every metadata file of the corpus parses: ed25519, ECDSA P-256
// as hex and PEM under both keytypes, and RSA-PSS.
func TestInteropKeysParse(t *testing.T) {
	dir := interopDir(t)
	seen := map[string]int{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var env envelope
		if json.Unmarshal(raw, &env) != nil || env.Signed == nil {
			return nil // a target file, not metadata
		}
		var sp signedPart
		if err := json.Unmarshal(env.Signed, &sp); err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		all := sp.Keys
		if sp.Delegations != nil {
			all = sp.Delegations.Keys
		}
		for id, k := range all {
			if _, err := verify.ParseKey(k.KeyType, k.Scheme, k.KeyVal.Public); err != nil {
				t.Errorf("%s: key %s: %v", path, id, err)
			}
			form := "hex"
			if strings.HasPrefix(k.KeyVal.Public, "-----BEGIN") {
				form = "pem"
			}
			seen[k.KeyType+"/"+k.Scheme+"/"+form]++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("keys parsed: %v", seen)
	for _, want := range []string{
		"ed25519/ed25519/hex",
		"ecdsa/ecdsa-sha2-nistp256/pem",
		"ecdsa-sha2-nistp256/ecdsa-sha2-nistp256/pem",
		"ecdsa-sha2-nistp256/ecdsa-sha2-nistp256/hex",
		"rsa/rsassa-pss-sha256/pem",
	} {
		if seen[want] == 0 {
			t.Errorf("no %s key found in the corpus", want)
		}
	}
}

// Sigstore root v1 lists a key as a hex point under key ID eaf22372…; root v5
// lists the same key as PEM under key ID 25a0eb45…. Key IDs are opaque: the
// keys are equal and the IDs are not recomputed.
func TestInteropSigstoreHexEqualsPEM(t *testing.T) {
	dir := filepath.Join(interopDir(t), "sigstore-root-signing")
	v1 := loadMetadata(t, filepath.Join(dir, "1.root.json"))
	v5 := loadMetadata(t, filepath.Join(dir, "5.root.json"))
	hexKey := v1.keys["eaf22372f417dd618a46f6c627dbc276e9fd30a004fc94f9be946e73f8bd090b"]
	pemKey := v5.keys["25a0eb450fd3ee2bd79218c963dce3f1cc6118badf251bf149f0bd07d5cabe99"]
	if !hexKey.Equal(pemKey) {
		t.Fatal("the v1 hex key and the v5 PEM key are not Equal")
	}
	if v5.keys["2e61cd0cbf4a8f45809bda9f7f78c0d33ad11842ff94ae340873e2664dc843de"].Equal(hexKey) {
		t.Fatal("distinct keys are Equal")
	}
}

// Each root verifies itself and its successor verifies with its keys, over
// whole rotation chains: Sigstore v1 to v15 (including the hex-to-PEM step
// 4 to 5 that go-tuf v2 cannot check, and the empty placeholder signatures of
// v12 to v14) and foundries.io v1 to v5.
func TestInteropRootChains(t *testing.T) {
	dir := interopDir(t)
	for _, chain := range []struct {
		name, dir string
		versions  int
	}{
		{"sigstore", "sigstore-root-signing", 15},
		{"fioctl", "foundriesio-fioctl", 5},
	} {
		t.Run(chain.name, func(t *testing.T) {
			var prev *metadataFile
			for v := 1; v <= chain.versions; v++ {
				root := loadMetadata(t, filepath.Join(dir, chain.dir, fmt.Sprintf("%d.root.json", v)))
				if _, err := root.verifiedBy(root.keys, root.Roles["root"], "root"); err != nil {
					t.Errorf("v%d by itself: %v", v, err)
				}
				if prev != nil {
					if _, err := root.verifiedBy(prev.keys, prev.Roles["root"], "root"); err != nil {
						t.Errorf("v%d by v%d: %v", v, v-1, err)
					}
				}
				prev = root
			}
		})
	}
}

func TestInteropSingleRoots(t *testing.T) {
	dir := interopDir(t)
	for _, path := range []string{
		"python-tuf/repository_data/repository/metadata/1.root.json", // RSA-3072 PSS
		"python-tuf/generated_data/ed25519_metadata/root_with_ed25519.json",
		"go-tuf/served-internal-repository_data/1.root.json", // RSA-2048 PSS
		"go-tuf/examples/multirepo/repository/metadata/1.root.json",
	} {
		root := loadMetadata(t, filepath.Join(dir, path))
		signers, err := root.verifiedBy(root.keys, root.Roles["root"], "root")
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		root.canonical[len(root.canonical)/2] ^= 1
		if _, err := root.verifiedBy(root.keys, root.Roles["root"], "root"); !errors.Is(err, verify.ErrThreshold) {
			t.Errorf("%s with one bit flipped: %v, want ErrThreshold", path, err)
		}
		t.Logf("%s: signed by %v", path, signers)
	}

	// go-tuf's deliberately unverifiable fixture: a 32-byte placeholder signature.
	bad := loadMetadata(t, filepath.Join(dir, "go-tuf/internal/testutils/repository_data/repository/metadata/1.root.json"))
	_, err := bad.verifiedBy(bad.keys, bad.Roles["root"], "root")
	var te *verify.ThresholdError
	if !errors.As(err, &te) || !errors.Is(err, verify.ErrThreshold) || te.Valid != 0 || len(te.Rejected) != 1 {
		t.Errorf("go-tuf invalid root = %v, want ErrThreshold with one rejected key ID", err)
	}
}

// Sigstore's current top-level roles and its npm delegation verify against
// the keys their delegators list.
func TestInteropSigstoreRoles(t *testing.T) {
	dir := filepath.Join(interopDir(t), "sigstore-root-signing")
	root := loadMetadata(t, filepath.Join(dir, "15.root.json"))
	for file, role := range map[string]string{
		"timestamp.json":    "timestamp",
		"165.snapshot.json": "snapshot",
		"14.targets.json":   "targets",
	} {
		m := loadMetadata(t, filepath.Join(dir, file))
		if _, err := m.verifiedBy(root.keys, root.Roles[role], role); err != nil {
			t.Errorf("%s: %v", file, err)
		}
	}

	targets := loadMetadata(t, filepath.Join(dir, "14.targets.json"))
	npm := loadMetadata(t, filepath.Join(dir, "8.registry.npmjs.org.json"))
	if targets.Delegations == nil || len(targets.Delegations.Roles) == 0 {
		t.Fatal("targets has no delegations")
	}
	for _, r := range targets.Delegations.Roles {
		if r.Name != "registry.npmjs.org" {
			continue
		}
		if _, err := npm.verifiedBy(targets.delegatedKeys, r, r.Name); err != nil {
			t.Errorf("registry.npmjs.org: %v", err)
		}
		return
	}
	t.Error("targets does not delegate to registry.npmjs.org")
}
