package client

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/latchsec/latch/internal/atomicfile"
	"github.com/latchsec/latch/internal/audit"
	"github.com/latchsec/latch/internal/rawfile"
	"github.com/latchsec/latch/metadata"
	"github.com/latchsec/latch/rollback"
)

// persistence is what the client's workflow asks of the state directory:
// the trusted state, and the metadata cached beside it. *stateDir is the
// implementation; the workflow (Client) sees nothing else of it.
//
// Records are kept in two ways. update saves at once: installs, log
// checkpoints, the audit anchor and delegated roles. keep and keepRoot
// record a verified document in memory only, to be saved by the next save
// of any kind (update or flush): a refresh keeps what each step verified
// and saves once. A save writes the cache files of what was kept, then the
// trusted state that records them, so a crash at any moment leaves saved
// records that describe complete files, or files that no longer match the
// records saved before (treated as absent): never a floor lower than one
// saved before. Readers beside the writer (Offline) see a file ahead of
// its record only during a save, as before a refresh kept anything.
type persistence interface {
	audit.Anchor // the audit anchor, saved in the trusted state

	// view calls read with the trusted state (saved, or ahead of the saved
	// one by what was kept since); read must not change or keep it.
	view(read func(*rollback.State))
	// update applies change to a copy of the trusted state and saves it,
	// with everything kept before. After an error nothing changed.
	update(change func(*rollback.State) error) error
	// keep records data as the document of role in memory, after checking
	// that it moves nothing backwards; the next save writes its cache
	// file. st, if not nil, is the staged cache file (stage), used up
	// either way.
	keep(role string, data []byte, version, root int64, st *staged) error
	// keepRoot keeps a root like keep, with the fast-forward recovery r.
	keepRoot(data []byte, version int64, r reset) error
	// advanceTime raises the latest trusted time in memory: it is saved
	// with the next save.
	advanceTime(t time.Time)
	// flush saves what was kept since the last save, if anything.
	flush() error

	// record returns the trusted record of role, if there is one.
	record(role string) (rollback.RoleRecord, bool)
	// cached returns the cached bytes of role if they match its record.
	cached(role string) ([]byte, rollback.RoleRecord, bool)
	// cacheExists reports whether top-level metadata beyond the root is
	// cached, recorded or not.
	cacheExists() bool
	// stage starts writing a large document's cache file while it is
	// verified; nil for a small one.
	stage(role string, data []byte) *staged
	// reopenTargets and writeIndex: the index of the top-level targets.
	reopenTargets(rec rollback.RoleRecord, root int64) (*metadata.Targets, *cachedTargets, error)
	writeIndex(t *metadata.Targets, data, chunks []byte)

	close() error
}

// stateDir is the state directory a Client holds (New), or one an Offline
// view read without the lock: the trusted state in its store, below
// "state", and the cached metadata beside it, one file per role.
type stateDir struct {
	dir        string // Config.StateDir
	log        *slog.Logger
	store      rollback.Store // nil in an Offline view
	closeStore func() error
	// closedBefore: the lock's previous holder closed the store
	// (rollback.FileStore.PreviousHolderClosed), so no write was left
	// unfinished.
	closedBefore bool

	mu    sync.Mutex      // guards the fields below and every write of the state and the cache
	state *rollback.State // the trusted state: as saved, or ahead by what was kept
	kept  bool            // state holds records kept since the last save
	// pending holds the cache files of the documents kept since the last
	// save, which the next save writes before the state; dropped, the
	// roles whose cache files it removes after (fast-forward recovery).
	pending map[string]pendingFile
	dropped []string

	// unlocked holds, for an Offline view, the cache files read with state
	// without the lock (see readUnlocked); nil for a state directory that
	// is held and read from disk.
	unlocked map[string][]byte
}

// openStateDir creates dir, opens and locks its store with openStore and
// loads the trusted state.
func openStateDir(dir string, log *slog.Logger, openStore func(dir string) (*rollback.FileStore, error)) (*stateDir, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	store, err := openStore(filepath.Join(dir, stateSubdir))
	if errors.Is(err, ErrLocked) {
		return nil, fmt.Errorf("%w: one client per state directory (Open waits for it, Offline reads without it)", err)
	}
	if err != nil {
		return nil, err
	}
	d := &stateDir{dir: dir, log: log, store: store, closeStore: store.Close, closedBefore: store.PreviousHolderClosed()}
	if d.state, err = store.Load(); err != nil {
		return nil, errors.Join(err, store.Close())
	}
	return d, nil
}

