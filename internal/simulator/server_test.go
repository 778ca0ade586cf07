package simulator

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// newRequest builds a GET of a wire name ("timestamp.json", "targets/...")
// from s with an optional Range header.
func newRequest(t *testing.T, ctx context.Context, s *Server, name, rng string) *http.Request {
	t.Helper()
	metadataURL, targetsURL := s.URLs()
	url := metadataURL + name
	if rest, ok := strings.CutPrefix(name, "targets/"); ok {
		url = targetsURL + rest
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	return req
}

// get fetches a wire name from s with s's own client and returns the
// response and whatever body arrived.
func get(t *testing.T, ctx context.Context, s *Server, name, rng string) (*http.Response, []byte, error) {
	t.Helper()
	resp, err := s.Client().Do(newRequest(t, ctx, s, name, rng))
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

func targetRepo(t *testing.T, opts Options) (*Repo, string, []byte) {
	r := New(t, opts)
	data := make([]byte, 1000)
	for i := range data {
		data[i] = byte(i)
	}
	r.AddTarget("bin/app", data, nil)
	r.Publish()
	return r, r.TargetName("bin/app"), data
}

func TestCutAfterThenResume(t *testing.T) {
	t.Parallel()
	r, name, data := targetRepo(t, Options{ConsistentSnapshot: true})
	s := r.Server()
	r.SetFault(name, Fault{CutAfter: 300, Times: 1})
	resp, body, err := get(t, t.Context(), s, name, "")
	if !errors.Is(err, io.ErrUnexpectedEOF) || len(body) != 300 || resp.ContentLength != 1000 {
		t.Fatalf("cut response: %d of %d bytes, error %v; want 300 of 1000 and an unexpected EOF", len(body), resp.ContentLength, err)
	}
	resp, body, err = get(t, t.Context(), s, name, "bytes=300-")
	if err != nil || resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, data[300:]) {
		t.Fatalf("resume: status %d, %d bytes, error %v", resp.StatusCode, len(body), err)
	}
	if got := resp.Header.Get("Content-Range"); got != "bytes 300-999/1000" {
		t.Errorf("Content-Range %q", got)
	}
}

func TestRanges(t *testing.T) {
	t.Parallel()
	r, name, data := targetRepo(t, Options{})
	s := r.Server()
	for _, tc := range []struct {
		rng    string
		status int
		want   []byte
	}{
		{"bytes=10-19", 206, data[10:20]},
		{"bytes=990-5000", 206, data[990:]},
		{"bytes=990-9223372036854775807", 206, data[990:]},
		{"bytes=-10", 206, data[990:]},
		{"bytes=1000-", 416, nil},
		{"bytes=0-1,5-6", 416, nil},
		{"items=0-1", 416, nil},
	} {
		resp, body, err := get(t, t.Context(), s, name, tc.rng)
		if err != nil || resp.StatusCode != tc.status || !bytes.Equal(body, tc.want) {
			t.Errorf("%s: status %d, %d bytes, error %v; want %d and %d bytes", tc.rng, resp.StatusCode, len(body), err, tc.status, len(tc.want))
		}
	}
	r.SetFault(name, Fault{IgnoreRange: true})
	resp, body, err := get(t, t.Context(), s, name, "bytes=10-")
	if err != nil || resp.StatusCode != 200 || !bytes.Equal(body, data) {
		t.Errorf("IgnoreRange: status %d, %d bytes, error %v", resp.StatusCode, len(body), err)
	}
}

func TestBodyFaults(t *testing.T) {
	t.Parallel()
	r, name, data := targetRepo(t, Options{})
	s := r.Server()
	forged := []byte(`{"forged":true}`)
	for _, tc := range []struct {
		name    string
		file    string
		fault   *Fault
		status  int
		want    []byte
		wantErr error
	}{
		{"status", name, &Fault{Status: 403}, 403, nil, nil},
		{"unknown", "9.root.json", nil, 404, nil, nil},
		{"replace unknown", "9.root.json", &Fault{Replace: forged}, 200, forged, nil},
		{"mutate", name, &Fault{Mutate: FlipBit}, 200, FlipBit(data), nil},
		{"old version", "root.json", &Fault{OldVersion: 1}, 200, r.TrustedRoot(), nil},
		{"short length", name, &Fault{WrongContentLength: 5}, 200, data[:5], nil},
		{"long length", name, &Fault{WrongContentLength: 2000}, 200, data, io.ErrUnexpectedEOF},
	} {
		r.ClearFaults()
		if tc.fault != nil {
			r.SetFault(tc.file, *tc.fault)
		}
		resp, body, err := get(t, t.Context(), s, tc.file, "")
		if !errors.Is(err, tc.wantErr) || resp.StatusCode != tc.status || !bytes.Equal(body, tc.want) {
			t.Errorf("%s: status %d, %d bytes, error %v; want %d, %d bytes, error %v", tc.name, resp.StatusCode, len(body), err, tc.status, len(tc.want), tc.wantErr)
		}
	}
}

func TestFaultTimes(t *testing.T) {
	t.Parallel()
	r := New(t, Options{})
	s := r.Server()
	r.SetFault("timestamp.json", Fault{Status: 500, Times: 2})
	var statuses []int
	for range 3 {
		resp, _, err := get(t, t.Context(), s, "timestamp.json", "")
		if err != nil {
			t.Fatal(err)
		}
		statuses = append(statuses, resp.StatusCode)
	}
	if statuses[0] != 500 || statuses[1] != 500 || statuses[2] != 200 {
		t.Errorf("statuses %v, want 500 500 200", statuses)
	}
}

// waitIdle waits until s serves no request: the handler noticed the client
// left. The bound is generous, for a loaded machine: it only turns a
// handler that never ends into a failure rather than a hang.
func waitIdle(t *testing.T, s *Server) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.Active() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d handlers still running after the client left", s.Active())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A client that leaves in the middle of a slow, stalled or endless body
// ends the response. The client leaves once the headers are in, so a
// loaded machine only changes how many bytes arrived before, never the
// outcome.
func TestHangingResponsesEndWithTheClient(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		fault Fault
	}{
		{"slow drip", Fault{SlowDrip: 20 * time.Millisecond}},
		{"stall after headers", Fault{StallAfterHeaders: true}},
		{"slow endless", Fault{SlowDrip: 10 * time.Millisecond, Endless: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, name, data := targetRepo(t, Options{})
			r.SetFault(name, tc.fault)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			resp, err := r.Server().Client().Do(newRequest(t, ctx, r.Server(), name, ""))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			time.AfterFunc(50*time.Millisecond, cancel)
			body, err := io.ReadAll(resp.Body)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("error %v, want the client's cancellation", err)
			}
			if len(body) >= len(data) {
				t.Errorf("the whole body (%d bytes) arrived before the client left", len(body))
			}
			waitIdle(t, r.Server())
		})
	}
}

