package rollback

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/semver"
)

// Store keeps the trusted state. Implementations must be safe for
// concurrent use, and Save must be atomic: a crash or error leaves the
// previous state or the new one, never a mix.
type Store interface {
	// Load returns the stored state, or NewState() if nothing was ever
	// stored. The returned *State is the caller's own copy.
	Load() (*State, error)
	// Save replaces the stored state with a copy of s, atomically and
	// durably. It checks s once more against the stored state, whatever
	// the State methods did, and refuses with a [*RollbackError] a state
	// that moves backwards:
	//   - a role record that is stored must stay, with at least the same
	//     version, except that the records of targets and delegated roles
	//     may be dropped (a delegation that is no longer listed), and the
	//     fast-forward resets of spec 5.3.11: together with a newer
	//     TimestampResetRoot the timestamp record may be dropped or lowered
	//     ([State.ResetTimestamp]), and together with a newer
	//     FastForwardRoot every record but root's ([State.FastForward]:
	//     the discarded snapshot set the floors of the others, 5.5.5);
	//   - TimestampResetRoot and FastForwardRoot don't decrease;
	//   - an installed release that is stored stays, with at least the
	//     same version, unless s lowered it with [State.ForceInstallUnsafe];
	//   - LastTime doesn't decrease, unless s set it back with
	//     [State.ResetTimeUnsafe].
	//   - the checkpoint of a transparency log that is stored stays, with
	//     at least the same tree size, and the same root at the same size.
	// The failed-release lists and the audit anchor are replaced as given.
	// A malformed s is refused with [ErrInvalid]. After an error the stored
	// state is unchanged.
	Save(s *State) error
}

// checkForward reports whether next moves backwards from prev, the state
// stored now, by the rules in the documentation of [Store].Save.
func checkForward(prev, next *State) error {
	// A full fast-forward reset discards the trusted snapshot, and with it
	// the floors it set for every role but root; a timestamp reset only the
	// timestamp (spec 5.3.11, 5.5.5).
	fastForwarded := next.FastForwardRoot > prev.FastForwardRoot
	timestampReset := fastForwarded || next.TimestampResetRoot > prev.TimestampResetRoot
	for _, role := range sortedKeys(prev.Roles) {
		old := prev.Roles[role]
		rec, ok := next.Roles[role]
		switch {
		case role != roleRoot && fastForwarded, role == roleTimestamp && timestampReset:
		case !ok && (role == roleRoot || role == roleTimestamp || role == roleSnapshot):
			return &RollbackError{Role: role, Trusted: roleVersion(old.Version), Err: ErrRollback}
		case ok && rec.Version < old.Version:
			return &RollbackError{Role: role, Trusted: roleVersion(old.Version), Got: roleVersion(rec.Version), Err: ErrRollback}
		}
	}
	if next.TimestampResetRoot < prev.TimestampResetRoot {
		return fastForwardRollback(prev.TimestampResetRoot, next.TimestampResetRoot)
	}
	if next.FastForwardRoot < prev.FastForwardRoot {
		return fastForwardRollback(prev.FastForwardRoot, next.FastForwardRoot)
	}
	for _, app := range sortedKeys(prev.Installed) {
		old := prev.Installed[app]
		in, ok := next.Installed[app]
		if !ok {
			return &RollbackError{App: app, Trusted: old.Version, Err: ErrRollback}
		}
		if next.forced[app] {
			continue
		}
		// Both versions passed check, so they are valid.
		ov, _ := CanonicalVersion(old.Version)
		nv, _ := CanonicalVersion(in.Version)
		if semver.Compare(nv, ov) < 0 {
			return &RollbackError{App: app, Trusted: old.Version, Got: in.Version, Err: ErrRollback}
		}
	}
	for _, origin := range sortedKeys(prev.Logs) {
		old := prev.Logs[origin]
		cp, ok := next.Logs[origin]
		switch {
		case !ok:
			return &RollbackError{Log: origin, Trusted: fmt.Sprintf("size %d", old.Size), Err: ErrRollback}
		case cp.Size < old.Size:
			return logRollback(origin, old, cp)
		case cp.Size == old.Size && cp.Hash != old.Hash:
			return fmt.Errorf("%w: log %s: a checkpoint of size %d with another root than the stored one", ErrInvalid, origin, cp.Size)
		}
	}
	if next.LastTime.Before(prev.LastTime) && !next.timeReset {
		return &RollbackError{
			Trusted: prev.LastTime.Format(time.RFC3339Nano),
			Got:     next.LastTime.UTC().Format(time.RFC3339Nano),
			Err:     ErrRollback,
		}
	}
	return nil
}

// sortedKeys returns the keys of m in order, "root" first, so that the
// first problem found, and reported, doesn't depend on map order. It
// allocates once, and not at all for an empty map: it runs on every load.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == roleRoot:
			return -1
		case b == roleRoot:
			return 1
		}
		return strings.Compare(a, b)
	})
	return keys
}

// stored returns the copy of s that a store keeps: deep, without the
// one-time permission of ForceInstallUnsafe, times in UTC.
func stored(s *State) *State {
	c := s.Clone()
	c.forced = nil
	c.timeReset = false
	c.LastTime = c.LastTime.UTC()
	for app, in := range c.Installed {
		in.Time = in.Time.UTC()
		c.Installed[app] = in
	}
	return c
}

// MemStore is a [Store] in memory, for tests and for clients that keep no
// state on disk. It is safe for concurrent use.
type MemStore struct {
	mu    sync.Mutex
	state *State
}

// NewMemStore returns a MemStore holding NewState().
func NewMemStore() *MemStore {
	return &MemStore{state: NewState()}
}

// Load returns a copy of the stored state.
func (m *MemStore) Load() (*State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state.Clone(), nil
}

// Save replaces the stored state with a copy of s; see [Store].
func (m *MemStore) Save(s *State) error {
	if err := s.check(); err != nil {
		return invalid(err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := checkForward(m.state, s); err != nil {
		return err
	}
	m.state = stored(s)
	return nil
}
