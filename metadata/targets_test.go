package metadata

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/latchsec/latch/internal/cjson"
)

// The targets listed by testdata/metadata/targets.vec and their contents
// (testdata/gen/main.go).
var vectorTargets = map[string]string{
	"app/1.0/linux-amd64":       "latch test target app 1.0 linux-amd64\n",
	"docs/readme.txt":           "latch test readme\n",
	"docs/a<b>&c.txt":           "markup\n",
	"docs/schön.txt":            "umlaut\n",
	`docs/quote"back\slash.txt`: "escapes\n",
	"empty.txt":                 "",
}

func TestTargets(t *testing.T) {
	set := newVectorSet(t)
	for _, name := range []string{"targets.vec", "targets-gotuf.vec"} {
		tg := set.targetsDoc(name)
		if tg.Name() != RoleTargets || tg.Len() != len(vectorTargets) || tg.Delegations() != nil {
			t.Errorf("%s: Name, Len, Delegations = %q, %d, %v", name, tg.Name(), tg.Len(), tg.Delegations())
		}
		rk, _ := set.root("root-v1.vec").RoleKeys(RoleTargets)
		if got := tg.Signers(); !slices.Equal(got, rk.KeyIDs) {
			t.Errorf("%s: Signers() = %v, want %v", name, got, rk.KeyIDs)
		}
		want := slices.Sorted(func(yield func(string) bool) {
			for p := range vectorTargets {
				if !yield(p) {
					return
				}
			}
		})
		if got := collectPaths(t, tg); !slices.Equal(got, want) {
			t.Errorf("%s: Paths() = %q, want %q", name, got, want)
		}
		for path, content := range vectorTargets {
			tf, ok := lookup(t, tg, path)
			s256, s512 := sha256.Sum256([]byte(content)), sha512.Sum512([]byte(content))
			if !ok || tf.Path != path || tf.Length != int64(len(content)) || len(tf.Hashes) != 2 ||
				!bytes.Equal(tf.Hashes["sha256"], s256[:]) || !bytes.Equal(tf.Hashes["sha512"], s512[:]) {
				t.Errorf("%s: Target(%q) = %+v, %v", name, path, tf, ok)
			}
		}
		tf, _ := lookup(t, tg, "app/1.0/linux-amd64")
		var custom map[string]string
		if err := json.Unmarshal(tf.Custom, &custom); err != nil || custom["version"] != "1.0" || len(custom) != 1 {
			t.Errorf("%s: Custom = %s (%v)", name, tf.Custom, err)
		}
		if tf, _ := lookup(t, tg, "docs/readme.txt"); tf.Custom != nil {
			t.Errorf("%s: Custom of an entry without one = %s", name, tf.Custom)
		}
		for _, missing := range []string{"", "app", "app/1.0/linux-amd64/", "DOCS/readme.txt", "docs/a\\u003cb\\u003e\\u0026c.txt"} {
			if tf, ok := lookup(t, tg, missing); ok || tf.Path != "" || tf.Hashes != nil {
				t.Errorf("%s: Target(%q) = %+v, %v, want not listed", name, missing, tf, ok)
			}
		}
	}
}

// TestTargetCopies: changing a returned TargetFile leaves the document as
// verified.
func TestTargetCopies(t *testing.T) {
	set := newVectorSet(t)
	tg := set.targetsDoc("targets.vec")
	tf, _ := lookup(t, tg, "app/1.0/linux-amd64")
	want, _ := lookup(t, tg, "app/1.0/linux-amd64")
	tf.Hashes["sha256"][0] ^= 1
	delete(tf.Hashes, "sha512")
	tf.Custom[0] = 'x'
	again, _ := lookup(t, tg, "app/1.0/linux-amd64")
	if !bytes.Equal(again.Hashes["sha256"], want.Hashes["sha256"]) || len(again.Hashes) != 2 || !bytes.Equal(again.Custom, want.Custom) {
		t.Errorf("Target changed through a returned value: %+v", again)
	}
}

// TestTargetsUnknownFields: unknown fields and integers beyond 2^53 are
// signed as received and survive into Custom digit for digit.
func TestTargetsUnknownFields(t *testing.T) {
	set := newVectorSet(t)
	tg := set.targetsDoc("targets-unknown-fields.vec")
	tf, ok := lookup(t, tg, "app/1.0/linux-amd64")
	if !ok {
		t.Fatal("app/1.0/linux-amd64 not listed")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, tf.Custom); err != nil {
		t.Fatal(err)
	}
	if got, want := compact.String(), `{"build":9007199254740993,"version":"1.0"}`; got != want {
		t.Errorf("Custom = %s, want %s", got, want)
	}
}

