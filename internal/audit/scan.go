package audit

import (
	"bytes"
	"strconv"
	"time"
	"unicode/utf8"
)

// maxScanDepth is how deeply nested fields scanRecord reads; deeper ones
// are left to decodeRecord.
const maxScanDepth = 100

// scanRecord is the fast path of parseRecord: it reads line as the
// canonical form itself, byte by byte, without reflection and without
// encoding the record again, which in a new process costs far more than
// the line is long. It returns ok only if line is exactly what
// encodeRecord writes for a valid record, fields in the form
// canonicalFields gives; decodeRecord would then return the same Record.
// ok false decides nothing: decodeRecord, which defines the form, reads
// the line again and gives the reason. FuzzScanRecord checks that the two
// agree on every line (fields nested deeper than maxScanDepth aside).
//
// The form, as encoding/json writes it (HTML escaping on): the members in
// order with no spaces; seq in decimal without leading zeros; time as
// time.Time's MarshalJSON writes it; kind and prev, whose characters need
// no escaping; fields a JSON object whose keys are sorted (as the decoded
// strings compare) and unique at every level, numbers as written, strings
// escaped as appendString in encoding/json does it.
func scanRecord(line []byte) (r Record, ok bool) {
	s := scan{b: line}
	if !s.lit(`{"seq":`) {
		return Record{}, false
	}
	digits := s.digits()
	if len(digits) == 0 || digits[0] == '0' {
		return Record{}, false
	}
	seq, err := strconv.ParseUint(string(digits), 10, 64)
	if err != nil || !s.lit(`,"time":"`) {
		return Record{}, false
	}
	// Up to the next quote: a time holds no escapes.
	end := bytes.IndexByte(line[s.i:], '"')
	if end < 0 {
		return Record{}, false
	}
	quoted := line[s.i-1 : s.i+end+1]
	s.i += end + 1
	var t time.Time
	if t.UnmarshalJSON(quoted) != nil || t.Location() != time.UTC {
		return Record{}, false
	}
	if again, err := t.MarshalJSON(); err != nil || !bytes.Equal(again, quoted) {
		return Record{}, false
	}
	if !s.lit(`,"kind":"`) {
		return Record{}, false
	}
	end = bytes.IndexByte(line[s.i:], '"')
	if end < 0 {
		return Record{}, false
	}
	kind := string(line[s.i : s.i+end])
	s.i += end + 1
	if !validKind(kind) {
		return Record{}, false
	}
	if !s.lit(`,"fields":`) {
		return Record{}, false
	}
	start := s.i
	if !s.object(1) || s.i-start > MaxFieldsSize {
		return Record{}, false
	}
	fields := bytes.Clone(line[start:s.i])
	const hashEnd = `"}` + "\n"
	if !s.lit(`,"prev":"`) || len(line)-s.i != len(Genesis)+len(hashEnd) {
		return Record{}, false
	}
	prev := string(line[s.i : s.i+len(Genesis)])
	s.i += len(Genesis)
	if !validHash(prev) || !s.lit(hashEnd) {
		return Record{}, false
	}
	return Record{Seq: seq, Time: t, Kind: kind, Fields: fields, Prev: prev}, true
}

// scan reads canonical JSON from b at i.
type scan struct {
	b []byte
	i int
}

// lit consumes lit if b continues with it.
func (s *scan) lit(lit string) bool {
	if !bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
		return false
	}
	s.i += len(lit)
	return true
}

// digits consumes the decimal digits at i and returns them.
func (s *scan) digits() []byte {
	start := s.i
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
	}
	return s.b[start:s.i]
}

// value consumes a JSON value at depth (the depth of its container).
func (s *scan) value(depth int) bool {
	if s.i == len(s.b) {
		return false
	}
	switch s.b[s.i] {
	case '{':
		return s.object(depth + 1)
	case '[':
		return s.array(depth + 1)
	case '"':
		_, ok := s.str()
		return ok
	case 't':
		return s.lit("true")
	case 'f':
		return s.lit("false")
	case 'n':
		return s.lit("null")
	default:
		return s.number()
	}
}