func TestEndless(t *testing.T) {
	t.Parallel()
	r := New(t, Options{})
	s := r.Server()
	r.SetFault("timestamp.json", Fault{Endless: true})
	ctx, cancel := context.WithCancel(t.Context())
	resp, err := s.Client().Do(newRequest(t, ctx, s, "timestamp.json", ""))
	if err != nil {
		t.Fatal(err)
	}
	if resp.ContentLength != -1 {
		t.Errorf("Content-Length %d declared for an endless body", resp.ContentLength)
	}
	const limit = 4 << 20
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil || len(body) != limit {
		t.Fatalf("read %d bytes, error %v; want %d", len(body), err, limit)
	}
	if ts := r.Bytes("timestamp.json"); !bytes.HasPrefix(body, ts) || body[len(body)-1] != ' ' {
		t.Error("endless body is not the timestamp followed by spaces")
	}
	cancel()
	resp.Body.Close()
	waitIdle(t, s)
}

func TestEndlessCut(t *testing.T) {
	t.Parallel()
	r := New(t, Options{})
	r.SetFault("timestamp.json", Fault{Endless: true, CutAfter: 5000})
	_, body, err := get(t, t.Context(), r.Server(), "timestamp.json", "")
	if !errors.Is(err, io.ErrUnexpectedEOF) || len(body) != 5000 {
		t.Errorf("%d bytes, error %v; want 5000 and an unexpected EOF", len(body), err)
	}
}

