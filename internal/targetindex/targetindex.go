// Package targetindex is the index a client keeps beside its cached
// top-level targets metadata, so that a new process can use those bytes
// without reading, hashing or verifying them in full: a start-up then costs
// the same for 100 targets as for 100,000.
//
// # What it holds, and why that is enough
//
// A client caches targets metadata only once it has verified it
// (signatures with the keys of the root it trusted then, version, length
// and hashes), and records the bytes' length and SHA-256 in its trusted
// state together with that root's version. The index is written right after
// that record and names it (a [Binding]). It holds the SHA-256 of every 1
// KiB chunk of the cached file, where the document's "signed" and "targets"
// values sit in it (a [Layout]), and the lookup tables of package metadata:
// a hash table over the target paths and their offsets in key order.
//
// A reader whose trusted state still holds the record the index names (and
// still trusts the root that verified the bytes) knows that cached bytes
// whose chunks hash as listed are the bytes that were verified. It checks
// each chunk when it first reads it ([Reader]), so a corrupted chunk is
// found before any byte of it is used, and it never reads the rest.
//
// The index guards against corruption: a checksum covers its header, and a
// tree of hashes hangs from it. Its first level holds the hash of each
// chunk of the file and of the lookup tables, each next level the hashes of
// the chunks of the one before, and the header the first level that fits
// in a chunk: a reader checks the header, a few hundred bytes whatever the
// size of the file, and reads what a lookup touches of the levels as it
// reads the chunks they cover. It does not guard against
// forgery, and need not: like the cache and the trusted state it lives in
// the state directory, which the operating system must protect like the
// executable itself (whoever can write there can rewrite the trusted
// state). Still, no index, however made, makes a reader panic.
//
// Only package client reads and writes indexes, through the hooks that
// package metadata sets ([Build], [Reopen]): the typed documents come out of
// package metadata only, and nothing in its public API returns one that
// skipped the signature check.
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
	"sync/atomic"
)

// ErrCorrupt means cached bytes, or an index, no longer match the hashes
// recorded when they were written. Package metadata replaces it with its
// exported ErrCacheCorrupt when it sets the hooks, so that callers match
// a public sentinel.
var ErrCorrupt = errors.New("cached metadata does not match the hashes recorded when it was verified")

// errStale: the index is intact but describes other bytes than the trusted
// state's record (a crash between the record and the index, or an older
// index).
var errStale = errors.New("index is for another version of the cached bytes")

// Hooks into package metadata, which sets them in its init. They reach
// unexported code that builds and reopens a *metadata.Targets (passed as
// any: this package can't import metadata, which imports it).
var (
	// Build returns the layout of doc, a *metadata.Targets just opened
	// from data, in data, and its lookup tables.
	Build func(doc any, data []byte) (lay Layout, slots, offsets []uint32, err error)
	// Reopen returns the *metadata.Targets of role name that ix describes.
	Reopen func(ix *Index, name string) (any, error)
)

// Binding names the bytes an index describes, as the trusted state records
// them.
type Binding struct {
	Length  int64
	SHA256  [sha256.Size]byte
	Version int64 // of the document
	Root    int64 // version of the root whose keys verified it
}

// Layout locates a targets document in its cached bytes.
type Layout struct {
	SignedOff, SignedLen   int64 // the value of "signed" in the file
	TargetsOff, TargetsLen int64 // the value of "targets" in "signed"
	// Canonical: "signed" is in canonical form (the bytes the signatures
	// cover); otherwise its values are canonicalised when read.
	Canonical bool
	Entries   int64    // members of "targets"
	Slots     int64    // hash table slots: 0, or a power of two
	Signers   []string // key IDs whose signatures counted
}

// Index is an index whose header passed its checksum and names the
// expected bytes, with readers that check what they read.
type Index struct {
	Binding
	Layout
	// Data reads the cached file; Body reads the lookup tables: Slots
	// uint32 hash table slots, then Entries uint32 offsets, little-endian.
	Data, Body *Reader
	// The readers of Data and Body, then of the levels of hashes the
	// index file holds: one allocation with the index, whatever its size.
	readers [2 + maxLevels]Reader
	mem     slab
}

