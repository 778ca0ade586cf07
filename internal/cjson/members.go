package cjson

import (
	"bytes"
	"math"
)

// Members calls fn for each member of the JSON object in obj, in document
// order, with the decoded key and the raw bytes of the value (without
// surrounding whitespace, capacity limited to their length).
//
// The whole object is validated first, by the rules of Canonicalize (syntax,
// UTF-8, depth counted from obj, duplicate keys in obj and below), so fn is
// never called for invalid input; each value is validated once. Members stops
// at the first error from fn and returns it unwrapped. If obj is not an
// object, the error is an *Error wrapping ErrSyntax.
func Members(obj []byte, fn func(key string, value []byte) error) error {
	start, err := container(obj, '{', "object")
	if err != nil {
		return err
	}
	return MembersValid(obj[start:], func(_ int, k, v []byte) error { return fn(decodeString(k), v) })
}

// Elements calls fn for each element of the JSON array in arr, in order,
// with the raw bytes of the element (without surrounding whitespace, capacity
// limited to their length). It validates like Members, stops at the first
// error from fn and returns it unwrapped. If arr is not an array, the error
// is an *Error wrapping ErrSyntax.
func Elements(arr []byte, fn func(value []byte) error) error {
	start, err := container(arr, '[', "array")
	if err != nil {
		return err
	}
	return ElementsValid(arr[start:], fn)
}

// container validates the single value in b, which must start with the
// byte open, and returns the index of that byte.
func container(b []byte, open byte, what string) (int, error) {
	start := skipWS(b, 0)
	if start < len(b) && b[start] != open {
		return 0, errorf(start, ErrSyntax, "not a JSON %s", what)
	}
	if err := validate(b, start); err != nil {
		return 0, err
	}
	return start, nil
}

// String decodes the JSON string value in v (quotes included; whitespace
// around it allowed). Escapes are decoded; the rules are those of
// Canonicalize.
func String(v []byte) (string, error) {
	start, end := trim(v)
	if start < len(v) && v[start] != '"' {
		return "", errorf(start, ErrSyntax, "not a JSON string")
	}
	if err := validate(v, start); err != nil {
		return "", err
	}
	return decodeString(v[start+1 : end-1]), nil
}

// Int parses the JSON integer value in v (whitespace around it allowed).
// Fractions, exponents and -0 are ErrNotCanonicalizable; an integer outside
// the range of int64 is ErrRange.
func Int(v []byte) (int64, error) {
	start, end := trim(v)
	if start < len(v) && v[start] != '-' && !isDigit(v[start]) {
		return 0, errorf(start, ErrSyntax, "not a JSON number")
	}
	if err := validate(v, start); err != nil {
		return 0, err
	}
	digits := v[start:end]
	limit := uint64(math.MaxInt64)
	neg := digits[0] == '-'
	if neg {
		digits = digits[1:]
		limit++
	}
	var u uint64
	for _, c := range digits {
		d := uint64(c - '0')
		if u > (limit-d)/10 {
			return 0, errorf(start, ErrRange, "integer %s does not fit in int64", v[start:end])
		}
		u = u*10 + d
	}
	if neg {
		return int64(-u), nil
	}
	return int64(u), nil
}

// decodeString returns the decoded contents of a validated JSON string
// (without its quotes).
func decodeString(s []byte) string {
	if bytes.IndexByte(s, '\\') < 0 {
		return string(s)
	}
	return string(appendDecoded(make([]byte, 0, len(s)), s))
}
