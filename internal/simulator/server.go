package simulator

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Fault tampers with what a server sends for one file name. Faults apply on
// serving only; the repository's published files are unchanged. The fields
// combine: Status wins outright; otherwise the body is chosen (published
// bytes, OldVersion, Replace, then Mutate), a Range request is honoured
// unless IgnoreRange, and the body is delivered as the delivery fields say.
type Fault struct {
	// Status answers with this HTTP status and no body.
	Status int
	// Replace serves these bytes instead, even for a name the repository
	// does not publish (to serve a forged "3.root.json", say).
	Replace []byte
	// Mutate transforms (a copy of) the bytes that would be served.
	Mutate func([]byte) []byte
	// OldVersion serves this earlier published version of the metadata
	// file's role instead of the requested one (replay, rollback, freeze).
	OldVersion int64
	// SlowDrip writes the body one byte per interval, stopping when the
	// client goes away.
	SlowDrip time.Duration
	// StallAfterHeaders sends the headers and then blocks until the client
	// goes away.
	StallAfterHeaders bool
	// Endless follows the body with an unbounded stream of spaces, without
	// a Content-Length, until the client goes away.
	Endless bool
	// WrongContentLength declares this Content-Length instead of the true
	// one. Shorter: the body is cut at the declared length. Longer: the
	// connection closes after the true body, a premature EOF for the client.
	WrongContentLength int64
	// CutAfter closes the connection after this many body bytes, while the
	// declared Content-Length promises the whole (range of the) file. With
	// Times 1 the next request (a Range resume, say) succeeds.
	CutAfter int64
	// IgnoreRange answers Range requests with the whole file and 200.
	IgnoreRange bool
	// Times is how many requests the fault applies to before it is
	// removed; 0 means every request.
	Times int
}

type faultState struct {
	f    Fault
	left int
}

// Server serves a Repo's published files over HTTP on 127.0.0.1: metadata
// under <URL>/metadata/ and targets under <URL>/targets/. Each Server has
// its own fault table and request log, so several servers over one Repo
// act as independent mirrors. Unknown names get 404. A Server is closed by
// the test's cleanup; its methods are safe for concurrent use.
type Server struct {
	repo   *Repo
	srv    *httptest.Server
	done   chan struct{}
	once   sync.Once
	active atomic.Int64
	conns  atomic.Int64

	mu       sync.Mutex
	faults   map[string]*faultState
	requests []string
}

// NewServer starts another server over the repository, with its own faults
// and request log (a mirror).
func (r *Repo) NewServer() *Server {
	s := &Server{repo: r, done: make(chan struct{}), faults: map[string]*faultState{}}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.srv.Start()
	r.t.Cleanup(s.Close)
	return s
}

// Server returns the repository's default server, starting it on first use.
// Serve, SetFault, ClearFaults, Requests and ResetRequests on Repo act on it.
func (r *Repo) Server() *Server {
	r.defOnce.Do(func() { r.def = r.NewServer() })
	return r.def
}

// Serve returns the metadata and targets URLs of the default server, each
// ending in a slash.
func (r *Repo) Serve() (metadataURL, targetsURL string) { return r.Server().URLs() }

// SetFault sets a fault on the default server (see Server.SetFault).
func (r *Repo) SetFault(name string, f Fault) {
	r.t.Helper()
	r.Server().SetFault(name, f)
}

// ClearFaults removes every fault of the default server.
func (r *Repo) ClearFaults() { r.Server().ClearFaults() }

// Requests returns the default server's request log (see Server.Requests).
func (r *Repo) Requests() []string { return r.Server().Requests() }

// ResetRequests empties the default server's request log.
func (r *Repo) ResetRequests() { r.Server().ResetRequests() }

// URLs returns the metadata and targets base URLs, each ending in a slash.
func (s *Server) URLs() (metadataURL, targetsURL string) {
	return s.srv.URL + "/metadata/", s.srv.URL + "/targets/"
}

