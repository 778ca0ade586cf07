//go:build !unix

package rawfile

import (
	"io/fs"
	"os"
)

// Open is os.OpenFile.
func Open(path string, flag int, perm fs.FileMode) (*os.File, error) {
	return os.OpenFile(path, flag, perm)
}

// ReadFile returns the contents of path, like os.ReadFile, if it holds at
// most limit bytes; else an error wrapping ErrTooLarge. It reads at most
// limit+1 bytes.
func ReadFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f, limit)
}
