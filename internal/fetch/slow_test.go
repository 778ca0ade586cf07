package fetch

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch/mirror"
)

// dripServer starts a loopback server that sends the headers with status
// code, then one byte every interval until the client goes away; the channel
// it returns is closed when the handler has seen the client go.
func dripServer(t *testing.T, code int, interval time.Duration) (url string, gone <-chan struct{}) {
	t.Helper()
	done := make(chan struct{})
	srv := blockingServer(t, func(w http.ResponseWriter, r *http.Request, release <-chan struct{}) {
		w.WriteHeader(code)
		w.(http.Flusher).Flush()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-release:
				return
			case <-r.Context().Done():
				close(done)
				return
			case <-tick.C:
			}
			if _, err := w.Write([]byte{'x'}); err != nil {
				close(done)
				return
			}
			w.(http.Flusher).Flush()
		}
	})
	return srv.URL, done
}

// readTimed reads rc to the end or an error and says how long it took.
func readTimed(rc io.Reader) ([]byte, time.Duration, error) {
	start := time.Now()
	data, err := io.ReadAll(rc)
	return data, time.Since(start), err
}

func TestSlowDripCut(t *testing.T) {
	t.Parallel()
	url, gone := dripServer(t, http.StatusOK, 50*time.Millisecond)
	h := New(Options{MinBytesPerSecond: 1000, SlowWindow: 300 * time.Millisecond})
	rc, err := h.Fetch(t.Context(), url, 0, 1<<40)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, took, err := readTimed(rc)
	var se *mirror.SlowError
	if !errors.As(err, &se) || !errors.Is(err, mirror.ErrSlowRetrieval) {
		t.Fatalf("err = %v after %v, want SlowError", err, took)
	}
	if took < 300*time.Millisecond || took > 10*time.Second {
		t.Errorf("cut after %v, want within [300ms, 10s]", took)
	}
	if se.URL != url || se.Min != 1000 || se.Window < 300*time.Millisecond || se.Got >= 300 || se.Got > int64(len(data)) {
		t.Errorf("SlowError = %+v, read %d bytes", se, len(data))
	}
	want := "GET " + url + ": " + strconv.FormatInt(se.Got, 10) + " bytes in " + se.Window.String() + " of waiting, below the minimum of 1000 bytes/s"
	if err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	// The error sticks, and the server sees the connection closed.
	if n, err := rc.Read(make([]byte, 10)); n != 0 || !errors.Is(err, mirror.ErrSlowRetrieval) {
		t.Errorf("read after the cut: %d, %v", n, err)
	}
	select {
	case <-gone:
	case <-time.After(10 * time.Second):
		t.Error("the server still sends after the cut")
	}
}

// TestNotFoundDripCut: the body of a 404 is read (so that its connection can
// serve the next request) under the same watchdog as any body: a server that
// drips it doesn't hold the refresh, and the error stays the 404.
func TestNotFoundDripCut(t *testing.T) {
	t.Parallel()
	url, gone := dripServer(t, http.StatusNotFound, 50*time.Millisecond)
	h := New(Options{MinBytesPerSecond: 1000, SlowWindow: 300 * time.Millisecond})
	start := time.Now()
	rc, err := h.Fetch(t.Context(), url, 0, 100)
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Fetch returned after %v, want the drain cut within [300ms, 10s]", took)
	}
	if rc != nil || !errors.Is(err, mirror.ErrNotFound) {
		t.Errorf("Fetch = %v, %v, want ErrNotFound", rc, err)
	}
	select {
	case <-gone:
	case <-time.After(10 * time.Second):
		t.Error("the server still sends after the cut")
	}
}

