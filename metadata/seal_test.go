package metadata

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sigstore/sigstore/pkg/signature"
	tuf "github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/latchsec/latch/internal/cjson"
	"github.com/latchsec/latch/verify"
)

// rsaKey is one 2048-bit key for every RSA scheme of these tests.
var rsaKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// sealKey is a private key and its KEY object (spec §4.2) for one scheme.
type sealKey struct {
	scheme string
	priv   crypto.Signer
	key    map[string]any
}

func newSealKey(tb testing.TB, scheme string) sealKey {
	tb.Helper()
	var priv crypto.Signer
	var keyType string
	switch {
	case scheme == "ed25519":
		seed := sha256.Sum256([]byte("latch seal test"))
		priv, keyType = ed25519.NewKeyFromSeed(seed[:]), "ed25519"
	case strings.HasPrefix(scheme, "ecdsa-"):
		curve := map[string]elliptic.Curve{"256": elliptic.P256(), "384": elliptic.P384(), "521": elliptic.P521()}[scheme[len(scheme)-3:]]
		k, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			tb.Fatal(err)
		}
		priv, keyType = k, "ecdsa"
	default:
		priv, keyType = rsaKey(), "rsa"
	}
	var public string
	if pub, ok := priv.Public().(ed25519.PublicKey); ok {
		public = hex.EncodeToString(pub)
	} else {
		der, err := x509.MarshalPKIXPublicKey(priv.Public())
		if err != nil {
			tb.Fatal(err)
		}
		public = string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	}
	return sealKey{scheme, priv, map[string]any{"keytype": keyType, "scheme": scheme, "keyval": map[string]any{"public": public}}}
}

// TestSealRoundTrip: for every scheme the verify package supports, what
// Seal signs opens through metadata's own verification, compact and
// indented, and one changed byte of "signed" makes it fail.
func TestSealRoundTrip(t *testing.T) {
	for _, scheme := range []string{
		"ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
		"rsassa-pss-sha256", "rsassa-pss-sha384", "rsassa-pss-sha512",
		"rsa-pkcs1v15-sha256", "rsa-pkcs1v15-sha384", "rsa-pkcs1v15-sha512",
	} {
		t.Run(scheme, func(t *testing.T) {
			k := newSealKey(t, scheme)
			signed := testRoot(1, standardRoles())
			signed["keys"].(map[string]any)["k"] = k.key
			signed["roles"].(map[string]any)[RoleRoot] = map[string]any{"keyids": []string{"k"}, "threshold": 1}
			b, err := json.Marshal(signed)
			if err != nil {
				t.Fatal(err)
			}
			doc, err := Seal(b, NewSigner("k", scheme, k.priv))
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(doc) {
				t.Fatalf("Seal wrote invalid JSON:\n%s", doc)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, doc, "", " "); err != nil {
				t.Fatal(err)
			}
			for name, d := range map[string][]byte{"compact": doc, "indented": pretty.Bytes()} {
				r, err := OpenRoot(d, nil)
				if err != nil {
					t.Fatalf("%s: OpenRoot: %v", name, err)
				}
				if got := r.Signers(); !slices.Equal(got, []string{"k"}) {
					t.Errorf("%s: signers %v, want [k]", name, got)
				}
			}
			tampered := bytes.Replace(doc, []byte(`"version":1`), []byte(`"version":2`), 1)
			if _, err := OpenRoot(tampered, nil); !errors.Is(err, verify.ErrThreshold) {
				t.Errorf("tampered: %v, want ErrThreshold", err)
			}
		})
	}
}

// failingSigner is a Signer whose key is unavailable.
type failingSigner struct{}

var errNoKey = errors.New("key unavailable")

func (failingSigner) KeyID() string               { return "gone" }
func (failingSigner) Sign([]byte) ([]byte, error) { return nil, errNoKey }

