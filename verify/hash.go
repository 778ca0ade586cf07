package verify

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"fmt"
	"hash"
	"io"
	"slices"
)

// supportedHashes are the hash algorithms this package checks, in the order
// it checks them.
var supportedHashes = []struct {
	name string
	new  func() hash.Hash
}{
	{"sha256", sha256.New},
	{"sha512", sha512.New},
}

// SupportedHash reports whether alg is a hash algorithm this package checks.
func SupportedHash(alg string) bool {
	for _, s := range supportedHashes {
		if s.name == alg {
			return true
		}
	}
	return false
}

type hashState struct {
	name string
	h    hash.Hash
	want []byte
}

// newHashStates returns a running hash for every supported algorithm listed
// in hashes. Unknown algorithms are ignored; if none is supported, the error
// wraps [ErrNoSupportedHash].
func newHashStates(hashes map[string][]byte) ([]hashState, error) {
	var states []hashState
	for _, s := range supportedHashes {
		if want, ok := hashes[s.name]; ok {
			states = append(states, hashState{name: s.name, h: s.new(), want: bytes.Clone(want)})
		}
	}
	if len(states) == 0 {
		names := make([]string, 0, len(hashes))
		for name := range hashes {
			names = append(names, name)
		}
		slices.Sort(names)
		return nil, fmt.Errorf("%w: got %q", ErrNoSupportedHash, names)
	}
	return states, nil
}

// checkHashes compares every running hash with its expected value in
// constant time and returns a *HashError for the first that differs.
func checkHashes(states []hashState) error {
	for _, s := range states {
		got := s.h.Sum(nil)
		if subtle.ConstantTimeCompare(got, s.want) != 1 {
			return &HashError{Algorithm: s.name, Want: bytes.Clone(s.want), Got: got}
		}
	}
	return nil
}

// HashWriter is an [io.Writer] that hashes data as it streams past and
// enforces an expected length; [HashWriter.Verify] then checks the length and
// every supported hash. Each byte is hashed once per listed algorithm and
// nothing is buffered or copied.
//
// A transfer that breaks off can be resumed: keep the HashWriter and go on
// writing from offset [HashWriter.Written] (for example with an HTTP Range
// request); the result is the same as one uninterrupted stream.
//
// A HashWriter is not safe for concurrent use.
type HashWriter struct {
	length  int64
	written int64
	excess  int64 // bytes offered beyond length, never hashed
	states  []hashState
}

// NewHashWriter returns a HashWriter for data of exactly length bytes whose
// digests are hashes (algorithm name to raw digest). Supported algorithms are
// "sha256" and "sha512"; others are ignored as long as one supported
// algorithm is listed, otherwise the error wraps [ErrNoSupportedHash]. A
// negative length gives an error wrapping [ErrInvalidLength].
func NewHashWriter(length int64, hashes map[string][]byte) (*HashWriter, error) {
	if length < 0 {
		return nil, fmt.Errorf("%w: %d", ErrInvalidLength, length)
	}
	states, err := newHashStates(hashes)
	if err != nil {
		return nil, err
	}
	return &HashWriter{length: length, states: states}, nil
}

// Write hashes p. If p would take the data past the expected length, Write
// hashes only the bytes up to that length and returns their count with a
// *[LengthError]; the writer stays failed and [HashWriter.Verify] reports the
// excess.
func (w *HashWriter) Write(p []byte) (int, error) {
	q, err := w.limit(p)
	w.hash(q)
	return len(q), err
}

// limit returns the part of p that fits within the expected length and,
// if p does not fit, records the excess and returns a *LengthError.
func (w *HashWriter) limit(p []byte) ([]byte, error) {
	room := w.length - w.written
	if int64(len(p)) <= room {
		return p, nil
	}
	w.excess += int64(len(p)) - room
	return p[:room], &LengthError{Want: w.length, Got: w.length + w.excess}
}

func (w *HashWriter) hash(p []byte) {
	for _, s := range w.states {
		s.h.Write(p)
	}
	w.written += int64(len(p))
}

// Written returns the number of bytes hashed so far.
func (w *HashWriter) Written() int64 { return w.written }

// Verify checks the data written so far: first the exact length (a
// *[LengthError] if it is short or anything was offered past it), then every
// supported hash (a *[HashError] for the first mismatch). Verify does not
// change the writer's state.
func (w *HashWriter) Verify() error {
	if w.excess > 0 {
		return &LengthError{Want: w.length, Got: w.length + w.excess}
	}
	if w.written != w.length {
		return &LengthError{Want: w.length, Got: w.written}
	}
	return checkHashes(w.states)
}

// Tee returns a writer that passes data to dst and hashes exactly the bytes
// dst accepted, so w and dst stay in step even when dst fails. Bytes past
// the expected length never reach dst: the write that crosses the length
// passes on the part that fits and returns a *[LengthError].
func (w *HashWriter) Tee(dst io.Writer) io.Writer {
	return &teeWriter{w: w, dst: dst}
}

type teeWriter struct {
	w   *HashWriter
	dst io.Writer
}

func (t *teeWriter) Write(p []byte) (int, error) {
	q, lerr := t.w.limit(p)
	n, err := t.dst.Write(q)
	if n < 0 || n > len(q) {
		// dst broke the io.Writer contract; hash nothing rather than guess.
		return 0, fmt.Errorf("%w: destination reported %d of %d bytes written", io.ErrShortWrite, n, len(q))
	}
	t.w.hash(q[:n])
	switch {
	case err != nil:
		return n, err
	case n < len(q):
		return n, io.ErrShortWrite
	}
	return n, lerr
}

// CheckBytes checks b against an expected length and hashes, as
// [NewHashWriter] does for a stream: both must be given. A negative length
// gives an error wrapping [ErrInvalidLength]; hashes that list no supported
// algorithm, an empty or nil set included, an error wrapping
// [ErrNoSupportedHash] (nothing to check against is never a match). Then the
// length is checked (a *[LengthError]) and every supported hash (a
// *[HashError]).
//
// Where the metadata makes a length or hashes optional (snapshot and
// timestamp listings), deciding what to check is the caller's: package
// metadata's MetaFile.Check does it for TUF listings.
func CheckBytes(b []byte, length int64, hashes map[string][]byte) error {
	w, err := NewHashWriter(length, hashes)
	if err != nil {
		return err
	}
	if int64(len(b)) != length {
		return &LengthError{Want: length, Got: int64(len(b))}
	}
	w.hash(b)
	return w.Verify()
}
