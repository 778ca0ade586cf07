package verify

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Sentinel errors. The errors this package makes wrap one of them; match with
// [errors.Is] and read the details with [errors.As] on the typed errors below.
var (
	// ErrUnsupportedKey reports a key type or signature scheme this package
	// does not implement. Callers skip such keys: they never count towards a
	// threshold, and their presence is not an error in itself.
	ErrUnsupportedKey = errors.New("unsupported key type or scheme")

	// ErrInvalidKey reports a key of a supported type that is malformed, too
	// weak, or whose material does not fit its scheme (for example a P-384 key
	// under the ecdsa-sha2-nistp256 scheme).
	ErrInvalidKey = errors.New("invalid key")

	// ErrBadSignature reports a signature that does not verify.
	ErrBadSignature = errors.New("bad signature")

	// ErrThreshold reports that fewer distinct keys than the threshold
	// produced valid signatures.
	ErrThreshold = errors.New("not enough valid signatures")

	// ErrInvalidThreshold reports a threshold below 1.
	ErrInvalidThreshold = errors.New("invalid threshold")

	// ErrInvalidLength reports a negative expected length given to
	// [NewHashWriter] or [CheckBytes].
	ErrInvalidLength = errors.New("invalid length")

	// ErrLengthMismatch reports data whose length differs from the expected one.
	ErrLengthMismatch = errors.New("length mismatch")

	// ErrHashMismatch reports data whose digest differs from the expected one.
	ErrHashMismatch = errors.New("hash mismatch")

	// ErrNoSupportedHash reports a set of hashes that names no algorithm this
	// package supports, or no algorithm at all. There is no fallback: such
	// data cannot be verified.
	ErrNoSupportedHash = errors.New("no supported hash algorithm")
)

// KeyError is returned by [ParseKey]. Err wraps [ErrUnsupportedKey] or
// [ErrInvalidKey] together with the reason.
type KeyError struct {
	KeyType string
	Scheme  string
	Err     error
}

func (e *KeyError) Error() string {
	return fmt.Sprintf("key type %q scheme %q: %v", e.KeyType, e.Scheme, e.Err)
}

func (e *KeyError) Unwrap() error { return e.Err }

// ThresholdError is returned by [Threshold]. Err is [ErrThreshold] or
// [ErrInvalidThreshold].
type ThresholdError struct {
	Role      string
	Threshold int
	// Valid is the number of distinct keys whose signatures verified.
	Valid int
	// Signers are the key IDs that counted, sorted.
	Signers []string
	// Rejected are the key IDs, sorted, whose signatures did not count: the
	// key ID is not authorised for the role, has no usable key, or its
	// signature did not verify.
	Rejected []string
	Err      error
}

func (e *ThresholdError) Error() string {
	if errors.Is(e.Err, ErrInvalidThreshold) {
		return fmt.Sprintf("role %q: %v %d", e.Role, e.Err, e.Threshold)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "role %q: %d of %d required signatures valid (signed by [%s]", e.Role, e.Valid, e.Threshold, shortIDs(e.Signers))
	if len(e.Rejected) > 0 {
		fmt.Fprintf(&b, "; rejected [%s]", shortIDs(e.Rejected))
	}
	b.WriteString(")")
	return b.String()
}

func (e *ThresholdError) Unwrap() error { return e.Err }

// shortIDs abbreviates key IDs for messages. Key IDs in signatures come from
// unsigned input, so anything but ASCII letters, digits and -_. is quoted.
func shortIDs(ids []string) string {
	const maxLen = 8
	out := make([]string, len(ids))
	for i, id := range ids {
		short, cut := id, false
		if len(id) > maxLen {
			short, cut = id[:maxLen], true
		}
		if !isPlain(short) {
			short = strconv.QuoteToASCII(short)
		}
		if cut {
			short += "…"
		}
		out[i] = short
	}
	return strings.Join(out, " ")
}

func isPlain(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// LengthError reports data of the wrong length. When data ran past the
// expected length, Got counts the bytes offered so far, so it is a lower bound.
type LengthError struct {
	Want, Got int64
}

func (e *LengthError) Error() string {
	return fmt.Sprintf("%v: got %d bytes, want %d", ErrLengthMismatch, e.Got, e.Want)
}

func (e *LengthError) Unwrap() error { return ErrLengthMismatch }

// HashError reports a digest that differs from the expected one.
type HashError struct {
	Algorithm string
	Want, Got []byte
}

func (e *HashError) Error() string {
	return fmt.Sprintf("%s %v: got %x, want %x", e.Algorithm, ErrHashMismatch, e.Got, e.Want)
}

func (e *HashError) Unwrap() error { return ErrHashMismatch }
