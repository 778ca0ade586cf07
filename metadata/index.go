package metadata

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strings"

	"github.com/latchsec/latch/internal/cjson"
	"github.com/latchsec/latch/internal/targetindex"
)

// The "targets" map of a document is indexed, not decoded: the offsets of
// its members' keys in key order (for Paths, and a binary search) and an
// open-addressing hash table over the keys (for Target). Open builds both
// while it validates every entry. A client keeps them beside its cached
// copy (package internal/targetindex), so that a new process reopens the
// cache by reading only what it uses: that path is reachable only through
// the hooks below, set for the client, never through this package's API.

func init() {
	targetindex.Build = buildIndex
	targetindex.Reopen = reopenTargets
	targetindex.ErrCorrupt = ErrCacheCorrupt
}

// entries is the indexed "targets" object of a document: in memory for a
// document opened here, or in a client's cache, read through a
// targetindex.Index that checks every chunk it reads.
type entries struct {
	n         int  // members
	objLen    int  // bytes of the object
	canonical bool // the object's bytes are canonical; else canonicalised when read

	obj            []byte   // in memory: the object
	offsets, slots []uint32 // in memory: the index

	ix     *targetindex.Index // from a cache: nil in memory
	objOff int64              // where the object starts in ix.Data
	nslots int                // slots in ix.Body
}

// maxProbe bounds a probe sequence of the hash table; an entry that finds
// no free slot within it is found by binary search. It keeps lookups fast
// whatever the keys, even ones chosen to collide.
const maxProbe = 64

// keyHash is the hash of a target path in the table. It is fixed (the
// table is kept on disk), which is why probes are bounded.
func keyHash[S ~string | ~[]byte](s S) uint64 {
	const m1, m2 = 0x9e3779b97f4a7c15, 0xbf58476d1ce4e5b9
	h := uint64(len(s)) * m1
	for ; len(s) >= 8; s = s[8:] {
		w := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
		h = (h ^ w) * m2
		h ^= h >> 31
	}
	for i := range len(s) {
		h = (h ^ uint64(s[i])) * m1
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	return h ^ h>>33
}

// rawKeyHash hashes a raw (still escaped) key as its decoded form.
func rawKeyHash(raw []byte) uint64 {
	if bytes.IndexByte(raw, '\\') >= 0 {
		return keyHash(cjson.DecodeKey(raw))
	}
	return keyHash(raw)
}

// A slot holds the entry number plus one in its low idxBits bits (0 is an
// empty slot) and the top bits of the upper half of the key's hash above:
// most probes that can't match are told apart without reading a key.
func idxBits(n int) int { return bits.Len(uint(n)) }

func tagOf(h uint64, idxBits int) uint32 { return uint32(h>>32) >> idxBits }

// newTable returns the hash table over n keys, in key order, the i-th
// hashing to hash(i): a power of two of slots, at least twice as many as
// keys.
func newTable(n int, hash func(i int) uint64) []uint32 {
	if n == 0 {
		return nil
	}
	slots := make([]uint32, 1<<bits.Len(uint(2*n-1)))
	mask, ib := uint64(len(slots)-1), idxBits(n)
	for i := range n {
		h := hash(i)
		s := tagOf(h, ib)<<ib | uint32(i+1)
		for d := range uint64(maxProbe) {
			if p := (h + d) & mask; slots[p] == 0 {
				slots[p] = s
				break
			}
		}
	}
	return slots
}

// broken reports bytes or an index that don't describe a valid entry: in a
// cache, corruption; in memory, a bug (Open validated them).
func (e *entries) broken(format string, args ...any) error {
	sentinel := ErrMalformed
	if e.ix != nil {
		sentinel = ErrCacheCorrupt
	}
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
}

func (e *entries) slot(i int) (uint32, error) {
	if e.ix == nil {
		return e.slots[i], nil
	}
	b, err := e.ix.Body.Bytes(4*int64(i), 4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

// offset is where the key of the i-th entry in key order starts.
func (e *entries) offset(i int) (int, error) {
	if e.ix == nil {
		return int(e.offsets[i]), nil
	}
	b, err := e.ix.Body.Bytes(4*(int64(e.nslots)+int64(i)), 4)
	if err != nil {
		return 0, err
	}
	off := int(binary.LittleEndian.Uint32(b))
	if off >= e.objLen {
		return 0, e.broken("entry %d at offset %d, outside the targets object", i, off)
	}
	return off, nil
}

// member returns the raw key, and unless keyOnly the value, of the member
// whose key starts at off. In a cache it is checked as it is read: an
// offset that doesn't point at a member is an error, never a panic.
func (e *entries) member(off int, keyOnly bool) (key, value []byte, err error) {
	if e.ix == nil {
		// Offsets this process computed, into bytes Open validated.
		key, value = cjson.MemberAt(e.obj, off)
		return key, value, nil
	}
	// First what the chunk of the key holds: most entries end in it, and
	// a chunk is hashed only once a lookup needs it. A member cut off is
	// read again, twice as long.
	for n := 1; ; {
		b, err := e.ix.Data.BytesFrom(e.objOff+int64(off), int64(min(n, e.objLen-off)))
		if err != nil {
			return nil, nil, err
		}
		b = b[:min(len(b), e.objLen-off)]
		n = 2*len(b) + 1
		if keyOnly {
			key, err = cjson.KeyChecked(b, 0, e.canonical)
		} else {
			key, value, err = cjson.MemberChecked(b, 0, e.canonical)
		}
		if err == nil {
			return key, value, nil
		}
		if off+len(b) >= e.objLen {
			return nil, nil, e.broken("no target entry at offset %d: %v", off, err)
		}
	}
}

// keyIs reports whether a raw key, checked, is path once decoded.
func keyIs(raw []byte, path string) bool {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw) == path
	}
	return cjson.DecodeKey(raw) == path
}

// find returns the raw value of the entry for path.
func (e *entries) find(path string) ([]byte, bool, error) {
	if e.n == 0 {
		return nil, false, nil
	}
	nslots := len(e.slots)
	if e.ix != nil {
		nslots = e.nslots
	}
	h, ib := keyHash(path), idxBits(e.n)
	mask, tag := uint64(nslots-1), tagOf(h, ib)
	for d := range uint64(maxProbe) {
		s, err := e.slot(int((h + d) & mask))
		if err != nil {
			return nil, false, err
		}
		if s == 0 {
			return nil, false, nil
		}
		if s>>ib != tag {
			continue
		}
		i := int(uint64(s)&(1<<ib-1)) - 1
		if i < 0 || i >= e.n {
			return nil, false, e.broken("hash table names entry %d of %d", i, e.n)
		}
		off, err := e.offset(i)
		if err != nil {
			return nil, false, err
		}
		if e.ix == nil && !e.rawKeyMayBe(off, path) {
			continue
		}
		k, v, err := e.member(off, false)
		if err != nil {
			return nil, false, err
		}
		if keyIs(k, path) {
			return v, true, nil
		}
	}
	return e.search(path)
}

// rawKeyMayBe reports whether the key at off in an object in memory may be
// path, without scanning it: false only if it can't be. A key that needs no
// escapes (no '"' or '\\' in path) is path exactly when its bytes are.
func (e *entries) rawKeyMayBe(off int, path string) bool {
	if strings.ContainsAny(path, "\"\\") {
		return true
	}
	end := off + 1 + len(path)
	return end < len(e.obj) && e.obj[end] == '"' && string(e.obj[off+1:end]) == path
}

// search is find's binary search, for a key whose probe sequence was full.
func (e *entries) search(path string) ([]byte, bool, error) {
	lo, hi := 0, e.n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		off, err := e.offset(m)
		if err != nil {
			return nil, false, err
		}
		k, _, err := e.member(off, true)
		if err != nil {
			return nil, false, err
		}
		var c int
		if bytes.IndexByte(k, '\\') < 0 {
			c = bytes.Compare(k, []byte(path))
		} else {
			c = cmp.Compare(cjson.DecodeKey(k), path)
		}
		switch {
		case c < 0:
			lo = m + 1
		case c > 0:
			hi = m
		default:
			_, v, err := e.member(off, false)
			return v, err == nil, err
		}
	}
	return nil, false, nil
}

