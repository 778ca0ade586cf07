package fetch

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchsec/latch/mirror"
)

// sleepRecorder is an Options.Sleep that records the waits and returns at
// once.
type sleepRecorder struct {
	mu    sync.Mutex
	slept []time.Duration
}

func (s *sleepRecorder) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.slept = append(s.slept, d)
	return ctx.Err()
}

func (s *sleepRecorder) get() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.slept...)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// noTraffic is a transport that fails the test if any request reaches it.
func noTraffic(t *testing.T) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		t.Errorf("request sent to %s", r.URL)
		return nil, errors.New("no traffic allowed")
	})
}

// server starts a loopback server, shut down when the test ends.
func server(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// blockingServer starts a loopback server whose handler h may block on
// release: it is closed when the test ends, before the server shuts down.
func blockingServer(t *testing.T, h func(w http.ResponseWriter, r *http.Request, release <-chan struct{})) *httptest.Server {
	t.Helper()
	release := make(chan struct{})
	srv := server(t, func(w http.ResponseWriter, r *http.Request) { h(w, r, release) })
	t.Cleanup(func() { close(release) })
	return srv
}

// fetchAll fetches and reads the whole body.
func fetchAll(ctx context.Context, h *HTTP, url string, offset, maxLength int64) ([]byte, error) {
	rc, err := h.Fetch(ctx, url, offset, maxLength)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func TestFetchOK(t *testing.T) {
	var got http.Header
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		io.WriteString(w, "hello, world")
	})
	sl := &sleepRecorder{}
	data, err := fetchAll(t.Context(), New(Options{Sleep: sl.Sleep}), srv.URL+"/x", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "hello, world" {
		t.Errorf("body = %q", data)
	}
	if ua := got.Get("User-Agent"); ua != "latch/0.1.0-dev (+https://github.com/latchsec/latch)" {
		t.Errorf("User-Agent = %q", ua)
	}
	if ae := got.Get("Accept-Encoding"); ae != "identity" {
		t.Errorf("Accept-Encoding = %q, want identity", ae)
	}
	if rg, ok := got["Range"]; ok {
		t.Errorf("Range = %q sent for offset 0", rg)
	}
	if s := sl.get(); len(s) != 0 {
		t.Errorf("slept %v", s)
	}
}

func TestUserAgentOption(t *testing.T) {
	var ua string
	srv := server(t, func(w http.ResponseWriter, r *http.Request) { ua = r.UserAgent() })
	if _, err := fetchAll(t.Context(), New(Options{UserAgent: "myapp/2"}), srv.URL, 0, 10); err != nil {
		t.Fatal(err)
	}
	if ua != "myapp/2" {
		t.Errorf("User-Agent = %q, want myapp/2", ua)
	}
}

func TestStatusNotRetried(t *testing.T) {
	for _, tc := range []struct {
		code     int
		notFound bool
		msg      string
	}{
		{404, true, "404 Not Found"},
		{403, true, "403 Forbidden"},
		{400, false, "400 Bad Request"},
		{410, false, "410 Gone"},
		{304, false, "304 Not Modified"},
		{204, false, "204 No Content"},
		{206, false, "206 Partial Content"}, // without a Range request
	} {
		t.Run(strconv.Itoa(tc.code), func(t *testing.T) {
			var n atomic.Int32
			srv := server(t, func(w http.ResponseWriter, r *http.Request) {
				n.Add(1)
				w.WriteHeader(tc.code)
			})
			sl := &sleepRecorder{}
			rc, err := New(Options{Sleep: sl.Sleep}).Fetch(t.Context(), srv.URL+"/f", 0, 100)
			if rc != nil {
				t.Error("reader returned with an error")
			}
			var se *mirror.StatusError
			if !errors.As(err, &se) || se.Code != tc.code || se.URL != srv.URL+"/f" {
				t.Fatalf("err = %v, want StatusError %d", err, tc.code)
			}
			if got := errors.Is(err, mirror.ErrNotFound); got != tc.notFound {
				t.Errorf("errors.Is(err, ErrNotFound) = %v, want %v", got, tc.notFound)
			}
			if want := "GET " + srv.URL + "/f: " + tc.msg; err.Error() != want {
				t.Errorf("err = %q, want %q", err, want)
			}
			if n.Load() != 1 || len(sl.get()) != 0 {
				t.Errorf("%d requests, slept %v: want 1 request and no retry", n.Load(), sl.get())
			}
		})
	}
}

// TestConnectionReusedAfterNotFound: a refresh that finds nothing new asks
// for the next root (404) and the timestamp. The 404's body is read before
// it is closed, so the connection serves the next request instead of a new
// TCP (and TLS) handshake for every refresh of a long-lived client: a body
// of one line, and one that takes several reads of the drain's buffer.
func TestConnectionReusedAfterNotFound(t *testing.T) {
	for _, body := range []string{"404 page not found\n", strings.Repeat("not found ", 300)} {
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/2.root.json" {
				http.Error(w, body, http.StatusNotFound)
				return
			}
			io.WriteString(w, "timestamp")
		}))
		var conns atomic.Int32
		srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		}
		srv.Start()
		t.Cleanup(srv.Close)
		h := New(Options{})
		for range 3 {
			if _, err := fetchAll(t.Context(), h, srv.URL+"/2.root.json", 0, 100); !errors.Is(err, mirror.ErrNotFound) {
				t.Fatalf("next root: err = %v, want ErrNotFound", err)
			}
			if b, err := fetchAll(t.Context(), h, srv.URL+"/timestamp.json", 0, 100); err != nil || string(b) != "timestamp" {
				t.Fatalf("timestamp: %q, %v", b, err)
			}
		}
		if n := conns.Load(); n != 1 {
			t.Errorf("404 body of %d bytes: %d connections for three refreshes, want 1", len(body), n)
		}
	}
}

