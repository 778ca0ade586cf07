//go:build unix

package rawfile

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// The descriptors Open returns are closed on exec: a child the application
// starts (an update it runs) doesn't inherit the state directory's lock.
func TestOpenCloseOnExec(t *testing.T) {
	f, err := Open(filepath.Join(t.TempDir(), "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	flags, _, errno := syscall.Syscall(syscall.SYS_FCNTL, f.Fd(), syscall.F_GETFD, 0)
	if errno != 0 || flags&syscall.FD_CLOEXEC == 0 {
		t.Errorf("F_GETFD = %#x, %v: want FD_CLOEXEC", flags, errno)
	}
}
