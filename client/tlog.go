package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/latchsec/latch/internal/atomicfile"
	"github.com/latchsec/latch/internal/audit"
	"github.com/latchsec/latch/internal/translog"
	"github.com/latchsec/latch/metadata"
	"github.com/latchsec/latch/rollback"
	"github.com/latchsec/latch/transparency"
	"golang.org/x/mod/sumdb/tlog"
)

// TransparencyLog is an application's release-transparency policy: the
// vendor appends every release it publishes to a public append-only log,
// and the client installs a covered target only once the log proves that it
// holds exactly that release. A release signed with a stolen targets key
// for one victim is then either in the log, where the vendor's monitor sees
// it, or refused.
//
// The policy comes from the application, like its trusted root: nothing a
// repository signs can change or switch it off, since a stolen targets key
// must not be able to.
//
// The log follows C2SP tlog-tiles with C2SP tlog-checkpoint checkpoints
// (Tessera writes such logs). A covered target's signed custom data names
// its entry, {"tlog": {"index": N}}, and the entry there must be exactly
// the target: this Repository, the target path, its length and SHA-256
// (see the publish example for the entry format).
type TransparencyLog struct {
	// URLs are the log's URL prefixes, mirrors in order of preference: the
	// checkpoint is at <URL>/checkpoint, tiles at <URL>/tile/... Required.
	URLs []string
	// Origin is the log's identity, the first line of its checkpoints.
	// Required.
	Origin string
	// Key is the log's Ed25519 note verifier key,
	// "<name>+<key ID>+<base64 key>". Required.
	Key string
	// WitnessKeys are cosignature/v1 verifier keys of witnesses (C2SP
	// tlog-cosignature); WitnessThreshold of them, distinct, must cosign
	// every checkpoint. A witness vouches that it saw no other tree of
	// the log, so a log that shows this client a tree of its own needs
	// their keys too. WitnessThreshold is 0 without witnesses and 1 to
	// len(WitnessKeys) with them.
	WitnessKeys      []string
	WitnessThreshold int
	// Repository is the repository name in the log's entries (publish
	// log-init -repository). Default: Origin.
	Repository string
	// Paths are the target path patterns the policy covers, as delegation
	// paths are written (spec §4.5: "*" matches within one path segment,
	// so "myapp/*/*" covers myapp's releases). Empty: every target.
	Paths []string
	// OfflineMaxAgeUnsafe lets DownloadFile (and Apply) accept a covered
	// target without reaching the log, when no log mirror can be reached
	// (fetch failures only: a log that answers and fails a check is never
	// bypassed), if this client proved the same entry before and the
	// latest checkpoint it verified online is at most this old. Within
	// that window a log that forked since is not noticed. Zero (the
	// default): never; a covered download needs the log.
	OfflineMaxAgeUnsafe time.Duration
}

// Release transparency errors, each matched with errors.Is; the typed
// errors beside them carry the evidence. They are defined in package
// transparency (with a few more: a malformed log, a checkpoint's signature
// or origin in detail) and are the same values here.
var (
	// ErrNotLogged: the log does not hold the target's entry, or the
	// target names none. See *NotLoggedError.
	ErrNotLogged = transparency.ErrNotLogged
	// ErrWrongLogEntry: the log proves a different entry at the index the
	// target names. See *WrongLogEntryError.
	ErrWrongLogEntry = transparency.ErrWrongEntry
	// ErrInvalidLogProof: tiles or an entry bundle that do not hash to the
	// signed checkpoint.
	ErrInvalidLogProof = transparency.ErrInvalidProof
	// ErrLogSignature: a checkpoint not validly signed by the log key.
	ErrLogSignature = transparency.ErrLogSignature
	// ErrLogOrigin: a checkpoint of another log.
	ErrLogOrigin = transparency.ErrOrigin
	// ErrLogWitness: fewer witness cosignatures than the threshold, or an
	// invalid one. See *LogWitnessError.
	ErrLogWitness = transparency.ErrWitness
	// ErrLogRollback: a checkpoint of a smaller tree than the one trusted
	// (a stale mirror, or a rollback attack). See *LogConflictError.
	ErrLogRollback = transparency.ErrRollback
	// ErrSplitView: a checkpoint whose tree does not extend the trusted
	// one: the log shows different histories to different clients. See
	// *LogConflictError, which carries both signed checkpoints.
	ErrSplitView = transparency.ErrSplitView
)