func TestStatusErrorUnknownCode(t *testing.T) {
	err := &mirror.StatusError{URL: "https://h/x", Code: 599}
	if err.Error() != "GET https://h/x: status 599" || errors.Is(err, mirror.ErrNotFound) {
		t.Errorf("err = %q", err)
	}
}

// checkBackoff asserts that slept[i] is retry i's exponential backoff with
// jitter: within [d/2, d] for d = baseBackoff<<i.
func checkBackoff(t *testing.T, slept []time.Duration) {
	t.Helper()
	for i, d := range slept {
		hi := baseBackoff << i
		if d < hi/2 || d > hi {
			t.Errorf("retry %d slept %v, want within [%v, %v]", i, d, hi/2, hi)
		}
	}
}

func TestRetryServerError(t *testing.T) {
	var n atomic.Int32
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 3 {
			http.Error(w, "busy", 500+int(n.Load()))
			return
		}
		io.WriteString(w, "ok")
	})
	sl := &sleepRecorder{}
	data, err := fetchAll(t.Context(), New(Options{Sleep: sl.Sleep}), srv.URL, 0, 10)
	if err != nil || string(data) != "ok" {
		t.Fatalf("got %q, %v", data, err)
	}
	if n.Load() != 4 {
		t.Errorf("%d requests, want 4", n.Load())
	}
	slept := sl.get()
	if len(slept) != 3 {
		t.Fatalf("slept %v, want 3 waits", slept)
	}
	checkBackoff(t, slept)
}

func TestBackoffCapped(t *testing.T) {
	for attempt := 0; attempt < 70; attempt++ {
		d := backoff(attempt)
		hi := min(baseBackoff<<min(attempt, 10), maxBackoff)
		if d < hi/2 || d > hi {
			t.Fatalf("backoff(%d) = %v, want within [%v, %v]", attempt, d, hi/2, hi)
		}
	}
}

