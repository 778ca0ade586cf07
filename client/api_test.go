package client_test

import (
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestPublicAPIStaysPublic: what go doc shows of the public packages names
// nothing a user can't reach: no declaration refers to a package under
// internal/ (an error a caller should match, a type a caller should
// use), and no comment cites an internal package or a file outside this
// repository.
func TestPublicAPIStaysPublic(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{".", "../metadata", "../verify", "../rollback", "../mirror", "../install", "../transparency", "../auditlog"} {
		fset := token.NewFileSet()
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var files []*ast.File
		imports := map[string]string{} // name in the source -> import path
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, f)
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				name := path.Base(p)
				if imp.Name != nil {
					name = imp.Name.Name
				}
				imports[name] = p
			}
		}
		pkg, err := doc.NewFromFiles(fset, files, "github.com/latchsec/latch/"+filepath.Base(dir))
		if err != nil {
			t.Fatal(err)
		}
		where := func(n ast.Node) string { return fset.Position(n.Pos()).String() }
		code := func(n ast.Node) {
			ast.Inspect(n, func(n ast.Node) bool {
				if sel, ok := n.(*ast.SelectorExpr); ok {
					if id, ok := sel.X.(*ast.Ident); ok && strings.Contains(imports[id.Name], "/internal/") {
						t.Errorf("%s: exported declaration refers to %s.%s (%s)", where(sel), id.Name, sel.Sel.Name, imports[id.Name])
					}
				}
				return true
			})
		}
		text := func(what, s string) {
			for _, bad := range []string{"internal/", "DESIGN.md", "../shared"} {
				if strings.Contains(s, bad) {
					t.Errorf("%s: %s: documentation cites %q", dir, what, bad)
				}
			}
		}
		text("package", pkg.Doc)
		values := func(vs []*doc.Value) {
			for _, v := range vs {
				code(v.Decl)
				text(strings.Join(v.Names, ", "), v.Doc)
			}
		}
		funcs := func(fs []*doc.Func) {
			for _, f := range fs {
				code(f.Decl.Type)
				text(f.Name, f.Doc)
			}
		}
		values(pkg.Consts)
		values(pkg.Vars)
		funcs(pkg.Funcs)
		for _, typ := range pkg.Types {
			code(typ.Decl)
			text(typ.Name, typ.Doc)
			values(typ.Consts)
			values(typ.Vars)
			funcs(typ.Funcs)
			funcs(typ.Methods)
		}
	}
}
