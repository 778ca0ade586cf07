package metadata

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/latchsec/latch/internal/cjson"
	"github.com/latchsec/latch/internal/testvec"
)

// fuzzDocuments returns the seed documents: every vector's body and every
// JSON file of the interop corpus when it is present.
func fuzzDocuments(f *testing.F) [][]byte {
	f.Helper()
	var docs [][]byte
	for _, name := range vectorNames(f) {
		docs = append(docs, readVector(f, name).body)
	}
	return append(docs, testvec.Interop(f)...)
}

func FuzzSplitEnvelope(f *testing.F) {
	docs := fuzzDocuments(f)
	if len(docs) == 0 {
		f.Fatal("no seeds")
	}
	for _, d := range docs {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		orig := bytes.Clone(data)
		env, err := splitEnvelope(data)
		if !bytes.Equal(data, orig) {
			t.Fatal("splitEnvelope changed its input")
		}
		if err != nil {
			if env != nil {
				t.Fatal("an envelope came back with an error")
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if len(env.canonical) == 0 || env.canonical[0] != '{' {
			t.Fatalf("signed %q is not an object", env.canonical)
		}
		if !cjson.IsCanonical(env.canonical) {
			t.Fatal("canonical form is not canonical")
		}
		again, err := cjson.Canonicalize(env.canonical)
		if err != nil || !bytes.Equal(again, env.canonical) {
			t.Fatalf("canonical form does not round-trip: %v", err)
		}
		if len(env.sigs) > MaxSignatures {
			t.Fatalf("%d signatures", len(env.sigs))
		}
		for _, s := range env.sigs {
			if len(s.Sig) == 0 {
				t.Fatal("an empty signature was kept")
			}
		}
	})
}

// FuzzDecode decodes arbitrary "signed" bytes as each document type, without
// signatures: no panic, and whatever decodes is usable through its accessors.
func FuzzDecode(f *testing.F) {
	n := 0
	for _, d := range fuzzDocuments(f) {
		if env, err := splitEnvelope(d); err == nil {
			f.Add(env.canonical)
			n++
		}
	}
	if n == 0 {
		f.Fatal("no seeds")
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Documents are decoded from their validated canonical form, as
		// open does after the signature check.
		canonical, err := cjson.Canonicalize(data)
		if err != nil {
			return
		}
		o, err := parseObject(canonical, "signed")
		if err != nil {
			if o != nil || !errors.Is(err, ErrMalformed) {
				t.Fatalf("parseObject: %v, %v", o, err)
			}
			return
		}
		for _, typ := range topLevelRoles {
			h, err := parseHeader(o, typ)
			if err != nil {
				continue
			}
			checkHeader(t, h)
			switch typ {
			case RoleRoot:
				r := &Root{header: h}
				if r.decodeBody(o) == nil {
					checkRoot(t, r)
				}
			case RoleTimestamp:
				ts := &Timestamp{header: h}
				if ts.decodeBody(o) == nil {
					checkMetaFile(t, ts.Snapshot())
				}
			case RoleSnapshot:
				s := &Snapshot{header: h}
				if s.decodeBody(o) == nil {
					for name, m := range s.Meta() {
						checkMetaFile(t, m)
						if role, ok := strings.CutSuffix(name, ".json"); ok {
							if _, ok := s.Role(role); !ok {
								t.Fatalf("Role(%q) not found, but Meta lists %q", role, name)
							}
						}
					}
				}
			case RoleTargets:
				tg := &Targets{header: h, name: RoleTargets}
				if tg.decodeBody(o) == nil {
					checkTargets(t, tg)
				}
			}
		}
	})
}

func checkHeader(t *testing.T, h header) {
	t.Helper()
	if h.Version() < 1 || !specVersionRE.MatchString(h.SpecVersion()) || h.Expires().Location() != time.UTC {
		t.Fatalf("header %+v", h)
	}
}

func checkMetaFile(t *testing.T, m MetaFile) {
	t.Helper()
	if m.Version < 1 || m.Length < -1 || m.Hashes != nil && len(m.Hashes) == 0 {
		t.Fatalf("MetaFile %+v", m)
	}
	_ = m.Check(nil)
}

func checkRoleKeys(t *testing.T, rk RoleKeys) {
	t.Helper()
	if rk.Threshold < 1 || rk.Threshold > MaxSignatures {
		t.Fatalf("%s: threshold %d", rk.Name, rk.Threshold)
	}
	for _, id := range rk.KeyIDs {
		if _, ok := rk.Keys[id]; !ok {
			t.Fatalf("%s: key ID %q without a key entry", rk.Name, id)
		}
	}
}

func checkRoot(t *testing.T, r *Root) {
	t.Helper()
	r.ConsistentSnapshot()
	for _, role := range topLevelRoles {
		rk, ok := r.RoleKeys(role)
		if !ok || rk.Name != role {
			t.Fatalf("RoleKeys(%s) = %+v, %v", role, rk, ok)
		}
		checkRoleKeys(t, rk)
		if !r.SameKeys(r, role) {
			t.Fatalf("SameKeys(itself, %s) = false", role)
		}
	}
}