// wireSpan locates the received bytes of a document that arrived canonical:
// "signed" at signedOff (length signedLen) in them, and its "targets" value
// at targetsOff in signed. signedLen == 0 means they were not canonical.
type wireSpan struct {
	signedOff, signedLen, targetsOff int
}

// targetsOffset returns where the value of "targets" starts in a canonical
// "signed" object.
func targetsOffset(signed []byte) int {
	off, _ := cjson.ValueAt(signed, "targets")
	return off
}

// buildIndex is targetindex.Build: the layout of doc, just opened from
// data, in data, and its lookup tables over data's bytes. A document that
// arrived canonical is indexed as it was opened; one that didn't is walked
// once more, as received (the signatures cover its canonical form, which
// every value read from it is turned into).
func buildIndex(doc any, data []byte) (targetindex.Layout, []uint32, []uint32, error) {
	t, ok := doc.(*Targets)
	if !ok || t.entries.ix != nil {
		return targetindex.Layout{}, nil, nil, errors.New("metadata: only a document opened from data is indexed")
	}
	lay := targetindex.Layout{Entries: int64(t.entries.n), Slots: int64(len(t.entries.slots)), Signers: t.signers}
	if w := t.wire; w.signedLen > 0 {
		lay.SignedOff, lay.SignedLen, lay.TargetsOff = int64(w.signedOff), int64(w.signedLen), int64(w.targetsOff)
		lay.TargetsLen, lay.Canonical = int64(t.entries.objLen), true
		return lay, t.entries.slots, t.entries.offsets, nil
	}
	start := len(data) - len(bytes.TrimLeft(data, " \t\r\n"))
	env := data[start:]
	signedOff, ok := cjson.ValueAt(env, "signed")
	if !ok {
		return lay, nil, nil, errors.New(`metadata: no "signed" in the bytes to index`)
	}
	signed := env[signedOff:cjson.ValueEnd(env, signedOff)]
	targetsOff, ok := cjson.ValueAt(signed, "targets")
	if !ok {
		return lay, nil, nil, errors.New(`metadata: no "targets" in the bytes to index`)
	}
	obj := signed[targetsOff:cjson.ValueEnd(signed, targetsOff)]
	offsets := make([]uint32, 0, t.entries.n)
	sorted, prev := true, []byte(nil)
	_ = cjson.MembersValid(obj, func(off int, k, _ []byte) error {
		sorted = sorted && (len(offsets) == 0 || keyLess(prev, k))
		offsets, prev = append(offsets, uint32(off)), k
		return nil
	})
	if len(offsets) != t.entries.n {
		return lay, nil, nil, fmt.Errorf("metadata: %d targets in the bytes to index, %d opened", len(offsets), t.entries.n)
	}
	if !sorted {
		slices.SortFunc(offsets, func(a, b uint32) int {
			return cmp.Compare(cjson.DecodeKey(cjson.KeyAt(obj, int(a))), cjson.DecodeKey(cjson.KeyAt(obj, int(b))))
		})
	}
	slots := newTable(len(offsets), func(i int) uint64 { return rawKeyHash(cjson.KeyAt(obj, int(offsets[i]))) })
	lay.SignedOff, lay.SignedLen = int64(start+signedOff), int64(len(signed))
	lay.TargetsOff, lay.TargetsLen = int64(targetsOff), int64(len(obj))
	return lay, slots, offsets, nil
}

