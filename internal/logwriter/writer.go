// Package logwriter appends entries to a transparency log kept as files
// (C2SP tlog-tiles: checkpoint, tile/<L>/<N>, tile/entries/<N>) with
// Tessera's POSIX driver (github.com/transparency-dev/tessera). It is the
// publisher's side, for the publish example, the demo and tests; clients
// read such logs with package translog and never import this one.
//
// Tessera's POSIX driver needs POSIX file locks: on Windows, Open fails.
// Tessera's cloud drivers write the same layout to object stores.
package logwriter

import "errors"

// ErrUnsupported: the platform has no POSIX file locks (Windows).
var ErrUnsupported = errors.New("transparency logs need Tessera's POSIX driver, which does not run on Windows")
