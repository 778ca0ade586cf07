package client

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latchsec/latch/internal/atomicfile"
	"github.com/latchsec/latch/internal/audit"
	"github.com/latchsec/latch/internal/targetindex"
	"github.com/latchsec/latch/metadata"
	"github.com/latchsec/latch/rollback"
)

// Client is a TUF client (spec §5). It is safe for concurrent use: Refresh
// calls are serialised, lookups and downloads may run beside them, and one
// long-lived Client can refresh again and again.
type Client struct {
	cfg        Config
	opts       options
	metaURLs   []string
	targetURLs []string
	log        *slog.Logger
	store      rollback.Store
	closeStore func() error

	mu      sync.Mutex // serialises Refresh and Close
	closed  atomic.Bool
	trusted atomic.Pointer[trustedSet]

	stateMu sync.Mutex      // guards state and every write of it
	state   *rollback.State // the trusted state as last saved

	// unlocked holds, for an Offline view, the cache files read with state
	// without the lock (see readUnlocked); nil for a client that holds the
	// state directory and reads its cache from disk.
	unlocked map[string][]byte

	memoMu sync.Mutex
	memo   map[memoKey]*metadata.Targets // delegated roles verified in this process

	foundTargets atomic.Pointer[foundTargets] // lookups of the current trusted set

	health      mirrorHealth
	statusMu    sync.Mutex // guards lastRefresh, lastErr and auditErr
	lastRefresh time.Time
	lastErr     error
	auditErr    error

	auditLog *audit.Log // nil if it could not be opened

	transparency *releaseLog // nil without Config.TransparencyLog

	// stateLost: New found no trusted state but cached metadata (Status).
	stateLost bool

	// applyMu serialises self-update operations of this client; the state
	// directory's lock keeps other processes out.
	applyMu sync.Mutex
	// source is where Apply takes releases from, if not from this client's
	// repository: the Multi whose application state this client keeps.
	source releaseSource
}

// trustedSet is one consistent view of the trusted top-level metadata. It is
// never modified once published; Refresh builds a new one.
type trustedSet struct {
	root      *metadata.Root
	timestamp *metadata.Timestamp
	snapshot  *metadata.Snapshot
	targets   *metadata.Targets
	// raw bytes of the snapshot and targets documents, to check them against
	// the hashes their referrer lists without fetching them again; targets
	// reopened from the cache through their index have cachedTargets
	// instead of bytes (targetsMatch).
	snapshotBytes, targetsBytes []byte
	cachedTargets               *cachedTargets
	// refreshed: a Refresh completed in this process with this set.
	refreshed bool
}

// memoKey names a delegated role as verified with the keys of one
// delegator document, at the version one snapshot lists: a role reached
// through another delegator, or another document of the same delegator
// (another version, or the same version signed again after a fast-forward
// recovery, perhaps with other keys), is verified again (spec §5.6.7.2).
// Documents are immutable and a new one is a new pointer, so a lookup
// that raced a refresh can't leave behind an entry that a later lookup
// would take for its own.
type memoKey struct {
	snapshot *metadata.Snapshot
	parent   *metadata.Targets
	role     string
}

const stateSubdir = "state"

// New returns a client for the repository described by cfg. It takes the
// lock on cfg.StateDir (one client per state directory, across processes),
// and loads the last verified metadata from the cache, verifying it again;
// it does not touch the network. Close releases the lock. A Config field or
// option it cannot honour is an *OptionError (errors.Is ErrInvalidOptions),
// returned before anything is written.
//
// If another client holds cfg.StateDir, in this process or another, New
// fails at once with an error matching ErrLocked that names the holder's
// process ID; [Open] waits for the lock instead, and [Offline] reads the
// state without it.
//
// An application that updates itself with this client calls
// [Client.Recover] (or [Client.Apply], which recovers first) at start-up,
// so that an update a crash interrupted is finished or undone; New does
// not, as it does not know the application or its executable.
func New(cfg Config, opts ...Option) (*Client, error) {
	return openClient(cfg, opts, rollback.OpenFileStore)
}

