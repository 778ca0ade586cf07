//go:build !windows

package selfupdate

import "os"

// rename replaces newpath with oldpath atomically. Its durability comes from
// the directory fsyncs the Updater makes after it.
func rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }
