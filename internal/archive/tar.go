package archive

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// tarGz scans a gzip-compressed tar archive from start to end, extracting
// the member when it comes by.
func (x *extractor) tarGz() error {
	f, err := os.Open(x.src)
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return x.malformed(err)
	}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		// With GODEBUG=tarinsecurepath=0, Next also reports a non-local
		// name, with a usable header; our own checks below are a superset
		// of that one wherever a name could matter.
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) {
			return x.malformed(err)
		}
		isMember, err := x.check(hdr.Name, tarKind(hdr.Typeflag), hdr.Linkname)
		if err != nil {
			return err
		}
		if isMember {
			if err := x.extract(hdr.Name, tr, fs.FileMode(hdr.Mode)&fs.ModePerm); err != nil {
				return err
			}
		}
	}
	// Read what follows the end of the tar archive, so that the gzip
	// checksum (checked at the end of the stream) is verified too.
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return x.malformed(err)
	}
	if !x.found {
		return &EntryError{Name: x.member, Err: ErrNotFound}
	}
	return nil
}

// tarKind maps a tar type flag to an entry kind. The reader has already
// turned the old TypeRegA into TypeReg or TypeDir.
func tarKind(flag byte) entryKind {
	switch flag {
	case tar.TypeReg:
		return kindRegular
	case tar.TypeDir:
		return kindDir
	case tar.TypeSymlink:
		return kindSymlink
	case tar.TypeLink:
		return kindHardlink
	}
	return kindOther
}
