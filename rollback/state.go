package rollback

import (
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"time"

	"golang.org/x/mod/semver"
)

// Names of the top-level roles whose records have special rules.
const (
	roleRoot      = "root"
	roleTimestamp = "timestamp"
	roleSnapshot  = "snapshot"
)

// RoleRecord is what is trusted about one metadata file: its version and the
// SHA-256 and length of the exact bytes that were verified and cached.
type RoleRecord struct {
	Version int64  `json:"version"` // at least 1
	SHA256  string `json:"sha256"`  // 64 lowercase hex digits
	Length  int64  `json:"length"`  // at least 0
	// Root is the version of the root whose keys verified the document, 0
	// if not recorded (delegated roles: their keys come from a delegator).
	// A cache file may skip its second signature check only while this root
	// is still the trusted one: a rotation may have revoked the keys.
	Root int64 `json:"root,omitempty"`
}

// Install records the release of an application that was committed last,
// the floor for later installs.
type Install struct {
	Version string    `json:"version"` // semantic version, "v1.2.3" or "1.2.3"
	SHA256  string    `json:"sha256"`  // of the release target (the archive, for archived releases), 64 lowercase hex digits
	Time    time.Time `json:"time"`    // when it was committed, UTC
}

// LogCheckpoint is the latest checkpoint of a transparency log that the
// client verified: the log's signed statement that its tree of Size entries
// has root Hash.
type LogCheckpoint struct {
	Size int64  `json:"size"` // at least 0
	Hash string `json:"hash"` // the root hash, standard base64 of 32 bytes, as the checkpoint writes it
	// Note is the signed checkpoint as the log served it: evidence to hold
	// against a later one that contradicts it.
	Note string `json:"note"`
	// Verified is when a log last served, and the client verified, a
	// checkpoint at least this large, UTC: how fresh the client's view of
	// the log is.
	Verified time.Time `json:"verified"`
}

// State is the trusted state: a value the caller loads from a [Store],
// changes through its methods and saves back. Its methods refuse to move
// anything backwards; on an error they change nothing. The fields are
// exported for reading; code that changes them directly bypasses those
// checks, though [Store.Save] checks again against the stored state.
//
// A State is not safe for concurrent use; the Stores are.
type State struct {
	// Roles maps a TUF role name ("root", "timestamp", "snapshot",
	// "targets", delegated names verbatim) to its trusted record.
	Roles map[string]RoleRecord
	// TimestampResetRoot is the root version that allowed the last reset
	// of the timestamp record alone ([State.ResetTimestamp]), 0 if there
	// was none.
	TimestampResetRoot int64
	// FastForwardRoot is the root version that allowed the last full
	// fast-forward reset ([State.FastForward]), 0 if there was none.
	FastForwardRoot int64
	// LastTime is the latest trusted reference time seen, UTC.
	LastTime time.Time
	// Installed maps an application name to the release committed last.
	Installed map[string]Install
	// Failed maps an application name to the SHA-256 of releases whose
	// health check failed, in the order they were marked.
	Failed map[string][]string
	// AuditAnchor is the audit log's anchor as the client writes it: the
	// last audit record's line ("seq:hash" from earlier versions); "" if
	// there are no records.
	AuditAnchor string
	// Logs maps a transparency log's origin to its latest verified
	// checkpoint.
	Logs map[string]LogCheckpoint

	// forced holds the applications whose installed-version floor was
	// lowered with ForceInstallUnsafe in this copy; Save accepts the lower
	// floor for them. It is not stored.
	forced map[string]bool
	// timeReset: LastTime was set back with ResetTimeUnsafe in this copy;
	// Save accepts the earlier time once. It is not stored.
	timeReset bool
}

// NewState returns an empty state with non-nil maps: what a [Store] holds
// before anything was saved.
func NewState() *State {
	return &State{
		Roles:     map[string]RoleRecord{},
		Installed: map[string]Install{},
		Failed:    map[string][]string{},
		Logs:      map[string]LogCheckpoint{},
	}
}

// Clone returns a deep copy of s that shares nothing with it.
func (s *State) Clone() *State {
	c := NewState()
	maps.Copy(c.Roles, s.Roles)
	c.TimestampResetRoot = s.TimestampResetRoot
	c.FastForwardRoot = s.FastForwardRoot
	c.LastTime = s.LastTime
	maps.Copy(c.Installed, s.Installed)
	for app, hashes := range s.Failed {
		c.Failed[app] = slices.Clone(hashes)
	}
	c.AuditAnchor = s.AuditAnchor
	maps.Copy(c.Logs, s.Logs)
	if len(s.forced) > 0 {
		c.forced = maps.Clone(s.forced)
	}
	c.timeReset = s.timeReset
	return c
}

