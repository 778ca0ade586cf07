//go:build !windows

package targetindex

import (
	"os"

	"github.com/latchsec/latch/internal/rawfile"
)

// OpenFile opens a cached file for a Reader, which reads it as it needs
// it: the handle stays open until the Reader is garbage (os.File closes
// itself then).
func OpenFile(path string) (File, error) {
	f, err := rawfile.Open(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return sizedFile{f, fi.Size()}, nil
}

type sizedFile struct {
	*os.File
	size int64
}

func (f sizedFile) Size() int64 { return f.size }