// Typed errors of release transparency.
type (
	// NotLoggedError reports a target the log does not hold.
	NotLoggedError = transparency.NotLoggedError
	// WrongLogEntryError reports the entry the log proves at the target's
	// index, which is not the target.
	WrongLogEntryError = transparency.WrongEntryError
	// LogWitnessError reports the witnesses that cosigned, and the
	// threshold.
	LogWitnessError = transparency.WitnessError
	// LogConflictError reports a checkpoint that contradicts the trusted
	// one, with both signed notes as evidence.
	LogConflictError = transparency.ConflictError
	// LogCheckpoint is a verified checkpoint.
	LogCheckpoint = transparency.Checkpoint
	// LogEntry is one release in the log.
	LogEntry = transparency.Entry
)

// validate checks the policy; the errors are *OptionError.
func (p *TransparencyLog) validate() (*translog.Verifier, error) {
	bad := func(field, format string, args ...any) (*translog.Verifier, error) {
		return nil, &OptionError{Option: "Config.TransparencyLog." + field, Reason: fmt.Sprintf(format, args...)}
	}
	if len(p.URLs) == 0 {
		return bad("URLs", "required")
	}
	for _, u := range p.URLs {
		if _, err := baseURL(u); err != nil {
			return bad("URLs", "%v", err)
		}
	}
	if _, err := (transparency.Entry{Repository: p.repository(), Path: "x"}).Marshal(); err != nil {
		return bad("Repository", "%q: no spaces or control characters", p.repository())
	}
	for _, pat := range p.Paths {
		if _, err := filepath.Match(pat, ""); err != nil || pat == "" {
			return bad("Paths", "%q is not a path pattern", pat)
		}
	}
	if p.OfflineMaxAgeUnsafe < 0 {
		return bad("OfflineMaxAgeUnsafe", "negative %s", p.OfflineMaxAgeUnsafe)
	}
	v, err := translog.NewVerifier(translog.Policy{Origin: p.Origin, LogKey: p.Key, WitnessKeys: p.WitnessKeys, WitnessThreshold: p.WitnessThreshold})
	if err != nil {
		return bad("Key", "%v", err)
	}
	return v, nil
}

func (p *TransparencyLog) repository() string {
	if p.Repository == "" {
		return p.Origin
	}
	return p.Repository
}

// covers reports whether the policy applies to target path.
func (p *TransparencyLog) covers(path string) bool {
	return len(p.Paths) == 0 || (metadata.DelegatedRole{Paths: p.Paths}).Matches(path)
}

// transparency is a client's release-transparency checker.
type releaseLog struct {
	policy   TransparencyLog
	verifier *translog.Verifier
	urls     []string
	dir      string // cached tiles and proofs: <StateDir>/transparency/<hash of origin>
	// mu serialises checks: each may move the trusted checkpoint.
	mu sync.Mutex
	// monitorMu serialises MonitorLog calls: each moves the monitor's
	// position.
	monitorMu sync.Mutex
}

// transparencySubdir holds each log's cached tiles and inclusion proofs
// below Config.StateDir.
const transparencySubdir = "transparency"

func newTransparency(cfg Config) (*releaseLog, error) {
	p := cfg.TransparencyLog
	if p == nil {
		return nil, nil
	}
	v, err := p.validate()
	if err != nil {
		return nil, err
	}
	tr := &releaseLog{policy: *p, verifier: v}
	for _, u := range p.URLs {
		b, _ := baseURL(u)
		tr.urls = append(tr.urls, b)
	}
	sum := sha256.Sum256([]byte(p.Origin))
	tr.dir = filepath.Join(cfg.StateDir, transparencySubdir, hex.EncodeToString(sum[:8]))
	return tr, nil
}

