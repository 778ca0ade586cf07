// Package atomicfile replaces files so that a crash at any instant, a killed
// process or a power loss, leaves either the complete old file or the complete
// new one at the destination, never a mix, a truncated file or nothing.
//
// The method is the classic one, and its order matters:
//
//  1. create a temporary file in the destination's directory (same file
//     system, so the rename below is atomic); its name begins with "." and
//     ends with ".tmp" and has an unpredictable middle part;
//  2. write the data and set the permissions;
//  3. fsync the file, so its contents are on stable storage before any name
//     points at them;
//  4. close it, which reports late write errors (NFS);
//  5. rename it over the destination, which atomically switches the name
//     from the old file to the new one;
//  6. fsync the directory, so that the rename itself is on stable storage
//     before success is reported.
//
// A process that is killed (rather than losing power) cannot show why steps 3
// and 6 are needed: the kernel's page cache survives the process and is
// written out later anyway. They matter for power loss and kernel crashes,
// where file systems with delayed allocation may otherwise persist the rename
// before the data (leaving an empty or garbage file under the new name) or
// lose the rename after success was reported.
//
// On any error before the rename the temporary file is removed. An error from
// the final directory fsync means the new contents are in place but might not
// survive a power loss.
//
// Windows has no directory fsync through the Win32 API; there the rename is
// done with MoveFileEx and MOVEFILE_WRITE_THROUGH, which returns only once the
// move has been flushed to disk, and [SyncDir] does nothing.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// WriteFile writes data to path atomically and durably, as described in the
// package documentation. The file gets exactly the permission bits perm
// (they are not filtered by the umask). The parent directory must exist.
// Concurrent calls for the same path are safe: each uses its own temporary
// file, and the last rename wins with one complete file.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	f, err := CreateTemp(filepath.Dir(path), filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return errors.Join(fmt.Errorf("atomicfile: write %s: %w", path, err), f.Abort())
	}
	if err := f.Chmod(perm & fs.ModePerm); err != nil {
		return errors.Join(fmt.Errorf("atomicfile: chmod %s: %w", path, err), f.Abort())
	}
	return f.Commit(path)
}

// File is a temporary file that becomes visible under its final name only
// through [File.Commit]. Write to it through the embedded [*os.File]. It is
// created with permissions 0600; use Chmod to change them before Commit.
//
// A File is meant for one goroutine: Commit and Abort must not run
// concurrently with each other or with writes.
type File struct {
	*os.File
	dir  string // the directory the file was created in, cleaned
	done bool   // Commit or Abort has run
}

