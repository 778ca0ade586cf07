package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/metadata"
)

// download refreshes and then delivers each target of cmd in order with one
// client, stopping at the first failure. Every target path is mapped to its
// file first, so an unsafe path is refused before anything is fetched.
func download(ctx context.Context, cmd *command, log *slog.Logger, clock func() time.Time) (err error) {
	dests := make([]string, len(cmd.targetNames))
	for i, name := range cmd.targetNames {
		if dests[i], err = metadata.LocalPath(cmd.targetDir, name); err != nil {
			return fmt.Errorf("target %q: %w", name, err)
		}
	}
	c, err := newClient(ctx, cmd, log, clock)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, c.Close()) }()
	if err := c.Refresh(ctx); err != nil {
		return err
	}
	if err := os.MkdirAll(cmd.targetDir, 0o755); err != nil {
		return err
	}
	for i, name := range cmd.targetNames {
		if err := deliver(ctx, c, log, cmd.targetDir, name, dests[i]); err != nil {
			return err
		}
	}
	log.Info("all targets verified", "count", len(cmd.targetNames), "dir", cmd.targetDir)
	return nil
}

// deliver looks name up and makes dest a verified copy of it, fetching it
// only if dest is not one already.
func deliver(ctx context.Context, c *client.Client, log *slog.Logger, targetDir, name, dest string) error {
	t, err := c.Target(ctx, name)
	if err != nil {
		return err
	}
	ok, err := c.Cached(t, dest)
	if err != nil {
		return fmt.Errorf("target %q: %w", name, err)
	}
	if ok {
		// Cached checks the bytes; with a log policy, the release must
		// also be in the log, as DownloadFile would require.
		if err := c.ProveLogged(ctx, t); err != nil {
			return err
		}
		log.Info("target already verified in place", "target", name, "file", dest)
		return nil
	}
	created, err := mkdirs(targetDir, filepath.Dir(dest))
	if err == nil {
		err = c.DownloadFile(ctx, t, dest)
	}
	if err != nil {
		// Leave no empty directories behind for a target that failed.
		for _, d := range slices.Backward(created) {
			if rerr := os.Remove(d); rerr != nil {
				log.Warn("removing directory", "dir", d, "err", rerr)
			}
		}
		return err
	}
	return nil
}

// mkdirs creates dir, which is below the existing directory base, and its
// missing parents. It returns the directories it created, outermost first,
// also when it fails.
func mkdirs(base, dir string) ([]string, error) {
	base = filepath.Clean(base)
	var missing []string
	for d := dir; d != base && filepath.Dir(d) != d; d = filepath.Dir(d) {
		_, err := os.Lstat(d)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		missing = append(missing, d)
	}
	slices.Reverse(missing)
	for i, d := range missing {
		if err := os.Mkdir(d, 0o755); err != nil {
			return missing[:i], err
		}
	}
	return missing, nil
}
