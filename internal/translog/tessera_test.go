package translog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchsec/latch/transparency"
	"github.com/latchsec/latch/transparency/logwriter"
	"golang.org/x/mod/sumdb/note"
)

// Logs for the tests are written by Tessera's POSIX driver, the publisher
// side this package is meant to read.

const testOrigin = "example.com/releases"

// testKey is the log's note key, from a fixed seed.
var testSigner, testVKey = mustKey(testOrigin, 1)

// mustKey derives a note key pair for name from a one-byte seed.
func mustKey(name string, seed byte) (note.Signer, string) {
	skey, vkey, err := note.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{seed}, 32)), name)
	if err != nil {
		panic(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		panic(err)
	}
	return s, vkey
}

// testEntry is entry i of the test logs; forked logs hold a different
// release from their fork point on.
func testEntry(i int64, fork string) transparency.Entry {
	return transparency.Entry{
		Repository: "example.com/app",
		Path:       fmt.Sprintf("app/1.0.%d%s/linux-amd64", i, fork),
		Length:     1000 + i,
		SHA256:     sha256.Sum256(fmt.Appendf(nil, "release %d%s", i, fork)),
	}
}

func mustMarshal(t testing.TB, e transparency.Entry) []byte {
	t.Helper()
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tesseraLog is a log written by Tessera in dir, with the checkpoint it
// published at each size the test asked for.
type tesseraLog struct {
	dir         string
	checkpoints map[int64][]byte
}

// writeTesseraLog appends entries to a new Tessera POSIX log in dir,
// stopping at each of sizes (ascending) to keep the checkpoint published
// there. From index forkAt on, entries are those of a fork (forkAt < 0:
// none). Partial tiles are never garbage-collected, so that tests decide
// which exist.
func writeTesseraLog(t testing.TB, dir string, signer note.Signer, forkAt int64, sizes ...int64) *tesseraLog {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	w, err := logwriter.Open(ctx, dir, signer)
	if errors.Is(err, logwriter.ErrUnsupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	l := &tesseraLog{dir: dir, checkpoints: map[int64][]byte{}}
	var next int64
	for _, size := range sizes {
		var entries [][]byte
		for ; next < size; next++ {
			fork := ""
			if forkAt >= 0 && next >= forkAt {
				fork = "-fork"
			}
			entries = append(entries, mustMarshal(t, testEntry(next, fork)))
		}
		first, cp, err := w.Add(ctx, entries...)
		if err != nil {
			t.Fatal(err)
		}
		if first != size-int64(len(entries)) {
			t.Fatalf("Tessera put entry %d at index %d", size-int64(len(entries)), first)
		}
		l.checkpoints[size] = cp
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return l
}

// The shared logs: one of 10,000 entries with checkpoints around the tile
// boundaries, and a fork of it that agrees up to entry 300. Tests that
// tamper with a log copy it first (copyLog).
var (
	sharedOnce  sync.Once
	sharedDir   string
	shared      *tesseraLog
	sharedFork  *tesseraLog
	sharedSizes = []int64{1, 2, 255, 256, 257, 300, 511, 512, 513, 1000, 65, 10000}
)

func sharedLogs(t testing.TB) (main, fork *tesseraLog) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip(logwriter.ErrUnsupported)
	}
	sharedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "translog-test-")
		if err != nil {
			t.Fatal(err)
		}
		sharedDir = dir
		sizes := slices.Clone(sharedSizes)
		slices.Sort(sizes)
		shared = writeTesseraLog(t, filepath.Join(dir, "main"), testSigner, -1, sizes...)
		sharedFork = writeTesseraLog(t, filepath.Join(dir, "fork"), testSigner, 300, 256, 600, 10000)
	})
	if shared == nil {
		t.Fatal("writing the shared logs failed")
	}
	return shared, sharedFork
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if sharedDir != "" {
		os.RemoveAll(sharedDir)
	}
	os.Exit(code)
}

// copyLog copies a log directory for a test that changes it.
func copyLog(t testing.TB, l *tesseraLog) *tesseraLog {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "log")
	if err := os.CopyFS(dir, os.DirFS(l.dir)); err != nil {
		t.Fatal(err)
	}
	return &tesseraLog{dir: dir, checkpoints: l.checkpoints}
}

// dirFetcher serves a log directory as the log's HTTP prefix would,
// counting requests and bytes.
type dirFetcher struct {
	dir      Dir
	requests atomic.Int64
	bytes    atomic.Int64
	mu       sync.Mutex
	paths    []string
}

func (f *dirFetcher) Fetch(ctx context.Context, path string, max int64) ([]byte, error) {
	f.requests.Add(1)
	f.mu.Lock()
	f.paths = append(f.paths, path)
	f.mu.Unlock()
	b, err := f.dir.Fetch(ctx, path, max)
	f.bytes.Add(int64(len(b)))
	return b, err
}

// mapCache is an in-memory Cache.
type mapCache struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (c *mapCache) Load(path string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.m[path]
	return b, ok
}

func (c *mapCache) Store(path string, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string][]byte{}
	}
	c.m[path] = bytes.Clone(data)
}

func testVerifier(t testing.TB) *Verifier {
	t.Helper()
	v, err := NewVerifier(Policy{Origin: testOrigin, LogKey: testVKey})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// openLog returns a Log reading dir, and its fetcher.
func openLog(t testing.TB, dir string, v *Verifier, o Options) (*Log, *dirFetcher) {
	t.Helper()
	f := &dirFetcher{dir: Dir(dir)}
	l, err := NewLog(v, f, o)
	if err != nil {
		t.Fatal(err)
	}
	return l, f
}

// checkpointAt opens the checkpoint l published at size.
func (l *tesseraLog) checkpointAt(t testing.TB, v *Verifier, size int64) *transparency.Checkpoint {
	t.Helper()
	raw, ok := l.checkpoints[size]
	if !ok {
		t.Fatalf("no checkpoint at size %d", size)
	}
	cp, err := v.Open(raw)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != size {
		t.Fatalf("checkpoint says size %d, want %d", cp.Size, size)
	}
	return cp
}
