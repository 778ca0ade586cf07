package translog

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/latchsec/latch/mirror"
	"github.com/latchsec/latch/transparency"
	"golang.org/x/mod/sumdb/tlog"
)

// Tile geometry of C2SP tlog-tiles: tiles of height 8, so 256 hashes (or
// entries) to a full tile.
const (
	TileHeight = 8
	TileWidth  = 1 << TileHeight
	tileSize   = TileWidth * tlog.HashSize
)

// TilePath returns the path of a hash tile: tile/<L>/<N>[.p/<W>], with a
// partial suffix when w < 256.
func TilePath(level int, n int64, w int) string {
	return "tile/" + strconv.Itoa(level) + "/" + indexPath(n, w)
}

// BundlePath returns the path of an entry bundle: tile/entries/<N>[.p/<W>].
func BundlePath(n int64, w int) string {
	return "tile/entries/" + indexPath(n, w)
}

// indexPath encodes n in 3-digit path elements, all but the last prefixed
// with x (1234067 is x001/x234/067), and a width below 256 as .p/<W>.
func indexPath(n int64, w int) string {
	s := fmt.Sprintf("%03d", n%1000)
	for n /= 1000; n > 0; n /= 1000 {
		s = fmt.Sprintf("x%03d/%s", n%1000, s)
	}
	if w < TileWidth {
		s += ".p/" + strconv.Itoa(w)
	}
	return s
}

// treeReader reads hashes of one tree from the log's tiles (tlog.HashReader),
// each authenticated against the tree's root before use. It lives for one
// operation: tlog's readers take no context, so the operation's context
// travels in the struct.
type treeReader struct {
	ctx  context.Context
	log  *Log
	tree tlog.Tree
}

// ReadHashes reads through the Cache first. If that fails for any reason
// but a failed fetch, it reads again from the log alone: a cached tile may
// be one of another tree (a fork), and the error to report is about what the
// log serves now.
func (r treeReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	tr := &tileReader{treeReader: r, useCache: true}
	hs, err := tlog.TileHashReader(r.tree, tr).ReadHashes(indexes)
	var fe *transparency.FetchError
	if err != nil && tr.usedCache && !errors.As(err, &fe) {
		hs, err = tlog.TileHashReader(r.tree, &tileReader{treeReader: r}).ReadHashes(indexes)
	}
	return hs, err
}

// tileReader fetches tiles for one call of tlog's tile hash reader.
type tileReader struct {
	treeReader
	useCache  bool
	usedCache bool
}

func (r *tileReader) Height() int { return TileHeight }

// ReadTiles fetches the tiles, up to 8 at a time. What it returns is not
// trusted yet: tlog checks every tile against the tree's root.
func (r *tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	data := make([][]byte, len(tiles))
	errs := make([]error, len(tiles))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, t := range tiles {
		if d, ok := r.log.recalled(r.tree, t); ok {
			data[i] = d
			continue
		}
		if d, ok := r.log.cached(TilePath(t.L, t.N, TileWidth)); r.useCache && ok && len(d) == tileSize {
			data[i], r.usedCache = d[:t.W*tlog.HashSize], true
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			data[i], errs[i] = r.fetchTile(t)
		}()
	}
	wg.Wait()
	return data, errors.Join(errs...)
}

// fetchTile returns the W hashes of tile t: the partial tile from the log,
// or (a log may delete a partial tile once the full one exists) the first W
// hashes of the full tile.
func (r *tileReader) fetchTile(t tlog.Tile) ([]byte, error) {
	size := t.W * tlog.HashSize
	if t.W < TileWidth {
		p := TilePath(t.L, t.N, t.W)
		d, err := r.log.fetch(r.ctx, p, int64(size))
		if err == nil && len(d) != size {
			return nil, &transparency.ProofError{What: p, Err: fmt.Errorf("%d bytes where %d hashes make %d", len(d), t.W, size)}
		}
		if !errors.Is(err, mirror.ErrNotFound) {
			return d, err
		}
	}
	full := TilePath(t.L, t.N, TileWidth)
	d, err := r.log.fetch(r.ctx, full, tileSize)
	if err != nil {
		return nil, err
	}
	if len(d) != tileSize {
		return nil, &transparency.ProofError{What: full, Err: fmt.Errorf("%d bytes where a full tile has %d", len(d), tileSize)}
	}
	return d[:size], nil
}

// SaveTiles is called by tlog with tiles it has authenticated: full ones go
// to the Cache, partial ones to the Log's memory of the current tree.
func (r *tileReader) SaveTiles(tiles []tlog.Tile, data [][]byte) {
	for i, t := range tiles {
		if t.W < TileWidth {
			r.log.remember(r.tree, t, data[i])
		} else if r.log.cache != nil {
			r.log.cache.Store(TilePath(t.L, t.N, TileWidth), data[i])
		}
	}
}

// parseBundle splits an entry bundle (big-endian uint16 length, then that
// many bytes, repeated) into exactly n entries.
func parseBundle(b []byte, n int) ([][]byte, error) {
	entries := make([][]byte, 0, n)
	for len(b) > 0 {
		if len(b) < 2 || len(b)-2 < int(binary.BigEndian.Uint16(b)) {
			return nil, fmt.Errorf("%w: entry bundle: truncated entry %d", transparency.ErrMalformed, len(entries))
		}
		l := int(binary.BigEndian.Uint16(b))
		entries = append(entries, b[2:2+l:2+l])
		b = b[2+l:]
	}
	if len(entries) != n {
		return nil, fmt.Errorf("%w: entry bundle: %d entries where %d were expected", transparency.ErrMalformed, len(entries), n)
	}
	return entries, nil
}

// bundleWidth is the number of entries of bundle n in a tree of size.
func bundleWidth(n, size int64) int {
	return int(min(size-n*TileWidth, TileWidth))
}
