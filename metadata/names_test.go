package metadata

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestEncodeRoleName(t *testing.T) {
	tests := []struct{ role, enc string }{
		{"targets", "targets"},
		{"role-1_a", "role-1_a"},
		{".", "%2E"},
		{"..", "%2E%2E"},
		{"../a", "%2E%2E%2Fa"},
		{"a/b", "a%2Fb"},
		{`a\b`, "a%5Cb"},
		{"ö", "%C3%B6"},
		{"A", "%41"},
		{"a", "a"},
		{"%41", "%2541"},
		{"a b", "a%20b"},
		{"bin-0a", "bin-0a"},
		{"registry.npmjs.org", "registry%2Enpmjs%2Eorg"},
		{"C:x", "%43%3Ax"},
		{"CON", "%43%4F%4E"},
		{"\x00", "%00"},
		{strings.Repeat("a", 200), strings.Repeat("a", 200)},
	}
	for _, tt := range tests {
		enc, err := EncodeRoleName(tt.role)
		if err != nil || enc != tt.enc {
			t.Errorf("EncodeRoleName(%q) = %q, %v, want %q", tt.role, enc, err, tt.enc)
			continue
		}
		dec, err := DecodeRoleName(enc)
		if err != nil || dec != tt.role {
			t.Errorf("DecodeRoleName(%q) = %q, %v, want %q", enc, dec, err, tt.role)
		}
		checkFileName(t, enc)
	}
	for _, role := range []string{"", strings.Repeat("a", 201), strings.Repeat("ö", 34), strings.Repeat(".", 67)} {
		if enc, err := EncodeRoleName(role); !errors.Is(err, ErrRoleName) || enc != "" {
			t.Errorf("EncodeRoleName(%q) = %q, %v, want ErrRoleName", role, enc, err)
		}
	}
}

// checkFileName asserts that enc is one plain file name on every OS, and
// differs from other names even on case-insensitive file systems.
func checkFileName(t *testing.T, enc string) {
	t.Helper()
	if enc == "." || enc == ".." || filepath.Base(enc) != enc || !filepath.IsLocal(enc) {
		t.Errorf("%q is not a plain file name", enc)
	}
	for _, c := range enc {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '%' || 'A' <= c && c <= 'F') {
			t.Errorf("%q holds %q", enc, c)
		}
	}
}

// TestEncodeRoleNameInjective: distinct role names never share a file name,
// even where file names are compared without case.
func TestEncodeRoleNameInjective(t *testing.T) {
	roles := []string{"a", "A", "ab", "aB", "Ab", "AB", "%61", "%41", "a%", ".", "..", "...", "%2E", "ö", "Ö", "o", "a.b", "a-b", "a_b", "a b", "a/b", "a\\b"}
	seen := map[string]string{}
	for _, role := range roles {
		enc, err := EncodeRoleName(role)
		if err != nil {
			t.Fatalf("EncodeRoleName(%q): %v", role, err)
		}
		key := strings.ToLower(enc)
		if prev, ok := seen[key]; ok {
			t.Errorf("%q and %q both encode to %q (ignoring case)", prev, role, enc)
		}
		seen[key] = role
	}
}

func TestDecodeRoleNameRefuses(t *testing.T) {
	for _, enc := range []string{
		"",        // empty
		"A",       // EncodeRoleName escapes uppercase letters
		"a.b",     // and dots
		"%2e",     // lowercase hex escape
		"%c3%b6",  // lowercase hex escapes
		"%61",     // an escape of a byte that is written as itself
		"%zz",     // not an escape
		"%4",      // truncated escape
		"a%",      // truncated escape
		"a/b",     // raw separator
		"%2E%2E/", // raw separator
		strings.Repeat("a", 201),
	} {
		if role, err := DecodeRoleName(enc); !errors.Is(err, ErrRoleName) || role != "" {
			t.Errorf("DecodeRoleName(%q) = %q, %v, want ErrRoleName", enc, role, err)
		}
	}
	// Role names are arbitrary strings, not necessarily UTF-8.
	if role, err := DecodeRoleName("%C3"); err != nil || role != "\xc3" {
		t.Errorf("DecodeRoleName(%%C3) = %q, %v", role, err)
	}
}

func TestRoleURLName(t *testing.T) {
	tests := []struct{ role, want string }{
		{"targets", "targets"},
		{"../a", "..%2Fa"},
		{".", "."},
		{"ö", "%C3%B6"},
		{"a b", "a%20b"},
		{"a?b#c", "a%3Fb%23c"},
		{"a%2Fb", "a%252Fb"},
		{"registry.npmjs.org", "registry.npmjs.org"},
	}
	for _, tt := range tests {
		if got := RoleURLName(tt.role); got != tt.want {
			t.Errorf("RoleURLName(%q) = %q, want %q", tt.role, got, tt.want)
		}
	}
}

func TestLocalPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "targets")
	good := []string{
		"a",
		"a/b/c.txt",
		"app/1.0/linux-amd64",
		"ö/ü.txt",
		".hidden",
		"a..b",
		"..a",
		"a b.txt",
		"CONSOLE",
		"con-fig",
		"com10",
		"lpt",
		"COM0x",
		"nul_",
		"registry.npmjs.org/keys.json",
		strings.Repeat("x", 300),
	}
	for _, target := range good {
		p, err := LocalPath(dir, target)
		if err != nil {
			t.Errorf("LocalPath(%q): %v", target, err)
			continue
		}
		if want := filepath.Join(dir, filepath.FromSlash(target)); p != want {
			t.Errorf("LocalPath(%q) = %q, want %q", target, p, want)
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || !filepath.IsLocal(rel) {
			t.Errorf("LocalPath(%q) = %q escapes %q", target, p, dir)
		}
	}
	bad := []string{
		"",
		"../x",
		"..",
		".",
		"a/../../x",
		"a/..",
		"/abs",
		"/",
		"a//b",
		"a/",
		"a/./b",
		"./a",
		"C:x",
		"C:/x",
		"a:b",
		`a\b`,
		`..\x`,
		`\\server\share`,
		"a\x00b",
		"CON",
		"con",
		"con.txt",
		"Con.tar.gz",
		"dir/aux.c",
		"NUL",
		"PRN",
		"LPT1",
		"lpt9.log",
		"COM1",
		"COM0",
		"COM¹",
		"CON ",
		"CONIN$",
		"conout$.txt",
		"a.",
		"a ",
		"dir./b",
		"a\nb",
		"a\tb",
		"a\x1fb",
		"a\x7fb",
		"\xff",
		"a/\xc3",
	}
	for _, target := range bad {
		if p, err := LocalPath(dir, target); !errors.Is(err, ErrUnsafePath) || p != "" {
			t.Errorf("LocalPath(%q) = %q, %v, want ErrUnsafePath", target, p, err)
		}
	}
}
