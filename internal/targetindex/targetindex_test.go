package targetindex

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"testing"
)

// sample is 21.5 chunks of bytes, and an index of them with
// small tables.
func sample(t *testing.T) ([]byte, []byte, Binding) {
	t.Helper()
	data := make([]byte, 21<<chunkShift+1<<(chunkShift-1))
	for i := range data {
		data[i] = byte(i * 7)
	}
	b := Binding{Length: int64(len(data)), SHA256: sha256.Sum256(data), Version: 3, Root: 2}
	lay := Layout{SignedOff: 10, SignedLen: 100, TargetsOff: 5, TargetsLen: 20, Canonical: true, Entries: 2, Slots: 4, Signers: []string{"k1", "k2"}}
	return data, Encode(data, nil, b, lay, []uint32{0, 1, 0, 2}, []uint32{7, 9}), b
}

func TestEncodeOpen(t *testing.T) {
	data, idx, b := sample(t)
	ix, err := Open(bytes.NewReader(idx), bytes.NewReader(data), b)
	if err != nil {
		t.Fatal(err)
	}
	if ix.Binding != b || ix.SignedOff != 10 || ix.TargetsLen != 20 || !ix.Canonical || ix.Entries != 2 || ix.Slots != 4 || fmt.Sprint(ix.Signers) != "[k1 k2]" {
		t.Errorf("header: %+v", ix)
	}
	for _, r := range []struct{ off, n int64 }{{0, 1}, {100, 5000}, {int64(len(data)) - 3, 3}, {1<<chunkShift - 2, 1<<chunkShift + 4}, {0, int64(len(data))}, {7, 0}} {
		got, err := ix.Data.Bytes(r.off, r.n)
		if err != nil || !bytes.Equal(got, data[r.off:r.off+r.n]) {
			t.Errorf("Bytes(%d, %d): %v", r.off, r.n, err)
		}
	}
	body, err := ix.Body.Bytes(0, 24)
	if err != nil || !bytes.Equal(body, []byte{0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 7, 0, 0, 0, 9, 0, 0, 0}) {
		t.Errorf("body %v, %v", body, err)
	}
	for _, r := range []struct{ off, n int64 }{{-1, 1}, {0, int64(len(data)) + 1}, {int64(len(data)), 1}, {1, -1}, {1 << 62, 1 << 62}} {
		if _, err := ix.Data.Bytes(r.off, r.n); !errors.Is(err, ErrCorrupt) {
			t.Errorf("Bytes(%d, %d) outside: %v", r.off, r.n, err)
		}
	}
}

// Each chunk is checked when first needed, and a call reads the chunks it
// needs that aren't read yet, one read per run of them, nothing else: a
// changed byte is found when its chunk is first used, and other chunks,
// those read with it included, still read.
func TestReaderChecksEachChunk(t *testing.T) {
	data, idx, b := sample(t)
	bad := bytes.Clone(data)
	bad[3<<chunkShift+5] ^= 1
	src := &countingReader{r: bytes.NewReader(bad)}
	ix, err := Open(bytes.NewReader(idx), src, b)
	if err != nil {
		t.Fatal(err)
	}
	reads := func(what string, calls, chunks int) {
		t.Helper()
		if src.calls != calls || src.bytes != chunks<<chunkShift {
			t.Errorf("%s: %d reads of %d bytes in all, want %d of %d chunks", what, src.calls, src.bytes, calls, chunks)
		}
	}
	if _, err := ix.Data.Bytes(0, 10); err != nil {
		t.Fatalf("first chunk: %v", err)
	}
	reads("first chunk", 1, 1)
	if _, err := ix.Data.Bytes(2<<chunkShift, 2<<chunkShift); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a range over the changed chunk: %v", err)
	}
	reads("chunks 2 and 3", 2, 3)
	for range 2 {
		if _, err := ix.Data.Bytes(3<<chunkShift, 10); !errors.Is(err, ErrCorrupt) {
			t.Errorf("changed chunk: %v", err)
		}
	}
	if got, err := ix.Data.Bytes(2<<chunkShift-1, 2); err != nil || !bytes.Equal(got, data[2<<chunkShift-1:2<<chunkShift+1]) {
		t.Errorf("chunks 1 and 2: %v", err)
	}
	reads("chunk 1", 3, 4)
	// The chunks after it are checked on their own.
	if got, err := ix.Data.Bytes(4<<chunkShift+1, 2<<chunkShift+5); err != nil || !bytes.Equal(got, data[4<<chunkShift+1:6<<chunkShift+6]) {
		t.Errorf("chunks 4 to 6: %v", err)
	}
	reads("chunks 4 to 6", 4, 7)
}

type countingReader struct {
	mu           sync.Mutex
	r            *bytes.Reader
	bytes, calls int
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	c.mu.Lock()
	c.bytes += len(p)
	c.calls++
	c.mu.Unlock()
	return c.r.ReadAt(p, off)
}

func (c *countingReader) Size() int64 { return c.r.Size() }

