package client

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/latchsec/latch/internal/atomicfile"
	"github.com/latchsec/latch/verify"
)

// DownloadFile downloads t from the target mirrors to dest. The bytes stream
// into a temporary file beside dest while their length and every listed hash
// are checked; only when all match is the file synced and renamed to dest.
// On any failure dest is untouched and no temporary file remains. Nothing
// unverified is ever visible at dest.
func (c *Client) DownloadFile(ctx context.Context, t *Target, dest string) error {
	if len(c.targetURLs) == 0 {
		return &TargetError{Path: t.Path(), Err: errors.New("no target mirrors configured")}
	}
	rel := c.targetURLPath(t)
	merr := &MirrorError{File: rel}
	for _, base := range c.targetURLs {
		err := c.downloadFrom(ctx, base+rel, t, dest)
		if err == nil {
			c.log.Info("downloaded", "target", t.Path(), "mirror", base, "bytes", t.Length(), "dest", dest)
			return nil
		}
		c.log.Warn("target mirror failed", "target", t.Path(), "mirror", base, "err", err)
		merr.Mirrors = append(merr.Mirrors, base)
		merr.Errs = append(merr.Errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return &TargetError{Path: t.Path(), Err: merr}
}

func (c *Client) downloadFrom(ctx context.Context, u string, t *Target, dest string) error {
	hw, err := verify.NewHashWriter(t.Length(), t.tf.Hashes)
	if err != nil {
		return err
	}
	rc, err := c.opts.fetcher.Fetch(ctx, u, 0, t.Length())
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := atomicfile.CreateTemp(filepath.Dir(dest), ".latch-download-*")
	if err != nil {
		return err
	}
	defer f.Abort()
	// The hash writer comes first: it refuses bytes past the signed length
	// before they reach the file.
	if _, err := io.Copy(hw.Tee(f), rc); err != nil {
		return err
	}
	if err := hw.Verify(); err != nil {
		return err
	}
	// The temporary file is private (0600) while unverified; the verified
	// file is readable like any other download.
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	return f.Commit(dest)
}

// targetURLPath is the path of t below a target mirror: each segment
// escaped, and with consistent snapshots the file name prefixed by one of
// its hashes (spec §5.7.3), chosen deterministically: sha256, else sha512,
// else the first listed algorithm in sorted order.
func (c *Client) targetURLPath(t *Target) string {
	segs := strings.Split(t.Path(), "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	if c.trusted.Load().root.ConsistentSnapshot() {
		alg := ""
		for _, a := range []string{"sha256", "sha512"} {
			if _, ok := t.tf.Hashes[a]; ok {
				alg = a
				break
			}
		}
		if alg == "" {
			alg = slices.Sorted(maps.Keys(t.tf.Hashes))[0]
		}
		last := len(segs) - 1
		segs[last] = hex.EncodeToString(t.tf.Hashes[alg]) + "." + segs[last]
	}
	return path.Join(segs...)
}

// Cached reports whether the file at p is a verified copy of t: same length
// and every supported listed hash matching. A missing file is (false, nil);
// other I/O errors are returned.
func (c *Client) Cached(t *Target, p string) (bool, error) {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return false, err
	}
	if !st.Mode().IsRegular() || st.Size() != t.Length() {
		return false, nil
	}
	hw, err := verify.NewHashWriter(t.Length(), t.tf.Hashes)
	if err != nil {
		return false, err
	}
	if _, err := io.Copy(hw, f); err != nil {
		if errors.Is(err, verify.ErrLengthMismatch) {
			return false, nil
		}
		return false, fmt.Errorf("reading %s: %w", p, err)
	}
	return hw.Verify() == nil, nil
}
