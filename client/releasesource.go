package client

import (
	"context"
	"errors"
)

// releaseSource is where Apply finds and fetches releases: a client's own
// repository, or the repositories of a Multi, which must agree.
type releaseSource interface {
	// refreshReleases refreshes what resolve reads; an error means there
	// is nothing to resolve from.
	refreshReleases(ctx context.Context) error
	resolve(ctx context.Context, rel Release, skip func(*ReleaseInfo) bool) (*ReleaseInfo, []*ReleaseInfo, error)
	// downloadRelease downloads a release resolve returned to dest,
	// verified.
	downloadRelease(ctx context.Context, info *ReleaseInfo, dest string) error
}

// releases returns where c's Apply takes releases from.
func (c *Client) releases() releaseSource {
	if c.source != nil {
		return c.source
	}
	return c
}

func (c *Client) refreshReleases(ctx context.Context) error { return c.Refresh(ctx) }

func (c *Client) downloadRelease(ctx context.Context, info *ReleaseInfo, dest string) error {
	return c.DownloadFile(ctx, info.Target, dest)
}

// refreshReleases refreshes every repository. Repositories that fail are
// logged and left out, as long as one refreshed: resolve then decides
// whether those that failed could change the answer (see Multi.Resolve).
func (m *Multi) refreshReleases(ctx context.Context) error {
	err := m.Refresh(ctx)
	var me *MultiError
	if errors.As(err, &me) && len(me.Unwrap()) < len(me.Errs) {
		m.log.Warn("some repositories did not refresh; resolving among the others", "err", err)
		return nil
	}
	return err
}

func (m *Multi) downloadRelease(ctx context.Context, info *ReleaseInfo, dest string) error {
	return m.DownloadFile(ctx, info.Agreed, dest)
}
