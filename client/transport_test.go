package client_test

import (
	"context"
	"crypto/x509"
	"io"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/internal/fetch"
	"github.com/latchsec/latch/internal/simulator"
)

// tlsFront serves the repository's default server through a TLS reverse
// proxy on 127.0.0.1 and returns its metadata and targets URLs, the CA pool
// that trusts it and the SPKI pin of its key.
func tlsFront(t *testing.T, repo *simulator.Repo) (meta, targets string, pool *x509.CertPool, pin string) {
	t.Helper()
	metaURL, _ := repo.Serve()
	u, err := url.Parse(metaURL)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(httputil.NewSingleHostReverseProxy(&url.URL{Scheme: u.Scheme, Host: u.Host}))
	t.Cleanup(srv.Close)
	pool = x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return srv.URL + "/metadata/", srv.URL + "/targets/", pool, fetch.SPKIPin(srv.Certificate())
}

// The default transport checks SPKI pins on real TLS: a matching pin (also
// among rotated pins) works, a mismatch fails naming the host and the key
// seen, and nothing is trusted from that mirror.
func TestPinnedTLS(t *testing.T) {
	t.Parallel()
	repo := simulator.New(t, simulator.Options{})
	repo.AddTarget("a", appV1, nil)
	repo.Publish()
	meta, targets, pool, pin := tlsFront(t, repo)
	const otherPin = "0000000000000000000000000000000000000000000000000000000000000000"
	for name, tc := range map[string]struct {
		pins []string
		ok   bool
	}{
		"match":    {[]string{pin}, true},
		"rotated":  {[]string{otherPin, pin}, true},
		"mismatch": {[]string{otherPin}, false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, err := client.New(client.Config{
				TrustedRoot: repo.TrustedRoot(), MetadataURLs: []string{meta}, TargetURLs: []string{targets}, StateDir: t.TempDir(),
			}, client.WithClock(repo.Now), client.WithRootCAs(pool), client.WithSPKIPins(tc.pins...))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			err = c.Refresh(context.Background())
			if tc.ok {
				if err != nil {
					t.Fatalf("Refresh: %v", err)
				}
				tg, err := c.Target(context.Background(), "a")
				if err != nil {
					t.Fatal(err)
				}
				if err := c.DownloadFile(context.Background(), tg, t.TempDir()+"/a"); err != nil {
					t.Fatalf("DownloadFile over pinned TLS: %v", err)
				}
				return
			}
			wantIs(t, err, client.ErrPinMismatch)
			pe := wantAs[*client.PinError](t, err)
			if pe.Host != "127.0.0.1" || len(pe.Seen) == 0 || pe.Seen[0] != pin {
				t.Errorf("PinError %+v, want host 127.0.0.1 and seen key %s", pe, pin)
			}
			if roles := c.View().Roles(); len(roles) != 1 {
				t.Errorf("trusted roles after a pin mismatch: %+v, want the root only", roles)
			}
		})
	}
}