func TestRetriesExhausted(t *testing.T) {
	for _, tc := range []struct {
		retries, requests int32
	}{{0, 4}, {2, 3}, {-1, 1}} {
		t.Run(fmt.Sprint(tc.retries), func(t *testing.T) {
			var n atomic.Int32
			srv := server(t, func(w http.ResponseWriter, r *http.Request) {
				n.Add(1)
				w.WriteHeader(http.StatusServiceUnavailable)
			})
			sl := &sleepRecorder{}
			h := New(Options{Retries: int(tc.retries), Sleep: sl.Sleep})
			_, err := h.Fetch(t.Context(), srv.URL, 0, 10)
			var se *mirror.StatusError
			if !errors.As(err, &se) || se.Code != http.StatusServiceUnavailable {
				t.Fatalf("err = %v, want StatusError 503", err)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("gave up after %d attempts", tc.requests)) {
				t.Errorf("err = %q", err)
			}
			if n.Load() != tc.requests || len(sl.get()) != int(tc.requests-1) {
				t.Errorf("%d requests, slept %v: want %d requests", n.Load(), sl.get(), tc.requests)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	date := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, retryAfter string
		date             time.Time
		want             time.Duration // 0: the exponential backoff
	}{
		{"seconds", "7", date, 7 * time.Second},
		{"zero", "0", date, 0},
		{"capped", "3600", date, maxRetryAfter},
		{"huge", "99999999999999999999999", date, 0},
		{"date", date.Add(30 * time.Second).Format(http.TimeFormat), date, 30 * time.Second},
		{"date capped", date.Add(time.Hour).Format(http.TimeFormat), date, maxRetryAfter},
		{"date past", date.Add(-time.Hour).Format(http.TimeFormat), date, 0},
		{"negative", "-5", date, 0},
		{"garbage", "soon", date, 0},
		{"date without Date", date.Add(30 * time.Second).Format(http.TimeFormat), time.Time{}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int32
			srv := server(t, func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) == 1 {
					w.Header().Set("Retry-After", tc.retryAfter)
					if !tc.date.IsZero() {
						w.Header().Set("Date", tc.date.Format(http.TimeFormat))
					} else {
						w.Header()["Date"] = nil // suppress the server's own
					}
					w.WriteHeader(http.StatusTooManyRequests)
					return
				}
				io.WriteString(w, "ok")
			})
			sl := &sleepRecorder{}
			if _, err := fetchAll(t.Context(), New(Options{Sleep: sl.Sleep}), srv.URL, 0, 10); err != nil {
				t.Fatal(err)
			}
			slept := sl.get()
			if len(slept) != 1 {
				t.Fatalf("slept %v, want one wait", slept)
			}
			if tc.want != 0 || tc.name == "zero" || tc.name == "date past" {
				if slept[0] != tc.want {
					t.Errorf("slept %v, want %v", slept[0], tc.want)
				}
				return
			}
			checkBackoff(t, slept)
		})
	}
}

func TestNetworkErrorRetried(t *testing.T) {
	var n atomic.Int32
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			conn.Close() // no response at all
			return
		}
		io.WriteString(w, "ok")
	})
	sl := &sleepRecorder{}
	data, err := fetchAll(t.Context(), New(Options{Sleep: sl.Sleep}), srv.URL, 0, 10)
	if err != nil || string(data) != "ok" {
		t.Fatalf("got %q, %v", data, err)
	}
	if n.Load() != 2 || len(sl.get()) != 1 {
		t.Errorf("%d requests, slept %v: want 2 requests, 1 wait", n.Load(), sl.get())
	}
	checkBackoff(t, sl.get())
}

func TestTooLargeWhileReading(t *testing.T) {
	content := []byte("0123456789A")
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		// Without Content-Length: two flushed chunks.
		w.Write(content[:6])
		w.(http.Flusher).Flush()
		w.Write(content[6:])
	})
	h := New(Options{})

	data, err := fetchAll(t.Context(), h, srv.URL, 0, 11)
	if err != nil || !bytes.Equal(data, content) {
		t.Fatalf("limit 11: got %q, %v", data, err)
	}

	rc, err := h.Fetch(t.Context(), srv.URL, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err = io.ReadAll(rc)
	var tl *mirror.TooLargeError
	if !errors.As(err, &tl) || tl.Limit != 10 || tl.URL != srv.URL || !errors.Is(err, mirror.ErrTooLarge) {
		t.Fatalf("err = %v, want TooLargeError with limit 10", err)
	}
	if !bytes.Equal(data, content[:10]) {
		t.Errorf("read %q before the error, want the first 10 bytes", data)
	}
	// The error sticks.
	if n, err := rc.Read(make([]byte, 10)); n != 0 || !errors.Is(err, mirror.ErrTooLarge) {
		t.Errorf("read after the error: %d, %v", n, err)
	}
}

