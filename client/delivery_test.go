package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/internal/simulator"
	"github.com/latchsec/latch/rollback"
)

// bigTarget is large enough to be cut at many offsets.
var bigTarget = bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB

// cutFetcher cuts the body of every fetch of a target at the offsets given,
// one offset per request, and can serve other bytes for resumed requests.
type cutFetcher struct {
	inner   client.Fetcher
	mu      sync.Mutex
	cuts    []int64 // absolute file offsets at which successive requests stop
	offsets []int64 // offsets requested, in order
	resumed func([]byte) []byte
}

func (f *cutFetcher) Fetch(ctx context.Context, url string, offset, max int64) (io.ReadCloser, error) {
	if !strings.Contains(url, "/targets/") {
		return f.inner.Fetch(ctx, url, offset, max)
	}
	f.mu.Lock()
	f.offsets = append(f.offsets, offset)
	cut := int64(-1)
	if len(f.cuts) > 0 {
		cut, f.cuts = f.cuts[0], f.cuts[1:]
	}
	f.mu.Unlock()
	rc, err := f.inner.Fetch(ctx, url, offset, max)
	if err != nil {
		return nil, err
	}
	var r io.Reader = rc
	if offset > 0 && f.resumed != nil {
		b, err := io.ReadAll(rc)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(f.resumed(b))
	}
	if cut >= 0 {
		r = io.MultiReader(io.LimitReader(r, cut-offset), errReader{io.ErrUnexpectedEOF})
	}
	return struct {
		io.Reader
		io.Closer
	}{r, rc}, nil
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func bigRepo(t *testing.T) *simulator.Repo {
	repo := simulator.New(t, simulator.Options{ConsistentSnapshot: true})
	repo.AddTarget("big.bin", bigTarget, nil)
	repo.Publish()
	return repo
}

// A transfer cut by the network resumes with a Range request from where it
// stopped, keeping the hash state, however often it is cut (within bounds).
func TestResume(t *testing.T) {
	t.Parallel()
	for _, cuts := range [][]int64{{1}, {65536}, {len64(bigTarget) - 1}, {1000, 300000, 300001, 900000}} {
		t.Run(fmt.Sprint(cuts), func(t *testing.T) {
			t.Parallel()
			cf := &cutFetcher{inner: fastFetcher(), cuts: cuts}
			var progress []client.Progress
			e := refreshed(t, bigRepo(t), client.WithFetcher(cf), client.WithProgress(func(p client.Progress) { progress = append(progress, p) }))
			dest := filepath.Join(e.dl, "big.bin")
			if err := e.c.DownloadFile(context.Background(), e.target("big.bin"), dest); err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(dest); !bytes.Equal(b, bigTarget) {
				t.Fatal("downloaded bytes differ")
			}
			want := append([]int64{0}, cuts...)
			if fmt.Sprint(cf.offsets) != fmt.Sprint(want) {
				t.Errorf("requested offsets %v, want %v", cf.offsets, want)
			}
			last := progress[len(progress)-1]
			if last.Done != last.Total || last.Total != len64(bigTarget) || last.Path != "big.bin" {
				t.Errorf("last progress %+v", last)
			}
			for i := 1; i < len(progress); i++ {
				if progress[i].Done < progress[i-1].Done {
					t.Fatalf("progress went back: %+v after %+v", progress[i], progress[i-1])
				}
			}
		})
	}
}

// A mirror that serves other bytes on resume can't corrupt the result: the
// hash fails, and one full download from the start follows.
func TestResumeDifferentBytes(t *testing.T) {
	t.Parallel()
	cf := &cutFetcher{inner: fastFetcher(), cuts: []int64{5000}, resumed: simulator.FlipBit}
	e := refreshed(t, bigRepo(t), client.WithFetcher(cf))
	dest := filepath.Join(e.dl, "big.bin")
	if err := e.c.DownloadFile(context.Background(), e.target("big.bin"), dest); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dest); !bytes.Equal(b, bigTarget) {
		t.Fatal("downloaded bytes differ")
	}
	if fmt.Sprint(cf.offsets) != "[0 5000 0]" {
		t.Errorf("requested offsets %v, want [0 5000 0]", cf.offsets)
	}
}

