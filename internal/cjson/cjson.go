// Package cjson computes the canonical JSON form that TUF signs (the OLPC
// form, as produced by go-securesystemslib's cjson.EncodeCanonical) directly
// from received bytes, without decoding into Go values and re-encoding them.
//
// # Canonical form
//
//   - No insignificant whitespace.
//   - Object members sorted by their decoded keys, compared as UTF-8 bytes
//     (which is also Unicode code point order); keys are unique.
//   - Strings hold raw UTF-8: only backslash and double quote are escaped
//     (as \\ and \"); every other character, control characters included, is
//     written as itself. Input escapes such as \u00e9, \n, \/ and surrogate
//     pairs are decoded.
//   - Numbers are integers, written digit for digit as received, of any size.
//   - true, false and null as themselves.
//
// Because control characters are written raw, canonical bytes are not always
// RFC 8259 JSON. The accepted input language is therefore RFC 8259 JSON (with
// the restrictions below) together with bytes that are already in canonical
// form: Canonicalize, IsCanonical, Members, Elements and String all accept a
// raw control character inside a string only when the whole value they are
// given is already canonical.
//
// # What is rejected, and why
//
// Every rejection is an *Error that carries the byte offset and wraps one of
// the sentinels:
//
//   - ErrSyntax: anything that is not RFC 8259 JSON: bad tokens, raw control
//     characters in strings of non-canonical input, invalid UTF-8 (other
//     parsers replace it with U+FFFD, so two different inputs would sign the
//     same), a byte order mark, trailing data after the value.
//   - ErrNotCanonicalizable: JSON that the canonical form cannot represent
//     faithfully: numbers with a fraction or an exponent (1.0, 1e3), negative
//     zero (-0: go-securesystemslib writes "-0" but Python TUF writes "0", so
//     no signature over it is portable), and lone UTF-16 surrogate escapes
//     such as "\ud800" (they have no UTF-8 form; encoding/json, and so
//     go-securesystemslib, silently replaces them with U+FFFD, while Python
//     cannot encode them at all). A leading + or leading zeros are not JSON
//     and are ErrSyntax.
//   - ErrDuplicateKey: an object with the same decoded key twice at any depth.
//     Parsers disagree on which one wins, which lets one signed document mean
//     two things.
//   - ErrTooDeep: arrays and objects nested deeper than MaxDepth.
//
// A duplicate is reported at the offset of the first key that repeats an
// earlier one; when an object's keys are out of order, duplicates are found
// only once the whole object has been read, so an error in a later member
// value may be reported instead.
//
// # Fast path
//
// Well-behaved repositories often publish canonical bytes, and the output of
// Canonicalize is canonical. IsCanonical checks that in one pass without
// allocating, and Canonicalize returns such input as a subslice of its
// argument, without copying. Other input is parsed once and written straight
// into an output buffer no longer than the input; members of an object are
// written in document order and only objects whose keys turn out to be out of
// order are sorted afterwards.
package cjson

import (
	"errors"
	"fmt"
)

// MaxDepth is the deepest nesting of arrays and objects accepted anywhere:
// 64 nested arrays are accepted, 65 are not.
const MaxDepth = 64

var (
	// ErrSyntax means the input is not valid JSON (RFC 8259): bad tokens,
	// raw control characters inside strings (of input not already
	// canonical), invalid UTF-8, trailing data.
	ErrSyntax = errors.New("cjson: invalid json")
	// ErrNotCanonicalizable means valid JSON that the canonical form cannot
	// represent: fractions, exponents, negative zero, lone surrogates.
	ErrNotCanonicalizable = errors.New("cjson: json not representable in canonical form")
	// ErrDuplicateKey means an object has the same key twice.
	ErrDuplicateKey = errors.New("cjson: duplicate object key")
	// ErrTooDeep means arrays and objects are nested deeper than MaxDepth.
	ErrTooDeep = errors.New("cjson: json nested too deeply")
	// ErrRange means an integer does not fit the Go type asked for (Int).
	ErrRange = errors.New("cjson: integer out of range")
)

// Error describes why input was rejected and where.
type Error struct {
	// Offset is the byte offset in the input where the problem was found.
	Offset int
	// Err is one of the package's sentinel errors.
	Err error
	// Detail says what exactly was wrong.
	Detail string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%v at offset %d: %s", e.Err, e.Offset, e.Detail)
}

// Unwrap returns the sentinel error.
func (e *Error) Unwrap() error { return e.Err }

func errorf(off int, sentinel error, format string, args ...any) *Error {
	return &Error{Offset: off, Err: sentinel, Detail: fmt.Sprintf(format, args...)}
}

// Canonicalize returns the canonical form of the single JSON value in src;
// whitespace around the value is allowed.
//
// If src, with surrounding whitespace trimmed, is already canonical,
// Canonicalize returns that subslice of src (with its capacity limited to its
// length) without copying or allocating. Otherwise it returns a new slice.
// Integers of any size pass through digit for digit. Duplicate keys at any
// depth, nesting deeper than MaxDepth, invalid UTF-8, raw control characters
// inside strings (of non-canonical input), fractions and exponents are errors
// of type *Error; the result is nil then.
func Canonicalize(src []byte) ([]byte, error) {
	start, end := trim(src)
	if t := src[start:end:end]; isCanonical(t) {
		return t, nil
	}
	p := parser{src: src, emit: true, out: make([]byte, 0, end-start)}
	if err := p.top(start); err != nil {
		return nil, err
	}
	return p.out, nil
}

// IsCanonical reports whether src is a single JSON value already in canonical
// form, with no whitespace around it. It makes one pass and does not allocate.
func IsCanonical(src []byte) bool {
	return isCanonical(src)
}

// validate checks the single value in src starting at start (after leading
// whitespace) by the rules of Canonicalize, without producing output.
func validate(src []byte, start int) error {
	_, end := trim(src)
	if start <= end && isCanonical(src[start:end]) {
		return nil
	}
	p := parser{src: src}
	return p.top(start)
}

// trim returns the bounds of src without leading and trailing JSON whitespace.
func trim(src []byte) (start, end int) {
	start = skipWS(src, 0)
	end = len(src)
	for end > start && isWS(src[end-1]) {
		end--
	}
	return start, end
}

func isWS(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t'
}

func skipWS(b []byte, i int) int {
	for i < len(b) && b[i] <= ' ' && isWS(b[i]) {
		i++
	}
	return i
}
