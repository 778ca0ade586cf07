package testdir

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReplace(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "d"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "d", "f"), []byte("data"), 0o751); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "old"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	Replace(t, dst, src)
	if _, err := os.Lstat(filepath.Join(dst, "old")); !os.IsNotExist(err) {
		t.Errorf("old entry kept: %v", err)
	}
	st, err := os.Stat(filepath.Join(dst, "d"))
	if err != nil || !st.IsDir() || st.Mode().Perm() != 0o750 {
		t.Errorf("directory: %v, %v", st, err)
	}
	b, err := os.ReadFile(filepath.Join(dst, "d", "f"))
	st, serr := os.Stat(filepath.Join(dst, "d", "f"))
	if err != nil || string(b) != "data" || serr != nil || st.Mode().Perm() != 0o751 {
		t.Errorf("file: %q, %v, %v", b, err, st)
	}
}