func TestCloseEndsStalledResponses(t *testing.T) {
	t.Parallel()
	r := New(t, Options{})
	s := r.NewServer()
	s.SetFault("timestamp.json", Fault{StallAfterHeaders: true})
	errc := make(chan error, 1)
	go func() {
		_, _, err := get(t, context.Background(), s, "timestamp.json", "")
		errc <- err
	}()
	for s.Active() == 0 {
		time.Sleep(time.Millisecond)
	}
	s.Close()
	select {
	case err := <-errc:
		if err == nil {
			t.Error("stalled body read completed without error after Close")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end the stalled response")
	}
}

func TestFlipBit(t *testing.T) {
	t.Parallel()
	in := []byte("abcde")
	out := FlipBit(in)
	if string(in) != "abcde" || string(out) != "abbde" {
		t.Errorf("FlipBit(%q) = %q, input now %q", "abcde", out, in)
	}
	if got := FlipBit(nil); len(got) != 0 {
		t.Errorf("FlipBit(nil) = %q", got)
	}
}

func TestRequestLog(t *testing.T) {
	t.Parallel()
	r := New(t, Options{})
	s := r.Server()
	for _, name := range []string{"timestamp.json", "targets/x", "1.root.json"} {
		get(t, t.Context(), s, name, "")
	}
	metadataURL, _ := s.URLs()
	resp, err := s.Client().Get(strings.TrimSuffix(metadataURL, "metadata/") + "elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("status %d outside the served trees, want 404", resp.StatusCode)
	}
	want := []string{"timestamp.json", "targets/x", "1.root.json", "/elsewhere"}
	if got := r.Requests(); !slices.Equal(got, want) {
		t.Errorf("requests %q, want %q", got, want)
	}
	r.ResetRequests()
	if got := r.Requests(); len(got) != 0 {
		t.Errorf("requests after reset: %q", got)
	}
}

func TestStalled(t *testing.T) {
	t.Parallel()
	s := NewStalled(t)
	metadataURL, targetsURL := s.URLs()
	if !strings.HasSuffix(metadataURL, "/metadata/") || !strings.HasSuffix(targetsURL, "/targets/") {
		t.Fatalf("URLs %q, %q", metadataURL, targetsURL)
	}
	hc := &http.Client{Timeout: 100 * time.Millisecond}
	resp, err := hc.Get(metadataURL + "timestamp.json")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("stalled mirror answered %d", resp.StatusCode)
	}
	var te interface{ Timeout() bool }
	if !errors.As(err, &te) || !te.Timeout() {
		t.Errorf("err = %v, want a timeout", err)
	}
	// The accepting goroutine may lag behind the kernel's handshake.
	for deadline := time.Now().Add(10 * time.Second); s.Accepted() == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := s.Accepted(); n != 1 {
		t.Errorf("accepted %d connections, want 1", n)
	}
}

// TestServerConcurrentFirstUse: parallel subtests that each ask for the
// default server first get one and the same (before, they raced to start
// it: a data race under -race, and a server per caller).
func TestServerConcurrentFirstUse(t *testing.T) {
	repo := New(t, Options{})
	repo.Publish()
	got := make([]*Server, 8)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() { got[i] = repo.Server() })
	}
	wg.Wait()
	for i, s := range got {
		if s == nil || s != got[0] {
			t.Fatalf("caller %d got server %p, caller 0 %p", i, s, got[0])
		}
	}
}
