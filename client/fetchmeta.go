package client

import (
	"context"
	"errors"
	"io"
	"slices"
	"time"
)

// fetchVerified fetches name from each mirror in turn until one serves bytes
// that accept takes (accept runs every check of the spec for that file). A
// mirror that fails for any reason, a failed check included, is skipped
// (docs/decisions.md, "Mirrors") and counted as failing in Status; mirrors
// that timed out since the last Refresh began come last. The end of ctx
// ends the search with ctx's error, and is no mirror's failure.
//
// probe is for a file that may not exist (the next root, spec §5.3.3): a
// mirror's "not found" is then an answer, not a failure. notFound reports
// that no mirror served the file and at least one answered that it does not
// exist: a mirror that is down or serves bad bytes must not hide the answer
// "no newer root here" of the next one (docs/decisions.md: the first mirror
// that yields a fully verified state wins).
func (c *Client) fetchVerified(ctx context.Context, mirrors []string, name string, limit int64, probe bool, accept func([]byte) error) (data []byte, notFound bool, err error) {
	merr := &MirrorError{File: name}
	missing := 0
	for _, base := range c.health.order(mirrors) {
		start := time.Now()
		b, err := c.fetchBytes(ctx, base+name, limit)
		if err == nil {
			err = accept(b)
		}
		if err == nil {
			c.health.record(base, c.opts.clock(), nil)
			c.log.Debug("fetched", "file", name, "mirror", base, "bytes", len(b), "duration", time.Since(start))
			return b, false, nil
		}
		if ctx.Err() != nil {
			return nil, false, ctx.Err()
		}
		var stale *StaleError
		switch {
		case errors.Is(err, ErrNotFound):
			missing++
		case errors.As(err, &stale):
			// Common behind CDNs; the next mirror may be current.
			stale.Mirror = base
			c.log.Warn("mirror serves stale metadata", "file", name, "mirror", base, "role", stale.Role,
				"version", stale.Got, "trusted", stale.Trusted)
		default:
			c.log.Warn("mirror failed", "file", name, "mirror", base, "err", err)
		}
		if !probe || !errors.Is(err, ErrNotFound) {
			c.health.record(base, c.opts.clock(), err)
		}
		merr.Mirrors = append(merr.Mirrors, base)
		merr.Errs = append(merr.Errs, err)
	}
	return nil, missing > 0, merr
}

// fetchBytes reads a whole metadata file of at most limit bytes from url,
// within the metadata timeouts: the Fetch call (until the response headers,
// for HTTP) within the header timeout, the whole file within the per-file
// timeout. Either ends the request with a *TimeoutError and no retry
// on this mirror. The timeouts reach the Fetcher through ctx, so they hold
// for any Fetcher that honours it.
func (c *Client) fetchBytes(ctx context.Context, url string, limit int64) ([]byte, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timeout := func(d time.Duration, headers bool) *time.Timer {
		return time.AfterFunc(d, func() { cancel(&TimeoutError{URL: url, Timeout: d, Headers: headers}) })
	}
	file := timeout(c.opts.metaFileTimeout, false)
	defer file.Stop()
	headers := timeout(c.opts.metaHeaderTimeout, true)
	rc, err := c.opts.fetcher.Fetch(ctx, url, 0, limit)
	headers.Stop()
	var b []byte
	if err == nil {
		b, err = readAll(rc, url, limit, c.opts.limits.largest())
		_ = rc.Close() // the bytes are all read, or err says why not
	}
	var te *TimeoutError
	if err != nil && errors.As(context.Cause(ctx), &te) {
		return nil, te // whatever the Fetcher made of the cancellation
	}
	return b, err
}

// readAll reads rc to its end, at most limit bytes. The buffer starts at the
// size the reader declares (as the default transport does with
// Content-Length), the limit or presize, whichever is smallest, and then
// doubles with the bytes received, up to the declared size: large targets
// metadata from an honest mirror is read with few copies, and memory never
// exceeds about twice what arrived or presize. presize is the largest size
// limit the application configured (WithLimits, 5 MiB by default): a length
// in signed metadata or in a Content-Length header is an upper bound to
// enforce, never a size to allocate, so a key holder (or a mirror) naming 1
// TiB costs no more than that. The declared size is only a hint; the limit
// is enforced here as well as by the Fetcher.
func readAll(rc io.Reader, url string, limit, presize int64) ([]byte, error) {
	want := limit // the most bytes expected
	if s, ok := rc.(interface{ Size() int64 }); ok && s.Size() >= 0 {
		want = min(want, s.Size())
	}
	// +1: the read that sees EOF needs room. want+1 can't overflow here.
	b := make([]byte, 0, min(want, presize)+1)
	for {
		n, err := rc.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if int64(len(b)) > limit {
			return nil, &TooLargeError{URL: url, Limit: limit}
		}
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
		if len(b) == cap(b) {
			more := len(b) // double
			if left := want - int64(len(b)); left >= 0 && left < int64(more) {
				more = int(left) + 1 // the rest as declared, and room for EOF
			}
			b = slices.Grow(b, more)
		}
	}
}
