package rawfile

import (
	"bytes"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	big := make([]byte, 300<<10)
	rand.NewChaCha8([32]byte{}).Read(big)
	for _, data := range [][]byte{nil, []byte("x"), []byte("{\"signed\":{}}\n"), big} {
		p := filepath.Join(dir, "f")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFile(p)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("ReadFile of %d bytes: got %d bytes, %v", len(data), len(got), err)
		}
	}
}

// A file whose size says less than it holds (as files under /proc do) is
// read to its end.
func TestReadFileBeyondSize(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs /proc")
	}
	want, err := os.ReadFile("/proc/self/maps")
	if err != nil || len(want) == 0 {
		t.Skipf("/proc/self/maps: %d bytes, %v", len(want), err)
	}
	got, err := ReadFile("/proc/self/maps")
	if err != nil || len(got) < len(want)/2 {
		t.Errorf("got %d bytes, %v; os.ReadFile read %d", len(got), err, len(want))
	}
}

func TestReadFileErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := ReadFile(filepath.Join(dir, "missing"))
	var pe *fs.PathError
	if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) || pe.Op != "open" {
		t.Errorf("missing file: %v, want a *fs.PathError from open matching fs.ErrNotExist", err)
	}
	if b, err := ReadFile(dir); err == nil {
		t.Errorf("a directory read as %q", b)
	}
}

func TestOpen(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lock")
	f, err := Open(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte("holder"), 0); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := f.ReadAt(buf, 0); err != nil || string(buf) != "holder" {
		t.Errorf("ReadAt: %q, %v", buf, err)
	}
	fi, err := f.Stat()
	if err != nil || fi.Size() != 6 || f.Name() != p {
		t.Fatalf("Stat: %v, %v; name %q", fi, err, f.Name())
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("mode %v: others may read the file", fi.Mode())
	}
	if _, err := Open(filepath.Join(p, "x"), os.O_RDONLY, 0); err == nil {
		t.Error("opened a path under a regular file")
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing"), os.O_RDONLY, 0); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// BenchmarkReadFile reads a small file as a start reads its state files:
// with os.ReadFile and with ReadFile.
func BenchmarkReadFile(b *testing.B) {
	p := filepath.Join(b.TempDir(), "timestamp.json")
	if err := os.WriteFile(p, bytes.Repeat([]byte("x"), 400), 0o600); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		read func(string) ([]byte, error)
	}{{"os", os.ReadFile}, {"rawfile", ReadFile}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := bc.read(p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
