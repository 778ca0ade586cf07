package metadata

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// vectorDir holds the generated vectors (testdata/gen/main.go).
const vectorDir = "../testdata/metadata"

// vectorHeaders are the header keys testdata/README.md defines.
var vectorHeaders = []string{"expect", "role", "version", "trusted-root", "delegator", "target", "expires", "note", "go-tuf"}

// A vector is one file of testdata/metadata: header lines, a blank line and
// the document bytes.
type vector struct {
	name    string
	headers map[string]string
	body    []byte
}

func readVector(tb testing.TB, name string) vector {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(vectorDir, name))
	if err != nil {
		tb.Fatal(err)
	}
	head, body, ok := bytes.Cut(data, []byte("\n\n"))
	if !ok {
		tb.Fatalf("%s: no blank line after the header", name)
	}
	v := vector{name: name, headers: map[string]string{}, body: body}
	for _, line := range strings.Split(string(head), "\n") {
		k, val, ok := strings.Cut(line, ": ")
		if !ok || !slices.Contains(vectorHeaders, k) {
			tb.Fatalf("%s: bad header line %q", name, line)
		}
		if _, dup := v.headers[k]; dup {
			tb.Fatalf("%s: header %q twice", name, k)
		}
		v.headers[k] = val
	}
	for _, k := range []string{"expect", "role", "version"} {
		if v.headers[k] == "" {
			tb.Fatalf("%s: no %q header", name, k)
		}
	}
	return v
}

// vectorNames lists the vector files; it fails when there are none, so a
// moved directory cannot make the table test pass vacuously.
func vectorNames(tb testing.TB) []string {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join(vectorDir, "*.vec"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(paths) == 0 {
		tb.Fatalf("no test vectors in %s: run go run ./testdata/gen/main.go", vectorDir)
	}
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = filepath.Base(p)
	}
	return names
}

// vectorSet opens vectors, resolving the trusted roots and delegators their
// headers name (each must itself be an "ok" vector).
type vectorSet struct {
	tb      testing.TB
	roots   map[string]*Root
	targets map[string]*Targets
}

func newVectorSet(tb testing.TB) *vectorSet {
	return &vectorSet{tb: tb, roots: map[string]*Root{}, targets: map[string]*Targets{}}
}

// document is what every verified document has.
type document interface {
	Version() int64
	SpecVersion() string
}

// open opens v as its headers say and returns the document or the error.
func (s *vectorSet) open(v vector) (document, error) {
	s.tb.Helper()
	role := v.headers["role"]
	switch {
	case role == RoleRoot:
		var trusted *Root
		if name := v.headers["trusted-root"]; name != "" {
			trusted = s.root(name)
		}
		r, err := OpenRoot(v.body, trusted)
		if r == nil {
			return nil, err
		}
		return r, err
	case v.headers["delegator"] != "":
		d := s.targetsDoc(v.headers["delegator"]).Delegations()
		if d == nil {
			s.tb.Fatalf("%s: delegator %s has no delegations", v.name, v.headers["delegator"])
		}
		for _, c := range d.Children(v.headers["target"]) {
			if c.Name == role {
				t, err := OpenTargets(v.body, c.RoleKeys)
				if t == nil {
					return nil, err
				}
				return t, err
			}
		}
		s.tb.Fatalf("%s: %s does not delegate %q to %s", v.name, v.headers["delegator"], v.headers["target"], role)
	}
	root := s.root(v.headers["trusted-root"])
	switch role {
	case RoleTimestamp:
		t, err := OpenTimestamp(v.body, root)
		if t == nil {
			return nil, err
		}
		return t, err
	case RoleSnapshot:
		sn, err := OpenSnapshot(v.body, root)
		if sn == nil {
			return nil, err
		}
		return sn, err
	case RoleTargets:
		keys, ok := root.RoleKeys(RoleTargets)
		if !ok {
			s.tb.Fatalf("%s: trusted root has no targets role", v.name)
		}
		t, err := OpenTargets(v.body, keys)
		if t == nil {
			return nil, err
		}
		return t, err
	}
	s.tb.Fatalf("%s: role %q needs a delegator", v.name, role)
	return nil, nil
}

func (s *vectorSet) mustOpen(name string) document {
	s.tb.Helper()
	v := readVector(s.tb, name)
	if v.headers["expect"] != "ok" {
		s.tb.Fatalf("%s is used as trusted metadata but expects %s", name, v.headers["expect"])
	}
	doc, err := s.open(v)
	if err != nil {
		s.tb.Fatalf("%s: %v", name, err)
	}
	return doc
}

// openAs opens the vector name, failing the test unless it is kind
// metadata (a T).
func openAs[T document](s *vectorSet, name, kind string) T {
	s.tb.Helper()
	d, ok := s.mustOpen(name).(T)
	if !ok {
		s.tb.Fatalf("%s is not %s metadata", name, kind)
	}
	return d
}

func (s *vectorSet) root(name string) *Root {
	s.tb.Helper()
	if r, ok := s.roots[name]; ok {
		return r
	}
	s.roots[name] = openAs[*Root](s, name, "root")
	return s.roots[name]
}

