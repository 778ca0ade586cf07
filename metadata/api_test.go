package metadata

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// The typed targets document comes out of OpenTargets only: no exported
// function or method of this package returns a *Targets (or a way to make
// one) without checking its signatures. The client's cache shortcut lives
// behind internal/targetindex.
func TestNoUnverifiedTargetsInAPI(t *testing.T) {
	names, err := filepath.Glob("*.go")
	if err != nil || len(names) == 0 {
		t.Fatalf("no sources: %v", err)
	}
	allowed := map[string]bool{"OpenTargets": true}
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		{
			for _, d := range f.Decls {
				fn, ok := d.(*ast.FuncDecl)
				if !ok || !fn.Name.IsExported() || fn.Type.Results == nil || allowed[fn.Name.Name] {
					continue
				}
				for _, r := range fn.Type.Results.List {
					if s, ok := r.Type.(*ast.StarExpr); ok {
						if id, ok := s.X.(*ast.Ident); ok && id.Name == "Targets" {
							t.Errorf("exported %s returns a *Targets without opening it", fn.Name.Name)
						}
					}
				}
			}
		}
	}
}