// SetFault makes the server tamper with requests for name, a file name as
// on the wire: "timestamp.json", "2.snapshot.json", "targets/app.bin" or
// "targets/<sha256>.app.bin" (see Repo.TargetName). It replaces any earlier
// fault for name. An OldVersion that was never published fails the test.
func (s *Server) SetFault(name string, f Fault) {
	t := s.repo.t
	t.Helper()
	if f.Times < 0 || f.CutAfter < 0 || f.WrongContentLength < 0 || f.SlowDrip < 0 || f.OldVersion < 0 {
		t.Fatalf("simulator: negative field in fault for %q", name)
	}
	if f.OldVersion != 0 {
		if _, ok := s.repo.oldVersion(name, f.OldVersion); !ok {
			t.Fatalf("simulator: %q has no published version %d", name, f.OldVersion)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[name] = &faultState{f: f, left: f.Times}
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.faults)
}

// Requests returns the names requested so far, in order, named as for
// SetFault; a request outside /metadata/ and /targets/ is logged as its
// URL path.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// ResetRequests empties the request log.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// Client returns an HTTP client for this server whose connections are its
// own, closed when the server closes. Tests should use it rather than
// http.DefaultClient: closing any httptest server closes the idle
// connections of http.DefaultTransport, and a request of another test that
// was just reusing one of them fails ("CloseIdleConnections called").
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Conns returns the number of connections accepted so far, so a test can
// check that a client reuses its connections.
func (s *Server) Conns() int { return int(s.conns.Load()) }

// Active returns the number of requests being served right now, so a test
// can check that a client hung up on a stalled or endless response.
func (s *Server) Active() int { return int(s.active.Load()) }

// Close stops the server, ending stalled and endless responses; later
// requests are refused (a mirror that went away). The test's cleanup calls
// it too.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.done)
		s.srv.Close()
	})
}

// take logs a request for name and returns its fault (the zero Fault when
// there is none), counting the use.
func (s *Server) take(name string) Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, name)
	fs, ok := s.faults[name]
	if !ok {
		return Fault{}
	}
	if fs.f.Times > 0 {
		fs.left--
		if fs.left == 0 {
			delete(s.faults, name)
		}
	}
	return fs.f
}

func (s *Server) serve(w http.ResponseWriter, req *http.Request) {
	s.active.Add(1)
	defer s.active.Add(-1)

	var name, rel string
	var target, known bool
	if rel, known = strings.CutPrefix(req.URL.Path, "/metadata/"); known {
		name = rel
	} else if rel, known = strings.CutPrefix(req.URL.Path, "/targets/"); known {
		name, target = "targets/"+rel, true
	} else {
		name = req.URL.Path
	}
	f := s.take(name)
	if f.Status != 0 {
		w.WriteHeader(f.Status)
		return
	}
	var body []byte
	var found bool
	if known {
		body, found = s.repo.lookup(rel, target)
	}
	if f.OldVersion != 0 {
		body, found = s.repo.oldVersion(name, f.OldVersion)
	}
	if f.Replace != nil {
		body, found = f.Replace, true
	}
	if !found {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if f.Mutate != nil {
		body = f.Mutate(bytes.Clone(body))
	}

	h := w.Header()
	if target {
		h.Set("Content-Type", "application/octet-stream")
	} else {
		h.Set("Content-Type", "application/json")
	}
	status := http.StatusOK
	if rng := req.Header.Get("Range"); rng != "" && !f.IgnoreRange {
		start, end, ok := parseRange(rng, int64(len(body)))
		if !ok {
			h.Set("Content-Range", fmt.Sprintf("bytes */%d", len(body)))
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end-1, len(body)))
		body = body[start:end]
		status = http.StatusPartialContent
	}
	if !f.IgnoreRange {
		h.Set("Accept-Ranges", "bytes")
	}
	switch {
	case f.WrongContentLength != 0:
		h.Set("Content-Length", strconv.FormatInt(f.WrongContentLength, 10))
	case !f.Endless:
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(status)
	rc := http.NewResponseController(w)
	ctx := req.Context()
	if f.StallAfterHeaders {
		_ = rc.Flush()
		select {
		case <-ctx.Done():
		case <-s.done:
		}
		return
	}
	var src io.Reader = bytes.NewReader(body)
	if f.Endless {
		src = io.MultiReader(src, spaces{})
	}
	if f.WrongContentLength != 0 {
		// net/http refuses writes past the declared length.
		src = io.LimitReader(src, f.WrongContentLength)
	}
	cut := f.CutAfter > 0 && (f.Endless || f.CutAfter < int64(len(body)))
	if cut {
		src = io.LimitReader(src, f.CutAfter)
	}
	s.copy(ctx, w, rc, src, f.SlowDrip)
	if cut {
		// Closes the connection without completing the response.
		panic(http.ErrAbortHandler)
	}
}

// copy writes src to w, flushing as it goes, one byte per drip interval
// when drip is set; it stops when the client or the server goes away.
func (s *Server) copy(ctx context.Context, w io.Writer, rc *http.ResponseController, src io.Reader, drip time.Duration) {
	buf := make([]byte, 32<<10)
	if drip > 0 {
		buf = buf[:1]
	}
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			if rc.Flush() != nil {
				return
			}
		}
		if err != nil || !s.wait(ctx, drip) {
			return
		}
	}
}

