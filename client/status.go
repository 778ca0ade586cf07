package client

import (
	"errors"
	"maps"
	"net"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/latchsec/latch/rollback"
)

// Status is what an operator's dashboard needs to know about a client,
// without any network access.
type Status struct {
	// Roles are the trusted top-level roles with versions and expiries;
	// Stale marks a role expired at the time of the call.
	Roles []RoleStatus
	// LastRefresh is the reference time of the last successful Refresh in
	// this process (zero if none); LastTrustedTime the latest one ever
	// recorded in the trusted state (the clock-rollback floor).
	LastRefresh     time.Time
	LastTrustedTime time.Time
	// LastError is the error the last failed Refresh returned (a
	// *RefreshError, whose message names the role, the mirrors and the
	// cause), nil after a successful one. LastErrorType is the Go type of
	// its cause ("*client.ExpiredError", "*metadata.Error",
	// "*mirror.StatusError", ...): the RefreshError's Err, or the one
	// mirror's reason when Err is a *MirrorError that lists one mirror.
	LastError     error
	LastErrorType string
	// AuditError is the last failure to write the audit log, nil if none:
	// a dashboard should raise it, since trust decisions went unrecorded.
	AuditError error
	// TrustedStateLost reports that this client started without a trusted
	// state although metadata was cached beside it: the state file was
	// deleted or lost, and with it every version floor, so the client
	// started over as on a first run (from the embedded root). A dashboard
	// should raise it: the cause needs looking into.
	TrustedStateLost bool
	// Installed is the committed release of each application (the
	// installed-version floor) with its SHA-256.
	Installed map[string]rollback.Install
	// Mirrors reports each mirror's recent health, in configuration order
	// (metadata mirrors first, then target mirrors, then the transparency
	// log's).
	Mirrors []MirrorHealth
}

// errorType is the Go type of err's cause (see cause).
func errorType(err error) string { return reflect.TypeOf(cause(err)).String() }

// MirrorHealth is what the client saw of one mirror in this process. Every
// request the mirror failed counts, whatever the reason: an error, a
// timeout, a file it does not have (404) or bytes that failed a check. The
// one answer "not found" that is not a failure is the one to the question
// whether a newer root exists (spec §5.3.3). Faults on this machine and a
// cancelled context count for no mirror.
type MirrorHealth struct {
	URL                 string
	LastSuccess         time.Time
	LastFailure         time.Time
	LastError           string
	ConsecutiveFailures int
}

// Status reports the client's trusted state, last refresh and error,
// installed releases and mirrors' health. It does no I/O.
func (c *Client) Status() Status {
	st := Status{Roles: c.View().Roles()}
	st.Installed, st.AuditError = c.installs()
	c.disk.view(func(s *rollback.State) { st.LastTrustedTime = s.LastTime })
	c.statusMu.Lock()
	st.LastRefresh, st.LastError = c.lastRefresh, c.lastErr
	c.statusMu.Unlock()
	st.TrustedStateLost = c.stateLost
	if st.LastError != nil {
		st.LastErrorType = errorType(st.LastError)
	}
	var logURLs []string
	if c.transparency != nil {
		logURLs = c.transparency.urls
	}
	st.Mirrors = c.health.snapshot(slices.Concat(c.metaURLs, c.targetURLs, logURLs))
	return st
}

// installs returns the committed release of each application and the last
// failure to write the audit log.
func (c *Client) installs() (map[string]rollback.Install, error) {
	var out map[string]rollback.Install
	c.disk.view(func(s *rollback.State) { out = maps.Clone(s.Installed) })
	c.statusMu.Lock()
	defer c.statusMu.Unlock()
	return out, c.auditErr
}

// mirrorHealth tracks mirrors' recent outcomes; safe for concurrent use.
type mirrorHealth struct {
	mu sync.Mutex
	m  map[string]*MirrorHealth
	// timedOut holds the mirrors whose last request timed out or was cut
	// as too slow, since the last forgetTimeouts.
	timedOut map[string]bool
}

func (h *mirrorHealth) record(url string, now time.Time, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = make(map[string]*MirrorHealth)
	}
	mh := h.m[url]
	if mh == nil {
		mh = &MirrorHealth{URL: url}
		h.m[url] = mh
	}
	if err == nil {
		mh.LastSuccess, mh.ConsecutiveFailures = now, 0
		delete(h.timedOut, url)
		return
	}
	mh.LastFailure, mh.LastError = now, err.Error()
	mh.ConsecutiveFailures++
	var netErr net.Error
	if errors.Is(err, ErrSlowRetrieval) || (errors.As(err, &netErr) && netErr.Timeout()) {
		if h.timedOut == nil {
			h.timedOut = make(map[string]bool)
		}
		h.timedOut[url] = true
	}
}

// order returns mirrors in the given order, except that those that timed
// out since the last forgetTimeouts come last.
func (h *mirrorHealth) order(mirrors []string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.timedOut) == 0 {
		return mirrors
	}
	var out, last []string
	for _, m := range mirrors {
		if h.timedOut[m] {
			last = append(last, m)
		} else {
			out = append(out, m)
		}
	}
	return append(out, last...)
}

// forgetTimeouts puts every mirror back in its configured place.
func (h *mirrorHealth) forgetTimeouts() {
	h.mu.Lock()
	defer h.mu.Unlock()
	clear(h.timedOut)
}

func (h *mirrorHealth) snapshot(urls []string) []MirrorHealth {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]MirrorHealth, 0, len(urls))
	seen := make(map[string]bool)
	for _, u := range urls {
		if seen[u] {
			continue
		}
		seen[u] = true
		if mh := h.m[u]; mh != nil {
			out = append(out, *mh)
		} else {
			out = append(out, MirrorHealth{URL: u})
		}
	}
	return out
}
