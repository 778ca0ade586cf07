package client

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/latchsec/latch/metadata"
	"github.com/latchsec/latch/rollback"
)

// View is a read-only view of the last successfully verified state, for
// start-up: it needs no network and moves no trusted state, and it works
// when metadata has expired, saying so instead of failing. Every document in
// it was verified, when it was recorded or when the view was made (a cached
// document is not verified twice under the same root). Use it to start, to report
// what is installed, and to choose among files already verified; use a
// Client to refresh and download, which keep refusing expired metadata.
//
// A View is immutable and safe for concurrent use.
type View struct {
	c   *Client
	set *trustedSet
	now time.Time
}

// Offline returns a read-only view of the last verified state in
// cfg.StateDir, at the time the clock reads now. It needs no network and no
// lock: it works while a Client holds the state directory, in this process
// or another, and it writes nothing, not even the state directory (a
// missing one is a view of the embedded root alone).
//
// A Client replaces each cache file atomically and then the record of its
// hash, so a reader beside it may catch a file whose record isn't saved
// yet. Offline reads the trusted state and every cache file it records,
// and reads them again (after a pause of at most a tenth of a second, about
// a second in all) until each file matches its record; a file that still
// doesn't, as after a crash between the two writes, is treated as absent,
// as New treats it. A document recorded under the root the view trusts
// is used as verified then; one recorded under an older root is verified
// again with the current root's keys.
func Offline(cfg Config, opts ...Option) (*View, error) {
	c, embedded, err := configure(cfg, opts)
	if err != nil {
		return nil, err
	}
	// The view's client never refreshes, persists or records anything.
	c.closed.Store(true)
	d := &stateDir{dir: cfg.StateDir, log: c.log}
	if err := d.readUnlocked(pauseBeforeReread); err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	c.disk = d
	if embedded, err = c.confirmEmbedded(embedded); err != nil {
		return nil, err
	}
	c.trusted.Store(c.offlineSet(embedded))
	return c.View(), nil
}

// offlineSet is the trusted set that the cache read by readUnlocked holds,
// started from the newer of the cached and the embedded root as New starts
// (fast-forward recovery and revocation included), in memory only.
func (c *Client) offlineSet(embedded *metadata.Root) *trustedSet {
	set := c.loadCache(embedded)
	if set.root == nil || embedded.Version() > set.root.Version() {
		c.applyRoot(set, embedded, resetFor(set.root, embedded))
	}
	return set
}

// pauseBeforeReread sleeps before attempt try+1 of readUnlocked (1 ms,
// doubling, at most 100 ms) and reports false, not sleeping, once about a
// second has been spent.
func pauseBeforeReread(try int) bool {
	if try >= 16 {
		return false
	}
	time.Sleep(min(time.Millisecond<<try, 100*time.Millisecond))
	return true
}

// readUnlocked reads the trusted state and the cache files it records
// without the state directory's lock, into d.state and d.unlocked. A file
// is kept only if it matches its record in that state, so the files kept
// are exactly those of one saved state. When a file is missing or doesn't
// match, the state is read again: if it changed, or a file didn't match (a
// writer may be between a cache file and its record), everything is read
// again after pause(try); a missing file in a state that stays the same
// (a cache deleted by hand), or pause saying to stop, leaves that file out.
func (d *stateDir) readUnlocked(pause func(try int) bool) error {
	dir := filepath.Join(d.dir, stateSubdir)
	for try := 0; ; try++ {
		s, err := rollback.ReadFileState(dir)
		if err != nil {
			return err
		}
		files, torn, missing := d.readRecorded(s)
		if len(torn) == 0 && !missing {
			d.state, d.unlocked = s, files
			return nil
		}
		again, err := rollback.ReadFileState(dir)
		if err != nil {
			return err
		}
		if maps.Equal(s.Roles, again.Roles) && len(torn) == 0 || !pause(try) {
			for _, role := range torn {
				d.log.Warn("metadata cache does not match the trusted state; ignoring it", "role", role)
			}
			d.state, d.unlocked = s, files
			return nil
		}
	}
}

