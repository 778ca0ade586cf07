package client

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/latchsec/latch/metadata"
	"github.com/latchsec/latch/rollback"
)

// Refresh runs the client workflow of spec §5.1-5.6: it updates the root
// (following every rotation), then the timestamp, snapshot and top-level
// targets metadata, checking signatures, versions, lengths, hashes and expiry
// against one reference time read at its start. Delegated targets roles are
// fetched later, when a lookup needs them.
//
// What each step verified is kept (and persisted) even when a later step
// fails, as the spec prescribes; nothing that failed a check is ever kept.
//
// A failed refresh returns a *RefreshError naming the role whose update
// failed and the cause, which Status reports too.
func (c *Client) Refresh(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return ErrClosed
	}
	if len(c.metaURLs) == 0 {
		return &RefreshError{Err: &OptionError{Option: "Config.MetadataURLs", Reason: "Refresh needs at least one mirror"}}
	}
	ref := c.opts.clock().UTC()
	c.health.forgetTimeouts() // each refresh gives every mirror its turn again
	prev := c.trusted.Load()
	set := *prev
	set.refreshed = false
	var err error
	if cerr := c.checkClock(ref); cerr != nil {
		err = &RefreshError{Err: cerr}
	}
	if err == nil {
		err = c.refresh(ctx, ref, &set)
	}
	if err == nil {
		c.disk.advanceTime(ref) // saved with the next save (docs/decisions.md)
	}
	// A refresh that trusted nothing new writes nothing (docs/decisions.md,
	// "What a refresh writes"); one that did, or failed, is recorded, and
	// the record's anchor saves what it kept with it, in one save.
	changed := set.root != prev.root || set.timestamp != prev.timestamp || set.snapshot != prev.snapshot || set.targets != prev.targets
	if err != nil || changed {
		if aerr := c.auditRefresh(ref, &set, err); err == nil && aerr != nil {
			err = &RefreshError{Err: aerr}
		}
	}
	// What the steps verified is saved even when a later one failed.
	if ferr := c.disk.flush(); ferr != nil {
		ferr = fmt.Errorf("recording the trusted state: %w", ferr)
		if err == nil {
			err = &RefreshError{Err: ferr}
		} else {
			c.log.Error("refresh failed, and what it verified was not saved", "err", ferr)
		}
	}
	c.statusMu.Lock()
	c.lastErr = err
	if err == nil {
		c.lastRefresh = ref
	}
	c.statusMu.Unlock()
	if err == nil {
		set.refreshed = true
	} else {
		// A set that was usable stays usable if this refresh changed none
		// of its documents (and discarded none: fast-forward recovery,
		// revoked keys); lookups check expiry themselves.
		set.refreshed = prev.refreshed && set.timestamp != nil && set.snapshot == prev.snapshot && set.targets == prev.targets
	}
	c.trusted.Store(&set)
	if prev.snapshot != set.snapshot || prev.targets != set.targets {
		// Entries keyed by documents no longer trusted are unreachable.
		c.memoMu.Lock()
		clear(c.memo)
		c.memoMu.Unlock()
	}
	if err != nil {
		c.log.Error("refresh failed", "err", err)
		return err
	}
	c.log.Info("refreshed", "root", set.root.Version(), "timestamp", set.timestamp.Version(),
		"snapshot", set.snapshot.Version(), "targets", set.targets.Version())
	return nil
}

// checkClock refuses a reference time earlier than the latest trusted one by
// more than the tolerance: expiry checks against a clock that was set back
// would accept metadata that has in fact expired (a freeze attack through
// the clock). The latest trusted time is this process's own latest, or the
// one saved last.
func (c *Client) checkClock(ref time.Time) error {
	var last time.Time
	c.disk.view(func(s *rollback.State) { last = s.LastTime })
	if !last.IsZero() && ref.Before(last.Add(-c.opts.clockTolerance)) {
		return &ClockError{Now: ref, Trusted: last, Tolerance: c.opts.clockTolerance}
	}
	return nil
}

