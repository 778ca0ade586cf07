package simulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"
)

// tufClient is go-tuf v2's updater used as an oracle: its state directory
// persists across refreshes, so consecutive refreshes act as one client.
type tufClient struct {
	t   *testing.T
	r   *Repo
	s   *Server
	dir string
}

func newClient(t *testing.T, r *Repo, s *Server) *tufClient {
	return &tufClient{t: t, r: r, s: s, dir: t.TempDir()}
}

func (c *tufClient) refresh() (*updater.Updater, error) {
	c.t.Helper()
	metadataURL, targetsURL := c.s.URLs()
	cfg, err := config.New(metadataURL, c.r.TrustedRoot())
	if err != nil {
		c.t.Fatal(err)
	}
	cfg.RemoteTargetsURL = targetsURL
	if err := cfg.SetDefaultFetcherHTTPClient(c.s.Client()); err != nil {
		c.t.Fatal(err)
	}
	cfg.LocalMetadataDir = filepath.Join(c.dir, "metadata")
	cfg.LocalTargetsDir = filepath.Join(c.dir, "targets")
	up, err := updater.New(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	up.UnsafeSetRefTime(c.r.Now())
	return up, up.Refresh()
}

func (c *tufClient) mustRefresh() *updater.Updater {
	c.t.Helper()
	up, err := c.refresh()
	if err != nil {
		c.t.Fatalf("go-tuf refresh: %v", err)
	}
	return up
}

// download looks path up through the delegations and downloads it.
func (c *tufClient) download(up *updater.Updater, path string) ([]byte, *metadata.TargetFiles) {
	c.t.Helper()
	tf, err := up.GetTargetInfo(path)
	if err != nil {
		c.t.Fatalf("go-tuf target info %q: %v", path, err)
	}
	_, data, err := up.DownloadTarget(tf, filepath.Join(c.t.TempDir(), "dl"), "")
	if err != nil {
		c.t.Fatalf("go-tuf download %q: %v", path, err)
	}
	return data, tf
}

var modes = []struct {
	name string
	opts Options
}{
	{"compact", Options{}},
	{"pretty-hashes", Options{Pretty: true, SnapshotHashes: true, TimestampHashes: true}},
	{"consistent", Options{ConsistentSnapshot: true}},
	{"consistent-pretty-hashes", Options{ConsistentSnapshot: true, Pretty: true, SnapshotHashes: true, TimestampHashes: true}},
}

func TestGoTUFAccepts(t *testing.T) {
	t.Parallel()
	scenarios := []struct {
		name string
		run  func(t *testing.T, r *Repo, c *tufClient)
	}{
		{"fresh", func(t *testing.T, r *Repo, c *tufClient) {
			up := c.mustRefresh()
			tm := up.GetTrustedMetadataSet()
			for role, v := range map[string]int64{
				"root": tm.Root.Signed.Version, "timestamp": tm.Timestamp.Signed.Version,
				"snapshot": tm.Snapshot.Signed.Version, "targets": tm.Targets["targets"].Signed.Version,
			} {
				if v != 1 {
					t.Errorf("trusted %s version %d, want 1", role, v)
				}
			}
			if tm.Root.Signed.ConsistentSnapshot != r.opts.ConsistentSnapshot {
				t.Errorf("consistent_snapshot %v, want %v", tm.Root.Signed.ConsistentSnapshot, r.opts.ConsistentSnapshot)
			}
		}},
		{"target", func(t *testing.T, r *Repo, c *tufClient) {
			c.mustRefresh()
			data := bytes.Repeat([]byte("app"), 100)
			r.AddTarget("app/1.0/app.bin", data, map[string]any{"version": "1.0"})
			r.Publish()
			up := c.mustRefresh()
			if got := up.GetTrustedMetadataSet().Targets["targets"].Signed.Version; got != 2 {
				t.Errorf("targets version %d, want 2", got)
			}
			got, tf := c.download(up, "app/1.0/app.bin")
			if !bytes.Equal(got, data) {
				t.Errorf("downloaded %q, want %q", got, data)
			}
			var custom bytes.Buffer
			if tf.Custom == nil || json.Compact(&custom, *tf.Custom) != nil || custom.String() != `{"version":"1.0"}` {
				t.Errorf("custom %s, want the version", custom.Bytes())
			}
		}},
		{"rotation", func(t *testing.T, r *Repo, c *tufClient) {
			c.mustRefresh()
			r.AddKey("root")
			r.RemoveKey("root", 0)
			r.AddKey("timestamp")
			r.RemoveKey("timestamp", 0)
			r.AddTarget("a.txt", []byte("a"), nil)
			r.Publish()
			r.PublishRoot() // v3, signed by key 1 only
			up := c.mustRefresh()
			tm := up.GetTrustedMetadataSet()
			// One Publish bumps each role once, however many edits it had.
			if tm.Root.Signed.Version != 3 || tm.Timestamp.Signed.Version != 2 {
				t.Errorf("root v%d timestamp v%d, want v3 and v2", tm.Root.Signed.Version, tm.Timestamp.Signed.Version)
			}
			if got, _ := c.download(up, "a.txt"); string(got) != "a" {
				t.Errorf("downloaded %q", got)
			}
			// 2.root.json carries the old and the new root key; 3.root.json only the new.
			for v, want := range map[string][]string{
				"2.root.json": {r.KeyID("root", 0), r.KeyID("root", 1)},
				"3.root.json": {r.KeyID("root", 1)},
			} {
				root := decode[metadata.RootType](t, r.Bytes(v))
				if got := sigKeyIDs(root.Signatures); !slices.Equal(got, sorted(want)) {
					t.Errorf("%s signed by %v, want %v", v, got, sorted(want))
				}
			}
		}},
		{"delegation", func(t *testing.T, r *Repo, c *tufClient) {
			r.Delegate("targets", "plugins", DelegationOpts{Paths: []string{"plugins/*"}})
			r.Delegate("plugins", "nested", DelegationOpts{Paths: []string{"plugins/n*"}, Threshold: 2, Keys: 2, Terminating: true})
			r.AddDelegatedTarget("nested", "plugins/n.so", []byte("nested"), nil)
			r.AddDelegatedTarget("plugins", "plugins/p.so", []byte("plugin"), nil)
			r.Publish()
			up := c.mustRefresh()
			if got, _ := c.download(up, "plugins/n.so"); string(got) != "nested" {
				t.Errorf("downloaded %q", got)
			}
			if got, _ := c.download(up, "plugins/p.so"); string(got) != "plugin" {
				t.Errorf("downloaded %q", got)
			}
			// A new key for a delegated role: the delegator lists it, the
			// role is re-signed with it.
			r.AddKey("plugins")
			r.SetThreshold("plugins", 2)
			r.AddDelegatedTarget("plugins", "plugins/q.so", []byte("q"), nil)
			r.Publish()
			up = c.mustRefresh()
			if got, _ := c.download(up, "plugins/q.so"); string(got) != "q" {
				t.Errorf("downloaded %q", got)
			}
			if v := r.Version("plugins"); v != 2 {
				t.Errorf("plugins version %d, want 2", v)
			}
		}},
		{"succinct", func(t *testing.T, r *Repo, c *tufClient) {
			r.DelegateSuccinct("targets", 4, "bins")
			path := "pkg/tool-1.2.tar.gz"
			bin := r.SuccinctBin("targets", path)
			r.AddDelegatedTarget(bin, path, []byte("tool"), nil)
			r.Publish()
			up := c.mustRefresh()
			c.s.ResetRequests()
			if got, _ := c.download(up, path); string(got) != "tool" {
				t.Errorf("downloaded %q", got)
			}
			var bins []string
			for _, name := range c.s.Requests() {
				if strings.Contains(name, "bins-") {
					bins = append(bins, name)
				}
			}
			want := bin + ".json"
			if r.opts.ConsistentSnapshot {
				want = "1." + want
			}
			if !slices.Equal(bins, []string{want}) {
				t.Errorf("bins fetched %v, want [%s]", bins, want)
			}
			if len(bin) != len("bins-0") {
				t.Errorf("bin name %q is not zero-padded to one hex digit", bin)
			}
		}},
	}
	for _, m := range modes {
		for _, sc := range scenarios {
			t.Run(m.name+"/"+sc.name, func(t *testing.T) {
				t.Parallel()
				r := New(t, m.opts)
				sc.run(t, r, newClient(t, r, r.Server()))
			})
		}
	}
}

func TestRequestNames(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			r := New(t, m.opts)
			r.AddTarget("dir/file.txt", []byte("content"), nil)
			r.Publish()
			c := newClient(t, r, r.Server())
			up := c.mustRefresh()
			c.download(up, "dir/file.txt")
			want := []string{"2.root.json", "timestamp.json", "snapshot.json", "targets.json", "targets/dir/file.txt"}
			if m.opts.ConsistentSnapshot {
				want = []string{"2.root.json", "timestamp.json", "2.snapshot.json", "2.targets.json",
					"targets/dir/ed7002b439e9ac845f22357d822bac1444730fbdb6016d3ec9432297b9ec9f73.file.txt"}
			}
			if got := r.Requests(); !slices.Equal(got, want) {
				t.Errorf("requests %q, want %q", got, want)
			}
			if got := r.TargetName("dir/file.txt"); got != want[4] {
				t.Errorf("TargetName %q, want %q", got, want[4])
			}
		})
	}
}

func TestGoTUFRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		opts  Options
		setup func(r *Repo)
		want  error
	}{
		{"404 timestamp", Options{}, func(r *Repo) {
			r.SetFault("timestamp.json", Fault{Status: 404})
		}, &metadata.ErrDownloadHTTP{}},
		{"bit flip in snapshot", Options{}, func(r *Repo) {
			r.SetFault("snapshot.json", Fault{Mutate: FlipBit})
		}, &metadata.ErrUnsignedMetadata{}},
		{"bit flip in hashed targets", Options{SnapshotHashes: true}, func(r *Repo) {
			r.SetFault("targets.json", Fault{Mutate: FlipBit})
		}, &metadata.ErrLengthOrHashMismatch{}},
		{"timestamp signed by no key", Options{}, func(r *Repo) {
			r.Sign("timestamp")
			r.Publish()
		}, &metadata.ErrUnsignedMetadata{}},
		{"snapshot below threshold", Options{}, func(r *Repo) {
			r.AddKey("snapshot")
			r.SetThreshold("snapshot", 2)
			r.Publish()
			r.Sign("snapshot", 1)
			r.Publish()
		}, &metadata.ErrUnsignedMetadata{}},
		{"root not signed by the previous root", Options{}, func(r *Repo) {
			r.AddKey("root")
			r.RemoveKey("root", 0)
			r.Sign("root", 1)
			r.PublishRoot()
		}, &metadata.ErrUnsignedMetadata{}},
		{"expired timestamp", Options{}, func(r *Repo) {
			r.SetExpires("timestamp", r.Now().Add(-time.Second))
			r.Publish()
		}, &metadata.ErrExpiredMetadata{}},
		{"forged timestamp", Options{}, func(r *Repo) {
			ts := decode[metadata.TimestampType](t, r.Bytes("timestamp.json"))
			ts.Signed.Version = 7
			r.SetFault("timestamp.json", Fault{Replace: Seal(t, ts, false, r.Key("targets", 0))})
		}, &metadata.ErrUnsignedMetadata{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := New(t, tc.opts)
			tc.setup(r)
			_, err := newClient(t, r, r.Server()).refresh()
			if !errors.Is(err, tc.want) {
				t.Fatalf("refresh error %v, want %T", err, tc.want)
			}
		})
	}
}

