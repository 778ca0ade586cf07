package metadata

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"maps"
	"testing"

	"github.com/latchsec/latch/verify"
)

func TestMetaFileCheck(t *testing.T) {
	doc := []byte(`{"signatures":[],"signed":{}}`)
	s256, s512 := sha256.Sum256(doc), sha512.Sum512(doc)
	flipped := bytes.Clone(doc)
	flipped[3] ^= 1
	tests := []struct {
		name string
		m    MetaFile
		data []byte
		want error // nil or a sentinel of package verify
	}{
		// §4.4: length and hashes are optional in snapshot and timestamp
		// listings; what is not listed binds nothing.
		{"version only", MetaFile{Version: 1, Length: -1}, doc, nil},
		{"version only, empty hashes", MetaFile{Version: 1, Length: -1, Hashes: map[string][]byte{}}, doc, nil},
		{"length only, empty hashes, longer data", MetaFile{Version: 1, Length: int64(len(doc)), Hashes: map[string][]byte{}}, append(bytes.Clone(doc), ' '), verify.ErrLengthMismatch},
		{"length", MetaFile{Version: 1, Length: int64(len(doc))}, doc, nil},
		{"length, longer data", MetaFile{Version: 1, Length: int64(len(doc))}, append(bytes.Clone(doc), ' '), verify.ErrLengthMismatch},
		{"length, shorter data", MetaFile{Version: 1, Length: int64(len(doc))}, doc[1:], verify.ErrLengthMismatch},
		{"sha256", MetaFile{Version: 1, Length: -1, Hashes: map[string][]byte{"sha256": s256[:]}}, doc, nil},
		{"sha256, changed data", MetaFile{Version: 1, Length: -1, Hashes: map[string][]byte{"sha256": s256[:]}}, flipped, verify.ErrHashMismatch},
		{"sha256 and sha512", MetaFile{Version: 1, Length: int64(len(doc)), Hashes: map[string][]byte{"sha256": s256[:], "sha512": s512[:]}}, doc, nil},
		{"sha512 wrong, sha256 right", MetaFile{Version: 1, Length: -1, Hashes: map[string][]byte{"sha256": s256[:], "sha512": s256[:]}}, doc, verify.ErrHashMismatch},
		{"unsupported algorithm beside sha256", MetaFile{Version: 1, Length: -1, Hashes: map[string][]byte{"sha256": s256[:], "md5": {1}}}, doc, nil},
		{"only unsupported algorithms", MetaFile{Version: 1, Length: -1, Hashes: map[string][]byte{"md5": {1}}}, doc, verify.ErrNoSupportedHash},
		{"length checked first", MetaFile{Version: 1, Length: 1, Hashes: map[string][]byte{"sha256": s256[:]}}, flipped, verify.ErrLengthMismatch},
	}
	for _, tt := range tests {
		err := tt.m.Check(tt.data)
		if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("%s: Check = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestTimestamp(t *testing.T) {
	set := newVectorSet(t)
	ts := set.timestamp("timestamp.vec")
	snapshot := readVector(t, "snapshot.vec").body
	m := ts.Snapshot()
	sum := sha256.Sum256(snapshot)
	if m.Version != 1 || m.Length != int64(len(snapshot)) || len(m.Hashes) != 1 || !bytes.Equal(m.Hashes["sha256"], sum[:]) {
		t.Errorf("Snapshot() = %+v", m)
	}
	if err := m.Check(snapshot); err != nil {
		t.Errorf("Check(snapshot.vec) = %v", err)
	}
	changed := bytes.Replace(snapshot, []byte(`"version":1`), []byte(`"version":2`), 1)
	if err := m.Check(changed); !errors.Is(err, verify.ErrHashMismatch) {
		t.Errorf("Check(changed snapshot) = %v, want ErrHashMismatch", err)
	}
	// The returned MetaFile is a copy.
	m.Hashes["sha256"][0] ^= 1
	m.Hashes["sha512"] = []byte{1}
	if again := ts.Snapshot(); again.Check(snapshot) != nil || len(again.Hashes) != 1 {
		t.Error("Snapshot() changed through a returned value")
	}
}

func TestSnapshot(t *testing.T) {
	set := newVectorSet(t)
	sn := set.snapshot("snapshot.vec")
	targets := readVector(t, "targets.vec").body

	m, ok := sn.Role(RoleTargets)
	if !ok || m.Version != 1 || m.Length != int64(len(targets)) || len(m.Hashes) != 2 {
		t.Fatalf("Role(targets) = %+v, %v", m, ok)
	}
	if err := m.Check(targets); err != nil {
		t.Errorf("Check(targets.vec) = %v", err)
	}
	if err := m.Check(readVector(t, "targets-gotuf.vec").body); !errors.Is(err, verify.ErrLengthMismatch) {
		t.Errorf("Check(another encoding of the same targets) = %v, want ErrLengthMismatch", err)
	}
	m, ok = sn.Role("role-paths")
	if !ok || m.Version != 1 || m.Length != -1 || m.Hashes != nil {
		t.Errorf("Role(role-paths) = %+v, %v", m, ok)
	}
	if m, ok := sn.Role("role-prefix"); ok {
		t.Errorf("Role(role-prefix) = %+v, want not listed", m)
	}
	if _, ok := sn.Role("targets.json"); ok {
		t.Error(`Role("targets.json") found: Role takes role names`)
	}

	meta := sn.Meta()
	if got := len(meta); got != 2 || meta["targets.json"].Version != 1 || meta["role-paths.json"].Version != 1 {
		t.Errorf("Meta() = %v", meta)
	}
	// Meta returns copies.
	meta["targets.json"].Hashes["sha256"][0] ^= 1
	delete(meta, "role-paths.json")
	maps.DeleteFunc(meta["targets.json"].Hashes, func(string, []byte) bool { return true })
	if _, ok := sn.Role("role-paths"); !ok {
		t.Error("Meta() changed through the returned map")
	}
	if m, _ := sn.Role(RoleTargets); len(m.Hashes) != 2 || m.Check(targets) != nil {
		t.Error("Meta() changed through returned hashes")
	}
}