// configure checks cfg, applies opts and returns a client that has no state
// yet, with the embedded trusted root verified: what New and Offline share.
func configure(cfg Config, opts []Option) (*Client, *metadata.Root, error) {
	if err := cfg.validate(); err != nil {
		return nil, nil, err
	}
	o, err := newOptions(opts)
	if err != nil {
		return nil, nil, err
	}
	c := &Client{cfg: cfg, opts: o, log: o.logger, memo: make(map[memoKey]*metadata.Targets)}
	if c.transparency, err = newTransparency(cfg); err != nil {
		return nil, nil, err
	}
	for _, u := range cfg.MetadataURLs {
		b, _ := baseURL(u)
		c.metaURLs = append(c.metaURLs, b)
	}
	for _, u := range cfg.TargetURLs {
		b, _ := baseURL(u)
		c.targetURLs = append(c.targetURLs, b)
	}
	embedded, err := metadata.OpenRoot(cfg.TrustedRoot, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("client: embedded trusted root: %w", err)
	}
	return c, embedded, nil
}

// openClient is New with openStore to open and lock the state directory's
// store.
func openClient(cfg Config, opts []Option, openStore func(dir string) (*rollback.FileStore, error)) (*Client, error) {
	c, embedded, err := configure(cfg, opts)
	if err != nil {
		return nil, err
	}
	// The audit log first: what follows may record trust decisions.
	if err := c.openState(openStore); err != nil {
		return nil, err
	}
	if c.stateLost = len(c.state.Roles) == 0 && c.cacheExists(); c.stateLost {
		c.log.Warn("trusted state missing while metadata is cached: starting over as on a first run, from the embedded root; every version floor was lost",
			"state", filepath.Join(cfg.StateDir, stateSubdir))
		if err := c.record(audit.KindStateLost, map[string]any{"embedded_root": embedded.Version()}); err != nil {
			c.Close()
			return nil, fmt.Errorf("client: %w", err)
		}
	}
	set := c.loadCache()
	// The embedded root is the starting point when it is newer than the
	// cached one (docs/decisions.md, "Root at start-up"). It becomes trusted the way
	// a fetched root does, fast-forward recovery included, and is cached,
	// so that the cache and the trusted state describe the starting root.
	if set.root == nil || embedded.Version() > set.root.Version() {
		if err := c.trustRoot(set, embedded, cfg.TrustedRoot); err != nil {
			c.Close()
			return nil, fmt.Errorf("client: trusting the embedded root: %w", err)
		}
	}
	c.trusted.Store(set)
	return c, nil
}

// openState creates the state directory, opens and locks its store with
// openStore, removes the temporary files of interrupted writes, loads the
// trusted state and opens the audit log.
func (c *Client) openState(openStore func(dir string) (*rollback.FileStore, error)) error {
	if err := os.MkdirAll(c.cfg.StateDir, 0o755); err != nil {
		return fmt.Errorf("client: %w", err)
	}
	store, err := openStore(filepath.Join(c.cfg.StateDir, stateSubdir))
	if errors.Is(err, ErrLocked) {
		return fmt.Errorf("client: %w: one client per state directory (Open waits for it, Offline reads without it)", err)
	}
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	c.store, c.closeStore = store, store.Close
	c.sweepTemps()
	if c.state, err = c.store.Load(); err != nil {
		store.Close()
		return fmt.Errorf("client: %w", err)
	}
	if err := c.openAudit(); err != nil {
		if err := c.auditFailed("open", err); err != nil {
			store.Close()
			return fmt.Errorf("client: %w", err)
		}
	}
	return nil
}

// cacheExists reports whether timestamp, snapshot or targets metadata is
// cached: written only after the trusted state recorded a root (a crash
// during a first start leaves at most the root's).
func (c *Client) cacheExists() bool {
	for _, role := range []string{metadata.RoleTimestamp, metadata.RoleSnapshot, metadata.RoleTargets} {
		p, err := c.cachePath(role)
		if err != nil {
			continue
		}
		if _, err := os.Lstat(p); err == nil {
			return true
		}
	}
	return false
}

// Close releases the state directory. The client must not be used after.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Swap(true) {
		return nil
	}
	if c.auditLog != nil {
		if err := c.auditLog.Close(); err != nil {
			c.log.Error("closing the audit log", "err", err)
		}
	}
	return c.closeStore()
}

// cachePath is where role's metadata is cached: <StateDir>/<role>.json with
// the role name encoded reversibly (metadata.EncodeRoleName).
func (c *Client) cachePath(role string) (string, error) {
	name, err := cacheName(role)
	if err != nil {
		return "", err
	}
	return filepath.Join(c.cfg.StateDir, name), nil
}

