package archive

import (
	"errors"
	"fmt"
)

var (
	// ErrNotFound means no entry in the archive has the member's name.
	ErrNotFound = errors.New("member not found")

	// ErrUnsafeEntry means an entry's name or link target is absolute,
	// escapes the archive root, or contains a backslash, a NUL byte or a
	// drive letter. One such entry anywhere refuses the whole archive.
	ErrUnsafeEntry = errors.New("unsafe entry")

	// ErrTooLarge means the member holds more bytes than the caller allowed
	// (counted while writing), or a zip symbolic link's target is longer
	// than 4096 bytes.
	ErrTooLarge = errors.New("entry too large")

	// ErrNotRegular means the member is not a regular file: a symbolic or
	// hard link, a directory, a device or another special entry.
	ErrNotRegular = errors.New("not a regular file")

	// ErrDuplicate means two entries clean to the member's name.
	ErrDuplicate = errors.New("duplicate member")

	// ErrFormat means the archive can't be read as the given format: not an
	// archive, truncated, a checksum mismatch, or an entry whose data does
	// not match its declared size. The underlying reader's error is wrapped
	// too.
	ErrFormat = errors.New("malformed archive")
)

// EntryError reports an archive entry that ExtractFile refuses, and why.
type EntryError struct {
	Name string // the entry's name as found in the archive (for ErrNotFound, the member)
	Err  error  // wraps one of the package's sentinels, with details
}

func (e *EntryError) Error() string {
	return fmt.Sprintf("archive entry %q: %v", e.Name, e.Err)
}

// Unwrap returns Err.
func (e *EntryError) Unwrap() error { return e.Err }
