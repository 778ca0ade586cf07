//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris

package rollback

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// lockFile takes an exclusive flock on f without waiting; if someone else
// holds it, the error wraps ErrLocked. flock locks belong to the open file
// description, so a second open of the same file conflicts even within one
// process, and the lock is released when the process dies.
func lockFile(f *os.File) error {
	err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return ErrLocked
	}
	return err
}

// unlockFile releases the lock taken by lockFile.
func unlockFile(f *os.File) error {
	return unix.Flock(int(f.Fd()), unix.LOCK_UN)
}
