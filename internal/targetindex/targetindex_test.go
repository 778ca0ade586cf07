package targetindex

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// sample is a block and 5.5 chunks of bytes, and an index of them with
// small tables.
func sample(t *testing.T) ([]byte, []byte, Binding) {
	t.Helper()
	data := make([]byte, (readAhead+5)<<chunkShift+1<<(chunkShift-1))
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

// Each chunk is checked when first needed (one read brings in a block of
// them): a changed byte is found when its chunk is first used, and other
// chunks, those of its block included, still read.
func TestReaderChecksEachChunk(t *testing.T) {
	data, idx, b := sample(t)
	bad := bytes.Clone(data)
	bad[3<<chunkShift+5] ^= 1
	src := &countingReader{r: bytes.NewReader(bad)}
	ix, err := Open(bytes.NewReader(idx), src, b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ix.Data.Bytes(0, 10); err != nil || src.bytes != min(len(data), readAhead<<chunkShift) {
		t.Fatalf("first chunk: %v, %d bytes read", err, src.bytes)
	}
	for range 2 {
		if _, err := ix.Data.Bytes(3<<chunkShift, 10); !errors.Is(err, ErrCorrupt) {
			t.Errorf("changed chunk: %v", err)
		}
	}
	if _, err := ix.Data.Bytes(2<<chunkShift-1, 2); err != nil {
		t.Errorf("chunks 1 and 2: %v", err)
	}
	if _, err := ix.Data.Bytes(2<<chunkShift, 2<<chunkShift); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a range over the changed chunk: %v", err)
	}
	// The chunks after it, read with it, are checked on their own.
	if got, err := ix.Data.Bytes(4<<chunkShift+1, 2<<chunkShift+5); err != nil || !bytes.Equal(got, data[4<<chunkShift+1:6<<chunkShift+6]) || src.bytes != min(len(data), readAhead<<chunkShift) {
		t.Errorf("chunks 4 to 6, in the changed chunk's block: %v, %d bytes read", err, src.bytes)
	}
}

type countingReader struct {
	mu    sync.Mutex
	r     *bytes.Reader
	bytes int
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	c.mu.Lock()
	c.bytes += len(p)
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
// bytes of a chunk it didn't: with the next chunk changed (it is in the
// same block, read by the same system call), a read that ends in an
// intact chunk still succeeds and stops at that chunk's end, and one that
// needs the changed chunk fails.
func TestBytesFromStopsAtCheckedChunks(t *testing.T) {
	data, idx, b := sample(t)
	bad := bytes.Clone(data)
	bad[2<<chunkShift] ^= 1
	ix, err := Open(bytes.NewReader(idx), bytes.NewReader(bad), b)
	if err != nil {
		t.Fatal(err)
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
	// Ranges over two blocks are copied out of both.
	block := readAhead << chunkShift
	got, err = ix.Data.BytesFrom(int64(block-20), 30)
	if err != nil || !bytes.Equal(got, data[block-20:block+1<<chunkShift]) {
		t.Errorf("BytesFrom over two blocks: %d bytes, %v", len(got), err)
	}
}
