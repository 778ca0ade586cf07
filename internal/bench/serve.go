package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// statsPath is the control endpoint of the serve process: GET returns the
// wire counts (wireStats) since the last call and starts counting again.
const statsPath = "/-/stats"

// wireStats is what the server saw on its client-facing listener between
// two calls of the control endpoint. Bytes are counted on the accepted
// connections, so they include the HTTP request and response headers (TCP
// and IP headers are not counted).
type wireStats struct {
	Requests  []string `json:"requests"`   // paths requested, in order
	NRequests int      `json:"n_requests"` // len(Requests), kept when Requests is dropped
	BytesIn   int64    `json:"bytes_in"`   // read from the clients: requests
	BytesOut  int64    `json:"bytes_out"`  // written to the clients: responses
	NewConns  int      `json:"new_conns"`  // TCP connections accepted
	PeakConns int      `json:"peak_conns"` // most connections open at once
	OpenConns int      `json:"open_conns"` // connections open at the end
}

// counter keeps the wireStats of the client-facing listener.
type counter struct {
	mu      sync.Mutex
	st      wireStats
	writing int // writes under way: their bytes are counted when they return
}

// take returns the counts since the last take and starts again, with the
// connections open now as the starting peak. It first waits (up to a
// second) for the writes under way: a client may have read a response
// before the write that sent it has returned and been counted.
func (c *counter) take() wireStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := 0; c.writing > 0 && i < 1000; i++ {
		c.mu.Unlock()
		time.Sleep(time.Millisecond)
		c.mu.Lock()
	}
	out := c.st
	out.NRequests = len(out.Requests)
	c.st = wireStats{OpenConns: out.OpenConns, PeakConns: out.OpenConns}
	return out
}

func (c *counter) update(f func(*wireStats)) {
	c.mu.Lock()
	f(&c.st)
	c.mu.Unlock()
}

// write counts the bytes that w writes to a client.
func (c *counter) write(w func() (int64, error)) (int64, error) {
	c.mu.Lock()
	c.writing++
	c.mu.Unlock()
	n, err := w()
	c.mu.Lock()
	c.writing--
	c.st.BytesOut += n
	c.mu.Unlock()
	return n, err
}

// countingListener counts the connections it accepts and their bytes.
type countingListener struct {
	net.Listener
	c *counter
}

func (l countingListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.c.update(func(s *wireStats) {
		s.NewConns++
		s.OpenConns++
		s.PeakConns = max(s.PeakConns, s.OpenConns)
	})
	return &countingConn{Conn: conn, c: l.c}, nil
}

type countingConn struct {
	net.Conn
	c    *counter
	once sync.Once
}

func (cc *countingConn) Read(p []byte) (int, error) {
	n, err := cc.Conn.Read(p)
	if n > 0 {
		cc.c.update(func(s *wireStats) { s.BytesIn += int64(n) })
	}
	return n, err
}

func (cc *countingConn) Write(p []byte) (int, error) {
	n, err := cc.c.write(func() (int64, error) {
		n, err := cc.Conn.Write(p)
		return int64(n), err
	})
	return int(n), err
}

// ReadFrom keeps the kernel's sendfile path that net/http takes for files
// on a plain TCP connection: without it, wrapping the connection would make
// the server copy the large target through user space.
func (cc *countingConn) ReadFrom(r io.Reader) (int64, error) {
	return cc.c.write(func() (int64, error) { return io.Copy(cc.Conn, r) })
}

func (cc *countingConn) Close() error {
	cc.once.Do(func() { cc.c.update(func(s *wireStats) { s.OpenConns-- }) })
	return cc.Conn.Close()
}

// serveMain is the "serve" subcommand: it serves a directory over loopback
// HTTP (Range requests included) and answers the control endpoint on a
// listener of its own, so that control requests never show in the counts.
// It prints the base URL of the files, then that of the control listener,
// one per line on stdout, and exits when stdin closes, so it never outlives
// the parent.
func serveMain(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	dir := fs.String("dir", "", "directory to serve")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return fmt.Errorf("serve: -dir is required")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ctl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	c := &counter{}
	files := http.FileServer(http.Dir(*dir))
	data := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.update(func(s *wireStats) { s.Requests = append(s.Requests, r.URL.Path) })
		files.ServeHTTP(w, r)
	})
	control := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != statsPath {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(c.take())
	})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	go http.Serve(ctl, control)
	fmt.Printf("http://%s/\nhttp://%s/\n", ln.Addr(), ctl.Addr())
	return http.Serve(countingListener{Listener: ln, c: c}, data)
}

// readServerURLs reads the two lines serveMain prints.
func readServerURLs(r io.Reader) (files, control string, err error) {
	br := bufio.NewReader(r)
	var urls [2]string
	for i := range urls {
		line, err := br.ReadString('\n')
		if err != nil {
			return "", "", fmt.Errorf("server: %w", err)
		}
		urls[i] = strings.TrimSpace(line)
	}
	return urls[0], urls[1], nil
}