// A mirror that ignores Range gets one full download from the start; one that
// keeps cutting without progress fails, leaving nothing behind.
func TestResumeIgnoredRangeAndNoProgress(t *testing.T) {
	t.Parallel()
	repo := bigRepo(t)
	name := repo.TargetName("big.bin")
	e := refreshed(t, repo)
	dest := filepath.Join(e.dl, "big.bin")
	tg := e.target("big.bin")

	repo.SetFault(name, simulator.Fault{CutAfter: 4096, Times: 1})
	repo.Server().SetFault(name, simulator.Fault{CutAfter: 4096, Times: 1})
	repo.ResetRequests()
	if err := e.c.DownloadFile(context.Background(), tg, dest); err != nil {
		t.Fatalf("cut once, then resumed: %v", err)
	}

	os.Remove(dest)
	repo.SetFault(name, simulator.Fault{CutAfter: 4096, IgnoreRange: true, Times: 2})
	if err := e.c.DownloadFile(context.Background(), tg, dest); err != nil {
		t.Fatalf("cut, Range ignored, full download: %v", err)
	}
	if b, _ := os.ReadFile(dest); !bytes.Equal(b, bigTarget) {
		t.Fatal("downloaded bytes differ")
	}

	os.Remove(dest)
	cf := &cutFetcher{inner: fastFetcher(), cuts: []int64{100, 100}}
	e2 := refreshed(t, repo, client.WithFetcher(cf))
	err := e2.c.DownloadFile(context.Background(), e2.target("big.bin"), dest)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("cut twice at the same offset: %v, want io.ErrUnexpectedEOF", err)
	}
	if _, err := os.Stat(dest); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("destination exists after a failed download: %v", err)
	}
	noTemps(t, e.dl)
}

// A mirror serving stale metadata is skipped without failing the refresh
// when another is current; when none is, the typed error says which mirror
// was stale and by how much.
func TestStaleMirror(t *testing.T) {
	t.Parallel()
	repo := simulator.New(t, simulator.Options{})
	for range 3 {
		repo.Timestamp().Signed.Version++
		repo.Publish()
	}
	stale := repo.NewServer()
	e := refreshed(t, repo)
	repo.Publish()
	stale.SetFault("timestamp.json", simulator.Fault{OldVersion: 2})
	staleMeta, _ := stale.URLs()
	current := e.cfg.MetadataURLs[0]

	e.cfg.MetadataURLs = []string{staleMeta, current}
	e.open()
	e.refresh()
	st := e.c.Status()
	if h := st.Mirrors[0]; !strings.HasPrefix(h.URL, staleMeta) || h.ConsecutiveFailures != 1 || !strings.Contains(h.LastError, "stale") {
		t.Errorf("stale mirror health %+v", h)
	}

	trusted := versions(e.c.View())["timestamp"]
	e.cfg.MetadataURLs = []string{staleMeta}
	e.open()
	err := e.refreshErr()
	se := wantAs[*client.StaleError](t, err)
	wantIs(t, err, client.ErrRollback)
	if se.Role != "timestamp" || se.Got != 2 || se.Trusted != trusted || !strings.HasPrefix(se.Mirror, staleMeta) {
		t.Errorf("StaleError %+v", se)
	}
	wantAs[*rollback.RollbackError](t, err)
}

// A clock set back behind the last trusted reference time by more than the
// tolerance fails before any request; within the tolerance it is fine.
func TestClockRollback(t *testing.T) {
	t.Parallel()
	repo := simulator.New(t, simulator.Options{})
	e := newEnv(t, repo)
	e.open()
	e.clock.Set(repo.Now().Add(2 * time.Hour))
	e.refresh()

	e.open() // a new process: the trusted time is persisted
	e.clock.Set(repo.Now().Add(2*time.Hour - 5*time.Minute))
	e.refresh()

	e.clock.Set(repo.Now().Add(-22 * time.Hour))
	repo.ResetRequests()
	err := e.refreshErr()
	ce := wantAs[*client.ClockError](t, err)
	wantIs(t, err, client.ErrClockRollback)
	if !ce.Trusted.Equal(repo.Now().Add(2*time.Hour)) || ce.Tolerance != client.DefaultClockTolerance {
		t.Errorf("ClockError %+v", ce)
	}
	if n := len(repo.Requests()); n != 0 {
		t.Errorf("%d requests after a clock rollback, want none", n)
	}
	if st := e.c.Status(); !errors.Is(st.LastError, client.ErrClockRollback) || st.LastErrorType != "*client.ClockError" {
		t.Errorf("Status after the failure: %v (%s)", st.LastError, st.LastErrorType)
	}

	// The operator's way out for a tolerance that must be wider.
	e.opts = append(e.opts, client.WithClockToleranceUnsafe(48*time.Hour))
	e.open()
	e.refresh()
}

