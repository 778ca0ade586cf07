package fetch

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/latchsec/latch/mirror"
)

// transfer is the context of one Fetch call: the caller's context, ended
// early by the transfer deadline, by the slow-retrieval watchdog or by
// closing the body. Its cause tells which.
type transfer struct {
	ctx      context.Context
	cancel   context.CancelCauseFunc
	deadline *time.Timer
}

func newTransfer(ctx context.Context, name string, timeout time.Duration) *transfer {
	tctx, cancel := context.WithCancelCause(ctx)
	return &transfer{
		ctx:    tctx,
		cancel: cancel,
		deadline: time.AfterFunc(timeout, func() {
			cancel(&mirror.TimeoutError{URL: name, Timeout: timeout})
		}),
	}
}

// reason returns the *mirror.SlowError or *mirror.TimeoutError that ended
// the transfer, if one did, else err. Whichever cancels first sets the
// cause, so a transfer that the caller's context ended reports err.
func (t *transfer) reason(err error) error {
	if cause := context.Cause(t.ctx); errors.Is(cause, mirror.ErrSlowRetrieval) {
		return cause
	}
	return err
}

// end releases the transfer's timer and context.
func (t *transfer) end() {
	t.deadline.Stop()
	t.cancel(nil)
}

// minSlowWindow is the shortest Options.SlowWindow honoured, so that the
// watchdog never ticks faster than every 25ms.
const minSlowWindow = 100 * time.Millisecond

// watchdog cuts off a transfer whose server sends fewer than min bytes per
// second. Only time spent inside Read, waiting for the server, counts: a
// caller that pauses between reads is not taken for a slow server. Every
// window/4 a timer checks the span back to the newest mark at least a window
// of waiting ago; no goroutine runs in between.
type watchdog struct {
	url    string
	window time.Duration
	min    int64 // bytes per second
	need   int64 // bytes per window
	done   <-chan struct{}
	cancel context.CancelCauseFunc

	mu      sync.Mutex
	got     int64         // bytes read so far
	waited  time.Duration // time spent in Reads that returned
	since   time.Time     // start of the Read in progress; zero between Reads
	marks   []mark        // earlier (waited, got), oldest first, never empty
	timer   *time.Timer
	stopped bool
}

type mark struct {
	waited time.Duration
	got    int64
}

// startWatchdog starts the watchdog of a transfer whose response headers
// have just arrived.
func startWatchdog(t *transfer, name string, window time.Duration, min int64) *watchdog {
	w := &watchdog{
		url:    name,
		window: window,
		min:    min,
		need:   int64(float64(min) * window.Seconds()),
		done:   t.ctx.Done(),
		cancel: t.cancel,
		marks:  []mark{{}},
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.timer = time.AfterFunc(window/4, w.check)
	return w
}

// begin and end bracket each Read of the body.
func (w *watchdog) begin() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.since = time.Now()
}

func (w *watchdog) end(n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.waited += time.Since(w.since)
	w.since = time.Time{}
	w.got += int64(n)
}

func (w *watchdog) check() {
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case <-w.done:
		w.stopped = true
	default:
	}
	if w.stopped {
		return
	}
	waited := w.waited
	if !w.since.IsZero() {
		waited += time.Since(w.since)
	}
	// The newest mark at least a window of waiting ago, if any.
	i := -1
	for j, m := range w.marks {
		if waited-m.waited >= w.window {
			i = j
		}
	}
	if i >= 0 {
		m := w.marks[i]
		if got := w.got - m.got; got < w.need {
			w.stopped = true
			w.cancel(&mirror.SlowError{URL: w.url, Got: got, Window: waited - m.waited, Min: w.min})
			return
		}
		w.marks = slices.Delete(w.marks, 0, i)
	}
	// Marks at least window/8 of waiting apart keep the list short however
	// little the caller reads.
	if waited-w.marks[len(w.marks)-1].waited >= w.window/8 {
		w.marks = append(w.marks, mark{waited, w.got})
	}
	w.timer.Reset(w.window / 4)
}

func (w *watchdog) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	w.timer.Stop()
}
