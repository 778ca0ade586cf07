package cjson

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
)

// parser checks RFC 8259 input by the package's rules and, when emit is set,
// writes its canonical form to out.
type parser struct {
	src  []byte
	emit bool
	out  []byte

	tmp     []byte     // decoded contents of a string value with escapes
	arena   []byte     // decoded keys that had escapes; keys being sorted
	pos     []position // members of the objects being read
	recs    []member   // members of an object being sorted
	keys    []sortKey  // their order
	scratch []byte     // second output buffer, or room for a rotation, for sorting objects
}

// position is where a member of an object being read starts.
type position struct {
	off   int // offset of the key in src
	start int // offset in out of the comma before the member, or of its key
}

// member is one member of an object being sorted.
type member struct {
	key        []byte // decoded
	off        int    // offset of the key in src
	start, end int    // the member's canonical bytes in out
}

// top parses the single value that starts at src[i] and checks that only
// whitespace follows it.
func (p *parser) top(i int) error {
	i, err := p.value(i, 0)
	if err != nil {
		return err
	}
	if i = skipWS(p.src, i); i != len(p.src) {
		return errorf(i, ErrSyntax, "%s after top-level value", describe(p.src[i]))
	}
	return nil
}

func (p *parser) eof() *Error {
	return errorf(len(p.src), ErrSyntax, "unexpected end of input")
}

func (p *parser) value(i, depth int) (int, error) {
	b := p.src
	if i >= len(b) {
		return 0, p.eof()
	}
	switch c := b[i]; c {
	case '"':
		return p.stringValue(i)
	case '{':
		return p.object(i, depth+1)
	case '[':
		return p.array(i, depth+1)
	case 't':
		return p.literal(i, "true")
	case 'f':
		return p.literal(i, "false")
	case 'n':
		return p.literal(i, "null")
	default:
		if c == '-' || isDigit(c) {
			return p.number(i)
		}
		return 0, errorf(i, ErrSyntax, "%s looking for beginning of value", describe(c))
	}
}

func (p *parser) literal(i int, lit string) (int, error) {
	end := i + len(lit)
	if end > len(p.src) || string(p.src[i:end]) != lit {
		return 0, errorf(i, ErrSyntax, "invalid literal, expected %s", lit)
	}
	if p.emit {
		p.out = append(p.out, lit...)
	}
	return end, nil
}