// An index is refused whole when its header or size is wrong, or when it
// names other bytes; a file shorter than recorded is corrupt.
func TestOpenRefuses(t *testing.T) {
	data, idx, b := sample(t)
	other := b
	other.Version++
	if _, err := Open(bytes.NewReader(idx), bytes.NewReader(data), other); err == nil {
		t.Error("an index of another version accepted")
	}
	if _, err := Open(bytes.NewReader(idx), bytes.NewReader(data[:len(data)-1]), b); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a shorter file: %v", err)
	}
	if _, err := Open(bytes.NewReader(append(bytes.Clone(idx), 0)), bytes.NewReader(data), b); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a longer index: %v", err)
	}
	h, err := readHeader(bytes.NewReader(idx), int64(len(idx)))
	if err != nil {
		t.Fatal(err)
	}
	for i := range len(h) {
		bad := bytes.Clone(idx)
		bad[i] ^= 0x01
		if _, err := Open(bytes.NewReader(bad), bytes.NewReader(data), b); err == nil {
			t.Errorf("header byte %d changed: accepted", i)
		}
	}
}

// Concurrent readers of one Reader see the same verified bytes (go test
// -race checks the hand-over of each chunk).
func TestReaderConcurrent(t *testing.T) {
	data, idx, b := sample(t)
	ix, err := Open(bytes.NewReader(idx), bytes.NewReader(data), b)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				off := int64((g*977 + i*4099) % (len(data) - 100))
				got, err := ix.Data.Bytes(off, 100)
				if err != nil || !bytes.Equal(got, data[off:off+100]) {
					t.Errorf("Bytes(%d, 100): %v", off, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BytesFrom returns the rest of the last chunk it had to check, never
// bytes of a chunk it didn't: with the next chunk changed (in memory, read
// by the same system call), a read that ends in an intact chunk still
// succeeds and stops at that chunk's end, and one that needs the changed
// chunk fails.
func TestBytesFromStopsAtCheckedChunks(t *testing.T) {
	data, idx, b := sample(t)
	bad := bytes.Clone(data)
	bad[2<<chunkShift] ^= 1
	ix, err := Open(bytes.NewReader(idx), bytes.NewReader(bad), b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ix.Data.Bytes(1<<chunkShift, 2<<chunkShift); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("chunks 1 and 2, read together: %v", err)
	}
	got, err := ix.Data.BytesFrom(1<<chunkShift+10, 1)
	if err != nil || !bytes.Equal(got, data[1<<chunkShift+10:2<<chunkShift]) {
		t.Errorf("BytesFrom in the chunk before the changed one: %d bytes, %v", len(got), err)
	}
	got, err = ix.Data.BytesFrom(0, 1<<chunkShift+1)
	if err != nil || !bytes.Equal(got, data[:2<<chunkShift]) {
		t.Errorf("BytesFrom over two intact chunks: %d bytes, %v", len(got), err)
	}
	if got, err := ix.Data.BytesFrom(2<<chunkShift-1, 2); !errors.Is(err, ErrCorrupt) || got != nil {
		t.Errorf("BytesFrom into the changed chunk: %d bytes, %v", len(got), err)
	}
	// The end of the region: the last chunk is short.
	got, err = ix.Data.BytesFrom(int64(len(data))-5, 1)
	if err != nil || !bytes.Equal(got, data[len(data)-5:]) {
		t.Errorf("BytesFrom at the end: %q, %v", got, err)
	}
	// Ranges over chunks read apart are copied out of each.
	if _, err := ix.Data.Bytes(10<<chunkShift, 1); err != nil {
		t.Fatal(err)
	}
	got, err = ix.Data.BytesFrom(10<<chunkShift-20, 30)
	if err != nil || !bytes.Equal(got, data[10<<chunkShift-20:11<<chunkShift]) {
		t.Errorf("BytesFrom over two chunks read apart: %d bytes, %v", len(got), err)
	}
}

// An index of the format before (v4: the header held the hashes of all the pages of chunk hashes,
// its size grew with the file) is refused whole, its checksum right: the client then
// verifies the cache in full and writes an index of this format.
func TestOpenRefusesOlderFormat(t *testing.T) {
	data, idx, b := sample(t)
	old := bytes.Clone(idx)
	copy(old, "latch targets index v4\n")
	n := binary.LittleEndian.Uint64(old[len(magic):])
	sum := sha256.Sum256(old[:n-sha256.Size])
	copy(old[n-sha256.Size:], sum[:])
	if _, err := Open(bytes.NewReader(old), bytes.NewReader(data), b); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a v4 index: %v, want ErrCorrupt", err)
	}
}

// A warm start costs the same whatever the size of the cached file: Open
// allocates as much for a file of 100,000 chunks as for one of 1,000 (the
// files here are served lazily: zeros after the index header).
func TestOpenCostIndependentOfSize(t *testing.T) {
	small, large := openCost(t, 1000), openCost(t, 100_000)
	if small != large {
		t.Errorf("Open allocates %d bytes for a file of 1,000 chunks and %d for one of 100,000", small, large)
	}
}

// openCost returns the bytes that Open allocates, on average, for a data
// file of n chunks with a body of one chunk.
func openCost(t *testing.T, n int64) uint64 {
	t.Helper()
	b := Binding{Length: n << chunkShift, Version: 1, Root: 1}
	lay := Layout{SignedLen: 2, TargetsOff: 1, TargetsLen: 2, Canonical: true, Entries: 128, Slots: 128}
	tr := treeOf(chunks(b.Length, chunkShift) + chunks(4*(lay.Entries+lay.Slots), chunkShift))
	h := appendHeader(nil, b, lay, make([]byte, tr.top))
	idx := lazyFile{head: h, size: int64(len(h)) + tr.stored() + 4*(lay.Entries+lay.Slots)}
	data := lazyFile{size: b.Length}
	const runs = 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		if _, err := Open(idx, data, b); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / runs
}

// lazyFile is a file of size bytes that starts with head, zeros after.
type lazyFile struct {
	head []byte
	size int64
}

func (f lazyFile) Size() int64 { return f.size }

func (f lazyFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= f.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), f.size-off))
	clear(p[:n])
	if off < int64(len(f.head)) {
		copy(p[:n], f.head[off:])
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// The hashes of a large file's chunks are a tree whose levels the index
// file holds, the header holding only its top: a byte changed in any level
// fails the reads of the chunks under it, when they are first read, and
// those only.
func TestTreeOfHashes(t *testing.T) {
	data := make([]byte, 1100<<chunkShift)
	for i := range data {
		data[i] = byte(i * 13 / 7)
	}
	b := Binding{Length: int64(len(data)), SHA256: sha256.Sum256(data), Version: 1, Root: 1}
	lay := Layout{SignedLen: 2, TargetsOff: 1, TargetsLen: 2, Canonical: true, Entries: 2, Slots: 4}
	idx := Encode(data, nil, b, lay, []uint32{0, 1, 0, 2}, []uint32{7, 9})
	tr := treeOf(1101)
	if tr.levels != 2 || tr.lens != [maxLevels]int64{1101 * 32, 35 * 32, 0} || tr.top != 64 {
		t.Fatalf("tree over 1,101 chunks: %+v", tr)
	}
	headerLen := int64(len(idx)) - tr.stored() - 24
	l1, l2 := headerLen, headerLen+tr.lens[0]
	for name, c := range map[string]struct {
		at       int64 // the byte changed in the index
		bad, ok  int64 // a chunk of data under it, and one not
		bodyFail bool
	}{
		"level 1, first chunk":         {l1 + 5, 3, 32, false},
		"level 1, chunk of the body":   {l1 + 1100*32 + 1, 1099, 0, true},
		"level 2, first chunk":         {l2 + 40, 60, 1099, false},
		"level 2, chunk over the body": {l2 + 34*32, 1099, 0, true},
		"body":                         {int64(len(idx)) - 3, -1, 0, true},
	} {
		bad := bytes.Clone(idx)
		bad[c.at] ^= 0x10
		ix, err := Open(bytes.NewReader(bad), bytes.NewReader(data), b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got, err := ix.Data.Bytes(c.ok<<chunkShift, 10); err != nil || !bytes.Equal(got, data[c.ok<<chunkShift:][:10]) {
			t.Errorf("%s: chunk %d: %v", name, c.ok, err)
		}
		if c.bad >= 0 {
			for range 2 {
				if _, err := ix.Data.Bytes(c.bad<<chunkShift, 10); !errors.Is(err, ErrCorrupt) {
					t.Errorf("%s: chunk %d: %v, want ErrCorrupt", name, c.bad, err)
				}
			}
		}
		if _, err := ix.Body.Bytes(0, 24); errors.Is(err, ErrCorrupt) != c.bodyFail {
			t.Errorf("%s: body: %v", name, err)
		}
	}
	ix, err := Open(bytes.NewReader(idx), bytes.NewReader(data), b)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ix.Data.Bytes(0, int64(len(data))); err != nil || !bytes.Equal(got, data) {
		t.Errorf("all the data: %v", err)
	}
}

// An index that would cover more than maxChunks chunks is refused, not
// read: its readers could not hold their state.
func TestOpenRefusesTooLarge(t *testing.T) {
	b := Binding{Length: maxChunks << chunkShift, Version: 1, Root: 1}
	lay := Layout{SignedLen: 2, TargetsOff: 1, TargetsLen: 2, Canonical: true, Entries: 1, Slots: 1}
	h := appendHeader(nil, b, lay, make([]byte, 64))
	if _, err := Open(lazyFile{head: h, size: 1 << 40}, lazyFile{size: b.Length}, b); !errors.Is(err, ErrCorrupt) {
		t.Errorf("an index of %d chunks: %v, want ErrCorrupt", maxChunks+1, err)
	}
}
