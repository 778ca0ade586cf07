package metadata

// TEMPORARY: the old envelope-signing copies, verbatim in substance, to show
// Seal produces the same bytes before they are deleted.

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	latchcjson "github.com/latchsec/latch/internal/cjson"
	"github.com/secure-systems-lab/go-securesystemslib/cjson"
	"github.com/sigstore/sigstore/pkg/signature"
	tuf "github.com/theupdateframework/go-tuf/v2/metadata"
)

const oldInput = `{"_type":"targets","spec_version":"1.0.31","version":3,"expires":"2031-01-01T00:00:00Z",
 "targets":{"a/<b>&c.txt":{"length":12,"hashes":{"sha256":"00ff"},"custom":{"note":"line1\nline2\ttab \u00e9 \"q\" \\ \u0001","n":12345678901234}}}}`

func oldKey() ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("seal golden"))
	return ed25519.NewKeyFromSeed(seed[:])
}

func goTUFID(t *testing.T, k ed25519.PrivateKey) string {
	key, err := tuf.KeyFromPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	id, err := key.ID()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// simulator/encode.go seal (compact).
func oldSimulator(t *testing.T, m *tuf.Metadata[tuf.TargetsType], k ed25519.PrivateKey) []byte {
	signed, err := cjson.EncodeCanonical(m.Signed)
	if err != nil {
		t.Fatal(err)
	}
	m.Signatures = []tuf.Signature{{KeyID: goTUFID(t, k), Signature: ed25519.Sign(k, signed)}}
	must := func(v any) []byte {
		b, err := cjson.EncodeCanonical(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	members := map[string][]byte{"signatures": must(m.Signatures), "signed": signed}
	names := []string{}
	for k := range members {
		names = append(names, k)
	}
	sort.Strings(names)
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(must(k))
		b.WriteByte(':')
		b.Write(members[k])
	}
	b.WriteByte('}')
	return b.Bytes()
}

// internal/bench/gen.go seal.
func oldBench(signed map[string]any, priv ed25519.PrivateKey, id string) ([]byte, error) {
	c, err := cjson.EncodeCanonical(signed)
	if err != nil {
		return nil, err
	}
	sig := ed25519.Sign(priv, c)
	env := fmt.Appendf(make([]byte, 0, len(c)+256), `{"signatures":[{"keyid":"%s","sig":"%x"}],"signed":`, id, sig)
	env = append(append(env, c...), '}')
	return env, nil
}

// metadata/helpers_test.go sign.
func oldMetadataSign(tb testing.TB, signed any, id string, priv ed25519.PrivateKey) []byte {
	canonical, err := cjson.EncodeCanonical(signed)
	if err != nil {
		tb.Fatal(err)
	}
	sigs := []map[string]string{{"keyid": id, "sig": hex.EncodeToString(ed25519.Sign(priv, canonical))}}
	doc, err := json.Marshal(map[string]any{"signed": json.RawMessage(canonical), "signatures": sigs})
	if err != nil {
		tb.Fatal(err)
	}
	return doc
}

func oldMetadataSignOrNil(tb testing.TB, signed any, id string, priv ed25519.PrivateKey) []byte {
	if strings.ContainsAny(fmt.Sprint(signed), "\n\t\x01") {
		return nil
	}
	return oldMetadataSign(tb, signed, id, priv)
}

// testdata/gen/main.go seal.
func oldGen(t *testing.T, signed any, id string, priv ed25519.PrivateKey) []byte {
	type sig struct {
		KeyID string `json:"keyid"`
		Sig   string `json:"sig"`
	}
	c, err := cjson.EncodeCanonical(signed)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := json.Marshal([]sig{{id, hex.EncodeToString(ed25519.Sign(priv, c))}})
	b, _ := json.Marshal(signed)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	dec.Decode(&m)
	var w bytes.Buffer
	enc := json.NewEncoder(&w)
	enc.SetEscapeHTML(false)
	enc.Encode(m)
	wire := bytes.TrimSuffix(w.Bytes(), []byte("\n"))
	return []byte(`{"signatures":` + string(s) + `,"signed":` + string(wire) + `}`)
}

// examples/demo and examples/publish sign (go-tuf's Sign and ToBytes).
func oldGoTUF(t *testing.T, m *tuf.Metadata[tuf.TargetsType], k ed25519.PrivateKey) []byte {
	m.ClearSignatures()
	s, err := signature.LoadED25519Signer(k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Sign(s); err != nil {
		t.Fatal(err)
	}
	b, err := m.ToBytes(false)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSealSameAsOldCopies(t *testing.T) {
	for _, in := range []string{oldInput, strings.NewReplacer(`\n`, " ", `\t`, " ", `\u0001`, "", "<", "", ">", "", "&", "").Replace(oldInput)} {
		sealSameAsOld(t, in)
	}
}

func sealSameAsOld(t *testing.T, oldInput string) {
	k := oldKey()
	id := goTUFID(t, k)
	env, err := Seal([]byte(oldInput), NewSigner(id, "ed25519", k))
	if err != nil {
		t.Fatal(err)
	}
	var generic map[string]any
	d := json.NewDecoder(bytes.NewReader([]byte(oldInput)))
	d.UseNumber()
	if err := d.Decode(&generic); err != nil {
		t.Fatal(err)
	}
	goTUF := func() *tuf.Metadata[tuf.TargetsType] {
		m, err := tuf.Targets().FromBytes([]byte(`{"signatures":[],"signed":` + oldInput + `}`))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	canon := func(b []byte) []byte {
		c, err := latchcjson.Canonicalize(b)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	bench, err := oldBench(generic, k, id)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("seal: %s", env)
	for _, c := range []struct {
		name  string
		old   []byte
		exact bool
	}{
		{"simulator", oldSimulator(t, goTUF(), k), false},
		{"bench", bench, false},
		{"metadata sign", oldMetadataSignOrNil(t, generic, id, k), false},
		{"generator", oldGen(t, generic, id, k), true},
		{"go-tuf (demo, publish)", oldGoTUF(t, goTUF(), k), false},
	} {
		if c.old == nil {
			t.Logf("%s: cannot sign this input", c.name)
			continue
		}
		if bytes.Equal(c.old, env) {
			t.Logf("%s: byte-identical", c.name)
			continue
		}
		if c.exact {
			t.Errorf("%s differs:\n%s\n%s", c.name, c.old, env)
		}
		if !bytes.Equal(canon(c.old), canon(env)) {
			t.Errorf("%s differs in canonical form:\n%s\n%s", c.name, canon(c.old), canon(env))
		} else {
			t.Logf("%s: same canonical form (wire bytes differ: %s)", c.name, c.old)
		}
	}
}
