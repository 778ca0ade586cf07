//go:build ignore

// Command gen writes the test vectors under testdata/metadata: TUF metadata
// documents built with go-tuf/v2's metadata API and signed with latch's
// metadata.Seal over the canonical JSON that go-securesystemslib computes
// too (seal checks that), from fixed keys and a fixed clock.
// Each vector is headed by what a correct client must conclude; the format is
// described in testdata/README.md.
//
// Run it from the repository root:
//
//	go run ./testdata/gen/main.go
//
// The output is deterministic: ed25519 keys come from fixed seeds, the RSA
// and ECDSA keys are the PEM constants below, RSA-PSS uses a fixed salt and
// ECDSA signs deterministically (RFC 6979). Running it twice gives the same
// files.
package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/cjson"
	tuf "github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/latchsec/latch/metadata"
)

// now is the generator's clock: every expiry is relative to it.
var now = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

const outDir = "testdata/metadata"

// Fixed keys that Go cannot derive from a seed. Test keys only: they sign
// nothing but these vectors.
const (
	rsaPEM = `-----BEGIN PRIVATE KEY-----
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQC1GrgEQ4/u+jsn
1g+vH6SmhRHg9+PILzV96O+ci4pkaEiMczSujyACA/dQXfzbGKeDNId1xZi/BIlP
u0CdtXtL88M5pFr9APdug0242n6LSuKS5wym+96AC8Pqp6bevgx5ZPTtQaJE9b4n
Qi++AhhqBOcoWHWuuIwdM9Abs6C8Qa9zN4R0amidQqUNm/IBXkuTTDxSUXtOoznI
BAxCGTPSIYvlh+QSB+F6cZZgnozcbMPuw2ahe5cd6oHQbW9aFISrhP22YrBZrktX
hmWrL1Nlz8YQ5KdE1Je7jnNGjS6MnDv8QOWviFQWkFsDg5MV6esN36RBSgZpBlPp
ILtqGowzAgMBAAECggEAB3nUNs4t1t5FgDN575oNdezwUVUU9g0yLBcS17zQOFeF
sdE0+i+2UTRQtTnsAi9WWuLZj1GvfdMgx/B247ZmIeXXcpMHnoINChF+19lNIqWI
t3+01Kp5A4LOJ5WcHH3D42ROKAJu7GHTOP5RHOAr7ynHUQcLH0Hxpr2eIvFF+qoP
AECr5KGS8Y55T+UXEchABjolesBMBsaNofZ2DRQR5mv0aGvlUaDlAp4ZRK2e57qo
xHKP6DPLzQAKGKbqJm6xUJ9kF+1yD0j7lZ9mkH0OlQWNEB01w9ayW5T4mk6XLEqC
tcfCbIxdppPDqEYxXxltvUeK5EzYvor4xNVRd11XAQKBgQDKQeym5ogLGdBrTTjs
hHVVuJCdzF6WketR90/3if96zh2q/w2aLeH4+PPS+pg8VDZD74QE5eTFCQoLi4Sm
mexrD4i6U+YWi6wR+ou8PHCS9hqF0srb1OUutD6FsQaSTXmGcQ3YaQrU2Sy2n8SR
d75nvvtaetuBDfQsdCjTJ6hr0wKBgQDlOectTAK0hviT/dtcJcph39OekIFUXBR5
3zRE1Wx2CSOIKrULq8rxIa+chw9wMwaiZmRxPhPa9t0DxF8+2E031DDO/mn96jw+
SiZMlOJrc/w2v5bHLKSCbPFoqy1k1mGCq2Q9MOdFrg1BmC8kcd8ZsxN1soWC493b
xeYGmh8CIQKBgGPu0LviOaOqfIUX4aFTDRpul92vxaiFroyQMo2vPHDz+EqtvI3K
T9WRQ/+hW6irPyiv5j35TOBhx/nOVJtwgBSh1z+hBpVrK3iyn2pBPqoOOSqX7S1S
8m3yFtY9km6lIv9fSqT7uaNTLrmJFTl+vbBK96xL+bq5J0Tzm9xAwwGLAoGAHvt2
jZ7KdtAPZSFYttm8wwHXvoTVlitj8R0EGZGnOUT+8najRdKQeYsOC2AN7CJZcTXZ
uZykXmIjeVDfdsURmswpVLD6boFsZxbqmks9Vzy0CEpY/M7B5YcIEheg6RI418qG
n+auO7LMw+Ln7Esf1n9nz+6zMP/Pitbywk2uh0ECgYAaaBBrraXkhILG4GXflUvk
V5bWskRP+eh1iom7Mr9+gNuhVQYZ8RVhuRNbbXxJpgiWcNmwbJgRlkbYcKxaXKZ2
G09xjDcjJTkFWGeicJzAjR098b3df2RbLZL+/9VFacXpxYK756V5enYkwptiEdiL
aTEaHUsHjcUJaUKiMIYAIw==
-----END PRIVATE KEY-----
`
	p256PEM = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgOrMHaKOlBYXg4Euj
xKpU6CVLeDjEjawnBEMYdYkr4lqhRANCAAQCt+bt6iHaCJHfcIdNNM7NmrRYHRhW
KWOQ0U0TxYRLBw9UZpLEEhDNyCfToJ1F5PqUfRCRXJyb3Mj6panyODVZ
-----END PRIVATE KEY-----
`
	p384PEM = `-----BEGIN PRIVATE KEY-----
MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDBReIZ7efsj69jRnszK
CbF/klbS6j3V04cToxG8HEc4ZNP6qKIHMxy+iyhx16kYUOqhZANiAAQ1587KXS86
ZcH4RZ0UHAPfL2BlProgZc2V8JweilQNbPw3OLuWZiLG/BlX5Vr5WfXUk6roAO0u
ZApI3+bx2LL8VChFFz8cpMRd0PUdLwwe811m6TCrutVuo0WemS+mC4E=
-----END PRIVATE KEY-----
`
)

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

// A signer is a fixed key: its go-tuf Key (and key ID, go-tuf's SHA-256 of
// the canonical key), and a deterministic signing function over a message.
type signer struct {
	id   string
	key  *tuf.Key
	sign func(msg []byte) []byte
}

func newSigner(pub crypto.PublicKey, sign func([]byte) []byte) *signer {
	key, err := tuf.KeyFromPublicKey(pub)
	check(err)
	id, err := key.ID()
	check(err)
	return &signer{id: id, key: key, sign: sign}
}

func ed25519Signer(name string) *signer {
	seed := sha256.Sum256([]byte("latch testdata key " + name))
	priv := ed25519.NewKeyFromSeed(seed[:])
	return newSigner(priv.Public(), func(m []byte) []byte { return ed25519.Sign(priv, m) })
}

func parsePEM(s string) crypto.Signer {
	b, _ := pem.Decode([]byte(s))
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	check(err)
	return k.(crypto.Signer)
}

// zeroReader supplies the RSA-PSS salt: fixed, so signatures are reproducible.
type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func rsaSigner() *signer {
	priv := parsePEM(rsaPEM).(*rsa.PrivateKey)
	return newSigner(priv.Public(), func(m []byte) []byte {
		d := sha256.Sum256(m)
		s, err := rsa.SignPSS(zeroReader{}, priv, crypto.SHA256, d[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		check(err)
		return s
	})
}

// ecdsaSigner signs SHA-256 digests whatever the curve: for the P-384 key
// that is what go-tuf's "ecdsa-sha2-nistp256" scheme does, and what a client
// binding the curve to the scheme must refuse.
func ecdsaSigner(pemKey string) *signer {
	priv := parsePEM(pemKey).(*ecdsa.PrivateKey)
	return newSigner(priv.Public(), func(m []byte) []byte {
		d := sha256.Sum256(m)
		s, err := priv.Sign(nil, d[:], crypto.SHA256) // nil: RFC 6979
		check(err)
		return s
	})
}

var (
	root1, root2, root3 = ed25519Signer("root1"), ed25519Signer("root2"), ed25519Signer("root3")
	root4, root5, root6 = ed25519Signer("root4"), ed25519Signer("root5"), ed25519Signer("root6")
	timestamp1          = ed25519Signer("timestamp1")
	timestamp2          = ed25519Signer("timestamp2")
	snapshot1           = ed25519Signer("snapshot1")
	targets1            = ed25519Signer("targets1")
	deleg1, deleg2      = ed25519Signer("delegation1"), ed25519Signer("delegation2")
	rsaKey              = rsaSigner()
	p256Key             = ecdsaSigner(p256PEM)
	p384Key             = ecdsaSigner(p384PEM)
)

// toMap turns a go-tuf "signed" value into generic JSON (numbers kept as
// json.Number) so that vectors can change what go-tuf's types cannot express.
func toMap(v any) map[string]any {
	b, err := json.Marshal(v)
	check(err)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	check(dec.Decode(&m))
	return m
}

// get walks nested objects of m.
func get(m map[string]any, path ...string) map[string]any {
	for _, p := range path {
		m = m[p].(map[string]any)
	}
	return m
}

func canonical(v any) []byte {
	b, err := cjson.EncodeCanonical(v)
	check(err)
	return b
}

type sig struct {
	KeyID string `json:"keyid"`
	Sig   string `json:"sig"`
}

func signAll(msg []byte, signers ...*signer) []sig {
	sigs := []sig{}
	for _, s := range signers {
		sigs = append(sigs, sig{s.id, hex.EncodeToString(s.sign(msg))})
	}
	return sigs
}

// envelope writes a compact envelope; with canonical signed bytes it is the
// canonical form of the whole document.
func envelope(signed []byte, sigs []sig) []byte {
	s, err := json.Marshal(sigs)
	check(err)
	return []byte(`{"signatures":` + string(s) + `,"signed":` + string(signed) + `}`)
}

// seal signs signed (a value encoding/json encodes, or canonical bytes
// from canonical) with signers through latch's metadata.Seal: the envelope
// of every vector that is not about a malformed envelope. It stops if Seal
// signs anything but go-securesystemslib's canonical form of signed, so the
// vectors keep testing that the two agree.
func seal(signed any, signers ...*signer) []byte {
	want, ok := signed.([]byte)
	if !ok {
		want = canonical(signed)
	}
	b, err := json.Marshal(signed)
	if ok {
		b, err = want, nil
	}
	check(err)
	ms := make([]metadata.Signer, len(signers))
	for i, s := range signers {
		ms[i] = sealSigner{s, want}
	}
	env, err := metadata.Seal(b, ms...)
	check(err)
	return env
}

// sealSigner is a signer as a metadata.Signer that checks what it is given
// to sign. The generator signs with its own functions, not
// metadata.NewSigner's, for fixed RSA-PSS salts and for the P-384 key that
// signs under a P-256 scheme on purpose.
type sealSigner struct {
	*signer
	want []byte
}

func (s sealSigner) KeyID() string { return s.id }

func (s sealSigner) Sign(msg []byte) ([]byte, error) {
	if !bytes.Equal(msg, s.want) {
		log.Fatalf("metadata.Seal signs\n%s\ngo-securesystemslib's canonical form is\n%s", msg, s.want)
	}
	return s.sign(msg), nil
}

// pretty indents with one space, as python-tuf and tuf-on-ci write metadata.
func pretty(b []byte) []byte {
	var out bytes.Buffer
	check(json.Indent(&out, b, "", " "))
	return out.Bytes()
}

// A vector is one file: the expectation header and the document.
type vector struct {
	file        string
	expect      string // "ok" or sentinel names, all of which the error must match
	role        string // what the document is opened as
	version     int64  // the document's version; with an error, metadata.Error.Version
	trustedRoot string // vector giving the trusted root
	delegator   string // delegated roles: vector of the delegating targets metadata
	target      string // delegated roles: a path the delegator delegates to role
	expires     string // for "ok": the expiry in UTC, when the vector is about it
	note        string
	// gotufRejects explains why go-tuf's metadata API rejects a vector that
	// a correct client accepts (the generator checks that it does).
	gotufRejects string
	body         []byte
}

var vectors []*vector

func add(v *vector) *vector {
	vectors = append(vectors, v)
	return v
}

func byFile(name string) *vector {
	for _, v := range vectors {
		if v.file == name {
			return v
		}
	}
	log.Fatalf("no vector %s", name)
	return nil
}

// ---- documents ----

func rootV1() *tuf.Metadata[tuf.RootType] {
	md := tuf.Root(now.AddDate(1, 0, 0))
	for _, s := range []*signer{root1, root2, root3} {
		check(md.Signed.AddKey(s.key, tuf.ROOT))
	}
	md.Signed.Roles[tuf.ROOT].Threshold = 2
	check(md.Signed.AddKey(timestamp1.key, tuf.TIMESTAMP))
	check(md.Signed.AddKey(snapshot1.key, tuf.SNAPSHOT))
	check(md.Signed.AddKey(targets1.key, tuf.TARGETS))
	return md
}

func rootV2() *tuf.Metadata[tuf.RootType] {
	md := tuf.Root(now.AddDate(1, 0, 0))
	md.Signed.Version = 2
	for _, s := range []*signer{root4, root5, root6} {
		check(md.Signed.AddKey(s.key, tuf.ROOT))
	}
	md.Signed.Roles[tuf.ROOT].Threshold = 2
	check(md.Signed.AddKey(timestamp2.key, tuf.TIMESTAMP))
	check(md.Signed.AddKey(snapshot1.key, tuf.SNAPSHOT))
	check(md.Signed.AddKey(targets1.key, tuf.TARGETS))
	return md
}

// singleKeyRoot gives every top-level role the one key s.
func singleKeyRoot(s *signer) *tuf.Metadata[tuf.RootType] {
	md := tuf.Root(now.AddDate(1, 0, 0))
	for _, role := range []string{tuf.ROOT, tuf.TIMESTAMP, tuf.SNAPSHOT, tuf.TARGETS} {
		check(md.Signed.AddKey(s.key, role))
	}
	return md
}

func targetFile(content string, custom string) *tuf.TargetFiles {
	tf, err := tuf.TargetFile().FromBytes("", []byte(content), "sha256", "sha512")
	check(err)
	if custom != "" {
		raw := json.RawMessage(custom)
		tf.Custom = &raw
	}
	return tf
}

func targetsDoc() *tuf.Metadata[tuf.TargetsType] {
	md := tuf.Targets(now.AddDate(0, 0, 7))
	md.Signed.Targets["app/1.0/linux-amd64"] = targetFile("latch test target app 1.0 linux-amd64\n", `{"version":"1.0"}`)
	md.Signed.Targets["docs/readme.txt"] = targetFile("latch test readme\n", "")
	// Names whose wire form differs from their canonical form: go-tuf
	// escapes <, > and & as \u003c..., canonical JSON writes them raw.
	md.Signed.Targets["docs/a<b>&c.txt"] = targetFile("markup\n", "")
	md.Signed.Targets["docs/schön.txt"] = targetFile("umlaut\n", "")
	md.Signed.Targets[`docs/quote"back\slash.txt`] = targetFile("escapes\n", "")
	md.Signed.Targets["empty.txt"] = targetFile("", "")
	return md
}

