package translog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/latchsec/latch/mirror"
	"github.com/latchsec/latch/transparency"
	"golang.org/x/mod/sumdb/tlog"
)

// A Fetcher reads a log's resources, named by their path under the log's
// URL prefix (C2SP tlog-tiles): "checkpoint", "tile/0/x001/234",
// "tile/1/000.p/17", "tile/entries/000". It returns an error matching
// mirror.ErrNotFound when the log has no such resource, and fails rather than
// return more than max bytes. What it returns is untrusted: every byte is
// checked against a signed checkpoint before use. It must be safe for
// concurrent use.
type Fetcher interface {
	Fetch(ctx context.Context, path string, max int64) ([]byte, error)
}

// A Cache keeps the log resources that never change and that proofs read
// again and again, full hash tiles, once they have been verified. What Load returns is checked
// again like fetched data. Store is best effort. It must be safe for
// concurrent use.
type Cache interface {
	Load(path string) ([]byte, bool)
	Store(path string, data []byte)
}

// DefaultMaxBundleSize bounds an entry bundle a Log fetches: 256 entries of
// 4 KiB, far more than release entries need. A monitor, which must read
// whatever the log holds, raises it to MaxBundleSize.
const DefaultMaxBundleSize = 1 << 20

// MaxBundleSize is the largest possible entry bundle: 256 entries of
// MaxEntrySize bytes, each with its 2-byte length.
const MaxBundleSize = TileWidth * (2 + transparency.MaxEntrySize)

// Options configure a Log.
type Options struct {
	Cache         Cache // nil: nothing is kept between operations
	MaxBundleSize int64 // 0: DefaultMaxBundleSize
}

// Log reads and verifies one tile-based log. It is safe for concurrent use.
type Log struct {
	v         *Verifier
	f         Fetcher
	cache     Cache
	maxBundle int64

	// The partial tiles authenticated under the tree read last: the
	// consistency and inclusion proofs of one update read the same ones.
	mu      sync.Mutex
	memo    tlog.Tree
	partial map[tlog.Tile][]byte
}

// NewLog returns a Log that verifies what f serves under v's policy.
func NewLog(v *Verifier, f Fetcher, o Options) (*Log, error) {
	if o.MaxBundleSize == 0 {
		o.MaxBundleSize = DefaultMaxBundleSize
	}
	if o.MaxBundleSize < 0 || o.MaxBundleSize > MaxBundleSize {
		return nil, fmt.Errorf("log: MaxBundleSize %d out of range 1 to %d", o.MaxBundleSize, MaxBundleSize)
	}
	return &Log{v: v, f: f, cache: o.Cache, maxBundle: o.MaxBundleSize}, nil
}

// Verifier returns the Log's checkpoint verifier.
func (l *Log) Verifier() *Verifier { return l.v }

func (l *Log) fetch(ctx context.Context, path string, max int64) ([]byte, error) {
	b, err := l.f.Fetch(ctx, path, max)
	if err != nil {
		return nil, &transparency.FetchError{Path: path, Err: err}
	}
	return b, nil
}

// recalled returns a partial tile of tree authenticated before.
func (l *Log) recalled(tree tlog.Tree, t tlog.Tile) ([]byte, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	d, ok := l.partial[t]
	return d, ok && l.memo == tree
}

// remember keeps a partial tile authenticated under tree, forgetting those
// of any other tree.
func (l *Log) remember(tree tlog.Tree, t tlog.Tile, data []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.memo != tree || l.partial == nil {
		l.memo, l.partial = tree, map[tlog.Tile][]byte{}
	}
	l.partial[t] = data
}

func (l *Log) cached(path string) ([]byte, bool) {
	if l.cache == nil {
		return nil, false
	}
	return l.cache.Load(path)
}

// Checkpoint fetches the log's latest checkpoint and verifies it (see
// Verifier.Open).
func (l *Log) Checkpoint(ctx context.Context) (*transparency.Checkpoint, error) {
	b, err := l.fetch(ctx, "checkpoint", MaxCheckpointSize)
	if err != nil {
		return nil, err
	}
	return l.v.Open(b)
}

// hashReader reads hashes of cp's tree from tiles, each one authenticated
// against cp's root before use.
func (l *Log) hashReader(ctx context.Context, cp *transparency.Checkpoint) tlog.HashReader {
	return treeReader{ctx: ctx, log: l, tree: tlog.Tree{N: cp.Size, Hash: cp.Hash}}
}

// proofErr passes on a failure to fetch (the log or a mirror is down, or
// withholds a file) and reports anything else that stopped a proof as
// ErrInvalidProof (tlog found tiles that do not hash to the checkpoint).
func proofErr(what string, err error) error {
	var fe *transparency.FetchError
	var pe *transparency.ProofError
	if errors.As(err, &fe) || errors.As(err, &pe) {
		return err
	}
	return &transparency.ProofError{What: what, Err: err}
}