func TestZeroLimit(t *testing.T) {
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/x" {
			w.(http.Flusher).Flush() // no Content-Length
			io.WriteString(w, "x")
		}
	})
	h := New(Options{})
	if data, err := fetchAll(t.Context(), h, srv.URL+"/empty", 0, 0); err != nil || len(data) != 0 {
		t.Errorf("empty: %q, %v", data, err)
	}
	if data, err := fetchAll(t.Context(), h, srv.URL+"/x", 0, 0); !errors.Is(err, mirror.ErrTooLarge) || len(data) != 0 {
		t.Errorf("one byte, limit 0: %q, %v", data, err)
	}
}

func TestTooLargeContentLength(t *testing.T) {
	srv := blockingServer(t, func(w http.ResponseWriter, r *http.Request, release <-chan struct{}) {
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		// Send no body until the test ends: reading it would block.
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	done := make(chan error, 1)
	go func() {
		_, err := New(Options{}).Fetch(t.Context(), srv.URL, 0, 999)
		done <- err
	}()
	select {
	case err := <-done:
		var tl *mirror.TooLargeError
		if !errors.As(err, &tl) || tl.Limit != 999 {
			t.Errorf("err = %v, want TooLargeError with limit 999", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Fetch read the body instead of failing on Content-Length")
	}
}

func TestRange(t *testing.T) {
	content := []byte("0123456789abcdef")
	var gotRange string
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		gotRange = r.Header.Get("Range")
		http.ServeContent(w, r, "f", time.Time{}, bytes.NewReader(content))
	})
	data, err := fetchAll(t.Context(), New(Options{}), srv.URL, 5, 11)
	if err != nil || !bytes.Equal(data, content[5:]) {
		t.Fatalf("got %q, %v", data, err)
	}
	if gotRange != "bytes=5-" {
		t.Errorf("Range = %q, want bytes=5-", gotRange)
	}
	// The limit applies to the bytes from the offset, also via Content-Length.
	if _, err := New(Options{}).Fetch(t.Context(), srv.URL, 5, 10); !errors.Is(err, mirror.ErrTooLarge) {
		t.Errorf("limit 10 for 11 bytes: err = %v, want ErrTooLarge", err)
	}
}

func TestRangeIgnored(t *testing.T) {
	for _, tc := range []struct {
		name, contentRange string
		status             int
	}{
		{"200", "", http.StatusOK},
		{"wrong start", "bytes 0-9/10", http.StatusPartialContent},
		{"missing", "", http.StatusPartialContent},
		{"end before start", "bytes 5-4/10", http.StatusPartialContent},
		{"end past size", "bytes 5-9/9", http.StatusPartialContent},
		{"unsatisfied form", "bytes */10", http.StatusPartialContent},
		{"other unit", "items 5-9/10", http.StatusPartialContent},
		{"garbage", "bytes 5-x/10", http.StatusPartialContent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int32
			srv := server(t, func(w http.ResponseWriter, r *http.Request) {
				n.Add(1)
				if tc.contentRange != "" {
					w.Header().Set("Content-Range", tc.contentRange)
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, "56789")
			})
			sl := &sleepRecorder{}
			rc, err := New(Options{Sleep: sl.Sleep}).Fetch(t.Context(), srv.URL, 5, 100)
			if !errors.Is(err, mirror.ErrRangeIgnored) || rc != nil {
				t.Errorf("err = %v, want ErrRangeIgnored and no reader", err)
			}
			if n.Load() != 1 || len(sl.get()) != 0 {
				t.Errorf("%d requests, slept %v: want no retry", n.Load(), sl.get())
			}
		})
	}
	// Accepted forms.
	for _, cr := range []string{"bytes 5-9/10", "bytes 5-9/*"} {
		if start, ok := rangeStart(cr); !ok || start != 5 {
			t.Errorf("rangeStart(%q) = %d, %v", cr, start, ok)
		}
	}
}

func TestRedirectHTTPSToHTTPRefused(t *testing.T) {
	var plain atomic.Int32
	plainSrv := server(t, func(w http.ResponseWriter, r *http.Request) { plain.Add(1) })
	tlsSrv := httptest.NewTLSServer(http.RedirectHandler(plainSrv.URL+"/down", http.StatusFound))
	t.Cleanup(tlsSrv.Close)

	for _, unsafe := range []bool{false, true} {
		sl := &sleepRecorder{}
		h := New(Options{Transport: tlsSrv.Client().Transport, AllowInsecureHTTPUnsafe: unsafe, Sleep: sl.Sleep})
		_, err := h.Fetch(t.Context(), tlsSrv.URL+"/f", 0, 10)
		var ie *mirror.InsecureURLError
		if !errors.As(err, &ie) || ie.URL != plainSrv.URL+"/down" || ie.Reason != "redirect from https to http" {
			t.Errorf("unsafe=%v: err = %v, want InsecureURLError for the redirect", unsafe, err)
		}
		if len(sl.get()) != 0 {
			t.Errorf("unsafe=%v: retried", unsafe)
		}
	}
	if plain.Load() != 0 {
		t.Errorf("%d requests reached the http server", plain.Load())
	}
}

func TestRedirectCrossHostHTTPS(t *testing.T) {
	b := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "from b "+r.Header.Get("Range"))
	}))
	t.Cleanup(b.Close)
	a := httptest.NewTLSServer(http.RedirectHandler(b.URL+"/f", http.StatusMovedPermanently))
	t.Cleanup(a.Close)
	data, err := fetchAll(t.Context(), New(Options{Transport: a.Client().Transport}), a.URL+"/f", 0, 100)
	if err != nil || string(data) != "from b " {
		t.Fatalf("got %q, %v", data, err)
	}
}

