// Package examples_test checks what the example programs may use: they
// show how an application uses latch, so they go through its public API
// alone.
package examples_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// allowedInternal lists the internal packages a non-test file of an
// example may import, by directory: the demo's simulated attacks need the
// test repository simulator. Nothing else.
var allowedInternal = map[string][]string{
	"demo": {"github.com/latchsec/latch/internal/simulator"},
}

// TestExamplesUsePublicAPI: no non-test file under examples/ imports a
// package under internal/, except as allowedInternal says.
func TestExamplesUsePublicAPI(t *testing.T) {
	t.Parallel()
	files := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		files++
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		example := strings.SplitN(filepath.ToSlash(path), "/", 2)[0]
		for _, imp := range f.Imports {
			p, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				return err
			}
			if !isInternal(p) {
				continue
			}
			ok := false
			for _, a := range allowedInternal[example] {
				ok = ok || a == p
			}
			if !ok {
				t.Errorf("%s imports %s: examples use latch's public API", path, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatal("no example source files found")
	}
}

func isInternal(p string) bool {
	return strings.HasSuffix(p, "/internal") || strings.Contains(p, "/internal/")
}
