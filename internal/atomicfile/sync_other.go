//go:build !windows

package atomicfile

import (
	"fmt"
	"os"
)

// SyncDir fsyncs the directory dir, making the creation, removal and
// renaming of entries in it durable. On Windows it does nothing (see the
// package documentation).
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("atomicfile: sync directory: %w", err)
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return fmt.Errorf("atomicfile: sync directory %s: %w", dir, err)
	}
	if err := d.Close(); err != nil {
		return fmt.Errorf("atomicfile: sync directory %s: %w", dir, err)
	}
	return nil
}

// rename atomically replaces newpath with oldpath.
func rename(oldpath, newpath string) error {
	return os.Rename(oldpath, newpath)
}