func TestRedirectLimit(t *testing.T) {
	var n atomic.Int32
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		left, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/r/"))
		if left > 0 {
			http.Redirect(w, r, "/r/"+strconv.Itoa(left-1), http.StatusFound)
			return
		}
		io.WriteString(w, "end")
	})
	sl := &sleepRecorder{}
	h := New(Options{Sleep: sl.Sleep})

	if data, err := fetchAll(t.Context(), h, srv.URL+"/r/10", 0, 10); err != nil || string(data) != "end" {
		t.Fatalf("10 redirects: got %q, %v", data, err)
	}
	n.Store(0)
	_, err := h.Fetch(t.Context(), srv.URL+"/r/11", 0, 10)
	if !errors.Is(err, mirror.ErrTooManyRedirects) {
		t.Fatalf("11 redirects: err = %v, want ErrTooManyRedirects", err)
	}
	if n.Load() != 11 || len(sl.get()) != 0 {
		t.Errorf("%d requests, slept %v: want 11 requests, no retry", n.Load(), sl.get())
	}
}

func TestRedirectToInsecureHostRefused(t *testing.T) {
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://192.0.2.1/f", http.StatusFound)
	})
	sl := &sleepRecorder{}
	// The loopback server is reached through the real transport; a
	// connection attempt to 192.0.2.1 would hang until ConnectTimeout.
	h := New(Options{ConnectTimeout: 30 * time.Second, Sleep: sl.Sleep})
	start := time.Now()
	_, err := h.Fetch(t.Context(), srv.URL, 0, 10)
	var ie *mirror.InsecureURLError
	if !errors.As(err, &ie) || ie.URL != "http://192.0.2.1/f" {
		t.Errorf("err = %v, want InsecureURLError for http://192.0.2.1/f", err)
	}
	if len(sl.get()) != 0 || time.Since(start) > 10*time.Second {
		t.Errorf("retried or connected: slept %v in %v", sl.get(), time.Since(start))
	}
}

