package client

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latchsec/latch/internal/audit"
	"github.com/latchsec/latch/internal/cacheopen"
	"github.com/latchsec/latch/internal/rawfile"
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
	// disk is the trusted state and the metadata cache (persist.go).
	disk persistence

	mu      sync.Mutex // serialises Refresh and Close
	closed  atomic.Bool
	trusted atomic.Pointer[trustedSet]

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
	// embeddedUnchecked: the embedded root was decoded without checking
	// its signatures, until confirmEmbedded finds its record.
	embeddedUnchecked bool
	// embeddedCached: the cached root file, read by openEmbedded, held the
	// embedded root's bytes, and the trusted state records them as the
	// root (confirmEmbedded): loadCache need not read the file again.
	embeddedCached bool

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
	// timestampBytes are the trusted timestamp's bytes and timestampRoot
	// the root whose keys verified them: a refresh that fetches the same
	// bytes under the same root does not check their signatures again
	// (sameTimestamp).
	timestampBytes []byte
	timestampRoot  *metadata.Root
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
	embedded, err := c.openEmbedded()
	if err != nil {
		return nil, nil, fmt.Errorf("client: embedded trusted root: %w", err)
	}
	return c, embedded, nil
}

// openEmbedded decodes the embedded root, Config.TrustedRoot, checking its
// signatures (§5.2) unless the state directory, opened by a client before,
// caches a root with the same bytes: those were verified when they were
// recorded, so confirmEmbedded checks the record once the trusted state is
// read, and verifies the embedded root only if it doesn't match. Either way
// a bad embedded root fails before its first use, and before anything is
// written: a directory no client opened yet (no state subdirectory) has its
// embedded root checked here.
func (c *Client) openEmbedded() (*metadata.Root, error) {
	if name, err := cacheName(metadata.RoleRoot); err == nil {
		_, err := os.Stat(filepath.Join(c.cfg.StateDir, stateSubdir))
		if b, rErr := rawfile.ReadFile(filepath.Join(c.cfg.StateDir, name)); err == nil && rErr == nil && bytes.Equal(b, c.cfg.TrustedRoot) {
			if r, err := reopenCached[*metadata.Root](metadata.RoleRoot, b); err == nil {
				c.embeddedUnchecked = true
				return r, nil
			}
		}
	}
	return openRoot(c.cfg.TrustedRoot, nil)
}

// confirmEmbedded returns the embedded root that openEmbedded decoded,
// once the trusted state is read: as it is if its bytes are those the
// trusted state records for the root, else with its signatures checked.
func (c *Client) confirmEmbedded(embedded *metadata.Root) (*metadata.Root, error) {
	if !c.embeddedUnchecked {
		return embedded, nil
	}
	c.embeddedUnchecked = false
	if rec, ok := c.disk.record(metadata.RoleRoot); ok && rec.Version == embedded.Version() && matchesRecord(c.cfg.TrustedRoot, rec) {
		c.embeddedCached = true
		return embedded, nil
	}
	r, err := openRoot(c.cfg.TrustedRoot, nil)
	if err != nil {
		return nil, fmt.Errorf("client: embedded trusted root: %w", err)
	}
	return r, nil
}

// reopenCached decodes data, the cached document of role, without checking
// its signatures: only for bytes that the trusted state records as verified
// under the root trusted now (docs/decisions.md, "The local disk").
func reopenCached[T any](role string, data []byte) (T, error) {
	doc, err := cacheopen.Reopen(role, data)
	if err != nil {
		var zero T
		return zero, err
	}
	return doc.(T), nil
}