// TestSealRefuses: what Open refuses, Seal refuses to make, with a typed
// error and no envelope.
func TestSealRefuses(t *testing.T) {
	ts := `{"_type":"timestamp","version":1}`
	ed := NewSigner("a", "ed25519", keyTimestamp.priv)
	many := make([]Signer, MaxSignatures+1)
	for i := range many {
		many[i] = NewSigner(fmt.Sprint(i), "ed25519", keyTimestamp.priv)
	}
	tests := []struct {
		name    string
		signed  string
		signers []Signer
		want    []error
	}{
		{"key ID twice", ts, []Signer{ed, NewSigner("a", "ed25519", keyRoot.priv)}, []error{ErrMalformed, ErrDuplicateSignature}},
		{"too many signers", ts, many, []error{ErrMalformed}},
		{"signed is an array", `[1]`, []Signer{ed}, []error{ErrMalformed}},
		{"not JSON", `{"a":`, []Signer{ed}, []error{ErrMalformed, cjson.ErrSyntax}},
		{"a float", `{"a":1.5}`, []Signer{ed}, []error{ErrMalformed, cjson.ErrNotCanonicalizable}},
		{"duplicate member", `{"a":1,"a":2}`, []Signer{ed}, []error{ErrMalformed}},
		{"key ID not UTF-8", ts, []Signer{NewSigner("\xff", "ed25519", keyRoot.priv)}, []error{ErrMalformed}},
		{"key that does not fit the scheme", ts, []Signer{NewSigner("a", "ecdsa-sha2-nistp256", keyRoot.priv)}, []error{verify.ErrInvalidKey}},
		{"unknown scheme", ts, []Signer{NewSigner("a", "ed448", keyRoot.priv)}, []error{verify.ErrUnsupportedKey}},
		{"signer fails", ts, []Signer{ed, failingSigner{}}, []error{errNoKey}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := Seal([]byte(tt.signed), tt.signers...)
			if doc != nil {
				t.Errorf("Seal returned an envelope with error %v", err)
			}
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("Seal error %v, want %v", err, w)
				}
			}
			var me *Error
			if !errors.As(err, &me) {
				t.Errorf("Seal error %v is not a *Error", err)
			}
		})
	}
}

// TestSealGolden: Seal's bytes for a fixed input and key are those of
// testdata/seal.golden, which the copies of envelope signing that Seal
// replaced (simulator, bench, testdata generator, metadata tests) produced
// too; the input has a control character, a big integer, and characters
// encoding/json escapes as HTML. go-tuf's Sign (what the demo and publish
// used) signs the same bytes and makes the same signature.
func TestSealGolden(t *testing.T) {
	const input = `{"_type":"targets","spec_version":"1.0.31","version":3,"expires":"2031-01-01T00:00:00Z",
 "targets":{"a/<b>&c.txt":{"length":12,"hashes":{"sha256":"00ff"},"custom":{"note":"line1\nline2\ttab \u00e9 \"q\" \\ \u0001","n":12345678901234}}}}`
	seed := sha256.Sum256([]byte("seal golden"))
	priv := ed25519.NewKeyFromSeed(seed[:])
	pub, err := tuf.KeyFromPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	id, err := pub.ID()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := Seal([]byte(input), NewSigner(id, "ed25519", priv))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/seal.golden")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(doc, bytes.TrimSuffix(want, []byte("\n"))) {
		t.Errorf("Seal =\n%s\nwant (testdata/seal.golden)\n%s", doc, want)
	}

	m, err := tuf.Targets().FromBytes([]byte(`{"signatures":[],"signed":` + input + `}`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := signature.LoadED25519Signer(priv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Sign(s); err != nil {
		t.Fatal(err)
	}
	theirs, err := m.ToBytes(false)
	if err != nil {
		t.Fatal(err)
	}
	a, errA := cjson.Canonicalize(theirs)
	b, errB := cjson.Canonicalize(doc)
	if err := errors.Join(errA, errB); err != nil || !bytes.Equal(a, b) {
		t.Errorf("go-tuf signs\n%s\nSeal\n%s (%v)", a, b, err)
	}
}
