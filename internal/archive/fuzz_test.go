package archive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fuzzLimit is the size limit of the fuzzed extractions: small, so that
// mutated archives reach it.
const fuzzLimit = 64 << 10

// fuzzSeeds returns archives like the tests': good ones in both formats,
// nested members, links, duplicates, special files, a small bomb and
// broken streams.
func fuzzSeeds(t testing.TB) (tarGz, zips [][]byte) {
	member := tarFile("myapp", 0o755, exeBody)
	zmember := zipFile("myapp", 0o755, exeBody)
	tarGz = [][]byte{
		makeTarGz(t, member, tarFile("README", 0o644, strings.Repeat("read me ", 50))),
		makeTarGz(t, tarDir("./"), tarDir("./bin/"), tarFile("./bin/myapp", 0o4755, exeBody)),
		makeTarGz(t, member, tarLink(tar.TypeSymlink, "a/b/l", "../c"), tarLink(tar.TypeLink, "h", "myapp")),
		makeTarGz(t, member, tarFile("../evil", 0o755, "x")),
		makeTarGz(t, member, tarFile("./myapp", 0o755, "other program")),
		makeTarGz(t, tarEntry{hdr: tar.Header{Name: "myapp", Mode: 0o755, Typeflag: tar.TypeFifo}}),
		makeTarGz(t, tarFile("myapp", 0o755, strings.Repeat("\x00", 4*fuzzLimit))),
		gz(t, tarShort(t)),
		gz(t, tarPAXName(t)),
		makeTarGz(t),
	}
	zips = [][]byte{
		makeZip(t, zmember, zipFile("README", 0o644, strings.Repeat("read me ", 50))),
		makeZip(t, zipFile("bin/", fs.ModeDir|0o755, ""), zipFile("bin/myapp", 0o4755, exeBody)),
		makeZip(t, zipStored("myapp", exeBody)),
		makeZip(t, zmember, zipFile("a/l", fs.ModeSymlink|0o777, "../b")),
		makeZip(t, zmember, zipFile("myapp", 0o755, "other program")),
		makeZip(t, zipRaw("myapp", 0o755, zip.Store, 3, exeBody)),
		makeZip(t, zipFile("myapp", 0o755, strings.Repeat("\x00", 4*fuzzLimit))),
		makeZip(t),
	}
	return tarGz, zips
}

// memberData reads member from data with the standard library's readers
// alone, for comparison: the first entry whose cleaned name is member.
func memberData(t *testing.T, data []byte, format Format, member string) []byte {
	t.Helper()
	if format == FormatZip {
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("extracted from an archive archive/zip can't read: %v", err)
		}
		for _, zf := range zr.File {
			if path.Clean(zf.Name) == member {
				rc, err := zf.Open()
				if err != nil {
					t.Fatal(err)
				}
				defer rc.Close()
				b, err := io.ReadAll(rc)
				if err != nil {
					t.Fatalf("extracted a member archive/zip can't read: %v", err)
				}
				return b
			}
		}
		t.Fatalf("extracted %q, which archive/zip doesn't find", member)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err != nil {
			t.Fatalf("extracted %q, which archive/tar doesn't find: %v", member, err)
		}
		if path.Clean(hdr.Name) == member {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}

// FuzzExtractFile: a refused archive leaves nothing in the destination and
// says why with one of the package's errors; an accepted one yields the
// member's bytes as the standard library reads them, within the limit,
// with a mode that has the owner's execute bit and no setuid, setgid,
// sticky or group/other write bits.
func FuzzExtractFile(f *testing.F) {
	tarGz, zips := fuzzSeeds(f)
	if len(tarGz) == 0 || len(zips) == 0 {
		f.Fatal("no seeds")
	}
	for _, d := range tarGz {
		f.Add(d, false, false)
		f.Add(d, false, true)
	}
	for _, d := range zips {
		f.Add(d, true, false)
		f.Add(d, true, true)
	}
	// One source file and one destination directory for every input: a
	// directory made and removed per input costs more than the extraction.
	src, dest := filepath.Join(f.TempDir(), "release"), f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, isZip, nested bool) {
		format, member := FormatTarGz, "myapp"
		if isZip {
			format = FormatZip
		}
		if nested {
			member = "bin/myapp"
		}
		if err := os.WriteFile(src, data, 0o600); err != nil {
			t.Fatal(err)
		}
		out, mode, err := ExtractFile(src, format, member, dest, fuzzLimit)
		if err != nil {
			if out != nil || mode != 0 {
				t.Fatalf("file %v, mode %v with error %v", out, mode, err)
			}
			if entries, _ := os.ReadDir(dest); len(entries) != 0 {
				t.Fatalf("%d files left in the destination after %v", len(entries), err)
			}
			sentinels := []error{ErrNotFound, ErrUnsafeEntry, ErrTooLarge, ErrNotRegular, ErrDuplicate, ErrFormat}
			if !slices.ContainsFunc(sentinels, func(s error) bool { return errors.Is(err, s) }) {
				t.Fatalf("error %v wraps none of the package's errors", err)
			}
			return
		}
		defer out.Abort()
		if mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky|0o022) != 0 || mode&0o100 == 0 || !mode.IsRegular() {
			t.Fatalf("mode %v", mode)
		}
		entries, err := os.ReadDir(dest)
		if err != nil || len(entries) != 1 {
			t.Fatalf("destination holds %d entries, %v", len(entries), err)
		}
		got, err := os.ReadFile(filepath.Join(dest, entries[0].Name()))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) > fuzzLimit {
			t.Fatalf("%d bytes extracted, limit %d", len(got), fuzzLimit)
		}
		if want := memberData(t, data, format, member); !bytes.Equal(got, want) {
			t.Fatalf("extracted %d bytes, the standard library reads %d", len(got), len(want))
		}
	})
}
