// Package archive extracts one executable from a release archive (.tar.gz or
// .zip) for latch's self-update.
//
// The archive reaching this package has been verified against signed
// metadata, but its content is handled as hostile anyway: a signing
// mistake, a compromised build machine or a bug in a packaging tool should
// cost a failed update, never a file written outside the destination, a
// filled disk or a setuid binary.
//
// # What ExtractFile enforces
//
//   - Every entry name in the archive is checked while scanning, not only the
//     member's: a name that is absolute, escapes the archive root through
//     "..", contains a backslash or a NUL byte, or begins with a drive letter
//     fails the whole extraction with [ErrUnsafeEntry]. So does a symbolic or
//     hard link whose target, resolved lexically from where the link sits,
//     is absolute or leaves the archive root. Links are never followed.
//   - The member is the one entry whose cleaned name equals the requested
//     name. It must be a regular file ([ErrNotRegular] for links,
//     directories, devices and the rest), and no second entry may clean to
//     the same name ([ErrDuplicate]): two candidates would let different
//     tools extract different programs from the same signed archive.
//   - The member is streamed into a temporary file in the destination
//     directory (constant memory whatever its size). The bytes actually
//     written are counted, not the header's claim: more than the limit fails
//     with [ErrTooLarge], which stops a decompression bomb after limit+1
//     bytes. A declared size that differs from the data (short tar stream,
//     zip size or CRC mismatch) fails with [ErrFormat], as does a truncated
//     or corrupt archive, including a gzip stream whose checksum is wrong.
//   - The returned mode keeps the entry's read and execute bits and the
//     owner's write bit. Setuid, setgid and sticky bits are dropped, and so
//     is write permission for group and others: an executable that other
//     local users may rewrite would let them choose the next program run.
//     The owner's execute bit is always set.
//
// On any error no file is left behind in the destination directory.
//
// A .tar.gz archive is read to its end, through every entry after the
// member, to find unsafe or duplicate entries and to check the gzip
// checksum; skipping an entry means decompressing it, so the time spent is
// bounded by the archive's verified length and gzip's ratio (about 1000:1),
// while memory stays constant. A zip archive is read through its central
// directory, and only the member and symbolic links (to check their targets)
// are decompressed.
package archive

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path"
	"strings"

	"github.com/latchsec/latch/internal/atomicfile"
)

// Format is the kind of archive a release comes in.
type Format int

const (
	FormatTarGz Format = iota + 1 // a tar archive compressed with gzip
	FormatZip                     // a zip archive
)

// FormatOf returns the archive format for a file name by its extension
// (.tar.gz and .tgz, .zip; letter case is ignored), and false for any other
// name.
func FormatOf(name string) (Format, bool) {
	lower := strings.ToLower(name)
	switch {
	case strings.HasSuffix(lower, ".tar.gz"), strings.HasSuffix(lower, ".tgz"):
		return FormatTarGz, true
	case strings.HasSuffix(lower, ".zip"):
		return FormatZip, true
	}
	return 0, false
}

// maxLinkTarget caps the length of a zip symbolic link's target, which is
// stored as the entry's content and has to be read to be checked. It is
// PATH_MAX on Linux.
const maxLinkTarget = 4096

// ExtractFile reads the archive at src, finds the entry member and writes it
// to a new temporary file in destDir (see [atomicfile.CreateTemp]; its name
// begins with "." and the member's base name). It returns that file, not yet
// committed, with the mode described in the package documentation already
// applied to it, and that mode. The caller commits the file to its final
// name in destDir or aborts it; its offset is at the end of the data.
//
// member is a clean relative slash path ("myapp", "bin/myapp"). It is
// compared with each entry's cleaned name, so "./bin/myapp" in the archive
// matches "bin/myapp". maxSize, at least 1, is the most bytes the member may
// have.
//
// Errors: [ErrUnsafeEntry], [ErrNotRegular], [ErrDuplicate], [ErrNotFound]
// and [ErrTooLarge] come wrapped in an [*EntryError] naming the entry;
// [ErrFormat] comes with the underlying reader's error; a member that is not
// a clean relative path, a maxSize below 1 or an unknown format is refused
// with an error wrapping [fs.ErrInvalid] before src is opened. On any error
// nothing is left in destDir.
func ExtractFile(src string, format Format, member string, destDir string, maxSize int64) (*atomicfile.File, fs.FileMode, error) {
	if clean, err := cleanName(member); err != nil || clean != member || clean == "." {
		return nil, 0, fmt.Errorf("archive: member %q is not a clean relative slash path: %w", member, fs.ErrInvalid)
	}
	if maxSize < 1 {
		return nil, 0, fmt.Errorf("archive: size limit %d is below 1: %w", maxSize, fs.ErrInvalid)
	}
	x := &extractor{src: src, member: member, destDir: destDir, maxSize: maxSize}
	var err error
	switch format {
	case FormatTarGz:
		err = x.tarGz()
	case FormatZip:
		err = x.zip()
	default:
		return nil, 0, fmt.Errorf("archive: unknown format %d: %w", format, fs.ErrInvalid)
	}
	if err != nil {
		if x.out != nil {
			if abortErr := x.out.Abort(); abortErr != nil {
				err = errors.Join(err, abortErr)
			}
		}
		return nil, 0, err
	}
	return x.out, x.mode, nil
}

