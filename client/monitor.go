package client

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/latchsec/latch/internal/atomicfile"
	"github.com/latchsec/latch/internal/audit"
	"github.com/latchsec/latch/internal/translog"
	"github.com/latchsec/latch/transparency"
)

// UnknownLogEntry is an entry of the transparency log that is not a release
// the repository signs: what a vendor's monitor watches for (a release
// signed with a stolen key, or by a compromised build system, that the
// thief had to log to have it installed).
type UnknownLogEntry struct {
	Index int64
	// Entry is the release the entry names; nil when the entry is not a
	// release entry at all (then Raw is all there is).
	Entry *LogEntry
	// Raw is the entry as the log holds it.
	Raw []byte
	// Reason says why the entry is unknown: not a release entry, an entry
	// for another repository, a target the repository does not list, or
	// one it lists with other bytes.
	Reason string
}

// LogMonitorResult describes one MonitorLog call: the entries From to
// To-1 were checked, under Checkpoint.
type LogMonitorResult struct {
	From, To   int64
	Checkpoint *LogCheckpoint
	// Unknown is how many of them were reported as unknown.
	Unknown int
}

// logPosition is where the monitor of a log stopped, kept in the log's
// directory below the state directory and read back as untrusted input:
// the next index to check and the signed checkpoint that covered every
// entry before it.
type logPosition struct {
	Next       int64  `json:"next"`
	Checkpoint string `json:"checkpoint"`
}

// MonitorLog is the vendor's (or anyone's) watch on the transparency log of
// Config.TransparencyLog: it verifies the log's checkpoint, proves it
// consistent with the one the previous call saw, reads every entry added
// since (each proven to be in the log) and checks it against what the
// repository signs now, as the last Refresh left it (refresh first:
// without one, the lookups fail with ErrNotRefreshed). It calls report for
// each entry that is not a release the repository signs with the same
// length and SHA-256; an error from report stops the call.
//
// The client keeps where it stopped (the next entry, and the checkpoint it
// was read under) in its state directory, and the next call starts there,
// but only once every entry was checked and reported. A log that
// contradicts the checkpoint of the previous call is a *LogConflictError
// (ErrSplitView or ErrLogRollback) with both signed checkpoints, which is
// also recorded in the audit log: keep it as evidence. Log mirrors are
// tried in turn for the checkpoint; the first that verifies is read.
//
// Without Config.TransparencyLog, MonitorLog fails with an *OptionError.
func (c *Client) MonitorLog(ctx context.Context, report func(UnknownLogEntry) error) (LogMonitorResult, error) {
	if c.closed.Load() {
		return LogMonitorResult{}, ErrClosed
	}
	tr := c.transparency
	if tr == nil {
		return LogMonitorResult{}, &OptionError{Option: "Config.TransparencyLog", Reason: "MonitorLog needs the log's policy"}
	}
	tr.monitorMu.Lock()
	defer tr.monitorMu.Unlock()
	pos, prev, err := tr.loadPosition()
	if err != nil {
		return LogMonitorResult{}, err
	}
	l, cp, err := c.monitorCheckpoint(ctx, tr, prev)
	if err != nil {
		return LogMonitorResult{}, err
	}
	res := LogMonitorResult{From: pos.Next, To: cp.Size, Checkpoint: cp}
	err = l.Entries(ctx, cp, pos.Next, func(i int64, raw []byte) error {
		u, err := c.checkLogEntry(ctx, tr, i, raw)
		if err != nil || u == nil {
			return err
		}
		res.Unknown++
		c.log.Error("UNKNOWN LOG ENTRY: the log holds a release the repository does not sign", "log", tr.policy.Origin,
			"index", i, "reason", u.Reason)
		return report(*u)
	})
	if err != nil {
		return LogMonitorResult{}, err
	}
	if err := tr.savePosition(logPosition{Next: cp.Size, Checkpoint: string(cp.Note)}); err != nil {
		return LogMonitorResult{}, err
	}
	return res, c.record(audit.KindTransparency, map[string]any{"log": tr.policy.Origin, "outcome": "monitored",
		"from": res.From, "to": res.To, "unknown": res.Unknown})
}