func (d *stateDir) close() error { return d.closeStore() }

func (d *stateDir) view(read func(*rollback.State)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	read(d.state)
}

func (d *stateDir) update(change func(*rollback.State) error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	next := d.state.Clone()
	if err := change(next); err != nil {
		return err
	}
	return d.save(next)
}

func (d *stateDir) flush() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.kept {
		return nil
	}
	return d.save(d.state)
}

// pendingFile is the cache file of a kept document: its bytes, and the
// file staged for it, if any.
type pendingFile struct {
	data []byte
	st   *staged
}

// save writes the pending cache files, then saves next as the trusted
// state, then removes the dropped cache files (docs/decisions.md, "The
// local disk": cache file first, record after). The caller holds mu.
func (d *stateDir) save(next *rollback.State) error {
	for role, f := range d.pending {
		if err := d.writePending(role, f); err != nil {
			return err
		}
		delete(d.pending, role)
	}
	if err := d.store.Save(next); err != nil {
		return err
	}
	d.state, d.kept = next, false
	for _, role := range d.dropped {
		if p, err := d.cachePath(role); err == nil {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				d.log.Warn("removing cached metadata", "role", role, "err", err)
			}
		}
	}
	d.dropped = nil
	return nil
}

// writePending writes the cache file of role: renames the staged file into
// place, or writes the bytes if there is none (or renaming it failed).
func (d *stateDir) writePending(role string, f pendingFile) error {
	if f.st != nil {
		err := f.st.commit()
		if err == nil {
			return nil
		}
		d.log.Debug("committing the staged cache file failed; writing it again", "role", role, "err", err)
	}
	return d.writeCache(role, f.data)
}

// pend makes f the pending cache file of role, in place of one pending or
// dropped before. The caller holds mu.
func (d *stateDir) pend(role string, f pendingFile) {
	if old, ok := d.pending[role]; ok {
		old.st.abort()
	}
	if d.pending == nil {
		d.pending = map[string]pendingFile{}
	}
	d.pending[role] = f
	d.dropped = slices.DeleteFunc(d.dropped, func(r string) bool { return r == role })
}

func (d *stateDir) advanceTime(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.state.AdvanceTime(t)
}

// Load returns the audit anchor (audit.Anchor).
func (d *stateDir) Load() (audit.Mark, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return audit.ParseMark(d.state.AuditAnchor)
}

// Store saves the audit anchor m (audit.Anchor), with what was kept: the
// record of a trust decision is saved with the decision.
func (d *stateDir) Store(m audit.Mark) error {
	return d.update(func(s *rollback.State) error {
		s.AuditAnchor = m.String()
		return nil
	})
}