// refresh updates the top-level roles in the order of spec §5.3-5.6; a
// failure is a *RefreshError naming the role.
func (c *Client) refresh(ctx context.Context, ref time.Time, set *trustedSet) error {
	for _, step := range []struct {
		role   string
		update func(context.Context, time.Time, *trustedSet) error
	}{
		{metadata.RoleRoot, c.updateRoot},
		{metadata.RoleTimestamp, c.updateTimestamp},
		{metadata.RoleSnapshot, c.updateSnapshot},
		{metadata.RoleTargets, c.updateTargets},
	} {
		if err := step.update(ctx, ref, set); err != nil {
			return &RefreshError{Role: step.role, Err: err}
		}
	}
	return nil
}

func expired(role string, version int64, expires, ref time.Time) error {
	if expires.After(ref) {
		return nil
	}
	return &ExpiredError{Role: role, Version: version, Expires: expires, Now: ref}
}

func rollbackErr(role string, got, trusted int64) error {
	return &rollback.RollbackError{Role: role, Got: fmt.Sprintf("v%d", got), Trusted: fmt.Sprintf("v%d", trusted), Err: rollback.ErrRollback}
}

// updateRoot is spec §5.3.
func (c *Client) updateRoot(ctx context.Context, ref time.Time, set *trustedSet) error {
	for accepted := 0; ; accepted++ {
		n := set.root.Version() + 1
		name := fmt.Sprintf("%d.root.json", n) // §5.3.3: always versioned
		if accepted >= c.opts.maxRootRotation {
			_, notFound, err := c.fetchVerified(ctx, c.metaURLs, name, c.opts.limits.Root, true, func([]byte) error { return nil })
			if notFound {
				break
			}
			if ctx.Err() != nil {
				return err
			}
			return fmt.Errorf("%w: accepted %d new roots and v%d is served", ErrRootRotationLimit, accepted, n)
		}
		var next *metadata.Root
		data, notFound, err := c.fetchVerified(ctx, c.metaURLs, name, c.opts.limits.Root, true, func(b []byte) error {
			r, err := openRoot(b, set.root) // §5.3.4, §5.3.5 signatures
			if err != nil {
				return err
			}
			if r.Version() != n { // §5.3.5 version N+1
				return &VersionError{Role: metadata.RoleRoot, Got: r.Version(), Want: n}
			}
			next = r
			return nil
		})
		if notFound {
			break // §5.3.3: no newer root
		}
		if err != nil {
			return err
		}
		// §5.3.8, §5.3.11: kept with the recovery its keys call for, so
		// that one save stores both or neither; the rotation's audit
		// record saves them before the refresh goes on.
		if err := c.trustRoot(set, next, data); err != nil {
			return err
		}
	}
	// §5.3.10: the final root must not be expired.
	if err := expired(metadata.RoleRoot, set.root.Version(), set.root.Expires(), ref); err != nil {
		return err
	}
	// The trusted state remembers the highest root accepted: a cache that was
	// lost and a repository that stops serving newer roots can't take us back.
	if f := c.floor(metadata.RoleRoot); set.root.Version() < f {
		return rollbackErr(metadata.RoleRoot, set.root.Version(), f)
	}
	return nil
}

