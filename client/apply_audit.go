package client

import (
	"encoding/json"
	"strconv"

	"github.com/latchsec/latch/internal/audit"
	"github.com/latchsec/latch/internal/selfupdate"
)

// Every operation on the executable (an install, whatever its outcome, or
// a revert) has exactly one audit record, whatever instant a crash comes
// at. The self-update journal keeps the operation that ended, in the same
// write that ends it, until its record is in the log (selfupdate.Ended);
// the operation carries the audit log's head from when it began
// (Hooks.Mark), so that after a crash between the record and the journal
// forgetting the operation, the records that follow that head tell
// whether it was written. See docs/decisions.md, "Releases and audit".

// applied is what the process that ran an operation knows of it: the
// release Apply installed (nil for RevertUnsafe) and why that failed (nil
// if it did not).
type applied struct {
	info  *ReleaseInfo
	cause error
}

// auditEnded writes the audit record of the operation on u's executable
// that ended last, unless the log has it already, and then lets the
// journal forget it. a describes the operation this process just ran; nil,
// or an operation that is not a's, is one a crash kept from the log, and
// its record says it was recovered. It returns a.cause if any, else an
// audit failure if WithAuditRequired (the journal then keeps the
// operation, for the next start to record), else a journal that can't be
// read.
func (c *Client) auditEnded(u *selfupdate.Updater, app string, a *applied) error {
	var cause error
	if a != nil {
		cause = a.cause
	}
	e, err := u.Ended()
	if err == nil && e != nil {
		if a != nil && !a.ran(e) {
			a = nil
		}
		kind, fields := endedRecord(app, e, a)
		if !c.recorded(e, kind) {
			err = c.record(kind, fields)
		}
		if err == nil {
			if ferr := u.Recorded(e); ferr != nil {
				// The record is in the log: the next start finds it.
				c.log.Warn("self-update journal not updated after the audit record", "app", app, "err", ferr)
			}
		}
	}
	if cause != nil {
		return cause
	}
	return err
}

// ran reports whether e is the operation a describes.
func (a *applied) ran(e *selfupdate.Ended) bool {
	if a.info == nil {
		return e.Op.Kind == selfupdate.KindRevert
	}
	return e.Op.Kind == selfupdate.KindInstall && e.Op.Build.SHA256 == a.info.sha256()
}

// recorded reports whether the audit log has a record of kind of e after
// the head e's operation began at. If the log can't tell, it reports
// false: a record twice is better than none.
func (c *Client) recorded(e *selfupdate.Ended, kind string) bool {
	if c.auditLog == nil {
		return false
	}
	var from uint64 // no mark (no audit log when it began): the whole log
	if e.Op.Mark != "" {
		var err error
		if from, err = strconv.ParseUint(e.Op.Mark, 10, 64); err != nil {
			return false
		}
	}
	recs, err := c.auditLog.Since(from)
	if err != nil {
		c.log.Warn("audit log unreadable: the record of an operation on the executable may be written twice", "err", err)
		return false
	}
	for _, r := range recs {
		var f struct {
			Op  int64  `json:"op"`
			Exe string `json:"exe"`
		}
		if r.Kind == kind && json.Unmarshal(r.Fields, &f) == nil && f.Op == e.Op.Seq && f.Exe == e.Exe {
			return true
		}
	}
	return false
}

// endedRecord is the audit record of e: its kind and fields. The build
// that went in and the one it replaced are named by version, release hash
// and executable hash; a (if not nil: this process ran it) adds the
// release's target and the reason it failed.
func endedRecord(app string, e *selfupdate.Ended, a *applied) (string, map[string]any) {
	op := e.Op
	fields := map[string]any{"app": app, "exe": e.Exe, "op": op.Seq, "exe_sha256": op.Build.Exe}
	if op.Kind == selfupdate.KindRevert {
		fields["from"], fields["from_sha256"], fields["to"], fields["to_sha256"] = op.Prev.Version, op.Prev.SHA256, op.Build.Version, op.Build.SHA256
		if a == nil {
			fields["outcome"] = "recovered"
		}
		return audit.KindRevert, fields
	}
	fields["version"], fields["sha256"], fields["previous"], fields["previous_exe_sha256"] = op.Build.Version, op.Build.SHA256, op.Prev.Version, op.Prev.Exe
	fields["outcome"] = "recovered: " + e.Outcome.String()
	if a != nil {
		fields["outcome"] = appliedOutcome(e)
		fields["target"] = a.info.Target.Path()
		if a.cause != nil {
			for k, v := range errorFields(a.cause) {
				fields[k] = v
			}
		}
	}
	return audit.KindInstall, fields
}

// appliedOutcome names what an install that this process ran did.
func appliedOutcome(e *selfupdate.Ended) string {
	switch e.Outcome {
	case selfupdate.Committed:
		return "installed"
	case selfupdate.RolledBack:
		if e.Op.Failed {
			return "rolled-back"
		}
		return "undone" // an error before the commit
	case selfupdate.CheckInterrupted:
		return "check-interrupted"
	case selfupdate.CheckFailed:
		return "check-interrupted: marked failed"
	}
	return e.Outcome.String()
}
