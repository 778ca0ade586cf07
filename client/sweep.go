package client

import (
	"errors"
	"path/filepath"
	"strings"

	"github.com/latchsec/latch/internal/atomicfile"
	"github.com/latchsec/latch/metadata"
)

// sweepTemps removes the temporary files that a process killed in the
// middle of an atomic write left in the state directory: those of cached
// metadata, of the targets index and of the self-update journals (the
// trusted-state store removes its own). Only names the client writes go; a
// file it can't remove costs nothing but space, so that is logged. It runs
// in New, under the state directory's lock, before anything writes, unless
// the lock's previous holder closed it (rollback's PreviousHolderClosed):
// every write under the lock ends before Close, so only a holder killed or
// crashed with the lock held can leave one.
func (c *Client) sweepTemps() {
	index := indexPath(c.cfg.StateDir)
	err := errors.Join(
		atomicfile.RemoveTemps(c.cfg.StateDir, isCacheName),
		atomicfile.RemoveTemps(filepath.Dir(index), func(base string) bool { return base == filepath.Base(index) }),
		atomicfile.RemoveTemps(c.journalDir(), validAppName),
	)
	if err != nil {
		c.log.Warn("temporary files of an interrupted write not removed", "err", err)
	}
}

// isCacheName reports whether name is the name of a cached role's file
// (see cachePath).
func isCacheName(name string) bool {
	enc, ok := strings.CutSuffix(name, ".json")
	if !ok {
		return false
	}
	_, err := metadata.DecodeRoleName(enc)
	return err == nil
}