// cacheName is the name of role's cache file in the state directory.
func cacheName(role string) (string, error) {
	enc, err := metadata.EncodeRoleName(role)
	if err != nil {
		return "", err
	}
	return enc + ".json", nil
}

// readCache returns the cached bytes of role if they are exactly the ones
// the trusted state records (docs/decisions.md, "The local disk": the store is the one
// authority; a cache file that does not match its record is treated as
// absent).
func (c *Client) readCache(role string) ([]byte, rollback.RoleRecord, bool) {
	b, rec, ok := c.readCacheFile(role)
	if !ok || !matchesRecord(b, rec) {
		if ok {
			c.log.Warn("metadata cache does not match the trusted state; ignoring it", "role", role)
		}
		return nil, rec, false
	}
	return b, rec, true
}

// readCacheFile returns the cached bytes of role and its record, unchecked.
func (c *Client) readCacheFile(role string) ([]byte, rollback.RoleRecord, bool) {
	c.stateMu.Lock()
	rec, ok := c.state.Roles[role]
	c.stateMu.Unlock()
	if !ok {
		return nil, rec, false
	}
	if c.unlocked != nil {
		b, ok := c.unlocked[role]
		return b, rec, ok
	}
	p, err := c.cachePath(role)
	if err != nil {
		return nil, rec, false
	}
	b, err := os.ReadFile(p)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			c.log.Warn("metadata cache unreadable", "role", role, "err", err)
		}
		return nil, rec, false
	}
	return b, rec, true
}

func matchesRecord(b []byte, rec rollback.RoleRecord) bool {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]) == rec.SHA256 && int64(len(b)) == rec.Length
}

// indexPath is where the index of the cached top-level targets metadata is
// kept (package internal/targetindex): beside the trusted state.
func (c *Client) indexPath() string {
	return filepath.Join(c.cfg.StateDir, stateSubdir, "targets.index")
}

// binding is what an index of the bytes rec records must name.
func binding(rec rollback.RoleRecord) (targetindex.Binding, bool) {
	d, err := hex.DecodeString(rec.SHA256)
	if err != nil || len(d) != sha256.Size {
		return targetindex.Binding{}, false
	}
	return targetindex.Binding{Length: rec.Length, SHA256: [sha256.Size]byte(d), Version: rec.Version, Root: rec.Root}, true
}

// writeIndex keeps the index of t, just verified from data and persisted,
// beside the trusted state, so that the next start reads only what it uses
// of the cache (reopenTargets). It is derived data: a failure costs speed,
// not safety, and is only logged.
//
// It is called right after persist recorded the bytes: the record's SHA-256
// is theirs, and hashing them again would cost as much as the index saves.
func (c *Client) writeIndex(t *metadata.Targets, data, chunks []byte) {
	c.stateMu.Lock()
	rec := c.state.Roles[metadata.RoleTargets]
	c.stateMu.Unlock()
	b, ok := binding(rec)
	if !ok || rec.Version != t.Version() || rec.Length != int64(len(data)) {
		return
	}
	lay, slots, offsets, err := targetindex.Build(t, data)
	if err == nil {
		// Derived data whose every byte is checked before use: a crash that
		// loses or tears it costs one full verification, less than fsyncs.
		err = atomicfile.WriteFileUnsynced(c.indexPath(), targetindex.Encode(data, chunks, b, lay, slots, offsets), 0o600)
	}
	if err != nil {
		c.log.Warn("targets index not written; the next start verifies the cache in full", "err", err)
	}
}

// cachedTargets is top-level targets metadata reopened from the cache
// through its index: read, chunk by chunk, as lookups need it.
type cachedTargets struct {
	rec rollback.RoleRecord
	ix  *targetindex.Index
	// broken: a lookup found a chunk that no longer matches; the next
	// Refresh fetches the document again.
	broken atomic.Bool
}