// entryKind is what an archive entry is, in terms both formats share.
type entryKind int

const (
	kindRegular entryKind = iota
	kindDir
	kindSymlink
	kindHardlink
	kindOther // devices, FIFOs, tar's meta entries and anything unknown
)

// extractor holds the state of one ExtractFile call.
type extractor struct {
	src     string
	member  string
	destDir string
	maxSize int64

	found bool             // an entry cleaning to member has been seen
	out   *atomicfile.File // the temporary file, once created
	mode  fs.FileMode      // the mode applied to out
}

// check applies the rules every entry must pass and reports whether the
// entry is the member. link is the target of a symbolic or hard link.
func (x *extractor) check(name string, kind entryKind, link string) (bool, error) {
	clean, err := cleanName(name)
	if err != nil {
		return false, &EntryError{Name: name, Err: err}
	}
	switch kind {
	case kindSymlink:
		// A symbolic link's target is relative to the directory it is in.
		if err := checkLink(path.Dir(clean), link); err != nil {
			return false, &EntryError{Name: name, Err: err}
		}
	case kindHardlink:
		// A hard link's target is an entry name, relative to the root.
		if err := checkLink(".", link); err != nil {
			return false, &EntryError{Name: name, Err: err}
		}
	}
	if clean != x.member {
		return false, nil
	}
	if x.found {
		return false, &EntryError{Name: name, Err: fmt.Errorf("%w: a second entry is named %q", ErrDuplicate, x.member)}
	}
	x.found = true
	if kind != kindRegular {
		return false, &EntryError{Name: name, Err: ErrNotRegular}
	}
	return true, nil
}

// cleanName checks an entry name (or the requested member) and returns it
// cleaned.
func cleanName(name string) (string, error) {
	if reason := unsafeSyntax(name); reason != "" {
		return "", fmt.Errorf("%w: name %s", ErrUnsafeEntry, reason)
	}
	clean := path.Clean(name)
	if escapes(clean) {
		return "", fmt.Errorf("%w: name escapes the archive root", ErrUnsafeEntry)
	}
	return clean, nil
}

// checkLink checks the target of a link found in directory dir (a cleaned
// name, "." for the root).
func checkLink(dir, target string) error {
	if target == "" {
		return fmt.Errorf("%w: link with an empty target", ErrUnsafeEntry)
	}
	if reason := unsafeSyntax(target); reason != "" {
		return fmt.Errorf("%w: link target %q %s", ErrUnsafeEntry, target, reason)
	}
	if escapes(path.Join(dir, target)) {
		return fmt.Errorf("%w: link to %q escapes the archive root", ErrUnsafeEntry, target)
	}
	return nil
}

// unsafeSyntax returns why name can't be a path inside the archive, or ""
// if it can.
func unsafeSyntax(name string) string {
	switch {
	case strings.IndexByte(name, 0) >= 0:
		return "contains a NUL byte"
	case strings.IndexByte(name, '\\') >= 0:
		return "contains a backslash"
	case strings.HasPrefix(name, "/"):
		return "is absolute"
	case len(name) >= 2 && name[1] == ':' && ('a' <= name[0]|0x20 && name[0]|0x20 <= 'z'):
		return "begins with a drive letter"
	}
	return ""
}

// escapes reports whether a cleaned relative path leaves its root.
func escapes(clean string) bool {
	return clean == ".." || strings.HasPrefix(clean, "../")
}

// extract streams the member's data from r into a new temporary file in
// destDir and applies the mode derived from perm. name is the entry's name
// as found in the archive.
func (x *extractor) extract(name string, r io.Reader, perm fs.FileMode) error {
	f, err := atomicfile.CreateTemp(x.destDir, path.Base(x.member)+"-*")
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	x.out = f
	src := &sourceReader{r: r}
	limit := x.maxSize
	if limit < math.MaxInt64 {
		limit++ // one byte more than allowed tells "too large" from "exactly full"
	}
	n, err := io.Copy(f, io.LimitReader(src, limit))
	if src.err != nil {
		return &EntryError{Name: name, Err: fmt.Errorf("%w: %w", ErrFormat, src.err)}
	}
	if err != nil {
		return fmt.Errorf("archive: write %s: %w", f.Name(), err)
	}
	if n > x.maxSize {
		return &EntryError{Name: name, Err: fmt.Errorf("%w: more than %d bytes", ErrTooLarge, x.maxSize)}
	}
	// Keep read and execute for everyone and write for the owner only; no
	// setuid, setgid or sticky bit; the owner can always execute.
	x.mode = perm&0o755 | 0o100
	if err := f.Chmod(x.mode); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	return nil
}

// sourceReader remembers an error from reading the archive, so that it can
// be told apart from an error writing the output.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// malformed reports an archive that can't be read, not tied to one entry.
func (x *extractor) malformed(err error) error {
	return fmt.Errorf("archive %s: %w: %w", x.src, ErrFormat, err)
}
