package client

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// ReadTarget downloads t as DownloadFile does and returns its verified
// bytes, for small targets an application reads rather than keeps: a map
// file, another repository's root. A target listed as longer than max bytes
// is refused before anything is fetched (ErrTooLarge). The bytes pass
// through a private temporary directory, removed before ReadTarget returns.
func (c *Client) ReadTarget(ctx context.Context, t *Target, max int64) ([]byte, error) {
	if t.Length() > max {
		return nil, &TargetError{Path: t.Path(), Err: fmt.Errorf("%w: listed as %d bytes, more than the %d allowed", ErrTooLarge, t.Length(), max)}
	}
	dir, err := os.MkdirTemp("", "latch-read-")
	if err != nil {
		return nil, &TargetError{Path: t.Path(), Err: err}
	}
	defer os.RemoveAll(dir)
	dest := filepath.Join(dir, "target")
	if err := c.DownloadFile(ctx, t, dest); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(dest)
	if err != nil {
		return nil, &TargetError{Path: t.Path(), Err: err}
	}
	return b, nil
}