// number checks the number at src[i]; only integers other than -0 are
// accepted, but the whole token is checked first so that malformed numbers
// are syntax errors.
func (p *parser) number(i int) (int, error) {
	b := p.src
	start := i
	if b[i] == '-' {
		i++
	}
	digits := func() (int, error) {
		if i >= len(b) {
			return 0, p.eof()
		}
		if !isDigit(b[i]) {
			return 0, errorf(i, ErrSyntax, "%s in numeric literal", describe(b[i]))
		}
		return skipDigits(b, i), nil
	}
	var err error
	if i < len(b) && b[i] == '0' {
		if i++; i < len(b) && isDigit(b[i]) {
			return 0, errorf(i, ErrSyntax, "leading zero in numeric literal")
		}
	} else if i, err = digits(); err != nil {
		return 0, err
	}
	intEnd := i
	if i < len(b) && b[i] == '.' {
		i++
		if i, err = digits(); err != nil {
			return 0, err
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i, err = digits(); err != nil {
			return 0, err
		}
	}
	switch {
	case i != intEnd:
		return 0, errorf(start, ErrNotCanonicalizable, "number %s is not an integer", b[start:i])
	case i-start == 2 && b[start] == '-' && b[start+1] == '0':
		return 0, errorf(start, ErrNotCanonicalizable, "negative zero")
	}
	if p.emit {
		p.out = append(p.out, b[start:i]...)
	}
	return i, nil
}

// scanString checks the string starting at src[i] and returns the index after
// its closing quote and whether it contains escapes.
func (p *parser) scanString(i int) (int, bool, error) {
	b := p.src
	esc := false
	j := i + 1
	for {
		j = nextSpecial(b, j, ctlSpecial)
		if j >= len(b) {
			return 0, false, p.eof()
		}
		switch c := b[j]; {
		case c == '"':
			return j + 1, esc, nil
		case c == '\\':
			esc = true
			var err error
			if j, err = p.escape(j); err != nil {
				return 0, false, err
			}
		case c < 0x20:
			return 0, false, errorf(j, ErrSyntax, "raw control character %#02x in string", c)
		default:
			n := validRuneAt(b, j)
			if n == 0 {
				return 0, false, errorf(j, ErrSyntax, "invalid UTF-8 in string")
			}
			j += n
		}
	}
}

// escape checks the escape sequence at src[j] and returns the index after it.
func (p *parser) escape(j int) (int, error) {
	b := p.src
	if j+1 >= len(b) {
		return 0, p.eof()
	}
	switch b[j+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return j + 2, nil
	case 'u':
	default:
		return 0, errorf(j, ErrSyntax, "invalid escape %q in string", b[j:j+2])
	}
	r, err := p.hexEscape(j)
	if err != nil {
		return 0, err
	}
	switch {
	case r >= 0xdc00 && r <= 0xdfff:
		return 0, errorf(j, ErrNotCanonicalizable, "lone surrogate %s in string", b[j:j+6])
	case r >= 0xd800 && r < 0xdc00:
		if j+7 < len(b) && b[j+6] == '\\' && b[j+7] == 'u' {
			lo, err := p.hexEscape(j + 6)
			if err != nil {
				return 0, err
			}
			if lo >= 0xdc00 && lo <= 0xdfff {
				return j + 12, nil
			}
		}
		return 0, errorf(j, ErrNotCanonicalizable, "lone surrogate %s in string", b[j:j+6])
	}
	return j + 6, nil
}

// hexEscape decodes the \uXXXX escape at src[j].
func (p *parser) hexEscape(j int) (int, error) {
	b := p.src
	for k := j + 2; k < j+6; k++ {
		if k >= len(b) {
			return 0, p.eof()
		}
		if hexVal(b[k]) < 0 {
			return 0, errorf(j, ErrSyntax, "invalid escape %q in string", b[j:k+1])
		}
	}
	return hex4(b[j+2 : j+6]), nil
}

func (p *parser) stringValue(i int) (int, error) {
	end, esc, err := p.scanString(i)
	if err != nil {
		return 0, err
	}
	if p.emit {
		if !esc {
			p.out = append(p.out, p.src[i:end]...)
		} else {
			p.tmp = appendDecoded(p.tmp[:0], p.src[i+1:end-1])
			p.out = appendCanonicalString(p.out, p.tmp)
		}
	}
	return end, nil
}

// key checks the key string at src[i] and returns the index after it, the
// decoded key and whether the key had escapes.
func (p *parser) key(i int) (int, []byte, bool, error) {
	end, esc, err := p.scanString(i)
	if err != nil {
		return 0, nil, false, err
	}
	if !esc {
		return end, p.src[i+1 : end-1], false, nil
	}
	n := len(p.arena)
	p.arena = appendDecoded(p.arena, p.src[i+1:end-1])
	return end, p.arena[n:len(p.arena):len(p.arena)], true, nil
}

func (p *parser) object(i, depth int) (int, error) {
	if depth > MaxDepth {
		return 0, errorf(i, ErrTooDeep, "nesting deeper than %d", MaxDepth)
	}
	b := p.src
	outStart := len(p.out)
	if p.emit {
		p.out = append(p.out, '{')
	}
	if i = skipWS(b, i+1); i < len(b) && b[i] == '}' {
		if p.emit {
			p.out = append(p.out, '}')
		}
		return i + 1, nil
	}
	// Members are written in document order and their positions noted.
	// While the keys are sorted, a duplicate can only be the previous key;
	// otherwise the object is sorted, and checked for duplicates, once it
	// is complete.
	var prev []byte
	base, arenaBase, sorted := len(p.pos), len(p.arena), true
	for n := 0; ; n++ {
		if i >= len(b) {
			return 0, p.eof()
		}
		if b[i] != '"' {
			return 0, errorf(i, ErrSyntax, "%s looking for beginning of object key string", describe(b[i]))
		}
		keyOff := i
		var key []byte
		var esc bool
		var err error
		if i, key, esc, err = p.key(i); err != nil {
			return 0, err
		}
		if n > 0 && sorted {
			if c := bytes.Compare(prev, key); c == 0 {
				return 0, errorf(keyOff, ErrDuplicateKey, "duplicate key %q", key)
			} else if c > 0 {
				sorted = false
			}
		}
		prev = key
		if len(p.pos) == cap(p.pos) {
			p.pos = slices.Grow(p.pos, len(p.pos)+1) // double, not append's 1.25
		}
		p.pos = append(p.pos, position{off: keyOff, start: len(p.out)})
		if p.emit {
			if n > 0 {
				p.out = append(p.out, ',')
			}
			if esc {
				p.out = appendCanonicalString(p.out, key)
			} else {
				p.out = append(p.out, b[keyOff:i]...)
			}
			p.out = append(p.out, ':')
		}
		if i = skipWS(b, i); i >= len(b) {
			return 0, p.eof()
		}
		if b[i] != ':' {
			return 0, errorf(i, ErrSyntax, "%s after object key", describe(b[i]))
		}
		if i, err = p.value(skipWS(b, i+1), depth); err != nil {
			return 0, err
		}
		if i = skipWS(b, i); i >= len(b) {
			return 0, p.eof()
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
			continue
		case '}':
		default:
			return 0, errorf(i, ErrSyntax, "%s after object key:value pair", describe(b[i]))
		}
		if !sorted {
			if err := p.sortMembers(p.pos[base:], outStart); err != nil {
				return 0, err
			}
		}
		p.pos = p.pos[:base]
		p.arena = p.arena[:arenaBase] // the keys of this object are no longer needed
		if p.emit {
			p.out = append(p.out, '}')
		}
		return i + 1, nil
	}
}

// sortMembers sorts the members at pos of the object whose output begins
// at out[outStart] and is complete but for its '}'. It reports duplicate
// keys and, when emitting, rewrites the members in order of their keys.
func (p *parser) sortMembers(pos []position, outStart int) error {
	recs := slices.Grow(p.recs[:0], len(pos))[:len(pos)]
	p.recs = recs
	keys := slices.Grow(p.keys[:0], len(pos))[:len(pos)]
	p.keys = keys
	for k, ps := range pos {
		// The keys of large objects are copied to the arena (where those
		// with escapes are put anyway): sorting then reads them from one
		// compact area rather than from all over src.
		_, key, esc, _ := p.key(ps.off)
		if !esc && len(pos) > smallSort {
			if len(p.arena)+len(key) > cap(p.arena) {
				p.arena = slices.Grow(p.arena, len(p.arena)+len(key))
			}
			n := len(p.arena)
			p.arena = append(p.arena, key...)
			key = p.arena[n:len(p.arena):len(p.arena)]
		}
		start, end := ps.start, len(p.out)
		if k > 0 {
			start++ // the comma
		}
		if k+1 < len(pos) {
			end = pos[k+1].start
		}
		recs[k] = member{key: key, off: ps.off, start: start, end: end}
		keys[k] = sortKey{idx: k}
	}
	sortKeys(recs, keys, 0)
	// Report the first key that repeats an earlier one: the second
	// smallest offset in a run of equal keys (the sort is not stable).
	dup := -1
	for lo := 0; lo < len(keys); {
		first, second := recs[keys[lo].idx].off, -1
		hi := lo + 1
		for ; hi < len(keys) && bytes.Equal(recs[keys[lo].idx].key, recs[keys[hi].idx].key); hi++ {
			switch off := recs[keys[hi].idx].off; {
			case off < first:
				first, second = off, first
			case second < 0 || off < second:
				second = off
			}
		}
		if second >= 0 && (dup < 0 || second < dup) {
			dup = second
		}
		lo = hi
	}
	if dup >= 0 {
		_, key, _, _ := p.key(dup)
		return errorf(dup, ErrDuplicateKey, "duplicate key %q", key)
	}
	switch {
	case !p.emit:
		return nil
	case len(recs) <= smallSort:
		p.rotateMembers(recs, keys)
		return nil
	}
	// Copy the object in order into a second buffer: either the output up
	// to the object is copied along and the buffers are swapped, or the
	// object is copied aside and written back, whichever copies less.
	if outStart < len(p.out)-outStart {
		if cap(p.scratch) < cap(p.out) {
			p.scratch = make([]byte, 0, cap(p.out))
		}
		buf := append(p.scratch[:0], p.out[:outStart+1]...)
		for k, sk := range keys {
			if k > 0 {
				buf = append(buf, ',')
			}
			m := &recs[sk.idx]
			buf = append(buf, p.out[m.start:m.end]...)
		}
		p.scratch, p.out = p.out, buf
		return nil
	}
	p.scratch = append(p.scratch[:0], p.out[outStart:]...)
	p.out = p.out[:outStart+1]
	for k, sk := range keys {
		if k > 0 {
			p.out = append(p.out, ',')
		}
		m := &recs[sk.idx]
		p.out = append(p.out, p.scratch[m.start-outStart:m.end-outStart]...)
	}
	return nil
}

// rotateMembers puts the few members recs of the object at the end of out
// in the order keys by rotating them in place. Each rotation copies its
// smaller side aside, so no second copy of a large member is needed (such as
// the "targets" member of go-tuf's "signed" object, which comes before
// "version").
func (p *parser) rotateMembers(recs []member, keys []sortKey) {
	p.out = append(p.out, ',') // now every member ends with a comma
	size := func(k int) int { return recs[k].end + 1 - recs[k].start }
	var order [smallSort]int // current order of the members
	for k := range recs {
		order[k] = k
	}
	at := recs[0].start
	for r, sk := range keys {
		j, off := r, at
		for order[j] != sk.idx {
			off += size(order[j])
			j++
		}
		n := size(sk.idx)
		// Rotate out[at:off+n] so that the member at off comes first.
		if a, b := p.out[at:off], p.out[off:off+n]; len(b) <= len(a) {
			p.scratch = append(p.scratch[:0], b...)
			copy(p.out[at+n:], a)
			copy(p.out[at:], p.scratch)
		} else {
			p.scratch = append(p.scratch[:0], a...)
			copy(p.out[at:], b)
			copy(p.out[at+n:], p.scratch)
		}
		copy(order[r+1:j+1], order[r:j])
		order[r] = sk.idx
		at += n
	}
	p.out = p.out[:len(p.out)-1]
}

// smallSort is the number of keys up to which sorting compares keys directly.
const smallSort = 12

// sortKey is an index into a slice of members with a chunk of its key.
type sortKey struct {
	chunk uint64
	idx   int
}

// sortKeys sorts keys by the keys of the members they index. It sorts by
// 7-byte chunks of the keys, starting at chunk depth: comparing integers held
// in the slice avoids fetching most keys from memory. A chunk holds the
// bytes big-endian in its top 56 bits, zero-padded, and in its low byte how
// many bytes of the key remain from the chunk's start, up to 8, so that
// integer order is key order and equal chunks with a low byte below 8 mean
// equal keys.
func sortKeys(recs []member, keys []sortKey, depth int) {
	const maxDepth = 16 // then plain comparisons, for keys with long common prefixes
	if len(keys) <= smallSort || depth == maxDepth {
		slices.SortFunc(keys, func(x, y sortKey) int { return bytes.Compare(recs[x.idx].key, recs[y.idx].key) })
		return
	}
	for k := range keys {
		keys[k].chunk = chunkAt(recs[keys[k].idx].key, depth)
	}
	slices.SortFunc(keys, func(x, y sortKey) int { return cmp.Compare(x.chunk, y.chunk) })
	for lo := 0; lo < len(keys); {
		hi := lo + 1
		for hi < len(keys) && keys[hi].chunk == keys[lo].chunk {
			hi++
		}
		if hi-lo > 1 && keys[lo].chunk&0xff == 8 {
			sortKeys(recs, keys[lo:hi], depth+1)
		}
		lo = hi
	}
}

// chunkAt returns the chunk of key at depth (see sortKeys).
func chunkAt(key []byte, depth int) uint64 {
	rest := key[min(depth*7, len(key)):]
	var c uint64
	for i := range min(len(rest), 7) {
		c |= uint64(rest[i]) << (56 - 8*i)
	}
	return c | uint64(min(len(rest), 8))
}

func (p *parser) array(i, depth int) (int, error) {
	if depth > MaxDepth {
		return 0, errorf(i, ErrTooDeep, "nesting deeper than %d", MaxDepth)
	}
	b := p.src
	if p.emit {
		p.out = append(p.out, '[')
	}
	if i = skipWS(b, i+1); i < len(b) && b[i] == ']' {
		if p.emit {
			p.out = append(p.out, ']')
		}
		return i + 1, nil
	}
	for {
		var err error
		if i, err = p.value(i, depth); err != nil {
			return 0, err
		}
		if i = skipWS(b, i); i >= len(b) {
			return 0, p.eof()
		}
		switch b[i] {
		case ',':
			if p.emit {
				p.out = append(p.out, ',')
			}
			i = skipWS(b, i+1)
		case ']':
			if p.emit {
				p.out = append(p.out, ']')
			}
			return i + 1, nil
		default:
			return 0, errorf(i, ErrSyntax, "%s after array element", describe(b[i]))
		}
	}
}

// describe names the byte c for an error message.
func describe(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return fmt.Sprintf("invalid character %q", c)
	}
	return fmt.Sprintf("invalid byte %#02x", c)
}
