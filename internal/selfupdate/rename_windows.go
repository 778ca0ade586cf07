package selfupdate

import (
	"os"

	"golang.org/x/sys/windows"
)

// rename replaces newpath with oldpath and returns only once the move has
// been flushed to disk (MOVEFILE_WRITE_THROUGH): Windows has no directory
// fsync, so this is what orders one rename before the next on power loss.
// Replacing a running executable fails on Windows; RenameAside never asks.
func rename(oldpath, newpath string) error {
	from, err := windows.UTF16PtrFromString(oldpath)
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	to, err := windows.UTF16PtrFromString(newpath)
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	if err := windows.MoveFileEx(from, to, windows.MOVEFILE_REPLACE_EXISTING|windows.MOVEFILE_WRITE_THROUGH); err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	return nil
}
