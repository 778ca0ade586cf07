package simulator

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Role names of the top-level roles, as the simulator's methods take them.
const (
	RoleRoot      = metadata.ROOT
	RoleTimestamp = metadata.TIMESTAMP
	RoleSnapshot  = metadata.SNAPSHOT
	RoleTargets   = metadata.TARGETS
)

// Options configures a Repo. The zero value is a useful repository: compact
// canonical JSON, no consistent snapshots, versions only in the meta maps.
type Options struct {
	// Now is the repository's fixed clock (default 2030-01-01T00:00:00Z). Expiries
	// default to Now plus one year for root and every targets role, seven
	// days for snapshot and one day for timestamp. Clients under test
	// should use the same reference time (Repo.Now).
	Now time.Time
	// ConsistentSnapshot sets consistent_snapshot in root and serves
	// metadata as <version>.<role>.json (timestamp stays timestamp.json)
	// and targets as <dir>/<sha256 hex>.<basename> (spec 5.5, 5.7).
	ConsistentSnapshot bool
	// Pretty serves metadata indented with one space per level (python-tuf
	// style) instead of compact canonical JSON. Signatures stay valid:
	// they cover the canonical form of "signed".
	Pretty bool
	// Seed namespaces the key derivation: the i-th key of a key set is
	// the ed25519 key whose seed is sha256(Seed + "/" + label + "/" + i),
	// where label is the role name (the name prefix for succinct bins).
	// Two repositories with the same Seed have the same keys.
	Seed string
	// SnapshotHashes adds length and sha256 of every targets role to the
	// snapshot's meta map; by default only versions are listed.
	SnapshotHashes bool
	// TimestampHashes adds length and sha256 of snapshot.json to the
	// timestamp's meta map.
	TimestampHashes bool
}

// DelegationOpts describes a delegation made by [Repo.Delegate].
type DelegationOpts struct {
	Paths            []string // glob patterns; "paths": [] when both lists are empty
	PathHashPrefixes []string // hex prefixes of sha256(target path)
	Terminating      bool
	Threshold        int // default 1
	Keys             int // number of new keys for a new role, default 1
}

type roleKind int

const (
	kindRoot roleKind = iota
	kindTimestamp
	kindSnapshot
	kindTargets
)

// keyring holds every key ever created for a key set, by stable index. A
// key set belongs to one role, or to all bins of a succinct delegation.
type keyring struct {
	label   string
	keys    []ed25519.PrivateKey
	active  []bool
	members []*role
}

// role is the simulator's book-keeping for one metadata file.
type role struct {
	name       string
	kind       roleKind
	delegators []string // "root" for top-level roles
	ring       *keyring
	dirty      bool
	signWith   []int // one-shot key override set by Sign; nil means the active keys

	// Guarded by Repo.mu: read by servers.
	published int64
	history   map[int64][]byte

	// Targets roles only: target contents as edited, and as last published.
	files    map[string][]byte
	pubFiles map[string][]byte
}

// Repo is an in-memory TUF repository. Create one per test with [New]. Its
// editing and publishing methods must be called from the test's goroutine
// (they report misuse with t.Fatalf); its servers may be used concurrently.
type Repo struct {
	t    testing.TB
	opts Options

	root      *metadata.Metadata[metadata.RootType]
	timestamp *metadata.Metadata[metadata.TimestampType]
	snapshot  *metadata.Metadata[metadata.SnapshotType]
	targets   map[string]*metadata.Metadata[metadata.TargetsType]

	prevRootSigners []int // root keys active when the previous root was published

	mu     sync.Mutex // guards roles (the map), role.published, role.history, byPath, byHash
	roles  map[string]*role
	byPath map[string][]byte // published target contents by target path
	byHash map[string][]byte // every published target content by hash-prefixed name

	defOnce sync.Once
	def     *Server // started by the first Serve/Server call, of any goroutine
}

