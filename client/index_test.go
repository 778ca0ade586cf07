package client_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/internal/simulator"
	"github.com/latchsec/latch/metadata"
)

// logBuffer collects a client's log for assertions.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A restart reopens the cached targets through their index; a corrupted
// index costs a full verification, nothing else.
func TestTargetsIndex(t *testing.T) {
	t.Parallel()
	repo := simulator.New(t, simulator.Options{ConsistentSnapshot: true})
	repo.AddTarget("a", appV1, nil)
	repo.Publish()
	logs := &logBuffer{}
	e := refreshed(t, repo, client.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	index := filepath.Join(e.cfg.StateDir, "state", "targets.index")
	if _, err := os.Stat(index); err != nil {
		t.Fatalf("no targets index after a refresh: %v", err)
	}

	e.open()
	e.refresh()
	if tg := e.target("a"); tg.Length() != int64(len(appV1)) {
		t.Errorf("target after reopening: %d bytes", tg.Length())
	}
	if strings.Contains(logs.String(), "index unusable") {
		t.Errorf("the index was not used:\n%s", logs)
	}

	b, err := os.ReadFile(index)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := os.WriteFile(index, b, 0o600); err != nil {
		t.Fatal(err)
	}
	e.open()
	if !strings.Contains(logs.String(), "index unusable") {
		t.Errorf("a corrupted index went unnoticed:\n%s", logs)
	}
	if got := versions(e.c.View()); got["targets"] != repo.Version("targets") {
		t.Errorf("after a corrupted index: trusted %v", got)
	}
	e.refresh()
	e.target("a")
}

// Cached targets are reopened without their signature check only while the
// root whose keys verified them is still the trusted one: after a root that
// rotated the targets key, the cached document must pass the new keys, which
// it can't, even though its bytes and index are intact.
func TestTargetsIndexBoundToRoot(t *testing.T) {
	t.Parallel()
	repo := simulator.New(t, simulator.Options{ConsistentSnapshot: true})
	repo.AddTarget("a", appV1, nil)
	repo.Publish()
	e := refreshed(t, repo)

	// Root v2 revokes the targets key; the new targets can't be fetched,
	// so the refresh stops after accepting the new root.
	repo.AddKey("targets")
	repo.RemoveKey("targets", 0)
	repo.Publish()
	repo.SetFault(fmt.Sprintf("%d.targets.json", repo.Version("targets")), simulator.Fault{Status: 500})
	e.refreshErr()
	if got := versions(e.c.View()); got["root"] != repo.Version("root") {
		t.Fatalf("root not rotated: %v", got)
	}

	e.open()
	got := versions(e.c.View())
	if _, ok := got["targets"]; ok {
		t.Errorf("targets signed by a revoked key trusted after a restart: %v", got)
	}
}

// An index that can't be written costs speed only: the refresh succeeds, the
// failure is logged, and the next start verifies the cache in full.
func TestTargetsIndexNotWritten(t *testing.T) {
	t.Parallel()
	repo := simulator.New(t, simulator.Options{ConsistentSnapshot: true})
	repo.AddTarget("a", appV1, nil)
	repo.Publish()
	logs := &logBuffer{}
	e := newEnv(t, repo, client.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	// A directory where the index goes makes its atomic write fail.
	if err := os.MkdirAll(filepath.Join(e.cfg.StateDir, "state", "targets.index", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	e.open()
	e.refresh()
	if !strings.Contains(logs.String(), "targets index not written") {
		t.Errorf("the failed index write was not logged:\n%s", logs)
	}
	e.open()
	if got := versions(e.c.View()); got["targets"] != repo.Version("targets") {
		t.Errorf("after a restart without an index: trusted %v", got)
	}
	e.refresh()
	e.target("a")
}

// warmRepo publishes n targets named pkg/NNNNNN (about 150 bytes of
// targets.json each) and returns a client env that refreshed from it, closed.
func warmRepo(t *testing.T, opts simulator.Options, n int) (*simulator.Repo, *env) {
	t.Helper()
	opts.ConsistentSnapshot = true
	repo := simulator.New(t, opts)
	for i := range n {
		repo.AddTarget(fmt.Sprintf("pkg/%06d", i), fmt.Appendf(nil, "content %d", i), nil)
	}
	repo.Publish()
	e := refreshed(t, repo)
	e.c.Close()
	e.c = nil
	return repo, e
}

// flipHashDigit changes one hex digit of the sha256 listed for path in the
// cached targets.json, in place: the file stays well-formed metadata, and a
// lookup that used it would hand out a wrong hash.
func (e *env) flipHashDigit(path string) {
	e.t.Helper()
	p := filepath.Join(e.cfg.StateDir, "targets.json")
	b, err := os.ReadFile(p)
	if err != nil {
		e.t.Fatal(err)
	}
	i := bytes.Index(b, []byte(`"`+path+`":`))
	j := bytes.Index(b[i:], []byte(`"sha256"`))
	if i < 0 || j < 0 {
		e.t.Fatalf("no entry for %q in the cached targets", path)
	}
	k := i + j + len(`"sha256"`)
	k += bytes.IndexByte(b[k:], '"') + 1
	if b[k] == '0' {
		b[k] = '1'
	} else {
		b[k] = '0'
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// requested reports whether any request so far names role's metadata.
func requested(repo *simulator.Repo, role string) bool {
	for _, r := range repo.Requests() {
		if strings.HasSuffix(r, "."+role+".json") || strings.HasSuffix(r, "/"+role+".json") {
			return true
		}
	}
	return false
}

// A warm start reads and hashes only what it uses of the cached targets:
// with a byte changed in an entry far from the one looked up, a new process
// refreshes and finds that entry without fetching targets again (it never
// read the changed chunk). Whether snapshot lists the hashes of
// targets.json or not, the cached bytes are matched through their record;
// pretty-printed targets metadata (what most repositories publish) gets an
// index too, into the bytes as received.
func TestWarmStartReadsOnlyWhatItUses(t *testing.T) {
	t.Parallel()
	for name, opts := range map[string]simulator.Options{
		"canonical":       {},
		"snapshot hashes": {SnapshotHashes: true},
		"pretty":          {Pretty: true},
	} {
		t.Run(name, func(t *testing.T) {
			repo, e := warmRepo(t, opts, 3000)
			if _, err := os.Stat(filepath.Join(e.cfg.StateDir, "state", "targets.index")); err != nil {
				t.Fatalf("no targets index: %v", err)
			}
			e.flipHashDigit("pkg/002000")
			repo.ResetRequests()
			e.open()
			e.refresh()
			tg := e.target("pkg/000010")
			if want := sha256.Sum256([]byte("content 10")); !bytes.Equal(tg.Hashes()["sha256"], want[:]) {
				t.Errorf("pkg/000010: sha256 %x", tg.Hashes()["sha256"])
			}
			if requested(repo, "targets") {
				t.Errorf("a warm start fetched targets again: %v", repo.Requests())
			}
		})
	}
}

// A changed byte in a chunk of the cached targets that a lookup reads is
// found before any of it is used: the lookup fails with ErrCacheCorrupt
// (never answers with the changed hash), other lookups still work, and the
// next refresh fetches targets again, after which the lookup succeeds.
func TestWarmStartCorruptedChunk(t *testing.T) {
	t.Parallel()
	repo, e := warmRepo(t, simulator.Options{}, 3000)
	e.flipHashDigit("pkg/002000")
	e.open()
	e.refresh()
	before := e.disk()
	err := e.targetErr("pkg/002000")
	wantIs(t, err, metadata.ErrCacheCorrupt)
	wantIs(t, err, client.ErrCacheCorrupt)
	e.target("pkg/000010")
	e.sameDisk(before)

	repo.ResetRequests()
	e.refresh()
	if !requested(repo, "targets") {
		t.Errorf("targets not fetched again after a corrupted chunk: %v", repo.Requests())
	}
	want := sha256.Sum256([]byte("content 2000"))
	if got := e.target("pkg/002000").Hashes()["sha256"]; !bytes.Equal(got, want[:]) {
		t.Errorf("pkg/002000 after the refresh: sha256 %x", got)
	}
	// The new copy and its index serve the next start.
	repo.ResetRequests()
	e.open()
	e.refresh()
	if got := e.target("pkg/002000").Hashes()["sha256"]; !bytes.Equal(got, want[:]) || requested(repo, "targets") {
		t.Errorf("next start: sha256 %x, requests %v", got, repo.Requests())
	}
}

// A changed byte in the lookup tables of the index is found the same way
// when a lookup reads its chunk; one in the index's header makes the next
// start verify the cache in full.
func TestWarmStartCorruptedIndex(t *testing.T) {
	t.Parallel()
	index := func(e *env) (string, []byte) {
		p := filepath.Join(e.cfg.StateDir, "state", "targets.index")
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return p, b
	}
	t.Run("tables", func(t *testing.T) {
		repo, e := warmRepo(t, simulator.Options{}, 3000)
		p, b := index(e)
		// The last bytes are the offsets of the last entries in key order.
		b[len(b)-3] ^= 0x10
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		e.open()
		e.refresh()
		wantIs(t, e.targetErr("pkg/002999"), client.ErrCacheCorrupt)
		repo.ResetRequests()
		e.refresh()
		e.target("pkg/002999")
	})
	t.Run("empty", func(t *testing.T) { // as a power loss may leave it
		logs := &logBuffer{}
		repo, e := warmRepo(t, simulator.Options{}, 3000)
		e.opts = append(e.opts, client.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
		p, _ := index(e)
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		repo.ResetRequests()
		e.open()
		e.refresh()
		e.target("pkg/002999")
		if !strings.Contains(logs.String(), "index unusable") || requested(repo, "targets") {
			t.Errorf("an empty index: requests %v, log:\n%s", repo.Requests(), logs)
		}
	})
	t.Run("header", func(t *testing.T) {
		logs := &logBuffer{}
		repo, e := warmRepo(t, simulator.Options{}, 3000)
		e.opts = append(e.opts, client.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
		p, b := index(e)
		b[40] ^= 1 // in the binding
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		repo.ResetRequests()
		e.open()
		if !strings.Contains(logs.String(), "index unusable") {
			t.Errorf("a corrupted index header went unnoticed:\n%s", logs)
		}
		e.refresh()
		e.target("pkg/002999")
		if requested(repo, "targets") {
			t.Errorf("the cache was not verified in full but fetched again: %v", repo.Requests())
		}
		// That start wrote the index again (as an index of an older format
		// is replaced): the next start uses it.
		before := len(logs.String())
		e.open()
		e.refresh()
		e.target("pkg/002999")
		if strings.Contains(logs.String()[before:], "index unusable") {
			t.Errorf("the start after a full verification did not use a new index:\n%s", logs.String()[before:])
		}
	})
}

// Cached targets reopened through their index are still checked against
// what the snapshot lists: a new snapshot that lists the trusted version of
// targets.json with another hash (mix-and-match) is not matched by the
// record, the file is fetched and its hash refused.
func TestWarmStartSnapshotListsOtherHash(t *testing.T) {
	t.Parallel()
	repo, e := warmRepo(t, simulator.Options{SnapshotHashes: true}, 300)
	e.open()
	e.refresh()
	before := e.disk()
	repo.Snapshot().Signed.Meta["targets.json"].Hashes["sha256"][0] ^= 1
	repo.Publish()
	wantIs(t, e.refreshErr(), client.ErrHashMismatch)
	if got := versions(e.c.View()); got["targets"] != repo.Version("targets") {
		t.Errorf("trusted targets after the refusal: %v", got)
	}
	e.sameDisk(before, "targets.json", filepath.Join("state", "targets.index"))
}

// A large targets document is written to a hidden temporary file while it
// is verified, and renamed into place only once it passes: a document whose
// signature fails leaves neither a cache file nor a temporary file (env's
// cleanup checks), and the next mirror's good copy is cached and indexed.
func TestLargeTargetsStaged(t *testing.T) {
	t.Parallel()
	repo := simulator.New(t, simulator.Options{ConsistentSnapshot: true})
	for i := range 10000 {
		repo.AddTarget(fmt.Sprintf("pkg/%06d", i), fmt.Appendf(nil, "content %d", i), nil)
	}
	repo.Publish()
	name := fmt.Sprintf("%d.targets.json", repo.Version("targets"))
	if n := len(repo.Bytes(name)); n < 1<<20 {
		t.Fatalf("targets.json has %d bytes, too few to be staged", n)
	}
	bad := repo.NewServer()
	bad.SetFault(name, simulator.Fault{Mutate: badSig})
	e := newEnv(t, repo)
	badURL, _ := bad.URLs()
	e.cfg.MetadataURLs = []string{badURL}
	e.open()
	wantIs(t, e.refreshErr(), client.ErrThreshold)
	if e.cacheFile("targets") != nil {
		t.Fatal("targets cached after a bad signature")
	}
	noTemps(t, e.cfg.StateDir)

	good, _ := repo.Serve()
	e.cfg.MetadataURLs = []string{badURL, good}
	e.open()
	e.refresh()
	if !bytes.Equal(e.cacheFile("targets"), repo.Bytes(name)) {
		t.Fatal("the cached targets differ from the good mirror's")
	}
	e.open()
	e.refresh()
	if tg := e.target("pkg/009999"); tg.Length() != int64(len("content 9999")) {
		t.Errorf("pkg/009999 after a restart: %d bytes", tg.Length())
	}
}

// A new root that changes the targets keys has the trusted targets verified
// again with them (revocation is immediate): for targets reopened through
// their index that reads every chunk, checked, and a document that still
// verifies is kept (here until the refresh fetches the new version).
func TestWarmStartRootRotation(t *testing.T) {
	t.Parallel()
	logs := &logBuffer{}
	repo, e := warmRepo(t, simulator.Options{}, 300)
	e.opts = append(e.opts, client.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	repo.AddKey("targets") // the old key still signs: threshold 1 of 2
	repo.Publish()
	e.open()
	e.refresh()
	if strings.Contains(logs.String(), "does not verify with the new root's keys") {
		t.Errorf("reopened targets discarded though they verify with the new keys:\n%s", logs)
	}
	e.target("pkg/000299")
}
