package client_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/internal/simulator"
)

// allocated returns how many bytes of heap f allocated (process-wide, so
// the tests that use it don't run in parallel).
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A signed length is an upper bound to enforce while reading, never a size
// to allocate: a key holder lists 1 TiB or 2^63-1 bytes for the next file
// and a mirror declares as much in Content-Length (then closes the
// connection after the real file). The refresh or lookup fails with the
// truncated transfer, the role stays untrusted, and memory stays bounded, in
// this process and in the next, which starts from the timestamp (or
// snapshot) that lists the length.
func TestHugeSignedLength(t *testing.T) {
	// Not parallel: TotalAlloc counts the whole process.
	const maxAlloc = 16 << 20
	for _, role := range []string{"snapshot", "targets", "team"} {
		for _, length := range []int64{1 << 40, math.MaxInt64} {
			t.Run(fmt.Sprintf("%s/%d", role, length), func(t *testing.T) {
				repo := simulator.New(t, simulator.Options{})
				repo.Delegate(simulator.RoleTargets, "team", simulator.DelegationOpts{Paths: []string{"team/*"}})
				repo.AddDelegatedTarget("team", "team/a", []byte("a"), nil)
				repo.Publish()
				file := role + ".json"
				if role == simulator.RoleSnapshot {
					repo.Timestamp().Signed.Meta[file].Length = length
				} else {
					repo.Snapshot().Signed.Meta[file].Length = length
				}
				repo.Publish()
				repo.SetFault(file, simulator.Fault{WrongContentLength: length})
				e := newEnv(t, repo)
				for _, run := range []string{"first", "restarted"} {
					e.open()
					var err error
					n := allocated(func() {
						err = e.c.Refresh(context.Background())
						if role == "team" && err == nil {
							_, err = e.c.Target(context.Background(), "team/a")
						}
					})
					if err == nil {
						t.Fatalf("%s run: no error", run)
					}
					if me := wantAs[*client.MirrorError](t, err); me.File != file {
						t.Errorf("%s run: MirrorError for %q, want %q", run, me.File, file)
					}
					wantIs(t, err, io.ErrUnexpectedEOF)
					t.Logf("%s run: %d KiB allocated", run, n>>10)
					if n > maxAlloc {
						t.Errorf("%s run: %d MiB allocated, want at most %d MiB", run, n>>20, maxAlloc>>20)
					}
					if e.cacheFile(role) != nil {
						t.Errorf("%s run: %s cached", run, file)
					}
					if v := versions(e.c.View())[role]; v != 0 {
						t.Errorf("%s run: %s v%d trusted", run, role, v)
					}
				}
			})
		}
	}
}

// padded is a careless Fetcher: it serves timestamp.json followed by pad
// bytes of JSON whitespace, ignoring the length limit it is given.
type padded struct {
	client.Fetcher
	pad int
}

func (f padded) Fetch(ctx context.Context, url string, offset, maxLength int64) (io.ReadCloser, error) {
	if !strings.HasSuffix(url, "/timestamp.json") {
		return f.Fetcher.Fetch(ctx, url, offset, maxLength)
	}
	rc, err := f.Fetcher.Fetch(ctx, url, offset, math.MaxInt64)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.MultiReader(rc, bytes.NewReader(bytes.Repeat([]byte(" "), f.pad))), rc}, nil
}

// The client enforces the size limit of a metadata file itself, whatever
// the Fetcher does: a timestamp padded past its 16 KiB limit is refused.
func TestFetcherIgnoringLimit(t *testing.T) {
	t.Parallel()
	repo := simulator.New(t, simulator.Options{})
	e := newEnv(t, repo)
	e.opts = append(e.opts, client.WithFetcher(padded{fastFetcher(), 1 << 20}))
	e.open()
	err := e.refreshErr()
	wantIs(t, err, client.ErrTooLarge)
	if v := versions(e.c.View())[simulator.RoleTimestamp]; v != 0 || e.cacheFile(simulator.RoleTimestamp) != nil {
		t.Errorf("timestamp v%d trusted after a padded answer", v)
	}
}