func TestStallAfterHeaders(t *testing.T) {
	t.Parallel()
	for _, prefix := range []string{"", "some bytes first"} {
		srv := blockingServer(t, func(w http.ResponseWriter, r *http.Request, release <-chan struct{}) {
			w.Header().Set("Content-Length", "1000")
			io.WriteString(w, prefix)
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
		h := New(Options{MinBytesPerSecond: 10, SlowWindow: 200 * time.Millisecond})
		rc, err := h.Fetch(t.Context(), srv.URL, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		data, took, err := readTimed(rc)
		rc.Close()
		var se *mirror.SlowError
		// Bytes sent before the stall count only in the windows they fall
		// in: the cut comes once a full window has seen none.
		if !errors.As(err, &se) || se.Got != 0 || string(data) != prefix {
			t.Errorf("prefix %q: read %q, err = %v; want SlowError with 0 bytes", prefix, data, err)
		}
		if took < 200*time.Millisecond || took > 10*time.Second {
			t.Errorf("prefix %q: cut after %v, want within [200ms, 10s]", prefix, took)
		}
	}
}

func TestTransferTimeout(t *testing.T) {
	t.Parallel()
	t.Run("before headers", func(t *testing.T) {
		t.Parallel()
		srv := blockingServer(t, func(w http.ResponseWriter, r *http.Request, release <-chan struct{}) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
		sl := &sleepRecorder{}
		h := New(Options{TransferTimeout: 300 * time.Millisecond, Sleep: sl.Sleep})
		start := time.Now()
		_, err := h.Fetch(t.Context(), srv.URL, 0, 10)
		took := time.Since(start)
		var te *mirror.TimeoutError
		if !errors.As(err, &te) || te.URL != srv.URL || te.Timeout != 300*time.Millisecond || !errors.Is(err, mirror.ErrSlowRetrieval) {
			t.Errorf("err = %v, want TimeoutError", err)
		}
		if err.Error() != "GET "+srv.URL+": transfer not finished within 300ms" {
			t.Errorf("err = %q", err)
		}
		if took < 300*time.Millisecond || took > 10*time.Second || len(sl.get()) != 0 {
			t.Errorf("returned after %v, slept %v", took, sl.get())
		}
	})
	t.Run("during backoff", func(t *testing.T) {
		t.Parallel()
		srv := server(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "60")
			w.WriteHeader(http.StatusServiceUnavailable)
		})
		h := New(Options{TransferTimeout: 300 * time.Millisecond}) // the default Sleep
		start := time.Now()
		_, err := h.Fetch(t.Context(), srv.URL, 0, 10)
		var te *mirror.TimeoutError
		if !errors.As(err, &te) || !strings.Contains(err.Error(), "waiting to retry after GET "+srv.URL+": 503 Service Unavailable") {
			t.Errorf("err = %v, want TimeoutError after a 503", err)
		}
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("returned after %v", took)
		}
	})
	t.Run("during body", func(t *testing.T) {
		t.Parallel()
		// 1 KiB every 10ms, endless. The watchdog's window is longer than
		// the transfer timeout, so that on a loaded machine, where both
		// fire late, the timeout still comes first.
		srv := blockingServer(t, func(w http.ResponseWriter, r *http.Request, release <-chan struct{}) {
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			chunk := bytes.Repeat([]byte{'x'}, 1024)
			for {
				if _, err := w.Write(chunk); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-release:
					return
				case <-r.Context().Done():
					return
				case <-tick.C:
				}
			}
		})
		h := New(Options{TransferTimeout: 500 * time.Millisecond, MinBytesPerSecond: 1000, SlowWindow: 10 * time.Second})
		start := time.Now()
		rc, err := h.Fetch(t.Context(), srv.URL, 0, 1<<40)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		data, err := io.ReadAll(rc)
		took := time.Since(start)
		var te *mirror.TimeoutError
		if !errors.As(err, &te) || te.Timeout != 500*time.Millisecond {
			t.Errorf("err = %v, want TimeoutError", err)
		}
		if took < 500*time.Millisecond || took > 10*time.Second || len(data) < 1024 {
			t.Errorf("cut after %v and %d bytes", took, len(data))
		}
	})
}

