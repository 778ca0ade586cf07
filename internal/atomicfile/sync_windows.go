package atomicfile

import (
	"fmt"

	"golang.org/x/sys/windows"
)

// SyncDir does nothing on Windows: the Win32 API offers no directory fsync,
// and [WriteFile] and [File.Commit] make their rename durable with
// MOVEFILE_WRITE_THROUGH instead. On other systems it fsyncs the directory.
func SyncDir(dir string) error {
	return nil
}

// rename atomically replaces newpath with oldpath and returns only once the
// move has been flushed to disk (MOVEFILE_WRITE_THROUGH), which stands in
// for the directory fsync done on other systems.
func rename(oldpath, newpath string) error {
	from, err := windows.UTF16PtrFromString(oldpath)
	if err != nil {
		return fmt.Errorf("rename %s: %w", oldpath, err)
	}
	to, err := windows.UTF16PtrFromString(newpath)
	if err != nil {
		return fmt.Errorf("rename to %s: %w", newpath, err)
	}
	if err := windows.MoveFileEx(from, to, windows.MOVEFILE_REPLACE_EXISTING|windows.MOVEFILE_WRITE_THROUGH); err != nil {
		return fmt.Errorf("rename %s to %s: %w", oldpath, newpath, err)
	}
	return nil
}
