package metadata

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch/verify"
)

// The interop corpus: real repositories' metadata, kept beside the clone
// (CI lays out the clone and shared/ as siblings). Its files are read in
// place, never copied into this repository. Expectations below come from
// each set's MANIFEST.md, which must name the commit they were written for.

func interopSet(t *testing.T, set, commit string) string {
	t.Helper()
	dir := filepath.Join("..", "..", "shared", "interop", set)
	manifest, err := os.ReadFile(filepath.Join(dir, "MANIFEST.md"))
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("interop corpus %s not found at %s (CI lays out the clone and shared/ as siblings)", set, dir)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(manifest, []byte(commit)) {
		t.Fatalf("%s/MANIFEST.md does not name commit %s: the corpus changed, update these expectations", set, commit)
	}
	return dir
}

func readFile(t *testing.T, elem ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(elem...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkVersion fails unless doc has version want.
func checkVersion(t *testing.T, what string, doc document, want int64) {
	t.Helper()
	if got := doc.Version(); got != want {
		t.Fatalf("%s: version %d, want %d", what, got, want)
	}
}

// rootChain opens first with no trusted root, then each next version with
// the previous one as trusted, and returns the last.
func rootChain(t *testing.T, dir string, first, last int64, name func(v int64) string) *Root {
	t.Helper()
	var r *Root
	for v := first; v <= last; v++ {
		next, err := OpenRoot(readFile(t, dir, name(v)), r)
		if err != nil {
			t.Fatalf("%s: %v", name(v), err)
		}
		checkVersion(t, name(v), next, v)
		r = next
	}
	return r
}

func versionedRoot(v int64) string { return fmt.Sprintf("%d.root.json", v) }

// openChecked checks data against what the referrer lists, then opens it.
// interopTimestamp opens dir's timestamp.json with root and checks that it
// is at version, valid at ref and expired at expired.
func interopTimestamp(t *testing.T, dir string, root *Root, version int64, ref, expired time.Time) *Timestamp {
	t.Helper()
	ts, err := OpenTimestamp(readFile(t, dir, "timestamp.json"), root)
	if err != nil {
		t.Fatal(err)
	}
	checkVersion(t, "timestamp", ts, version)
	if ts.Expired(ref) || !ts.Expired(expired) {
		t.Errorf("timestamp expiry: want valid on %s, expired on %s", ref.Format(time.DateOnly), expired.Format(time.DateOnly))
	}
	return ts
}

func openChecked[T any](t *testing.T, what string, m MetaFile, data []byte, open func([]byte) (T, error)) T {
	t.Helper()
	if err := m.Check(data); err != nil {
		t.Fatalf("%s against its referrer: %v", what, err)
	}
	doc, err := open(data)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return doc
}

func topLevel(t *testing.T, root *Root, role string) RoleKeys {
	t.Helper()
	rk, ok := root.RoleKeys(role)
	if !ok {
		t.Fatalf("root has no %s role", role)
	}
	return rk
}

// child returns the delegated role name among the children of d for target.
func child(t *testing.T, d *Delegations, target, name string) Child {
	t.Helper()
	if d == nil {
		t.Fatalf("no delegations for %s", target)
	}
	for _, c := range d.Children(target) {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("%s is not delegated to %s", target, name)
	return Child{}
}

// roleKeysByName returns the keys of a listed delegated role, for roles
// trusted for no path (which Children never returns).
func roleKeysByName(t *testing.T, d *Delegations, name string) RoleKeys {
	t.Helper()
	for _, r := range d.Roles() {
		if r.Name == name {
			return RoleKeys{Name: r.Name, Threshold: r.Threshold, KeyIDs: r.KeyIDs, Keys: d.Keys()}
		}
	}
	t.Fatalf("no delegated role %s", name)
	return RoleKeys{}
}

// checkTarget checks a listed target's length and sha256, and the file
// bytes when file is not empty.
func checkTarget(t *testing.T, tg *Targets, name string, length int64, sha256Hex string, file string) TargetFile {
	t.Helper()
	tf, ok := lookup(t, tg, name)
	if !ok {
		t.Fatalf("%s: target %s not listed", tg.Name(), name)
	}
	if tf.Length != length || hex.EncodeToString(tf.Hashes["sha256"]) != sha256Hex {
		t.Errorf("%s: %s length %d sha256 %x, want %d %s", tg.Name(), name, tf.Length, tf.Hashes["sha256"], length, sha256Hex)
	}
	if file != "" {
		if err := verify.CheckBytes(readFile(t, file), tf.Length, tf.Hashes); err != nil {
			t.Errorf("%s: %s: %v", tg.Name(), file, err)
		}
	}
	return tf
}

func TestInteropSigstore(t *testing.T) {
	dir := interopSet(t, "sigstore-root-signing", "60cf2ce8b2e45d600dc17c4421e8c751e75772be")
	ref := time.Date(2026, 8, 22, 0, 0, 0, 0, time.UTC)

	// Clients bootstrap from 5.root.json (go-tuf cannot parse the hex
	// ECDSA keys of v1-v4); the chain must reach v15.
	root := rootChain(t, dir, 5, 15, versionedRoot)
	// This client also reads the hex keys: the whole chain from v1 verifies.
	if r := rootChain(t, dir, 1, 15, versionedRoot); !bytes.Equal(r.Bytes(), root.Bytes()) {
		t.Error("the chain from v1 ends elsewhere")
	}
	v1, err := OpenRoot(readFile(t, dir, "1.root.json"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2021, 12, 18, 19, 28, 12, 990080000, time.UTC); !v1.Expires().Equal(want) || v1.Expires().Location() != time.UTC {
		t.Errorf("v1 expires %v, want %v (-06:00 converted to UTC)", v1.Expires(), want)
	}
	// Roots v12-v14 carry empty placeholder signatures.
	for v := int64(12); v <= 14; v++ {
		if !bytes.Contains(readFile(t, dir, versionedRoot(v)), []byte(`"sig": ""`)) {
			t.Errorf("%d.root.json has no placeholder signature: the corpus changed", v)
		}
	}
	for _, role := range topLevelRoles {
		if rk, _ := root.RoleKeys(role); rk.Threshold != map[string]int{RoleRoot: 3, RoleTargets: 3, RoleSnapshot: 1, RoleTimestamp: 1}[role] {
			t.Errorf("v15 %s threshold %d", role, rk.Threshold)
		}
	}
	if root.Expired(ref) || !root.ConsistentSnapshot() || root.SpecVersion() != "1.0" {
		t.Errorf("v15: expired %v, consistent_snapshot %v, spec_version %q", root.Expired(ref), root.ConsistentSnapshot(), root.SpecVersion())
	}

	ts := interopTimestamp(t, dir, root, 762, ref, time.Date(2026, 8, 29, 0, 0, 0, 0, time.UTC))
	sm := ts.Snapshot()
	if sm.Version != 165 || sm.Length != -1 || sm.Hashes != nil {
		t.Errorf("timestamp lists snapshot %+v, want version 165 only", sm)
	}
	snap := openChecked(t, "snapshot", sm, readFile(t, dir, "165.snapshot.json"), func(b []byte) (*Snapshot, error) { return OpenSnapshot(b, root) })
	checkVersion(t, "snapshot", snap, 165)

	tm, ok := snap.Role(RoleTargets)
	if !ok || tm.Version != 14 {
		t.Fatalf("snapshot lists targets %+v, %v", tm, ok)
	}
	targets := openChecked(t, "targets", tm, readFile(t, dir, "14.targets.json"), func(b []byte) (*Targets, error) {
		return OpenTargets(b, topLevel(t, root, RoleTargets))
	})
	checkVersion(t, "targets", targets, 14)
	if targets.Len() != 11 || len(targets.Signers()) < 3 {
		t.Errorf("targets: %d entries, %d signers", targets.Len(), len(targets.Signers()))
	}
	checkTarget(t, targets, "trusted_root.json", 6787, "6494e21ea73fa7ee769f85f57d5a3e6a08725eae1e38c755fc3517c9e6bc0b66", "")
	// Every listed target is in targets/ under its consistent-snapshot name.
	for _, p := range collectPaths(t, targets) {
		tf, _ := lookup(t, targets, p)
		dirName, base := path.Split(p)
		file := filepath.Join(dir, "targets", filepath.FromSlash(dirName), hex.EncodeToString(tf.Hashes["sha256"])+"."+base)
		checkTarget(t, targets, p, tf.Length, hex.EncodeToString(tf.Hashes["sha256"]), file)
	}

	const npm = "registry.npmjs.org"
	const npmTarget = "registry.npmjs.org/keys.json"
	c := child(t, targets.Delegations(), npmTarget, npm)
	if !c.Terminating || c.Threshold != 1 {
		t.Errorf("npm delegation: %+v", c)
	}
	nm, ok := snap.Role(npm)
	if !ok || nm.Version != 8 {
		t.Fatalf("snapshot lists %s %+v, %v", npm, nm, ok)
	}
	npmDoc := openChecked(t, npm, nm, readFile(t, dir, "8.registry.npmjs.org.json"), func(b []byte) (*Targets, error) { return OpenTargets(b, c.RoleKeys) })
	checkVersion(t, npm, npmDoc, 8)
	if npmDoc.Name() != npm || npmDoc.Expired(ref) {
		t.Errorf("npm: name %q, expired %v", npmDoc.Name(), npmDoc.Expired(ref))
	}
	checkTarget(t, npmDoc, npmTarget, 2121, "160677eb6e1c7083c89b166b20f8fe4e837fb71181506aff1991b80b89184f7d",
		filepath.Join(dir, "targets", npm, "160677eb6e1c7083c89b166b20f8fe4e837fb71181506aff1991b80b89184f7d.keys.json"))
	// The npm document is not valid as any other role.
	if _, err := OpenTargets(readFile(t, dir, "8.registry.npmjs.org.json"), topLevel(t, root, RoleTargets)); !errors.Is(err, verify.ErrThreshold) {
		t.Errorf("npm document opened with the top-level targets keys: %v", err)
	}
}

func TestInteropPythonTUF(t *testing.T) {
	dir := interopSet(t, "python-tuf", "4abccdcf2ea89f10e92628d4def074257c461af9")

	t.Run("repository", func(t *testing.T) {
		md := filepath.Join(dir, "repository_data", "repository", "metadata")
		root := rootChain(t, md, 1, 1, versionedRoot)
		if rk := topLevel(t, root, RoleRoot); rk.Keys[rk.KeyIDs[0]].KeyType() != "rsa" {
			t.Errorf("root key type %s, want rsa", rk.Keys[rk.KeyIDs[0]].KeyType())
		}
		if !bytes.Equal(readFile(t, md, "root.json"), root.Bytes()) {
			t.Error("root.json differs from 1.root.json")
		}
		ts, err := OpenTimestamp(readFile(t, md, "timestamp.json"), root)
		if err != nil {
			t.Fatal(err)
		}
		checkVersion(t, "timestamp", ts, 1)
		snap := openChecked(t, "snapshot", ts.Snapshot(), readFile(t, md, "snapshot.json"), func(b []byte) (*Snapshot, error) { return OpenSnapshot(b, root) })
		tm, _ := snap.Role(RoleTargets)
		targets := openChecked(t, "targets", tm, readFile(t, md, "targets.json"), func(b []byte) (*Targets, error) {
			return OpenTargets(b, topLevel(t, root, RoleTargets))
		})
		files := filepath.Join(dir, "repository_data", "repository", "targets")
		tf := checkTarget(t, targets, "file1.txt", 31, "65b8c67f51c993d898250f40aa57a317d854900b3a04895464313e48785440da", filepath.Join(files, "file1.txt"))
		if len(tf.Hashes) != 2 || !bytes.Contains(tf.Custom, []byte(`"file_permissions"`)) {
			t.Errorf("file1.txt: hashes %v, custom %s", tf.Hashes, tf.Custom)
		}
		checkTarget(t, targets, "file2.txt", 39, "452ce8308500d83ef44248d8e6062359211992fd837ea9e370e561efb1a4ca99", filepath.Join(files, "file2.txt"))
		if _, ok := lookup(t, targets, "file3.txt"); ok {
			t.Error("file3.txt listed by the top-level targets")
		}

		c := child(t, targets.Delegations(), "file3.txt", "role1")
		rm, _ := snap.Role("role1")
		role1 := openChecked(t, "role1", rm, readFile(t, md, "role1.json"), func(b []byte) (*Targets, error) { return OpenTargets(b, c.RoleKeys) })
		checkTarget(t, role1, "file3.txt", 28, "141f740f53781d1ca54b8a50af22cbf74e44c21a998fa2a8a05aaac2c002886b", filepath.Join(files, "file3.txt"))
		if len(role1.Delegations().Children("file3.txt")) != 0 {
			t.Error("role2 (paths: []) is trusted for file3.txt")
		}
		rm, _ = snap.Role("role2")
		role2 := openChecked(t, "role2", rm, readFile(t, md, "role2.json"), func(b []byte) (*Targets, error) {
			return OpenTargets(b, roleKeysByName(t, role1.Delegations(), "role2"))
		})
		if role2.Len() != 0 || role2.Delegations() != nil {
			t.Errorf("role2: %d targets, delegations %v", role2.Len(), role2.Delegations())
		}
		// The client's copy of role2 has an empty delegations object and
		// another (valid) signature.
		client := filepath.Join(dir, "repository_data", "client", "test_repository1", "metadata", "current", "role2.json")
		role2c, err := OpenTargets(readFile(t, client), roleKeysByName(t, role1.Delegations(), "role2"))
		if err != nil {
			t.Fatal(err)
		}
		if d := role2c.Delegations(); d == nil || len(d.Roles()) != 0 || len(d.Keys()) != 0 {
			t.Errorf("client role2 delegations: %+v", d)
		}
	})

	t.Run("ed25519", func(t *testing.T) {
		md := filepath.Join(dir, "generated_data", "ed25519_metadata")
		root, err := OpenRoot(readFile(t, md, "root_with_ed25519.json"), nil)
		if err != nil {
			t.Fatal(err)
		}
		ts, err := OpenTimestamp(readFile(t, md, "timestamp_with_ed25519.json"), root)
		if err != nil {
			t.Fatal(err)
		}
		snap := openChecked(t, "snapshot", ts.Snapshot(), readFile(t, md, "snapshot_with_ed25519.json"), func(b []byte) (*Snapshot, error) { return OpenSnapshot(b, root) })
		tm, _ := snap.Role(RoleTargets)
		targets := openChecked(t, "targets", tm, readFile(t, md, "targets_with_ed25519.json"), func(b []byte) (*Targets, error) {
			return OpenTargets(b, topLevel(t, root, RoleTargets))
		})
		for _, doc := range []document{root, ts, snap, targets} {
			checkVersion(t, "ed25519 set", doc, 1)
		}
	})

	t.Run("fishy_rolenames", func(t *testing.T) {
		md := filepath.Join(dir, "repository_data", "fishy_rolenames", "metadata")
		root := rootChain(t, md, 1, 1, versionedRoot)
		ts, err := OpenTimestamp(readFile(t, md, "timestamp.json"), root)
		if err != nil {
			t.Fatal(err)
		}
		checkVersion(t, "timestamp", ts, 2)
		snap := openChecked(t, "snapshot", ts.Snapshot(), readFile(t, md, "2.snapshot.json"), func(b []byte) (*Snapshot, error) { return OpenSnapshot(b, root) })
		targets := openChecked(t, "targets", MetaFile{Length: -1}, readFile(t, md, "1.targets.json"), func(b []byte) (*Targets, error) {
			return OpenTargets(b, topLevel(t, root, RoleTargets))
		})
		var names []string
		for _, c := range targets.Delegations().Children("any") {
			names = append(names, c.Name)
		}
		if want := []string{"../a", ".", "ö"}; !slices.Equal(names, want) {
			t.Fatalf("delegated roles %q, want %q", names, want)
		}
		for _, tt := range []struct{ role, enc, url, file string }{
			{"../a", "%2E%2E%2Fa", "..%2Fa", ""},
			{".", "%2E", ".", "1...json"},
			{"ö", "%C3%B6", "%C3%B6", "1.ö.json"},
		} {
			enc, err := EncodeRoleName(tt.role)
			if err != nil || enc != tt.enc {
				t.Errorf("EncodeRoleName(%q) = %q, %v, want %q", tt.role, enc, err, tt.enc)
			}
			checkFileName(t, enc)
			if dec, err := DecodeRoleName(enc); err != nil || dec != tt.role {
				t.Errorf("DecodeRoleName(%q) = %q, %v", enc, dec, err)
			}
			// python-tuf's request names: "1." + URL-escaped name + ".json".
			if got := RoleURLName(tt.role); got != tt.url {
				t.Errorf("RoleURLName(%q) = %q, want %q", tt.role, got, tt.url)
			}
			if tt.file == "" {
				continue
			}
			m, ok := snap.Role(tt.role)
			if !ok {
				t.Fatalf("snapshot does not list %q", tt.role)
			}
			c := child(t, targets.Delegations(), "any", tt.role)
			doc := openChecked(t, tt.role, m, readFile(t, md, tt.file), func(b []byte) (*Targets, error) { return OpenTargets(b, c.RoleKeys) })
			if doc.Name() != tt.role || doc.Len() != 0 {
				t.Errorf("%q: name %q, %d targets", tt.role, doc.Name(), doc.Len())
			}
		}
		// A role name never reaches a path: "../a" cannot point at the
		// decoy outside metadata/.
		if strings.Contains(RoleURLName("../a"), "/") {
			t.Error("RoleURLName keeps the separator")
		}
	})
}

func TestInteropGoTUF(t *testing.T) {
	dir := interopSet(t, "go-tuf", "0b10964bd6da223f2633082a6714223331b5cbcc")

	t.Run("served", func(t *testing.T) {
		md := filepath.Join(dir, "served-internal-repository_data")
		root := rootChain(t, md, 1, 1, versionedRoot)
		if want := time.Date(2030, 8, 15, 14, 30, 45, 100, time.UTC); !root.Expires().Equal(want) || root.SpecVersion() != "1.0.31" {
			t.Errorf("root expires %v, spec_version %q", root.Expires(), root.SpecVersion())
		}
		ts, err := OpenTimestamp(readFile(t, md, "timestamp.json"), root)
		if err != nil {
			t.Fatal(err)
		}
		snap := openChecked(t, "snapshot", ts.Snapshot(), readFile(t, md, "1.snapshot.json"), func(b []byte) (*Snapshot, error) { return OpenSnapshot(b, root) })
		tm, _ := snap.Role(RoleTargets)
		targets := openChecked(t, "targets", tm, readFile(t, md, "1.targets.json"), func(b []byte) (*Targets, error) {
			return OpenTargets(b, topLevel(t, root, RoleTargets))
		})
		files := filepath.Join(md, "targets")
		checkTarget(t, targets, "file1.txt", 31, "65b8c67f51c993d898250f40aa57a317d854900b3a04895464313e48785440da",
			filepath.Join(files, "65b8c67f51c993d898250f40aa57a317d854900b3a04895464313e48785440da.file1.txt"))
		if _, ok := lookup(t, targets, "file2.txt"); ok {
			t.Error("file2.txt is listed")
		}
		c := child(t, targets.Delegations(), "file3.txt", "role1")
		rm, _ := snap.Role("role1")
		role1 := openChecked(t, "role1", rm, readFile(t, md, "1.role1.json"), func(b []byte) (*Targets, error) { return OpenTargets(b, c.RoleKeys) })
		checkTarget(t, role1, "file3.txt", 28, "141f740f53781d1ca54b8a50af22cbf74e44c21a998fa2a8a05aaac2c002886b",
			filepath.Join(files, "141f740f53781d1ca54b8a50af22cbf74e44c21a998fa2a8a05aaac2c002886b.file3.txt"))
		rm, _ = snap.Role("role2")
		role2 := openChecked(t, "role2", rm, readFile(t, md, "1.role2.json"), func(b []byte) (*Targets, error) {
			return OpenTargets(b, roleKeysByName(t, role1.Delegations(), "role2"))
		})
		for _, doc := range []document{ts, snap, targets, role1, role2} {
			checkVersion(t, "served set", doc, 1)
		}
	})

	t.Run("bad 1.root.json", func(t *testing.T) {
		data := readFile(t, dir, "internal", "testutils", "repository_data", "repository", "metadata", "1.root.json")
		r, err := OpenRoot(data, nil)
		var e *Error
		if r != nil || !errors.Is(err, verify.ErrThreshold) || !errors.As(err, &e) || e.Role != RoleRoot || e.Version != 1 {
			t.Errorf("OpenRoot = %v, %v; want ErrThreshold for root v1", r, err)
		}
	})

	t.Run("multirepo", func(t *testing.T) {
		repo := filepath.Join(dir, "examples", "multirepo", "repository")
		md := filepath.Join(repo, "metadata")
		root, err := OpenRoot(readFile(t, dir, "examples", "multirepo", "client", "root.json"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(root.Bytes(), readFile(t, md, "1.root.json")) {
			t.Error("the client's root differs from 1.root.json")
		}
		ts, err := OpenTimestamp(readFile(t, md, "timestamp.json"), root)
		if err != nil {
			t.Fatal(err)
		}
		snap := openChecked(t, "snapshot", ts.Snapshot(), readFile(t, md, "1.snapshot.json"), func(b []byte) (*Snapshot, error) { return OpenSnapshot(b, root) })
		tm, _ := snap.Role(RoleTargets)
		targets := openChecked(t, "targets", tm, readFile(t, md, "1.targets.json"), func(b []byte) (*Targets, error) {
			return OpenTargets(b, topLevel(t, root, RoleTargets))
		})
		const sigstoreRoot = "e2a930b2d1d4053dd56e8faf66fd113658545d522e35d222ccf58fea87ccccf4"
		for _, tt := range []struct {
			path   string
			length int64
			sha    string
		}{
			{"map.json", 596, "562fc7cffe872542a430342995998546e3949dc3acbe7d37668dc76d657032ff"},
			{"sigstore-tuf-root/root.json", 6388, sigstoreRoot},
			{"staging/root.json", 6388, sigstoreRoot},
		} {
			checkTarget(t, targets, tt.path, tt.length, tt.sha, filepath.Join(repo, "targets", filepath.FromSlash(tt.path)))
		}
		if targets.Len() != 3 {
			t.Errorf("%d targets, want 3", targets.Len())
		}
	})
}

func TestInteropFioctl(t *testing.T) {
	dir := interopSet(t, "foundriesio-fioctl", "41702a4a217310ceb58b16d92b62714a2b6c648a")
	ref := time.Date(2026, 7, 22, 0, 0, 0, 0, time.UTC)
	root := rootChain(t, dir, 1, 5, versionedRoot)
	if !bytes.Equal(readFile(t, dir, "root.json"), root.Bytes()) {
		t.Error("root.json differs from 5.root.json")
	}
	if root.ConsistentSnapshot() || root.Expired(ref) {
		t.Errorf("root v5: consistent_snapshot %v, expired %v", root.ConsistentSnapshot(), root.Expired(ref))
	}
	ts := interopTimestamp(t, dir, root, 214, ref, time.Date(2026, 7, 29, 0, 0, 0, 0, time.UTC))
	sm := ts.Snapshot()
	if _, ok := sm.Hashes["sha512"]; !ok || len(sm.Hashes) != 1 || sm.Length < 0 {
		t.Errorf("snapshot meta %+v, want length and sha512 only", sm)
	}
	snap := openChecked(t, "snapshot", sm, readFile(t, dir, "snapshot.json"), func(b []byte) (*Snapshot, error) { return OpenSnapshot(b, root) })
	checkVersion(t, "snapshot", snap, 15)
	tm, _ := snap.Role(RoleTargets)
	targets := openChecked(t, "targets", tm, readFile(t, dir, "targets.json"), func(b []byte) (*Targets, error) {
		return OpenTargets(b, topLevel(t, root, RoleTargets))
	})
	checkVersion(t, "targets", targets, 15)
	if targets.Len() != 64 {
		t.Errorf("%d targets, want 64", targets.Len())
	}
	tf, ok := lookup(t, targets, "fioctl-windows-amd64.exe_v0.46")
	var custom struct{ Platform, Version, URI string }
	if !ok || tf.Length != 30901760 || len(tf.Hashes["sha512"]) != 64 || json.Unmarshal(tf.Custom, &custom) != nil ||
		custom.Platform != "windows/amd64" || custom.Version != "v0.46" || !strings.HasSuffix(custom.URI, "/v0.46/fioctl-windows-amd64.exe") {
		t.Errorf("fioctl-windows-amd64.exe_v0.46 = %+v (%+v)", tf, custom)
	}
}