// prefixTarget is delegated to role-prefix through a path_hash_prefix.
const prefixTarget = "prefix/file.txt"

func delegationsDoc() *tuf.Metadata[tuf.TargetsType] {
	md := tuf.Targets(now.AddDate(0, 0, 7))
	sum := sha256.Sum256([]byte(prefixTarget))
	md.Signed.Delegations = &tuf.Delegations{
		Keys: map[string]*tuf.Key{deleg1.id: deleg1.key, deleg2.id: deleg2.key},
		Roles: []tuf.DelegatedRole{
			{Name: "role-none", KeyIDs: []string{deleg1.id}, Threshold: 1},
			{Name: "role-paths", KeyIDs: []string{deleg1.id}, Threshold: 1, Paths: []string{"targets/*.tgz", "foo-version-?.tgz"}},
			{Name: "role-prefix", KeyIDs: []string{deleg2.id}, Threshold: 1, PathHashPrefixes: []string{"00", hex.EncodeToString(sum[:])[:3]}},
			{Name: "role-terminating", KeyIDs: []string{deleg1.id, deleg2.id}, Threshold: 2, Terminating: true, Paths: []string{"*"}},
			{Name: "role-after", KeyIDs: []string{deleg2.id}, Threshold: 1, Paths: []string{"*"}},
		},
	}
	return md
}

