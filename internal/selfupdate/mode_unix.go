//go:build unix

package selfupdate

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// unsafeMode says why a directory that another user owns or that group or
// others can write is not safe to stage builds in, "" if it is safe.
func unsafeMode(st fs.FileInfo) string {
	if perm := st.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Sprintf("has mode %v: group or others can write it", perm)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != os.Geteuid() {
		return fmt.Sprintf("is owned by user %d, not by this process's user %d", sys.Uid, os.Geteuid())
	}
	return ""
}
