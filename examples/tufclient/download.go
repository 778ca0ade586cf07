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

	"github.com/latchsec/latch/metadata"
)

// download refreshes and then delivers each target of cmd in order with one
// client (with --map, one per repository), stopping at the first failure.
// Every target path is mapped to its file first, so an unsafe path is
// refused before anything is fetched.
func download(ctx context.Context, cmd *command, log *slog.Logger, clock func() time.Time) (err error) {
	dests := make([]string, len(cmd.targetNames))
	for i, name := range cmd.targetNames {
		if dests[i], err = metadata.LocalPath(cmd.targetDir, name); err != nil {
			return fmt.Errorf("target %q: %w", name, err)
		}
	}
	open := openSingle
	if cmd.mapFile != "" {
		open = openConsensus
	}
	lookup, closeFn, err := open(ctx, cmd, log, clock)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, closeFn()) }()
	if err := os.MkdirAll(cmd.targetDir, 0o755); err != nil {
		return err
	}
	for i, name := range cmd.targetNames {
		if err := deliver(ctx, lookup, log, cmd.targetDir, name, dests[i]); err != nil {
			return err
		}
	}
	log.Info("all targets verified", "count", len(cmd.targetNames), "dir", cmd.targetDir)
	return nil
}

// lookupFunc finds the verified target name and returns how to check that
// a file is a verified copy of it, and how to download it to a file.
type lookupFunc func(ctx context.Context, name string) (cached func(string) (bool, error), fetch func(context.Context, string) error, err error)

// openSingle opens and refreshes the client of one repository for download.
func openSingle(ctx context.Context, cmd *command, log *slog.Logger, clock func() time.Time) (lookupFunc, func() error, error) {
	c, err := newClient(ctx, cmd, log, clock)
	if err != nil {
		return nil, nil, err
	}
	if err := c.Refresh(ctx); err != nil {
		return nil, nil, errors.Join(err, c.Close())
	}
	lookup := func(ctx context.Context, name string) (func(string) (bool, error), func(context.Context, string) error, error) {
		t, err := c.Target(ctx, name)
		if err != nil {
			return nil, nil, err
		}
		cached := func(p string) (bool, error) {
			ok, err := c.Cached(t, p)
			if !ok || err != nil {
				return ok, err
			}
			// Cached checks the bytes; with a log policy, the release must
			// also be in the log, as DownloadFile would require.
			if err := c.ProveLogged(ctx, t); err != nil {
				return false, err
			}
			return true, nil
		}
		return cached, func(ctx context.Context, p string) error { return c.DownloadFile(ctx, t, p) }, nil
	}
	return lookup, c.Close, nil
}

// deliver looks name up and makes dest a verified copy of it, fetching it
// only if dest is not one already.
func deliver(ctx context.Context, lookup lookupFunc, log *slog.Logger, targetDir, name, dest string) error {
	cached, fetch, err := lookup(ctx, name)
	if err != nil {
		return err
	}
	ok, err := cached(dest)
	if err != nil {
		return fmt.Errorf("target %q: %w", name, err)
	}
	if ok {
		log.Info("target already verified in place", "target", name, "file", dest)
		return nil
	}
	created, err := mkdirs(targetDir, filepath.Dir(dest))
	if err == nil {
		err = fetch(ctx, dest)
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
