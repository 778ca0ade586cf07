package cjson

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// Arguments for nextSpecial's ctl parameter.
const (
	ctlAllowed = 0   // canonical form: control characters are ordinary bytes
	ctlSpecial = msb // RFC 8259: control characters must be looked at
)

// nextSpecial returns the index of the first byte at or after j that is a
// double quote, a backslash, not ASCII, or (when ctl is ctlSpecial) a control
// character; len(b) if there is none. It looks at eight bytes at a time.
func nextSpecial(b []byte, j int, ctl uint64) int {
	for ; j+8 <= len(b); j += 8 {
		x := binary.LittleEndian.Uint64(b[j:])
		q := x ^ (lsb * '"')
		s := x ^ (lsb * '\\')
		// Per byte, the top bit of each term flags: equal to '"', equal to
		// '\\', below 0x20, at or above 0x80. Borrows can set a flag only
		// above a byte that is flagged rightly, so the lowest flag is exact.
		m := ((q - lsb) &^ q) | ((s - lsb) &^ s) | ((x - lsb*0x20) &^ x & ctl) | x
		if m &= msb; m != 0 {
			return j + bits.TrailingZeros64(m)>>3
		}
	}
	for ; j < len(b); j++ {
		c := b[j]
		if c == '"' || c == '\\' || c >= utf8.RuneSelf || (c < 0x20 && ctl != 0) {
			return j
		}
	}
	return j
}

// validRuneAt reports the length of the valid UTF-8 sequence starting at
// b[j], or 0 if it is invalid (including encoded surrogates).
func validRuneAt(b []byte, j int) int {
	r, size := utf8.DecodeRune(b[j:])
	if r == utf8.RuneError && size <= 1 {
		return 0
	}
	return size
}

// skipString returns the index after the closing quote of the string that
// starts at b[i], which must have been validated.
func skipString(b []byte, i int) int {
	j := i + 1
	for {
		q := j + bytes.IndexByte(b[j:], '"')
		n := 0
		for k := q - 1; b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return q + 1
		}
		j = q + 1
	}
}

// skipValue returns the index after the value that starts at b[i], which
// must have been validated.
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
	default:
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\n', '\r', '\t':
				return i
			}
			i++
		}
		return i
	}
}

// appendDecoded appends the decoded contents of a validated JSON string
// (without its quotes) to dst.
func appendDecoded(dst, s []byte) []byte {
	for {
		k := bytes.IndexByte(s, '\\')
		if k < 0 {
			return append(dst, s...)
		}
		dst = append(dst, s[:k]...)
		c := s[k+1]
		s = s[k+2:]
		switch c {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := rune(hex4(s))
			s = s[4:]
			if r >= 0xd800 && r < 0xdc00 {
				lo := rune(hex4(s[2:]))
				s = s[6:]
				r = 0x10000 + (r-0xd800)<<10 + (lo - 0xdc00)
			}
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/'
			dst = append(dst, c)
		}
	}
}

// appendCanonicalString appends s as a canonical JSON string, quotes
// included: only '"' and '\\' are escaped.
func appendCanonicalString(dst, s []byte) []byte {
	dst = append(dst, '"')
	for {
		k := 0
		for k < len(s) && s[k] != '"' && s[k] != '\\' {
			k++
		}
		dst = append(dst, s[:k]...)
		if k == len(s) {
			return append(dst, '"')
		}
		dst = append(dst, '\\', s[k])
		s = s[k+1:]
	}
}

// hex4 decodes four hexadecimal digits, or returns -1.
func hex4(b []byte) int {
	if len(b) < 4 {
		return -1
	}
	v := 0
	for _, c := range b[:4] {
		d := hexVal(c)
		if d < 0 {
			return -1
		}
		v = v<<4 | d
	}
	return v
}

// hexVal returns the value of the hexadecimal digit c, or -1.
func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