// reopenTargets reopens the cached top-level targets metadata through its
// index, without a second signature check, if the trusted state records
// that the current root's keys verified exactly those bytes and the index
// names that record (docs/decisions.md, "The local disk"). No error and no document
// means the index doesn't apply (another root).
func (c *Client) reopenTargets(rec rollback.RoleRecord, root *metadata.Root) (*metadata.Targets, *cachedTargets, error) {
	b, ok := binding(rec)
	if rec.Root == 0 || rec.Root != root.Version() || !ok {
		return nil, nil, nil
	}
	idx, err := targetindex.OpenFile(c.indexPath())
	if err != nil {
		return nil, nil, err
	}
	var data targetindex.File
	if c.unlocked != nil {
		// An offline view read the file whole, beside the trusted state.
		cached, ok := c.unlocked[metadata.RoleTargets]
		if !ok {
			return nil, nil, nil
		}
		data = bytes.NewReader(cached)
	} else {
		p, err := c.cachePath(metadata.RoleTargets)
		if err != nil {
			return nil, nil, err
		}
		if data, err = targetindex.OpenFile(p); err != nil {
			return nil, nil, err
		}
	}
	ix, err := targetindex.Open(idx, data, b)
	if err != nil {
		return nil, nil, err
	}
	doc, err := targetindex.Reopen(ix, metadata.RoleTargets)
	if err != nil {
		return nil, nil, err
	}
	t := doc.(*metadata.Targets)
	if t.Version() != rec.Version {
		return nil, nil, fmt.Errorf("index names targets v%d, the document is v%d", rec.Version, t.Version())
	}
	return t, &cachedTargets{rec: rec, ix: ix}, nil
}

// targetsMatch reports whether the trusted top-level targets are the file
// meta lists (spec §5.6.2), for the equal-version shortcut of §5.6.5: by
// their bytes, or, for a document reopened through its index, by the
// trusted state's record of them (hashing the whole file again is what the
// index avoids). Only a listed hash other than SHA-256 needs the bytes.
func (s *trustedSet) targetsMatch(meta metadata.MetaFile) bool {
	ct := s.cachedTargets
	if ct == nil {
		return meta.Check(s.targetsBytes) == nil
	}
	if ct.broken.Load() || (meta.Length >= 0 && meta.Length != ct.rec.Length) {
		return false
	}
	if d, ok := meta.Hashes["sha256"]; ok && len(meta.Hashes) == 1 {
		return hex.EncodeToString(d) == ct.rec.SHA256
	}
	if len(meta.Hashes) == 0 {
		return true
	}
	b, err := s.targetsData()
	return err == nil && meta.Check(b) == nil
}

// targetsData returns the bytes of the trusted top-level targets: those
// fetched, or all of the cached ones, each chunk checked (an error wraps
// ErrCacheCorrupt if one no longer matches).
func (s *trustedSet) targetsData() ([]byte, error) {
	if s.cachedTargets == nil {
		return s.targetsBytes, nil
	}
	return s.cachedTargets.ix.Data.Bytes(0, s.cachedTargets.ix.Data.Size())
}

// loadCache builds the trusted set the cache holds: the cached root (nil
// if there is none that verifies), and the cached timestamp, snapshot and
// targets verified again with its keys. Each stands alone: a snapshot kept
// by a timestamp-only fast-forward recovery is loaded without a timestamp.
// Expiry is not checked here: Refresh checks it, and the offline view
// reports it.
func (c *Client) loadCache() *trustedSet {
	set := &trustedSet{}
	b, rec, ok := c.readCache(metadata.RoleRoot)
	if !ok {
		return set
	}
	r, err := metadata.OpenRoot(b, nil)
	switch {
	case err != nil:
		c.log.Warn("cached root does not verify; ignoring it", "err", err)
		return set
	case r.Version() != rec.Version:
		c.log.Warn("cached root version differs from the trusted state; ignoring it", "version", r.Version())
		return set
	}
	set.root = r
	if b, rec, ok := c.readCache(metadata.RoleTimestamp); ok {
		if ts, err := metadata.OpenTimestamp(b, set.root); err == nil && ts.Version() == rec.Version {
			set.timestamp = ts
		}
	}
	if b, rec, ok := c.readCache(metadata.RoleSnapshot); ok {
		if sn, err := metadata.OpenSnapshot(b, set.root); err == nil && sn.Version() == rec.Version {
			set.snapshot, set.snapshotBytes = sn, b
		}
	}
	if set.snapshot == nil {
		return set
	}
	c.stateMu.Lock()
	rec, ok = c.state.Roles[metadata.RoleTargets]
	c.stateMu.Unlock()
	if !ok {
		return set
	}
	t, cached, err := c.reopenTargets(rec, set.root)
	if err != nil {
		c.log.Warn("targets index unusable; verifying the cache in full", "err", err)
	}
	if t != nil {
		set.targets, set.cachedTargets = t, cached
	} else if b, rec, ok := c.readCache(metadata.RoleTargets); ok {
		keys, _ := set.root.RoleKeys(metadata.RoleTargets)
		if t, err := metadata.OpenTargets(b, keys); err == nil && t.Version() == rec.Version {
			set.targets, set.targetsBytes = t, b
		}
	}
	return set
}

