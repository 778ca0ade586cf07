package translog

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/latchsec/latch/mirror"
	"github.com/latchsec/latch/transparency"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api/layout"
	tclient "github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/tlog"
)

// tesseraTiles reads tiles with Tessera's own path layout and the fallback
// its client expects (a full tile for a partial one that is gone).
func tesseraTiles(dir string) tclient.TileFetcherFunc {
	return func(ctx context.Context, level, index uint64, p uint8) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, layout.TilePath(level, index, p)))
		if errors.Is(err, fs.ErrNotExist) && p != 0 {
			b, err = os.ReadFile(filepath.Join(dir, layout.TilePath(level, index, 0)))
		}
		return b, err
	}
}

// indexesFor picks the indexes worth proving in a tree of size n: both
// ends, the tile boundaries and a few in between.
func indexesFor(n int64) []int64 {
	var out []int64
	for _, i := range []int64{0, 1, 254, 255, 256, 257, 511, 512, 4095, 4096, 9999, n / 3, n / 2, n - 2, n - 1} {
		if i >= 0 && i < n && !slices.Contains(out, i) {
			out = append(out, i)
		}
	}
	return out
}

// TestInclusionTessera proves entries of Tessera-written logs of 1 to
// 10,000 entries, around every tile boundary, and checks each proof against
// Tessera's own proof builder and the transparency-dev merkle verifier.
func TestInclusionTessera(t *testing.T) {
	main, _ := sharedLogs(t)
	v := testVerifier(t)
	ctx := context.Background()
	for _, size := range sharedSizes {
		cp := main.checkpointAt(t, v, size)
		l, _ := openLog(t, main.dir, v, Options{})
		pb, err := tclient.NewProofBuilder(ctx, uint64(size), tesseraTiles(main.dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range indexesFor(size) {
			inc, err := l.Prove(ctx, cp, i, testEntry(i, ""))
			if err != nil {
				t.Fatalf("size %d: Prove(%d): %v", size, i, err)
			}
			theirs, err := pb.InclusionProof(ctx, uint64(i))
			if err != nil {
				t.Fatal(err)
			}
			if !sameHashes(inc.Proof, theirs) {
				t.Errorf("size %d index %d: our proof %v, Tessera's %x", size, i, inc.Proof, theirs)
			}
			leaf := tlog.RecordHash(inc.Entry)
			if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(i), uint64(size), leaf[:], hashSlices(inc.Proof), cp.Hash[:]); err != nil {
				t.Errorf("size %d index %d: merkle.VerifyInclusion: %v", size, i, err)
			}
		}
	}
}

// TestConsistencyTessera proves every pair of checkpoints consistent, and
// checks each proof against Tessera's.
func TestConsistencyTessera(t *testing.T) {
	main, _ := sharedLogs(t)
	v := testVerifier(t)
	ctx := context.Background()
	sizes := slices.Sorted(slices.Values(sharedSizes))
	for j, newer := range sizes {
		cp := main.checkpointAt(t, v, newer)
		l, _ := openLog(t, main.dir, v, Options{})
		pb, err := tclient.NewProofBuilder(ctx, uint64(newer), tesseraTiles(main.dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, older := range sizes[:j+1] {
			trusted := main.checkpointAt(t, v, older)
			if err := l.Consistent(ctx, trusted, cp); err != nil {
				t.Fatalf("Consistent(%d, %d): %v", older, newer, err)
			}
			if older == newer {
				continue
			}
			ours, err := tlog.ProveTree(newer, older, l.hashReader(ctx, cp))
			if err != nil {
				t.Fatal(err)
			}
			theirs, err := pb.ConsistencyProof(ctx, uint64(older), uint64(newer))
			if err != nil {
				t.Fatal(err)
			}
			if !sameHashes(ours, theirs) {
				t.Errorf("sizes %d..%d: our proof %v, Tessera's %x", older, newer, ours, theirs)
			}
			if err := proof.VerifyConsistency(rfc6962.DefaultHasher, uint64(older), uint64(newer), hashSlices(ours), trusted.Hash[:], cp.Hash[:]); err != nil {
				t.Errorf("sizes %d..%d: merkle.VerifyConsistency: %v", older, newer, err)
			}
		}
	}
}

func sameHashes(ours []tlog.Hash, theirs [][]byte) bool {
	return slices.EqualFunc(ours, theirs, func(a tlog.Hash, b []byte) bool { return bytes.Equal(a[:], b) })
}

func hashSlices(hs []tlog.Hash) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = hs[i][:]
	}
	return out
}

// TestPartialTilesGone: a log may delete partial tiles and bundles once the
// full ones exist (Tessera's garbage collector does); proofs under older
// checkpoints then read the full ones.
func TestPartialTilesGone(t *testing.T) {
	main, _ := sharedLogs(t)
	l := copyLog(t, main)
	removePartials(t, l.dir)
	v := testVerifier(t)
	ctx := context.Background()
	log, f := openLog(t, l.dir, v, Options{})
	for _, size := range []int64{1, 2, 255, 257, 300, 511, 513} {
		cp := l.checkpointAt(t, v, size)
		for _, i := range indexesFor(size) {
			if _, err := log.Prove(ctx, cp, i, testEntry(i, "")); err != nil {
				t.Fatalf("size %d: Prove(%d): %v", size, i, err)
			}
		}
		if err := log.Consistent(ctx, l.checkpointAt(t, v, 1), cp); err != nil {
			t.Fatalf("Consistent(1, %d): %v", size, err)
		}
	}
	if !slices.ContainsFunc(f.paths, func(p string) bool { return strings.Contains(p, ".p/") }) {
		t.Fatal("no partial resource was asked for: the test proves nothing")
	}
}

// removePartials deletes the partial tiles and bundles (".p" directories)
// whose full tile or bundle exists, as Tessera's garbage collector does.
func removePartials(t testing.TB, dir string) {
	t.Helper()
	var gone []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if _, err := os.Stat(strings.TrimSuffix(p, ".p")); d.IsDir() && strings.HasSuffix(p, ".p") && err == nil {
			gone = append(gone, p)
			return fs.SkipDir
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range gone {
		if err := os.RemoveAll(p); err != nil {
			t.Fatal(err)
		}
	}
}

func TestProveFailures(t *testing.T) {
	main, _ := sharedLogs(t)
	v := testVerifier(t)
	ctx := context.Background()
	cp := main.checkpointAt(t, v, 1000)
	log, _ := openLog(t, main.dir, v, Options{})

	// The log holds another release at the index the target names.
	_, err := log.Prove(ctx, cp, 700, testEntry(701, ""))
	var we *transparency.WrongEntryError
	if !errors.As(err, &we) || we.Index != 700 || !bytes.Equal(we.Got, mustMarshal(t, testEntry(700, ""))) {
		t.Errorf("wrong entry: %v", err)
	}
	// A release of another repository with the same path, length and hash.
	other := testEntry(700, "")
	other.Repository = "example.com/other"
	if _, err := log.Prove(ctx, cp, 700, other); !errors.Is(err, transparency.ErrWrongEntry) {
		t.Errorf("other repository: %v, want transparency.ErrWrongEntry", err)
	}
	// An index beyond the checkpoint: not logged (yet).
	for _, i := range []int64{1000, 5000, -1} {
		_, err = log.Prove(ctx, cp, i, testEntry(i, ""))
		var ne *transparency.NotLoggedError
		if !errors.As(err, &ne) || ne.Index != i || ne.Size != 1000 {
			t.Errorf("index %d: %v, want transparency.ErrNotLogged", i, err)
		}
	}
}

// tamper rewrites one file of a copied log.
func tamper(t testing.TB, dir, rel string, edit func([]byte) []byte) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, edit(b), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestTamperedLog(t *testing.T) {
	main, _ := sharedLogs(t)
	v := testVerifier(t)
	ctx := context.Background()
	flip := func(at int) func([]byte) []byte {
		return func(b []byte) []byte { b[at] ^= 1; return b }
	}
	for _, tc := range []struct {
		name  string
		file  string
		edit  func([]byte) []byte
		index int64
	}{
		{"leaf tile", TilePath(0, 1, TileWidth), flip(5 * 32), 300},
		{"leaf tile, another leaf", TilePath(0, 1, TileWidth), flip(200 * 32), 300},
		{"level-1 tile", TilePath(1, 0, 3), flip(0), 300},
		{"partial leaf tile", TilePath(0, 3, 232), flip(31), 800},
		{"short tile", TilePath(0, 1, TileWidth), func(b []byte) []byte { return b[:len(b)-1] }, 300},
		{"bundle entry", BundlePath(1, TileWidth), func(b []byte) []byte {
			return bytes.Replace(b, []byte("app/1.0.300/"), []byte("app/1.0.300-evil/"[:12]), 1)
		}, 300},
		{"bundle entry swapped for another", BundlePath(1, TileWidth), func(b []byte) []byte {
			// Entry 300 replaced by entry 301's bytes: the right length, the wrong leaf.
			e300, e301 := mustMarshal(t, testEntry(300, "")), mustMarshal(t, testEntry(301, ""))
			return bytes.Replace(b, e300, e301, 1)
		}, 300},
		{"truncated bundle", BundlePath(1, TileWidth), func(b []byte) []byte { return b[:len(b)-3] }, 300},
		{"bundle with an extra entry", BundlePath(3, 232), func(b []byte) []byte { return append(b, 0, 1, 'x') }, 800},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := copyLog(t, main)
			tamper(t, l.dir, tc.file, tc.edit)
			log, _ := openLog(t, l.dir, v, Options{})
			cp := l.checkpointAt(t, v, 1000)
			inc, err := log.Prove(ctx, cp, tc.index, testEntry(tc.index, ""))
			if !errors.Is(err, transparency.ErrInvalidProof) || inc != nil {
				t.Fatalf("Prove = %v, %v; want transparency.ErrInvalidProof", inc, err)
			}
			err = log.Entries(ctx, cp, 0, func(int64, []byte) error { return nil })
			if !errors.Is(err, transparency.ErrInvalidProof) {
				t.Fatalf("Entries = %v; want transparency.ErrInvalidProof", err)
			}
		})
	}
	// A tampered tile also breaks consistency proofs that read it: an invalid
	// proof, not evidence of a split view.
	l := copyLog(t, main)
	tamper(t, l.dir, TilePath(0, 0, TileWidth), flip(0))
	log, _ := openLog(t, l.dir, v, Options{})
	err := log.Consistent(ctx, l.checkpointAt(t, v, 255), l.checkpointAt(t, v, 1000))
	if !errors.Is(err, transparency.ErrInvalidProof) || errors.Is(err, transparency.ErrSplitView) {
		t.Fatalf("Consistent = %v; want transparency.ErrInvalidProof", err)
	}
}