// New builds a repository with root version 1 (one ed25519 key and threshold
// 1 for each top-level role), an empty top-level targets role, and publishes
// version 1 of every top-level role.
func New(t testing.TB, opts Options) *Repo {
	t.Helper()
	if opts.Now.IsZero() {
		opts.Now = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	now := opts.Now
	r := &Repo{
		t:         t,
		opts:      opts,
		root:      metadata.Root(now.AddDate(1, 0, 0)),
		timestamp: metadata.Timestamp(now.AddDate(0, 0, 1)),
		snapshot:  metadata.Snapshot(now.AddDate(0, 0, 7)),
		targets:   map[string]*metadata.Metadata[metadata.TargetsType]{RoleTargets: metadata.Targets(now.AddDate(1, 0, 0))},
		roles:     map[string]*role{},
		byPath:    map[string][]byte{},
		byHash:    map[string][]byte{},
	}
	r.root.Signed.ConsistentSnapshot = opts.ConsistentSnapshot
	for _, top := range []struct {
		name string
		kind roleKind
	}{{RoleRoot, kindRoot}, {RoleTimestamp, kindTimestamp}, {RoleSnapshot, kindSnapshot}, {RoleTargets, kindTargets}} {
		ro := r.newRole(top.name, top.kind, RoleRoot, &keyring{label: top.name})
		r.addKey(ro)
	}
	r.Publish()
	return r
}

// Now returns the repository's fixed clock.
func (r *Repo) Now() time.Time { return r.opts.Now }

func (r *Repo) newRole(name string, kind roleKind, delegator string, ring *keyring) *role {
	ro := &role{name: name, kind: kind, delegators: []string{delegator}, ring: ring, dirty: true, history: map[int64][]byte{}}
	if kind == kindTargets {
		ro.files = map[string][]byte{}
		ro.pubFiles = map[string][]byte{}
	}
	ring.members = append(ring.members, ro)
	r.mu.Lock()
	r.roles[name] = ro
	r.mu.Unlock()
	return ro
}

func (r *Repo) role(name string) *role {
	r.t.Helper()
	ro := r.roles[name]
	if ro == nil {
		r.t.Fatalf("simulator: no role %q", name)
	}
	return ro
}

func (r *Repo) targetsRole(name string) (*role, *metadata.Metadata[metadata.TargetsType]) {
	r.t.Helper()
	ro := r.role(name)
	if ro.kind != kindTargets {
		r.t.Fatalf("simulator: %q is not a targets role", name)
	}
	return ro, r.targets[name]
}

// touch marks every role signed by ro's key set, and their delegators, as
// changed.
func (r *Repo) touch(ro *role) {
	for _, m := range ro.ring.members {
		m.dirty = true
		for _, d := range m.delegators {
			r.roles[d].dirty = true
		}
	}
}

// addKey derives the next key of ro's key set and lists it in every
// delegator of the set's roles.
func (r *Repo) addKey(ro *role) int {
	r.t.Helper()
	ring := ro.ring
	i := len(ring.keys)
	seed := sha256.Sum256([]byte(r.opts.Seed + "/" + ring.label + "/" + strconv.Itoa(i)))
	priv := ed25519.NewKeyFromSeed(seed[:])
	ring.keys = append(ring.keys, priv)
	ring.active = append(ring.active, true)
	for _, m := range ring.members {
		for _, d := range m.delegators {
			r.trust(d, m.name, priv.Public().(ed25519.PublicKey))
		}
	}
	r.touch(ro)
	return i
}

// trust lists pub for role name in delegator's metadata.
func (r *Repo) trust(delegator, name string, pub ed25519.PublicKey) {
	r.t.Helper()
	key, err := metadata.KeyFromPublicKey(pub)
	if err != nil {
		r.t.Fatalf("simulator: key: %v", err)
	}
	if delegator == RoleRoot {
		err = r.root.Signed.AddKey(key, name)
	} else {
		err = r.targets[delegator].Signed.AddKey(key, name)
	}
	if err != nil {
		r.t.Fatalf("simulator: adding key for %q in %q: %v", name, delegator, err)
	}
}

// AddKey creates a new key for role (top-level or delegated; for a succinct
// bin, the key is shared by all bins of its delegation), lists it in the
// role's delegators and returns its index. The role is re-signed, with the
// new key too, at the next Publish.
func (r *Repo) AddKey(role string) int {
	r.t.Helper()
	return r.addKey(r.role(role))
}

// RemoveKey revokes key index i of role in every delegator. Indexes are
// stable: the other keys keep theirs, and Key(role, i) still returns the
// removed key (to sign with a revoked key). When the root's own keys change,
// the next root is signed by the previous root's keys too (spec 5.3.4).
func (r *Repo) RemoveKey(role string, i int) {
	r.t.Helper()
	ro := r.role(role)
	if i < 0 || i >= len(ro.ring.keys) || !ro.ring.active[i] {
		r.t.Fatalf("simulator: role %q has no active key %d", role, i)
	}
	id := keyID(r.t, ro.ring.keys[i].Public().(ed25519.PublicKey))
	for _, m := range ro.ring.members {
		for _, d := range m.delegators {
			var err error
			if d == RoleRoot {
				err = r.root.Signed.RevokeKey(id, m.name)
			} else {
				err = r.targets[d].Signed.RevokeKey(id, m.name)
			}
			if err != nil {
				r.t.Fatalf("simulator: revoking key %d of %q in %q: %v", i, m.name, d, err)
			}
		}
	}
	ro.ring.active[i] = false
	r.touch(ro)
}

// SetThreshold sets role's signature threshold in every delegator.
func (r *Repo) SetThreshold(role string, n int) {
	r.t.Helper()
	ro := r.role(role)
	if n < 0 {
		r.t.Fatalf("simulator: negative threshold %d", n)
	}
	for _, d := range ro.delegators {
		if d == RoleRoot {
			r.root.Signed.Roles[role].Threshold = n
		} else if dl := r.targets[d].Signed.Delegations; dl.SuccinctRoles != nil {
			dl.SuccinctRoles.Threshold = n
		} else {
			for i := range dl.Roles {
				if dl.Roles[i].Name == role {
					dl.Roles[i].Threshold = n
				}
			}
		}
		r.roles[d].dirty = true
	}
}

// SetExpires sets role's expiry.
func (r *Repo) SetExpires(role string, t time.Time) {
	r.t.Helper()
	ro := r.role(role)
	switch ro.kind {
	case kindRoot:
		r.root.Signed.Expires = t
	case kindTimestamp:
		r.timestamp.Signed.Expires = t
	case kindSnapshot:
		r.snapshot.Signed.Expires = t
	default:
		r.targets[role].Signed.Expires = t
	}
	ro.dirty = true
}

// Root returns the editable root metadata and marks root as changed; with
// Timestamp, Snapshot and Targets it is the escape hatch for arbitrary
// edits. Publish bumps the version by one unless the edit changed it, and
// replaces the signatures.
func (r *Repo) Root() *metadata.Metadata[metadata.RootType] {
	r.roles[RoleRoot].dirty = true
	return r.root
}

// Timestamp returns the editable timestamp metadata and marks it changed.
func (r *Repo) Timestamp() *metadata.Metadata[metadata.TimestampType] {
	r.roles[RoleTimestamp].dirty = true
	return r.timestamp
}

// Snapshot returns the editable snapshot metadata and marks it changed.
func (r *Repo) Snapshot() *metadata.Metadata[metadata.SnapshotType] {
	r.roles[RoleSnapshot].dirty = true
	return r.snapshot
}

// Targets returns the editable metadata of a targets role (top-level or
// delegated) and marks it changed. Targets added here have no content to
// serve unless a Fault supplies one.
func (r *Repo) Targets(role string) *metadata.Metadata[metadata.TargetsType] {
	r.t.Helper()
	ro, m := r.targetsRole(role)
	ro.dirty = true
	return m
}

// AddTarget adds or replaces a target of the top-level targets role.
func (r *Repo) AddTarget(path string, data []byte, custom map[string]any) {
	r.t.Helper()
	r.AddDelegatedTarget(RoleTargets, path, data, custom)
}

// AddDelegatedTarget adds or replaces a target of any targets role. The
// entry lists length and sha256; custom, when not nil, becomes "custom".
// The path is used as given, so tests can publish hostile names.
func (r *Repo) AddDelegatedTarget(role, path string, data []byte, custom map[string]any) {
	r.t.Helper()
	ro, m := r.targetsRole(role)
	tf, err := metadata.TargetFile().FromBytes(path, data, "sha256")
	if err != nil {
		r.t.Fatalf("simulator: target %q: %v", path, err)
	}
	if custom != nil {
		raw, err := json.Marshal(custom)
		if err != nil {
			r.t.Fatalf("simulator: custom of %q: %v", path, err)
		}
		c := json.RawMessage(raw)
		tf.Custom = &c
	}
	m.Signed.Targets[path] = tf
	ro.files[path] = bytes.Clone(data)
	ro.dirty = true
}

// RemoveTarget removes a target from a targets role. In consistent-snapshot
// mode its hash-prefixed file stays available, as on a real repository.
func (r *Repo) RemoveTarget(role, path string) {
	r.t.Helper()
	ro, m := r.targetsRole(role)
	if _, ok := m.Signed.Targets[path]; !ok {
		r.t.Fatalf("simulator: role %q has no target %q", role, path)
	}
	delete(m.Signed.Targets, path)
	delete(ro.files, path)
	ro.dirty = true
}

// Delegate adds a delegation from the targets role delegator to name, with
// d.Keys new keys (default 1) and threshold d.Threshold (default 1). If name
// is already a delegated role (a diamond), delegator trusts its existing
// keys and d.Keys must be 0.
func (r *Repo) Delegate(delegator, name string, d DelegationOpts) {
	r.t.Helper()
	pro, pm := r.targetsRole(delegator)
	existing := r.roles[name]
	if existing != nil && (existing.kind != kindTargets || existing.name == RoleTargets || len(existing.ring.members) > 1 || d.Keys != 0) {
		r.t.Fatalf("simulator: %q exists; only a delegated role with its own keys can be delegated again, with Keys 0", name)
	}
	if d.Threshold == 0 {
		d.Threshold = 1
	}
	dl := pm.Signed.Delegations
	if dl == nil {
		dl = &metadata.Delegations{Keys: map[string]*metadata.Key{}, Roles: []metadata.DelegatedRole{}}
		pm.Signed.Delegations = dl
	}
	if dl.SuccinctRoles != nil {
		r.t.Fatalf("simulator: %q already delegates to succinct roles (TAP 15 allows one kind)", delegator)
	}
	if slices.ContainsFunc(dl.Roles, func(x metadata.DelegatedRole) bool { return x.Name == name }) {
		r.t.Fatalf("simulator: %q already delegates to %q", delegator, name)
	}
	dr := metadata.DelegatedRole{
		Name:             name,
		KeyIDs:           []string{},
		Threshold:        d.Threshold,
		Terminating:      d.Terminating,
		Paths:            d.Paths,
		PathHashPrefixes: d.PathHashPrefixes,
	}
	if dr.Paths == nil && dr.PathHashPrefixes == nil {
		dr.Paths = []string{}
	}
	dl.Roles = append(dl.Roles, dr)
	pro.dirty = true

	if existing != nil {
		existing.delegators = append(existing.delegators, delegator)
		for i, k := range existing.ring.keys {
			if existing.ring.active[i] {
				r.trust(delegator, name, k.Public().(ed25519.PublicKey))
			}
		}
		return
	}
	if d.Keys == 0 {
		d.Keys = 1
	}
	r.targets[name] = metadata.Targets(r.opts.Now.AddDate(1, 0, 0))
	ro := r.newRole(name, kindTargets, delegator, &keyring{label: name})
	for range d.Keys {
		r.addKey(ro)
	}
}

// DelegateSuccinct makes delegator delegate to TAP 15 succinct hash bins:
// 2^bitLength roles named <namePrefix>-<hex>, the hex bin number zero-padded
// to the width of the largest, all signed by one shared key (threshold 1).
// bitLength is limited to 1..16 to keep repositories small.
func (r *Repo) DelegateSuccinct(delegator string, bitLength int, namePrefix string) {
	r.t.Helper()
	pro, pm := r.targetsRole(delegator)
	if bitLength < 1 || bitLength > 16 {
		r.t.Fatalf("simulator: bit length %d outside 1..16", bitLength)
	}
	if dl := pm.Signed.Delegations; dl != nil && (len(dl.Roles) > 0 || dl.SuccinctRoles != nil) {
		r.t.Fatalf("simulator: %q already delegates (TAP 15 allows one kind)", delegator)
	}
	sr := &metadata.SuccinctRoles{KeyIDs: []string{}, Threshold: 1, BitLength: bitLength, NamePrefix: namePrefix}
	pm.Signed.Delegations = &metadata.Delegations{Keys: map[string]*metadata.Key{}, SuccinctRoles: sr}
	pro.dirty = true
	ring := &keyring{label: namePrefix}
	for _, name := range sr.GetRoles() {
		if r.roles[name] != nil {
			r.t.Fatalf("simulator: bin %q exists already", name)
		}
		r.targets[name] = metadata.Targets(r.opts.Now.AddDate(1, 0, 0))
		r.newRole(name, kindTargets, delegator, ring)
	}
	r.addKey(ring.members[0])
}

// SuccinctBin returns the name of the bin of delegator's succinct
// delegation that is responsible for target path.
func (r *Repo) SuccinctBin(delegator, path string) string {
	r.t.Helper()
	_, pm := r.targetsRole(delegator)
	if pm.Signed.Delegations == nil || pm.Signed.Delegations.SuccinctRoles == nil {
		r.t.Fatalf("simulator: %q has no succinct delegation", delegator)
	}
	return pm.Signed.Delegations.SuccinctRoles.GetRolesForTarget(path)[0].Name
}

// Sign makes the next Publish sign role with exactly the given key indexes
// (any key ever created for it, revoked ones included; none gives an empty
// signature list), instead of its active keys, and marks role changed. It
// applies once. For root it also replaces the previous root's keys, so a
// test controls both halves of spec 5.3.4.
func (r *Repo) Sign(role string, keyIndexes ...int) {
	r.t.Helper()
	ro := r.role(role)
	for _, i := range keyIndexes {
		if i < 0 || i >= len(ro.ring.keys) {
			r.t.Fatalf("simulator: role %q has no key %d", role, i)
		}
	}
	ro.signWith = append([]int{}, keyIndexes...)
	ro.dirty = true
}

// PublishRoot marks root as changed and publishes, so the next root version
// appears even without edits.
func (r *Repo) PublishRoot() {
	r.t.Helper()
	r.roles[RoleRoot].dirty = true
	r.Publish()
}

// Publish signs and serves a new version of every role changed since the
// last Publish: root first (signed by its active keys and those of the
// previous root), then targets roles, then snapshot (whenever a targets role
// changed) and timestamp (whenever snapshot changed). Every published
// version stays available for replay.
func (r *Repo) Publish() {
	r.t.Helper()
	if ro := r.roles[RoleRoot]; ro.dirty {
		active := activeIndexes(ro.ring)
		publishMeta(r, ro, r.root, &r.root.Signed.Version, union(active, r.prevRootSigners))
		r.prevRootSigners = active
	}
	var changed []string
	for name, ro := range r.roles {
		if ro.kind == kindTargets && ro.dirty {
			changed = append(changed, name)
		}
	}
	sort.Strings(changed)
	for _, name := range changed {
		ro := r.roles[name]
		data := publishMeta(r, ro, r.targets[name], &r.targets[name].Signed.Version, activeIndexes(ro.ring))
		r.publishFiles(ro)
		r.snapshot.Signed.Meta[name+".json"] = metaFile(ro.published, data, r.opts.SnapshotHashes)
		r.roles[RoleSnapshot].dirty = true
	}
	if ro := r.roles[RoleSnapshot]; ro.dirty {
		data := publishMeta(r, ro, r.snapshot, &r.snapshot.Signed.Version, activeIndexes(ro.ring))
		r.timestamp.Signed.Meta["snapshot.json"] = metaFile(ro.published, data, r.opts.TimestampHashes)
		r.roles[RoleTimestamp].dirty = true
	}
	if ro := r.roles[RoleTimestamp]; ro.dirty {
		publishMeta(r, ro, r.timestamp, &r.timestamp.Signed.Version, activeIndexes(ro.ring))
	}
}

// publishMeta bumps the version unless an edit set it, signs with the keys
// at indexes signers (or those chosen with Sign) and stores the bytes.
func publishMeta[T metadata.Roles](r *Repo, ro *role, m *metadata.Metadata[T], version *int64, signers []int) []byte {
	r.t.Helper()
	if *version == ro.published {
		*version = ro.published + 1
	}
	idx := signers
	if ro.signWith != nil {
		idx = ro.signWith
	}
	keys := make([]ed25519.PrivateKey, len(idx))
	for j, i := range idx {
		keys[j] = ro.ring.keys[i]
	}
	data := Seal(r.t, m, r.opts.Pretty, keys...)
	r.mu.Lock()
	ro.history[*version] = data
	ro.published = *version
	r.mu.Unlock()
	ro.dirty = false
	ro.signWith = nil
	return data
}

func (r *Repo) publishFiles(ro *role) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for p := range ro.pubFiles {
		if _, ok := ro.files[p]; !ok {
			delete(r.byPath, p)
		}
	}
	for p, data := range ro.files {
		r.byPath[p] = data
		r.byHash[hashedName(p, data)] = data
	}
	ro.pubFiles = maps.Clone(ro.files)
}