// Advance records that role is trusted at rec. A version lower than the
// recorded one is refused with a [*RollbackError]; an equal one is accepted
// (possibly with other bytes: whether that is acceptable is the caller's
// decision, spec 5.4.3.1).
func (s *State) Advance(role string, rec RoleRecord) error {
	if err := checkRecord(role, rec); err != nil {
		return invalid(err)
	}
	if old, ok := s.Roles[role]; ok && rec.Version < old.Version {
		return &RollbackError{Role: role, Trusted: roleVersion(old.Version), Got: roleVersion(rec.Version), Err: ErrRollback}
	}
	if s.Roles == nil {
		s.Roles = map[string]RoleRecord{}
	}
	s.Roles[role] = rec
	return nil
}

// Remove drops the records of roles that are no longer trusted, such as
// delegated roles that are no longer listed. The records of root, timestamp
// and snapshot can't be removed this way: root's never, the other two only
// through [State.ResetTimestamp] and [State.FastForward]. Naming one of them
// fails with [ErrInvalid] and removes nothing. Names without a record are
// ignored.
func (s *State) Remove(roles ...string) error {
	for _, role := range roles {
		switch role {
		case roleRoot, roleTimestamp, roleSnapshot:
			return fmt.Errorf("%w: the %s record can't be removed", ErrInvalid, role)
		}
	}
	for _, role := range roles {
		delete(s.Roles, role)
	}
	return nil
}

// ResetTimestamp is the recovery of spec 5.3.11 for a root that rotated
// the timestamp keys (and not the snapshot keys): the timestamp record is
// discarded, so that a timestamp version lowered by the repository's
// owners after a fast-forward attack is accepted again, and
// TimestampResetRoot is set to rootVersion. Every other record stays: the
// snapshot that was trusted still holds the versions of targets and
// delegated roles down, so that the holder of a snapshot key that is still
// valid can't roll them back.
//
// rootVersion must be that of a trusted root (at most the root record's
// version) and later than the TimestampResetRoot of an earlier reset, which
// is refused with a [*RollbackError]. Otherwise the error wraps
// [ErrInvalid]. On an error nothing changes.
func (s *State) ResetTimestamp(rootVersion int64) error {
	if err := s.checkReset(rootVersion, s.TimestampResetRoot); err != nil {
		return err
	}
	delete(s.Roles, roleTimestamp)
	s.TimestampResetRoot = rootVersion
	return nil
}

// FastForward is the recovery of spec 5.3.11 for a root that rotated the
// snapshot keys: every record but root's is discarded (timestamp and
// snapshot, and the versions of targets and delegated roles, whose floors
// came from the discarded snapshot), so that versions lowered by the
// repository's owners after a fast-forward attack are accepted again, and
// FastForwardRoot is set to rootVersion.
//
// rootVersion must be that of a trusted root (at most the root record's
// version) and later than the FastForwardRoot of an earlier reset, which
// is refused with a [*RollbackError]. Otherwise the error wraps
// [ErrInvalid]. On an error nothing changes.
func (s *State) FastForward(rootVersion int64) error {
	if err := s.checkReset(rootVersion, s.FastForwardRoot); err != nil {
		return err
	}
	for role := range s.Roles {
		if role != roleRoot {
			delete(s.Roles, role)
		}
	}
	s.FastForwardRoot = rootVersion
	return nil
}

// checkReset checks that a reset for rootVersion may follow the previous
// reset of its kind, made for root version last.
func (s *State) checkReset(rootVersion, last int64) error {
	root, ok := s.Roles[roleRoot]
	switch {
	case !ok:
		return fmt.Errorf("%w: fast-forward reset without a trusted root", ErrInvalid)
	case rootVersion < 1 || rootVersion > root.Version:
		return fmt.Errorf("%w: fast-forward reset for root v%d, but trusted root is v%d", ErrInvalid, rootVersion, root.Version)
	case rootVersion == last:
		return fmt.Errorf("%w: fast-forward reset for root v%d was already made", ErrInvalid, rootVersion)
	case rootVersion < last:
		return fastForwardRollback(last, rootVersion)
	}
	return nil
}

