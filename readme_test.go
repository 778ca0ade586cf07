package latch_test

import (
	"bytes"
	"crypto/sha256"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/internal/readme"
	"github.com/latchsec/latch/internal/simulator"
	"github.com/latchsec/latch/transparency/logwriter"
	"golang.org/x/mod/sumdb/note"
)

func readmeBlocks(t *testing.T) []readme.Block {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := readme.Blocks(string(b))
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	return blocks
}

// goSnippets says how TestReadmeGo runs each ```go block of the README, in
// order. A block with a function name becomes that function's body, with
// the parameters the README names around the block and an error result
// (the harness appends "return nil"); a block without one is a whole
// program, built as it stands. A README block missing here, or one out of
// place, fails the test.
var goSnippets = []struct {
	heading, fn, params string
}{
	{"## Using the client", "usingTheClient", "ctx context.Context, rootJSON []byte"},
	{"### Several processes, one state directory", "openWithDeadline", "ctx context.Context, cfg client.Config"},
	{"## Self-updating your app", "", ""},
	{"## Multiple repositories", "multipleRepositories", "ctx context.Context, mapJSON, vendorRoot, orgRoot []byte, exe, dest string"},
	{"## Release transparency", "releaseTransparency", "cfg *client.Config"},
}

// The placeholders, the only text TestReadmeGo replaces in a block, each a
// Go string literal as the README writes it (in the map file, a JSON
// string). Paths under /var/lib/myapp/ become the same names in a
// directory of the block's own.
const (
	exampleMetadataURL = `"https://updates.example.com/metadata/"`
	exampleTargetsURL  = `"https://updates.example.com/targets/"`
	exampleLogURL      = `"https://updates.example.com/log/"`
	exampleLogKey      = `"example.com/myapp/log+1a2b3c4d+AbCd..."`
	exampleVendorURL   = `"https://updates.vendor.example/"`
	exampleOrgURL      = `"https://tuf.org.example/"`
	examplePathPrefix  = `"/var/lib/myapp/`
)

// exampleOrigin is the log origin the README's policy names.
const exampleOrigin = "example.com/myapp/log"

// placeholders replaces the placeholders in a block with values; paths
// under /var/lib/myapp/ go to dir. Every placeholder must be used by some
// block: used collects them.
func placeholders(t *testing.T, text string, values map[string]string, dir string, used map[string]bool) string {
	t.Helper()
	for _, ph := range []string{exampleMetadataURL, exampleTargetsURL, exampleLogURL, exampleLogKey, exampleVendorURL, exampleOrgURL} {
		if strings.Contains(text, ph) {
			used[ph] = true
			text = strings.ReplaceAll(text, ph, strconv.Quote(values[ph]))
		}
	}
	for {
		start := strings.Index(text, examplePathPrefix)
		if start < 0 {
			return text
		}
		used[examplePathPrefix] = true
		n := strings.IndexByte(text[start+1:], '"')
		if n < 0 {
			t.Fatalf("README: %s... is not a string literal", examplePathPrefix)
		}
		name := text[start+len(examplePathPrefix) : start+1+n]
		text = text[:start] + strconv.Quote(filepath.Join(dir, filepath.FromSlash(name))) + text[start+2+n:]
	}
}

// imports are the packages a wrapped block may use, by name.
var imports = map[string]string{
	"client":  "github.com/latchsec/latch/client",
	"context": "context", "errors": "errors", "fmt": "fmt", "log": "log", "slog": "log/slog",
	"os": "os", "filepath": "path/filepath", "time": "time",
}

// wrap makes a Go file of a block that is a function body: the function
// fn(params) error, importing the packages the block and params refer to.
func wrap(t *testing.T, fn, params, body string) []byte {
	t.Helper()
	src := "package main\n\nfunc " + fn + "(" + params + ") error {\n" + body + "\nreturn nil\n}\n"
	f, err := parser.ParseFile(token.NewFileSet(), fn+".go", src, parser.SkipObjectResolution)
	if err != nil {
		t.Fatalf("README block %s: %v", fn, err)
	}
	var used []string
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok && imports[id.Name] != "" && !slices.Contains(used, imports[id.Name]) {
				used = append(used, imports[id.Name])
			}
		}
		return true
	})
	var imp strings.Builder
	for _, p := range used {
		imp.WriteString("import " + strconv.Quote(p) + "\n")
	}
	return []byte(strings.Replace(src, "\n\n", "\n\n"+imp.String()+"\n", 1))
}

// goBuild builds a program from files with the go command of this test,
// inside this module, so that it uses exactly this checkout of latch.
func goBuild(t *testing.T, out string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", append([]string{"build", "-o", out}, args...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", strings.Join(args, " "), err, b)
	}
}

// run runs a program, which must succeed, and returns its standard output.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(name), strings.Join(args, " "), err, &stdout, &stderr)
	}
	return stdout.String()
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, name string, b []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, b, mode); err != nil {
		t.Fatal(err)
	}
}

