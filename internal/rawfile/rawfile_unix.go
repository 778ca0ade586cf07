//go:build unix

package rawfile

import (
	"io/fs"
	"os"
	"syscall"
)

// Open opens path with flag and perm (for a file it creates) like
// os.OpenFile, with its close-on-exec flag, and returns a blocking *os.File
// that is not registered with the network poller, as a regular file needs
// no more.
func Open(path string, flag int, perm fs.FileMode) (*os.File, error) {
	fd, err := open(path, flag, perm)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}

// ReadFile returns the contents of path, like os.ReadFile, if it holds at
// most limit bytes; else an error wrapping ErrTooLarge. It reads and
// allocates at most limit+1 bytes.
func ReadFile(path string, limit int64) ([]byte, error) {
	fd, err := open(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := retry(func() error { return syscall.Fstat(fd, &st) }); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Size > limit {
		return nil, tooLarge(path, limit)
	}
	// One more byte than the size, for the read that sees the end: a file
	// that grew since is read on, up to the limit.
	b := make([]byte, 0, max(st.Size, 0)+1)
	for {
		if len(b) == cap(b) {
			// Double, but never past the limit and the byte that tells it
			// was passed.
			grown := make([]byte, len(b), min(2*int64(cap(b)), limit+1))
			b = grown[:copy(grown, b)]
		}
		var n int
		err := retry(func() error {
			var err error
			n, err = syscall.Read(fd, b[len(b):min(cap(b), len(b)+maxRead)])
			return err
		})
		switch {
		case err != nil:
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		case n == 0:
			return b, nil
		}
		b = b[:len(b)+n]
		if int64(len(b)) > limit {
			return nil, tooLarge(path, limit)
		}
	}
}

// maxRead bounds one read(2), as package os does: some systems refuse
// reads of 2 GiB or more.
const maxRead = 1 << 30

func open(path string, flag int, perm fs.FileMode) (int, error) {
	var fd int
	err := retry(func() error {
		var err error
		fd, err = syscall.Open(path, flag|syscall.O_CLOEXEC, uint32(perm.Perm()))
		return err
	})
	if err != nil {
		return -1, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return fd, nil
}

// retry calls f again while it is interrupted by a signal.
func retry(f func() error) error {
	for {
		if err := f(); err != syscall.EINTR {
			return err
		}
	}
}