// CommitInstall records in as the release of app that was committed last:
// the floor for later installs. A release older than the recorded one, by
// semantic-version order (v1.10.0 is newer than v1.9.0, and v1.2.0-rc.1
// older than v1.2.0; build metadata is ignored), is refused with a
// [*RollbackError]; an equal version is accepted and replaces the record. in
// must have a valid semantic version (with or without the leading "v", with
// all three numbers) and a SHA-256 in hex, otherwise the error wraps
// [ErrInvalid]. in.Time is stored in UTC.
func (s *State) CommitInstall(app string, in Install) error {
	v, err := checkInstall(app, in)
	if err != nil {
		return invalid(err)
	}
	if old, ok := s.Installed[app]; ok {
		// A stored version is valid: it passed the same check.
		ov, _ := CanonicalVersion(old.Version)
		if semver.Compare(v, ov) < 0 {
			return &RollbackError{App: app, Trusted: old.Version, Got: in.Version, Err: ErrRollback}
		}
	}
	s.setInstalled(app, in)
	return nil
}

// ForceInstallUnsafe records in as the release of app that was committed
// last even if it is older than the recorded one, and lets [Store.Save]
// accept that lower floor for app once. It exists for an explicit, local
// revert to a kept previous version that a person asked for, which should
// also be written to the audit log. Don't use it for anything a remote
// party can influence: it switches off installed-version rollback
// protection for app. in is checked as in [State.CommitInstall], and an
// invalid one fails with [ErrInvalid] and changes nothing.
func (s *State) ForceInstallUnsafe(app string, in Install) error {
	if _, err := checkInstall(app, in); err != nil {
		return invalid(err)
	}
	s.setInstalled(app, in)
	if s.forced == nil {
		s.forced = map[string]bool{}
	}
	s.forced[app] = true
	return nil
}

func (s *State) setInstalled(app string, in Install) {
	in.Time = in.Time.UTC()
	if s.Installed == nil {
		s.Installed = map[string]Install{}
	}
	s.Installed[app] = in
}

// MarkFailed remembers that the release of app with the given SHA-256 (hex)
// failed its health check, so it is not installed again. An app name that
// is empty or a malformed hash fails with [ErrInvalid] and changes nothing.
func (s *State) MarkFailed(app, sha256 string) error {
	if app == "" {
		return fmt.Errorf("%w: empty application name", ErrInvalid)
	}
	if err := checkSHA256(sha256); err != nil {
		return fmt.Errorf("%w: failed release of %s: %w", ErrInvalid, app, err)
	}
	if s.IsFailed(app, sha256) {
		return nil
	}
	if s.Failed == nil {
		s.Failed = map[string][]string{}
	}
	s.Failed[app] = append(s.Failed[app], sha256)
	return nil
}

// IsFailed reports whether the release of app with the given SHA-256 was
// marked as failed.
func (s *State) IsFailed(app, sha256 string) bool {
	return slices.Contains(s.Failed[app], sha256)
}

// AdvanceTime records t as the latest trusted reference time if it is
// later than LastTime; an earlier t is ignored, so LastTime never moves
// backwards. Callers that must detect a clock rollback compare against
// LastTime first.
func (s *State) AdvanceTime(t time.Time) {
	if t.After(s.LastTime) {
		s.LastTime = t.UTC()
	}
}

// AdvanceLog records cp as the latest verified checkpoint of the log
// origin. A tree smaller than the recorded one is refused with a
// [*RollbackError]. A tree of the same size with another root is refused
// with [ErrInvalid]: it is not a newer view of the log but a conflicting
// one, which only the caller, holding both signed notes, can judge. That
// cp extends the recorded tree is the caller's to prove (a consistency
// proof); the state only keeps sizes from going back. Verified never moves
// backwards: an earlier time keeps the recorded one. On an error nothing
// changes.
func (s *State) AdvanceLog(origin string, cp LogCheckpoint) error {
	if err := checkLog(origin, cp); err != nil {
		return invalid(err)
	}
	old, ok := s.Logs[origin]
	switch {
	case ok && cp.Size < old.Size:
		return logRollback(origin, old, cp)
	case ok && cp.Size == old.Size && cp.Hash != old.Hash:
		return fmt.Errorf("%w: log %s: a checkpoint of size %d with root %s where root %s is trusted", ErrInvalid, origin, cp.Size, cp.Hash, old.Hash)
	}
	if ok && cp.Verified.Before(old.Verified) {
		cp.Verified = old.Verified
	}
	cp.Verified = cp.Verified.UTC()
	if s.Logs == nil {
		s.Logs = map[string]LogCheckpoint{}
	}
	s.Logs[origin] = cp
	return nil
}

