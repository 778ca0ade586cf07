package metadata

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
)

// The benchmarks below time the steps of Open on a 100,000-entry
// targets.json one by one (BenchmarkOpenTargets100k times them together),
// and delegation matching.

// BenchmarkSplitEnvelope100k splits the envelope and computes the canonical
// form of "signed": a copy-free check when the bytes are canonical already,
// a rewrite when they are indented.
func BenchmarkSplitEnvelope100k(b *testing.B) {
	for _, indent := range []bool{false, true} {
		doc := bigTargets(b, 100_000, indent)
		b.Run(fmt.Sprintf("indented=%v", indent), func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				env, err := splitEnvelope(doc)
				if err != nil || len(env.sigs) != 1 {
					b.Fatalf("splitEnvelope: %v", err)
				}
			}
		})
	}
}

// BenchmarkCheckSignature100k checks the one ed25519 signature over the
// canonical bytes (ed25519 hashes the whole message with SHA-512).
func BenchmarkCheckSignature100k(b *testing.B) {
	env, err := splitEnvelope(bigTargets(b, 100_000, false))
	if err != nil {
		b.Fatal(err)
	}
	keys := targetsKeys(b)
	b.SetBytes(int64(len(env.canonical)))
	for b.Loop() {
		if _, err := env.check(keys); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeTargets100k decodes verified canonical bytes: the "signed"
// object, its header, and the validated index of the targets map.
func BenchmarkDecodeTargets100k(b *testing.B) {
	env, err := splitEnvelope(bigTargets(b, 100_000, false))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(env.canonical)))
	b.ReportAllocs()
	for b.Loop() {
		o, err := parseObject(env.canonical, "signed")
		if err != nil {
			b.Fatal(err)
		}
		t := &Targets{}
		if t.header, err = parseHeader(o, RoleTargets); err != nil {
			b.Fatal(err)
		}
		if err := t.decodeBody(o); err != nil || t.Len() != 100_000 {
			b.Fatalf("decodeBody: %d targets, %v", t.Len(), err)
		}
	}
}

// BenchmarkMatch decides whether a delegated role is trusted for a target
// path, and which of 100 roles with path patterns or which succinct bin is.
func BenchmarkMatch(b *testing.B) {
	const target = "releases/app-012345/linux-amd64.tgz"
	sum := sha256.Sum256([]byte(target))
	digest := hex.EncodeToString(sum[:])
	roles := make([]DelegatedRole, 100)
	for i := range roles {
		roles[i] = DelegatedRole{Name: fmt.Sprintf("team-%03d", i), Threshold: 1, Paths: []string{fmt.Sprintf("team-%03d/*", i), "*.txt"}}
	}
	roles[99].Paths = []string{"releases/*/linux-*.tgz"}
	prefixes := DelegatedRole{PathHashPrefixes: []string{"00", "0f", "aa", digest[:3]}}
	succinct := &SuccinctRoles{BitLength: 8, NamePrefix: "bins"}
	d := &Delegations{roles: roles}
	cases := []struct {
		name string
		fn   func() bool
	}{
		{"paths", func() bool { return roles[99].Matches(target) }},
		{"path_hash_prefixes", func() bool { return prefixes.Matches(target) }},
		{"succinct", func() bool { return succinct.BinName(target) == "bins-"+digest[:2] }},
		{"children_of_100_roles", func() bool {
			c := d.Children(target)
			return len(c) == 1 && c[0].Name == "team-099"
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !c.fn() {
					b.Fatal("no match")
				}
			}
		})
	}
}
