package main

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// The two directories of a repository.
const (
	metadataDir = "metadata"
	targetsDir  = "targets"
)

// above lists the roles that refer to each other, each listed (with version,
// length and hashes) by the next: re-signing one means re-signing all that
// follow it.
var above = []string{metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP}

// resigns reports whether an update that re-signs from role `from` upwards
// re-signs role.
func resigns(from, role string) bool {
	i := slices.Index(above, from)
	return i >= 0 && slices.Index(above, role) >= i
}

// fileName is the name of a role's metadata file: <version>.<role>.json, or
// timestamp.json, the one name clients start from (spec §6.2).
func fileName(role string, version int64) string {
	if role == metadata.TIMESTAMP {
		return "timestamp.json"
	}
	return strconv.FormatInt(version, 10) + "." + role + ".json"
}

// repo is the newest metadata of a repository: what publish builds on.
type repo struct {
	dir       string
	root      *metadata.Metadata[metadata.RootType]
	targets   *metadata.Metadata[metadata.TargetsType]
	snapshot  *metadata.Metadata[metadata.SnapshotType]
	timestamp *metadata.Metadata[metadata.TimestampType]
	// The published bytes, whose length and hashes the role above lists.
	targetsBytes, snapshotBytes []byte
}

// loadRepo reads the newest version of each role in dir and checks it as a
// client would, so that publish never signs on top of metadata it did not
// make (a tampered targets.json signed again would be laundered): the chain
// of roots from version 1, each signed by a threshold of its predecessor's
// root keys and of its own; targets, whose list of releases every command
// carries forward, signed by a threshold of its keys in the newest root;
// snapshot and timestamp, unless this command signs them anew (from
// `resign` upwards, see resigns), signed likewise and listing the version,
// length and hashes of the role below. Snapshot and timestamp signed anew
// are made afresh from the roles below them, so they need no check: signing
// them is the repair when an earlier run stopped half-way. Expiry is not
// checked: renewing is a command's job.
func loadRepo(dir, resign string) (*repo, error) {
	r := &repo{dir: dir}
	entries, err := os.ReadDir(filepath.Join(dir, metadataDir))
	if err != nil {
		return nil, &RepositoryError{File: metadataDir, Err: err}
	}
	newest := map[string]int64{}
	for _, e := range entries {
		v, role, ok := parseFileName(e.Name())
		if ok && v > newest[role] {
			newest[role] = v
		}
	}
	for _, role := range []string{metadata.ROOT, metadata.TARGETS, metadata.SNAPSHOT} {
		if newest[role] == 0 {
			return nil, &RepositoryError{File: path.Join(metadataDir, fileName(role, 1)), Err: os.ErrNotExist}
		}
	}

	for v := int64(1); v <= newest[metadata.ROOT]; v++ {
		root, _, err := readRole[metadata.RootType](dir, metadata.ROOT, v)
		if err != nil {
			return nil, err
		}
		trusted := r.root
		if trusted == nil {
			trusted = root
		}
		if err := errors.Join(trusted.VerifyDelegate(metadata.ROOT, root), root.VerifyDelegate(metadata.ROOT, root)); err != nil {
			return nil, &RepositoryError{File: roleFile(metadata.ROOT, v), Err: err}
		}
		r.root = root
	}

	if r.targets, r.targetsBytes, err = readRole[metadata.TargetsType](dir, metadata.TARGETS, newest[metadata.TARGETS]); err != nil {
		return nil, err
	}
	if r.snapshot, r.snapshotBytes, err = readRole[metadata.SnapshotType](dir, metadata.SNAPSHOT, newest[metadata.SNAPSHOT]); err != nil {
		return nil, err
	}
	if r.timestamp, _, err = readRole[metadata.TimestampType](dir, metadata.TIMESTAMP, 0); err != nil {
		return nil, err
	}

	check := func(role string, version int64, m any) error {
		if role != metadata.TARGETS && resigns(resign, role) {
			return nil
		}
		if err := r.root.VerifyDelegate(role, m); err != nil {
			return &RepositoryError{File: roleFile(role, version), Err: fmt.Errorf("not signed by the %s keys of root v%d: %w", role, r.root.Signed.Version, err)}
		}
		return nil
	}
	listed := func(role string, version int64, lists *metadata.MetaFiles, by string, byVersion int64, data []byte) error {
		if resigns(resign, by) {
			return nil
		}
		err := errors.New("not listed")
		if lists != nil {
			err = lists.VerifyLengthHashes(data)
			if err == nil && lists.Version != version {
				err = fmt.Errorf("lists version %d", lists.Version)
			}
		}
		if err != nil {
			return &RepositoryError{File: roleFile(by, byVersion), Err: fmt.Errorf("does not list %s v%d, the newest (%v): an earlier run stopped half-way? publish renew -role %s repairs it", role, version, err, by)}
		}
		return nil
	}
	t, s, ts := r.targets.Signed.Version, r.snapshot.Signed.Version, r.timestamp.Signed.Version
	if err := errors.Join(
		check(metadata.TARGETS, t, r.targets),
		check(metadata.SNAPSHOT, s, r.snapshot),
		check(metadata.TIMESTAMP, ts, r.timestamp),
		listed(metadata.TARGETS, t, r.snapshot.Signed.Meta["targets.json"], metadata.SNAPSHOT, s, r.targetsBytes),
		listed(metadata.SNAPSHOT, s, r.timestamp.Signed.Meta["snapshot.json"], metadata.TIMESTAMP, ts, r.snapshotBytes),
	); err != nil {
		return nil, err
	}
	return r, nil
}

