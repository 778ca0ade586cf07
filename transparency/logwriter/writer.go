// Package logwriter is the publisher's side of release transparency: it
// appends entries (transparency.Entry, one per release) to a transparency
// log kept as files in the C2SP tlog-tiles layout (checkpoint,
// tile/<L>/<N>, tile/entries/<N>), signing each checkpoint with the log's
// note key, through Tessera's POSIX driver
// (github.com/transparency-dev/tessera). Serve the directory over HTTP(S)
// as it is, beside the repository, and clients verify it: their policy is
// client.TransparencyLog, and client.Client.MonitorLog is the vendor's watch
// on it. Clients never import this package, nor Tessera.
//
// A log is written by one publisher at a time: Open takes Tessera's lock on
// the directory. Tessera's POSIX driver needs POSIX file locks: on Windows,
// Open fails with ErrUnsupported. Tessera's cloud drivers write the same
// layout to object stores, which is the way to scale out.
package logwriter

import (
	"context"
	"errors"

	"golang.org/x/mod/sumdb/note"
)

// ErrOutOfOrder: Tessera put the entries of one Add in another order than
// given (see Writer.Add).
var ErrOutOfOrder = errors.New("the log put the entries in another order")

// ErrUnsupported: the platform has no POSIX file locks (Windows).
var ErrUnsupported = errors.New("transparency logs need Tessera's POSIX driver, which does not run on Windows")

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