func metaFile(version int64, data []byte, withHashes bool) *metadata.MetaFiles {
	mf := &metadata.MetaFiles{Version: version}
	if withHashes {
		sum := sha256.Sum256(data)
		mf.Length = int64(len(data))
		mf.Hashes = metadata.Hashes{"sha256": sum[:]}
	}
	return mf
}

func activeIndexes(ring *keyring) []int {
	var idx []int
	for i, a := range ring.active {
		if a {
			idx = append(idx, i)
		}
	}
	return idx
}

func union(a, b []int) []int {
	u := append([]int{}, a...)
	for _, x := range b {
		if !slices.Contains(u, x) {
			u = append(u, x)
		}
	}
	return u
}

// hashedName is the consistent-snapshot name of a target (spec 5.7.3):
// <dir>/<sha256 hex>.<basename>.
func hashedName(path string, data []byte) string {
	sum := sha256.Sum256(data)
	h := hex.EncodeToString(sum[:])
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[:i+1] + h + "." + path[i+1:]
	}
	return h + "." + path
}

// TrustedRoot returns root version 1 as served: the root a client embeds.
func (r *Repo) TrustedRoot() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.roles[RoleRoot].history[1])
}

// Version returns the last published version of role.
func (r *Repo) Version(role string) int64 {
	r.t.Helper()
	return r.role(role).published
}