// logEntry returns the entry a covered target must have in the log, and its
// index from the target's signed custom data.
func (tr *releaseLog) logEntry(t *Target) (transparency.Entry, int64, error) {
	notLogged := func(reason string) (transparency.Entry, int64, error) {
		return transparency.Entry{}, 0, &NotLoggedError{Index: -1, Reason: reason}
	}
	var custom struct {
		TLog *struct {
			Index *int64 `json:"index"`
		} `json:"tlog"`
	}
	if len(t.tf.Custom) == 0 || json.Unmarshal(t.tf.Custom, &custom) != nil || custom.TLog == nil || custom.TLog.Index == nil {
		return notLogged(`its signed custom data names no log entry ("tlog": {"index": N})`)
	}
	if *custom.TLog.Index < 0 {
		return notLogged(fmt.Sprintf("its signed custom data names log index %d", *custom.TLog.Index))
	}
	digest, ok := t.tf.Hashes["sha256"]
	if !ok || len(digest) != sha256.Size {
		return notLogged("it lists no sha256, which its log entry would name")
	}
	e := transparency.Entry{Repository: tr.policy.repository(), Path: t.Path(), Length: t.Length(), SHA256: [sha256.Size]byte(digest)}
	if _, err := e.Marshal(); err != nil {
		return notLogged(fmt.Sprintf("its path can't be a log entry (%v)", err))
	}
	return e, *custom.TLog.Index, nil
}

// ProveLogged proves, for a target that Config.TransparencyLog covers,
// that the log holds exactly its entry, under a checkpoint consistent with
// the trusted one, which then moves forward; it returns nil at once for a
// target the policy does not cover, or without a policy. DownloadFile and
// Apply call it before they fetch a target; call it yourself before using
// a file you verified with Cached instead. Every check, passed or failed,
// is recorded in the audit log.
func (c *Client) ProveLogged(ctx context.Context, t *Target) error {
	if c.closed.Load() {
		return &TargetError{Path: t.Path(), Err: ErrClosed}
	}
	if err := c.checkLogged(ctx, t); err != nil {
		return &TargetError{Path: t.Path(), Err: err}
	}
	return nil
}

// checkLogged is ProveLogged without the wrapping.
func (c *Client) checkLogged(ctx context.Context, t *Target) error {
	tr := c.transparency
	if tr == nil || !tr.policy.covers(t.Path()) {
		return nil
	}
	fields := map[string]any{"target": t.Path(), "log": tr.policy.Origin}
	want, index, err := tr.logEntry(t)
	if err == nil {
		fields["index"] = index
		err = c.proveLogged(ctx, tr, index, want, fields)
	}
	if err != nil {
		fields["outcome"] = "refused"
		for k, v := range errorFields(err) {
			fields[k] = v
		}
		var ce *LogConflictError
		if errors.As(err, &ce) && errors.Is(ce.Err, ErrSplitView) {
			fields["evidence"] = map[string]any{"trusted": string(ce.Trusted.Note), "checkpoint": string(ce.Got.Note)}
			c.log.Error("TRANSPARENCY LOG SPLIT VIEW: the log signed two histories; keep the evidence", "log", tr.policy.Origin,
				"trusted", string(ce.Trusted.Note), "checkpoint", string(ce.Got.Note))
		}
		if aerr := c.record(audit.KindTransparency, fields); aerr != nil {
			return errors.Join(err, aerr)
		}
		return err
	}
	return c.record(audit.KindTransparency, fields)
}

// proveLogged runs the log checks with tr.mu held, and on success moves the
// trusted checkpoint forward and keeps the inclusion proof.
func (c *Client) proveLogged(ctx context.Context, tr *releaseLog, index int64, want transparency.Entry, fields map[string]any) error {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	now := c.opts.clock().UTC()
	trusted := c.trustedCheckpoint(tr.policy.Origin)
	cp, inc, err := c.proveOnline(ctx, tr, trusted, index, want)
	if err != nil {
		if cached := c.proveOffline(ctx, tr, trusted, index, want, now, err); cached != nil {
			c.log.Warn("transparency log unreachable; accepting a proof verified before", "log", tr.policy.Origin, "index", index,
				"checkpoint_size", cached.Size, "verified", c.logVerified(tr.policy.Origin), "err", err)
			fields["outcome"], fields["checkpoint_size"] = "verified-offline", cached.Size
			return nil
		}
		return err
	}
	if err := c.advanceLog(cp, now); err != nil {
		return err
	}
	tr.keepInclusion(c, cp, inc)
	fields["outcome"], fields["checkpoint_size"] = "verified", cp.Size
	return nil
}