// keyLess reports whether raw key a sorts before raw key b once both are
// decoded, decoding only keys with escapes.
func keyLess(a, b []byte) bool {
	if bytes.IndexByte(a, '\\') < 0 && bytes.IndexByte(b, '\\') < 0 {
		return bytes.Compare(a, b) < 0
	}
	return cjson.DecodeKey(a) < cjson.DecodeKey(b)
}

// reopenTargets is targetindex.Reopen: the document of role name that ix
// describes, read from the client's cache. Its signatures are not checked
// again (the client does this only while the root that verified the bytes
// is still trusted); the header and the delegations are decoded again from
// checked chunks, and the targets map is read entry by entry when looked
// up. Any mismatch is an error wrapping ErrCacheCorrupt: the client then
// opens the bytes in full.
func reopenTargets(ix *targetindex.Index, name string) (any, error) {
	t := &Targets{name: name}
	if err := t.reopen(ix); err != nil {
		return nil, &Error{Role: name, Version: t.version, Err: fmt.Errorf("reopening from the cache: %w", err)}
	}
	return t, nil
}

func (t *Targets) reopen(ix *targetindex.Index) error {
	bad := func(what string) error { return fmt.Errorf("%w: %s", ErrCacheCorrupt, what) }
	l := ix.Layout
	switch {
	case l.SignedLen < 2 || l.SignedOff > ix.Length-l.SignedLen,
		l.TargetsOff < 1 || l.TargetsLen < 2 || l.TargetsOff > l.SignedLen-l.TargetsLen,
		l.TargetsLen > 1<<32-1 || l.Entries > l.TargetsLen/4 || int64(len(l.Signers)) > MaxSignatures:
		return bad("index layout out of bounds")
	}
	head, err := ix.Data.Bytes(l.SignedOff, l.TargetsOff)
	if err != nil {
		return err
	}
	objOff := l.SignedOff + l.TargetsOff
	tail, err := ix.Data.Bytes(objOff+l.TargetsLen, l.SignedLen-l.TargetsOff-l.TargetsLen)
	if err != nil {
		return err
	}
	first, err := ix.Data.Bytes(objOff, 1)
	if err != nil {
		return err
	}
	last, err := ix.Data.Bytes(objOff+l.TargetsLen-1, 1)
	if err != nil {
		return err
	}
	if first[0] != '{' || last[0] != '}' {
		return bad("index does not point at the targets object")
	}
	// The header and the delegations, from "signed" with the targets map
	// left out: its canonical form, as Open decodes it, with {} there.
	rest := make([]byte, 0, len(head)+2+len(tail))
	rest = append(append(append(rest, head...), "{}"...), tail...)
	canonical, err := cjson.Canonicalize(rest)
	if err != nil || (l.Canonical && !cjson.IsCanonical(rest)) {
		return bad(`"signed" without its targets is not what was verified`)
	}
	o, err := parseObject(canonical, "signed")
	if err != nil {
		return err
	}
	if v := o["targets"]; string(v) != "{}" {
		return bad("index does not point at the targets object")
	}
	if t.header, err = parseHeader(o, RoleTargets); err != nil {
		return err
	}
	if d, ok := o["delegations"]; ok {
		if t.delegations, err = parseDelegations(d); err != nil {
			return fmt.Errorf("delegations: %w", err)
		}
	}
	t.signers = slices.Clone(l.Signers)
	t.entries = entries{n: int(l.Entries), objLen: int(l.TargetsLen), canonical: l.Canonical, ix: ix, objOff: objOff, nslots: int(l.Slots)}
	return nil
}