// updateTimestamp is spec §5.4.
func (c *Client) updateTimestamp(ctx context.Context, ref time.Time, set *trustedSet) error {
	trusted := set.timestamp
	floor := c.floor(metadata.RoleTimestamp)
	snapFloor := c.floor(metadata.RoleSnapshot)
	if trusted != nil {
		floor = max(floor, trusted.Version())
		snapFloor = max(snapFloor, trusted.Snapshot().Version)
	}
	var next *metadata.Timestamp
	data, _, err := c.fetchVerified(ctx, c.metaURLs, "timestamp.json", c.opts.limits.Timestamp, false, func(b []byte) error {
		ts := set.sameTimestamp(b)
		if ts == nil {
			var err error
			if ts, err = openTimestamp(b, set.root); err != nil { // §5.4.1, §5.4.2
				return err
			}
		}
		if ts.Version() < floor { // §5.4.3.1
			return staleErr(metadata.RoleTimestamp, ts.Version(), floor)
		}
		if v := ts.Snapshot().Version; v < snapFloor { // §5.4.3.2
			return staleErr(metadata.RoleSnapshot, v, snapFloor)
		}
		if err := expired(metadata.RoleTimestamp, ts.Version(), ts.Expires(), ref); err != nil { // §5.4.4
			return err
		}
		next = ts
		return nil
	})
	if err != nil {
		return err
	}
	if trusted != nil && next.Version() == trusted.Version() {
		// §5.4.3.1: an equal version ends the timestamp update; the trusted
		// copy stays, and its own expiry must hold too (docs/decisions.md).
		return expired(metadata.RoleTimestamp, trusted.Version(), trusted.Expires(), ref)
	}
	if err := c.disk.keep(metadata.RoleTimestamp, data, next.Version(), set.root.Version(), nil); err != nil { // §5.4.5
		return err
	}
	set.timestamp, set.timestampBytes, set.timestampRoot = next, data, set.root
	return nil
}

// sameTimestamp returns the trusted timestamp if b are its bytes and the
// root that verified them is still the trusted one: §5.4.1 and §5.4.2 would
// check the same signatures of the same bytes with the same keys again.
// The checks that depend on more than the bytes (versions, expiry) still
// run. Otherwise nil.
func (s *trustedSet) sameTimestamp(b []byte) *metadata.Timestamp {
	if s.timestamp == nil || s.timestampRoot != s.root || !bytes.Equal(b, s.timestampBytes) {
		return nil
	}
	return s.timestamp
}

// versionedName is the file name of role's metadata at version v: with
// consistent snapshots "<v>.<role>.json" (spec §5.5.1, §5.6.1).
func versionedName(consistent bool, role string, v int64) string {
	name := metadata.RoleURLName(role) + ".json"
	if consistent {
		return fmt.Sprintf("%d.%s", v, name)
	}
	return name
}

// updateSnapshot is spec §5.5.
func (c *Client) updateSnapshot(ctx context.Context, ref time.Time, set *trustedSet) error {
	meta := set.timestamp.Snapshot()
	trusted := set.snapshot
	// The trusted snapshot is the one listed and still valid: nothing to
	// fetch. An expired one is fetched again: the repository may have
	// signed the listed version anew, and §5.5.6 checks the new file.
	if trusted != nil && trusted.Version() == meta.Version && meta.Check(set.snapshotBytes) == nil && expired(metadata.RoleSnapshot, trusted.Version(), trusted.Expires(), ref) == nil {
		return nil
	}
	limit := c.opts.limits.Snapshot
	if meta.Length >= 0 {
		limit = meta.Length
	}
	var next *metadata.Snapshot
	name := versionedName(set.root.ConsistentSnapshot(), metadata.RoleSnapshot, meta.Version)
	data, _, err := c.fetchVerified(ctx, c.metaURLs, name, limit, false, func(b []byte) error {
		if err := meta.Check(b); err != nil { // §5.5.2
			return &metadata.Error{Role: metadata.RoleSnapshot, Version: meta.Version, Err: err}
		}
		sn, err := openSnapshot(b, set.root) // §5.5.3
		if err != nil {
			return err
		}
		if sn.Version() != meta.Version { // §5.5.4
			return &VersionError{Role: metadata.RoleSnapshot, Got: sn.Version(), Want: meta.Version, Referrer: metadata.RoleTimestamp}
		}
		if trusted != nil { // §5.5.5: no targets role goes back or disappears
			listed := sn.Meta()
			for file, old := range trusted.Meta() {
				role := strings.TrimSuffix(file, ".json")
				now, ok := listed[file]
				if !ok {
					return &metadata.Error{Role: metadata.RoleSnapshot, Version: sn.Version(), Err: fmt.Errorf("no longer lists %s (trusted snapshot v%d did): %w", file, trusted.Version(),
						&rollback.RollbackError{Role: role, Trusted: fmt.Sprintf("v%d", old.Version), Err: rollback.ErrRollback})}
				}
				if now.Version < old.Version {
					return staleErr(role, now.Version, old.Version)
				}
			}
		}
		if err := expired(metadata.RoleSnapshot, sn.Version(), sn.Expires(), ref); err != nil { // §5.5.6
			return err
		}
		next = sn
		return nil
	})
	if err != nil {
		return err
	}
	if err := c.disk.keep(metadata.RoleSnapshot, data, next.Version(), set.root.Version(), nil); err != nil { // §5.5.7
		return err
	}
	set.snapshot, set.snapshotBytes = next, data
	return nil
}