// Status reports versions, expiry, the last refresh and mirrors without I/O;
// a closed client refuses lookups and downloads.
func TestStatusAndClose(t *testing.T) {
	t.Parallel()
	repo := simulator.New(t, simulator.Options{})
	repo.AddTarget("a", appV1, nil)
	repo.Publish()
	e := refreshed(t, repo)
	tg := e.target("a")
	st := e.c.Status()
	if len(st.Roles) != 4 || st.Roles[3].Role != "targets" || st.Roles[3].Version != repo.Version("targets") || st.Roles[3].Stale {
		t.Errorf("Status roles %+v", st.Roles)
	}
	if !st.LastRefresh.Equal(repo.Now()) || st.LastError != nil || len(st.Mirrors) != 2 || st.Mirrors[0].LastSuccess.IsZero() {
		t.Errorf("Status %+v", st)
	}
	if err := e.c.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := e.c.Target(context.Background(), "a")
	wantIs(t, err, client.ErrClosed)
	wantIs(t, e.c.DownloadFile(context.Background(), tg, filepath.Join(e.dl, "a")), client.ErrClosed)
	wantIs(t, e.c.Refresh(context.Background()), client.ErrClosed)
	e.c = nil
}

// An idle refresh (nothing changed) asks for the next root and the timestamp
// and nothing else; the bytes it costs are the timestamp's.
func TestIdleRefreshCost(t *testing.T) {
	t.Parallel()
	for _, consistent := range []bool{false, true} {
		t.Run(fmt.Sprint("consistent=", consistent), func(t *testing.T) {
			t.Parallel()
			repo := simulator.New(t, simulator.Options{ConsistentSnapshot: consistent})
			repo.AddTarget("a", appV1, nil)
			repo.Publish()
			counter := &countingFetcher{inner: fastFetcher()}
			e := refreshed(t, repo, client.WithFetcher(counter))
			counter.reset()
			e.refresh()
			want := []string{fmt.Sprintf("%d.root.json", repo.Version("root")+1), "timestamp.json"}
			if got := counter.names(); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("idle refresh fetched %v, want %v", got, want)
			}
			if got, ts := counter.bytes(), len64(repo.Bytes("timestamp.json")); got != ts {
				t.Errorf("idle refresh read %d bytes, want %d (the timestamp)", got, ts)
			}
			t.Logf("idle refresh: %d requests, %d bytes", len(counter.names()), counter.bytes())
		})
	}
}

// countingFetcher records the file names fetched and the bytes read.
type countingFetcher struct {
	inner client.Fetcher
	mu    sync.Mutex
	files []string
	n     int64
}

func (f *countingFetcher) Fetch(ctx context.Context, url string, offset, max int64) (io.ReadCloser, error) {
	f.mu.Lock()
	f.files = append(f.files, url[strings.LastIndex(url, "/")+1:])
	f.mu.Unlock()
	rc, err := f.inner.Fetch(ctx, url, offset, max)
	if err != nil {
		return nil, err
	}
	return &countingReader{rc, f}, nil
}

func (f *countingFetcher) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.files, f.n = nil, 0
}

func (f *countingFetcher) names() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.files...)
}

func (f *countingFetcher) bytes() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

type countingReader struct {
	io.ReadCloser
	f *countingFetcher
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.f.mu.Lock()
	r.f.n += int64(n)
	r.f.mu.Unlock()
	return n, err
}

func len64(b []byte) int64 { return int64(len(b)) }

// sizedFetcher declares a wrong size for every body: the hint must not
// change what is read.
type sizedFetcher struct {
	inner client.Fetcher
	size  int64
}

type sizedBody struct {
	io.ReadCloser
	size int64
}

func (b sizedBody) Size() int64 { return b.size }

func (f sizedFetcher) Fetch(ctx context.Context, url string, offset, max int64) (io.ReadCloser, error) {
	rc, err := f.inner.Fetch(ctx, url, offset, max)
	if err != nil {
		return nil, err
	}
	return sizedBody{rc, f.size}, nil
}

// A declared size is a hint for the buffer, never trusted: too small, too
// large or absurd, the refresh reads and verifies the real bytes.
func TestDeclaredSizeIsAHint(t *testing.T) {
	t.Parallel()
	for _, size := range []int64{1, 100, 1 << 40} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			t.Parallel()
			repo := simulator.New(t, simulator.Options{Pretty: true})
			repo.AddTarget("a", appV1, nil)
			repo.Publish()
			e := refreshed(t, repo, client.WithFetcher(sizedFetcher{fastFetcher(), size}))
			if got := versions(e.c.View()); got["targets"] != repo.Version("targets") {
				t.Errorf("trusted versions %v", got)
			}
		})
	}
}