// slab hands out the memory of the chunks that an index's readers read,
// from allocations of slabSize bytes: a lookup's chunks, read by several
// readers, share one allocation instead of one each.
type slab struct {
	mu   sync.Mutex
	free []byte
}

const slabSize = 16 << 10

// take returns n bytes of memory, zeroed.
func (s *slab) take(n int64) []byte {
	if n > slabSize/2 {
		return make([]byte, n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n > int64(len(s.free)) {
		s.free = make([]byte, slabSize)
	}
	b := s.free[:n:n]
	s.free = s.free[n:]
	return b
}

const (
	magic = "latch targets index v5\n" // v5: a tree of hashes, its top in the header
	// chunkShift makes 1 KiB chunks. The first lookup of a target path
	// hashes the chunks of its entry and of its hash table slot (and of
	// the hashes of those): hashing costs far more than
	// the lookup, and a chunk a few times longer than an entry (about 140
	// bytes in a typical targets.json) keeps it proportionate. The hashes
	// of the chunks of 32 KiB of data fill one chunk.
	chunkShift = 10
	// maxHeader bounds what a reader allocates for a header: 256 signers
	// with long key IDs.
	maxHeader = 1 << 20
	// fixedHeader is the header without signers, top hashes and checksum.
	fixedHeader = len(magic) + 8 + 8 + sha256.Size + 8*11
)

// ChunkSize is the length of the chunks whose hashes an index holds.
const ChunkSize = 1 << chunkShift

// chunks is the number of chunks of n bytes.
func chunks(n, shift int64) int64 { return (n + 1<<shift - 1) >> shift }

// ChunkSums returns the SHA-256 of every chunk of data, as an index holds
// them, computed on every core.
func ChunkSums(data []byte) []byte {
	sums := make([]byte, sha256.Size*chunks(int64(len(data)), chunkShift))
	chunkSums(sums, data)
	return sums
}

// Encode returns the index of data, the cached bytes that b names, laid out
// as lay says, with its lookup tables. dataSums are data's ChunkSums if
// they were computed already, else nil. The chunks are hashed on every
// core. Data and tables of more than maxChunks chunks (1 GiB) are not
// indexed: Encode returns nil, which Open refuses.
func Encode(data, dataSums []byte, b Binding, lay Layout, slots, offsets []uint32) []byte {
	bodyLen := int64(4 * (len(slots) + len(offsets)))
	dataChunks := chunks(int64(len(data)), chunkShift)
	n := dataChunks + chunks(bodyLen, chunkShift)
	if n > maxChunks {
		return nil
	}
	tr := treeOf(n)
	top := make([]byte, tr.top)
	headerLen := headerSize(lay, tr.top)
	// One buffer: the header, the levels of hashes the file holds, from
	// the first, then the body.
	out := make([]byte, headerLen+tr.stored()+bodyLen)
	body := out[headerLen+tr.stored():]
	for i, v := range slots {
		binary.LittleEndian.PutUint32(body[4*i:], v)
	}
	for i, v := range offsets {
		binary.LittleEndian.PutUint32(body[4*(len(slots)+i):], v)
	}
	level := make([][]byte, tr.levels+1)
	at := headerLen
	for k := range tr.levels {
		level[k] = out[at : at+tr.lens[k]]
		at += tr.lens[k]
	}
	level[tr.levels] = top
	if int64(len(dataSums)) == sha256.Size*dataChunks {
		copy(level[0], dataSums)
	} else {
		chunkSums(level[0], data)
	}
	chunkSums(level[0][sha256.Size*dataChunks:], body)
	for k := 1; k <= tr.levels; k++ {
		chunkSums(level[k], level[k-1])
	}
	appendHeader(out[:0:headerLen], b, lay, top)
	return out
}

// maxChunks bounds the chunks an index covers: 1 GiB of data and tables.
const maxChunks = 1 << 20

// maxLevels is the number of levels of hashes over maxChunks chunks that
// don't fit in a chunk: 32 MiB, 1 MiB and 32 KiB.
const maxLevels = 3

// tree is the shape of the hashes over n chunks: level 1 holds the hash of
// each, each next level the hashes of the chunks of the one before, up to
// the first that fits in a chunk, which the header holds (top). The index
// file holds the levels before it, from the first.
type tree struct {
	lens   [maxLevels]int64 // bytes of each level the file holds
	levels int
	top    int64
}

// treeOf returns the tree over n chunks, at most maxChunks.
func treeOf(n int64) tree {
	var t tree
	for t.top = sha256.Size * n; t.top > ChunkSize; t.levels++ {
		t.lens[t.levels] = t.top
		t.top = sha256.Size * chunks(t.top, chunkShift)
	}
	return t
}

// stored is the length of the levels the index file holds.
func (t tree) stored() int64 {
	var n int64
	for _, l := range t.lens[:t.levels] {
		n += l
	}
	return n
}

// headerSize is the length of the header of lay holding topLen bytes of
// hashes.
func headerSize(lay Layout, topLen int64) int64 {
	n := int64(fixedHeader) + topLen + sha256.Size
	for _, s := range lay.Signers {
		n += 8 + int64(len(s))
	}
	return n
}

// appendHeader appends to h the header naming b and lay that holds top,
// with its checksum.
func appendHeader(h []byte, b Binding, lay Layout, top []byte) []byte {
	h = append(h, magic...)
	h = binary.LittleEndian.AppendUint64(h, uint64(headerSize(lay, int64(len(top)))))
	h = binary.LittleEndian.AppendUint64(h, uint64(b.Length))
	h = append(h, b.SHA256[:]...)
	canonical := int64(0)
	if lay.Canonical {
		canonical = 1
	}
	for _, v := range []int64{b.Version, b.Root, chunkShift, lay.SignedOff, lay.SignedLen, lay.TargetsOff, lay.TargetsLen, canonical, lay.Entries, lay.Slots, int64(len(lay.Signers))} {
		h = binary.LittleEndian.AppendUint64(h, uint64(v))
	}
	for _, s := range lay.Signers {
		h = binary.LittleEndian.AppendUint64(h, uint64(len(s)))
		h = append(h, s...)
	}
	h = append(h, top...)
	sum := sha256.Sum256(h)
	return append(h, sum[:]...)
}

// chunkSums writes the SHA-256 of each chunk of b to dst, on every core for
// large b.
func chunkSums(dst, b []byte) {
	n := int(chunks(int64(len(b)), chunkShift))
	sumRange := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			sum := sha256.Sum256(b[i<<chunkShift : min(len(b), (i+1)<<chunkShift)])
			copy(dst[sha256.Size*i:], sum[:])
		}
	}
	// A goroutine is worth it for 1 MiB or more.
	workers := min(runtime.GOMAXPROCS(0), n/64)
	if workers < 2 {
		sumRange(0, n)
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { sumRange(n*w/workers, n*(w+1)/workers) })
	}
	wg.Wait()
}