// wait sleeps for d and reports whether the client and the server are
// still there.
func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	var tick <-chan time.Time
	if d > 0 {
		timer := time.NewTimer(d)
		defer timer.Stop()
		tick = timer.C
	} else {
		ready := make(chan time.Time)
		close(ready)
		tick = ready
	}
	select {
	case <-ctx.Done():
		return false
	case <-s.done:
		return false
	case <-tick:
		return ctx.Err() == nil
	}
}

// spaces is an endless reader of JSON whitespace.
type spaces struct{}

func (spaces) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

// parseRange parses a single-range "bytes=" header against a body of size
// n and returns the half-open interval; multiple ranges are not supported
// and, like unsatisfiable ones, yield false.
func parseRange(header string, n int64) (start, end int64, ok bool) {
	spec, ok := strings.CutPrefix(header, "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return 0, 0, false
	}
	if first == "" { // suffix: the last `last` bytes
		k, err := strconv.ParseInt(last, 10, 64)
		if err != nil || k <= 0 || n == 0 {
			return 0, 0, false
		}
		return max(n-k, 0), n, true
	}
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil || start < 0 || start >= n {
		return 0, 0, false
	}
	end = n
	if last != "" {
		l, err := strconv.ParseInt(last, 10, 64)
		if err != nil || l < start {
			return 0, 0, false
		}
		if l < n {
			end = l + 1 // not min(l+1, n): l+1 overflows for l = 2^63-1
		}
	}
	return start, end, true
}

// FlipBit returns a copy of b with the lowest bit of its middle byte
// flipped: enough to break a signature, a hash or the JSON itself.
func FlipBit(b []byte) []byte {
	c := bytes.Clone(b)
	if len(c) > 0 {
		c[len(c)/2] ^= 1
	}
	return c
}

// Stalled is a mirror that accepts connections and never answers: not a
// byte, not even the response headers. Its methods are safe for concurrent
// use; it closes its listener and connections when the test ends.
type Stalled struct {
	ln       net.Listener
	accepted atomic.Int64
	mu       sync.Mutex
	conns    []net.Conn
	closed   bool
}

// NewStalled starts a stalled mirror on 127.0.0.1.
func NewStalled(t testing.TB) *Stalled {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("simulator: %v", err)
	}
	s := &Stalled{ln: ln}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return // closed by the cleanup
			}
			s.accepted.Add(1)
			s.mu.Lock()
			if s.closed {
				conn.Close()
			} else {
				s.conns = append(s.conns, conn)
			}
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		s.closed = true
		for _, c := range s.conns {
			c.Close()
		}
	})
	return s
}

// URLs returns metadata and targets base URLs on the stalled mirror, as
// Server.URLs does.
func (s *Stalled) URLs() (metadataURL, targetsURL string) {
	base := "http://" + s.ln.Addr().String()
	return base + "/metadata/", base + "/targets/"
}

// Accepted returns how many connections the mirror has accepted.
func (s *Stalled) Accepted() int { return int(s.accepted.Load()) }
