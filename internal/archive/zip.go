package archive

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// zip checks every entry of a zip archive through its central directory,
// then extracts the member.
func (x *extractor) zip() error {
	f, err := os.Open(x.src)
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	zr, err := zip.NewReader(f, info.Size())
	// With GODEBUG=zipinsecurepath=0, NewReader also reports a non-local
	// name, with a usable reader; our own checks below are a superset of
	// that one wherever a name could matter.
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return x.malformed(err)
	}
	var member *zip.File
	for _, zf := range zr.File {
		mode := zf.Mode()
		var kind entryKind
		var link string
		switch {
		case mode.IsRegular():
			kind = kindRegular
		case mode.IsDir():
			kind = kindDir
		case mode&fs.ModeSymlink != 0:
			kind = kindSymlink
			if link, err = readLink(zf); err != nil {
				return err
			}
		default:
			kind = kindOther
		}
		isMember, err := x.check(zf.Name, kind, link)
		if err != nil {
			return err
		}
		if isMember {
			member = zf
		}
	}
	if member == nil {
		return &EntryError{Name: x.member, Err: ErrNotFound}
	}
	rc, err := member.Open()
	if err != nil {
		return &EntryError{Name: member.Name, Err: fmt.Errorf("%w: %w", ErrFormat, err)}
	}
	defer rc.Close()
	return x.extract(member.Name, rc, member.Mode().Perm())
}

// readLink returns the target of a zip symbolic link, which is the entry's
// content.
func readLink(zf *zip.File) (string, error) {
	rc, err := zf.Open()
	if err != nil {
		return "", &EntryError{Name: zf.Name, Err: fmt.Errorf("%w: %w", ErrFormat, err)}
	}
	defer rc.Close()
	target, err := io.ReadAll(io.LimitReader(rc, maxLinkTarget+1))
	if err != nil {
		return "", &EntryError{Name: zf.Name, Err: fmt.Errorf("%w: %w", ErrFormat, err)}
	}
	if len(target) > maxLinkTarget {
		return "", &EntryError{Name: zf.Name, Err: fmt.Errorf("%w: symbolic link target longer than %d bytes", ErrTooLarge, maxLinkTarget)}
	}
	return string(target), nil
}