// TestReadmeGo compiles and runs every ```go block of README.md as written,
// against repositories and a transparency log on loopback, and checks what
// each did. Blocks that are function bodies run in one program (wrapped as
// goSnippets says, with the harness in testdata/readme); the self-update
// program is built with a plain go build, published as release 1.4.3 (built
// with -ldflags), and has to replace its own executable with it through
// Apply. Only the placeholders above are replaced.
func TestReadmeGo(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the transparency log writer needs a POSIX file system")
	}
	t.Parallel()
	var blocks []readme.Block
	for _, b := range readmeBlocks(t) {
		if b.Lang == "go" {
			blocks = append(blocks, b)
		}
	}
	if len(blocks) != len(goSnippets) {
		t.Fatalf("README.md has %d go blocks, goSnippets covers %d: say how to run each", len(blocks), len(goSnippets))
	}
	for i, b := range blocks {
		if b.Heading != goSnippets[i].heading {
			t.Fatalf("README.md:%d: go block under %q, goSnippets expects one under %q", b.Line, b.Heading, goSnippets[i].heading)
		}
	}
	var mapJSON string
	for _, b := range readmeBlocks(t) {
		if b.Lang == "json" && b.Heading == "## Multiple repositories" {
			mapJSON = b.Text
		}
	}

	// The repositories: the vendor's, which the single-repository blocks
	// use too, and the organisation's for the map. The programs read the
	// real clock.
	tmp := t.TempDir()
	now := time.Now()
	vendor := simulator.New(t, simulator.Options{Now: now, ConsistentSnapshot: true, Seed: "vendor"})
	org := simulator.New(t, simulator.Options{Now: now, ConsistentSnapshot: true, Seed: "org"})
	vendorMeta, vendorTargets := vendor.Serve()
	orgMeta, _ := org.Serve()
	rootFile := filepath.Join(tmp, "root.json")
	writeFile(t, rootFile, vendor.TrustedRoot(), 0o644)
	orgRootFile := filepath.Join(tmp, "org.root.json")
	writeFile(t, orgRootFile, org.TrustedRoot(), 0o644)

	// The log, with the README's origin.
	skey, vkey, err := note.GenerateKey(nil, exampleOrigin)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	logDir := filepath.Join(tmp, "log")
	logSrv := httptest.NewServer(http.FileServer(http.Dir(logDir)))
	t.Cleanup(logSrv.Close)

	values := map[string]string{
		exampleMetadataURL: vendorMeta,
		exampleTargetsURL:  vendorTargets,
		exampleLogURL:      logSrv.URL + "/",
		exampleLogKey:      vkey,
		exampleVendorURL:   strings.TrimSuffix(vendorMeta, "metadata/"),
		exampleOrgURL:      strings.TrimSuffix(orgMeta, "metadata/"),
	}
	used := map[string]bool{}

	// Build: the self-update program as written (plain go build), its
	// release 1.4.3, and the other blocks in one program.
	snippets := filepath.Join(tmp, "snippets")
	harness := readFile(t, filepath.Join("testdata", "readme", "harness.go"))
	writeFile(t, filepath.Join(snippets, "harness.go"), harness, 0o644)
	files := []string{filepath.Join(snippets, "harness.go")}
	var selfUpdate string
	for i, b := range blocks {
		s := goSnippets[i]
		if s.fn == "" {
			selfUpdate = placeholders(t, b.Text, values, filepath.Join(tmp, "selfupdate"), used)
			continue
		}
		name := filepath.Join(snippets, s.fn+".go")
		writeFile(t, name, wrap(t, s.fn, s.params, placeholders(t, b.Text, values, filepath.Join(tmp, s.fn), used)), 0o644)
		files = append(files, name)
	}
	mapJSON = placeholders(t, mapJSON, values, tmp, used)
	for _, ph := range []string{exampleMetadataURL, exampleTargetsURL, exampleLogURL, exampleLogKey, exampleVendorURL, exampleOrgURL, examplePathPrefix} {
		if !used[ph] {
			t.Errorf("no README block uses the placeholder %s: remove it from the test", ph)
		}
	}
	writeFile(t, filepath.Join(tmp, "map.json"), []byte(mapJSON), 0o644)
	selfDir := filepath.Join(tmp, "selfupdate-src")
	writeFile(t, filepath.Join(selfDir, "main.go"), []byte(selfUpdate), 0o644)
	writeFile(t, filepath.Join(selfDir, "root.json"), vendor.TrustedRoot(), 0o644)
	exe := ""
	if runtime.GOOS == "windows" {
		exe = ".exe"
	}
	dev := filepath.Join(tmp, "build", "myapp-dev"+exe)
	release := filepath.Join(tmp, "build", "myapp-1.4.3"+exe)
	goBuild(t, dev, filepath.Join(selfDir, "main.go"))
	goBuild(t, release, "-ldflags", "-X main.version=1.4.3", filepath.Join(selfDir, "main.go"))
	prog := filepath.Join(tmp, "build", "snippets"+exe)
	goBuild(t, prog, files...)

	// Publish: myapp 1.4.2 for linux-amd64 (a file the client blocks fetch;
	// logged), and 1.4.3 for this platform, the self-update release (not
	// logged), in both repositories.
	app142 := []byte("myapp 1.4.2 for linux-amd64\n")
	first, err := logwriter.Append(t.Context(), logDir, signer, logEntry(t, "myapp/1.4.2/linux-amd64", app142))
	if err != nil {
		t.Fatal(err)
	}
	releaseBytes := readFile(t, release)
	releasePath := "myapp/1.4.3/" + runtime.GOOS + "-" + runtime.GOARCH + exe
	for _, r := range []*simulator.Repo{vendor, org} {
		custom := map[string]any{"version": "1.4.2", "channels": []string{"stable"}}
		if r == vendor {
			custom["tlog"] = map[string]any{"index": first}
		}
		r.AddTarget("myapp/1.4.2/linux-amd64", app142, custom)
		r.AddTarget(releasePath, releaseBytes, map[string]any{"version": "1.4.3", "channels": []string{"stable"}})
		r.Publish()
	}
	common := []string{"-root", rootFile, "-metadata-url", vendorMeta, "-targets-url", vendorTargets}

	t.Run("UsingTheClient", func(t *testing.T) {
		out := run(t, prog, "-root", rootFile, "usingTheClient")
		if want := "myapp/1.4.2/linux-amd64 28 stale: false\n"; out != want {
			t.Errorf("printed %q, want %q", out, want)
		}
		if got := readFile(t, filepath.Join(tmp, "usingTheClient", "new")); !bytes.Equal(got, app142) {
			t.Errorf("downloaded %q, want %q", got, app142)
		}
	})

	t.Run("OpenWithDeadline", func(t *testing.T) {
		// Holding the state directory while the block starts: it waits,
		// and opens it once this client closes.
		state := filepath.Join(tmp, "openWithDeadline", "state")
		c, err := client.New(client.Config{TrustedRoot: vendor.TrustedRoot(), MetadataURLs: []string{vendorMeta}, StateDir: state})
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(prog, append(append([]string{}, common...), "-state", state, "openWithDeadline")...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		c.Close()
		if err := cmd.Wait(); err != nil {
			t.Fatalf("openWithDeadline: %v\n%s", err, &out)
		}
	})

	t.Run("SelfUpdate", func(t *testing.T) {
		app := filepath.Join(tmp, "app", "myapp"+exe)
		writeFile(t, app, readFile(t, dev), 0o755)
		if v := run(t, app, "--version"); v != "dev\n" {
			t.Fatalf("the plain build says it is %q, want dev", v)
		}
		run(t, app)
		if !bytes.Equal(readFile(t, app), releaseBytes) {
			t.Fatal("the executable is not release 1.4.3 after it ran")
		}
		if v := run(t, app, "--version"); v != "1.4.3\n" {
			t.Errorf("the updated executable says it is %q, want 1.4.3", v)
		}
		run(t, app) // up to date: it stays
		if !bytes.Equal(readFile(t, app), releaseBytes) {
			t.Error("the executable changed on the run after the update")
		}
	})

	t.Run("MultipleRepositories", func(t *testing.T) {
		app := filepath.Join(tmp, "multi", "myapp"+exe)
		writeFile(t, app, readFile(t, dev), 0o755)
		dest := filepath.Join(tmp, "multi", "download")
		out := run(t, prog, "-map", filepath.Join(tmp, "map.json"),
			"-vendor-root", rootFile, "-org-root", orgRootFile, "-exe", app, "-dest", dest, "multipleRepositories")
		for _, want := range []string{"myapp 1.4.3 updated: true\n", "myapp/1.4.2/linux-amd64 agreed by [vendor org]\n", "\nvendor refreshed at ", "\norg refreshed at "} {
			if !strings.Contains(out, want) {
				t.Errorf("printed\n%s\nwant %q in it", out, want)
			}
		}
		if !bytes.Equal(readFile(t, app), releaseBytes) {
			t.Error("the executable is not release 1.4.3")
		}
		if got := readFile(t, dest); !bytes.Equal(got, app142) {
			t.Errorf("downloaded %q, want %q", got, app142)
		}
	})

	t.Run("ReleaseTransparency", func(t *testing.T) {
		out := run(t, prog, append(append([]string{}, common...), "-state", filepath.Join(tmp, "releaseTransparency", "state"),
			"-dest", filepath.Join(tmp, "releaseTransparency", "download"),
			"-covered", "myapp/1.4.2/linux-amd64"+string(filepath.ListSeparator)+releasePath, "releaseTransparency")...)
		want := "myapp/1.4.2/linux-amd64: downloaded true, not logged false\n" + releasePath + ": downloaded false, not logged true\n"
		if out != want {
			t.Errorf("printed\n%s\nwant\n%s", out, want)
		}
	})
}

// logEntry is the log entry of a release of data at path, in the
// repository the policy names by default, its origin.
func logEntry(t *testing.T, path string, data []byte) []byte {
	t.Helper()
	b, err := client.LogEntry{Repository: exampleOrigin, Path: path, Length: int64(len(data)), SHA256: sha256.Sum256(data)}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
