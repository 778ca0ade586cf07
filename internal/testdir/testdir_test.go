package testdir

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
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

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	if got := Files(t, filepath.Join(dir, "missing")); len(got) != 0 {
		t.Errorf("Files of a missing directory: %v", got)
	}
	if err := os.MkdirAll(filepath.Join(dir, "d"), 0o700); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{"a": "1", "d/b": "2"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got := Files(t, dir)
	if len(got) != 2 || got["a"] != "1" || got["d/b"] != "2" {
		t.Errorf("Files = %v", got)
	}
}

// recorder collects what Same reports.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestSame(t *testing.T) {
	r := &recorder{TB: t}
	Same(r, map[string]string{"kept": "x", "changed": "1", "gone": ""}, map[string]string{"kept": "x", "changed": "2", "new": ""})
	slices.Sort(r.errs)
	if want := []string{"changed changed", "gone disappeared", "new appeared"}; !slices.Equal(r.errs, want) {
		t.Errorf("Same reported %q, want %q", r.errs, want)
	}
}
