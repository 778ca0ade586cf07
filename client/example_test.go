package client_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/internal/simulator"
)

//go:generate go test -run TestExampleRepository -update

var update = flag.Bool("update", false, "rewrite testdata/example from the simulator")

// exampleMetadata are the metadata files of testdata/example, by their
// path below it.
var exampleMetadata = []string{
	"metadata/1.root.json",
	"metadata/timestamp.json",
	"metadata/2.snapshot.json",
	"metadata/2.targets.json",
}

// exampleTargets are the targets of testdata/example: a plain file, and
// releases of myapp by the release convention.
var exampleTargets = []struct {
	path, data string
	custom     map[string]any
}{
	{"app/1.0/linux-amd64", "hello from app 1.0\n", map[string]any{"version": "1.0.0"}},
	{"myapp/1.4.2/linux-amd64", "myapp 1.4.2\n", map[string]any{"version": "1.4.2", "channels": []string{"stable", "beta"}}},
	{"myapp/1.5.0-rc.1/linux-amd64", "myapp 1.5.0-rc.1\n", map[string]any{"version": "1.5.0-rc.1", "channels": []string{"beta"}}},
}

// TestExampleRepository is the generator of testdata/example, the
// repository Example serves: fixed keys (Seed), fixed clock, consistent
// snapshots, pretty-printed. Without -update it checks that the committed
// files are exactly what the simulator makes.
func TestExampleRepository(t *testing.T) {
	t.Parallel()
	repo := simulator.New(t, simulator.Options{ConsistentSnapshot: true, Pretty: true, Seed: "latch example"})
	for _, tg := range exampleTargets {
		repo.AddTarget(tg.path, []byte(tg.data), tg.custom)
	}
	repo.Publish()
	readme := []byte(`# Example repository

Made by TestExampleRepository (example_test.go): ` + "`go generate ./client`" + ` rewrites it.
Served by Example with http.FileServer: metadata under metadata/, targets under targets/.

Expected at the reference time 2030-01-01T00:00:00Z, starting from metadata/1.root.json:
root v1 (2.root.json is absent: 404), timestamp v2, snapshot v2, targets v2, and
target app/1.0/linux-amd64 (19 bytes, custom {"version":"1.0.0"}) downloads and verifies.
Releases of myapp for linux-amd64: 1.4.2 in channels stable and beta, 1.5.0-rc.1 in beta.
The timestamp expires at 2030-01-02T00:00:00Z.
`)
	want := map[string][]byte{"README.md": readme}
	for _, name := range exampleMetadata {
		want[name] = repo.Bytes(filepath.Base(name))
	}
	for _, tg := range exampleTargets {
		name := repo.TargetName(tg.path)
		want[name] = repo.Bytes(name)
	}
	for name, b := range want {
		p := filepath.Join("testdata", "example", filepath.FromSlash(name))
		if *update {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, b) {
			t.Errorf("%s is not what the generator makes (%v): run go generate ./client", p, err)
		}
	}
}

// exampleRepo serves testdata/example over HTTP for the examples: it
// returns the server's URL, the root the application ships, a new directory
// for the client's files, and done, which stops the server and removes the
// directory.
func exampleRepo() (url string, rootJSON []byte, dir string, done func()) {
	return exampleServe(http.FileServer(http.Dir("testdata/example")))
}

// exampleTamperedRepo is exampleRepo with a mirror that alters every
// target it serves.
func exampleTamperedRepo() (url string, rootJSON []byte, dir string, done func()) {
	files := http.FileServer(http.Dir("testdata/example"))
	return exampleServe(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/targets/") {
			files.ServeHTTP(w, r)
			return
		}
		b, err := os.ReadFile(filepath.Join("testdata", "example", filepath.FromSlash(r.URL.Path)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		b[0] ^= 1
		w.Write(b)
	}))
}

func exampleServe(h http.Handler) (url string, rootJSON []byte, dir string, done func()) {
	rootJSON, err := os.ReadFile("testdata/example/metadata/1.root.json")
	if err != nil {
		log.Fatal(err)
	}
	dir, err = os.MkdirTemp("", "latch-example-")
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(h)
	return srv.URL, rootJSON, dir, func() {
		srv.Close()
		os.RemoveAll(dir)
	}
}

// exampleNow is the examples' clock: testdata/example's reference time.
func exampleNow() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }

// exampleExecutable writes the application's executable, build 1.4.1, in
// dir and returns its path: in an application, os.Executable().
func exampleExecutable(dir string) string {
	exe := filepath.Join(dir, "bin", "myapp")
	if err := os.MkdirAll(filepath.Dir(exe), 0o755); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(exe, []byte("myapp 1.4.1\n"), 0o755); err != nil {
		log.Fatal(err)
	}
	return exe
}

// Example refreshes from a small repository, looks a target up and
// downloads it. The repository is testdata/example, served over HTTP; the
// application ships its first root.
func Example() {
	url, rootJSON, dir, done := exampleRepo()
	defer done()

	c, err := client.New(client.Config{
		TrustedRoot:  rootJSON,
		MetadataURLs: []string{url + "/metadata/"},
		TargetURLs:   []string{url + "/targets/"},
		StateDir:     filepath.Join(dir, "state"),
	}, client.WithClock(exampleNow))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	ctx := context.Background()
	if err := c.Refresh(ctx); err != nil {
		log.Fatal(err)
	}
	for _, r := range c.View().Roles() {
		fmt.Printf("%s v%d\n", r.Role, r.Version)
	}

	t, err := c.Target(ctx, "app/1.0/linux-amd64")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(t.Path(), t.Length(), string(t.Custom()))
	dest := filepath.Join(dir, "app")
	if err := c.DownloadFile(ctx, t, dest); err != nil {
		log.Fatal(err)
	}
	b, err := os.ReadFile(dest)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(b))

	_, err = c.Target(ctx, "app/2.0/linux-amd64")
	fmt.Println("2.0 listed by no role:", errors.Is(err, client.ErrUnknownTarget))
	// Output:
	// root v1
	// timestamp v2
	// snapshot v2
	// targets v2
	// app/1.0/linux-amd64 19 {"version":"1.0.0"}
	// hello from app 1.0
	// 2.0 listed by no role: true
}
