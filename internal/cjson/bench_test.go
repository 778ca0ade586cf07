package cjson

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

// ordered is a JSON object whose members keep the order they were built in.
type ordered []field

type field struct {
	key   string
	value any // string, int64, ordered or []any
}

// targetsDoc is one generated targets.json in several renderings.
type targetsDoc struct {
	canonical []byte // sorted keys, no whitespace
	compact   []byte // go-tuf style (json.Marshal): struct fields in declaration order, map keys sorted, no whitespace
	shuffled  []byte // compact, but the targets map in random order too: the worst case
	pretty    []byte // python-tuf style: sorted keys, indent 1, separators (",", ": ")
	targets   []byte // the canonical "targets" object alone
}

// genTargets builds a deterministic targets.json with n entries, each like
// "some/path/file-12345.bin": {"custom": {"version": "1.2.3"}, "hashes":
// {"sha256": ..., "sha512": ...}, "length": 12345}.
func genTargets(n int) targetsDoc {
	r := rand.New(rand.NewPCG(1, 2))
	hexOf := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return hex.EncodeToString(b)
	}
	dirs := []string{"some/path", "releases/linux-amd64", "releases/darwin-arm64", "assets/img", "docs"}
	// Entries in random order; go-tuf writes each from a Go struct (length,
	// hashes, custom).
	entries := make(ordered, n)
	for i, k := range r.Perm(n) {
		entries[i] = field{
			key: fmt.Sprintf("%s/file-%05d.bin", dirs[k%len(dirs)], k),
			value: ordered{
				{"length", int64(r.IntN(1 << 30))},
				{"hashes", ordered{{"sha512", hexOf(64)}, {"sha256", hexOf(32)}}},
				{"custom", ordered{{"version", fmt.Sprintf("%d.%d.%d", r.IntN(5), r.IntN(20), r.IntN(100))}}},
			},
		}
	}
	doc := ordered{
		{"signed", ordered{
			{"_type", "targets"},
			{"spec_version", "1.0.31"},
			{"version", int64(1)},
			{"expires", "2030-01-01T00:00:00Z"},
			{"targets", entries},
		}},
		{"signatures", []any{ordered{{"keyid", hexOf(32)}, {"sig", hexOf(64)}}}},
	}
	var d targetsDoc
	d.canonical = writeJSON(nil, doc, true, -1, 0)
	d.shuffled = writeJSON(nil, doc, false, -1, 0)
	d.pretty = writeJSON(nil, doc, true, 1, 0)
	d.targets = writeJSON(nil, entries, true, -1, 0)
	// json.Marshal sorts map keys.
	slices.SortFunc(entries, func(a, b field) int { return strings.Compare(a.key, b.key) })
	d.compact = writeJSON(nil, doc, false, -1, 0)
	return d
}

// writeJSON renders v (with strings that need no escaping). indent < 0 means
// compact output.
func writeJSON(dst []byte, v any, sorted bool, indent, level int) []byte {
	newline := func(level int) {
		if indent >= 0 {
			dst = append(dst, '\n')
			dst = append(dst, strings.Repeat(" ", indent*level)...)
		}
	}
	switch v := v.(type) {
	case string:
		if strings.ContainsAny(v, "\"\\") {
			panic("writeJSON: string needs escaping")
		}
		dst = append(append(append(dst, '"'), v...), '"')
	case int64:
		dst = fmt.Appendf(dst, "%d", v)
	case []any:
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			newline(level + 1)
			dst = writeJSON(dst, e, sorted, indent, level+1)
		}
		if len(v) > 0 {
			newline(level)
		}
		dst = append(dst, ']')
	case ordered:
		if sorted {
			v = slices.SortedFunc(slices.Values(v), func(a, b field) int { return strings.Compare(a.key, b.key) })
		}
		dst = append(dst, '{')
		for i, f := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			newline(level + 1)
			dst = writeJSON(dst, f.key, sorted, indent, level+1)
			dst = append(dst, ':')
			if indent >= 0 {
				dst = append(dst, ' ')
			}
			dst = writeJSON(dst, f.value, sorted, indent, level+1)
		}
		if len(v) > 0 {
			newline(level)
		}
		dst = append(dst, '}')
	default:
		panic(fmt.Sprintf("writeJSON: %T", v))
	}
	return dst
}

var targets100k = sync.OnceValue(func() targetsDoc { return genTargets(100_000) })

// targetsJSON is what encoding/json is measured decoding into.
type targetsJSON struct {
	Signatures []struct {
		KeyID string `json:"keyid"`
		Sig   string `json:"sig"`
	} `json:"signatures"`
	Signed struct {
		Type        string `json:"_type"`
		SpecVersion string `json:"spec_version"`
		Version     int64  `json:"version"`
		Expires     string `json:"expires"`
		Targets     map[string]struct {
			Length int64             `json:"length"`
			Hashes map[string]string `json:"hashes"`
			Custom json.RawMessage   `json:"custom"`
		} `json:"targets"`
	} `json:"signed"`
}

func benchCanonicalize(b *testing.B, src []byte) {
	want := targets100k().canonical
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		out, err := Canonicalize(src)
		if err != nil || len(out) != len(want) {
			b.Fatalf("Canonicalize: %d bytes, %v", len(out), err)
		}
	}
}

func BenchmarkCanonicalizeCanonical100k(b *testing.B) {
	benchCanonicalize(b, targets100k().canonical)
}

func BenchmarkCanonicalizeCompact100k(b *testing.B) {
	benchCanonicalize(b, targets100k().compact)
}

func BenchmarkCanonicalizePretty100k(b *testing.B) {
	benchCanonicalize(b, targets100k().pretty)
}

func BenchmarkCanonicalizeShuffled100k(b *testing.B) {
	benchCanonicalize(b, targets100k().shuffled)
}

func BenchmarkEncodingJSONUnmarshal100k(b *testing.B) {
	d := targets100k()
	for _, c := range []struct {
		name string
		src  []byte
	}{{"Compact", d.compact}, {"Pretty", d.pretty}, {"Shuffled", d.shuffled}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.src)))
			b.ReportAllocs()
			for b.Loop() {
				var t targetsJSON
				if err := json.Unmarshal(c.src, &t); err != nil || len(t.Signed.Targets) != 100_000 {
					b.Fatalf("Unmarshal: %d targets, %v", len(t.Signed.Targets), err)
				}
			}
		})
	}
}

// BenchmarkMembers100k indexes the canonical targets object, as the metadata
// package does after canonicalising.
func BenchmarkMembers100k(b *testing.B) {
	src := targets100k().targets
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		n, size := 0, 0
		err := Members(src, func(key string, value []byte) error {
			n++
			size += len(key) + len(value)
			return nil
		})
		if err != nil || n != 100_000 || size >= len(src) {
			b.Fatalf("Members: %d members, %v", n, err)
		}
	}
}

func TestGeneratedTargets(t *testing.T) {
	d := genTargets(500)
	if !IsCanonical(d.canonical) || !IsCanonical(d.targets) {
		t.Fatal("canonical rendering is not canonical")
	}
	for _, src := range [][]byte{d.compact, d.pretty, d.shuffled} {
		if IsCanonical(src) {
			t.Fatalf("rendering is canonical already: %.80s", src)
		}
		out, err := Canonicalize(src)
		if err != nil || !bytes.Equal(out, d.canonical) {
			t.Fatalf("Canonicalize(%.80s) = %.80s, %v", src, out, err)
		}
		want, ok := oracle(src)
		if !ok || !bytes.Equal(out, want) {
			t.Fatalf("go-securesystemslib disagrees (accepts: %v)", ok)
		}
	}
}
