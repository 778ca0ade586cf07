// Package testvec reads the module's test vectors (testdata/metadata/*.vec)
// and the shared interop corpus for tests and fuzzers in other packages, so
// that every fuzzer starts from the same real documents. It is imported
// only by tests.
package testvec

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// root returns the module's root directory: the nearest parent of the
// working directory (a test's package directory) holding go.mod.
func root(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("testvec: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Bodies returns the document of every vector, as a client would receive
// it (the bytes after the header). It fails tb if there are none, so that
// a moved directory can't leave a fuzzer without seeds.
func Bodies(tb testing.TB) [][]byte {
	tb.Helper()
	dir := filepath.Join(root(tb), "testdata", "metadata")
	paths, err := filepath.Glob(filepath.Join(dir, "*.vec"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(paths) == 0 {
		tb.Fatalf("testvec: no vectors in %s: run go run ./testdata/gen/main.go", dir)
	}
	var bodies [][]byte
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		_, body, ok := bytes.Cut(data, []byte("\n\n"))
		if !ok {
			tb.Fatalf("testvec: %s: no blank line after the header", p)
		}
		bodies = append(bodies, body)
	}
	return bodies
}

// Interop returns every *.json file of the shared interop corpus
// (the directory shared/interop beside the module, where CI places it), or nothing where it is absent.
// It fails tb if the corpus is there but holds no such file.
func Interop(tb testing.TB) [][]byte {
	tb.Helper()
	dir := filepath.Join(root(tb), "..", "shared", "interop")
	var docs [][]byte
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		b, err := os.ReadFile(p)
		docs = append(docs, b)
		return err
	})
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		tb.Fatal(err)
	case len(docs) == 0:
		tb.Fatalf("testvec: %s holds no *.json files", dir)
	}
	return docs
}

// Keys returns the public keys listed in the vectors and the interop
// corpus (root and delegation "keys" objects) as keytype, scheme and
// keyval.public. It fails tb if the vectors hold none.
func Keys(tb testing.TB) [][3]string {
	tb.Helper()
	type key struct {
		KeyType string `json:"keytype"`
		Scheme  string `json:"scheme"`
		KeyVal  struct {
			Public string `json:"public"`
		} `json:"keyval"`
	}
	var keys [][3]string
	seen := map[[3]string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if _, ok := v["keytype"]; ok {
				b, _ := json.Marshal(v)
				var k key
				if json.Unmarshal(b, &k) == nil {
					if s := [3]string{k.KeyType, k.Scheme, k.KeyVal.Public}; !seen[s] {
						seen[s] = true
						keys = append(keys, s)
					}
				}
				return
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	for _, b := range Bodies(tb) {
		var v any
		if json.Unmarshal(b, &v) == nil {
			walk(v)
		}
	}
	if len(keys) == 0 {
		tb.Fatal("testvec: the vectors list no keys")
	}
	for _, b := range Interop(tb) {
		var v any
		if json.Unmarshal(b, &v) == nil {
			walk(v)
		}
	}
	return keys
}
