// Package logwriter appends entries to a transparency log kept as files
// (C2SP tlog-tiles: checkpoint, tile/<L>/<N>, tile/entries/<N>) with
// Tessera's POSIX driver (github.com/transparency-dev/tessera). It is the
// publisher's side, for the publish example, the demo and tests; clients
// read such logs with package translog and never import this one.
//
// Tessera's POSIX driver needs POSIX file locks: on Windows, Open fails.
// Tessera's cloud drivers write the same layout to object stores.
package logwriter

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/latchsec/latch/mirror"
	"golang.org/x/mod/sumdb/note"
)

// ErrUnsupported: the platform has no POSIX file locks (Windows).
var ErrUnsupported = errors.New("transparency logs need Tessera's POSIX driver, which does not run on Windows")

// Dir reads a log directory as its URL prefix would serve it: a
// translog.Fetcher for tests, the demo and tools that sit beside the log.
type Dir string

// Fetch returns the file at path below d, an error matching
// mirror.ErrNotFound for a missing one, mirror.ErrTooLarge for one of more
// than max bytes.
func (d Dir) Fetch(ctx context.Context, path string, max int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !fs.ValidPath(path) {
		return nil, fmt.Errorf("%s: %w", path, mirror.ErrNotFound)
	}
	b, err := os.ReadFile(filepath.Join(string(d), filepath.FromSlash(path)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", path, mirror.ErrNotFound)
	}
	if err == nil && int64(len(b)) > max {
		return nil, fmt.Errorf("%s: %w", path, mirror.ErrTooLarge)
	}
	return b, err
}

// Append opens the log in dir (creating it when new), adds entries, waits
// until a checkpoint includes them, and closes it. It returns the first
// entry's index, -1 when there are none.
func Append(ctx context.Context, dir string, signer note.Signer, entries ...[]byte) (int64, error) {
	w, err := Open(ctx, dir, signer)
	if err != nil {
		return 0, err
	}
	first := int64(-1)
	if len(entries) > 0 {
		first, _, err = w.Add(ctx, entries...)
	}
	return first, errors.Join(err, w.Close(ctx))
}