// Consistent checks that cp extends trusted: a tree at least as large, whose
// first trusted.Size entries are the trusted tree (RFC 6962 consistency
// proof, computed from cp's tiles). A smaller tree is a *ConflictError
// matching ErrRollback; a tree that does not extend trusted is one matching
// ErrSplitView. A nil or empty trusted checkpoint constrains nothing.
func (l *Log) Consistent(ctx context.Context, trusted, cp *transparency.Checkpoint) error {
	if trusted == nil || trusted.Size == 0 {
		return nil
	}
	if trusted.Origin != cp.Origin {
		return &transparency.OriginError{Got: cp.Origin, Want: trusted.Origin}
	}
	switch {
	case cp.Size < trusted.Size:
		return &transparency.ConflictError{Trusted: trusted, Got: cp, Err: transparency.ErrRollback}
	case cp.Size == trusted.Size && cp.Hash == trusted.Hash:
		return nil
	case cp.Size == trusted.Size:
		return &transparency.ConflictError{Trusted: trusted, Got: cp, Err: transparency.ErrSplitView}
	}
	p, err := tlog.ProveTree(cp.Size, trusted.Size, l.hashReader(ctx, cp))
	if err != nil {
		return proofErr(fmt.Sprintf("consistency of sizes %d and %d", trusted.Size, cp.Size), err)
	}
	if tlog.CheckTree(p, cp.Size, cp.Hash, trusted.Size, trusted.Hash) != nil {
		return &transparency.ConflictError{Trusted: trusted, Got: cp, Err: transparency.ErrSplitView}
	}
	return nil
}

// Inclusion is a proof that a checkpoint's tree holds Entry at Index. It can
// be kept and checked again later, without the log (CheckInclusion).
type Inclusion struct {
	Index int64
	Entry []byte
	Proof tlog.RecordProof
}

// Prove fetches the entry at index and its inclusion proof under cp, and
// checks them with CheckInclusion.
func (l *Log) Prove(ctx context.Context, cp *transparency.Checkpoint, index int64, want transparency.Entry) (*Inclusion, error) {
	if index < 0 || index >= cp.Size {
		return nil, &transparency.NotLoggedError{Index: index, Size: cp.Size}
	}
	what := fmt.Sprintf("inclusion of entry %d in a tree of size %d", index, cp.Size)
	entries, err := l.bundle(ctx, index/TileWidth, cp.Size)
	if err != nil {
		return nil, err
	}
	p, err := tlog.ProveRecord(cp.Size, index, l.hashReader(ctx, cp))
	if err != nil {
		return nil, proofErr(what, err)
	}
	inc := &Inclusion{Index: index, Entry: entries[index%TileWidth], Proof: p}
	if err := CheckInclusion(cp, inc, want); err != nil {
		return nil, err
	}
	return inc, nil
}

// CheckInclusion checks that inc proves, under cp, that the log holds
// exactly want's entry at inc.Index: first that the entry's hash and the
// proof lead to cp's root (else ErrInvalidProof), then that the entry so
// proven is want (else ErrWrongEntry).
func CheckInclusion(cp *transparency.Checkpoint, inc *Inclusion, want transparency.Entry) error {
	if inc.Index < 0 || inc.Index >= cp.Size {
		return &transparency.NotLoggedError{Index: inc.Index, Size: cp.Size}
	}
	if err := tlog.CheckRecord(inc.Proof, cp.Size, cp.Hash, inc.Index, tlog.RecordHash(inc.Entry)); err != nil {
		return &transparency.ProofError{What: fmt.Sprintf("inclusion of entry %d in a tree of size %d", inc.Index, cp.Size), Err: err}
	}
	wantBytes, err := want.Marshal()
	if err != nil {
		return err
	}
	if !bytes.Equal(inc.Entry, wantBytes) {
		return &transparency.WrongEntryError{Index: inc.Index, Want: want, Got: bytes.Clone(inc.Entry)}
	}
	return nil
}

// bundle returns the entries of bundle n of a tree of the given size: the
// partial bundle, or (a log may delete a partial bundle once the full one
// exists) the first entries of the full one. They are not verified yet, but
// a bundle that does not parse is reported as ErrInvalidProof: no log
// serves that.
func (l *Log) bundle(ctx context.Context, n, size int64) ([][]byte, error) {
	w := bundleWidth(n, size)
	p, count := BundlePath(n, w), w
	b, err := l.fetch(ctx, p, l.maxBundle)
	if w < TileWidth && errors.Is(err, mirror.ErrNotFound) {
		p, count = BundlePath(n, TileWidth), TileWidth
		b, err = l.fetch(ctx, p, l.maxBundle)
	}
	if err != nil {
		return nil, err
	}
	entries, err := parseBundle(b, count)
	if err != nil {
		return nil, &transparency.ProofError{What: p, Err: err}
	}
	return entries[:w], nil
}

// Entries calls yield with every entry of cp's tree from index start on, in
// order, each one verified against cp first: its hash is the leaf hash that
// the log's tiles, authenticated against cp's root, hold at its index. It
// stops at the first error, yield's included.
func (l *Log) Entries(ctx context.Context, cp *transparency.Checkpoint, start int64, yield func(index int64, entry []byte) error) error {
	if start < 0 || start > cp.Size {
		return fmt.Errorf("log: entries from %d of a tree of size %d", start, cp.Size)
	}
	hr := l.hashReader(ctx, cp)
	for n := start / TileWidth; n*TileWidth < cp.Size; n++ {
		entries, err := l.bundle(ctx, n, cp.Size)
		if err != nil {
			return err
		}
		first := max(start, n*TileWidth)
		indexes := make([]int64, 0, TileWidth)
		for i := first; i < n*TileWidth+int64(len(entries)); i++ {
			indexes = append(indexes, tlog.StoredHashIndex(0, i))
		}
		what := fmt.Sprintf("entries %d to %d of a tree of size %d", first, first+int64(len(indexes))-1, cp.Size)
		leaves, err := hr.ReadHashes(indexes)
		if err != nil {
			return proofErr(what, err)
		}
		for j, leaf := range leaves {
			i := first + int64(j)
			e := entries[i-n*TileWidth]
			if tlog.RecordHash(e) != leaf {
				return &transparency.ProofError{What: what, Err: fmt.Errorf("entry %d does not hash to its leaf", i)}
			}
			if err := yield(i, e); err != nil {
				return err
			}
		}
	}
	return nil
}
