package client_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/verify"
)

// The real-world repositories in ../../shared/interop (see their
// MANIFEST.md files), served as they are with http.FileServer. They are
// read in place, never copied into this repository.
const interopDir = "../../shared/interop"

// interopSet returns the directory of one set, or skips the test.
func interopSet(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join(interopDir, name)
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST.md")); err != nil {
		t.Skipf("interop set %s not available (%v): the shared interop corpus is not checked out beside this repository", dir, err)
	}
	return dir
}

// fileServer serves a directory on 127.0.0.1 and logs the escaped request
// paths.
type fileServer struct {
	*httptest.Server
	mu    sync.Mutex
	paths []string
}

// serveDir serves dir; alias maps escaped request paths to files of dir
// served instead.
func serveDir(t *testing.T, dir string, alias map[string]string) *fileServer {
	t.Helper()
	fs := &fileServer{}
	files := http.FileServer(http.Dir(dir))
	fs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.mu.Lock()
		fs.paths = append(fs.paths, r.URL.EscapedPath())
		fs.mu.Unlock()
		if name, ok := alias[r.URL.EscapedPath()]; ok {
			http.ServeFile(w, r, filepath.Join(dir, name))
			return
		}
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(fs.Close)
	return fs
}

func (fs *fileServer) requests() []string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return slices.Clone(fs.paths)
}