// Open reads the header of the index idx, checks its checksum and that it
// names want, and returns readers over idx and data (the cached file) that
// check every chunk they read. An index that names other bytes is an
// error; so is one that doesn't pass its checks, wrapping ErrCorrupt. What
// it reads and allocates doesn't depend on the size of the files.
func Open(idx, data File, want Binding) (*Index, error) {
	idxSize, dataSize := idx.Size(), data.Size()
	h, err := readHeader(idx, idxSize)
	if err != nil {
		return nil, err
	}
	ix, top, err := parseHeader(h)
	if err != nil {
		return nil, err
	}
	if ix.Binding != want {
		return nil, errStale
	}
	if dataSize != want.Length {
		return nil, fmt.Errorf("%w: the cached file has %d bytes, the index names %d", ErrCorrupt, dataSize, want.Length)
	}
	dataChunks := chunks(want.Length, chunkShift)
	bodyLen := 4 * (ix.Slots + ix.Entries)
	if dataChunks+chunks(bodyLen, chunkShift) > maxChunks {
		return nil, fmt.Errorf("%w: an index of more than %d chunks", ErrCorrupt, maxChunks)
	}
	tr := treeOf(dataChunks + chunks(bodyLen, chunkShift))
	bodyOff := int64(len(h)) + tr.stored()
	if int64(len(top)) != tr.top || idxSize != bodyOff+bodyLen {
		return nil, fmt.Errorf("%w: index size does not match its header", ErrCorrupt)
	}
	// From the top down: each level is checked against the next.
	var sums *Reader
	at := bodyOff
	for k := tr.levels - 1; k >= 0; k-- {
		at -= tr.lens[k]
		r := &ix.readers[2+k]
		r.init(idx, at, tr.lens[k], sums, 0, top, &ix.mem)
		sums = r
	}
	ix.Data, ix.Body = &ix.readers[0], &ix.readers[1]
	ix.Data.init(data, 0, want.Length, sums, 0, top, &ix.mem)
	ix.Body.init(idx, bodyOff, bodyLen, sums, dataChunks, top, &ix.mem)
	return ix, nil
}