// readRecorded reads the cache file of every role that s records and keeps
// those that match their record. torn lists the roles whose file doesn't;
// missing reports a file that can't be read.
func (d *stateDir) readRecorded(s *rollback.State) (files map[string][]byte, torn []string, missing bool) {
	files = make(map[string][]byte, len(s.Roles))
	if len(s.Roles) == 0 {
		return files, nil, false
	}
	// Through an os.Root, a file is opened on Windows in a way that lets a
	// writer replace it while it is read.
	dir, err := os.OpenRoot(d.dir)
	if err != nil {
		d.log.Warn("metadata cache unreadable", "err", err)
		return files, nil, true
	}
	defer dir.Close()
	for _, role := range slices.Sorted(maps.Keys(s.Roles)) {
		name, err := cacheName(role)
		var b []byte
		if err == nil {
			b, err = dir.ReadFile(name)
		}
		switch {
		case err != nil:
			if !errors.Is(err, fs.ErrNotExist) {
				d.log.Warn("metadata cache unreadable", "role", role, "err", err)
			}
			missing = true
		case matchesRecord(b, s.Roles[role]):
			files[role] = b
		default:
			torn = append(torn, role)
		}
	}
	return files, torn, missing
}

// View returns a read-only view of the client's current trusted metadata.
func (c *Client) View() *View {
	return &View{c: c, set: c.trusted.Load(), now: c.opts.clock().UTC()}
}

// Roles reports each top-level role in the view with its version, expiry and
// whether it is stale (expired at the view's time). Roles never verified are
// missing.
func (v *View) Roles() []RoleStatus {
	var out []RoleStatus
	add := func(role string, version int64, expires time.Time) {
		out = append(out, RoleStatus{Role: role, Version: version, Expires: expires, Stale: !expires.After(v.now)})
	}
	add(metadata.RoleRoot, v.set.root.Version(), v.set.root.Expires())
	if ts := v.set.timestamp; ts != nil {
		add(metadata.RoleTimestamp, ts.Version(), ts.Expires())
	}
	if sn := v.set.snapshot; sn != nil {
		add(metadata.RoleSnapshot, sn.Version(), sn.Expires())
	}
	if t := v.set.targets; t != nil {
		add(metadata.RoleTargets, t.Version(), t.Expires())
	}
	return out
}

// Stale reports whether any top-level role of the view is expired, or was
// never verified.
func (v *View) Stale() bool {
	roles := v.Roles()
	for _, r := range roles {
		if r.Stale {
			return true
		}
	}
	return len(roles) < 4
}

// Target looks up path in the cached metadata only, delegations included.
// The result's Chain says which roles it relied on and whether each is
// stale. A delegated role that is not in the cache (no online lookup
// fetched it yet) makes the lookup fail with ErrNotRefreshed, not
// ErrUnknownTarget: the search could not be completed.
func (v *View) Target(path string) (*Target, error) {
	if v.set.snapshot == nil || v.set.targets == nil {
		return nil, &TargetError{Path: path, Err: ErrNotRefreshed}
	}
	t, err := v.c.walk(path, v.set, v.now, func(vis visit) (*metadata.Targets, error) {
		meta, ok := v.set.snapshot.Role(vis.keys.Name)
		if !ok {
			return nil, ErrNotListed
		}
		doc := v.c.cachedDelegated(vis.keys, meta)
		if doc == nil {
			return nil, fmt.Errorf("%w: delegated role %q is not in the cache; an online lookup fetches it", ErrNotRefreshed, vis.keys.Name)
		}
		return doc, nil
	})
	if err != nil {
		return nil, &TargetError{Path: path, Err: err}
	}
	return t, nil
}

// Cached reports whether the file at p is a verified copy of t.
func (v *View) Cached(t *Target, p string) (bool, error) { return v.c.Cached(t, p) }
