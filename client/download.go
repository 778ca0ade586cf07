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
	"time"

	"github.com/latchsec/latch/internal/atomicfile"
	"github.com/latchsec/latch/internal/fetch"
	"github.com/latchsec/latch/verify"
)

// DownloadFile downloads t from the target mirrors to dest. The bytes stream
// into a temporary file beside dest while their length and every listed hash
// are checked; only when all match is the file synced and renamed to dest.
// On any failure dest is untouched and no temporary file remains. Nothing
// unverified is ever visible at dest.
//
// With Config.TransparencyLog, a target the policy covers is first proven
// to be in the log (see TransparencyLog); a target that is not is refused
// before any byte of it is fetched.
func (c *Client) DownloadFile(ctx context.Context, t *Target, dest string) error {
	if c.closed.Load() {
		return &TargetError{Path: t.Path(), Err: ErrClosed}
	}
	if len(c.targetURLs) == 0 {
		return &TargetError{Path: t.Path(), Err: errors.New("no target mirrors configured")}
	}
	if err := c.ProveLogged(ctx, t); err != nil {
		if aerr := c.auditDownload(t, "", dest, err); aerr != nil {
			return errors.Join(err, aerr)
		}
		return err
	}
	merr := &MirrorError{File: c.targetURLPath(t)}
	for _, base := range c.targetURLs {
		start := time.Now()
		err := c.downloadFrom(ctx, base, t, dest)
		c.health.record(base, c.opts.clock(), err)
		if err == nil {
			c.log.Info("downloaded", "target", t.Path(), "mirror", base, "bytes", t.Length(), "duration", time.Since(start), "dest", dest)
			return c.auditDownload(t, base, dest, nil)
		}
		c.log.Warn("target mirror failed", "target", t.Path(), "mirror", base, "err", err)
		merr.Mirrors = append(merr.Mirrors, base)
		merr.Errs = append(merr.Errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	err := &TargetError{Path: t.Path(), Err: merr}
	if aerr := c.auditDownload(t, "", dest, err); aerr != nil {
		return errors.Join(err, aerr)
	}
	return err
}

// maxResumes bounds how often one download from one mirror resumes after
// the connection was cut.
const maxResumes = 8

// downloadFrom downloads t from one mirror into a temporary file beside
// dest and renames it to dest once verified. A transfer cut by the network
// resumes with a Range request from where it stopped, keeping the hash
// state; a server that ignores Range, or whose resumed bytes don't match,
// gets one full download from the beginning. Whatever a server sends, only
// bytes that match the signed length and hashes reach dest.
func (c *Client) downloadFrom(ctx context.Context, base string, t *Target, dest string) error {
	hw, err := verify.NewHashWriter(t.Length(), t.tf.Hashes)
	if err != nil {
		return err
	}
	f, err := atomicfile.CreateTemp(filepath.Dir(dest), ".latch-download-*")
	if err != nil {
		return err
	}
	defer f.Abort()
	u := base + c.targetURLPath(t)
	restarted := false
	restart := func() error {
		restarted = true
		if hw, err = verify.NewHashWriter(t.Length(), t.tf.Hashes); err != nil {
			return err
		}
		if err := f.Truncate(0); err != nil {
			return err
		}
		_, err := f.Seek(0, io.SeekStart)
		return err
	}
	for resumes := 0; ; {
		offset := hw.Written()
		err := c.transfer(ctx, u, base, offset, t, hw, f)
		if err == nil && hw.Written() == t.Length() {
			if err = hw.Verify(); err == nil {
				break
			}
			if offset > 0 && !restarted && errors.Is(err, ErrHashMismatch) {
				c.log.Warn("resumed download does not verify; downloading again from the start", "target", t.Path(), "mirror", base)
				if err := restart(); err != nil {
					return err
				}
				continue
			}
			return err
		}
		switch {
		case err == nil || isCut(ctx, err):
			// A short body or a cut connection: resume if it made progress.
			if resumes == maxResumes || hw.Written() == offset {
				if err == nil {
					return hw.Verify()
				}
				return err
			}
			resumes++
			c.log.Info("download cut; resuming", "target", t.Path(), "mirror", base, "offset", hw.Written(), "err", err)
		case errors.Is(err, fetch.ErrRangeIgnored) && !restarted:
			c.log.Info("mirror ignores Range; downloading again from the start", "target", t.Path(), "mirror", base)
			if err := restart(); err != nil {
				return err
			}
		case offset > 0:
			// The resume was refused (416 for a file that is shorter than
			// signed, say): what arrived so far is the reason.
			return errors.Join(hw.Verify(), err)
		default:
			return err
		}
	}
	// fsync happens in Commit, after the hash check: the bytes are final.
	// The temporary file is private (0600) while unverified; the verified
	// file is readable like any other download.
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	return f.Commit(dest)
}

// readError marks an error from the network side of a transfer, as opposed
// to the file or hash side.
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// isCut reports whether err is a transfer cut by the network that a Range
// request may resume: a read error, not a refusal (too large, too slow),
// and not the caller's cancellation.
func isCut(ctx context.Context, err error) bool {
	var re *readError
	return errors.As(err, &re) && ctx.Err() == nil && !errors.Is(err, ErrTooLarge) && !errors.Is(err, fetch.ErrSlowRetrieval)
}

// writebackChunk is how much a download writes before it asks the kernel
// to start writing it to disk, so that the fsync before the rename has
// little left (atomicfile.File.StartWriteback).
const writebackChunk = 16 << 20

// transfer fetches u from offset and writes what arrives through hw into f,
// reporting progress.
func (c *Client) transfer(ctx context.Context, u, mirror string, offset int64, t *Target, hw *verify.HashWriter, f *atomicfile.File) error {
	rc, err := c.opts.fetcher.Fetch(ctx, u, offset, t.Length()-offset)
	if err != nil {
		return err
	}
	defer rc.Close()
	// The hash writer refuses bytes past the signed length before they
	// reach the file.
	w := hw.Tee(f)
	buf := make([]byte, 256<<10)
	flushed := offset
	for {
		n, rerr := rc.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return err
			}
			if done := hw.Written(); done-flushed >= writebackChunk {
				// Only a hint to the kernel: an error here changes nothing
				// (Commit's fsync still makes the file durable).
				_ = f.StartWriteback(flushed, done-flushed)
				flushed = done
			}
			if c.opts.progress != nil {
				c.opts.progress(Progress{Path: t.Path(), Mirror: mirror, Done: hw.Written(), Total: t.Length()})
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return &readError{rerr}
		}
	}
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
		hashes := t.tf.Hashes
		if t.named != nil {
			hashes = t.named
		}
		alg := ""
		for _, a := range []string{"sha256", "sha512"} {
			if _, ok := hashes[a]; ok {
				alg = a
				break
			}
		}
		if alg == "" {
			alg = slices.Sorted(maps.Keys(hashes))[0]
		}
		last := len(segs) - 1
		segs[last] = hex.EncodeToString(hashes[alg]) + "." + segs[last]
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