func TestInsecureURLRefused(t *testing.T) {
	for _, tc := range []struct{ url, reason string }{
		{"http://example.invalid/f", plainHTTPReason},
		{"http://192.0.2.1/f", plainHTTPReason},
		{"http://localhost.example.com/f", plainHTTPReason},
		{"http://127.0.0.1.nip.io/f", plainHTTPReason},
		{"http://10.0.0.1/f", plainHTTPReason},
		{"http://[::2]/f", plainHTTPReason},
		{"ftp://127.0.0.1/f", `scheme "ftp" is not allowed`},
		{"file://localhost/etc/passwd", `scheme "file" is not allowed`},
		{"file:///etc/passwd", "not an absolute url with a host"},
		{"https:///f", "not an absolute url with a host"},
		{"/relative/f", "not an absolute url with a host"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			h := New(Options{Transport: noTraffic(t)})
			rc, err := h.Fetch(t.Context(), tc.url, 0, 10)
			var ie *mirror.InsecureURLError
			if !errors.As(err, &ie) || ie.URL != tc.url || ie.Reason != tc.reason || !errors.Is(err, mirror.ErrInsecureURL) || rc != nil {
				t.Errorf("err = %v, want InsecureURLError %q", err, tc.reason)
			}
		})
	}
	// The password of a refused URL does not appear in the error.
	_, err := New(Options{Transport: noTraffic(t)}).Fetch(t.Context(), "http://u:secret@example.invalid/", 0, 10)
	if !errors.Is(err, mirror.ErrInsecureURL) || strings.Contains(err.Error(), "secret") {
		t.Errorf("err = %v", err)
	}
}

func TestBadArguments(t *testing.T) {
	h := New(Options{Transport: noTraffic(t)})
	for _, tc := range []struct {
		url               string
		offset, maxLength int64
	}{
		{"https://example.com/f", -1, 10},
		{"https://example.com/f", 0, -1},
		{"https://exa mple.com/f", 0, 10},
		{"https://example.com/%zz", 0, 10},
	} {
		if rc, err := h.Fetch(t.Context(), tc.url, tc.offset, tc.maxLength); err == nil || rc != nil {
			t.Errorf("Fetch(%q, %d, %d) = %v, %v; want an error", tc.url, tc.offset, tc.maxLength, rc, err)
		}
	}
}

func TestAllowedURLs(t *testing.T) {
	for _, tc := range []struct {
		url    string
		unsafe bool
	}{
		{"https://example.com/f", false},
		{"http://127.0.0.1/f", false},
		{"http://127.1.2.3:8080/f", false},
		{"http://localhost/f", false},
		{"http://LocalHost:1/f", false},
		{"http://[::1]:80/f", false},
		{"http://[::ffff:127.0.0.1]/f", false},
		{"http://example.invalid/f", true},
	} {
		t.Run(tc.url, func(t *testing.T) {
			var got string
			rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
				got = r.URL.String()
				return &http.Response{
					StatusCode:    http.StatusOK,
					Header:        http.Header{},
					Body:          io.NopCloser(strings.NewReader("ok")),
					ContentLength: 2,
					Request:       r,
				}, nil
			})
			h := New(Options{Transport: rt, AllowInsecureHTTPUnsafe: tc.unsafe})
			data, err := fetchAll(t.Context(), h, tc.url, 0, 10)
			if err != nil || string(data) != "ok" || got != tc.url {
				t.Errorf("got %q, %v; request to %q", data, err, got)
			}
		})
	}
}

func TestCertificateErrorNotRetried(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1) }))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshake is expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	sl := &sleepRecorder{}
	// Our own transport does not trust the test certificate.
	_, err := New(Options{Sleep: sl.Sleep}).Fetch(t.Context(), srv.URL, 0, 10)
	var ce *tls.CertificateVerificationError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a certificate error", err)
	}
	if n.Load() != 0 || len(sl.get()) != 0 {
		t.Errorf("%d requests, slept %v: want none", n.Load(), sl.get())
	}
}

