package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latchsec/latch/metadata"
)

// Target is a verified target: what the trusted metadata says of one target
// path. Only a client makes one, so a Target always comes from verified
// metadata; the download methods verify bytes against it.
type Target struct {
	tf    metadata.TargetFile
	role  string
	chain []RoleStatus
	// named, if not nil, are the hashes that name the file on the mirrors
	// of consistent-snapshot repositories, where they differ from tf's: a
	// target agreed by several repositories (Multi) is verified against the
	// hashes of all of them but fetched under one repository's names.
	named map[string][]byte
}

// Path is the target path (spec §4.5 TARGETPATH).
func (t *Target) Path() string { return t.tf.Path }

// Length is the signed length in bytes.
func (t *Target) Length() int64 { return t.tf.Length }

// Hashes returns a copy of the signed hashes (algorithm to raw digest).
func (t *Target) Hashes() map[string][]byte {
	out := make(map[string][]byte, len(t.tf.Hashes))
	for k, v := range t.tf.Hashes {
		out[k] = slices.Clone(v)
	}
	return out
}

// Custom returns a copy of the signed "custom" object, nil if absent.
func (t *Target) Custom() json.RawMessage { return slices.Clone(t.tf.Custom) }

// Role is the targets role whose metadata listed the target.
func (t *Target) Role() string { return t.role }

// Chain describes each role on the delegation path that led to the target,
// from the top-level targets role down to Role, with versions and expiries.
func (t *Target) Chain() []RoleStatus { return slices.Clone(t.chain) }

// RoleStatus is what a lookup trusted of one role.
type RoleStatus struct {
	Role    string
	Version int64
	Expires time.Time
	// Stale reports that the role was expired at the time of the lookup. The
	// online client never returns stale roles (it fails with ErrExpired); the
	// offline view does, and says so here.
	Stale bool
}

// Target looks up a target path in the trusted metadata, walking
// delegations as spec §5.6.7 prescribes and fetching delegated roles as
// needed. It needs a successful Refresh first (ErrNotRefreshed), and it
// refuses metadata that has expired since (ErrExpired).
func (c *Client) Target(ctx context.Context, path string) (*Target, error) {
	if c.closed.Load() {
		return nil, &TargetError{Path: path, Err: ErrClosed}
	}
	set := c.trusted.Load()
	if !set.refreshed {
		return nil, &TargetError{Path: path, Err: ErrNotRefreshed}
	}
	now := c.opts.clock().UTC()
	for _, d := range []struct {
		role    string
		version int64
		expires time.Time
	}{
		{metadata.RoleRoot, set.root.Version(), set.root.Expires()},
		{metadata.RoleTimestamp, set.timestamp.Version(), set.timestamp.Expires()},
		{metadata.RoleSnapshot, set.snapshot.Version(), set.snapshot.Expires()},
	} {
		if err := expired(d.role, d.version, d.expires, now); err != nil {
			return nil, &TargetError{Path: path, Err: err}
		}
	}
	if t := c.found(set, path); t != nil && t.fresh(now) {
		return t, nil
	}
	t, err := c.walk(path, set, now, func(v visit) (*metadata.Targets, error) {
		return c.delegated(ctx, set, v, now)
	})
	if err != nil {
		return nil, &TargetError{Path: path, Err: err}
	}
	for _, r := range t.chain {
		if r.Stale {
			return nil, &TargetError{Path: path, Err: &ExpiredError{Role: r.Role, Version: r.Version, Expires: r.Expires, Now: now}}
		}
	}
	c.remember(set, path, t)
	return t, nil
}

// fresh reports whether no role on t's chain is expired at now.
func (t *Target) fresh(now time.Time) bool {
	for _, r := range t.chain {
		if !r.Expires.After(now) {
			return false
		}
	}
	return true
}

// foundTargets are the targets found with one trusted set. A *Target is
// immutable and what a lookup returns depends only on the set (its
// documents, and the delegated roles its snapshot lists, verified along
// the path), so a lookup that repeats one returns it again, once its
// chain is checked for expiry. A set that a refresh builds starts with
// none: nothing found under keys it may have dropped is used again.
//
// It is a hash table of found targets, read and filled without locks,
// that doubles when half full, up to maxFound slots: a path that finds no
// free slot among its first few, or is found while the table grows, is
// not remembered, and pays the walk each time.
type foundTargets struct {
	set   *trustedSet
	seed  maphash.Seed
	table atomic.Pointer[foundTable]
	grow  sync.Mutex // held while a larger table is filled
}