func succinctDoc(bits int) *tuf.Metadata[tuf.TargetsType] {
	md := tuf.Targets(now.AddDate(0, 0, 7))
	md.Signed.Delegations = &tuf.Delegations{
		Keys:          map[string]*tuf.Key{deleg1.id: deleg1.key},
		SuccinctRoles: &tuf.SuccinctRoles{KeyIDs: []string{deleg1.id}, Threshold: 1, BitLength: bits, NamePrefix: "bin"},
	}
	return md
}

func snapshotDoc(targets []byte) *tuf.Metadata[tuf.SnapshotType] {
	md := tuf.Snapshot(now.AddDate(0, 0, 7))
	mf := tuf.MetaFile(1)
	mf.Length = int64(len(targets))
	s256 := sha256.Sum256(targets)
	s512 := sha512.Sum512(targets)
	mf.Hashes = tuf.Hashes{"sha256": s256[:], "sha512": s512[:]}
	md.Signed.Meta["targets.json"] = mf
	md.Signed.Meta["role-paths.json"] = tuf.MetaFile(1)
	return md
}

func timestampDoc(snapshot []byte) *tuf.Metadata[tuf.TimestampType] {
	md := tuf.Timestamp(now.AddDate(0, 0, 1))
	mf := tuf.MetaFile(1)
	mf.Length = int64(len(snapshot))
	sum := sha256.Sum256(snapshot)
	mf.Hashes = tuf.Hashes{"sha256": sum[:]}
	md.Signed.Meta["snapshot.json"] = mf
	return md
}

// goTUFPretty signs md the way go-tuf's Metadata.Sign does (over
// cjson.EncodeCanonical of Signed) and returns go-tuf's own pretty output
// (ToBytes: tab-indented, keys sorted, "signatures" first).
func goTUFPretty[T tuf.Roles](md *tuf.Metadata[T], signers ...*signer) []byte {
	c := canonical(md.Signed)
	for _, s := range signers {
		md.Signatures = append(md.Signatures, tuf.Signature{KeyID: s.id, Signature: s.sign(c)})
	}
	b, err := md.ToBytes(true)
	check(err)
	return b
}

