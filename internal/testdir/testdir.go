// Package testdir copies and compares directory trees for tests: a copy
// taken at some instant and put back later is what a crash at that instant
// leaves on disk, and two reads of a tree show what an operation wrote.
package testdir

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// Replace replaces the contents of the directory dst with a copy of the
// tree at src: directories and regular files with their permission bits
// (hard links become separate copies). It fails the test on an error.
func Replace(t testing.TB, dst, src string) {
	t.Helper()
	entries, err := os.ReadDir(dst)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dst, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == src {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			if err := os.Mkdir(to, 0o700); err != nil {
				return err
			}
			return os.Chmod(to, info.Mode().Perm())
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(to, b, 0o600); err != nil {
			return err
		}
		return os.Chmod(to, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Files returns the content of every file below dir by slash-separated path
// relative to dir (lock files, logs and temporary files included); none if
// dir does not exist. It fails the test on an error.
func Files(t testing.TB, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil && !(errors.Is(err, fs.ErrNotExist) && len(files) == 0) {
		t.Fatal(err)
	}
	return files
}

// Same reports, as test errors, every file of before (from Files) that
// disappeared or changed in after, and every file that appeared.
func Same(t testing.TB, before, after map[string]string) {
	t.Helper()
	for name, b := range before {
		if a, ok := after[name]; !ok {
			t.Errorf("%s disappeared", name)
		} else if a != b {
			t.Errorf("%s changed", name)
		}
	}
	for name := range after {
		if _, ok := before[name]; !ok {
			t.Errorf("%s appeared", name)
		}
	}
}