// Key returns key index i of role's key set, active or revoked.
func (r *Repo) Key(role string, i int) ed25519.PrivateKey {
	r.t.Helper()
	ro := r.role(role)
	if i < 0 || i >= len(ro.ring.keys) {
		r.t.Fatalf("simulator: role %q has no key %d", role, i)
	}
	return ro.ring.keys[i]
}

// KeyID returns the TUF key ID of Key(role, i).
func (r *Repo) KeyID(role string, i int) string {
	r.t.Helper()
	return keyID(r.t, r.Key(role, i).Public().(ed25519.PublicKey))
}

// Bytes returns what a server without faults sends for a file name, the
// name as on the wire under the metadata or targets URL: "timestamp.json",
// "2.root.json", "targets/app.bin", "targets/<sha256>.app.bin". An unknown
// name fails the test.
func (r *Repo) Bytes(name string) []byte {
	r.t.Helper()
	rest, target := strings.CutPrefix(name, "targets/")
	if !target {
		rest = name
	}
	data, ok := r.lookup(rest, target)
	if !ok {
		r.t.Fatalf("simulator: nothing is served as %q", name)
	}
	return bytes.Clone(data)
}

// TargetName returns the wire name ("targets/...") of the published content
// of target path: the path itself, or its hash-prefixed form in
// consistent-snapshot mode. Use it to set faults on target downloads.
func (r *Repo) TargetName(path string) string {
	r.t.Helper()
	r.mu.Lock()
	data, ok := r.byPath[path]
	r.mu.Unlock()
	if !ok {
		r.t.Fatalf("simulator: target %q is not published", path)
	}
	if r.opts.ConsistentSnapshot {
		return "targets/" + hashedName(path, data)
	}
	return "targets/" + path
}