func main() {
	buildRoots()
	buildTopLevel()
	buildDelegations()
	buildEnvelopes()
	check(os.MkdirAll(outDir, 0o755))
	old, err := filepath.Glob(filepath.Join(outDir, "*.vec"))
	check(err)
	for _, f := range old {
		check(os.Remove(f))
	}
	for _, v := range vectors {
		verdict := goTUFVerdict(v)
		if v.expect == "ok" && (verdict == "rejects") != (v.gotufRejects != "") {
			log.Fatalf("%s: go-tuf %s, gotufRejects %q", v.file, verdict, v.gotufRejects)
		}
		if v.gotufRejects != "" {
			verdict += " (" + v.gotufRejects + ")"
		}
		check(os.WriteFile(filepath.Join(outDir, v.file), v.encode(verdict), 0o644))
	}
	fmt.Printf("wrote %d vectors to %s\n", len(vectors), outDir)
}

func (v *vector) encode(verdict string) []byte {
	var b bytes.Buffer
	line := func(k, val string) {
		if val != "" {
			fmt.Fprintf(&b, "%s: %s\n", k, val)
		}
	}
	line("expect", v.expect)
	line("role", v.role)
	line("version", fmt.Sprint(v.version))
	line("trusted-root", v.trustedRoot)
	line("delegator", v.delegator)
	line("target", v.target)
	line("expires", v.expires)
	line("note", v.note)
	line("go-tuf", verdict)
	b.WriteString("\n")
	b.Write(v.body)
	return b.Bytes()
}

func buildRoots() {
	v1 := canonical(rootV1().Signed)
	add(&vector{file: "root-v1.vec", expect: "ok", role: "root", version: 1,
		expires: "2031-01-01T00:00:00Z",
		note:    "compact canonical JSON, 2-of-3 root keys, signed by all three",
		body:    seal(v1, root1, root2, root3)})
	add(&vector{file: "root-v1-pretty.vec", expect: "ok", role: "root", version: 1,
		note: "root-v1.vec indented with one space, as python-tuf writes it",
		body: pretty(seal(v1, root1, root2, root3))})
	add(&vector{file: "root-v1-gotuf.vec", expect: "ok", role: "root", version: 1,
		note: "root-v1.vec as go-tuf's ToBytes(true) writes it: tab-indented",
		body: goTUFPretty(rootV1(), root1, root2, root3)})
	add(&vector{file: "root-v1-one-sig.vec", expect: "ErrThreshold", role: "root", version: 1,
		note: "2-of-3 root keys, one signature",
		body: seal(v1, root1)})
	tampered := bytes.Replace(v1, []byte(`"expires":"2031-01-01T00:00:00Z"`), []byte(`"expires":"2039-01-01T00:00:00Z"`), 1)
	all := signAll(v1, root1, root2, root3)
	add(&vector{file: "root-v1-duplicate-keyid.vec", expect: "ErrMalformed ErrDuplicateSignature", role: "root", version: 0,
		note: "root-v1.vec with root1's signature listed twice: three valid signers, one key ID repeated",
		body: envelope(v1, append(all, all[0]))})
	add(&vector{file: "root-v1-tampered.vec", expect: "ErrThreshold", role: "root", version: 1,
		note: "signatures of root-v1.vec over a changed expiry",
		body: envelope(tampered, signAll(v1, root1, root2, root3))})

	// The same key under two key IDs counts once.
	m := toMap(rootV1().Signed)
	get(m, "keys")["alias-of-root1"] = toMap(root1.key)
	get(m, "roles", "root")["keyids"] = []any{root1.id, "alias-of-root1"}
	c := canonical(m)
	sigs := signAll(c, root1)
	sigs = append(sigs, sig{"alias-of-root1", sigs[0].Sig})
	add(&vector{file: "root-same-key-two-ids.vec", expect: "ErrThreshold", role: "root", version: 1,
		note: "threshold 2 over two key IDs of one key, both signing: one distinct key",
		body: envelope(c, sigs)})

	// Unknown key types and unparsable keys are kept but never count.
	unknown := map[string]any{"keytype": "sphincs-plus", "scheme": "sphincs-shake-256f", "keyval": map[string]any{"public": "00ff"}}
	badEd := map[string]any{"keytype": "ed25519", "scheme": "ed25519", "keyval": map[string]any{"public": "not-hex"}}
	for _, tc := range []struct {
		file, expect, note string
		threshold          int
	}{
		{"root-unknown-keytype.vec", "ok", "root keys include an unknown key type and an unparsable ed25519 key; two valid signatures meet threshold 2", 2},
		{"root-unknown-keytype-not-counted.vec", "ErrThreshold", "as root-unknown-keytype.vec with threshold 3: signatures under the unknown and unparsable keys never count", 3},
	} {
		m := toMap(rootV1().Signed)
		get(m, "keys")["unknown-key"] = unknown
		get(m, "keys")["unparsable-key"] = badEd
		get(m, "roles", "root")["keyids"] = []any{root1.id, root2.id, "unknown-key", "unparsable-key"}
		get(m, "roles", "root")["threshold"] = tc.threshold
		c := canonical(m)
		sigs := signAll(c, root1, root2)
		sigs = append(sigs, sig{"unknown-key", "00ff"}, sig{"unparsable-key", sigs[0].Sig})
		v := add(&vector{file: tc.file, expect: tc.expect, role: "root", version: 1, note: tc.note, body: envelope(c, sigs)})
		if tc.expect == "ok" {
			v.gotufRejects = "it fails on the unparsable key"
		}
	}

	// Key rotation.
	v2 := canonical(rootV2().Signed)
	add(&vector{file: "root-v2.vec", expect: "ok", role: "root", version: 2, trustedRoot: "root-v1.vec",
		note: "root keys rotated (and the timestamp key); signed by 2 of the old and 2 of the new root keys",
		body: seal(v2, root1, root2, root4, root5)})
	add(&vector{file: "root-v2-old-keys-only.vec", expect: "ErrThreshold", role: "root", version: 2, trustedRoot: "root-v1.vec",
		note: "root-v2 signed only by the old root keys: its own threshold is not met",
		body: seal(v2, root1, root2, root3)})
	add(&vector{file: "root-v2-new-keys-only.vec", expect: "ErrThreshold", role: "root", version: 0, trustedRoot: "root-v1.vec",
		note: "root-v2 signed only by the new root keys: the trusted root's threshold is not met, checked before decoding",
		body: seal(v2, root4, root5, root6)})

	m = toMap(rootV1().Signed)
	m["_type"] = "targets"
	add(&vector{file: "root-wrong-type.vec", expect: "ErrType", role: "root", version: 0,
		note: `_type "targets" opened as root`, body: seal(m, root1, root2)})
	m = toMap(rootV1().Signed)
	m["spec_version"] = "2.0"
	add(&vector{file: "root-spec-2.0.vec", expect: "ErrSpecVersion", role: "root", version: 1,
		note: "spec_version of another major version", body: seal(m, root1, root2)})
	m = toMap(rootV1().Signed)
	get(m, "roles", "targets")["keyids"] = []any{targets1.id, "missing-key"}
	add(&vector{file: "root-missing-keyid.vec", expect: "ErrInvalid", role: "root", version: 1,
		note: "the targets role lists a key ID that keys does not define", body: seal(m, root1, root2)})
	m = toMap(rootV1().Signed)
	get(m, "roles", "timestamp")["threshold"] = 0
	add(&vector{file: "root-threshold-0.vec", expect: "ErrInvalid", role: "root", version: 1,
		note: "timestamp threshold 0", body: seal(m, root1, root2)})
	m = toMap(rootV1().Signed)
	delete(get(m, "roles"), "snapshot")
	add(&vector{file: "root-missing-role.vec", expect: "ErrInvalid", role: "root", version: 1,
		note: "roles lacks snapshot", body: seal(m, root1, root2)})

	add(&vector{file: "root-rsa-pss.vec", expect: "ok", role: "root", version: 1,
		note: "one RSA-2048 rsassa-pss-sha256 key for every role",
		body: pretty(seal(singleKeyRoot(rsaKey).Signed, rsaKey))})
	add(&vector{file: "root-ecdsa-p256.vec", expect: "ok", role: "root", version: 1,
		note: "one ECDSA P-256 ecdsa-sha2-nistp256 key for every role",
		body: pretty(seal(singleKeyRoot(p256Key).Signed, p256Key))})
	add(&vector{file: "root-p384-as-p256.vec", expect: "ErrThreshold", role: "root", version: 1,
		note: "a P-384 key declared with scheme ecdsa-sha2-nistp256 (as go-tuf declares every ECDSA key): the curve does not fit the scheme, it never verifies",
		body: pretty(seal(singleKeyRoot(p384Key).Signed, p384Key))})
}