// ResetTimeUnsafe sets LastTime to t even if that is earlier, for an
// operator recovering from a clock that was wrong in the future: without it,
// every refresh before the wrong time comes round again is refused as a
// clock rollback. It weakens the freeze protection that LastTime gives (an
// attacker who can set the clock back can then replay metadata that expired
// in between), so use it only after checking the clock by other means. Save
// accepts the earlier time for this copy only.
func (s *State) ResetTimeUnsafe(t time.Time) {
	s.LastTime = t.UTC()
	s.timeReset = true
}

// check reports the first malformed value in s.
func (s *State) check() error {
	for _, role := range sortedKeys(s.Roles) {
		if err := checkRecord(role, s.Roles[role]); err != nil {
			return err
		}
	}
	for _, v := range []int64{s.TimestampResetRoot, s.FastForwardRoot} {
		if v < 0 {
			return fmt.Errorf("negative fast-forward root version %d", v)
		}
		if v > 0 && v > s.Roles[roleRoot].Version {
			return fmt.Errorf("fast-forward root v%d is newer than the trusted root", v)
		}
	}
	for _, app := range sortedKeys(s.Installed) {
		if _, err := checkInstall(app, s.Installed[app]); err != nil {
			return err
		}
	}
	for _, origin := range sortedKeys(s.Logs) {
		if err := checkLog(origin, s.Logs[origin]); err != nil {
			return err
		}
	}
	for _, app := range sortedKeys(s.Failed) {
		if app == "" {
			return fmt.Errorf("failed releases of an empty application name")
		}
		for _, h := range s.Failed[app] {
			if err := checkSHA256(h); err != nil {
				return fmt.Errorf("failed release of %s: %w", app, err)
			}
		}
	}
	return nil
}

func checkRecord(role string, rec RoleRecord) error {
	if role == "" {
		return fmt.Errorf("empty role name")
	}
	if rec.Version < 1 {
		return fmt.Errorf("role %q: version %d is below 1", role, rec.Version)
	}
	if rec.Length < 0 {
		return fmt.Errorf("role %q: negative length %d", role, rec.Length)
	}
	if rec.Root < 0 {
		return fmt.Errorf("role %q: negative root version %d", role, rec.Root)
	}
	if err := checkSHA256(rec.SHA256); err != nil {
		return fmt.Errorf("role %q: %w", role, err)
	}
	return nil
}

func checkLog(origin string, cp LogCheckpoint) error {
	if origin == "" {
		return fmt.Errorf("empty log origin")
	}
	if cp.Size < 0 {
		return fmt.Errorf("log %s: negative size %d", origin, cp.Size)
	}
	if h, err := base64.StdEncoding.DecodeString(cp.Hash); err != nil || len(h) != 32 {
		return fmt.Errorf("log %s: root hash %q is not 32 bytes in base64", origin, cp.Hash)
	}
	if cp.Note == "" {
		return fmt.Errorf("log %s: no signed checkpoint", origin)
	}
	return nil
}

// checkInstall checks app and in and returns in's version in the
// canonical form semver compares.
func checkInstall(app string, in Install) (string, error) {
	if app == "" {
		return "", fmt.Errorf("empty application name")
	}
	v, ok := CanonicalVersion(in.Version)
	if !ok {
		return "", fmt.Errorf("release of %s: %q is not a semantic version MAJOR.MINOR.PATCH", app, in.Version)
	}
	if err := checkSHA256(in.SHA256); err != nil {
		return "", fmt.Errorf("release of %s: %w", app, err)
	}
	return v, nil
}

func checkSHA256(h string) error {
	if len(h) != 64 {
		return fmt.Errorf("sha256 %q is not 64 hex digits", h)
	}
	for i := range len(h) {
		if c := h[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return fmt.Errorf("sha256 %q is not lowercase hex", h)
		}
	}
	return nil
}

func roleVersion(v int64) string { return fmt.Sprintf("v%d", v) }

func logRollback(origin string, trusted, got LogCheckpoint) *RollbackError {
	return &RollbackError{Log: origin, Trusted: fmt.Sprintf("size %d", trusted.Size), Got: fmt.Sprintf("size %d", got.Size), Err: ErrRollback}
}

func fastForwardRollback(trusted, got int64) *RollbackError {
	return &RollbackError{
		Role:    roleRoot,
		Trusted: "fast-forward reset at " + roleVersion(trusted),
		Got:     "fast-forward reset at " + roleVersion(got),
		Err:     ErrRollback,
	}
}
