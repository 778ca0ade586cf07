package rawfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// ErrTooLarge means a file holds more bytes than its reader allows: a state
// file can only be as large as what wrote it, so a larger one is corrupt,
// and is refused before it is read into memory.
var ErrTooLarge = errors.New("file larger than allowed")

func tooLarge(path string, limit int64) error {
	return &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)}
}

// ReadRootFile is ReadFile for the file name in root, opened through it,
// as package os opens a file there (on Windows, in a way that lets a writer
// replace the file while it is read).
func ReadRootFile(root *os.Root, name string, limit int64) ([]byte, error) {
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f, limit)
}

// readLimited reads f, opened, if it holds at most limit bytes; it reads
// at most limit+1.
func readLimited(f *os.File, limit int64) ([]byte, error) {
	if st, err := f.Stat(); err != nil {
		return nil, err
	} else if st.Size() > limit {
		return nil, tooLarge(f.Name(), limit)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	switch {
	case err != nil:
		return nil, &fs.PathError{Op: "read", Path: f.Name(), Err: err}
	case int64(len(b)) > limit:
		return nil, tooLarge(f.Name(), limit)
	}
	return b, nil
}
