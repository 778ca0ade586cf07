package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/internal/readme"
)

// readmeBlock returns the lines of the first ```sh block under heading in
// the README.
func readmeBlock(t *testing.T, heading string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := readme.Blocks(string(b))
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	for _, b := range blocks {
		if b.Heading == heading && b.Lang == "sh" {
			return strings.Split(strings.TrimSpace(b.Text), "\n")
		}
	}
	t.Fatalf("README: no sh block under %q", heading)
	return nil
}

// runReadmeBlock runs the commands of the README's sh block under heading
// in dir, with the strings of replace replaced (URLs of servers the test
// runs): go build of publish (to dir/publish), and ./publish. Each must
// succeed.
func runReadmeBlock(t *testing.T, heading, dir string, replace *strings.Replacer) {
	t.Helper()
	exe := filepath.Join(dir, "publish")
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	for _, line := range readmeBlock(t, heading) {
		line, _, _ = strings.Cut(line, "#")
		if replace != nil {
			line = replace.Replace(line)
		}
		args := strings.Fields(line)
		if strings.ContainsAny(line, "\"'$`\\|;&<>*?") {
			t.Fatalf("README: %q needs a shell; the test runs plain commands", line)
		}
		var cmd *exec.Cmd
		switch {
		case len(args) == 0:
			continue
		case slices.Equal(args, []string{"go", "build", "-o", "publish", "./examples/publish"}):
			cmd = exec.Command("go", "build", "-o", exe, "./examples/publish")
			cmd.Dir = filepath.Join("..", "..")
		case args[0] == "./publish":
			cmd = exec.Command(exe, args[1:]...)
			cmd.Dir = dir
		default:
			t.Fatalf("README: the test does not know how to run %q", line)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", line, err, out)
		}
	}
}

// TestReadmePublishing runs the README's publishing commands as written, in
// an empty directory holding ./myapp, then checks what they made: the keys
// where the README says, and a repository that latch updates from. The one
// liberty taken: `go build -o publish` writes the binary to that directory,
// not into this checkout.
func TestReadmePublishing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	app := []byte("myapp 1.4.2\n")
	if err := os.WriteFile(filepath.Join(dir, "myapp"), app, 0o755); err != nil {
		t.Fatal(err)
	}
	runReadmeBlock(t, "## Publishing releases", dir, nil)

	// The offline directory holds the root and targets keys, the online one
	// the snapshot and timestamp keys (the rotated timestamp key too, until
	// someone destroys it as publish said).
	for _, d := range []struct {
		dir   string
		roles []string
	}{{"keys", []string{"root", "root", "root", "targets"}}, {"online-keys", []string{"snapshot", "timestamp", "timestamp"}}} {
		names, err := filepath.Glob(filepath.Join(dir, d.dir, "*.pem"))
		if err != nil {
			t.Fatal(err)
		}
		var roles []string
		for _, n := range names {
			role, _, _ := strings.Cut(filepath.Base(n), "-")
			roles = append(roles, role)
		}
		slices.Sort(roles)
		if !slices.Equal(roles, d.roles) {
			t.Errorf("%s holds keys of %q, want %q", d.dir, roles, d.roles)
		}
	}

	srv := httptest.NewServer(http.FileServer(http.Dir(filepath.Join(dir, "repo"))))
	defer srv.Close()
	root, err := os.ReadFile(filepath.Join(dir, "repo", "metadata", "1.root.json"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(client.Config{
		TrustedRoot:  root,
		MetadataURLs: []string{srv.URL + "/metadata/"},
		TargetURLs:   []string{srv.URL + "/targets/"},
		StateDir:     t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Refresh(t.Context()); err != nil {
		t.Fatalf("latch refresh from the README's repository: %v", err)
	}
	tg, err := c.Target(t.Context(), "myapp/1.4.2/linux-amd64")
	if err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), "myapp")
	if err := c.DownloadFile(t.Context(), tg, dest); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(dest); err != nil || !bytes.Equal(got, app) {
		t.Errorf("downloaded %q (%v), want %q", got, err, app)
	}
	if v := c.View().Roles(); v[0].Version != 2 {
		t.Errorf("root v%d after the README's rotation, want v2", v[0].Version)
	}
}