func buildTopLevel() {
	const trusted = "root-v1.vec"
	tg := canonical(targetsDoc().Signed)
	targetsBody := pretty(seal(tg, targets1))
	add(&vector{file: "targets.vec", expect: "ok", role: "targets", version: 1, trustedRoot: trusted,
		note: "six targets, sha256 and sha512, one with custom; names with <, >, &, a quote, a backslash and non-ASCII",
		body: targetsBody})
	add(&vector{file: "targets-gotuf.vec", expect: "ok", role: "targets", version: 1, trustedRoot: trusted,
		note: `targets.vec as go-tuf writes it: tab-indented, <, > and & escaped as \u003c, \u003e, \u0026`,
		body: goTUFPretty(targetsDoc(), targets1)})
	add(&vector{file: "targets-wrong-key.vec", expect: "ErrThreshold", role: "targets", version: 0, trustedRoot: trusted,
		note: "targets signed by the snapshot key", body: seal(tg, snapshot1)})

	m := toMap(targetsDoc().Signed)
	m["x-latch-extra"] = map[string]any{
		"above-2^53": json.Number("9007199254740993"),
		"max-int64":  json.Number("9223372036854775807"),
		"min-int64":  json.Number("-9223372036854775808"),
		"list":       []any{json.Number("1"), "two", true, nil, map[string]any{}},
	}
	entry := get(m, "targets", "app/1.0/linux-amd64")
	entry["custom"] = map[string]any{"version": "1.0", "build": json.Number("9007199254740993")}
	entry["x-entry-extra"] = "kept"
	add(&vector{file: "targets-unknown-fields.vec", expect: "ok", role: "targets", version: 1, trustedRoot: trusted,
		note:         `unknown fields in signed and in a target entry, integers above 2^53 (custom of app/1.0/linux-amd64 has "build":9007199254740993); signatures cover them as received`,
		gotufRejects: "it re-encodes the document it parsed, and integers above 2^53 lose precision",
		body:         pretty(seal(m, targets1))})

	for _, tc := range []struct {
		file, expect, note string
		change             func(entry map[string]any)
	}{
		{"targets-negative-length.vec", "ErrInvalid", "a target with length -1", func(e map[string]any) { e["length"] = -1 }},
		{"targets-nonhex-hash.vec", "ErrInvalid", "a target whose sha256 is not hex", func(e map[string]any) { get(e, "hashes")["sha256"] = "xyz" }},
		{"targets-odd-hex-hash.vec", "ErrInvalid", "a target whose sha256 has an odd number of hex digits", func(e map[string]any) { get(e, "hashes")["sha256"] = "abc" }},
		{"targets-empty-hashes.vec", "ErrInvalid", "a target with an empty hashes object", func(e map[string]any) { e["hashes"] = map[string]any{} }},
		{"targets-missing-length.vec", "ErrMalformed", "a target without length", func(e map[string]any) { delete(e, "length") }},
		{"targets-custom-not-object.vec", "ErrMalformed", "a target whose custom is a string", func(e map[string]any) { e["custom"] = "1.0" }},
	} {
		m := toMap(targetsDoc().Signed)
		tc.change(get(m, "targets", "docs/readme.txt"))
		add(&vector{file: tc.file, expect: tc.expect, role: "targets", version: 1, trustedRoot: trusted, note: tc.note, body: seal(m, targets1)})
	}

	sn := canonical(snapshotDoc(targetsBody).Signed)
	snapshotBody := seal(sn, snapshot1)
	add(&vector{file: "snapshot.vec", expect: "ok", role: "snapshot", version: 1, trustedRoot: trusted,
		note: "lists targets.json (length, sha256 and sha512 of the document in targets.vec) and role-paths.json",
		body: snapshotBody})
	dup := append(bytes.Clone(sn[:len(sn)-1]), []byte(`,"version":2}`)...)
	add(&vector{file: "snapshot-duplicate-key.vec", expect: "ErrMalformed ErrDuplicateKey", role: "snapshot", version: 0, trustedRoot: trusted,
		note: `"version" twice in signed (signature over the first form)`,
		body: envelope(dup, signAll(sn, snapshot1))})
	m = toMap(snapshotDoc(targetsBody).Signed)
	get(m, "meta", "role-paths.json")["version"] = 0
	add(&vector{file: "snapshot-meta-version-0.vec", expect: "ErrInvalid", role: "snapshot", version: 1, trustedRoot: trusted,
		note: "meta lists role-paths.json at version 0", body: seal(m, snapshot1)})
	m = toMap(snapshotDoc(targetsBody).Signed)
	get(m, "meta", "targets.json")["length"] = -5
	add(&vector{file: "snapshot-meta-negative-length.vec", expect: "ErrInvalid", role: "snapshot", version: 1, trustedRoot: trusted,
		note: "meta lists targets.json with length -5", body: seal(m, snapshot1)})

	ts := timestampDoc(snapshotBody)
	add(&vector{file: "timestamp.vec", expect: "ok", role: "timestamp", version: 1, trustedRoot: trusted,
		expires: "2030-01-02T00:00:00Z",
		note:    "lists snapshot.json (length and sha256 of the document in snapshot.vec)",
		body:    seal(ts.Signed, timestamp1)})
	add(&vector{file: "timestamp-rotated-key.vec", expect: "ok", role: "timestamp", version: 1, trustedRoot: "root-v2.vec",
		note: "signed by the timestamp key of root v2", body: seal(ts.Signed, timestamp2)})
	add(&vector{file: "timestamp-old-key.vec", expect: "ErrThreshold", role: "timestamp", version: 0, trustedRoot: "root-v2.vec",
		note: "signed by the timestamp key that root v2 replaced", body: seal(ts.Signed, timestamp1)})

	for _, tc := range []struct {
		file, expect, note string
		version            int64
		change             func(m map[string]any)
	}{
		{"timestamp-wrong-type.vec", "ErrType", `_type "snapshot" signed by the timestamp key`, 0, func(m map[string]any) { m["_type"] = "snapshot" }},
		{"timestamp-spec-2.0.vec", "ErrSpecVersion", `spec_version "2.0"`, 1, func(m map[string]any) { m["spec_version"] = "2.0" }},
		{"timestamp-spec-1.0.vec", "ok", `spec_version "1.0" (Sigstore, go-tuf v0.x)`, 1, func(m map[string]any) { m["spec_version"] = "1.0" }},
		{"timestamp-spec-1.vec", "ok", `spec_version "1"`, 1, func(m map[string]any) { m["spec_version"] = "1" }},
		{"timestamp-spec-1.0.31.vec", "ok", `spec_version "1.0.31"`, 1, func(m map[string]any) { m["spec_version"] = "1.0.31" }},
		{"timestamp-spec-10.0.vec", "ErrSpecVersion", `spec_version "10.0" (major version 10, not 1)`, 1, func(m map[string]any) { m["spec_version"] = "10.0" }},
		{"timestamp-version-0.vec", "ErrInvalid", "version 0", 0, func(m map[string]any) { m["version"] = 0 }},
		{"timestamp-version-string.vec", "ErrMalformed", `version "1"`, 0, func(m map[string]any) { m["version"] = "1" }},
		{"timestamp-no-snapshot.vec", "ErrInvalid", "meta does not list snapshot.json", 1, func(m map[string]any) {
			get(m, "meta")["targets.json"] = get(m, "meta")["snapshot.json"]
			delete(get(m, "meta"), "snapshot.json")
		}},
		{"timestamp-expires-offset.vec", "ok", "expires with a -06:00 offset, 18:00 in UTC", 1, func(m map[string]any) { m["expires"] = "2030-01-01T12:00:00-06:00" }},
		{"timestamp-expires-fraction.vec", "ok", "expires with nanoseconds", 1, func(m map[string]any) { m["expires"] = "2030-01-02T00:00:00.123456789Z" }},
		{"timestamp-expires-date-only.vec", "ErrMalformed", "expires without a time", 1, func(m map[string]any) { m["expires"] = "2030-01-02" }},
		{"timestamp-expires-space.vec", "ErrMalformed", "expires with a space instead of T", 1, func(m map[string]any) { m["expires"] = "2030-01-02 00:00:00Z" }},
	} {
		m := toMap(timestampDoc(snapshotBody).Signed)
		tc.change(m)
		v := add(&vector{file: tc.file, expect: tc.expect, role: "timestamp", version: tc.version, trustedRoot: trusted, note: tc.note, body: seal(m, timestamp1)})
		switch tc.file {
		case "timestamp-expires-offset.vec":
			v.expires = "2030-01-01T18:00:00Z"
		case "timestamp-expires-fraction.vec":
			v.expires = "2030-01-02T00:00:00.123456789Z"
		}
	}
}

