package client

import (
	"context"
	"errors"
	"io"
	"time"
)

// fetchVerified fetches name from each mirror in turn until one serves bytes
// that accept takes (accept runs every check of the spec for that file). A
// mirror that fails for any reason, a failed check included, is skipped
// (docs/decisions.md, "Mirrors"). notFound reports that no mirror served the file and
// at least one answered that it does not exist: for the root probe (spec
// §5.3.3) a mirror that is down or serves bad bytes must not hide the answer
// "no newer root here" of the next one (docs/decisions.md: the first mirror that
// yields a fully verified state wins).
func (c *Client) fetchVerified(ctx context.Context, mirrors []string, name string, limit int64, accept func([]byte) error) (data []byte, notFound bool, err error) {
	merr := &MirrorError{File: name}
	missing := 0
	for _, base := range mirrors {
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
		if !errors.Is(err, ErrNotFound) {
			c.health.record(base, c.opts.clock(), err)
		}
		merr.Mirrors = append(merr.Mirrors, base)
		merr.Errs = append(merr.Errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, missing > 0, merr
}

// fetchBytes reads a whole file of at most limit bytes. A reader that
// declares its size (as the default transport does with Content-Length)
// gets one buffer of that size instead of a growing one: large targets
// metadata is read without copies. The declared size is only a hint; the
// limit is the Fetcher's to enforce.
func (c *Client) fetchBytes(ctx context.Context, url string, limit int64) ([]byte, error) {
	rc, err := c.opts.fetcher.Fetch(ctx, url, 0, limit)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	size := int64(512)
	if s, ok := rc.(interface{ Size() int64 }); ok && s.Size() > 0 {
		size = min(s.Size(), limit) + 1 // +1: the read that sees EOF needs room
	}
	b := make([]byte, 0, size)
	for {
		n, err := rc.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // grow
		}
	}
}