// parseFileName splits "<version>.<role>.json" for root, targets and
// snapshot.
func parseFileName(name string) (version int64, role string, ok bool) {
	v, rest, ok := strings.Cut(name, ".")
	if !ok {
		return 0, "", false
	}
	role, ok = strings.CutSuffix(rest, ".json")
	if !ok || (role != metadata.ROOT && role != metadata.TARGETS && role != metadata.SNAPSHOT) {
		return 0, "", false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 || strconv.FormatInt(n, 10) != v {
		return 0, "", false
	}
	return n, role, true
}

// roleFile is the path of a role's file relative to the repository.
func roleFile(role string, version int64) string {
	return path.Join(metadataDir, fileName(role, version))
}

// readRole reads and decodes one metadata file and checks that it holds the
// version its name says (timestamp.json: any version).
func readRole[T metadata.Roles](dir, role string, version int64) (*metadata.Metadata[T], []byte, error) {
	file := roleFile(role, version)
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(file)))
	if err != nil {
		return nil, nil, &RepositoryError{File: file, Err: err}
	}
	m, err := (&metadata.Metadata[T]{}).FromBytes(data)
	if err != nil {
		return nil, nil, &RepositoryError{File: file, Err: err}
	}
	var got int64
	switch s := any(&m.Signed).(type) {
	case *metadata.RootType:
		got = s.Version
	case *metadata.TargetsType:
		got = s.Version
	case *metadata.SnapshotType:
		got = s.Version
	case *metadata.TimestampType:
		got, version = s.Version, s.Version
	}
	if got != version {
		return nil, nil, &RepositoryError{File: file, Err: fmt.Errorf("holds version %d", got)}
	}
	return m, data, nil
}

// metaFile is how snapshot lists targets.json and timestamp lists
// snapshot.json: version, length and sha256 of the bytes published.
func metaFile(version int64, data []byte) *metadata.MetaFiles {
	sum := sha256.Sum256(data)
	return &metadata.MetaFiles{Version: version, Length: int64(len(data)), Hashes: metadata.Hashes{"sha256": sum[:]}}
}

// update is what a command changes in the metadata.
type update struct {
	// root is a new root version to publish, or nil.
	root *metadata.Metadata[metadata.RootType]
	// resign is the lowest role to sign anew, with every role above it
	// (targets, snapshot, timestamp; "" for none). Each gets the next
	// version and the expiry its lifetime flag gives.
	resign string
}

// plan is signed metadata ready to be written, in order.
type plan struct {
	files []planned
	after *repo // the repository once written
}

type planned struct {
	role    string
	version int64
	expires time.Time
	data    []byte
}

// signersFor finds the keys at hand for everything u signs, by role, or
// fails with a *KeysError.
//
// A new root is signed by a threshold of the root keys of the root before
// it (if any) and by a threshold of its own (spec §5.3.4). Alongside a new
// root, the other roles are signed by a threshold of their keys in the new
// root and by their keys of the current root that are at hand: targets and
// snapshot are written before the new root (see write), and if the run
// stops in between they still verify under the current root, so the next
// run can build on them. Clients ignore signatures by keys their root does
// not list.
func (r *repo) signersFor(u update, kr keyring) (map[string][]privateKey, error) {
	keys := map[string][]privateKey{}
	addKeys := func(role string, ks []privateKey) {
		for _, k := range ks {
			if !slices.ContainsFunc(keys[role], func(h privateKey) bool { return h.id == k.id }) {
				keys[role] = append(keys[role], k)
			}
		}
	}
	root := r.root
	if u.root != nil {
		root = u.root
		if r.root != nil {
			old, err := kr.signers(r.root, metadata.ROOT)
			if err != nil {
				return nil, err
			}
			addKeys(metadata.ROOT, old)
		}
	}
	for _, role := range append([]string{metadata.ROOT}, above...) {
		if role == metadata.ROOT && u.root == nil || role != metadata.ROOT && !resigns(u.resign, role) {
			continue
		}
		ks, err := kr.signers(root, role)
		if err != nil {
			return nil, err
		}
		addKeys(role, ks)
		if role != metadata.ROOT && u.root != nil && r.root != nil {
			addKeys(role, kr.listed(r.root, role)) // old keys may be lost

		}
	}
	return keys, nil
}

