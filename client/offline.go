package client

import (
	"fmt"
	"time"

	"github.com/latchsec/latch/metadata"
)

// View is a read-only view of the last successfully verified state, for
// start-up: it needs no network and moves no trusted state, and it works
// when metadata has expired, saying so instead of failing. Every document in
// it was verified again when the view was made. Use it to start, to report
// what is installed, and to choose among files already verified; use a
// Client to refresh and download, which keep refusing expired metadata.
//
// A View is immutable and safe for concurrent use.
type View struct {
	c   *Client
	set *trustedSet
	now time.Time
}

// Offline opens the state directory of cfg, loads and verifies the cached
// metadata and returns a view of it at the time the clock reads now. It
// takes the state directory's lock only while loading.
func Offline(cfg Config, opts ...Option) (*View, error) {
	c, err := New(cfg, opts...)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.View(), nil
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
// stale. A delegated role that is not in the cache makes the lookup fail with
// ErrNotFound (not ErrUnknownTarget: the search could not be completed).
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
			return nil, fmt.Errorf("%w: delegated role %q is not in the cache", ErrNotFound, vis.keys.Name)
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