// readHeader returns the header of the index, its checksum checked.
func readHeader(idx File, idxSize int64) ([]byte, error) {
	if idxSize < int64(fixedHeader+sha256.Size) {
		return nil, fmt.Errorf("%w: index too short", ErrCorrupt)
	}
	h := make([]byte, min(idxSize, 4096))
	if err := readAt(idx, h, 0); err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(h, []byte(magic)) {
		return nil, fmt.Errorf("%w: not a targets index", ErrCorrupt)
	}
	n := binary.LittleEndian.Uint64(h[len(magic):])
	if n < uint64(fixedHeader+sha256.Size) || n > maxHeader || n > uint64(idxSize) {
		return nil, fmt.Errorf("%w: header length %d", ErrCorrupt, n)
	}
	if n > uint64(len(h)) {
		h = make([]byte, n)
		if err := readAt(idx, h, 0); err != nil {
			return nil, err
		}
	}
	h = h[:n]
	if sum := sha256.Sum256(h[:n-sha256.Size]); !bytes.Equal(sum[:], h[n-sha256.Size:]) {
		return nil, fmt.Errorf("%w: index header checksum mismatch", ErrCorrupt)
	}
	return h, nil
}

// parseHeader decodes a header whose checksum matched. It returns the index
// without readers, and the top level of hashes.
func parseHeader(h []byte) (*Index, []byte, error) {
	bad := func(what string) error { return fmt.Errorf("%w: index header: %s", ErrCorrupt, what) }
	r := h[len(magic)+8 : len(h)-sha256.Size]
	u64 := func() (int64, bool) {
		if len(r) < 8 {
			return 0, false
		}
		v := binary.LittleEndian.Uint64(r)
		r = r[8:]
		return int64(v), v <= 1<<62
	}
	ix := &Index{}
	var ok bool
	if ix.Length, ok = u64(); !ok {
		return nil, nil, bad("length")
	}
	copy(ix.SHA256[:], r)
	r = r[sha256.Size:]
	var v [11]int64
	for i := range v {
		if v[i], ok = u64(); !ok {
			return nil, nil, bad("field out of range")
		}
	}
	var shift, canonical, signers int64
	ix.Version, ix.Root, shift = v[0], v[1], v[2]
	ix.SignedOff, ix.SignedLen, ix.TargetsOff, ix.TargetsLen = v[3], v[4], v[5], v[6]
	canonical, ix.Entries, ix.Slots, signers = v[7], v[8], v[9], v[10]
	ix.Canonical = canonical == 1
	switch {
	case shift != chunkShift:
		return nil, nil, bad("chunk size")
	case canonical > 1:
		return nil, nil, bad("canonical flag")
	case ix.Slots&(ix.Slots-1) != 0 || ix.Slots > 1<<32 || ix.Entries > ix.Slots || (ix.Entries > 0) != (ix.Slots > 0):
		return nil, nil, bad("table size")
	case signers > 256:
		return nil, nil, bad("signers")
	}
	for range signers {
		n, ok := u64()
		if !ok || n > int64(len(r)) {
			return nil, nil, bad("signer")
		}
		ix.Signers = append(ix.Signers, string(r[:n]))
		r = r[n:]
	}
	if len(r)%sha256.Size != 0 {
		return nil, nil, bad("top hashes")
	}
	return ix, r, nil
}