func TestFastTransferNotCut(t *testing.T) {
	t.Parallel()
	const chunks, size = 50, 16 << 10
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte{'y'}, size)
		for range chunks {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			time.Sleep(15 * time.Millisecond)
		}
	})
	// 16 KiB per 15ms is about 1 MB/s, a hundred times the minimum; the
	// transfer lasts more than three windows.
	h := New(Options{MinBytesPerSecond: 10_000, SlowWindow: 200 * time.Millisecond})
	data, err := fetchAll(t.Context(), h, srv.URL, 0, chunks*size)
	if err != nil || len(data) != chunks*size {
		t.Errorf("read %d bytes, %v", len(data), err)
	}
}

// TestCallerPauseNotCounted reads a fast server slowly: the time between
// reads is the caller's, not the server's.
func TestCallerPauseNotCounted(t *testing.T) {
	t.Parallel()
	content := bytes.Repeat([]byte{'z'}, 64<<10)
	srv := server(t, func(w http.ResponseWriter, r *http.Request) { w.Write(content) })
	// A million bytes per second over 100ms is more than the whole body.
	h := New(Options{MinBytesPerSecond: 1_000_000, SlowWindow: 100 * time.Millisecond})
	rc, err := h.Fetch(t.Context(), srv.URL, 0, int64(len(content)))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	buf := make([]byte, 1)
	var got []byte
	for range 3 {
		if _, err := io.ReadFull(rc, buf); err != nil {
			t.Fatal(err)
		}
		got = append(got, buf...)
		time.Sleep(150 * time.Millisecond)
	}
	rest, err := io.ReadAll(rc)
	if got = append(got, rest...); err != nil || !bytes.Equal(got, content) {
		t.Errorf("read %d bytes, %v", len(got), err)
	}
}

func TestEndlessStream(t *testing.T) {
	t.Parallel()
	t.Run("fast: stopped by the length limit", func(t *testing.T) {
		t.Parallel()
		srv := server(t, func(w http.ResponseWriter, r *http.Request) {
			chunk := bytes.Repeat([]byte{'e'}, 32<<10)
			for {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		})
		const limit = 4 << 20
		h := New(Options{SlowWindow: 100 * time.Millisecond})
		data, err := fetchAll(t.Context(), h, srv.URL, 0, limit)
		var tl *mirror.TooLargeError
		if !errors.As(err, &tl) || tl.Limit != limit || len(data) != limit {
			t.Errorf("read %d bytes, %v; want TooLargeError at %d", len(data), err, limit)
		}
	})
	t.Run("slow: stopped by the watchdog", func(t *testing.T) {
		t.Parallel()
		url, _ := dripServer(t, http.StatusOK, 20*time.Millisecond)
		h := New(Options{MinBytesPerSecond: 1000, SlowWindow: 200 * time.Millisecond})
		start := time.Now()
		_, err := fetchAll(t.Context(), h, url, 0, 1<<40)
		if !errors.Is(err, mirror.ErrSlowRetrieval) || time.Since(start) > 10*time.Second {
			t.Errorf("err = %v after %v, want ErrSlowRetrieval", err, time.Since(start))
		}
	})
}

func TestSlowOptionsDefaults(t *testing.T) {
	h := New(Options{})
	if h.transferTimeout != 30*time.Minute || h.minRate != 1024 || h.window != 30*time.Second || h.headerTimeout != 30*time.Second {
		t.Errorf("defaults: %v, %d, %v, %v", h.transferTimeout, h.minRate, h.window, h.headerTimeout)
	}
	h = New(Options{TransferTimeout: -1, MinBytesPerSecond: -1, SlowWindow: time.Millisecond, HeaderTimeout: -1})
	if h.transferTimeout != 30*time.Minute || h.minRate != 1024 || h.window != 100*time.Millisecond || h.headerTimeout != 30*time.Second {
		t.Errorf("negative and tiny: %v, %d, %v, %v", h.transferTimeout, h.minRate, h.window, h.headerTimeout)
	}
}
