package metadata

import (
	"fmt"
	"slices"

	"github.com/latchsec/latch/verify"
)

// MetaFile describes a metadata file as its referrer lists it (spec §4.4
// METAFILES): the version, and optionally the length and hashes.
type MetaFile struct {
	Version int64
	Length  int64             // -1 when not listed
	Hashes  map[string][]byte // nil when not listed
}

// Check verifies b against the length and hashes listed, where they are
// listed (spec §5.5.2, §5.6.2). In snapshot and timestamp listings both are
// optional (spec §4.4, §4.6): what is not listed binds nothing, and the
// version, checked once the signatures are, is then the only link. Hashes
// listed with none supported fail: there is no fallback.
func (m MetaFile) Check(b []byte) error {
	if len(m.Hashes) == 0 {
		if m.Length >= 0 && int64(len(b)) != m.Length {
			return &verify.LengthError{Want: m.Length, Got: int64(len(b))}
		}
		return nil
	}
	length := m.Length
	if length < 0 {
		length = int64(len(b)) // not listed: the hashes alone bind the bytes
	}
	return verify.CheckBytes(b, length, m.Hashes)
}

// clone copies m deeply, so that callers cannot change verified metadata
// through what an accessor returns.
func (m MetaFile) clone() MetaFile {
	if m.Hashes != nil {
		hashes := make(map[string][]byte, len(m.Hashes))
		for alg, d := range m.Hashes {
			hashes[alg] = slices.Clone(d)
		}
		m.Hashes = hashes
	}
	return m
}

// errNoRoot: timestamp and snapshot are verified with the keys of a trusted
// root, and none was given.
var errNoRoot = fmt.Errorf("%w: no trusted root to verify with", verify.ErrThreshold)

func parseMetaFiles(o object) (map[string]MetaFile, error) {
	meta, err := o.obj("meta")
	if err != nil {
		return nil, err
	}
	out := make(map[string]MetaFile, len(meta))
	for name, raw := range meta {
		what := fmt.Sprintf("meta %q", name)
		mo, err := parseObject(raw, what)
		if err != nil {
			return nil, err
		}
		mf := MetaFile{Length: -1}
		if mf.Version, err = mo.int("version"); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if mf.Version < 1 {
			return nil, invalid("%s: version %d is below 1", what, mf.Version)
		}
		if v, ok := mo["length"]; ok {
			if mf.Length, err = parseLength(v, what); err != nil {
				return nil, err
			}
		}
		if v, ok := mo["hashes"]; ok {
			if mf.Hashes, err = parseHashes(v, what); err != nil {
				return nil, err
			}
		}
		out[name] = mf
	}
	return out, nil
}

// Timestamp is verified timestamp metadata (spec §4.6).
type Timestamp struct {
	header
	snapshot MetaFile
}

// OpenTimestamp verifies data with the timestamp keys of root and decodes it.
// It must list snapshot.json.
func OpenTimestamp(data []byte, root *Root) (*Timestamp, error) {
	t := &Timestamp{}
	if err := t.open(data, root); err != nil {
		return nil, &Error{Role: RoleTimestamp, Version: t.version, Err: err}
	}
	return t, nil
}

func (t *Timestamp) open(data []byte, root *Root) error {
	var o object
	var err error
	if root == nil {
		return errNoRoot
	}
	if o, t.header, _, err = open(data, root.roles[RoleTimestamp], RoleTimestamp); err != nil {
		return err
	}
	return t.decodeBody(o)
}

// decodeBody decodes what follows the header (spec §4.6).
func (t *Timestamp) decodeBody(o object) error {
	meta, err := parseMetaFiles(o)
	if err != nil {
		return err
	}
	var ok bool
	if t.snapshot, ok = meta["snapshot.json"]; !ok {
		return invalid(`meta does not list "snapshot.json"`)
	}
	return nil
}

// Snapshot returns what the timestamp says of snapshot.json.
func (t *Timestamp) Snapshot() MetaFile { return t.snapshot.clone() }

// Snapshot is verified snapshot metadata (spec §4.5).
type Snapshot struct {
	header
	meta map[string]MetaFile
}

// OpenSnapshot verifies data with the snapshot keys of root and decodes it.
func OpenSnapshot(data []byte, root *Root) (*Snapshot, error) {
	s := &Snapshot{}
	if err := s.open(data, root); err != nil {
		return nil, &Error{Role: RoleSnapshot, Version: s.version, Err: err}
	}
	return s, nil
}

func (s *Snapshot) open(data []byte, root *Root) error {
	var o object
	var err error
	if root == nil {
		return errNoRoot
	}
	if o, s.header, _, err = open(data, root.roles[RoleSnapshot], RoleSnapshot); err != nil {
		return err
	}
	return s.decodeBody(o)
}

// decodeBody decodes what follows the header (spec §4.4).
func (s *Snapshot) decodeBody(o object) error {
	var err error
	s.meta, err = parseMetaFiles(o)
	return err
}

// Role returns what the snapshot says of the targets metadata of role
// ("targets" or a delegated role name), listed as "<role>.json".
func (s *Snapshot) Role(role string) (MetaFile, bool) {
	m, ok := s.meta[role+".json"]
	return m.clone(), ok
}

// Meta returns a copy of every entry, keyed by file name ("targets.json").
func (s *Snapshot) Meta() map[string]MetaFile {
	out := make(map[string]MetaFile, len(s.meta))
	for name, m := range s.meta {
		out[name] = m.clone()
	}
	return out
}