// Reader reads a region of a file that is checked chunk by chunk against
// recorded SHA-256 hashes: every byte it returns is in a chunk that matched
// (and stays in memory), so a byte changed on disk, before or after, is
// never returned. Its memory is the chunks read, and the state of those
// chunks, kept by pages of 64 as they are first read: a reader of a large
// region costs nothing more until it reads. It is safe for concurrent
// use; reading a chunk checked already takes no lock.
//
// It reads the chunks a call needs and no more, one read per run of them
// not read yet: in a new process, memory is what a first lookup pays for
// most (a page fault per 4 KiB it fills costs several system calls on a
// virtual machine), and reading ahead fills pages that lookups scattered
// over a large file seldom use.
type Reader struct {
	src  File
	base int64 // where the region starts in src
	size int64
	// The recorded hash of chunk i is at sumsAt+i in the level of hashes
	// that sums reads, or in top if sums is nil.
	sums   *Reader
	sumsAt int64
	top    []byte
	mem    *slab // where the chunks read are kept

	mu sync.Mutex // serialises reading and checking chunks
	// dir is a two-level table of the pages of per-chunk state: a chunk's
	// page, once made, never changes.
	dir [maxChunks >> (pageBits + dirBits)]atomic.Pointer[dirPage]
}

const (
	pageBits = 6 // chunks per page: a word of bits
	dirBits  = 8 // pages per directory page
)

type dirPage [1 << dirBits]atomic.Pointer[page]

// page is the state of 64 chunks.
type page struct {
	// Bit c: chunk c matched its hash. It is set after the chunk's bytes
	// are in data, so that a reader who sees it sees them.
	ok atomic.Uint64
	// The rest is guarded by Reader.mu.
	bad  uint64                          // bit c: chunk c was found not to match
	data [1 << pageBits]*[ChunkSize]byte // the bytes of each chunk read
}

func (r *Reader) init(src File, base, size int64, sums *Reader, sumsAt int64, top []byte, mem *slab) {
	r.src, r.base, r.size, r.sums, r.sumsAt, r.top, r.mem = src, base, size, sums, sumsAt, top, mem
}

// page returns the page of chunk i, nil if none is made yet.
func (r *Reader) page(i int64) *page {
	d := r.dir[i>>(pageBits+dirBits)].Load()
	if d == nil {
		return nil
	}
	return d[i>>pageBits&(1<<dirBits-1)].Load()
}

// makePage returns the page of chunk i, making it if needed. r.mu is held.
func (r *Reader) makePage(i int64) *page {
	dp := &r.dir[i>>(pageBits+dirBits)]
	d := dp.Load()
	if d == nil {
		d = new(dirPage)
		dp.Store(d)
	}
	pp := &d[i>>pageBits&(1<<dirBits-1)]
	p := pp.Load()
	if p == nil {
		p = new(page)
		pp.Store(p)
	}
	return p
}

// checked reports whether chunk i matched its hash.
func (r *Reader) checked(i int64) bool {
	p := r.page(i)
	return p != nil && p.ok.Load()&(1<<(i%64)) != 0
}

// chunk returns the bytes of chunk i, checked.
func (r *Reader) chunk(i int64) []byte {
	return r.page(i).data[i%64][:min(r.size, (i+1)<<chunkShift)-i<<chunkShift]
}

// Size is the length of the region.
func (r *Reader) Size() int64 { return r.size }

