package client_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/latchsec/latch/internal/cjson"
	"github.com/latchsec/latch/internal/simulator"
	"github.com/latchsec/latch/rollback"
)

// BenchmarkStart times what a new process does with a repository of 10,000
// or 100,000 targets in one targets.json, canonical or indented: a cold start
// (New on an empty state directory, Refresh, one lookup), a warm start (the
// same on the state a cold start left), and the floors they compare with.
// The warm floor opens the state directory and makes the same two requests
// (the next root, the timestamp); the cold floor fetches targets.json,
// hashes it, checks its signature and scans it once, validating it. In
// process: no process start, and the file system cache is warm. A warm
// start reads only what it uses of targets.json: it costs the same for
// both sizes.
func BenchmarkStart(b *testing.B) {
	for _, c := range []struct {
		n      int
		pretty bool
	}{{10_000, false}, {100_000, false}, {100_000, true}} {
		pretty := c.pretty
		var pub ed25519.PublicKey
		srv := servedRepoOpts(b, simulator.Options{ConsistentSnapshot: true, Pretty: pretty}, func(repo *simulator.Repo) {
			for i := range c.n {
				repo.AddTarget(fmt.Sprintf("pkgs/%06d/pkg-%06d.tar.gz", i, i), fmt.Appendf(nil, "content %d", i), nil)
			}
			pub = repo.Key(simulator.RoleTargets, 0).Public().(ed25519.PublicKey)
		})
		suffix := fmt.Sprintf("-%dk", c.n/1000) + map[bool]string{false: "", true: "-pretty"}[pretty]
		start := func(b *testing.B, dir string) {
			cl := openBench(b, srv, dir)
			defer cl.Close()
			ctx := context.Background()
			if err := cl.Refresh(ctx); err != nil {
				b.Fatal(err)
			}
			if _, err := cl.Target(ctx, fmt.Sprintf("pkgs/%06d/pkg-%06d.tar.gz", c.n/2, c.n/2)); err != nil {
				b.Fatal(err)
			}
		}
		b.Run("cold"+suffix, func(b *testing.B) {
			defer reportCPU(b)()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				dir := b.TempDir()
				b.StartTimer()
				start(b, dir)
				b.StopTimer()
				os.RemoveAll(dir)
				b.StartTimer()
			}
		})
		warm := b.TempDir()
		start(b, warm)
		b.Run("warm"+suffix, func(b *testing.B) {
			defer reportCPU(b)()
			for b.Loop() {
				start(b, warm)
			}
		})
		b.Run("floor-warm"+suffix, func(b *testing.B) {
			defer reportCPU(b)()
			for b.Loop() {
				st, err := rollback.OpenFileStore(filepath.Join(warm, "state"))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := st.Load(); err != nil {
					b.Fatal(err)
				}
				get(b, srv.URL+"/metadata/2.root.json")
				get(b, srv.URL+"/metadata/timestamp.json")
				st.Close()
			}
		})
		b.Run("floor-cold"+suffix, func(b *testing.B) {
			defer reportCPU(b)()
			for b.Loop() {
				data := get(b, srv.URL+"/metadata/"+srv.targets)
				sha256.Sum256(data)
				canonical, err := cjson.Canonicalize(data)
				if err != nil {
					b.Fatal(err)
				}
				// The signature's position, without a second scan.
				i := bytes.Index(canonical, []byte(`"sig":"`)) + len(`"sig":"`)
				sig, _ := hex.DecodeString(string(canonical[i : i+128]))
				signed := canonical[bytes.Index(canonical, []byte(`"signed":`))+len(`"signed":`) : len(canonical)-1]
				if !ed25519.Verify(pub, signed, sig) {
					b.Fatal("signature")
				}
			}
		})
		srv.Close()
	}
}

// get returns the body of a GET of url; a 404 is fine.
func get(b *testing.B, url string) []byte {
	resp, err := http.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		b.Fatal(err)
	}
	return data
}