// trustedCheckpoint returns the latest checkpoint of origin that this
// client verified, nil if none.
func (c *Client) trustedCheckpoint(origin string) *transparency.Checkpoint {
	var rec rollback.LogCheckpoint
	var ok bool
	c.disk.view(func(s *rollback.State) { rec, ok = s.Logs[origin] })
	if !ok {
		return nil
	}
	h, err := tlog.ParseHash(rec.Hash) // rollback checked it is 32 bytes of base64
	if err != nil {
		return nil
	}
	return &transparency.Checkpoint{Origin: origin, Size: rec.Size, Hash: h, Note: []byte(rec.Note)}
}

func (c *Client) logVerified(origin string) (verified time.Time) {
	c.disk.view(func(s *rollback.State) { verified = s.Logs[origin].Verified })
	return verified
}

// advanceLog records cp as the trusted checkpoint, verified at now.
func (c *Client) advanceLog(cp *transparency.Checkpoint, now time.Time) error {
	err := c.disk.update(func(s *rollback.State) error {
		return s.AdvanceLog(cp.Origin, rollback.LogCheckpoint{Size: cp.Size, Hash: cp.Hash.String(), Note: string(cp.Note), Verified: now})
	})
	if err != nil {
		return fmt.Errorf("recording log %s at size %d: %w", cp.Origin, cp.Size, err)
	}
	return nil
}

// logMirror serves one log mirror's files with the metadata transport
// rules: size limit, header and per-file timeouts.
type logMirror struct {
	c    *Client
	base string
}

func (m logMirror) Fetch(ctx context.Context, path string, max int64) ([]byte, error) {
	return m.c.fetchBytes(ctx, m.base+path, max)
}

// proveOnline tries each log mirror in turn (those that timed out lately
// last): fetch and verify its checkpoint, prove it consistent with trusted,
// and prove the entry at index is want. A mirror that fails for any reason
// is skipped, except that evidence of a split view stops the search. A
// checkpoint that verified and extends trusted becomes the reference for the
// mirrors after it, so two mirrors can't show two histories either.
func (c *Client) proveOnline(ctx context.Context, tr *releaseLog, trusted *transparency.Checkpoint, index int64, want transparency.Entry) (*transparency.Checkpoint, *translog.Inclusion, error) {
	merr := &MirrorError{File: fmt.Sprintf("entry %d of log %s", index, tr.policy.Origin)}
	for _, base := range c.health.order(tr.urls) {
		l, err := translog.NewLog(tr.verifier, logMirror{c, base}, translog.Options{Cache: tileCache{c, tr.dir}})
		if err != nil {
			return nil, nil, err
		}
		cp, err := l.Checkpoint(ctx)
		if err == nil {
			err = l.Consistent(ctx, trusted, cp)
		}
		if err == nil && (trusted == nil || cp.Size > trusted.Size) {
			trusted = cp
		}
		var inc *translog.Inclusion
		if err == nil {
			inc, err = l.Prove(ctx, cp, index, want)
		}
		c.health.record(base, c.opts.clock(), err)
		if err == nil {
			return cp, inc, nil
		}
		c.log.Warn("transparency log mirror failed", "log", tr.policy.Origin, "mirror", base, "index", index, "err", err)
		merr.Mirrors = append(merr.Mirrors, base)
		merr.Errs = append(merr.Errs, err)
		if errors.Is(err, ErrSplitView) || ctx.Err() != nil {
			break
		}
	}
	return nil, nil, merr
}

// proveOffline returns the checkpoint of a proof of the entry kept from an
// earlier check, if the policy allows it now: every mirror failed to answer
// (fetchErr holds only fetch failures), and the trusted checkpoint was
// verified online at most OfflineMaxAgeUnsafe ago. The kept proof is read
// as untrusted input and checked in full.
func (c *Client) proveOffline(ctx context.Context, tr *releaseLog, trusted *transparency.Checkpoint, index int64, want transparency.Entry, now time.Time, fetchErr error) *transparency.Checkpoint {
	maxAge := tr.policy.OfflineMaxAgeUnsafe
	if maxAge <= 0 || trusted == nil || ctx.Err() != nil || !onlyUnreachable(fetchErr) {
		return nil
	}
	if age := now.Sub(c.logVerified(tr.policy.Origin)); age < 0 || age > maxAge {
		return nil
	}
	cp, inc, err := tr.loadInclusion(index)
	if err != nil {
		return nil
	}
	if cp.Size > trusted.Size || (cp.Size == trusted.Size && cp.Hash != trusted.Hash) {
		return nil
	}
	if err := translog.CheckInclusion(cp, inc, want); err != nil {
		c.log.Warn("kept inclusion proof does not verify; ignoring it", "log", tr.policy.Origin, "index", index, "err", err)
		return nil
	}
	return cp
}