// Bytes returns n bytes of the region at off, reading and checking the
// chunks they lie in first. A range outside the region, or a chunk that
// doesn't match its hash, is an error wrapping ErrCorrupt. The result must
// not be modified.
func (r *Reader) Bytes(off, n int64) ([]byte, error) { return r.bytes(off, n, false) }

// BytesFrom is Bytes, returning also the rest of the last chunk the n bytes
// lie in, up to the end of the region: all the checked bytes from off that
// Bytes(off, n) costs. A parser that doesn't know how long what it reads
// is tries that first, reading on only if it is cut off.
func (r *Reader) BytesFrom(off, n int64) ([]byte, error) { return r.bytes(off, n, true) }

func (r *Reader) bytes(off, n int64, rest bool) ([]byte, error) {
	if off < 0 || n < 0 || off > r.size || n > r.size-off {
		return nil, fmt.Errorf("%w: bytes %d+%d are outside the %d cached", ErrCorrupt, off, n, r.size)
	}
	if n == 0 {
		return nil, nil
	}
	first, last := off>>chunkShift, (off+n-1)>>chunkShift
	for i := first; i <= last; i++ {
		if !r.checked(i) {
			if err := r.load(i, last); err != nil {
				return nil, err
			}
		}
	}
	end := off + n
	if rest {
		end = min(r.size, (last+1)<<chunkShift)
	}
	if first == (end-1)>>chunkShift {
		lo, hi := off-first<<chunkShift, end-first<<chunkShift
		return r.chunk(first)[lo:hi:hi], nil
	}
	out := make([]byte, 0, end-off)
	for at := off; at < end; {
		c := at >> chunkShift
		hi := min(end, (c+1)<<chunkShift)
		out = append(out, r.chunk(c)[at-c<<chunkShift:hi-c<<chunkShift]...)
		at = hi
	}
	return out, nil
}

// sumOf returns the recorded hash of chunk i.
func (r *Reader) sumOf(i int64) ([]byte, error) {
	at := sha256.Size * (r.sumsAt + i)
	if r.sums == nil {
		return r.top[at : at+sha256.Size], nil
	}
	return r.sums.Bytes(at, sha256.Size)
}

// load reads chunk i, if it isn't read yet, with the chunks after it up to
// last that aren't either, and checks it against its hash.
func (r *Reader) load(i, last int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	lo, hi := i<<chunkShift, min(r.size, (i+1)<<chunkShift)
	p, bit := r.makePage(i), uint64(1)<<(i%64)
	switch {
	case p.ok.Load()&bit != 0:
		return nil
	case p.bad&bit != 0:
		return fmt.Errorf("%w: bytes %d-%d", ErrCorrupt, r.base+lo, r.base+hi)
	}
	want, err := r.sumOf(i)
	if err != nil {
		return err
	}
	if p.data[i%64] == nil {
		j := i + 1
		for j <= last && r.makePage(j).data[j%64] == nil {
			j++
		}
		buf := r.mem.take((j - i) << chunkShift)
		if err := readAt(r.src, buf[:min(r.size, j<<chunkShift)-lo], r.base+lo); err != nil {
			return err
		}
		for c := i; c < j; c++ {
			r.makePage(c).data[c%64] = (*[ChunkSize]byte)(buf[(c-i)<<chunkShift:])
		}
	}
	if sum := sha256.Sum256(p.data[i%64][:hi-lo]); !bytes.Equal(sum[:], want) {
		p.bad |= bit
		return fmt.Errorf("%w: bytes %d-%d", ErrCorrupt, r.base+lo, r.base+hi)
	}
	p.ok.Or(bit)
	return nil
}

// readAt fills p from src at off; a file that ends before is corrupt.
func readAt(src File, p []byte, off int64) error {
	n, err := src.ReadAt(p, off)
	switch {
	case n == len(p):
		return nil
	case errors.Is(err, io.EOF):
		return fmt.Errorf("%w: the file ends at byte %d", ErrCorrupt, off+int64(n))
	}
	return fmt.Errorf("reading cached metadata: %w", err)
}

// File is a cached file opened for a Reader.
type File interface {
	io.ReaderAt
	Size() int64
}