// TestMissingResource: a tile or bundle the log does not serve is a fetch
// failure (the caller may try a mirror), not a failed proof.
func TestMissingResource(t *testing.T) {
	main, _ := sharedLogs(t)
	v := testVerifier(t)
	ctx := context.Background()
	for _, file := range []string{TilePath(0, 1, TileWidth), BundlePath(1, TileWidth), "tile/1"} {
		l := copyLog(t, main)
		if err := os.RemoveAll(filepath.Join(l.dir, filepath.FromSlash(file))); err != nil {
			t.Fatal(err)
		}
		log, _ := openLog(t, l.dir, v, Options{})
		_, err := log.Prove(ctx, l.checkpointAt(t, v, 1000), 300, testEntry(300, ""))
		var fe *transparency.FetchError
		if !errors.As(err, &fe) || !errors.Is(err, mirror.ErrNotFound) || errors.Is(err, transparency.ErrInvalidProof) {
			t.Errorf("%s missing: %v, want a *transparency.FetchError matching ErrNotFound", file, err)
		}
	}
}

func TestConflicts(t *testing.T) {
	main, fork := sharedLogs(t)
	v := testVerifier(t)
	ctx := context.Background()
	log, _ := openLog(t, fork.dir, v, Options{})

	// The fork agrees with the main log on its first 300 entries: a view of
	// those is consistent with it.
	if err := log.Consistent(ctx, main.checkpointAt(t, v, 300), fork.checkpointAt(t, v, 600)); err != nil {
		t.Fatalf("honest prefix: %v", err)
	}
	for _, tc := range []struct {
		name          string
		trusted, got  *transparency.Checkpoint
		want          error
		gotLog        *tesseraLog
		trustedLogDir string
	}{
		{"rolled back", main.checkpointAt(t, v, 1000), main.checkpointAt(t, v, 257), transparency.ErrRollback, main, ""},
		{"fork, larger", main.checkpointAt(t, v, 511), fork.checkpointAt(t, v, 600), transparency.ErrSplitView, fork, ""},
		{"fork, much larger", main.checkpointAt(t, v, 1000), fork.checkpointAt(t, v, 10000), transparency.ErrSplitView, fork, ""},
		{"fork, same size", main.checkpointAt(t, v, 10000), fork.checkpointAt(t, v, 10000), transparency.ErrSplitView, fork, ""},
	} {
		log, _ := openLog(t, tc.gotLog.dir, v, Options{})
		err := log.Consistent(ctx, tc.trusted, tc.got)
		var ce *transparency.ConflictError
		if !errors.Is(err, tc.want) || !errors.As(err, &ce) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
			continue
		}
		// The evidence: both signed notes, each verifiable on its own.
		for _, n := range [][]byte{ce.Trusted.Note, ce.Got.Note} {
			if _, err := v.Open(n); err != nil {
				t.Errorf("%s: evidence does not verify: %v", tc.name, err)
			}
		}
		if ce.Trusted.Size != tc.trusted.Size || ce.Got.Size != tc.got.Size {
			t.Errorf("%s: evidence sizes %d and %d", tc.name, ce.Trusted.Size, ce.Got.Size)
		}
	}
}