// openClient is New with openStore to open and lock the state directory's
// store.
func openClient(cfg Config, opts []Option, openStore func(dir string) (*rollback.FileStore, error)) (*Client, error) {
	c, embedded, err := configure(cfg, opts)
	if err != nil {
		return nil, err
	}
	// Everything a start reads is read in this goroutine, one after the
	// other. Reading the audit log and the targets index in goroutines of
	// their own, beside the rest, was tried and measured slower in a new
	// process: starting goroutines (and the threads that run them), and
	// growing their stacks, cost more than the overlap saved.
	if err := c.openState(openStore); err != nil {
		return nil, err
	}
	if embedded, err = c.confirmEmbedded(embedded); err != nil {
		return nil, errors.Join(err, c.Close())
	}
	var recorded int
	c.disk.view(func(s *rollback.State) { recorded = len(s.Roles) })
	c.stateLost = recorded == 0 && c.disk.cacheExists()
	set := c.loadCache(embedded)
	if c.stateLost {
		c.log.Warn("trusted state missing while metadata is cached: starting over as on a first run, from the embedded root; every version floor was lost",
			"state", filepath.Join(cfg.StateDir, stateSubdir))
		if err := c.record(audit.KindStateLost, map[string]any{"embedded_root": embedded.Version()}); err != nil {
			c.Close()
			return nil, fmt.Errorf("client: %w", err)
		}
	}
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
	// Saved before a refresh caches anything else: a first start that
	// crashes later leaves a recorded root, not cached metadata without
	// any record (which would read as a lost trusted state).
	if err := c.disk.flush(); err != nil {
		c.Close()
		return nil, fmt.Errorf("client: recording the embedded root: %w", err)
	}
	c.trusted.Store(set)
	return c, nil
}

// openState creates the state directory, opens and locks its store with
// openStore, removes the temporary files of interrupted writes, loads the
// trusted state and opens the audit log.
func (c *Client) openState(openStore func(dir string) (*rollback.FileStore, error)) error {
	d, err := openStateDir(c.cfg.StateDir, c.log, openStore)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	c.disk = d
	if !d.closedBefore {
		c.sweepTemps()
	}
	if err := c.openAuditLog(); err != nil {
		c.disk.close()
		return err
	}
	return nil
}

// openAuditLog opens the audit log; a failure is an error only when the log
// is mandatory (auditFailed).
func (c *Client) openAuditLog() error {
	if err := c.openAudit(); err != nil {
		if err := c.auditFailed("open", err); err != nil {
			return fmt.Errorf("client: %w", err)
		}
	}
	return nil
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
	return c.disk.close()
}

