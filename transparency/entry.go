package transparency

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// EntryHeader is the first line of every entry of format version 1.
const EntryHeader = "latch-release/v1"

// MaxEntrySize is the largest entry a tlog-tiles bundle can hold (its
// length prefix is a uint16).
const MaxEntrySize = 1<<16 - 1

// Entry is one logged release: a target of a TUF repository, named as the
// repository's targets metadata names it.
//
// Its encoding (format version 1) is UTF-8 text, five lines, each ended by
// a newline, in this order and nothing else:
//
//	latch-release/v1
//	repository <name of the repository>
//	target <target path>
//	length <length in bytes, decimal, no leading zeros>
//	sha256 <SHA-256 of the target, 64 lowercase hex digits>
//
// Values hold no control characters (so no newline), the repository name
// holds no space, and nothing else varies: one entry has exactly one
// encoding, so two entries are the same release exactly when their bytes
// are equal. A later format gets a new header line.
type Entry struct {
	Repository string
	Path       string
	Length     int64
	SHA256     [32]byte
}

// Marshal returns the entry's encoding. It fails for an entry that has
// none: an empty or multi-line value, a repository name with a space, a
// negative length, or more than MaxEntrySize bytes.
func (e Entry) Marshal() ([]byte, error) {
	switch {
	case !validValue(e.Repository) || strings.ContainsRune(e.Repository, ' '):
		return nil, fmt.Errorf("%w: entry: repository name %q (non-empty, no spaces or control characters)", ErrMalformed, e.Repository)
	case !validValue(e.Path):
		return nil, fmt.Errorf("%w: entry: target path %q (non-empty, no control characters)", ErrMalformed, e.Path)
	case e.Length < 0:
		return nil, fmt.Errorf("%w: entry: negative length %d", ErrMalformed, e.Length)
	}
	b := make([]byte, 0, 128+len(e.Repository)+len(e.Path))
	b = append(b, EntryHeader+"\nrepository "...)
	b = append(b, e.Repository...)
	b = append(b, "\ntarget "...)
	b = append(b, e.Path...)
	b = append(b, "\nlength "...)
	b = strconv.AppendInt(b, e.Length, 10)
	b = append(b, "\nsha256 "...)
	b = hex.AppendEncode(b, e.SHA256[:])
	b = append(b, '\n')
	if len(b) > MaxEntrySize {
		return nil, fmt.Errorf("%w: entry: %d bytes, more than %d", ErrMalformed, len(b), MaxEntrySize)
	}
	return b, nil
}

// ParseEntry decodes an entry. It accepts exactly the encodings Marshal
// produces, so ParseEntry(b) succeeding means Marshal gives b back.
func ParseEntry(b []byte) (Entry, error) {
	bad := func(what string) (Entry, error) {
		return Entry{}, fmt.Errorf("%w: entry: %s", ErrMalformed, what)
	}
	if len(b) > MaxEntrySize {
		return bad("too long")
	}
	lines := bytes.SplitAfter(b, []byte{'\n'})
	if len(lines) != 6 || len(lines[5]) != 0 {
		return bad("not five newline-terminated lines")
	}
	field := func(i int, key string) (string, bool) {
		v, ok := bytes.CutPrefix(lines[i], []byte(key+" "))
		v, nl := bytes.CutSuffix(v, []byte{'\n'})
		return string(v), ok && nl && validValue(string(v))
	}
	if string(lines[0]) != EntryHeader+"\n" {
		return bad(fmt.Sprintf("first line %q, not %q", bytes.TrimSuffix(lines[0], []byte{'\n'}), EntryHeader))
	}
	var e Entry
	var ok bool
	if e.Repository, ok = field(1, "repository"); !ok || strings.ContainsRune(e.Repository, ' ') {
		return bad("bad repository line")
	}
	if e.Path, ok = field(2, "target"); !ok {
		return bad("bad target line")
	}
	length, ok := field(3, "length")
	n, err := strconv.ParseInt(length, 10, 64)
	if !ok || err != nil || n < 0 || strconv.FormatInt(n, 10) != length {
		return bad("bad length line")
	}
	e.Length = n
	digest, ok := field(4, "sha256")
	d, err := hex.DecodeString(digest)
	if !ok || err != nil || len(d) != len(e.SHA256) || hex.EncodeToString(d) != digest {
		return bad("bad sha256 line")
	}
	copy(e.SHA256[:], d)
	return e, nil
}

// validValue reports whether s can be a value in an entry: non-empty valid
// UTF-8 without control characters.
func validValue(s string) bool {
	return s != "" && utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
}