func TestEntries(t *testing.T) {
	main, _ := sharedLogs(t)
	v := testVerifier(t)
	ctx := context.Background()
	log, f := openLog(t, main.dir, v, Options{})
	for _, tc := range []struct{ start, size int64 }{{0, 10000}, {255, 257}, {256, 513}, {9999, 10000}, {10000, 10000}, {0, 1}} {
		cp := main.checkpointAt(t, v, tc.size)
		next := tc.start
		err := log.Entries(ctx, cp, tc.start, func(i int64, e []byte) error {
			if i != next || !bytes.Equal(e, mustMarshal(t, testEntry(i, ""))) {
				return fmt.Errorf("entry %d (want %d) = %q", i, next, e)
			}
			next++
			return nil
		})
		if err != nil || next != tc.size {
			t.Fatalf("Entries(%d) of %d: %v, stopped at %d", tc.start, tc.size, err, next)
		}
	}
	// The whole 10,000-entry log: one request per bundle and per tile
	// (40 bundles, 40 level-0 tiles, one level-1 tile).
	f.requests.Store(0)
	cp := main.checkpointAt(t, v, 10000)
	if err := log.Entries(ctx, cp, 0, func(int64, []byte) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if got := f.requests.Load(); got > 40+40+1 {
		t.Errorf("reading 10,000 entries took %d requests", got)
	}
	stop := errors.New("stop")
	if err := log.Entries(ctx, cp, 5, func(int64, []byte) error { return stop }); err != stop {
		t.Errorf("yield's error: %v", err)
	}
}

// TestProveRequests counts what one proof costs from a cold start, and what
// the cache saves.
func TestProveRequests(t *testing.T) {
	main, _ := sharedLogs(t)
	v := testVerifier(t)
	ctx := context.Background()
	cache := &mapCache{}
	log, f := openLog(t, main.dir, v, Options{Cache: cache})
	trusted, cp := main.checkpointAt(t, v, 1000), main.checkpointAt(t, v, 10000)
	if err := log.Consistent(ctx, trusted, cp); err != nil {
		t.Fatal(err)
	}
	if _, err := log.Prove(ctx, cp, 4242, testEntry(4242, "")); err != nil {
		t.Fatal(err)
	}
	cold := f.requests.Load()
	t.Logf("10,000 entries, cold: %d requests (%v)", cold, f.paths)
	// A tree of 10,000 = 39*256 + 16 entries: its root comes from the
	// partial level-0 tile 39.p/16 and the partial level-1 tile 0.p/39;
	// consistency with 1000 = 3*256 + 232 adds the full leaf tile 3;
	// the inclusion proof of 4242 adds its leaf tile 16 and its bundle.
	if cold != 5 {
		t.Errorf("%d requests, want 5", cold)
	}
	// Again, with the full tiles cached and the partial ones remembered:
	// only the bundle.
	f.requests.Store(0)
	if _, err := log.Prove(ctx, cp, 4242, testEntry(4242, "")); err != nil {
		t.Fatal(err)
	}
	if warm := f.requests.Load(); warm != 1 {
		t.Errorf("warm: %d requests, want 1", warm)
	}
}

// TestCachedTilesOfAnotherTree: full tiles cached from one view of the log
// do not turn evidence of a fork into a mere invalid proof, and a corrupt
// cache costs a fetch, not a failure.
func TestCachedTilesOfAnotherTree(t *testing.T) {
	main, fork := sharedLogs(t)
	v := testVerifier(t)
	ctx := context.Background()
	cache := &mapCache{}
	mainLog, _ := openLog(t, main.dir, v, Options{Cache: cache})
	if err := mainLog.Consistent(ctx, main.checkpointAt(t, v, 1000), main.checkpointAt(t, v, 10000)); err != nil {
		t.Fatal(err)
	}
	if _, ok := cache.m[TilePath(0, 3, TileWidth)]; !ok {
		t.Fatal("the tile the fork's proof reads is not cached: the test proves nothing")
	}
	forkLog, _ := openLog(t, fork.dir, v, Options{Cache: cache})
	err := forkLog.Consistent(ctx, main.checkpointAt(t, v, 1000), fork.checkpointAt(t, v, 10000))
	if !errors.Is(err, transparency.ErrSplitView) {
		t.Fatalf("fork with the main log's tiles cached: %v, want transparency.ErrSplitView", err)
	}

	if _, err := mainLog.Prove(ctx, main.checkpointAt(t, v, 10000), 5000, testEntry(5000, "")); err != nil {
		t.Fatal(err)
	}
	leafTile := TilePath(0, 5000/TileWidth, TileWidth)
	cache.m[leafTile][7] ^= 1
	if _, err := mainLog.Prove(ctx, main.checkpointAt(t, v, 10000), 5000, testEntry(5000, "")); err != nil {
		t.Fatalf("corrupt cache: %v", err)
	}
	want, err := os.ReadFile(filepath.Join(main.dir, leafTile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cache.m[leafTile], want) {
		t.Errorf("the tile fetched again was not stored over the corrupt one")
	}
}

var costEntries = flag.Int64("translog.entries", 0, "TestRequestsPerDownload: generate a log of this size (0: use the shared 10,000-entry log)")

// TestRequestsPerDownload measures the log requests of one covered
// download, as the client makes them (checkpoint, consistency with the
// trusted checkpoint, entry and inclusion), against the bound the tile
// layout gives: one checkpoint, one bundle, and per tile level at most three
// tiles (the partial tile on the tree's right edge, the entry's tile, the
// tile at the trusted tree's edge). For the README's figure on a log of a
// million entries:
//
//	go test ./internal/translog -run TestRequestsPerDownload -translog.entries 1000000 -v
func TestRequestsPerDownload(t *testing.T) {
	l, _ := sharedLogs(t)
	n, older := int64(10000), int64(1000)
	if *costEntries > 0 {
		n, older = *costEntries, *costEntries/2
		l = writeTesseraLog(t, filepath.Join(t.TempDir(), "log"), testSigner, -1, older, n)
	}
	v := testVerifier(t)
	ctx := context.Background()
	levels := 0
	for s := n; s > 0; s >>= TileHeight {
		levels++
	}
	bound := int64(2 + 3*levels)

	cache := &mapCache{}
	download := func(trusted *transparency.Checkpoint, index int64) (requests, bytes int64) {
		t.Helper()
		log, f := openLog(t, l.dir, v, Options{Cache: cache})
		cp, err := log.Checkpoint(ctx)
		if err == nil && cp.Size != n {
			err = fmt.Errorf("checkpoint of size %d", cp.Size)
		}
		if err == nil {
			err = log.Consistent(ctx, trusted, cp)
		}
		if err == nil {
			_, err = log.Prove(ctx, cp, index, testEntry(index, ""))
		}
		if err != nil {
			t.Fatal(err)
		}
		return f.requests.Load(), f.bytes.Load()
	}
	// A device's first covered download: nothing trusted, nothing cached.
	first, firstBytes := download(nil, 17)
	// A later one, from another process: a checkpoint trusted from an
	// update a while ago, the full tiles of that update cached, a release
	// from elsewhere in the log.
	later, laterBytes := download(l.checkpointAt(t, v, older), n-500)
	t.Logf("log of %d entries (%d tile levels): %d requests (%d bytes) for the first covered download, %d (%d bytes) for a later one; bound %d requests",
		n, levels, first, firstBytes, later, laterBytes, bound)
	if first > bound || later > bound {
		t.Errorf("more requests than the bound %d", bound)
	}
}