// readCache returns the cached bytes of role if they are exactly the ones
// the trusted state records; see stateDir.cached.
func (c *Client) readCache(role string) ([]byte, rollback.RoleRecord, bool) {
	return c.disk.cached(role)
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

// The signature checks of roots, timestamps and snapshots, through
// variables so that tests can count them.
var (
	openRoot      = metadata.OpenRoot
	openTimestamp = metadata.OpenTimestamp
	openSnapshot  = metadata.OpenSnapshot
)

// openCached opens data, the cached document of role that the trusted state
// records as rec: reopened without a second signature check if the root
// whose keys verified it is root, the one trusted now, else verified with
// root's keys by open (after a rotation, revocation applies to the cache
// too: docs/decisions.md, "Revocation is immediate").
func openCached[T any](data []byte, rec rollback.RoleRecord, root *metadata.Root, role string, open func([]byte, *metadata.Root) (T, error)) (T, error) {
	if rec.Root == root.Version() {
		return reopenCached[T](role, data)
	}
	return open(data, root)
}

// loadCache builds the trusted set the cache holds: the cached root (nil
// if there is none that decodes), and the cached timestamp, snapshot and
// targets. Each stands alone: a snapshot kept by a timestamp-only
// fast-forward recovery is loaded without a timestamp. Every one was
// verified before the trusted state recorded it, and readCache returns only
// bytes that match their record, so none is verified again while the root
// whose keys verified it is still trusted (openCached); one recorded under
// an older root is verified with the current root's keys. Expiry is not
// checked here: Refresh checks it, and the offline view reports it.
// embedded is the embedded root, Config.TrustedRoot: a cached root with
// the same bytes is that root.
func (c *Client) loadCache(embedded *metadata.Root) *trustedSet {
	set := &trustedSet{}
	var b []byte
	var rec rollback.RoleRecord
	var ok bool
	if c.embeddedCached {
		b = c.cfg.TrustedRoot
		rec, ok = c.disk.record(metadata.RoleRoot)
	} else {
		b, rec, ok = c.readCache(metadata.RoleRoot)
	}
	if !ok {
		return set
	}
	r := embedded
	var err error
	if !bytes.Equal(b, c.cfg.TrustedRoot) {
		r, err = reopenCached[*metadata.Root](metadata.RoleRoot, b)
	}
	switch {
	case err != nil:
		c.log.Warn("cached root does not decode; ignoring it", "err", err)
		return set
	case r.Version() != rec.Version:
		c.log.Warn("cached root version differs from the trusted state; ignoring it", "version", r.Version())
		return set
	}
	set.root = r
	if b, rec, ok := c.readCache(metadata.RoleTimestamp); ok {
		if ts, err := openCached(b, rec, set.root, metadata.RoleTimestamp, openTimestamp); err == nil && ts.Version() == rec.Version {
			set.timestamp, set.timestampBytes, set.timestampRoot = ts, b, set.root
		}
	}
	if b, rec, ok := c.readCache(metadata.RoleSnapshot); ok {
		if sn, err := openCached(b, rec, set.root, metadata.RoleSnapshot, openSnapshot); err == nil && sn.Version() == rec.Version {
			set.snapshot, set.snapshotBytes = sn, b
		}
	}
	if set.snapshot == nil {
		return set
	}
	rec, ok = c.disk.record(metadata.RoleTargets)
	if !ok {
		return set
	}
	t, cached, err := c.disk.reopenTargets(rec, set.root.Version())
	if err != nil {
		c.log.Warn("targets index unusable; verifying the cache in full", "err", err)
	}
	if t != nil {
		set.targets, set.cachedTargets = t, cached
	} else if b, rec, ok := c.readCache(metadata.RoleTargets); ok {
		keys, _ := set.root.RoleKeys(metadata.RoleTargets)
		if t, vErr := metadata.OpenTargets(b, keys); vErr == nil && t.Version() == rec.Version {
			set.targets, set.targetsBytes = t, b
			if err != nil {
				// Verified in full: a new index spares the next start that.
				c.disk.writeIndex(t, b, nil)
			}
		}
	}
	return set
}

// persistStaged records verified metadata at once: it writes the cache
// file and saves its record (docs/decisions.md, "The local disk": cache
// file first, record after), with whatever was kept before. The record is
// checked first, so a version lower than trusted is refused before
// anything is written. st, if not nil, is the cache file staged while data
// was verified (stateDir.stage); recording it is then a rename. st is used up
// either way.
func (c *Client) persistStaged(role string, data []byte, version, root int64, st *staged) error {
	if err := c.disk.keep(role, data, version, root, st); err != nil {
		return err
	}
	if err := c.disk.flush(); err != nil {
		return fmt.Errorf("recording %s v%d: %w", role, version, err)
	}
	return nil
}

// floor returns the version of role recorded in the trusted state, 0 if none.
func (c *Client) floor(role string) int64 {
	rec, _ := c.disk.record(role)
	return rec.Version
}

// updateState applies change to a copy of the trusted state and saves it
// (atomically and durably: rollback.FileStore), with whatever was kept
// before.
func (c *Client) updateState(change func(*rollback.State) error) error {
	return c.disk.update(change)
}

// installed returns the build of app recorded as installed.
func (c *Client) installed(app string) (in rollback.Install, ok bool) {
	c.disk.view(func(s *rollback.State) { in, ok = s.Installed[app] })
	return in, ok
}

// failed reports whether the build of app with this hex SHA-256 failed its
// health check before.
func (c *Client) failed(app, sum string) (failed bool) {
	c.disk.view(func(s *rollback.State) { failed = s.IsFailed(app, sum) })
	return failed
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
// application. It keeps next with the fast-forward recovery its key
// changes call for (spec §5.3.8, §5.3.11, see resetFor), records the
// rotation (whose audit record saves both), and applies both to set
// (applyRoot). set.root is nil on a first run.
func (c *Client) trustRoot(set *trustedSet, next *metadata.Root, data []byte) error {
	prev := set.root
	r := resetFor(prev, next)
	if err := c.disk.keepRoot(data, next.Version(), r); err != nil {
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
		set.timestamp, set.timestampBytes, set.timestampRoot = nil, nil, nil
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