// persist writes verified metadata to the cache and then records it in the
// trusted state (docs/decisions.md write order: cache file, then record, both
// atomic). The record is checked first, so a version lower than trusted is
// refused before anything is written.
func (c *Client) persist(role string, data []byte, version, root int64) error {
	return c.persistStaged(role, data, version, root, nil)
}

// persistStaged is persist for data that st (if not nil) has hashed and
// written to a temporary file beside the cache while data was verified:
// recording it is then a rename. st is used up either way.
func (c *Client) persistStaged(role string, data []byte, version, root int64, st *staged) error {
	if st != nil {
		<-st.done
		if st.err != nil {
			c.log.Debug("staging the cache file failed; writing it again", "role", role, "err", st.err)
			st = nil
		}
	}
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	next := c.state.Clone()
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
	if st != nil {
		if err := st.commit(); err != nil {
			return fmt.Errorf("caching %s metadata: %w", role, err)
		}
	} else if err := c.writeCache(role, data); err != nil {
		return err
	}
	if err := c.store.Save(next); err != nil {
		return fmt.Errorf("recording %s v%d: %w", role, version, err)
	}
	c.state = next
	return nil
}

// staged is the cache file of a large document, hashed and written to a
// hidden temporary file beside the cache on the other cores while the
// document is verified: once it is, persisting it is a rename. Nothing
// reads the temporary file, and a document that fails a check has it
// removed (the cache file itself only ever holds verified bytes).
type staged struct {
	path   string
	done   chan struct{} // closed when the fields below are set
	sum    [sha256.Size]byte
	chunks []byte // the chunk hashes of the targets index, for top-level targets
	file   *atomicfile.File
	err    error
}

// stageMin is the size from which staging saves more than it costs.
const stageMin = 1 << 20

// stageCache starts staging data as the cache file of role; nil for a small
// document.
func (c *Client) stageCache(role string, data []byte) *staged {
	p, err := c.cachePath(role)
	if len(data) < stageMin || err != nil {
		return nil
	}
	st := &staged{path: p, done: make(chan struct{})}
	var wg sync.WaitGroup
	wg.Go(func() {
		f, err := atomicfile.CreateTemp(filepath.Dir(p), filepath.Base(p)+"-*")
		if err == nil {
			if _, err = f.Write(data); err == nil {
				if err = f.Chmod(0o644); err == nil {
					err = f.Sync()
				}
			}
			if err != nil {
				err = errors.Join(err, f.Abort())
			}
		}
		st.file, st.err = f, err
	})
	wg.Go(func() {
		if role == metadata.RoleTargets {
			st.chunks = targetindex.ChunkSums(data)
		}
		st.sum = sha256.Sum256(data)
	})
	go func() {
		wg.Wait()
		close(st.done)
	}()
	return st
}

// commit renames the staged file into place.
func (st *staged) commit() error { return st.file.Commit(st.path) }

// abort removes the staged file; nil does nothing.
func (st *staged) abort() {
	if st == nil {
		return
	}
	<-st.done
	if st.err == nil {
		_ = st.file.Abort() // nothing reads the temporary file, whatever becomes of it
	}
}

// writeCache replaces the cache file of role atomically.
func (c *Client) writeCache(role string, data []byte) error {
	p, err := c.cachePath(role)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(p, data, 0o644); err != nil {
		return fmt.Errorf("caching %s metadata: %w", role, err)
	}
	return nil
}

// floor returns the version of role recorded in the trusted state, 0 if none.
func (c *Client) floor(role string) int64 {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	return c.state.Roles[role].Version
}

// reset is the fast-forward recovery (spec §5.3.11) a new root calls for.
type reset int

