package client_test

import (
	"context"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/latchsec/latch/client"
)

// TestInteropMultiRepo: a map over two real repositories served from
// loopback, python-tuf's test repository (no consistent snapshots; targets
// list sha256 and sha512, file1.txt has custom data) and go-tuf's re-signed
// copy of it (consistent snapshots, RSA-PSS keys; file1.txt with sha256 only
// and no custom data, no file2.txt), first with python-tuf's own TAP 4 map
// file, then with a map that needs both to agree.
func TestInteropMultiRepo(t *testing.T) {
	t.Parallel()
	pyDir := interopSet(t, "python-tuf")
	goDir := filepath.Join(interopSet(t, "go-tuf"), "served-internal-repository_data")
	ref := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

	// python-tuf's repository has the TAP 4 layout already; go-tuf's is
	// served in it: <base>/metadata/ and <base>/targets/.
	mux := http.NewServeMux()
	mux.Handle("/py/", http.StripPrefix("/py/", http.FileServer(http.Dir(filepath.Join(pyDir, "repository_data/repository")))))
	mux.Handle("/go/metadata/", http.StripPrefix("/go/metadata/", http.FileServer(http.Dir(goDir))))
	mux.Handle("/go/targets/", http.StripPrefix("/go/targets/", http.FileServer(http.Dir(filepath.Join(goDir, "targets")))))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	read := func(p string) []byte {
		t.Helper()
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	roots := map[string][]byte{
		"test_repository1": read(filepath.Join(pyDir, "repository_data/repository/metadata/1.root.json")),
		"test_repository2": read(filepath.Join(goDir, "1.root.json")),
	}
	urls := map[string]string{"test_repository1": srv.URL + "/py/", "test_repository2": srv.URL + "/go/"}
	open := func(t *testing.T, m *client.Map) *client.Multi {
		t.Helper()
		for i, r := range m.Repositories {
			m.Repositories[i].URLs = []string{urls[r.Name]}
		}
		mc, err := client.NewMulti(client.MultiConfig{Map: m, TrustedRoots: roots, StateDir: t.TempDir()},
			client.WithClock(func() time.Time { return ref }))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { mc.Close() })
		if err := mc.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		return mc
	}
	want := func(t *testing.T, mc *client.Multi, path string, sha string, agreed ...string) *client.AgreedTarget {
		t.Helper()
		a, err := mc.Target(context.Background(), path)
		if err != nil {
			t.Fatalf("Target(%q): %v", path, err)
		}
		if !slices.Equal(a.Repositories(), agreed) || hex.EncodeToString(a.Hashes()["sha256"]) != sha {
			t.Errorf("%s: agreed by %v, sha256 %x", path, a.Repositories(), a.Hashes()["sha256"])
		}
		dest := filepath.Join(t.TempDir(), "file")
		if err := mc.DownloadFile(context.Background(), a, dest); err != nil {
			t.Fatalf("DownloadFile(%q): %v", path, err)
		}
		if ok, err := mc.Cached(a, dest); !ok || err != nil {
			t.Errorf("%s: downloaded file does not verify (%v)", path, err)
		}
		return a
	}

	// python-tuf's map file, read as it is: "*1.txt" from either
	// repository (threshold 1, not terminating), "*3.txt" from the second
	// only (terminating).
	t.Run("python-tuf map file", func(t *testing.T) {
		t.Parallel()
		m, err := client.ParseMap(read(filepath.Join(pyDir, "repository_data/client/map.json")))
		if err != nil {
			t.Fatal(err)
		}
		mc := open(t, m)
		a := want(t, mc, "file1.txt", file1SHA, "test_repository1", "test_repository2")
		// The repositories list different algorithms: the agreed target
		// carries both, and python-tuf's custom data (it comes first).
		if h := a.Hashes(); len(h) != 2 || len(h["sha512"]) != 64 || string(a.Custom()) != `{"file_permissions":"0644"}` {
			t.Errorf("file1.txt: hashes %x custom %s", h, a.Custom())
		}
		if a := want(t, mc, "file3.txt", file3SHA, "test_repository2"); a.Role() != "role1" {
			t.Errorf("file3.txt from %s", a.Role())
		}
		_, err = mc.Target(context.Background(), "file2.txt")
		wantIs(t, err, client.ErrUnmapped)
	})

	// Both must agree: file2.txt is in python-tuf's repository only.
	t.Run("two of two", func(t *testing.T) {
		t.Parallel()
		m := &client.Map{
			Repositories: []client.MapRepository{{Name: "test_repository2"}, {Name: "test_repository1"}},
			Mapping:      []client.Mapping{mapping([]string{"*"}, 2, true, "test_repository2", "test_repository1")},
		}
		mc := open(t, m)
		// go-tuf's comes first: its consistent-snapshot mirror serves the
		// file under its sha256 name, checked against both repositories'
		// hashes.
		a := want(t, mc, "file1.txt", file1SHA, "test_repository2", "test_repository1")
		if a.Custom() != nil || len(a.Hashes()) != 2 {
			t.Errorf("file1.txt: custom %s, hashes %x", a.Custom(), a.Hashes())
		}
		want(t, mc, "file3.txt", file3SHA, "test_repository2", "test_repository1")
		_, err := mc.Target(context.Background(), "file2.txt")
		ce := wantAs[*client.ConsensusError](t, err)
		wantOutcomes(t, outcomes(ce, 0), "test_repository2:not listed", "test_repository1:listed")
	})
}