func TestGoTUFRejectsReplay(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			r := New(t, m.opts)
			r.AddTarget("a", []byte("a"), nil)
			r.Publish()
			c := newClient(t, r, r.Server())
			c.mustRefresh()
			r.SetFault("timestamp.json", Fault{OldVersion: 1})
			if _, err := c.refresh(); !errors.Is(err, &metadata.ErrBadVersionNumber{}) {
				t.Fatalf("replayed timestamp: %v, want a bad version number", err)
			}
			r.ClearFaults()
			if up := c.mustRefresh(); up.GetTrustedMetadataSet().Timestamp.Signed.Version != 2 {
				t.Error("trusted timestamp is not v2 after the replay ended")
			}
		})
	}
}

func TestForgedDocumentAccepted(t *testing.T) {
	t.Parallel()
	r := New(t, Options{Pretty: true})
	ts := decode[metadata.TimestampType](t, r.Bytes("timestamp.json"))
	ts.Signed.Version = 7
	r.SetFault("timestamp.json", Fault{Replace: Seal(t, ts, true, r.Key("timestamp", 0))})
	up := newClient(t, r, r.Server()).mustRefresh()
	if v := up.GetTrustedMetadataSet().Timestamp.Signed.Version; v != 7 {
		t.Errorf("timestamp version %d, want the forged 7", v)
	}
}