// CreateTemp creates a new temporary file in dir (the current directory if
// dir is empty) for a later [File.Commit] to a path in the same directory.
// The file name is "." + pattern + ".tmp", where the last "*" in pattern is
// replaced by a random decimal number (one is appended if pattern has none),
// so it is hidden, recognisable as temporary and unpredictable. pattern must
// not contain a path separator. [WriteFile] uses the pattern base + "-*" for
// a file named base, which [RemoveTemps] recognises.
func CreateTemp(dir, pattern string) (*File, error) {
	if dir == "" {
		dir = "."
	}
	if strings.ContainsAny(pattern, `/\`) {
		return nil, fmt.Errorf("atomicfile: create temporary file: pattern %q: %w", pattern, fs.ErrInvalid)
	}
	prefix, suffix := pattern, ""
	if i := strings.LastIndex(pattern, "*"); i >= 0 {
		prefix, suffix = pattern[:i], pattern[i+1:]
	}
	for range 10000 {
		name := filepath.Join(dir, "."+prefix+strconv.FormatUint(uint64(rand.Uint32()), 10)+suffix+".tmp")
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("atomicfile: create temporary file: %w", err)
		}
		return &File{File: f, dir: filepath.Clean(dir)}, nil
	}
	return nil, fmt.Errorf("atomicfile: create temporary file in %s: %w", dir, fs.ErrExist)
}

// TempBase reports whether name is the name of a temporary file that
// [CreateTemp] makes with the pattern base + "-*" (as [WriteFile] does for a
// file named base), and returns base.
func TempBase(name string) (base string, ok bool) {
	mid, ok := strings.CutPrefix(name, ".")
	if !ok {
		return "", false
	}
	if mid, ok = strings.CutSuffix(mid, ".tmp"); !ok {
		return "", false
	}
	i := strings.LastIndexByte(mid, '-')
	if i < 1 || i == len(mid)-1 {
		return "", false
	}
	for _, c := range mid[i+1:] {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	return mid[:i], true
}

// RemoveTemps removes from dir the temporary files that [CreateTemp] made
// with a pattern base + "-*" for a base that ours accepts (see [TempBase]),
// and nothing else: what a process killed in the middle of [WriteFile] left
// behind. Call it only while no one can be writing such a file (at start-up,
// holding the directory's lock). A missing dir has nothing to remove.
func RemoveTemps(dir string, ours func(base string) bool) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("atomicfile: remove temporary files: %w", err)
	}
	var errs []error
	for _, e := range entries {
		if base, ok := TempBase(e.Name()); ok && e.Type().IsRegular() && ours(base) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("atomicfile: remove temporary file: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}

// Commit makes the file's contents appear at path: fsync the file, close it,
// rename it over path and fsync the directory (see the package
// documentation for why each step is there). path must be in the directory
// the File was created in, otherwise the rename could cross file systems
// and lose its atomicity; such a call fails with an error wrapping
// [fs.ErrInvalid]. On an error before the rename the temporary file is
// removed. After Commit, successful or not, the File is finished: a second
// Commit fails with an error wrapping [fs.ErrClosed] and Abort does nothing.
func (f *File) Commit(path string) error {
	if f.done {
		return fmt.Errorf("atomicfile: commit %s: %w", path, fs.ErrClosed)
	}
	if filepath.Dir(path) != f.dir {
		return errors.Join(
			fmt.Errorf("atomicfile: commit %s: not in directory %s: %w", path, f.dir, fs.ErrInvalid),
			f.Abort())
	}
	// Power-loss ordering: the data must be on disk before the rename makes
	// it reachable under path. Without this, a journaling file system may
	// commit the rename first, and after a power cut path names an empty or
	// partly written file. A killed process cannot show this; only a lost
	// page cache can.
	if err := f.Sync(); err != nil {
		return errors.Join(fmt.Errorf("atomicfile: sync %s: %w", f.Name(), err), f.Abort())
	}
	if err := f.File.Close(); err != nil {
		return errors.Join(fmt.Errorf("atomicfile: close %s: %w", f.Name(), err), f.Abort())
	}
	if err := rename(f.Name(), path); err != nil {
		return errors.Join(fmt.Errorf("atomicfile: rename to %s: %w", path, err), f.Abort())
	}
	f.done = true
	// Power-loss ordering: the rename is a change to the directory, which
	// has its own blocks. Until they are flushed, a power cut can undo the
	// rename and bring back the old file after we reported success; callers
	// that write a second file relying on this one (the cache file, then the
	// record of its hash) need this one to be durable first.
	if err := SyncDir(f.dir); err != nil {
		return fmt.Errorf("atomicfile: %s renamed but not yet durable: %w", path, err)
	}
	return nil
}

// Abort closes and removes the temporary file. It is idempotent, and does
// nothing after [File.Commit].
func (f *File) Abort() error {
	if f.done {
		return nil
	}
	f.done = true
	var errs []error
	if err := f.File.Close(); err != nil && !errors.Is(err, fs.ErrClosed) {
		errs = append(errs, fmt.Errorf("atomicfile: close %s: %w", f.Name(), err))
	}
	if err := os.Remove(f.Name()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, fmt.Errorf("atomicfile: remove %s: %w", f.Name(), err))
	}
	return errors.Join(errs...)
}