type foundTable struct {
	slots []atomic.Pointer[Target]
	// hashes[i] is the hash of the path in slots[i], set after it: a
	// probe passes over other paths without reading their targets.
	hashes []atomic.Uint64
	used   atomic.Int64
}

const (
	// minFound is small: a new process that looks up a few names fills
	// no more memory than they need (a fresh page costs a page fault).
	minFound   = 1 << 5
	maxFound   = 1 << 16 // at most 65,536 slots: 32,768 targets (a few hundred bytes each) per set
	foundProbe = 8
)

func newFoundTable(n int) *foundTable {
	return &foundTable{slots: make([]atomic.Pointer[Target], n), hashes: make([]atomic.Uint64, n)}
}

// found returns the target found for path with set, nil if none.
func (c *Client) found(set *trustedSet, path string) *Target {
	f := c.foundTargets.Load()
	if f == nil || f.set != set {
		return nil
	}
	tab := f.table.Load()
	h := maphash.String(f.seed, path)
	mask := uint64(len(tab.slots) - 1)
	for d := range uint64(foundProbe) {
		i := (h + d) & mask
		switch tab.hashes[i].Load() {
		case 0:
			return nil
		case h:
			if t := tab.slots[i].Load(); t.tf.Path == path {
				return t
			}
		}
	}
	return nil
}

// remember keeps t as the target found for path with set.
func (c *Client) remember(set *trustedSet, path string, t *Target) {
	f := c.foundTargets.Load()
	if f == nil || f.set != set {
		next := &foundTargets{set: set, seed: maphash.MakeSeed()}
		next.table.Store(newFoundTable(minFound))
		if !c.foundTargets.CompareAndSwap(f, next) {
			return
		}
		f = next
	}
	tab := f.table.Load()
	if tab.insert(maphash.String(f.seed, path), t) && 2*tab.used.Load() > int64(len(tab.slots)) && len(tab.slots) < maxFound && f.grow.TryLock() {
		// Targets remembered in tab while it is copied may be lost.
		if f.table.Load() == tab {
			next := newFoundTable(2 * len(tab.slots))
			for i := range tab.slots {
				if t := tab.slots[i].Load(); t != nil {
					next.insert(maphash.String(f.seed, t.tf.Path), t)
				}
			}
			f.table.Store(next)
		}
		f.grow.Unlock()
	}
}

// insert puts t, whose path hashes to h, in a free slot; false if it found
// none, or t's path was there.
func (tab *foundTable) insert(h uint64, t *Target) bool {
	mask := uint64(len(tab.slots) - 1)
	for d := range uint64(foundProbe) {
		i := (h + d) & mask
		if tab.slots[i].CompareAndSwap(nil, t) {
			tab.hashes[i].Store(h)
			tab.used.Add(1)
			return true
		}
		if tab.slots[i].Load().tf.Path == t.tf.Path {
			return false
		}
	}
	return false
}

// visit is a targets role to search, with the delegator that led to it.
type visit struct {
	// keys of the role; of a succinct hash bin (TAP 15), its name alone
	// until the bin must be loaded (roleKeys).
	keys   metadata.RoleKeys
	parent *metadata.Targets
	depth  int // roles on the chain from the top-level targets role to parent
	// binOf is the target path that hashed to the bin, "" if the role is
	// not a bin.
	binOf string
}

// roleKeys returns the keys of v's role: for a bin, those parent's
// delegations assign to the bin binOf hashes to (made only when a bin must
// be loaded: most lookups find it in memory, and need its name alone).
func (v visit) roleKeys() (metadata.RoleKeys, error) {
	if v.binOf == "" {
		return v.keys, nil
	}
	ch := v.parent.Delegations().Children(v.binOf)
	if len(ch) != 1 || ch[0].Name != v.keys.Name {
		return metadata.RoleKeys{}, fmt.Errorf("internal error: %q is delegated to %d roles, not to bin %s", v.binOf, len(ch), v.keys.Name)
	}
	return ch[0].RoleKeys, nil
}

