package selfupdate

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/latchsec/latch/internal/atomicfile"
)

// FS is the file system an [Updater] works through: the few operations the
// swap needs, so that tests can emulate another system's rules (Windows
// refuses to replace or remove a running executable) or stop the process
// between any two of them. Paths are absolute. Implementations need not be
// safe for concurrent use.
type FS interface {
	// Rename renames oldpath to newpath, replacing newpath if it exists,
	// atomically (both are on one file system).
	Rename(oldpath, newpath string) error
	// Remove removes a file.
	Remove(name string) error
	// Clone makes newname, which must not exist, a durable copy of
	// oldname that appears atomically: a hard link where the file system
	// has them, otherwise a copy written to a temporary file and renamed.
	Clone(oldname, newname string) error
	// Stat describes name without following a final symbolic link.
	Stat(name string) (fs.FileInfo, error)
	// ReadDir lists a directory.
	ReadDir(name string) ([]fs.DirEntry, error)
	// MkdirAll creates a directory and its parents.
	MkdirAll(name string, perm fs.FileMode) error
	// SyncDir makes the creation, removal and renaming of entries in a
	// directory durable (fsync of the directory; nothing on Windows, whose
	// renames are written through instead).
	SyncDir(dir string) error
	// ReadFile returns the content of a file.
	ReadFile(name string) ([]byte, error)
	// Open opens a file for reading.
	Open(name string) (fs.File, error)
	// WriteFile replaces a file atomically and durably (package atomicfile).
	WriteFile(name string, data []byte, perm fs.FileMode) error
}

// OS is the [FS] of the operating system. On Windows its Rename flushes the
// move to disk before it returns (MOVEFILE_WRITE_THROUGH), standing in for
// the directory fsync of other systems.
type OS struct{}

// Rename implements [FS].
func (OS) Rename(oldpath, newpath string) error { return rename(oldpath, newpath) }

// Remove implements [FS].
func (OS) Remove(name string) error { return os.Remove(name) }

// Stat implements [FS].
func (OS) Stat(name string) (fs.FileInfo, error) { return os.Lstat(name) }

// ReadDir implements [FS].
func (OS) ReadDir(name string) ([]fs.DirEntry, error) { return os.ReadDir(name) }

// MkdirAll implements [FS].
func (OS) MkdirAll(name string, perm fs.FileMode) error { return os.MkdirAll(name, perm) }

// SyncDir implements [FS].
func (OS) SyncDir(dir string) error { return atomicfile.SyncDir(dir) }

// ReadFile implements [FS].
func (OS) ReadFile(name string) ([]byte, error) { return os.ReadFile(name) }

// Open implements [FS].
func (OS) Open(name string) (fs.File, error) { return os.Open(name) }

// WriteFile implements [FS].
func (OS) WriteFile(name string, data []byte, perm fs.FileMode) error {
	return atomicfile.WriteFile(name, data, perm)
}

// Clone implements [FS]. A hard link shares the file: that is what a backup
// of an executable that is about to be replaced by a rename needs, since the
// rename only moves the name. Without hard links the copy is synced before
// it is renamed into place, like any atomicfile.
func (OS) Clone(oldname, newname string) error {
	err := os.Link(oldname, newname)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	src, err := os.Open(oldname)
	if err != nil {
		return err
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return err
	}
	f, err := atomicfile.CreateTemp(filepath.Dir(newname), filepath.Base(newname)+"-*")
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, src); err != nil {
		return errors.Join(fmt.Errorf("copy %s: %w", oldname, err), f.Abort())
	}
	if err := f.Chmod(st.Mode().Perm()); err != nil {
		return errors.Join(err, f.Abort())
	}
	if _, err := os.Lstat(newname); err == nil {
		return errors.Join(&fs.PathError{Op: "clone", Path: newname, Err: fs.ErrExist}, f.Abort())
	}
	return f.Commit(newname)
}
