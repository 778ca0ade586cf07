package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
)

// requestsPath is the server's control endpoint: GET returns the paths
// requested since the last call (control requests excluded) and forgets them.
const requestsPath = "/-/requests"

// serveMain is the "serve" subcommand: it serves a directory over loopback
// HTTP (Range requests included), prints its base URL on the first line of
// stdout, and exits when stdin closes, so it never outlives the parent.
func serveMain(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	dir := fs.String("dir", "", "directory to serve")
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return fmt.Errorf("serve: -dir is required")
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	var (
		mu  sync.Mutex
		log = []string{}
	)
	files := http.FileServer(http.Dir(*dir))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == requestsPath {
			mu.Lock()
			out := log
			log = []string{}
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(out)
			return
		}
		if !strings.HasPrefix(r.URL.Path, "/-/") {
			mu.Lock()
			log = append(log, r.URL.Path)
			mu.Unlock()
		}
		files.ServeHTTP(w, r)
	})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	fmt.Printf("http://%s/\n", ln.Addr())
	return http.Serve(ln, h)
}