// roleWalk is the one walk over targets roles, shared by lookups and release
// resolution so that the cap on roles visited lives in one place: pre-order
// depth first from the top-level targets role (spec §5.6.7.2), each role at
// most once (§5.6.7.1), at most maxDelegations roles. Reaching the cap with
// a role still to visit is ErrDelegationLimit.
//
// A lookup visits one or two roles: a walk of a few keeps all it needs in
// its own arrays, and walks are reused (a new process pays a page fault
// for each fresh 4 KiB it allocates).
type roleWalk struct {
	top     *metadata.Targets
	now     time.Time
	limit   int
	stack   []visit
	visited int // roles
	// path is the chain of the role next returned last: depth first, the
	// chain of a role to visit is path's first depth entries when it is
	// popped, then the role.
	path []RoleStatus
	// The names of the roles visited: searched in turn while they fit in
	// names, then in a map.
	few  []string
	many map[string]bool
	// Room for the stack, path and names of a walk of a few roles.
	stackRoom [2]visit
	pathRoom  [2]RoleStatus
	names     [4]string
}

var walks = sync.Pool{New: func() any { return new(roleWalk) }}

// walkRoles starts a walk from the top-level targets of set; done ends it.
func (c *Client) walkRoles(set *trustedSet, now time.Time) *roleWalk {
	w := walks.Get().(*roleWalk)
	w.top, w.now, w.limit = set.targets, now, c.opts.maxDelegations
	w.stack = append(w.stackRoom[:0], visit{keys: metadata.RoleKeys{Name: metadata.RoleTargets}})
	w.path, w.few = w.pathRoom[:0], w.names[:0]
	return w
}

// done ends the walk: nothing it returned may be used after.
func (w *roleWalk) done() {
	*w = roleWalk{}
	walks.Put(w)
}

// seen reports whether the role name was visited.
func (w *roleWalk) seen(name string) bool {
	if w.many != nil {
		return w.many[name]
	}
	return slices.Contains(w.few, name)
}

// mark records that the role name is visited.
func (w *roleWalk) mark(name string) {
	w.visited++
	switch {
	case w.many != nil:
		w.many[name] = true
	case len(w.few) < len(w.names):
		w.few = append(w.few, name)
	default:
		w.many = make(map[string]bool, 2*len(w.names))
		for _, n := range append(w.few, name) {
			w.many[n] = true
		}
	}
}

// next returns the next role to search and the chain of roles from the
// top-level targets role down to it (valid until the next call); a nil
// document once no role is left. load returns a delegated role verified
// with the keys of the delegator on this path.
func (w *roleWalk) next(load func(visit) (*metadata.Targets, error)) (*metadata.Targets, []RoleStatus, error) {
	for len(w.stack) > 0 {
		v := w.stack[len(w.stack)-1]
		w.stack = w.stack[:len(w.stack)-1]
		if w.seen(v.keys.Name) {
			continue
		}
		if w.visited >= w.limit {
			return nil, nil, fmt.Errorf("%w: %d roles visited and more to visit", ErrDelegationLimit, w.visited)
		}
		w.mark(v.keys.Name)
		doc := w.top
		if v.parent != nil {
			var err error
			if doc, err = load(v); err != nil {
				return nil, nil, err
			}
		}
		w.path = append(w.path[:v.depth], RoleStatus{Role: doc.Name(), Version: doc.Version(), Expires: doc.Expires(), Stale: doc.Expired(w.now)})
		return doc, w.path, nil
	}
	return nil, nil, nil
}

// descend schedules roles, delegated by doc (which next returned last) and
// given in priority order, to be searched next, before the rest (pre-order:
// deep before wide).
func (w *roleWalk) descend(doc *metadata.Targets, roles []metadata.RoleKeys) {
	for i := len(roles) - 1; i >= 0; i-- {
		w.stack = append(w.stack, visit{keys: roles[i], parent: doc, depth: len(w.path)})
	}
}

// stop drops every role still to visit but those descend schedules next: a
// terminating delegation matched (§5.6.7.2.1).
func (w *roleWalk) stop() { w.stack = w.stack[:0] }

