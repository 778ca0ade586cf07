package client

import (
	"context"

	"github.com/latchsec/latch/rollback"
)

// ErrLocked: another client holds the state directory, in this process or
// another. The error is a [*rollback.LockedError], which names the holder's
// process ID and program as the holder recorded them. It is
// rollback.ErrLocked, so errors.Is matches either.
var ErrLocked = rollback.ErrLocked

// Open is [New], except that while another client holds cfg.StateDir it
// waits for the lock to be released, checking again every quarter of a
// second at most, until ctx is done; then the error matches both ErrLocked
// and ctx's error. It waits for nothing else: loading the cache touches no
// network.
//
// # Several processes, one state directory
//
// A Client holds an exclusive lock on its state directory from New or Open
// until Close; reading needs no lock at all ([Offline]).
//
// Command-line tools invoked concurrently (by cron, scripts, people) each
// call Open with a deadline, do their work and Close: the second invocation
// waits for the first instead of failing.
//
//	ctx, cancel := context.WithTimeout(ctx, time.Minute)
//	defer cancel()
//	c, err := client.Open(ctx, cfg) // errors.Is(err, client.ErrLocked): still busy
//	if err != nil { ... }
//	defer c.Close()
//
// A daemon and a command-line tool sharing one state directory: the tool
// reads with Offline at any time, beside the daemon. For what writes
// (refresh, download, apply) it calls Open with a deadline, which waits at
// most for the update cycle in progress if the daemon opens its client for
// each cycle and closes it after; a daemon that holds its client for good
// leaves the tool reading only.
func Open(ctx context.Context, cfg Config, opts ...Option) (*Client, error) {
	return openClient(cfg, opts, func(dir string) (*rollback.FileStore, error) {
		return rollback.OpenFileStoreWait(ctx, dir)
	})
}
