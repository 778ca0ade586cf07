package translog

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/latchsec/latch/mirror"
)

// Dir reads a log directory as its URL prefix would serve it: a Fetcher
// for tests and tools that sit beside the log.
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
