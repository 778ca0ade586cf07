package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/metadata"
)

// withMap adjusts the flags command needs and takes for --map, given the
// flags set: the map replaces --metadata-url, and makes --target-base-url
// optional.
func withMap(command string, set, need, optional []string) ([]string, []string, error) {
	if slices.Contains(set, "metadata-url") {
		return nil, nil, fmt.Errorf("%w: --map replaces --metadata-url: give one of them", errUsage)
	}
	if !slices.Contains(need, "metadata-dir") || command == "audit" {
		return need, optional, nil // --map does not apply: reported as such
	}
	need = slices.DeleteFunc(slices.Clone(need), func(f string) bool { return f == "metadata-url" || f == "target-base-url" })
	need = append(need, "map")
	if command == "download" {
		optional = append(slices.Clone(optional), "target-base-url")
	}
	return need, optional, nil
}

// readMap reads and parses the map file.
func readMap(path string) (*client.Map, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, client.MaxMapSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	m, err := client.ParseMap(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// repositoryAnchor is where init keeps the trust anchor of one repository
// of the map: DIR/<name encoded like a role name>.trusted-root. An encoded
// name has no '.', so no repository's own directory (the client's, named
// by the encoded name) can have that name.
func repositoryAnchor(metadataDir, name string) string {
	enc, _ := metadata.EncodeRoleName(name) // the map's names are checked
	return filepath.Join(metadataDir, enc+"."+anchorName)
}

// initialiseMulti stores each repository's root, ROOTS_DIR/<name>.root.json,
// as the trust anchor of its directory. Every root is read and verified, and
// the configuration checked (client.NewMulti), before any anchor is stored.
func initialiseMulti(ctx context.Context, cmd *command, log *slog.Logger) error {
	m, err := readMap(cmd.mapFile)
	if err != nil {
		return err
	}
	type anchor struct {
		path      string
		data, old []byte
		root      *metadata.Root
	}
	var anchors []anchor
	roots := map[string][]byte{}
	for _, r := range m.Repositories {
		p, err := metadata.LocalPath(cmd.rootFile, r.Name+".root.json")
		if err != nil {
			return fmt.Errorf("repository %q: no root file name for it: %w", r.Name, err)
		}
		a := anchor{path: repositoryAnchor(cmd.metadataDir, r.Name)}
		if a.data, a.root, err = readRoot(p); err != nil {
			return fmt.Errorf("repository %q: %w", r.Name, err)
		}
		if a.old, err = existingAnchor(a.path, a.data); err != nil {
			return fmt.Errorf("repository %q: %w", r.Name, err)
		}
		anchors = append(anchors, a)
		roots[r.Name] = a.data
	}
	mc, err := openMulti(ctx, cmd, log, client.MultiConfig{Map: m, TrustedRoots: roots, StateDir: cmd.metadataDir}, client.WithLogger(log))
	if err != nil {
		return err
	}
	defer mc.Close()
	for _, a := range anchors {
		if err := storeAnchor(log, a.path, a.data, a.root, a.old); err != nil {
			return err
		}
	}
	return nil
}

// openMulti opens the client of every repository of cfg; while another
// process holds one, it says so and waits for at most cmd.lockWait.
func openMulti(ctx context.Context, cmd *command, log *slog.Logger, cfg client.MultiConfig, opts ...client.Option) (*client.Multi, error) {
	return waitOpen(ctx, cmd, log,
		func() (*client.Multi, error) { return client.NewMulti(cfg, opts...) },
		func(ctx context.Context) (*client.Multi, error) { return client.OpenMulti(ctx, cfg, opts...) })
}

// newMultiClient opens the repositories of the map over the directories
// init prepared.
func newMultiClient(ctx context.Context, cmd *command, log *slog.Logger, clock func() time.Time) (*client.Multi, error) {
	m, err := readMap(cmd.mapFile)
	if err != nil {
		return nil, err
	}
	cfg := client.MultiConfig{Map: m, TrustedRoots: map[string][]byte{}, StateDir: cmd.metadataDir}
	for _, r := range m.Repositories {
		if cfg.TrustedRoots[r.Name], err = readAnchor(cmd.metadataDir, repositoryAnchor(cmd.metadataDir, r.Name)); err != nil {
			return nil, fmt.Errorf("repository %q: %w", r.Name, err)
		}
	}
	if cmd.targetBaseURL != "" {
		cfg.TargetURLs = []string{cmd.targetBaseURL}
	}
	return openMulti(ctx, cmd, log, cfg, client.WithLogger(log), client.WithClock(clock))
}

// openConsensus opens and refreshes every repository of the map for
// download. Repositories that fail to refresh are reported and left out:
// the others may still agree.
func openConsensus(ctx context.Context, cmd *command, log *slog.Logger, clock func() time.Time) (lookupFunc, func() error, error) {
	mc, err := newMultiClient(ctx, cmd, log, clock)
	if err != nil {
		return nil, nil, err
	}
	if err := mc.Refresh(ctx); err != nil {
		var me *client.MultiError
		if !errors.As(err, &me) || !slices.Contains(me.Errs, nil) {
			return nil, nil, errors.Join(err, mc.Close())
		}
		log.Warn("some repositories did not refresh; looking for agreement among the others", "err", err)
	}
	lookup := func(ctx context.Context, name string) (func(string) (bool, error), func(context.Context, string) error, error) {
		a, err := mc.Target(ctx, name)
		if err != nil {
			return nil, nil, err
		}
		log.Info("repositories agree", "target", name, "repositories", a.Repositories(), "mapping", a.Mapping().Index)
		return func(p string) (bool, error) { return mc.Cached(a, p) },
			func(ctx context.Context, p string) error { return mc.DownloadFile(ctx, a, p) }, nil
	}
	return lookup, mc.Close, nil
}
