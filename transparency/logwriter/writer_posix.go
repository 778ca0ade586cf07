//go:build !windows

package logwriter

import (
	"context"
	"io"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"
	"k8s.io/klog/v2"
)

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
		WithBatching(256, 10*time.Millisecond).
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
// includes them all. It returns the index of the first and that
// checkpoint.
func (w *Writer) Add(ctx context.Context, entries ...[]byte) (first int64, checkpoint []byte, err error) {
	futures := make([]tessera.IndexFuture, len(entries))
	for i, e := range entries {
		futures[i] = w.appender.Add(ctx, tessera.NewEntry(e))
	}
	for i, f := range futures {
		idx, cp, err := w.awaiter.Await(ctx, f)
		if err != nil {
			return 0, nil, err
		}
		if i == 0 {
			first = int64(idx.Index)
		}
		checkpoint = cp
	}
	return first, checkpoint, nil
}

// Close waits for what was added and stops the writer.
func (w *Writer) Close(ctx context.Context) error {
	defer w.stop()
	return w.shutdown(ctx)
}