// lookup returns the served bytes of a metadata file name, or of a target
// name relative to the targets URL.
func (r *Repo) lookup(name string, target bool) ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if target {
		var data []byte
		var ok bool
		if r.opts.ConsistentSnapshot {
			data, ok = r.byHash[name]
		} else {
			data, ok = r.byPath[name]
		}
		return data, ok
	}
	ro, v := r.resolveLocked(name)
	if ro == nil {
		return nil, false
	}
	if v == 0 {
		v = ro.published
	}
	data, ok := ro.history[v]
	return data, ok
}

// oldVersion returns version v of the role served under metadata name.
func (r *Repo) oldVersion(name string, v int64) ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ro, _ := r.resolveLocked(name)
	if ro == nil {
		return nil, false
	}
	data, ok := ro.history[v]
	return data, ok
}

// resolveLocked maps a metadata file name to its role and version (0 for
// the latest). Without consistent snapshots <role>.json is served for every
// role and <v>.root.json for every root; with them <v>.<role>.json for every
// role but timestamp, which is timestamp.json only.
func (r *Repo) resolveLocked(name string) (*role, int64) {
	base, ok := strings.CutSuffix(name, ".json")
	if !ok {
		return nil, 0
	}
	if !r.opts.ConsistentSnapshot {
		if ro := r.roles[base]; ro != nil {
			return ro, 0
		}
		if v, rest, ok := splitVersion(base); ok && rest == RoleRoot {
			return r.roles[RoleRoot], v
		}
		return nil, 0
	}
	if base == RoleTimestamp {
		return r.roles[RoleTimestamp], 0
	}
	if v, rest, ok := splitVersion(base); ok {
		if ro := r.roles[rest]; ro != nil && ro.kind != kindTimestamp {
			return ro, v
		}
	}
	return nil, 0
}

// splitVersion splits "<v>.<rest>" with v a positive decimal integer
// without leading zeros.
func splitVersion(base string) (int64, string, bool) {
	num, rest, ok := strings.Cut(base, ".")
	if !ok || num == "" || num[0] == '0' || strings.TrimLeft(num, "0123456789") != "" {
		return 0, "", false
	}
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, "", false
	}
	return v, rest, true
}