// updateTargets is spec §5.6 for the top-level targets role.
func (c *Client) updateTargets(ctx context.Context, ref time.Time, set *trustedSet) error {
	meta, ok := set.snapshot.Role(metadata.RoleTargets)
	if !ok {
		return fmt.Errorf("%w: snapshot v%d does not list targets.json", ErrNotListed, set.snapshot.Version())
	}
	trusted := set.targets
	if trusted != nil && trusted.Version() == meta.Version && set.targetsMatch(meta) && expired(metadata.RoleTargets, trusted.Version(), trusted.Expires(), ref) == nil {
		return nil // as in updateSnapshot; §5.6.5 checks a new file
	}
	keys, _ := set.root.RoleKeys(metadata.RoleTargets)
	data, next, st, err := c.fetchTargets(ctx, ref, set, keys, meta)
	if err != nil {
		return err
	}
	if err := c.disk.keep(metadata.RoleTargets, data, next.Version(), set.root.Version(), st); err != nil { // §5.6.6
		return err
	}
	var chunks []byte
	if st != nil {
		chunks = st.chunks
	}
	c.disk.writeIndex(next, data, chunks)
	set.targets, set.targetsBytes, set.cachedTargets = next, data, nil
	return nil
}

// fetchTargets fetches and verifies the metadata of a targets role (top-level
// or delegated) as snapshot lists it (spec §5.6.1-5.6.5). A large document
// is staged for keep or persistStaged while it is verified (nil otherwise).
func (c *Client) fetchTargets(ctx context.Context, ref time.Time, set *trustedSet, keys metadata.RoleKeys, meta metadata.MetaFile) ([]byte, *metadata.Targets, *staged, error) {
	limit := c.opts.limits.Targets
	if meta.Length >= 0 {
		limit = meta.Length
	}
	var next *metadata.Targets
	var st *staged
	name := versionedName(set.root.ConsistentSnapshot(), keys.Name, meta.Version) // §5.6.1
	data, _, err := c.fetchVerified(ctx, c.metaURLs, name, limit, false, func(b []byte) error {
		if err := meta.Check(b); err != nil { // §5.6.2
			return &metadata.Error{Role: keys.Name, Version: meta.Version, Err: err}
		}
		s := c.disk.stage(keys.Name, b)
		t, err := metadata.OpenTargets(b, keys)        // §5.6.3
		if err == nil && t.Version() != meta.Version { // §5.6.4
			err = &VersionError{Role: keys.Name, Got: t.Version(), Want: meta.Version, Referrer: metadata.RoleSnapshot}
		}
		if err == nil {
			err = expired(keys.Name, t.Version(), t.Expires(), ref) // §5.6.5
		}
		if err != nil {
			s.abort()
			return err
		}
		next, st = t, s
		return nil
	})
	return data, next, st, err
}
