//go:build !windows

package main

import (
	"context"
	"io"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"
	"k8s.io/klog/v2"
)

// tesseraLog appends to a log with Tessera's POSIX driver, which writes the
// tiles, entry bundles and checkpoint as files (C2SP tlog-tiles) and keeps
// its own state, locks included, in the log directory's .state.
type tesseraLog struct {
	appender *tessera.Appender
	reader   tessera.LogReader
	awaiter  *tessera.PublicationAwaiter
	shutdown func(context.Context) error
	stop     context.CancelFunc
}

// startLog opens (creating it when new, with an empty signed checkpoint) the
// log in dir.
func startLog(ctx context.Context, dir string, signer note.Signer) (appender, error) {
	klog.LogToStderr(false) // Tessera logs through klog; its errors reach us as errors
	klog.SetOutput(io.Discard)
	// The appender's background work lives until close, not just for ctx.
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	driver, err := posix.New(bg, posix.Config{Path: dir})
	if err != nil {
		stop()
		return nil, err
	}
	// One process adds one release: a checkpoint as soon as it is
	// integrated (100 ms is the driver's minimum), no batching delay.
	opts := tessera.NewAppendOptions().
		WithCheckpointSigner(signer).
		WithBatching(1, 10*time.Millisecond).
		WithCheckpointInterval(100 * time.Millisecond)
	a, shutdown, reader, err := tessera.NewAppender(bg, driver, opts)
	if err != nil {
		stop()
		return nil, err
	}
	return &tesseraLog{
		appender: a,
		reader:   reader,
		awaiter:  tessera.NewPublicationAwaiter(bg, reader.ReadCheckpoint, 20*time.Millisecond),
		shutdown: shutdown,
		stop:     stop,
	}, nil
}

func (l *tesseraLog) nextIndex(ctx context.Context) (int64, error) {
	n, err := l.reader.NextIndex(ctx)
	return int64(n), err
}

func (l *tesseraLog) add(ctx context.Context, entry []byte) (int64, error) {
	idx, _, err := l.awaiter.Await(ctx, l.appender.Add(ctx, tessera.NewEntry(entry)))
	return int64(idx.Index), err
}

func (l *tesseraLog) close(ctx context.Context) error {
	defer l.stop()
	return l.shutdown(ctx)
}
