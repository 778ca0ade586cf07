//go:build !windows

package logwriter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"
	"k8s.io/klog/v2"
)

// batchSize is the most entries Tessera integrates in one batch.
const batchSize = 256

// Writer appends to one log directory. It is for one process at a time:
// Tessera locks the directory while it integrates entries, but the index a
// Writer expects (NextIndex) holds only while nobody else appends.
type Writer struct {
	appender *tessera.Appender
	reader   tessera.LogReader
	awaiter  *tessera.PublicationAwaiter
	shutdown func(context.Context) error
	stop     context.CancelFunc
}

// Open opens the log in dir, creating it (with a signed checkpoint of the
// empty tree) when it is new. Checkpoints are signed by signer, whose name
// is the log's origin.
func Open(ctx context.Context, dir string, signer note.Signer) (*Writer, error) {
	// Tessera logs through klog; its failures reach us as errors.
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
	// The appender's background work lives until Close, not just for ctx.
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	driver, err := posix.New(bg, posix.Config{Path: dir})
	if err != nil {
		stop()
		return nil, err
	}
	// Entries are integrated as they come, and a checkpoint follows each
	// batch (100 ms apart at least: the driver's minimum). Partial tiles
	// are never garbage-collected: a log of releases stays small.
	opts := tessera.NewAppendOptions().
		WithCheckpointSigner(signer).
		WithBatching(batchSize, 10*time.Millisecond).
		WithCheckpointInterval(100 * time.Millisecond).
		WithGarbageCollectionInterval(0)
	a, shutdown, reader, err := tessera.NewAppender(bg, driver, opts)
	if err != nil {
		stop()
		return nil, err
	}
	return &Writer{
		appender: a,
		reader:   reader,
		awaiter:  tessera.NewPublicationAwaiter(bg, reader.ReadCheckpoint, 10*time.Millisecond),
		shutdown: shutdown,
		stop:     stop,
	}, nil
}

// NextIndex is the index the next entry will get.
func (w *Writer) NextIndex(ctx context.Context) (int64, error) {
	n, err := w.reader.NextIndex(ctx)
	return int64(n), err
}

// Add appends entries in order and waits until a published checkpoint
// includes them all. It returns the index of the first (the others follow
// it) and that checkpoint.
//
// Tessera does not keep the order of entries that fall into two batches
// flushed at about the same time (one full, one timed out), so Add hands
// them over one batch at a time and waits for each to be given its
// indices before the next. Should Tessera still put them in another order,
// Add fails with an error matching ErrOutOfOrder that lists where they
// went: they are in the log, but not where a caller would sign them to be.
func (w *Writer) Add(ctx context.Context, entries ...[]byte) (first int64, checkpoint []byte, err error) {
	var last tessera.IndexFuture
	got := make([]int64, 0, len(entries))
	for chunk := range slices.Chunk(entries, batchSize) {
		futures := make([]tessera.IndexFuture, len(chunk))
		for i, e := range chunk {
			futures[i] = w.appender.Add(ctx, tessera.NewEntry(e))
		}
		for _, f := range futures {
			idx, err := f()
			if err != nil {
				return 0, nil, err
			}
			got = append(got, int64(idx.Index))
		}
		last = futures[len(futures)-1]
	}
	if last == nil {
		return 0, nil, errors.New("logwriter: no entries to add")
	}
	for i, idx := range got {
		if idx != got[0]+int64(i) {
			return 0, nil, fmt.Errorf("%w: entries 0 to %d went to indices %v", ErrOutOfOrder, len(got)-1, got)
		}
	}
	if _, checkpoint, err = w.awaiter.Await(ctx, last); err != nil {
		return 0, nil, err
	}
	return got[0], checkpoint, nil
}

// Close waits for what was added and stops the writer.
func (w *Writer) Close(ctx context.Context) error {
	defer w.stop()
	return w.shutdown(ctx)
}