// interopClient opens a client with the trusted root in file root, the
// mirrors given and a fixed clock.
func interopClient(t *testing.T, root, metaURL, targetsURL string, now time.Time) (*client.Client, string) {
	t.Helper()
	rootJSON, err := os.ReadFile(root)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := client.Config{TrustedRoot: rootJSON, MetadataURLs: []string{metaURL}, StateDir: dir}
	if targetsURL != "" {
		cfg.TargetURLs = []string{targetsURL}
	}
	c, err := client.New(cfg, client.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, dir
}

// wantTarget looks path up, checks its role, length and sha256, and, if the
// client has target mirrors, downloads it and checks the file.
func wantTarget(t *testing.T, c *client.Client, path, role string, length int64, sha string, download bool) *client.Target {
	t.Helper()
	tg, err := c.Target(context.Background(), path)
	if err != nil {
		t.Fatalf("Target(%q): %v", path, err)
	}
	if tg.Role() != role || tg.Length() != length || hex.EncodeToString(tg.Hashes()["sha256"]) != sha {
		t.Errorf("%s: role %q length %d sha256 %x, want %q %d %s", path, tg.Role(), tg.Length(), tg.Hashes()["sha256"], role, length, sha)
	}
	if download {
		dest := filepath.Join(t.TempDir(), "file")
		if err := c.DownloadFile(context.Background(), tg, dest); err != nil {
			t.Fatalf("DownloadFile(%q): %v", path, err)
		}
		b, err := os.ReadFile(dest)
		sum := sha256.Sum256(b)
		if err != nil || int64(len(b)) != length || hex.EncodeToString(sum[:]) != sha {
			t.Errorf("%s: downloaded %d bytes sha256 %x (%v)", path, len(b), sum, err)
		}
	}
	return tg
}

func refreshOK(t *testing.T, c *client.Client) {
	t.Helper()
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
}

func wantTop(t *testing.T, c *client.Client, want map[string]int64) {
	t.Helper()
	if got := versions(c.View()); !maps(got, want) {
		t.Errorf("versions %v, want %v", got, want)
	}
}

var (
	file1SHA = "65b8c67f51c993d898250f40aa57a317d854900b3a04895464313e48785440da"
	file2SHA = "452ce8308500d83ef44248d8e6062359211992fd837ea9e370e561efb1a4ca99"
	file3SHA = "141f740f53781d1ca54b8a50af22cbf74e44c21a998fa2a8a05aaac2c002886b"
)

// TestInteropPythonTUF: python-tuf's test repository (RSA-3072 root, ed25519
// roles, sha256+sha512, delegation to role1) and its fishy role names.
func TestInteropPythonTUF(t *testing.T) {
	t.Parallel()
	dir := interopSet(t, "python-tuf")
	ref := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

	t.Run("repository", func(t *testing.T) {
		t.Parallel()
		srv := serveDir(t, dir, nil)
		base := srv.URL + "/repository_data/repository/"
		c, _ := interopClient(t, filepath.Join(dir, "repository_data/repository/metadata/1.root.json"), base+"metadata/", base+"targets/", ref)
		refreshOK(t, c)
		wantTop(t, c, top(1, 1, 1, 1))
		tg := wantTarget(t, c, "file1.txt", "targets", 31, file1SHA, true)
		var custom map[string]string
		if err := json.Unmarshal(tg.Custom(), &custom); err != nil || custom["file_permissions"] != "0644" {
			t.Errorf("file1.txt custom %s", tg.Custom())
		}
		if len(tg.Hashes()["sha512"]) != 64 {
			t.Error("file1.txt: sha512 not listed")
		}
		wantTarget(t, c, "file2.txt", "targets", 39, file2SHA, true)
		wantTarget(t, c, "file3.txt", "role1", 28, file3SHA, true)
		if _, err := c.Target(context.Background(), "file4.txt"); !errors.Is(err, client.ErrUnknownTarget) {
			t.Errorf("file4.txt: %v, want ErrUnknownTarget", err)
		}
		if !slices.Contains(srv.requests(), "/repository_data/repository/metadata/2.root.json") {
			t.Error("no probe for 2.root.json")
		}
	})

	// Role names "../a", "." and "ö" are encoded in URLs; "../a" has no
	// file under its encoded name, so its fetch is a 404 and 1.a.json,
	// outside metadata/, is never requested.
	fishy := func(t *testing.T, alias map[string]string) (*client.Client, *fileServer, string, error) {
		t.Helper()
		srv := serveDir(t, dir, alias)
		base := srv.URL + "/repository_data/fishy_rolenames/"
		c, state := interopClient(t, filepath.Join(dir, "repository_data/fishy_rolenames/metadata/1.root.json"), base+"metadata/", "", ref)
		refreshOK(t, c)
		wantTop(t, c, top(1, 2, 2, 1))
		_, err := c.Target(context.Background(), "anything")
		if err == nil {
			t.Fatal("Target(anything) succeeded")
		}
		for _, p := range srv.requests() {
			if strings.HasSuffix(p, "/1.a.json") || strings.Contains(p, "/../") {
				t.Errorf("requested %s", p)
			}
		}
		return c, srv, state, err
	}
	const dotdotA = "/repository_data/fishy_rolenames/metadata/1...%2Fa.json"

	t.Run("fishy role names", func(t *testing.T) {
		t.Parallel()
		_, srv, state, err := fishy(t, nil)
		// The search could not be completed: not an unknown target.
		wantIs(t, err, client.ErrNotFound)
		wantIsNot(t, err, client.ErrUnknownTarget)
		me := wantAs[*client.MirrorError](t, err)
		if me.File != "1...%2Fa.json" {
			t.Errorf("MirrorError for %q, want the encoded name of ../a", me.File)
		}
		if !slices.Contains(srv.requests(), dotdotA) {
			t.Errorf("requests %q: no request for ../a by its encoded name", srv.requests())
		}
		entries, _ := os.ReadDir(state)
		for _, e := range entries {
			if strings.Contains(e.Name(), "a.json") {
				t.Errorf("cached %s", e.Name())
			}
		}
	})

	// Served under the encoded name, the three roles load and are cached
	// under names that cannot act as paths.
	t.Run("fishy role names served encoded", func(t *testing.T) {
		t.Parallel()
		_, srv, state, err := fishy(t, map[string]string{dotdotA: "repository_data/fishy_rolenames/1.a.json"})
		wantIs(t, err, client.ErrUnknownTarget)
		var me *client.MirrorError
		if errors.As(err, &me) {
			t.Errorf("a role failed to load: %v", err)
		}
		for _, want := range []string{dotdotA, "/repository_data/fishy_rolenames/metadata/1...json", "/repository_data/fishy_rolenames/metadata/1.%C3%B6.json"} {
			if !slices.Contains(srv.requests(), want) {
				t.Errorf("no request for %s", want)
			}
		}
		for _, name := range []string{"%2E%2E%2Fa.json", "%2E.json", "%C3%B6.json"} {
			if _, err := os.Stat(filepath.Join(state, name)); err != nil {
				t.Errorf("cache file %s: %v", name, err)
			}
		}
	})
}

// TestInteropGoTUF: go-tuf's test repository (RSA-PSS top-level keys,
// consistent snapshots), its unverifiable 1.root.json, and the multirepo
// example.
func TestInteropGoTUF(t *testing.T) {
	t.Parallel()
	dir := interopSet(t, "go-tuf")
	ref := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

	t.Run("repository", func(t *testing.T) {
		t.Parallel()
		srv := serveDir(t, filepath.Join(dir, "served-internal-repository_data"), nil)
		c, _ := interopClient(t, filepath.Join(dir, "served-internal-repository_data/1.root.json"), srv.URL+"/", srv.URL+"/targets/", ref)
		refreshOK(t, c)
		wantTop(t, c, top(1, 1, 1, 1))
		wantTarget(t, c, "file1.txt", "targets", 31, file1SHA, true)
		tg := wantTarget(t, c, "file3.txt", "role1", 28, file3SHA, true)
		if ch := tg.Chain(); len(ch) != 2 || ch[1].Version != 1 {
			t.Errorf("file3.txt chain %+v", ch)
		}
		if _, err := c.Target(context.Background(), "file2.txt"); !errors.Is(err, client.ErrUnknownTarget) {
			t.Errorf("file2.txt: %v, want ErrUnknownTarget", err)
		}
	})

	t.Run("unverifiable root", func(t *testing.T) {
		t.Parallel()
		root, err := os.ReadFile(filepath.Join(dir, "internal/testutils/repository_data/repository/metadata/1.root.json"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = client.New(client.Config{TrustedRoot: root, MetadataURLs: []string{"http://127.0.0.1:1/"}, StateDir: t.TempDir()})
		wantIs(t, err, client.ErrThreshold)
		if te := wantAs[*verify.ThresholdError](t, err); te.Role != "root" || te.Valid != 0 || te.Threshold != 1 {
			t.Errorf("ThresholdError %+v", te)
		}
	})

	t.Run("multirepo", func(t *testing.T) {
		t.Parallel()
		srv := serveDir(t, dir, nil)
		base := srv.URL + "/examples/multirepo/repository/"
		c, _ := interopClient(t, filepath.Join(dir, "examples/multirepo/client/root.json"), base+"metadata/", base+"targets/", ref)
		refreshOK(t, c)
		wantTop(t, c, top(1, 1, 1, 1))
		const sigstoreRoot = "e2a930b2d1d4053dd56e8faf66fd113658545d522e35d222ccf58fea87ccccf4"
		wantTarget(t, c, "map.json", "targets", 596, "562fc7cffe872542a430342995998546e3949dc3acbe7d37668dc76d657032ff", true)
		wantTarget(t, c, "sigstore-tuf-root/root.json", "targets", 6388, sigstoreRoot, true)
		wantTarget(t, c, "staging/root.json", "targets", 6388, sigstoreRoot, true)
	})
}

// TestInteropSigstore: Sigstore's production repository (ECDSA P-256, root
// v5 to v15 with placeholder signatures and mixed encodings, a terminating
// delegation, legacy roles in snapshot that nothing delegates to).
func TestInteropSigstore(t *testing.T) {
	t.Parallel()
	dir := interopSet(t, "sigstore-root-signing")
	srv := serveDir(t, dir, nil)

	// Root v1 to v4 carry hex-encoded ECDSA keys (go-tuf v2 can't start
	// there) and v1 expires at "2021-12-18T13:28:12.99008-06:00".
	c, _ := interopClient(t, filepath.Join(dir, "1.root.json"), srv.URL+"/", "", time.Date(2026, 8, 22, 0, 0, 0, 0, time.UTC))
	refreshOK(t, c)
	wantTop(t, c, top(15, 762, 165, 14))

	c, _ = interopClient(t, filepath.Join(dir, "5.root.json"), srv.URL+"/", srv.URL+"/targets/", time.Date(2026, 8, 22, 0, 0, 0, 0, time.UTC))
	refreshOK(t, c)
	wantTop(t, c, top(15, 762, 165, 14))
	wantTarget(t, c, "trusted_root.json", "targets", 6787, "6494e21ea73fa7ee769f85f57d5a3e6a08725eae1e38c755fc3517c9e6bc0b66", true)
	tg := wantTarget(t, c, "registry.npmjs.org/keys.json", "registry.npmjs.org", 2121, "160677eb6e1c7083c89b166b20f8fe4e837fb71181506aff1991b80b89184f7d", true)
	if ch := tg.Chain(); len(ch) != 2 || ch[1].Version != 8 {
		t.Errorf("keys.json chain %+v", ch)
	}
	for _, p := range srv.requests() {
		for _, legacy := range []string{"rekor", "revocation", "staging"} {
			if strings.Contains(p, legacy) {
				t.Errorf("requested legacy role file %s", p)
			}
		}
	}

	// After the timestamp's expiry: a freeze.
	c, _ = interopClient(t, filepath.Join(dir, "5.root.json"), srv.URL+"/", "", time.Date(2026, 8, 29, 0, 0, 0, 0, time.UTC))
	err := c.Refresh(context.Background())
	if ee := wantAs[*client.ExpiredError](t, err); ee.Role != "timestamp" || ee.Version != 762 {
		t.Errorf("ExpiredError %+v", ee)
	}
}

// TestInteropFioctl: foundries.io's fioctl repository (go-tuf v0.6 CLI,
// compact non-canonical JSON, sha512 only, root v1 to v5).
func TestInteropFioctl(t *testing.T) {
	t.Parallel()
	dir := interopSet(t, "foundriesio-fioctl")
	srv := serveDir(t, dir, nil)

	c, state := interopClient(t, filepath.Join(dir, "1.root.json"), srv.URL+"/", "", time.Date(2026, 7, 22, 0, 0, 0, 0, time.UTC))
	refreshOK(t, c)
	wantTop(t, c, top(5, 214, 15, 15))
	tg, err := c.Target(context.Background(), "fioctl-windows-amd64.exe_v0.46")
	if err != nil {
		t.Fatal(err)
	}
	var custom map[string]string
	if err := json.Unmarshal(tg.Custom(), &custom); err != nil || custom["platform"] != "windows/amd64" || custom["version"] != "v0.46" ||
		custom["uri"] != "https://github.com/foundriesio/fioctl/releases/download/v0.46/fioctl-windows-amd64.exe" {
		t.Errorf("custom %s", tg.Custom())
	}
	if h := tg.Hashes(); tg.Length() != 30901760 || len(h) != 1 || len(h["sha512"]) != 64 {
		t.Errorf("length %d hashes %v", tg.Length(), h)
	}
	// The cached targets.json is the one verified: 64 entries.
	b, err := os.ReadFile(filepath.Join(state, "targets.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Signed struct {
			Targets map[string]json.RawMessage `json:"targets"`
		} `json:"signed"`
	}
	if err := json.Unmarshal(b, &doc); err != nil || len(doc.Signed.Targets) != 64 {
		t.Errorf("cached targets.json: %d entries (%v), want 64", len(doc.Signed.Targets), err)
	}

	c, _ = interopClient(t, filepath.Join(dir, "1.root.json"), srv.URL+"/", "", time.Date(2026, 7, 29, 0, 0, 0, 0, time.UTC))
	err = c.Refresh(context.Background())
	if ee := wantAs[*client.ExpiredError](t, err); ee.Role != "timestamp" || ee.Version != 214 {
		t.Errorf("ExpiredError %+v", ee)
	}
}
