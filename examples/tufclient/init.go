package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/metadata"
)

// anchorName is the trust anchor's file name in the metadata directory, the
// one file there that is tufclient's rather than the client's. It does not
// end in .json: the metadata directory's .json files are exactly the cached
// metadata.
const anchorName = "trusted-root"

// maxRootSize caps the root file init reads, the client's default limit for
// root metadata.
const maxRootSize = 512 << 10

// errNotInitialised: refresh or download on a directory without a trust
// anchor.
var errNotInitialised = errors.New("metadata directory is not initialised")

// errAlreadyInitialised: init with a root other than the stored one.
var errAlreadyInitialised = errors.New("metadata directory is already initialised with another root")

func anchorPath(metadataDir string) string {
	return filepath.Join(metadataDir, anchorName)
}

// initialise stores cmd.rootFile as the trust anchor of cmd.metadataDir once
// it verifies as a self-signed root. Running it again with the same root
// changes nothing; with another root it fails, so that a typo can't replace
// the anchor of an existing directory.
func initialise(ctx context.Context, cmd *command, log *slog.Logger) error {
	data, root, err := readRoot(cmd.rootFile)
	if err != nil {
		return err
	}
	old, err := existingAnchor(anchorPath(cmd.metadataDir), data)
	if err != nil {
		return err
	}
	// The client takes the state directory's lock, so no refresh runs while
	// the anchor changes, and caches the root as DIR/root.json: the metadata
	// directory describes the trusted root from the start.
	c, err := openClient(ctx, cmd, log, client.Config{TrustedRoot: data, StateDir: cmd.metadataDir}, client.WithLogger(log))
	if err != nil {
		return err
	}
	defer c.Close()
	return storeAnchor(log, anchorPath(cmd.metadataDir), data, root, old)
}

// readRoot reads the root metadata file path and checks that it is signed
// by a threshold of its own root keys.
func readRoot(path string) ([]byte, *metadata.Root, error) {
	data, err := readRootFile(path)
	if err != nil {
		return nil, nil, err
	}
	root, err := metadata.OpenRoot(data, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, root, nil
}

// existingAnchor returns the trust anchor stored at p, nil if there is none
// yet; one other than data is errAlreadyInitialised.
func existingAnchor(p string, data []byte) ([]byte, error) {
	old, err := os.ReadFile(p)
	switch {
	case err == nil && !bytes.Equal(old, data):
		return nil, fmt.Errorf("%w (%s); remove the directory to start over", errAlreadyInitialised, p)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	return old, nil
}

// storeAnchor stores data, the verified root, as the trust anchor at p
// unless old (from existingAnchor) says it is there already.
func storeAnchor(log *slog.Logger, p string, data []byte, root *metadata.Root, old []byte) error {
	if old != nil {
		log.Info("already initialised with this root", "anchor", p, "root", root.Version())
		return nil
	}
	if err := writeFileAtomic(p, data); err != nil {
		return err
	}
	log.Info("initialised", "anchor", p, "root", root.Version(), "expires", root.Expires())
	return nil
}

// readRootFile reads at most maxRootSize bytes of path.
func readRootFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxRootSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(data) > maxRootSize {
		return nil, fmt.Errorf("%s: larger than %d bytes: not root metadata", path, maxRootSize)
	}
	return data, nil
}

// readAnchor returns the trust anchor init stored at p for metadataDir.
func readAnchor(metadataDir, p string) ([]byte, error) {
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: there is no %s; run tufclient --metadata-dir %s init first",
			errNotInitialised, p, metadataDir)
	}
	return data, err
}

// writeFileAtomic writes data to path through a temporary file beside it,
// synced and then renamed into place: a crash leaves the old file or the
// new one, never a part.
func writeFileAtomic(path string, data []byte) (err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
