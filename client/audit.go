package client

import (
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/latchsec/latch/internal/audit"
	"github.com/latchsec/latch/metadata"
)

// auditSubdir holds the audit log below Config.StateDir.
const auditSubdir = "audit"

// ErrAudit: the audit log could not be written. By default that is reported
// (Status, the log) and does not stop a security update; with
// WithAuditRequired it fails the operation.
var ErrAudit = errors.New("audit log not written")

// WithAuditRequired makes the audit log mandatory: an operation whose audit
// record can't be written fails with ErrAudit (after its effect, which the
// spec's workflow has already persisted). Without it a full disk doesn't
// block a security update; the failure is logged and shown in Status.
func WithAuditRequired() Option { return func(o *options) { o.auditRequired = true } }

// openAudit opens the audit log in the state directory. Its anchor (the
// last record: seq, hash and line) is kept in the trusted state, so that
// someone who can write the audit directory but not the state can't
// truncate, extend or rewrite the log unseen.
func (c *Client) openAudit() error {
	l, err := audit.Open(audit.Options{Dir: filepath.Join(c.cfg.StateDir, auditSubdir), Now: c.opts.clock}, c.disk)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrAudit, err)
	}
	c.auditLog = l
	return nil
}

// record appends an audit record. Its anchor is saved in the trusted state,
// with whatever was kept there before: a trust decision and its record are
// saved together. A failure is logged loudly and
// kept for Status; it is returned only when the log is mandatory.
func (c *Client) record(kind string, fields map[string]any) error {
	if c.auditLog == nil {
		return c.auditFailed(kind, errors.New("audit log not open"))
	}
	if _, err := c.auditLog.Append(kind, fields); err != nil {
		return c.auditFailed(kind, err)
	}
	return nil
}

func (c *Client) auditFailed(kind string, err error) error {
	err = fmt.Errorf("%w: %s record: %w", ErrAudit, kind, err)
	c.log.Error("AUDIT LOG NOT WRITTEN: the record of this trust decision is missing", "kind", kind, "err", err)
	c.statusMu.Lock()
	c.auditErr = err
	c.statusMu.Unlock()
	if c.opts.auditRequired {
		return err
	}
	return nil
}

// errorFields describes a rejection for the audit log: the message, and the
// Go type of its cause (see Status.LastErrorType).
func errorFields(err error) map[string]any {
	return map[string]any{"error": err.Error(), "type": errorType(err)}
}

// auditRefresh records the outcome of a refresh: the versions trusted per
// role, and on failure the reason.
func (c *Client) auditRefresh(ref time.Time, set *trustedSet, refreshErr error) error {
	fields := map[string]any{"reference_time": ref.Format(time.RFC3339Nano), "versions": setVersions(set)}
	if refreshErr != nil {
		for k, v := range errorFields(refreshErr) {
			fields[k] = v
		}
		return c.record(audit.KindReject, fields)
	}
	return c.record(audit.KindRefresh, fields)
}

func setVersions(set *trustedSet) map[string]int64 {
	v := map[string]int64{metadata.RoleRoot: set.root.Version()}
	if set.timestamp != nil {
		v[metadata.RoleTimestamp] = set.timestamp.Version()
	}
	if set.snapshot != nil {
		v[metadata.RoleSnapshot] = set.snapshot.Version()
	}
	if set.targets != nil {
		v[metadata.RoleTargets] = set.targets.Version()
	}
	return v
}

// auditRotation records an accepted root with the key IDs that signed it
// and the trusted metadata it discarded (fast-forward recovery).
func (c *Client) auditRotation(from, to *metadata.Root, r reset) error {
	return c.record(audit.KindRootRotation, map[string]any{"from": from.Version(), "to": to.Version(), "signers": to.Signers(), "discarded": r.String()})
}

// auditDownload records a download: target, length, hashes, mirror and
// outcome.
func (c *Client) auditDownload(t *Target, mirror, dest string, err error) error {
	hashes := map[string]string{}
	for alg, d := range t.tf.Hashes {
		hashes[alg] = hex.EncodeToString(d)
	}
	fields := map[string]any{"target": t.Path(), "role": t.Role(), "length": t.Length(), "hashes": hashes, "mirror": mirror, "dest": dest}
	if err != nil {
		fields["outcome"] = "refused"
		for k, v := range errorFields(err) {
			fields[k] = v
		}
	} else {
		fields["outcome"] = "verified"
	}
	return c.record(audit.KindDownload, fields)
}
