package latch_test

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestGodocStandsAlone checks that `go doc -all` of every public package
// (not internal, not a command) refers to nothing a user doesn't have: a
// path into internal/ or an identifier of an internal package, and files
// outside this repository (the maintainers' design notes, a link that
// leaves the repository).
func TestGodocStandsAlone(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-f", `{{if and .GoFiles (ne .Name "main")}}{{.ImportPath}} {{.Name}}{{end}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var public, internal []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, name, _ := strings.Cut(line, " ")
		if strings.Contains(path, "/internal/") {
			internal = append(internal, name)
		} else {
			public = append(public, path)
		}
	}
	if len(public) < 7 || len(internal) == 0 {
		t.Fatalf("public packages %q, internal %q: expected client, metadata, verify, rollback, mirror, install, transparency at least", public, internal)
	}
	leak := regexp.MustCompile(`internal/|\b(` + strings.Join(internal, "|") + `)\.[A-Z]|DESIGN\.md|\.\./shared|\bshared/|\(\.\./`)
	for _, p := range public {
		doc, err := exec.Command("go", "doc", "-all", p).CombinedOutput()
		if err != nil {
			t.Fatalf("go doc -all %s: %v\n%s", p, err, doc)
		}
		for i, line := range strings.Split(string(doc), "\n") {
			if m := leak.FindString(line); m != "" {
				t.Errorf("go doc -all %s, line %d refers to %q, which users don't have:\n\t%s", p, i+1, m, strings.TrimSpace(line))
			}
		}
	}
}