const (
	resetNone reset = iota
	// resetTimestamp: the timestamp keys changed. The trusted timestamp,
	// and with it the floor it set on the snapshot version, is discarded;
	// the trusted snapshot stays, and with it the floors of targets and
	// delegated roles: the holder of a snapshot key that is still valid
	// must not be able to roll them back.
	resetTimestamp
	// resetSnapshot: the snapshot keys changed. The trusted timestamp and
	// snapshot are discarded, and every floor they set, on snapshot,
	// targets and delegated roles.
	resetSnapshot
)

// resetFor returns the recovery that next calls for after prev (none
// after no root: a first run).
func resetFor(prev, next *metadata.Root) reset {
	switch {
	case prev == nil:
		return resetNone
	case !prev.SameKeys(next, metadata.RoleSnapshot):
		return resetSnapshot
	case !prev.SameKeys(next, metadata.RoleTimestamp):
		return resetTimestamp
	}
	return resetNone
}

func (r reset) String() string {
	return [...]string{"none", "timestamp", "timestamp and snapshot"}[r]
}

// trustRoot makes next the trusted root of set. It is the one path by which
// a root becomes trusted, however it arrived: fetched by a refresh (spec
// §5.3.4-5.3.7 verified it) or embedded in a newer build of the
// application. It persists next with the fast-forward recovery its key
// changes call for (spec §5.3.8, §5.3.11, see resetFor), records the
// rotation, and applies both to set (applyRoot). set.root is nil on a first
// run.
func (c *Client) trustRoot(set *trustedSet, next *metadata.Root, data []byte) error {
	prev := set.root
	r := resetFor(prev, next)
	if err := c.persistRoot(data, next.Version(), r); err != nil {
		return err
	}
	if prev != nil {
		c.log.Info("root rotated", "role", metadata.RoleRoot, "from", prev.Version(), "version", next.Version(), "signers", next.Signers())
		if err := c.auditRotation(prev, next, r); err != nil {
			return err
		}
	}
	c.applyRoot(set, next, r)
	return nil
}

// applyRoot makes next the root of set in memory and drops from set what
// next no longer lets it trust (docs/decisions.md, "Revocation is
// immediate"): what the recovery r discards, and the targets metadata if
// it no longer verifies with next's targets keys. Delegated roles verified
// under an older targets document are verified again at their next lookup
// (memoKey).
func (c *Client) applyRoot(set *trustedSet, next *metadata.Root, r reset) {
	prev := set.root
	set.root = next
	switch r {
	case resetSnapshot:
		set.snapshot, set.snapshotBytes = nil, nil
		set.targets, set.targetsBytes, set.cachedTargets = nil, nil, nil
		fallthrough
	case resetTimestamp:
		set.timestamp = nil
		c.log.Warn("keys rotated: trusted metadata discarded (fast-forward recovery)", "root", next.Version(), "discarded", r.String())
	}
	if set.targets != nil && !prev.SameKeys(next, metadata.RoleTargets) {
		keys, _ := next.RoleKeys(metadata.RoleTargets)
		b, err := set.targetsData()
		if err == nil {
			_, err = metadata.OpenTargets(b, keys)
		}
		if err != nil {
			c.log.Warn("trusted targets metadata does not verify with the new root's keys; discarded", "root", next.Version(), "err", err)
			set.targets, set.targetsBytes, set.cachedTargets = nil, nil, nil
		}
	}
}

// persistRoot persists a root accepted by the root update (spec §5.3.8)
// like persist, together with the recovery r in the same save of the
// trusted state, which records the root version that allowed it (spec
// §5.3.11, fast-forward recovery); the cache files of the discarded roles
// are removed afterwards (without a record they would be ignored anyway). A
// root below the recorded floor (the chain is walked again after the
// cached root was lost) is not recorded, and a root not newer than it
// makes no reset: that was made when it was first trusted.
func (c *Client) persistRoot(data []byte, version int64, r reset) error {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	next := c.state.Clone()
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
	for role := range c.state.Roles {
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
	if err := c.writeCache(metadata.RoleRoot, data); err != nil {
		return err
	}
	if err := c.store.Save(next); err != nil {
		return fmt.Errorf("recording root v%d: %w", version, err)
	}
	c.state = next
	for _, role := range dropped {
		if p, err := c.cachePath(role); err == nil {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				c.log.Warn("removing cached metadata", "role", role, "err", err)
			}
		}
	}
	return nil
}