func buildDelegations() {
	const trusted = "root-v1.vec"
	add(&vector{file: "targets-delegations.vec", expect: "ok", role: "targets", version: 1, trustedRoot: trusted,
		note: "delegates, in order, to role-none (no paths), role-paths (targets/*.tgz, foo-version-?.tgz), role-prefix (path_hash_prefixes), role-terminating (*, 2 of 2 keys, terminating) and role-after (*)",
		body: pretty(seal(delegationsDoc().Signed, targets1))})
	add(&vector{file: "targets-succinct.vec", expect: "ok", role: "targets", version: 1, trustedRoot: trusted,
		note: "succinct_roles: 256 bins bin-00 .. bin-ff",
		body: pretty(seal(succinctDoc(8).Signed, targets1))})

	for _, tc := range []struct {
		file, expect, note string
		doc                *tuf.Metadata[tuf.TargetsType]
		change             func(d map[string]any)
	}{
		{"targets-succinct-bits-0.vec", "ErrInvalid", "succinct_roles with bit_length 0", succinctDoc(8), func(d map[string]any) { get(d, "succinct_roles")["bit_length"] = 0 }},
		{"targets-succinct-bits-33.vec", "ErrInvalid", "succinct_roles with bit_length 33", succinctDoc(8), func(d map[string]any) { get(d, "succinct_roles")["bit_length"] = 33 }},
		{"targets-duplicate-delegation.vec", "ErrInvalid", "two delegated roles named role-paths", delegationsDoc(), func(d map[string]any) {
			roles := d["roles"].([]any)
			roles[2].(map[string]any)["name"] = "role-paths"
		}},
		{"targets-paths-and-prefixes.vec", "ErrInvalid", "a delegated role with both paths and path_hash_prefixes", delegationsDoc(), func(d map[string]any) {
			roles := d["roles"].([]any)
			roles[1].(map[string]any)["path_hash_prefixes"] = []any{"ab"}
		}},
		{"targets-roles-and-succinct.vec", "ErrInvalid", "delegations with both roles and succinct_roles", delegationsDoc(), func(d map[string]any) {
			d["succinct_roles"] = toMap(succinctDoc(8).Signed.Delegations.SuccinctRoles)
		}},
		{"targets-nonhex-prefix.vec", "ErrInvalid", "a path_hash_prefix that is not hex", delegationsDoc(), func(d map[string]any) {
			roles := d["roles"].([]any)
			roles[2].(map[string]any)["path_hash_prefixes"] = []any{"xy"}
		}},
		{"targets-delegation-missing-keyid.vec", "ErrInvalid", "a delegated role whose key ID is not in delegations.keys", delegationsDoc(), func(d map[string]any) {
			roles := d["roles"].([]any)
			roles[1].(map[string]any)["keyids"] = []any{"missing-key"}
		}},
		{"targets-delegation-toplevel-name.vec", "ErrInvalid", "a delegated role named snapshot, like a top-level role", delegationsDoc(), func(d map[string]any) {
			roles := d["roles"].([]any)
			roles[1].(map[string]any)["name"] = "snapshot"
		}},
		{"targets-delegation-threshold-0.vec", "ErrInvalid", "a delegated role with threshold 0", delegationsDoc(), func(d map[string]any) {
			roles := d["roles"].([]any)
			roles[1].(map[string]any)["threshold"] = 0
		}},
	} {
		m := toMap(tc.doc.Signed)
		tc.change(get(m, "delegations"))
		add(&vector{file: tc.file, expect: tc.expect, role: "targets", version: 1, trustedRoot: trusted, note: tc.note, body: seal(m, targets1)})
	}

	// Delegated targets metadata.
	role := tuf.Targets(now.AddDate(0, 0, 7))
	role.Signed.Targets["targets/app.tgz"] = targetFile("delegated app\n", "")
	add(&vector{file: "role-paths.vec", expect: "ok", role: "role-paths", version: 1,
		delegator: "targets-delegations.vec", target: "targets/app.tgz",
		note: "delegated role-paths, signed by its key", body: pretty(seal(role.Signed, deleg1))})
	add(&vector{file: "role-paths-wrong-key.vec", expect: "ErrThreshold", role: "role-paths", version: 0,
		delegator: "targets-delegations.vec", target: "targets/app.tgz",
		note: "delegated role-paths signed by the top-level targets key", body: seal(role.Signed, targets1)})
	add(&vector{file: "role-terminating-one-sig.vec", expect: "ErrThreshold", role: "role-terminating", version: 0,
		delegator: "targets-delegations.vec", target: "anything.txt",
		note: "role-terminating needs 2 of 2 keys, signed by one", body: seal(role.Signed, deleg1)})
	add(&vector{file: "role-terminating.vec", expect: "ok", role: "role-terminating", version: 1,
		delegator: "targets-delegations.vec", target: "anything.txt",
		note: "role-terminating signed by both keys", body: seal(role.Signed, deleg1, deleg2)})

	const binTarget = "app/1.0/linux-amd64"
	bin := succinctDoc(8).Signed.Delegations.SuccinctRoles.GetRolesForTarget(binTarget)[0].Name
	binDoc := tuf.Targets(now.AddDate(0, 0, 7))
	binDoc.Signed.Targets[binTarget] = targetFile("latch test target app 1.0 linux-amd64\n", "")
	add(&vector{file: "bin.vec", expect: "ok", role: bin, version: 1,
		delegator: "targets-succinct.vec", target: binTarget,
		note: "the succinct bin that " + binTarget + " hashes to", body: seal(binDoc.Signed, deleg1)})
}