func TestTargetsEmpty(t *testing.T) {
	tg, err := OpenTargets(sign(t, testTargets(map[string]any{}, nil), keyTargets), targetsKeys(t))
	if err != nil {
		t.Fatal(err)
	}
	if tg.Len() != 0 || len(collectPaths(t, tg)) != 0 {
		t.Errorf("Len, Paths of an empty targets map = %d, %v", tg.Len(), collectPaths(t, tg))
	}
	if _, ok := lookup(t, tg, ""); ok {
		t.Error("Target(\"\") found in an empty map")
	}
}

// bigTargets returns targets metadata with n entries, signed by keyTargets;
// with indent, the document is pretty-printed (not canonical on the wire).
// Entry i is "pkg/<i>/file.bin", length i, sha256 of the decimal i.
func bigTargets(tb testing.TB, n int, indent bool) []byte {
	tb.Helper()
	var b strings.Builder
	b.WriteString(`{"_type":"targets","expires":"2031-01-01T00:00:00Z","spec_version":"1.0.31","targets":{`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		sum := sha256.Sum256(fmt.Appendf(nil, "%d", i))
		fmt.Fprintf(&b, `"pkg/%06d/file.bin":{"hashes":{"sha256":"%x"},"length":%d}`, i, sum, i)
	}
	b.WriteString(`},"version":1}`)
	signed := []byte(b.String())
	if !cjson.IsCanonical(signed) {
		tb.Fatal("bigTargets built a non-canonical document")
	}
	doc, err := Seal(signed, NewSigner(keyTargets.id, "ed25519", keyTargets.priv))
	if err != nil {
		tb.Fatal(err)
	}
	if indent {
		var out bytes.Buffer
		if err := json.Indent(&out, doc, "", " "); err != nil {
			tb.Fatal(err)
		}
		doc = out.Bytes()
	}
	return doc
}

func TestTargetsLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 targets: skipped with -short")
	}
	const n = 100_000
	keys := targetsKeys(t)
	doc := bigTargets(t, n, true)
	tg, err := OpenTargets(doc, keys)
	if err != nil {
		t.Fatal(err)
	}
	if tg.Len() != n {
		t.Errorf("Len() = %d, want %d", tg.Len(), n)
	}
	count, prev := 0, ""
	for _, p := range collectPaths(t, tg) {
		if p <= prev {
			t.Fatalf("Paths() not sorted: %q after %q", p, prev)
		}
		count, prev = count+1, p
	}
	if count != n {
		t.Errorf("Paths() yields %d paths", count)
	}
	for _, i := range []int{0, 1, 54_321, n - 1} {
		tf, ok := lookup(t, tg, fmt.Sprintf("pkg/%06d/file.bin", i))
		sum := sha256.Sum256(fmt.Appendf(nil, "%d", i))
		if !ok || tf.Length != int64(i) || !bytes.Equal(tf.Hashes["sha256"], sum[:]) {
			t.Errorf("entry %d = %+v, %v", i, tf, ok)
		}
	}
}

// BenchmarkOpenTargets100k opens a 100,000-entry targets.json, as received
// (canonical on the wire, or indented as most repositories publish).
func BenchmarkOpenTargets100k(b *testing.B) {
	keys := targetsKeys(b)
	for _, indent := range []bool{false, true} {
		doc := bigTargets(b, 100_000, indent)
		b.Run(fmt.Sprintf("indented=%v", indent), func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := OpenTargets(doc, keys); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTarget looks entries up in a 100,000-entry document: one again
// and again, or each in turn (so that nearly every lookup misses the CPU's
// caches, as the first lookups of a new process do).
func BenchmarkTarget(b *testing.B) {
	doc := bigTargets(b, 100_000, false)
	tg, err := OpenTargets(doc, targetsKeys(b))
	if err != nil {
		b.Fatal(err)
	}
	paths := make([]string, 100_000)
	for i := range paths {
		paths[i] = fmt.Sprintf("pkg/%06d/file.bin", (i*7919)%100_000)
	}
	for _, bc := range []struct {
		name  string
		paths []string
	}{{"one", paths[:1]}, {"distinct", paths}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, ok, err := tg.Target(bc.paths[i%len(bc.paths)]); !ok || err != nil {
					b.Fatal("not found")
				}
				i++
			}
		})
	}
}