func TestCancelBeforeHeaders(t *testing.T) {
	started := make(chan struct{}, 1)
	srv := blockingServer(t, func(w http.ResponseWriter, r *http.Request, release <-chan struct{}) {
		started <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	sl := &sleepRecorder{}
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-started
		cancel()
	}()
	done := make(chan error, 1)
	go func() {
		_, err := New(Options{Sleep: sl.Sleep}).Fetch(ctx, srv.URL, 0, 10)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
		if len(sl.get()) != 0 {
			t.Errorf("retried after cancel: slept %v", sl.get())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Fetch did not return after cancel")
	}
}

func TestCancelDuringBackoff(t *testing.T) {
	var n atomic.Int32
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Retry-After", "60")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := New(Options{}).Fetch(ctx, srv.URL, 0, 10) // the default Sleep
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("returned after %v", d)
	}
	if n.Load() != 1 {
		t.Errorf("%d requests, want 1", n.Load())
	}
}

func TestCancelWhileReading(t *testing.T) {
	srv := blockingServer(t, func(w http.ResponseWriter, r *http.Request, release <-chan struct{}) {
		io.WriteString(w, "hello")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	rc, err := New(Options{}).Fetch(ctx, srv.URL, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	buf := make([]byte, 5)
	if _, err := io.ReadFull(rc, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("read %q, %v", buf, err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := rc.Read(buf)
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Read did not return after cancel")
	}
}

// A server that accepts the request and never answers ends the transfer
// after the header timeout, with no retry: it is not answering, and
// another mirror may be.
func TestHeaderTimeout(t *testing.T) {
	var n atomic.Int32
	srv := blockingServer(t, func(w http.ResponseWriter, r *http.Request, release <-chan struct{}) {
		n.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	sl := &sleepRecorder{}
	h := New(Options{HeaderTimeout: 100 * time.Millisecond, Sleep: sl.Sleep})
	_, err := h.Fetch(t.Context(), srv.URL, 0, 10)
	var te *mirror.TimeoutError
	if !errors.As(err, &te) || !te.Headers || te.Timeout != 100*time.Millisecond || te.URL != srv.URL || !errors.Is(err, mirror.ErrSlowRetrieval) {
		t.Fatalf("err = %v, want a header TimeoutError of 100ms", err)
	}
	if n.Load() != 1 || len(sl.get()) != 0 {
		t.Errorf("%d requests, slept %v: want 1 request, no retry", n.Load(), sl.get())
	}
}

// The header timeout applies to a caller's Transport too.
func TestHeaderTimeoutCustomTransport(t *testing.T) {
	stalled := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		<-r.Context().Done()
		return nil, r.Context().Err()
	})
	h := New(Options{Transport: stalled, HeaderTimeout: 100 * time.Millisecond})
	done := make(chan error, 1)
	go func() {
		_, err := h.Fetch(t.Context(), "https://mirror.example/x", 0, 10)
		done <- err
	}()
	select {
	case err := <-done:
		var te *mirror.TimeoutError
		if !errors.As(err, &te) || !te.Headers {
			t.Errorf("err = %v, want a header TimeoutError", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Fetch through a stalled Transport did not time out")
	}
}

// timeoutErr is a net.Error that timed out, as a dial or TLS handshake
// timeout is.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// A connection that timed out is not tried again.
func TestConnectTimeoutNotRetried(t *testing.T) {
	var n atomic.Int32
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		n.Add(1)
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: timeoutErr{}}
	})
	sl := &sleepRecorder{}
	_, err := New(Options{Transport: rt, Sleep: sl.Sleep}).Fetch(t.Context(), "https://mirror.example/x", 0, 10)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("err = %v, want the dial timeout", err)
	}
	if n.Load() != 1 || len(sl.get()) != 0 {
		t.Errorf("%d requests, slept %v: want 1 request, no retry", n.Load(), sl.get())
	}
}

// The length check can't overflow: a body a few bytes short of the largest
// limit stops there.
func TestBodyLimitNoOverflow(t *testing.T) {
	tr := newTransfer(t.Context(), "u", time.Hour)
	b := &body{rc: io.NopCloser(nil), r: strings.NewReader("abcd"), n: math.MaxInt64 - 1, max: math.MaxInt64, url: "u", t: tr,
		dog: startWatchdog(tr, "u", time.Hour, 1)}
	defer b.Close()
	n, err := b.Read(make([]byte, 4))
	if n != 1 || !errors.Is(err, mirror.ErrTooLarge) || b.n != math.MaxInt64 {
		t.Errorf("Read near MaxInt64: %d bytes, %v, count %d; want 1 byte and ErrTooLarge", n, err, b.n)
	}
}

func TestConcurrentFetches(t *testing.T) {
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.URL.Path)
	})
	h := New(Options{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			path := "/" + strconv.Itoa(i)
			data, err := fetchAll(t.Context(), h, srv.URL+path, 0, 10)
			if err != nil || string(data) != path {
				t.Errorf("%s: got %q, %v", path, data, err)
			}
		})
	}
	wg.Wait()
}