// onlyUnreachable reports whether every mirror's error in err is a failure
// to fetch, not a failed check.
func onlyUnreachable(err error) bool {
	var merr *MirrorError
	if !errors.As(err, &merr) || len(merr.Errs) == 0 {
		return false
	}
	for _, e := range merr.Errs {
		var fe *transparency.FetchError
		if !errors.As(e, &fe) || errors.Is(e, ErrInvalidLogProof) {
			return false
		}
	}
	return true
}

// keptInclusion is an inclusion proof kept for offline use: read back as
// untrusted input.
type keptInclusion struct {
	Checkpoint string   `json:"checkpoint"` // the signed note it was proven under
	Index      int64    `json:"index"`
	Entry      []byte   `json:"entry"`
	Proof      []string `json:"proof"` // base64 hashes
}

func (tr *releaseLog) inclusionPath(index int64) string {
	return filepath.Join(tr.dir, "entries", strconv.FormatInt(index, 10)+".json")
}

// keepInclusion stores inc, proven under cp, for offline use. It is
// derived data: a failure is only logged.
func (tr *releaseLog) keepInclusion(c *Client, cp *transparency.Checkpoint, inc *translog.Inclusion) {
	k := keptInclusion{Checkpoint: string(cp.Note), Index: inc.Index, Entry: inc.Entry}
	for _, h := range inc.Proof {
		k.Proof = append(k.Proof, h.String())
	}
	b, err := json.Marshal(k)
	if err == nil {
		p := tr.inclusionPath(inc.Index)
		if err = os.MkdirAll(filepath.Dir(p), 0o755); err == nil {
			err = atomicfile.WriteFile(p, b, 0o644)
		}
	}
	if err != nil {
		c.log.Warn("inclusion proof not kept; offline use will need the log", "index", inc.Index, "err", err)
	}
}

// loadInclusion reads back a kept proof and verifies its checkpoint's
// signatures again.
func (tr *releaseLog) loadInclusion(index int64) (*transparency.Checkpoint, *translog.Inclusion, error) {
	b, err := os.ReadFile(tr.inclusionPath(index))
	if err != nil {
		return nil, nil, err
	}
	var k keptInclusion
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, nil, err
	}
	cp, err := tr.verifier.Open([]byte(k.Checkpoint))
	if err != nil {
		return nil, nil, err
	}
	inc := &translog.Inclusion{Index: k.Index, Entry: k.Entry}
	for _, s := range k.Proof {
		h, err := tlog.ParseHash(s)
		if err != nil {
			return nil, nil, err
		}
		inc.Proof = append(inc.Proof, h)
	}
	if inc.Index != index {
		return nil, nil, fmt.Errorf("kept proof of index %d under the name of %d", inc.Index, index)
	}
	return cp, inc, nil
}

// tileCache keeps verified full tiles of a log in its transparency
// directory, for the translog package (which checks them again on use).
type tileCache struct {
	c   *Client
	dir string
}

func (tc tileCache) Load(path string) ([]byte, bool) {
	if !fs.ValidPath(path) {
		return nil, false
	}
	b, err := os.ReadFile(filepath.Join(tc.dir, filepath.FromSlash(path)))
	return b, err == nil
}

func (tc tileCache) Store(path string, data []byte) {
	if !fs.ValidPath(path) {
		return
	}
	p := filepath.Join(tc.dir, filepath.FromSlash(path))
	err := os.MkdirAll(filepath.Dir(p), 0o755)
	if err == nil {
		err = atomicfile.WriteFile(p, data, 0o644)
	}
	if err != nil {
		tc.c.log.Debug("log tile not cached", "tile", path, "err", err)
	}
}