func TestEscapeHatchVersion(t *testing.T) {
	t.Parallel()
	r := New(t, Options{ConsistentSnapshot: true})
	r.Timestamp().Signed.Version = 10
	r.Targets("targets").Signed.Version = 5
	r.Publish()
	if v := r.Version("timestamp"); v != 10 {
		t.Errorf("timestamp version %d, want 10", v)
	}
	if v := r.Version("snapshot"); v != 2 {
		t.Errorf("snapshot version %d, want 2", v)
	}
	r.Publish() // nothing changed
	if v := r.Version("timestamp"); v != 10 {
		t.Errorf("timestamp version %d after an empty publish, want 10", v)
	}
	up := newClient(t, r, r.Server()).mustRefresh()
	if v := up.GetTrustedMetadataSet().Targets["targets"].Signed.Version; v != 5 {
		t.Errorf("targets version %d, want 5", v)
	}
	r.Root() // marks root changed
	r.Publish()
	if v := r.Version("root"); v != 2 {
		t.Errorf("root version %d, want 2", v)
	}
	if _, err := newClient(t, r, r.Server()).refresh(); err != nil {
		t.Fatal(err)
	}
}

func TestDiamondDelegation(t *testing.T) {
	t.Parallel()
	r := New(t, Options{})
	r.Delegate("targets", "a", DelegationOpts{Paths: []string{"x/*"}})
	r.Delegate("targets", "b", DelegationOpts{Paths: []string{"y/*"}})
	r.Delegate("a", "c", DelegationOpts{Paths: []string{"x/*"}})
	r.Delegate("b", "c", DelegationOpts{Paths: []string{"y/*"}})
	r.AddKey("c")
	r.RemoveKey("c", 0)
	r.AddDelegatedTarget("c", "x/1", []byte("x1"), nil)
	r.AddDelegatedTarget("c", "y/1", []byte("y1"), nil)
	r.Publish()
	for _, d := range []string{"a", "b"} {
		dl := r.Targets(d).Signed.Delegations
		if got := dl.Roles[0].KeyIDs; !slices.Equal(got, []string{r.KeyID("c", 1)}) {
			t.Errorf("%s lists keys %v for c, want key 1 only", d, got)
		}
	}
	c := newClient(t, r, r.Server())
	up := c.mustRefresh()
	for _, p := range []string{"x/1", "y/1"} {
		if got, _ := c.download(up, p); string(got) != strings.ReplaceAll(p, "/", "") {
			t.Errorf("%s: downloaded %q", p, got)
		}
	}
}

func TestMirrors(t *testing.T) {
	t.Parallel()
	r := New(t, Options{})
	r.AddTarget("a", []byte("a"), nil)
	r.Publish()
	r.SetFault("timestamp.json", Fault{Status: 503})
	mirror := r.NewServer()
	if _, err := newClient(t, r, r.Server()).refresh(); !errors.Is(err, &metadata.ErrDownloadHTTP{}) {
		t.Fatalf("default server: %v, want the 503", err)
	}
	c := newClient(t, r, mirror)
	up := c.mustRefresh()
	if got, _ := c.download(up, "a"); string(got) != "a" {
		t.Errorf("downloaded %q", got)
	}
	if got := r.Requests(); !slices.Equal(got, []string{"2.root.json", "timestamp.json"}) {
		t.Errorf("default server log %q", got)
	}
	if got := mirror.Requests(); len(got) != 5 {
		t.Errorf("mirror log %q, want 5 requests", got)
	}
	mirror.Close()
	if _, err := newClient(t, r, mirror).refresh(); err == nil {
		t.Fatal("refresh from a closed mirror succeeded")
	}
}

func decode[T metadata.Roles](t *testing.T, data []byte) *metadata.Metadata[T] {
	t.Helper()
	var m metadata.Metadata[T]
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

func sigKeyIDs(sigs []metadata.Signature) []string {
	var ids []string
	for _, s := range sigs {
		ids = append(ids, s.KeyID)
	}
	return sorted(ids)
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// The oracle's connections are its own: closing any httptest server closes
// the idle connections of http.DefaultTransport, and a go-tuf request that
// was just reusing one failed ("CloseIdleConnections called"), a flake of
// the parallel tests here. Another server closing between two refreshes
// must not cost this server's client its connection.
func TestOracleConnectionsSurviveOtherServers(t *testing.T) {
	t.Parallel()
	r := New(t, Options{})
	c := newClient(t, r, r.Server())
	c.mustRefresh()
	New(t, Options{Seed: "other"}).NewServer().Close()
	c.mustRefresh()
	if n := r.Server().Conns(); n != 1 {
		t.Errorf("two refreshes took %d connections, want 1 (kept alive across another server's Close)", n)
	}
}