func checkTargets(t *testing.T, tg *Targets) {
	t.Helper()
	n := 0
	for _, p := range collectPaths(t, tg) {
		n++
		tf, ok := lookup(t, tg, p)
		if !ok || tf.Path != p || tf.Length < 0 || len(tf.Hashes) == 0 {
			t.Fatalf("Target(%q) = %+v, %v", p, tf, ok)
		}
		if tf.Custom != nil && tf.Custom[0] != '{' {
			t.Fatalf("Target(%q).Custom = %s", p, tf.Custom)
		}
		_, _ = LocalPath("dir", p)
	}
	if n != tg.Len() {
		t.Fatalf("Paths yields %d, Len is %d", n, tg.Len())
	}
	d := tg.Delegations()
	if d == nil {
		return
	}
	keys := d.Keys()
	if s := d.Succinct(); s != nil {
		if s.BitLength < 1 || s.BitLength > 32 {
			t.Fatalf("bit_length %d", s.BitLength)
		}
		for _, target := range []string{"", "a", "a/b"} {
			if name := s.BinName(target); !s.IsBin(name) {
				t.Fatalf("BinName(%q) = %q is not a bin", target, name)
			}
		}
	}
	seen := map[string]bool{}
	for _, r := range d.Roles() {
		if seen[r.Name] {
			t.Fatalf("role %q twice", r.Name)
		}
		seen[r.Name] = true
		if r.Paths != nil && r.PathHashPrefixes != nil {
			t.Fatalf("role %q has paths and prefixes", r.Name)
		}
		checkRoleKeys(t, RoleKeys{Name: r.Name, Threshold: r.Threshold, KeyIDs: r.KeyIDs, Keys: keys})
	}
	for _, target := range []string{"", "a", "a/b", "file3.txt"} {
		for _, c := range d.Children(target) {
			checkRoleKeys(t, c.RoleKeys)
		}
	}
}

// vectorNamesAndPaths returns the role names and target paths the vectors
// use: their role and target headers, and the delegated role names and
// target paths in their documents. It fails if either list is empty.
func vectorNamesAndPaths(f *testing.F) (roles, paths []string) {
	f.Helper()
	for _, name := range vectorNames(f) {
		v := readVector(f, name)
		roles = append(roles, v.headers["role"])
		if p := v.headers["target"]; p != "" {
			paths = append(paths, p)
		}
		var doc struct {
			Signed struct {
				Targets     map[string]json.RawMessage `json:"targets"`
				Delegations struct {
					Roles []struct {
						Name string `json:"name"`
					} `json:"roles"`
				} `json:"delegations"`
			} `json:"signed"`
		}
		if json.Unmarshal(v.body, &doc) != nil {
			continue
		}
		for p := range doc.Signed.Targets {
			paths = append(paths, p)
		}
		for _, r := range doc.Signed.Delegations.Roles {
			roles = append(roles, r.Name)
		}
	}
	if len(roles) == 0 || len(paths) == 0 {
		f.Fatalf("the vectors give %d role names and %d target paths", len(roles), len(paths))
	}
	return roles, paths
}

// FuzzRoleName: every role name either encodes to one safe file name that
// decodes back, or is refused with ErrRoleName; decoding accepts only what
// encoding produces.
func FuzzRoleName(f *testing.F) {
	roles, _ := vectorNamesAndPaths(f)
	for _, s := range append(roles, "targets", ".", "..", "../a", "ö", "A", "a/b", "%2E", "%41", "", strings.Repeat("a", 201)) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if enc, err := EncodeRoleName(s); err == nil {
			checkFileName(t, enc)
			if dec, err := DecodeRoleName(enc); err != nil || dec != s {
				t.Fatalf("DecodeRoleName(EncodeRoleName(%q)) = %q, %v", s, dec, err)
			}
		} else if !errors.Is(err, ErrRoleName) || enc != "" {
			t.Fatalf("EncodeRoleName(%q) = %q, %v", s, enc, err)
		}
		if dec, err := DecodeRoleName(s); err == nil {
			if enc, err := EncodeRoleName(dec); err != nil || enc != s {
				t.Fatalf("DecodeRoleName(%q) = %q, which encodes to %q, %v", s, dec, enc, err)
			}
		}
	})
}

// FuzzLocalPath: an accepted target path stays below the directory, and is
// valid UTF-8 without backslashes, colons or control characters.
func FuzzLocalPath(f *testing.F) {
	_, paths := vectorNamesAndPaths(f)
	for _, s := range append(paths, "a/b/c.txt", "../x", "a/./b", "C:x", `a\b`, "CON", "con.txt", "a.", "ö/ü", "a//b", "\xff") {
		f.Add(s)
	}
	dir := filepath.Join("base", "targets")
	f.Fuzz(func(t *testing.T, target string) {
		p, err := LocalPath(dir, target)
		if err != nil {
			if !errors.Is(err, ErrUnsafePath) || p != "" {
				t.Fatalf("LocalPath(%q) = %q, %v", target, p, err)
			}
			return
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || !filepath.IsLocal(rel) || filepath.ToSlash(rel) != target {
			t.Fatalf("LocalPath(%q) = %q, relative %q", target, p, rel)
		}
		if !utf8.ValidString(target) || strings.ContainsAny(target, "\\:\x00") {
			t.Fatalf("LocalPath accepted %q", target)
		}
	})
}