// A mirror that drips is cut off within the configured bound and the next
// mirror is used.
func TestSlowMirror(t *testing.T) {
	t.Parallel()
	repo := simulator.New(t, simulator.Options{})
	slow := repo.NewServer()
	slow.SetFault("timestamp.json", simulator.Fault{SlowDrip: 50 * time.Millisecond})
	slowMeta, _ := slow.URLs()
	good, _ := repo.Serve()
	c, err := client.New(client.Config{TrustedRoot: repo.TrustedRoot(), MetadataURLs: []string{slowMeta, good}, StateDir: t.TempDir()},
		client.WithClock(repo.Now), client.WithTransferLimits(10*time.Second, 1000, 300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatalf("Refresh with a slow and a good mirror: %v", err)
	}
	// The window cut the slow mirror, not the 10 s transfer timeout (its
	// health below names the minimum rate); the bound leaves room for a
	// loaded machine.
	if d := time.Since(start); d >= 10*time.Second {
		t.Errorf("refresh took %v with a 300 ms slow-retrieval window", d)
	}
	// The slow mirror failed the timestamp; the good one served the rest.
	h := c.Status().Mirrors[0]
	if h.LastFailure.IsZero() || !strings.Contains(h.LastError, "timestamp.json") || !strings.Contains(h.LastError, "minimum") {
		t.Errorf("slow mirror health %+v", h)
	}
}

// Plain HTTP to a host that is not loopback is refused before any
// connection, with a message that names the option allowing it;
// transport options don't combine with a caller's Fetcher.
func TestTransportPolicy(t *testing.T) {
	t.Parallel()
	repo := simulator.New(t, simulator.Options{})
	c, err := client.New(client.Config{TrustedRoot: repo.TrustedRoot(), MetadataURLs: []string{"http://192.0.2.1/metadata/"}, StateDir: t.TempDir()},
		client.WithClock(repo.Now))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Refresh(context.Background())
	wantIs(t, err, client.ErrInsecureURL)
	if ie := wantAs[*client.InsecureURLError](t, err); ie.URL != "http://192.0.2.1/metadata/2.root.json" {
		t.Errorf("InsecureURLError %+v", ie)
	}
	if !strings.Contains(err.Error(), "WithPlainHTTPUnsafe") || !strings.Contains(err.Error(), "use https") {
		t.Errorf("message %q does not name https and WithPlainHTTPUnsafe", err)
	}

	_, err = client.New(client.Config{TrustedRoot: repo.TrustedRoot(), StateDir: t.TempDir()},
		client.WithFetcher(fastFetcher()), client.WithSPKIPins("sha256/AAAA"))
	if err == nil || !strings.Contains(err.Error(), "WithFetcher") {
		t.Errorf("New with WithFetcher and WithSPKIPins: %v", err)
	}
}

// A mirror that accepts connections and never answers costs one header
// timeout, with the defaults (10 s), and the next mirror serves the whole
// refresh: the stalled one is neither asked again for the same file nor
// first for the next ones.
func TestStalledMirror(t *testing.T) {
	t.Parallel()
	repo := simulator.New(t, simulator.Options{})
	repo.AddTarget("a", appV1, nil)
	repo.Publish()
	stalled := simulator.NewStalled(t)
	stalledMeta, _ := stalled.URLs()
	good, _ := repo.Serve()
	c, err := client.New(client.Config{TrustedRoot: repo.TrustedRoot(), MetadataURLs: []string{stalledMeta, good}, StateDir: t.TempDir()},
		client.WithClock(repo.Now))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A liveness bound, not a measurement: one 10 s timeout, then loopback.
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	if err := c.Refresh(ctx); err != nil {
		t.Fatalf("Refresh with a stalled and a good mirror: %v", err)
	}
	if n := stalled.Accepted(); n > 1 {
		t.Errorf("the stalled mirror got %d connections, want 1", n)
	}
	h := c.Status().Mirrors[0]
	if h.ConsecutiveFailures != 1 || !strings.Contains(h.LastError, "no response headers within 10s") {
		t.Errorf("stalled mirror health %+v", h)
	}
}

// The metadata timeouts hold around a caller's Fetcher too, through its
// context: a Fetch call that doesn't return within the header timeout, and
// a file that doesn't arrive within the per-file timeout, fail the mirror
// with ErrSlowRetrieval and nothing is trusted.
func TestMetadataTimeoutsCustomFetcher(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		f       client.Fetcher
		headers bool
		timeout time.Duration
	}{
		{"Fetch never returns", stallingFetcher{inFetch: true}, true, 100 * time.Millisecond},
		{"body never ends", stallingFetcher{}, false, 300 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			repo := simulator.New(t, simulator.Options{})
			e := newEnv(t, repo)
			e.opts = append(e.opts, client.WithFetcher(tc.f), client.WithMetadataTimeouts(100*time.Millisecond, 300*time.Millisecond))
			e.open()
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			err := e.c.Refresh(ctx)
			if ctx.Err() != nil {
				t.Fatalf("Refresh ran into the test's own deadline: %v", err)
			}
			wantIs(t, err, client.ErrSlowRetrieval)
			if te := wantAs[*client.TimeoutError](t, err); te.Headers != tc.headers || te.Timeout != tc.timeout {
				t.Errorf("TimeoutError %+v, want headers %v, timeout %v", te, tc.headers, tc.timeout)
			}
			if roles := e.c.View().Roles(); len(roles) != 1 {
				t.Errorf("trusted roles after timeouts: %+v, want the root only", roles)
			}
		})
	}
}

// stallingFetcher never delivers: its Fetch, or its reader, blocks until
// the context ends, as a Fetcher that honours its context does.
type stallingFetcher struct{ inFetch bool }

func (f stallingFetcher) Fetch(ctx context.Context, _ string, _, _ int64) (io.ReadCloser, error) {
	if f.inFetch {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return io.NopCloser(ctxReader{ctx}), nil
}

type ctxReader struct{ ctx context.Context }

func (r ctxReader) Read([]byte) (int, error) {
	<-r.ctx.Done()
	return 0, r.ctx.Err()
}

// A mirror that timed out is tried last for the rest of the refresh and the
// lookups after it, and first again at the next refresh.
func TestTimedOutMirrorTriedLast(t *testing.T) {
	t.Parallel()
	repo := simulator.New(t, simulator.Options{})
	repo.Delegate(simulator.RoleTargets, "team", simulator.DelegationOpts{Paths: []string{"team/*"}})
	repo.AddDelegatedTarget("team", "team/a", appV1, nil)
	repo.Publish()
	stalled := simulator.NewStalled(t)
	stalledMeta, _ := stalled.URLs()
	e := newEnv(t, repo, client.WithMetadataTimeouts(200*time.Millisecond, time.Second))
	e.cfg.MetadataURLs = append([]string{stalledMeta}, e.cfg.MetadataURLs...)
	e.open()
	e.refresh()
	e.target("team/a")
	if h := e.c.Status().Mirrors[0]; h.ConsecutiveFailures != 1 {
		t.Errorf("after a refresh and a lookup, the stalled mirror failed %d times, want once: %+v", h.ConsecutiveFailures, h)
	}
	e.refresh()
	if h := e.c.Status().Mirrors[0]; h.ConsecutiveFailures != 2 {
		t.Errorf("the next refresh did not try the stalled mirror first: %+v", h)
	}
}