func (s *vectorSet) targetsDoc(name string) *Targets {
	s.tb.Helper()
	if t, ok := s.targets[name]; ok {
		return t
	}
	s.targets[name] = openAs[*Targets](s, name, "targets")
	return s.targets[name]
}

func (s *vectorSet) timestamp(name string) *Timestamp {
	s.tb.Helper()
	return openAs[*Timestamp](s, name, "timestamp")
}

func (s *vectorSet) snapshot(name string) *Snapshot {
	s.tb.Helper()
	return openAs[*Snapshot](s, name, "snapshot")
}

// A testKey is an ed25519 key from a fixed seed. Its key ID is its name:
// key IDs are opaque (TAP 12).
type testKey struct {
	id   string
	priv ed25519.PrivateKey
}

func newTestKey(name string) testKey {
	seed := sha256.Sum256([]byte("latch metadata test key " + name))
	return testKey{id: name, priv: ed25519.NewKeyFromSeed(seed[:])}
}

// json is the key as it appears in a KEYS object.
func (k testKey) json() map[string]any {
	return map[string]any{
		"keytype": "ed25519",
		"scheme":  "ed25519",
		"keyval":  map[string]any{"public": hex.EncodeToString(k.priv.Public().(ed25519.PublicKey))},
	}
}

// sign returns the envelope of signed (a value encoding/json encodes),
// sealed by keys.
func sign(tb testing.TB, signed any, keys ...testKey) []byte {
	tb.Helper()
	b, err := json.Marshal(signed)
	if err != nil {
		tb.Fatal(err)
	}
	signers := make([]Signer, len(keys))
	for i, k := range keys {
		signers[i] = NewSigner(k.id, "ed25519", k.priv)
	}
	doc, err := Seal(b, signers...)
	if err != nil {
		tb.Fatal(err)
	}
	return doc
}

// testRoot is the "signed" object of root metadata in which each top-level
// role has the given keys and threshold 1 (root: all of its keys).
func testRoot(version int64, roles map[string][]testKey) map[string]any {
	keys := map[string]any{}
	roleObjs := map[string]any{}
	for role, ks := range roles {
		ids := []string{}
		for _, k := range ks {
			keys[k.id] = k.json()
			ids = append(ids, k.id)
		}
		roleObjs[role] = map[string]any{"keyids": ids, "threshold": 1}
	}
	return map[string]any{
		"_type":               "root",
		"spec_version":        "1.0.31",
		"version":             version,
		"expires":             "2031-01-01T00:00:00Z",
		"consistent_snapshot": true,
		"keys":                keys,
		"roles":               roleObjs,
	}
}

// testTargets is the "signed" object of targets metadata.
func testTargets(targets map[string]any, delegations map[string]any) map[string]any {
	m := map[string]any{
		"_type":        "targets",
		"spec_version": "1.0.31",
		"version":      1,
		"expires":      "2031-01-01T00:00:00Z",
		"targets":      targets,
	}
	if delegations != nil {
		m["delegations"] = delegations
	}
	return m
}

// targetEntry describes content as a TARGETS entry with a sha256 hash.
func targetEntry(content string) map[string]any {
	sum := sha256.Sum256([]byte(content))
	return map[string]any{"length": len(content), "hashes": map[string]any{"sha256": hex.EncodeToString(sum[:])}}
}

// testRootKeys are the keys of roots built with testRoot.
var (
	keyRoot      = newTestKey("root")
	keyTimestamp = newTestKey("timestamp")
	keySnapshot  = newTestKey("snapshot")
	keyTargets   = newTestKey("targets")
)

func standardRoles() map[string][]testKey {
	return map[string][]testKey{
		RoleRoot:      {keyRoot},
		RoleTimestamp: {keyTimestamp},
		RoleSnapshot:  {keySnapshot},
		RoleTargets:   {keyTargets},
	}
}

// openTestRoot signs and opens signed, failing the test on error.
func openTestRoot(tb testing.TB, signed map[string]any, keys ...testKey) *Root {
	tb.Helper()
	r, err := OpenRoot(sign(tb, signed, keys...), nil)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// targetsKeys is what a root from testRoot gives the targets role.
func targetsKeys(tb testing.TB) RoleKeys {
	tb.Helper()
	r := openTestRoot(tb, testRoot(1, standardRoles()), keyRoot)
	rk, ok := r.RoleKeys(RoleTargets)
	if !ok {
		tb.Fatal("no targets role")
	}
	return rk
}

// lookup is Target on a document opened in memory, which can't fail.
func lookup(tb testing.TB, tg *Targets, path string) (TargetFile, bool) {
	tb.Helper()
	tf, ok, err := tg.Target(path)
	if err != nil {
		tb.Fatalf("Target(%q): %v", path, err)
	}
	return tf, ok
}

// collectPaths returns what tg.Paths yields, failing on an error.
func collectPaths(tb testing.TB, tg *Targets) []string {
	tb.Helper()
	var out []string
	for p, err := range tg.Paths() {
		if err != nil {
			tb.Fatalf("Paths: %v", err)
		}
		out = append(out, p)
	}
	return out
}
