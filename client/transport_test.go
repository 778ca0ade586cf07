package client_test

import (
	"context"
	"crypto/x509"
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
			pe := wantAs[*fetch.PinError](t, err)
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
	// The slow mirror failed the timestamp and served the rest.
	h := c.Status().Mirrors[0]
	if h.LastFailure.IsZero() || !strings.Contains(h.LastError, "timestamp.json") || !strings.Contains(h.LastError, "minimum") {
		t.Errorf("slow mirror health %+v", h)
	}
}

// Plain HTTP to a host that is not loopback is refused before any
// connection; transport options don't combine with a caller's Fetcher.
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

	_, err = client.New(client.Config{TrustedRoot: repo.TrustedRoot(), StateDir: t.TempDir()},
		client.WithFetcher(fastFetcher()), client.WithSPKIPins("sha256/AAAA"))
	if err == nil || !strings.Contains(err.Error(), "WithFetcher") {
		t.Errorf("New with WithFetcher and WithSPKIPins: %v", err)
	}
}
