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
//
// Every error is a *TargetError. When no mirror delivered verified bytes,
// its Err is a *MirrorError with each mirror's reason. A fault on this
// machine (dest's directory does not exist or is not writable, the disk is
// full) and the end of ctx are no mirror's: they end the download at once
// with that error, and no mirror counts them as failures in Status.
func (c *Client) DownloadFile(ctx context.Context, t *Target, dest string) error {
	if c.closed.Load() {
		return &TargetError{Path: t.Path(), Err: ErrClosed}
	}
	if len(c.targetURLs) == 0 {
		return &TargetError{Path: t.Path(), Err: &OptionError{Option: "Config.TargetURLs", Reason: "downloads need at least one mirror"}}
	}
	if err := c.checkLogged(ctx, t); err != nil {
		return c.downloadFailed(t, dest, err)
	}
	f, err := atomicfile.CreateTemp(filepath.Dir(dest), ".latch-download-*")
	if err != nil {
		return c.downloadFailed(t, dest, err)
	}
	defer f.Abort()
	merr := &MirrorError{File: c.targetURLPath(t)}
	for _, base := range c.targetURLs {
		start := time.Now()
		err := c.downloadFrom(ctx, base, t, f)
		var lf *localFault
		switch {
		case err == nil:
			c.health.record(base, c.opts.clock(), nil)
			// fsync happens in Commit, after the hash check: the bytes
			// are final. The temporary file is private (0600) while
			// unverified; the verified file is readable like any other
			// download.
			if err := f.Chmod(0o644); err != nil {
				return c.downloadFailed(t, dest, err)
			}
			if err := f.Commit(dest); err != nil {
				return c.downloadFailed(t, dest, err)
			}
			c.log.Info("downloaded", "target", t.Path(), "mirror", base, "bytes", t.Length(), "duration", time.Since(start), "dest", dest)
			return c.auditDownload(t, base, dest, nil)
		case errors.As(err, &lf):
			return c.downloadFailed(t, dest, lf.err)
		case ctx.Err() != nil:
			return c.downloadFailed(t, dest, ctx.Err())
		}
		c.health.record(base, c.opts.clock(), err)
		c.log.Warn("target mirror failed", "target", t.Path(), "mirror", base, "err", err)
		merr.Mirrors = append(merr.Mirrors, base)
		merr.Errs = append(merr.Errs, err)
	}
	return c.downloadFailed(t, dest, merr)
}

// downloadFailed records a failed download of t in the audit log and
// returns its *TargetError.
func (c *Client) downloadFailed(t *Target, dest string, cause error) error {
	err := &TargetError{Path: t.Path(), Err: cause}
	if aerr := c.auditDownload(t, "", dest, err); aerr != nil {
		return errors.Join(err, aerr)
	}
	return err
}

// maxResumes bounds how often one download from one mirror resumes after
// the connection was cut.
const maxResumes = 8

// downloadFrom downloads t from one mirror into f, from its first byte,
// and returns nil once the bytes in f verify. A transfer cut by the network
// resumes with a Range request from where it stopped, keeping the hash
// state; a server that ignores Range, or whose resumed bytes don't match,
// gets one full download from the beginning. Whatever a server sends, f
// holds at most the signed length, and only bytes that match the signed
// length and hashes make it return nil. A fault that is not the mirror's is
// a *localFault.
func (c *Client) downloadFrom(ctx context.Context, base string, t *Target, f *atomicfile.File) error {
	var hw *verify.HashWriter
	// start empties f and the hash state.
	start := func() error {
		var err error
		if hw, err = verify.NewHashWriter(t.Length(), t.tf.Hashes); err != nil {
			return &localFault{err} // the target lists no hash this client can check
		}
		if err := f.Truncate(0); err != nil {
			return &localFault{err}
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return &localFault{err}
		}
		return nil
	}
	if err := start(); err != nil {
		return err
	}
	u := base + c.targetURLPath(t)
	restarted := false
	for resumes := 0; ; {
		offset := hw.Written()
		err := c.transfer(ctx, u, base, offset, t, hw, f)
		if err == nil && hw.Written() == t.Length() {
			err = hw.Verify()
			if err == nil {
				return nil
			}
			if offset > 0 && !restarted && errors.Is(err, ErrHashMismatch) {
				c.log.Warn("resumed download does not verify; downloading again from the start", "target", t.Path(), "mirror", base)
				restarted = true
				if err := start(); err != nil {
					return err
				}
				continue
			}
			return err
		}
		var lf *localFault
		switch {
		case errors.As(err, &lf):
			return err
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
		case errors.Is(err, ErrRangeIgnored) && !restarted:
			c.log.Info("mirror ignores Range; downloading again from the start", "target", t.Path(), "mirror", base)
			restarted = true
			if err := start(); err != nil {
				return err
			}
		case offset > 0 && hw.Verify() != nil:
			// The resume was refused (416 for a file that is shorter than
			// signed, say): what arrived so far is the reason, the
			// refusal its detail.
			return fmt.Errorf("%w (resuming from byte %d: %w)", hw.Verify(), offset, err)
		default:
			return err
		}
	}
}

// readError marks an error from the network side of a transfer, as opposed
// to the file or hash side.
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// localFault marks a download error that is not the mirror's: writing the
// temporary file failed, or the target lists no hash this client can
// check. Another mirror can't do better, and none is blamed.
type localFault struct{ err error }

func (e *localFault) Error() string { return e.err.Error() }
func (e *localFault) Unwrap() error { return e.err }

// localWriter marks every error of w as a *localFault.
type localWriter struct{ w io.Writer }

func (l localWriter) Write(p []byte) (int, error) {
	n, err := l.w.Write(p)
	if err != nil {
		err = &localFault{err}
	}
	return n, err
}

// isCut reports whether err is a transfer cut by the network that a Range
// request may resume: a read error, not a refusal (too large, too slow),
// and not the caller's cancellation.
func isCut(ctx context.Context, err error) bool {
	var re *readError
	return errors.As(err, &re) && ctx.Err() == nil && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrSlowRetrieval)
}

// writebackChunk is how much a download writes before it asks the kernel
// to start writing it to disk, so that the fsync before the rename has
// little left (atomicfile.File.StartWriteback).
const writebackChunk = 16 << 20

// transfer fetches u from offset and writes what arrives through hw into f,
// reporting progress. Bytes beyond the signed length are refused before
// they reach hw or f, with the *TooLargeError the default transport gives:
// a Fetcher that ignores its limit changes nothing.
func (c *Client) transfer(ctx context.Context, u, mirror string, offset int64, t *Target, hw *verify.HashWriter, f *atomicfile.File) error {
	rc, err := c.opts.fetcher.Fetch(ctx, u, offset, t.Length()-offset)
	if err != nil {
		return err
	}
	defer rc.Close()
	w := hw.Tee(localWriter{f})
	buf := make([]byte, 256<<10)
	flushed := offset
	for {
		n, rerr := rc.Read(buf)
		if int64(n) > t.Length()-hw.Written() {
			return &TooLargeError{URL: u, Limit: t.Length() - offset}
		}
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
