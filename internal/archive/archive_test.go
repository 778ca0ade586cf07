package archive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"hash/crc32"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const exeBody = "#!/bin/sh\necho the new release\n"

type tarEntry struct {
	hdr  tar.Header
	body string
}

func tarFile(name string, mode int64, body string) tarEntry {
	return tarEntry{tar.Header{Name: name, Mode: mode, Size: int64(len(body)), Typeflag: tar.TypeReg}, body}
}

func tarDir(name string) tarEntry {
	return tarEntry{hdr: tar.Header{Name: name, Mode: 0o755, Typeflag: tar.TypeDir}}
}

func tarLink(flag byte, name, target string) tarEntry {
	return tarEntry{hdr: tar.Header{Name: name, Mode: 0o777, Typeflag: flag, Linkname: target}}
}

// makeTar returns an uncompressed tar archive of entries.
func makeTar(t testing.TB, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := e.hdr
		if err := tw.WriteHeader(&hdr); err != nil {
			t.Fatalf("tar header %q: %v", hdr.Name, err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatalf("tar body %q: %v", hdr.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// gz compresses data with gzip.
func gz(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func makeTarGz(t testing.TB, entries ...tarEntry) []byte {
	t.Helper()
	return gz(t, makeTar(t, entries...))
}

type zipEntry struct {
	hdr  zip.FileHeader
	body string
	raw  bool // write hdr and body with CreateRaw, exactly as given
}

func zipFile(name string, mode fs.FileMode, body string) zipEntry {
	e := zipEntry{hdr: zip.FileHeader{Name: name, Method: zip.Deflate}, body: body}
	e.hdr.SetMode(mode)
	return e
}

// zipStored is a file stored without compression, so that its bytes can be
// found and changed in the archive.
func zipStored(name string, body string) zipEntry {
	e := zipEntry{hdr: zip.FileHeader{Name: name, Method: zip.Store}, body: body}
	e.hdr.SetMode(0o755)
	return e
}

// zipRaw is an entry stored as given, with a declared size and a method
// that may lie.
func zipRaw(name string, mode fs.FileMode, method uint16, declared uint64, body string) zipEntry {
	e := zipEntry{hdr: zip.FileHeader{
		Name:               name,
		Method:             method,
		CRC32:              crc32.ChecksumIEEE([]byte(body)),
		CompressedSize64:   uint64(len(body)),
		UncompressedSize64: declared,
	}, body: body, raw: true}
	e.hdr.SetMode(mode)
	return e
}

func makeZip(t testing.TB, entries ...zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		hdr := e.hdr
		var w io.Writer
		var err error
		if e.raw {
			w, err = zw.CreateRaw(&hdr)
		} else {
			w, err = zw.CreateHeader(&hdr)
		}
		if err != nil {
			t.Fatalf("zip header %q: %v", hdr.Name, err)
		}
		if _, err := io.WriteString(w, e.body); err != nil {
			t.Fatalf("zip body %q: %v", hdr.Name, err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// setup writes data as the archive (in its own directory) and returns its
// path, and a root directory holding only an empty "dest" directory.
func setup(t *testing.T, data []byte) (src, root, dest string) {
	t.Helper()
	src = filepath.Join(t.TempDir(), "release")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	root = t.TempDir()
	dest = filepath.Join(root, "dest")
	if err := os.Mkdir(dest, 0o755); err != nil {
		t.Fatal(err)
	}
	return src, root, dest
}

// assertUntouched fails unless root holds only the empty "dest" directory.
func assertUntouched(t *testing.T, root string) {
	t.Helper()
	var found []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if rel, _ := filepath.Rel(root, p); rel != "." && rel != "dest" {
			found = append(found, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) > 0 {
		t.Errorf("files left behind: %q", found)
	}
}

// extractAndCommit extracts member and commits it to dest/app, returning the
// committed file's content and mode.
func extractAndCommit(t *testing.T, format Format, data []byte, member string, maxSize int64) (string, fs.FileMode) {
	t.Helper()
	src, _, dest := setup(t, data)
	f, mode, err := ExtractFile(src, format, member, dest, maxSize)
	if err != nil {
		t.Fatalf("ExtractFile: %v", err)
	}
	final := filepath.Join(dest, "app")
	if err := f.Commit(final); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(final)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(final)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode() != mode {
		t.Errorf("file mode %v, returned mode %v", info.Mode(), mode)
	}
	entries, err := os.ReadDir(dest)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("dest holds %d entries after commit, want 1", len(entries))
	}
	return string(got), mode
}

func TestExtractTarGzNested(t *testing.T) {
	data := makeTarGz(t,
		tarDir("./"),
		tarDir("./bin/"),
		tarFile("./README.md", 0o644, "read me"),
		tarFile("./bin/myapp", 0o755, exeBody),
		tarLink(tar.TypeSymlink, "./bin/latest", "myapp"),
		tarLink(tar.TypeSymlink, "./docs", "share/doc/../doc"),
		tarLink(tar.TypeLink, "./bin/myapp-hard", "./bin/myapp"),
		tarFile("./bin/helper", 0o755, "other program"),
	)
	got, mode := extractAndCommit(t, FormatTarGz, data, "bin/myapp", 1<<20)
	if got != exeBody || mode != 0o755 {
		t.Errorf("got %q mode %v, want %q mode 0755", got, mode, exeBody)
	}
}

func TestExtractZipNested(t *testing.T) {
	link := zipFile("bin/latest", fs.ModeSymlink|0o777, "myapp")
	data := makeZip(t,
		zipFile("bin/", fs.ModeDir|0o755, ""),
		zipFile("README.md", 0o644, "read me"),
		zipFile("bin/myapp", 0o755, exeBody),
		link,
		zipFile("bin/helper", 0o755, "other program"),
	)
	got, mode := extractAndCommit(t, FormatZip, data, "bin/myapp", 1<<20)
	if got != exeBody || mode != 0o755 {
		t.Errorf("got %q mode %v, want %q mode 0755", got, mode, exeBody)
	}
}

func TestExtractModes(t *testing.T) {
	for _, tc := range []struct {
		in, want fs.FileMode // in uses Unix bits: 0o4000 is setuid
	}{
		{0o755, 0o755},
		{0o700, 0o700},
		{0o644, 0o744},  // owner execute added
		{0o600, 0o700},  // owner execute added
		{0o000, 0o100},  // owner execute added
		{0o4755, 0o755}, // setuid dropped
		{0o2750, 0o750}, // setgid dropped
		{0o1777, 0o755}, // sticky bit and group/other write dropped
		{0o777, 0o755},  // group/other write dropped
		{0o775, 0o755},  // group write dropped
	} {
		t.Run(tc.in.String(), func(t *testing.T) {
			tarData := makeTarGz(t, tarFile("myapp", int64(tc.in), exeBody))
			if _, mode := extractAndCommit(t, FormatTarGz, tarData, "myapp", 1<<20); mode != tc.want {
				t.Errorf("tar.gz: mode %v, want %v", mode, tc.want)
			}
			goMode := tc.in & fs.ModePerm
			if tc.in&0o4000 != 0 {
				goMode |= fs.ModeSetuid
			}
			if tc.in&0o2000 != 0 {
				goMode |= fs.ModeSetgid
			}
			if tc.in&0o1000 != 0 {
				goMode |= fs.ModeSticky
			}
			zipData := makeZip(t, zipFile("myapp", goMode, exeBody))
			if _, mode := extractAndCommit(t, FormatZip, zipData, "myapp", 1<<20); mode != tc.want {
				t.Errorf("zip: mode %v, want %v", mode, tc.want)
			}
		})
	}
}

// A zip made on Windows carries no Unix mode: archive/zip reports 0666.
func TestExtractZipWithoutUnixMode(t *testing.T) {
	data := makeZip(t, zipEntry{hdr: zip.FileHeader{Name: "myapp.exe", Method: zip.Deflate}, body: exeBody})
	if got, mode := extractAndCommit(t, FormatZip, data, "myapp.exe", 1<<20); got != exeBody || mode != 0o744 {
		t.Errorf("got %q mode %v, want mode 0744", got, mode)
	}
}

func TestExtractSizeLimitBoundary(t *testing.T) {
	body := strings.Repeat("x", 4096)
	for _, tc := range []struct {
		format Format
		data   []byte
	}{
		{FormatTarGz, makeTarGz(t, tarFile("myapp", 0o755, body))},
		{FormatZip, makeZip(t, zipFile("myapp", 0o755, body))},
	} {
		if got, _ := extractAndCommit(t, tc.format, tc.data, "myapp", int64(len(body))); got != body {
			t.Errorf("format %d: member at the limit not extracted whole (%d bytes)", tc.format, len(got))
		}
		src, root, dest := setup(t, tc.data)
		_, _, err := ExtractFile(src, tc.format, "myapp", dest, int64(len(body))-1)
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("format %d: one byte over the limit: got %v, want ErrTooLarge", tc.format, err)
		}
		assertUntouched(t, root)
	}
}

// The largest limit, math.MaxInt64, extracts the member whole: limit+1
// must not overflow into a limit that reads nothing.
func TestExtractSizeLimitMaxInt64(t *testing.T) {
	for _, tc := range []struct {
		format Format
		data   []byte
	}{
		{FormatTarGz, makeTarGz(t, tarFile("myapp", 0o755, exeBody))},
		{FormatZip, makeZip(t, zipFile("myapp", 0o755, exeBody))},
	} {
		if got, _ := extractAndCommit(t, tc.format, tc.data, "myapp", math.MaxInt64); got != exeBody {
			t.Errorf("format %d: limit MaxInt64 extracted %d bytes, want %d", tc.format, len(got), len(exeBody))
		}
	}
}

// zeros returns a reader of n zero bytes.
func zeros(n int64) io.Reader { return io.LimitReader(zeroReader{}, n) }

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

const bombSize = 8 << 20 // 8 MiB of zeros, about 8 KiB compressed, against a 64 KiB limit

func tarBomb(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: "myapp", Mode: 0o755, Size: bombSize, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(tw, zeros(bombSize)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zipBomb(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	hdr := &zip.FileHeader{Name: "myapp", Method: zip.Deflate}
	hdr.SetMode(0o755)
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, zeros(bombSize)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tarShort is a tar archive whose only header claims 10 bytes and whose
// stream ends after 5.
func tarShort(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "myapp", Mode: 0o755, Size: 10, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(tw, "short"); err != nil {
		t.Fatal(err)
	}
	// No Close: the archive ends here, mid-entry.
	return buf.Bytes()
}

// tarPAXName is a tar archive whose PAX header gives an entry a name with a
// NUL byte in it. archive/tar writes no such header, so the typeflag of a
// regular entry holding the record is changed to 'x' and its checksum fixed.
func tarPAXName(t testing.TB) []byte {
	t.Helper()
	record := "17 path=evil\x00.sh\n"
	data := makeTar(t, tarFile("PaxHeader", 0o644, record), tarFile("myapp", 0o755, exeBody))
	hdr := data[:512]
	hdr[156] = tar.TypeXHeader
	copy(hdr[148:156], "        ")
	var sum int
	for _, b := range hdr {
		sum += int(b)
	}
	copy(hdr[148:156], []byte(string(octal6(sum))+"\x00 "))
	return data
}

// octal6 formats n as six octal digits, as a tar checksum field wants.
func octal6(n int) []byte {
	b := []byte("000000")
	for i := 5; i >= 0; i-- {
		b[i] = byte('0' + n&7)
		n >>= 3
	}
	return b
}

// flip returns a copy of data with the byte at i inverted.
func flip(data []byte, i int) []byte {
	out := bytes.Clone(data)
	out[i] ^= 0xff
	return out
}

func TestExtractRefuses(t *testing.T) {
	member := tarFile("myapp", 0o755, exeBody)
	zmember := zipFile("myapp", 0o755, exeBody)
	goodTarGz := makeTarGz(t, member, tarFile("README", 0o644, strings.Repeat("read me ", 500)))
	goodZip := makeZip(t, zmember, zipFile("README", 0o644, strings.Repeat("read me ", 500)))
	storedZip := makeZip(t, zipStored("myapp", exeBody))

	for _, tc := range []struct {
		name   string
		format Format
		data   []byte
		max    int64  // the size limit; 1 MiB if 0
		want   error  // the package's reason
		also   error  // an underlying error that must be wrapped too, if not nil
		entry  string // the EntryError's Name, if the error must be one
	}{
		// Unsafe names anywhere, found after the member was extracted.
		{"tar dotdot", FormatTarGz, makeTarGz(t, member, tarFile("../evil", 0o755, "x")), 0, ErrUnsafeEntry, nil, "../evil"},
		{"tar absolute", FormatTarGz, makeTarGz(t, member, tarFile("/abs", 0o755, "x")), 0, ErrUnsafeEntry, nil, "/abs"},
		{"tar inner dotdot", FormatTarGz, makeTarGz(t, member, tarFile("a/../../evil", 0o755, "x")), 0, ErrUnsafeEntry, nil, "a/../../evil"},
		{"tar backslash", FormatTarGz, makeTarGz(t, member, tarFile(`a\..\evil`, 0o755, "x")), 0, ErrUnsafeEntry, nil, `a\..\evil`},
		{"tar drive letter", FormatTarGz, makeTarGz(t, member, tarFile("C:/evil", 0o755, "x")), 0, ErrUnsafeEntry, nil, "C:/evil"},
		{"tar dotdot dir", FormatTarGz, makeTarGz(t, member, tarDir("../")), 0, ErrUnsafeEntry, nil, "../"},
		// archive/tar itself refuses a NUL byte in a PAX path record.
		{"tar NUL in name", FormatTarGz, gz(t, tarPAXName(t)), 0, ErrFormat, tar.ErrHeader, ""},
		{"zip dotdot", FormatZip, makeZip(t, zmember, zipFile("../evil", 0o755, "x")), 0, ErrUnsafeEntry, nil, "../evil"},
		{"zip absolute", FormatZip, makeZip(t, zmember, zipFile("/abs", 0o755, "x")), 0, ErrUnsafeEntry, nil, "/abs"},
		{"zip inner dotdot", FormatZip, makeZip(t, zmember, zipFile("a/../../evil", 0o755, "x")), 0, ErrUnsafeEntry, nil, "a/../../evil"},
		{"zip backslash", FormatZip, makeZip(t, zmember, zipFile(`a\..\evil`, 0o755, "x")), 0, ErrUnsafeEntry, nil, `a\..\evil`},
		{"zip NUL in name", FormatZip, makeZip(t, zmember, zipFile("evil\x00.sh", 0o755, "x")), 0, ErrUnsafeEntry, nil, "evil\x00.sh"},
		{"zip drive letter", FormatZip, makeZip(t, zmember, zipFile("c:evil", 0o755, "x")), 0, ErrUnsafeEntry, nil, "c:evil"},

		// Links out of place, anywhere in the archive.
		{"tar symlink to /etc/passwd", FormatTarGz, makeTarGz(t, member, tarLink(tar.TypeSymlink, "passwd", "/etc/passwd")), 0, ErrUnsafeEntry, nil, "passwd"},
		{"tar symlink up and out", FormatTarGz, makeTarGz(t, member, tarLink(tar.TypeSymlink, "a/b/l", "../../../etc/passwd")), 0, ErrUnsafeEntry, nil, "a/b/l"},
		{"tar symlink empty target", FormatTarGz, makeTarGz(t, member, tarLink(tar.TypeSymlink, "l", "")), 0, ErrUnsafeEntry, nil, "l"},
		{"tar symlink backslash target", FormatTarGz, makeTarGz(t, member, tarLink(tar.TypeSymlink, "l", `..\..\x`)), 0, ErrUnsafeEntry, nil, "l"},
		{"tar hardlink out", FormatTarGz, makeTarGz(t, member, tarLink(tar.TypeLink, "a/h", "../x")), 0, ErrUnsafeEntry, nil, "a/h"},
		{"tar hardlink absolute", FormatTarGz, makeTarGz(t, member, tarLink(tar.TypeLink, "h", "/etc/passwd")), 0, ErrUnsafeEntry, nil, "h"},
		{"zip symlink to /etc/passwd", FormatZip, makeZip(t, zmember, zipFile("passwd", fs.ModeSymlink|0o777, "/etc/passwd")), 0, ErrUnsafeEntry, nil, "passwd"},
		{"zip symlink up and out", FormatZip, makeZip(t, zmember, zipFile("a/l", fs.ModeSymlink|0o777, "../../x")), 0, ErrUnsafeEntry, nil, "a/l"},
		{"zip symlink target too long", FormatZip, makeZip(t, zmember, zipFile("l", fs.ModeSymlink|0o777, strings.Repeat("a/", 2049))), 0, ErrTooLarge, nil, "l"},
		{"zip symlink bad method", FormatZip, makeZip(t, zmember, zipRaw("l", fs.ModeSymlink|0o777, 99, 5, "myapp")), 0, ErrFormat, zip.ErrAlgorithm, "l"},
		{"zip symlink size lie", FormatZip, makeZip(t, zmember, zipRaw("l", fs.ModeSymlink|0o777, zip.Store, 2, "myapp")), 0, ErrFormat, zip.ErrFormat, "l"},

		// The member is not a regular file.
		{"tar symlink member", FormatTarGz, makeTarGz(t, tarFile("real", 0o755, exeBody), tarLink(tar.TypeSymlink, "myapp", "real")), 0, ErrNotRegular, nil, "myapp"},
		{"tar hardlink member", FormatTarGz, makeTarGz(t, tarFile("real", 0o755, exeBody), tarLink(tar.TypeLink, "myapp", "real")), 0, ErrNotRegular, nil, "myapp"},
		{"tar directory member", FormatTarGz, makeTarGz(t, tarDir("myapp/")), 0, ErrNotRegular, nil, "myapp/"},
		{"tar device member", FormatTarGz, makeTarGz(t, tarEntry{hdr: tar.Header{Name: "myapp", Mode: 0o755, Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}}), 0, ErrNotRegular, nil, "myapp"},
		{"tar fifo member", FormatTarGz, makeTarGz(t, tarEntry{hdr: tar.Header{Name: "myapp", Mode: 0o755, Typeflag: tar.TypeFifo}}), 0, ErrNotRegular, nil, "myapp"},
		{"zip symlink member", FormatZip, makeZip(t, zipFile("real", 0o755, exeBody), zipFile("myapp", fs.ModeSymlink|0o777, "real")), 0, ErrNotRegular, nil, "myapp"},
		{"zip directory member", FormatZip, makeZip(t, zipFile("myapp/", fs.ModeDir|0o755, "")), 0, ErrNotRegular, nil, "myapp/"},
		{"zip device member", FormatZip, makeZip(t, zipFile("myapp", fs.ModeDevice|fs.ModeCharDevice|0o755, "")), 0, ErrNotRegular, nil, "myapp"},

		// Ambiguity and absence.
		{"tar duplicate", FormatTarGz, makeTarGz(t, member, tarFile("./myapp", 0o755, "other program")), 0, ErrDuplicate, nil, "./myapp"},
		{"tar duplicate via dir", FormatTarGz, makeTarGz(t, member, tarDir("myapp/")), 0, ErrDuplicate, nil, "myapp/"},
		{"zip duplicate", FormatZip, makeZip(t, zmember, zipFile("myapp", 0o755, "other program")), 0, ErrDuplicate, nil, "myapp"},
		{"tar missing", FormatTarGz, makeTarGz(t, tarFile("bin/myapp", 0o755, exeBody)), 0, ErrNotFound, nil, "myapp"},
		{"tar empty", FormatTarGz, makeTarGz(t), 0, ErrNotFound, nil, "myapp"},
		{"zip missing", FormatZip, makeZip(t, zipFile("myapp.exe", 0o755, exeBody)), 0, ErrNotFound, nil, "myapp"},

		// Sizes: bombs, lies and checksums.
		{"tar gzip bomb", FormatTarGz, tarBomb(t), 64 << 10, ErrTooLarge, nil, "myapp"},
		{"zip bomb", FormatZip, zipBomb(t), 64 << 10, ErrTooLarge, nil, "myapp"},
		{"tar header size lies", FormatTarGz, gz(t, tarShort(t)), 0, ErrFormat, io.ErrUnexpectedEOF, "myapp"},
		{"zip declared size smaller", FormatZip, makeZip(t, zipRaw("myapp", 0o755, zip.Store, 3, exeBody)), 0, ErrFormat, zip.ErrFormat, "myapp"},
		{"zip declared size larger", FormatZip, makeZip(t, zipRaw("myapp", 0o755, zip.Store, uint64(len(exeBody))+1, exeBody)), 0, ErrFormat, io.ErrUnexpectedEOF, "myapp"},
		{"zip bad CRC", FormatZip, flip(storedZip, bytes.Index(storedZip, []byte("new release"))), 0, ErrFormat, zip.ErrChecksum, "myapp"},
		{"zip unknown method", FormatZip, makeZip(t, zipRaw("myapp", 0o755, 99, uint64(len(exeBody)), exeBody)), 0, ErrFormat, zip.ErrAlgorithm, "myapp"},
		{"gzip bad checksum", FormatTarGz, flip(goodTarGz, len(goodTarGz)-8), 0, ErrFormat, gzip.ErrChecksum, ""},

		// Not an archive, or not all of one.
		{"tar.gz truncated", FormatTarGz, goodTarGz[:len(goodTarGz)/2], 0, ErrFormat, io.ErrUnexpectedEOF, ""},
		{"tar.gz trailer cut", FormatTarGz, goodTarGz[:len(goodTarGz)-4], 0, ErrFormat, io.ErrUnexpectedEOF, ""},
		{"tar.gz trailing garbage", FormatTarGz, append(bytes.Clone(goodTarGz), "garbage after the gzip stream"...), 0, ErrFormat, gzip.ErrHeader, ""},
		{"tar.gz not gzip", FormatTarGz, []byte("just some text, not an archive\n"), 0, ErrFormat, gzip.ErrHeader, ""},
		{"tar.gz not tar", FormatTarGz, gz(t, bytes.Repeat([]byte("x"), 1024)), 0, ErrFormat, tar.ErrHeader, ""},
		{"tar.gz is a zip", FormatTarGz, goodZip, 0, ErrFormat, gzip.ErrHeader, ""},
		{"zip truncated", FormatZip, goodZip[:len(goodZip)/2], 0, ErrFormat, zip.ErrFormat, ""},
		{"zip not zip", FormatZip, []byte("just some text, not an archive\n"), 0, ErrFormat, zip.ErrFormat, ""},
		{"zip is a tar.gz", FormatZip, goodTarGz, 0, ErrFormat, zip.ErrFormat, ""},
		{"zip empty file", FormatZip, nil, 0, ErrFormat, zip.ErrFormat, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			max := tc.max
			if max == 0 {
				max = 1 << 20
			}
			src, root, dest := setup(t, tc.data)
			f, mode, err := ExtractFile(src, tc.format, "myapp", dest, max)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if tc.also != nil && !errors.Is(err, tc.also) {
				t.Errorf("got %v, want it to wrap %v", err, tc.also)
			}
			if tc.entry != "" {
				var ee *EntryError
				if !errors.As(err, &ee) || ee.Name != tc.entry {
					t.Errorf("got %v, want an EntryError for %q", err, tc.entry)
				}
			}
			if f != nil || mode != 0 {
				t.Errorf("got file %v and mode %v with an error", f, mode)
			}
			assertUntouched(t, root)
		})
	}
}

func TestExtractInvalidArguments(t *testing.T) {
	src, root, dest := setup(t, makeTarGz(t, tarFile("myapp", 0o755, exeBody)))
	for _, member := range []string{"", ".", "..", "../myapp", "/myapp", "./myapp", "bin//myapp", "bin/", `bin\myapp`, "my\x00app", "C:myapp"} {
		if _, _, err := ExtractFile(src, FormatTarGz, member, dest, 1<<20); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("member %q: got %v, want fs.ErrInvalid", member, err)
		}
	}
	for _, max := range []int64{0, -1} {
		if _, _, err := ExtractFile(src, FormatTarGz, "myapp", dest, max); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("maxSize %d: got %v, want fs.ErrInvalid", max, err)
		}
	}
	for _, format := range []Format{0, FormatZip + 1} {
		if _, _, err := ExtractFile(src, format, "myapp", dest, 1<<20); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("format %d: got %v, want fs.ErrInvalid", format, err)
		}
	}
	for _, format := range []Format{FormatTarGz, FormatZip} {
		if _, _, err := ExtractFile(filepath.Join(root, "missing"), format, "myapp", dest, 1<<20); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("format %d, missing archive: got %v, want fs.ErrNotExist", format, err)
		}
	}
	if _, _, err := ExtractFile(src, FormatTarGz, "myapp", filepath.Join(root, "no-such-dir"), 1<<20); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing destDir: got %v, want fs.ErrNotExist", err)
	}
	assertUntouched(t, root)
}

// With GODEBUG=tarinsecurepath=0 and zipinsecurepath=0 the standard readers
// report non-local names themselves; extraction still works for a good
// archive and still names the entry of a bad one.
func TestExtractInsecurePathGODEBUG(t *testing.T) {
	t.Setenv("GODEBUG", "tarinsecurepath=0,zipinsecurepath=0")
	// An empty name is not local to filepath.IsLocal; here it means the
	// archive root, which is harmless.
	data := makeTarGz(t, tarEntry{hdr: tar.Header{Name: "", Mode: 0o755, Typeflag: tar.TypeDir}}, tarFile("myapp", 0o755, exeBody))
	if got, _ := extractAndCommit(t, FormatTarGz, data, "myapp", 1<<20); got != exeBody {
		t.Errorf("got %q, want %q", got, exeBody)
	}
	for _, tc := range []struct {
		format Format
		data   []byte
	}{
		{FormatTarGz, makeTarGz(t, tarFile("myapp", 0o755, exeBody), tarFile("../evil", 0o755, "x"))},
		{FormatZip, makeZip(t, zipFile("myapp", 0o755, exeBody), zipFile("../evil", 0o755, "x"))},
	} {
		src, root, dest := setup(t, tc.data)
		_, _, err := ExtractFile(src, tc.format, "myapp", dest, 1<<20)
		var ee *EntryError
		if !errors.Is(err, ErrUnsafeEntry) || !errors.As(err, &ee) || ee.Name != "../evil" {
			t.Errorf("format %d: got %v, want ErrUnsafeEntry for \"../evil\"", tc.format, err)
		}
		assertUntouched(t, root)
	}
}

func TestFormatOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		want Format
		ok   bool
	}{
		{"myapp-1.4.2-linux-amd64.tar.gz", FormatTarGz, true},
		{"myapp.TGZ", FormatTarGz, true},
		{"myapp/1.4.2/windows-amd64.zip", FormatZip, true},
		{"MYAPP.ZIP", FormatZip, true},
		{"myapp", 0, false},
		{"myapp.tar", 0, false},
		{"myapp.gz", 0, false},
		{"myapp.tar.gz.sig", 0, false},
	} {
		got, ok := FormatOf(tc.name)
		if got != tc.want || ok != tc.ok {
			t.Errorf("FormatOf(%q) = %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}
