// Package testdir copies directory trees for tests: a copy taken at some
// instant and put back later is what a crash at that instant leaves on
// disk.
package testdir

import (
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