// walk is the search of spec §5.6.7.2 for path.
func (c *Client) walk(path string, set *trustedSet, now time.Time, load func(visit) (*metadata.Targets, error)) (*Target, error) {
	if set.targets == nil {
		return nil, ErrNotRefreshed
	}
	w := c.walkRoles(set, now)
	defer w.done()
	for {
		doc, chain, err := w.next(load)
		if err != nil {
			return nil, err
		}
		if doc == nil {
			return nil, &UnknownTargetError{Path: path, Visited: w.visited}
		}
		tf, ok, err := doc.Target(path)
		if err != nil {
			if doc == set.targets && set.cachedTargets != nil && errors.Is(err, metadata.ErrCacheCorrupt) {
				set.cachedTargets.broken.Store(true)
				c.log.Error("cached targets metadata corrupted; the next refresh fetches it again", "err", err)
			}
			return nil, err
		}
		if ok {
			return newTarget(tf, doc.Name(), chain), nil
		}
		d := doc.Delegations()
		if d == nil {
			continue
		}
		if s := d.Succinct(); s != nil { // TAP 15: the one bin path hashes to
			w.stack = append(w.stack, visit{keys: metadata.RoleKeys{Name: s.BinName(path)}, parent: doc, depth: len(w.path), binOf: path})
			continue
		}
		var room [4]metadata.RoleKeys // descend keeps none of them
		children := room[:0]
		for _, ch := range d.Children(path) {
			children = append(children, ch.RoleKeys)
			if ch.Terminating { // §5.6.7.2.1: nothing after a terminating match
				w.stop()
				break
			}
		}
		w.descend(doc, children)
	}
}

// newTarget returns the target tf that role lists, found through chain (a
// copy is kept): with the chain of a lookup of one or two roles, in one
// allocation.
func newTarget(tf metadata.TargetFile, role string, chain []RoleStatus) *Target {
	switch len(chain) {
	case 1:
		return targetIn(tf, role, chain, func(a *[1]RoleStatus) []RoleStatus { return a[:0] })
	case 2:
		return targetIn(tf, role, chain, func(a *[2]RoleStatus) []RoleStatus { return a[:0] })
	}
	return &Target{tf: tf, role: role, chain: slices.Clone(chain)}
}

// targetIn allocates a Target with room A for its chain (room returns it,
// empty).
func targetIn[A any](tf metadata.TargetFile, role string, chain []RoleStatus, room func(*A) []RoleStatus) *Target {
	r := new(struct {
		t     Target
		chain A
	})
	r.t = Target{tf: tf, role: role, chain: append(room(&r.chain), chain...)}
	return &r.t
}

// delegated returns the metadata of the delegated role v, verified with the
// keys its delegator on this path assigns: from this process's memory, else
// from the cache, else from the mirrors (spec §5.6.7.2 runs §5.6.1-5.6.6 for
// each delegated role).
func (c *Client) delegated(ctx context.Context, set *trustedSet, v visit, now time.Time) (*metadata.Targets, error) {
	role := v.keys.Name
	meta, ok := set.snapshot.Role(role)
	if !ok {
		return nil, fmt.Errorf("%w: snapshot v%d does not list %s.json", ErrNotListed, set.snapshot.Version(), role)
	}
	key := memoKey{snapshot: set.snapshot, parent: v.parent, role: role}
	c.memoMu.Lock()
	doc := c.memo[key]
	c.memoMu.Unlock()
	// An expired copy is fetched again: the repository may have signed
	// the listed version anew, and §5.6.5 checks the new file's expiry.
	if doc != nil && !doc.Expired(now) {
		return doc, nil
	}
	keys, err := v.roleKeys()
	if err != nil {
		return nil, err
	}
	if doc = c.cachedDelegated(keys, meta); doc == nil || doc.Expired(now) {
		data, next, st, err := c.fetchTargets(ctx, now, set, keys, meta)
		if err != nil {
			return nil, err
		}
		// Delegated roles record no root: their keys come from a delegator.
		if err := c.persistStaged(role, data, next.Version(), 0, st); err != nil {
			// A Refresh beside this lookup may have trusted a newer
			// snapshot, and another lookup a newer version of this role.
			// What was verified here is still the version this lookup's
			// snapshot lists, but it must not replace the newer one.
			if !errors.Is(err, ErrRollback) || c.trusted.Load() == set {
				return nil, err
			}
		}
		doc = next
	}
	c.memoMu.Lock()
	c.memo[key] = doc
	c.memoMu.Unlock()
	return doc, nil
}

// cachedDelegated returns the cached metadata of a delegated role if it is
// the version snapshot lists, matches the listed hashes and verifies with
// keys; nil otherwise.
func (c *Client) cachedDelegated(keys metadata.RoleKeys, meta metadata.MetaFile) *metadata.Targets {
	b, rec, ok := c.readCache(keys.Name)
	if !ok || rec.Version != meta.Version || meta.Check(b) != nil {
		return nil
	}
	t, err := metadata.OpenTargets(b, keys)
	if err != nil || t.Version() != meta.Version {
		return nil
	}
	return t
}