// prepare signs everything u changes, in memory, with the keys at hand, and
// checks it with go-tuf as a client would: nothing is written, and a missing
// key or a failed check changes nothing. r is updated to the new state.
func (r *repo) prepare(u update, kr keyring, o *options) (*plan, error) {
	keys, err := r.signersFor(u, kr)
	if err != nil {
		return nil, err
	}
	root := r.root
	if u.root != nil {
		root = u.root
	}
	p := &plan{}
	push := func(role string, version int64, expires time.Time, data []byte, err error) error {
		if err == nil {
			p.files = append(p.files, planned{role, version, expires, data})
		}
		return err
	}
	if u.root != nil {
		data, err := sign(u.root, keys[metadata.ROOT])
		if err == nil {
			err = u.root.VerifyDelegate(metadata.ROOT, u.root)
		}
		if err == nil && r.root != nil {
			err = r.root.VerifyDelegate(metadata.ROOT, u.root)
		}
		if err := push(metadata.ROOT, u.root.Signed.Version, u.root.Signed.Expires, data, err); err != nil {
			return nil, err
		}
	}
	if resigns(u.resign, metadata.TARGETS) {
		t := &r.targets.Signed
		t.Version++
		t.Expires = o.expires(metadata.TARGETS)
		data, err := sign(r.targets, keys[metadata.TARGETS])
		if err == nil {
			r.targetsBytes = data
			err = root.VerifyDelegate(metadata.TARGETS, r.targets)
		}
		if err := push(metadata.TARGETS, t.Version, t.Expires, data, err); err != nil {
			return nil, err
		}
	}
	if resigns(u.resign, metadata.SNAPSHOT) {
		s := &r.snapshot.Signed
		s.Meta["targets.json"] = metaFile(r.targets.Signed.Version, r.targetsBytes)
		s.Version++
		s.Expires = o.expires(metadata.SNAPSHOT)
		data, err := sign(r.snapshot, keys[metadata.SNAPSHOT])
		if err == nil {
			r.snapshotBytes = data
			err = root.VerifyDelegate(metadata.SNAPSHOT, r.snapshot)
		}
		if err := push(metadata.SNAPSHOT, s.Version, s.Expires, data, err); err != nil {
			return nil, err
		}
	}
	if resigns(u.resign, metadata.TIMESTAMP) {
		ts := &r.timestamp.Signed
		ts.Meta["snapshot.json"] = metaFile(r.snapshot.Signed.Version, r.snapshotBytes)
		ts.Version++
		ts.Expires = o.expires(metadata.TIMESTAMP)
		data, err := sign(r.timestamp, keys[metadata.TIMESTAMP])
		if err == nil {
			err = root.VerifyDelegate(metadata.TIMESTAMP, r.timestamp)
		}
		if err := push(metadata.TIMESTAMP, ts.Version, ts.Expires, data, err); err != nil {
			return nil, err
		}
	}
	r.root = root
	p.after = r
	return p, nil
}

// writeOrder is the order in which a plan's files are written: what the
// current timestamp.json leads clients to never changes, and the files of
// the new state are all in place before timestamp.json points at them. A
// new root comes after targets and snapshot (which are not listed anywhere
// yet and are signed for both roots, see signersFor) so that a run that
// stops half-way leaves metadata that verifies.
var writeOrder = []string{metadata.TARGETS, metadata.SNAPSHOT, metadata.ROOT, metadata.TIMESTAMP}

// write publishes the plan's files in writeOrder, each atomically: a
// versioned file appears complete under its name or not at all and is
// never replaced, and timestamp.json is replaced by a rename. Then it warns
// about roles that expire before the timestamp does.
func (p *plan) write(e *env) error {
	slices.SortStableFunc(p.files, func(a, b planned) int {
		return slices.Index(writeOrder, a.role) - slices.Index(writeOrder, b.role)
	})
	for _, f := range p.files {
		name := filepath.Join(p.after.dir, filepath.FromSlash(roleFile(f.role, f.version)))
		if err := writeFile(name, f.data, f.role == metadata.TIMESTAMP); err != nil {
			return err
		}
		e.printf("wrote %s: %s v%d, expires %s", name, f.role, f.version, f.expires.Format(time.RFC3339))
	}
	r := p.after
	limit := r.timestamp.Signed.Expires
	for _, d := range []struct {
		role    string
		version int64
		expires time.Time
	}{
		{metadata.ROOT, r.root.Signed.Version, r.root.Signed.Expires},
		{metadata.TARGETS, r.targets.Signed.Version, r.targets.Signed.Expires},
		{metadata.SNAPSHOT, r.snapshot.Signed.Version, r.snapshot.Signed.Expires},
	} {
		if d.expires.Before(limit) {
			e.warnf("%s v%d expires %s, before timestamp v%d (%s): clients refuse the repository from then on; run publish renew -role %s",
				d.role, d.version, d.expires.Format(time.RFC3339), r.timestamp.Signed.Version, limit.Format(time.RFC3339), d.role)
		}
	}
	return nil
}

// writeFile writes data to name through a temporary file beside it, so that
// a web server never serves a partial file. With replace it renames the
// temporary file over name; without, it links it to name, which fails if
// name exists (another publish at work, or a version number reused).
func writeFile(name string, data []byte, replace bool) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(name), ".publish-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err != nil {
		return err
	}
	if replace {
		return os.Rename(tmp, name)
	}
	return os.Link(tmp, name)
}