// object consumes an object whose keys are unique and sorted: encoding/json
// writes a map's keys in strings.Compare order, and a key written twice
// decodes to one map entry, which encodes once.
func (s *scan) object(depth int) bool {
	if depth > maxScanDepth || !s.lit("{") {
		return false
	}
	if s.lit("}") {
		return true
	}
	var prev []byte
	for n := 0; ; n++ {
		key, ok := s.str()
		if !ok || n > 0 && bytes.Compare(prev, key) >= 0 || !s.lit(":") || !s.value(depth) {
			return false
		}
		if s.lit("}") {
			return true
		}
		if !s.lit(",") {
			return false
		}
		prev = key
	}
}

func (s *scan) array(depth int) bool {
	if depth > maxScanDepth || !s.lit("[") {
		return false
	}
	if s.lit("]") {
		return true
	}
	for {
		if !s.value(depth) {
			return false
		}
		if s.lit("]") {
			return true
		}
		if !s.lit(",") {
			return false
		}
	}
}

// number consumes a number in JSON's grammar: decoded as a json.Number
// (canonicalFields uses UseNumber), any valid number is written back as
// it is.
func (s *scan) number() bool {
	s.lit("-")
	switch {
	case s.lit("0"):
	case s.i < len(s.b) && '1' <= s.b[s.i] && s.b[s.i] <= '9':
		s.digits()
	default:
		return false
	}
	if s.lit(".") && len(s.digits()) == 0 {
		return false
	}
	if s.lit("e") || s.lit("E") {
		if !s.lit("+") {
			s.lit("-")
		}
		if len(s.digits()) == 0 {
			return false
		}
	}
	return true
}

// str consumes a string written as encoding/json writes it and returns its
// decoded bytes: line's own bytes when it has no escapes. Each character
// must be in the one form appendString gives it: printable ASCII and valid
// UTF-8 as they are, except '"', '\\', '<', '>', '&', U+2028 and U+2029,
// which are escaped, as are control characters (\b, \f, \n, \r, \t, the
// others \u00xx in lowercase hex). Invalid UTF-8, which decodes to U+FFFD
// and is then written as it is, is not in the form.
func (s *scan) str() ([]byte, bool) {
	if !s.lit(`"`) {
		return nil, false
	}
	start := s.i
	var dec []byte // the decoded string, once an escape was read
	escaped := false
	for s.i < len(s.b) {
		c := s.b[s.i]
		size := 1
		switch {
		case c == '"':
			s.i++
			if !escaped {
				return s.b[start : s.i-1], true
			}
			return dec, true
		case c == '\\':
			r, n := escape(s.b[s.i:])
			if n == 0 {
				return nil, false
			}
			if !escaped {
				dec, escaped = append(dec, s.b[start:s.i]...), true
			}
			dec = utf8.AppendRune(dec, r)
			s.i += n
			continue
		case c < utf8.RuneSelf:
			if c < 0x20 || c == '<' || c == '>' || c == '&' {
				return nil, false
			}
		default:
			var r rune
			r, size = utf8.DecodeRune(s.b[s.i:])
			if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
				return nil, false
			}
		}
		if escaped {
			dec = append(dec, s.b[s.i:s.i+size]...)
		}
		s.i += size
	}
	return nil, false
}

// escape reads the escape at the start of b if it is the one appendString
// writes for its character, and returns that character and the escape's
// length; 0 if it is not.
func escape(b []byte) (rune, int) {
	if len(b) < 2 {
		return 0, 0
	}
	switch b[1] {
	case '"', '\\':
		return rune(b[1]), 2
	case 'b':
		return '\b', 2
	case 'f':
		return '\f', 2
	case 'n':
		return '\n', 2
	case 'r':
		return '\r', 2
	case 't':
		return '\t', 2
	case 'u':
	default:
		return 0, 0
	}
	if len(b) < 6 {
		return 0, 0
	}
	var r rune
	for _, c := range b[2:6] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		default:
			return 0, 0
		}
	}
	switch {
	case r < 0x20 && r != '\b' && r != '\f' && r != '\n' && r != '\r' && r != '\t',
		r == '<', r == '>', r == '&', r == '\u2028', r == '\u2029':
		return r, 6
	}
	return 0, 0
}