// keep checks the record first, so a version lower than trusted is refused
// before anything is written.
func (d *stateDir) keep(role string, data []byte, version, root int64, st *staged) error {
	if st != nil {
		<-st.done
		if st.err != nil {
			d.log.Debug("staging the cache file failed; writing it again", "role", role, "err", st.err)
			st = nil
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	next := d.state.Clone()
	var sum [sha256.Size]byte
	if st != nil {
		sum = st.sum
	} else {
		sum = sha256.Sum256(data)
	}
	rec := rollback.RoleRecord{Version: version, SHA256: hex.EncodeToString(sum[:]), Length: int64(len(data)), Root: root}
	if err := next.Advance(role, rec); err != nil {
		st.abort()
		return err
	}
	d.pend(role, pendingFile{data: data, st: st})
	d.state, d.kept = next, true
	return nil
}

// keepRoot keeps a root accepted by the root update (spec §5.3.8) like
// keep, together with the recovery r, which records the root version that
// allowed it (spec §5.3.11, fast-forward recovery): whatever save comes
// next saves both, or neither, and then removes the cache files of the
// discarded roles (without a record they would be ignored anyway). A root
// below the recorded
// floor (the chain is walked again after the cached root was lost) is not
// recorded, and a root not newer than it makes no reset: that was made
// when it was first trusted.
func (d *stateDir) keepRoot(data []byte, version int64, r reset) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	next := d.state.Clone()
	trusted := next.Roles[metadata.RoleRoot].Version
	if version < trusted {
		return nil
	}
	sum := sha256.Sum256(data)
	rec := rollback.RoleRecord{Version: version, SHA256: hex.EncodeToString(sum[:]), Length: int64(len(data)), Root: version}
	if err := next.Advance(metadata.RoleRoot, rec); err != nil {
		return err
	}
	if version == trusted {
		r = resetNone
	}
	var dropped []string
	for role := range d.state.Roles {
		if role == metadata.RoleTimestamp && r != resetNone || role != metadata.RoleRoot && r == resetSnapshot {
			dropped = append(dropped, role)
		}
	}
	var err error
	switch r {
	case resetTimestamp:
		err = next.ResetTimestamp(version)
	case resetSnapshot:
		err = next.FastForward(version)
	}
	if err != nil {
		return fmt.Errorf("fast-forward recovery: %w", err)
	}
	d.pend(metadata.RoleRoot, pendingFile{data: data})
	for _, role := range dropped {
		if f, ok := d.pending[role]; ok {
			f.st.abort()
			delete(d.pending, role)
		}
		d.dropped = append(d.dropped, role)
	}
	d.state, d.kept = next, true
	return nil
}

// record returns the record of role, if the trusted state has one.
func (d *stateDir) record(role string) (rollback.RoleRecord, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	rec, ok := d.state.Roles[role]
	return rec, ok
}

// cachePath is where role's metadata is cached: <StateDir>/<role>.json with
// the role name encoded reversibly (metadata.EncodeRoleName).
func (d *stateDir) cachePath(role string) (string, error) {
	name, err := cacheName(role)
	if err != nil {
		return "", err
	}
	return filepath.Join(d.dir, name), nil
}

// cacheName is the name of role's cache file in the state directory.
func cacheName(role string) (string, error) {
	enc, err := metadata.EncodeRoleName(role)
	if err != nil {
		return "", err
	}
	return enc + ".json", nil
}

// writeCache replaces the cache file of role atomically.
func (d *stateDir) writeCache(role string, data []byte) error {
	p, err := d.cachePath(role)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(p, data, 0o644); err != nil {
		return fmt.Errorf("caching %s metadata: %w", role, err)
	}
	return nil
}

// cacheExists reports whether timestamp, snapshot or targets metadata is
// cached: written only after the trusted state recorded a root (New saves
// the root it starts from before anything else is cached).
func (d *stateDir) cacheExists() bool {
	for _, role := range []string{metadata.RoleTimestamp, metadata.RoleSnapshot, metadata.RoleTargets} {
		p, err := d.cachePath(role)
		if err != nil {
			continue
		}
		if _, err := os.Lstat(p); err == nil {
			return true
		}
	}
	return false
}

// cached returns the cached bytes of role if they are exactly the ones the
// trusted state records (docs/decisions.md, "The local disk": the store is
// the one authority; a cache file that does not match its record is
// treated as absent).
func (d *stateDir) cached(role string) ([]byte, rollback.RoleRecord, bool) {
	b, rec, ok := d.readCacheFile(role)
	if !ok || !matchesRecord(b, rec) {
		if ok {
			d.log.Warn("metadata cache does not match the trusted state; ignoring it", "role", role)
		}
		return nil, rec, false
	}
	return b, rec, true
}

// readCacheFile returns the cached bytes of role and its record, unchecked:
// those kept and not saved yet, or those of the cache file.
func (d *stateDir) readCacheFile(role string) ([]byte, rollback.RoleRecord, bool) {
	d.mu.Lock()
	rec, ok := d.state.Roles[role]
	f, pending := d.pending[role]
	d.mu.Unlock()
	if !ok {
		return nil, rec, false
	}
	if pending {
		return f.data, rec, true
	}
	if d.unlocked != nil {
		b, ok := d.unlocked[role]
		return b, rec, ok
	}
	p, err := d.cachePath(role)
	if err != nil {
		return nil, rec, false
	}
	b, err := rawfile.ReadFile(p)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			d.log.Warn("metadata cache unreadable", "role", role, "err", err)
		}
		return nil, rec, false
	}
	return b, rec, true
}

func matchesRecord(b []byte, rec rollback.RoleRecord) bool {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]) == rec.SHA256 && int64(len(b)) == rec.Length
}