func buildEnvelopes() {
	const trusted = "root-v1.vec"
	ts := timestampDoc([]byte("{}"))
	c := canonical(ts.Signed)
	good := signAll(c, timestamp1)
	withPlaceholder := append(slices.Clone(good), sig{"placeholder", ""}, sig{"not-hex", "zz"})
	add(&vector{file: "envelope-placeholder-sig.vec", expect: "ok", role: "timestamp", version: 1, trustedRoot: trusted,
		note:         `a valid signature plus an empty "sig" (as Sigstore's tuf-on-ci writes for absent signers) and a non-hex one: both skipped`,
		gotufRejects: "its parser refuses the non-hex sig",
		body:         envelope(c, withPlaceholder)})

	// A key ID may appear once in "signatures" (spec §4.2), whatever the
	// signatures are: the document is refused even when the threshold is met.
	add(&vector{file: "envelope-duplicate-keyid.vec", expect: "ErrMalformed ErrDuplicateSignature", role: "timestamp", version: 0, trustedRoot: trusted,
		note: "the one valid signature twice (tuf-conformance test_duplicate_sig_keyids)",
		body: envelope(c, append(slices.Clone(good), good[0]))})
	add(&vector{file: "envelope-duplicate-keyid-placeholder.vec", expect: "ErrMalformed ErrDuplicateSignature", role: "timestamp", version: 0, trustedRoot: trusted,
		note: `a valid signature and an empty "sig" under the same key ID`,
		body: envelope(c, append(slices.Clone(good), sig{timestamp1.id, ""}))})

	many := slices.Clone(good)
	for len(many) < 256 {
		many = append(many, sig{fmt.Sprintf("unknown-%03d", len(many)), "00"})
	}
	add(&vector{file: "envelope-256-signatures.vec", expect: "ok", role: "timestamp", version: 1, trustedRoot: trusted,
		note: "256 signatures, the most an envelope may carry", body: envelope(c, many)})
	add(&vector{file: "envelope-257-signatures.vec", expect: "ErrMalformed", role: "timestamp", version: 0, trustedRoot: trusted,
		note: "257 signatures", body: envelope(c, append(many, sig{"unknown-256", "00"}))})

	sigJSON, err := json.Marshal(good)
	check(err)
	for _, tc := range []struct {
		file, expect, note, body string
	}{
		{"envelope-no-signatures.vec", "ErrMalformed", `no "signatures"`, `{"signed":` + string(c) + `}`},
		{"envelope-no-signed.vec", "ErrMalformed", `no "signed"`, `{"signatures":` + string(sigJSON) + `}`},
		{"envelope-signed-array.vec", "ErrMalformed", `"signed" is an array`, `{"signatures":` + string(sigJSON) + `,"signed":[` + string(c) + `]}`},
		{"envelope-signatures-object.vec", "ErrMalformed", `"signatures" is an object`, `{"signatures":{},"signed":` + string(c) + `}`},
		{"envelope-duplicate-signed.vec", "ErrMalformed ErrDuplicateKey", `"signed" twice`, `{"signatures":` + string(sigJSON) + `,"signed":` + string(c) + `,"signed":` + string(c) + `}`},
		{"envelope-trailing-data.vec", "ErrMalformed ErrSyntax", "data after the envelope", string(envelope(c, good)) + `{}`},
		{"envelope-truncated.vec", "ErrMalformed ErrSyntax", "the envelope cut short", string(envelope(c, good))[:100]},
		{"envelope-sig-keyid-number.vec", "ErrMalformed", "a signature whose keyid is a number", `{"signatures":[{"keyid":1,"sig":"00"}],"signed":` + string(c) + `}`},
		{"envelope-unknown-member.vec", "ok", "an unknown top-level member beside signed and signatures is ignored", `{"signatures":` + string(sigJSON) + `,"signed":` + string(c) + `,"x-extra":{"a":[1,2]}}`},
		{"envelope-invalid-utf8.vec", "ErrMalformed ErrSyntax", "invalid UTF-8 in an unknown member", `{"signatures":` + string(sigJSON) + `,"signed":` + string(c) + `,"x-extra":"\xff"}`},
	} {
		v := add(&vector{file: tc.file, expect: tc.expect, role: "timestamp", version: 0, trustedRoot: trusted, note: tc.note, body: []byte(tc.body)})
		if tc.expect == "ok" {
			v.version = 1
		}
	}

	// Unsigned bytes the canonicaliser must refuse: signatures over the
	// unchanged document, so only the JSON layer decides.
	deep := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	for _, tc := range []struct {
		file, expect, note, member string
	}{
		{"envelope-too-deep.vec", "ErrMalformed ErrTooDeep", "an unknown member of signed nested 100 arrays deep", `"x-deep":` + deep},
		{"envelope-float.vec", "ErrMalformed ErrNotCanonicalizable", "a float in signed, which canonical JSON cannot represent", `"x-float":1.5`},
		{"envelope-exponent.vec", "ErrMalformed ErrNotCanonicalizable", "an exponent in signed, which canonical JSON cannot represent", `"x-exp":1e3`},
	} {
		changed := []byte(`{` + tc.member + `,` + string(c[1:]))
		add(&vector{file: tc.file, expect: tc.expect, role: "timestamp", version: 0, trustedRoot: trusted, note: tc.note, body: envelope(changed, good)})
	}
}