// monitorCheckpoint returns the first log mirror whose checkpoint verifies
// and is consistent with prev, and that checkpoint. A conflict with prev
// stops the search and is recorded in the audit log.
func (c *Client) monitorCheckpoint(ctx context.Context, tr *releaseLog, prev *transparency.Checkpoint) (*translog.Log, *transparency.Checkpoint, error) {
	merr := &MirrorError{File: "checkpoint of log " + tr.policy.Origin}
	for _, base := range c.health.order(tr.urls) {
		l, err := translog.NewLog(tr.verifier, logMirror{c, base}, translog.Options{MaxBundleSize: translog.MaxBundleSize, Cache: tileCache{c, tr.dir}})
		if err != nil {
			return nil, nil, err
		}
		cp, err := l.Checkpoint(ctx)
		if err == nil {
			err = l.Consistent(ctx, prev, cp)
		}
		c.health.record(base, c.opts.clock(), err)
		if err == nil {
			return l, cp, nil
		}
		var ce *LogConflictError
		if errors.As(err, &ce) {
			fields := map[string]any{"log": tr.policy.Origin, "outcome": "monitor-conflict", "mirror": base,
				"evidence": map[string]any{"trusted": string(ce.Trusted.Note), "checkpoint": string(ce.Got.Note)}}
			for k, v := range errorFields(err) {
				fields[k] = v
			}
			return nil, nil, errors.Join(err, c.record(audit.KindTransparency, fields))
		}
		c.log.Warn("transparency log mirror failed", "log", tr.policy.Origin, "mirror", base, "err", err)
		merr.Mirrors = append(merr.Mirrors, base)
		merr.Errs = append(merr.Errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, nil, merr
}

// checkLogEntry returns entry i described as unknown if the repository
// does not sign the release it names, nil if it does.
func (c *Client) checkLogEntry(ctx context.Context, tr *releaseLog, i int64, raw []byte) (*UnknownLogEntry, error) {
	u := &UnknownLogEntry{Index: i, Raw: raw}
	e, err := transparency.ParseEntry(raw)
	if err != nil {
		u.Reason = "not a release entry: " + err.Error()
		return u, nil
	}
	u.Entry = &e
	if repo := tr.policy.repository(); e.Repository != repo {
		u.Reason = fmt.Sprintf("an entry for repository %q, not %q", e.Repository, repo)
		return u, nil
	}
	t, err := c.Target(ctx, e.Path)
	if errors.Is(err, ErrUnknownTarget) {
		u.Reason = "the repository lists no such target"
		return u, nil
	}
	if err != nil {
		return nil, err
	}
	if sum := t.Hashes()["sha256"]; t.Length() != e.Length || !bytes.Equal(sum, e.SHA256[:]) {
		u.Reason = fmt.Sprintf("the repository signs other bytes for this target (%d bytes, sha256 %s)", t.Length(), hex.EncodeToString(sum))
		return u, nil
	}
	return nil, nil
}

// positionPath is where the monitor keeps its position.
func (tr *releaseLog) positionPath() string { return filepath.Join(tr.dir, "monitor.json") }

// loadPosition reads the monitor's position and verifies its checkpoint
// again; none yet is the start of the log.
func (tr *releaseLog) loadPosition() (logPosition, *transparency.Checkpoint, error) {
	var pos logPosition
	p := tr.positionPath()
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return pos, nil, nil
	}
	if err != nil {
		return pos, nil, fmt.Errorf("client: log monitor position: %w", err)
	}
	if err := json.Unmarshal(b, &pos); err != nil {
		return pos, nil, fmt.Errorf("client: log monitor position %s: %w", p, err)
	}
	cp, err := tr.verifier.Open([]byte(pos.Checkpoint))
	if err != nil {
		return pos, nil, fmt.Errorf("client: log monitor position %s: its checkpoint: %w", p, err)
	}
	if pos.Next != cp.Size {
		return pos, nil, fmt.Errorf("client: log monitor position %s: next entry %d, but its checkpoint has %d", p, pos.Next, cp.Size)
	}
	return pos, cp, nil
}

func (tr *releaseLog) savePosition(pos logPosition) error {
	b, err := json.Marshal(pos)
	if err != nil {
		return err
	}
	p := tr.positionPath()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("client: log monitor position: %w", err)
	}
	if err := atomicfile.WriteFile(p, b, 0o644); err != nil {
		return fmt.Errorf("client: log monitor position: %w", err)
	}
	return nil
}