// goTUFVerdict reports whether go-tuf's metadata API (FromBytes, then
// VerifyDelegate by the trusted root or delegator) accepts the vector: a
// differential record, not an expectation.
func goTUFVerdict(v *vector) (verdict string) {
	defer func() {
		if recover() != nil {
			verdict = "rejects (panics)"
		}
	}()
	var err error
	switch {
	case v.role == "root":
		md, perr := new(tuf.Metadata[tuf.RootType]).FromBytes(v.body)
		err = perr
		if err == nil && v.trustedRoot != "" {
			trusted, terr := new(tuf.Metadata[tuf.RootType]).FromBytes(byFile(v.trustedRoot).body)
			check(terr)
			err = trusted.VerifyDelegate(tuf.ROOT, md)
		}
		if err == nil {
			err = md.VerifyDelegate(tuf.ROOT, md)
		}
	case v.delegator != "":
		delegator, derr := new(tuf.Metadata[tuf.TargetsType]).FromBytes(byFile(v.delegator).body)
		check(derr)
		md, perr := new(tuf.Metadata[tuf.TargetsType]).FromBytes(v.body)
		err = perr
		if err == nil {
			err = delegator.VerifyDelegate(v.role, md)
		}
	default:
		trusted, terr := new(tuf.Metadata[tuf.RootType]).FromBytes(byFile(v.trustedRoot).body)
		check(terr)
		switch v.role {
		case "timestamp":
			md, perr := new(tuf.Metadata[tuf.TimestampType]).FromBytes(v.body)
			if err = perr; err == nil {
				err = trusted.VerifyDelegate(v.role, md)
			}
		case "snapshot":
			md, perr := new(tuf.Metadata[tuf.SnapshotType]).FromBytes(v.body)
			if err = perr; err == nil {
				err = trusted.VerifyDelegate(v.role, md)
			}
		case "targets":
			md, perr := new(tuf.Metadata[tuf.TargetsType]).FromBytes(v.body)
			if err = perr; err == nil {
				err = trusted.VerifyDelegate(v.role, md)
			}
		default:
			log.Fatalf("%s: role %q without a delegator", v.file, v.role)
		}
	}
	if err != nil {
		return "rejects"
	}
	return "accepts"
}
