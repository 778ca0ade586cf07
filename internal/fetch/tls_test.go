package fetch

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchsec/latch/mirror"
)

// testCA is a certificate authority with a fixed Ed25519 key.
type testCA struct {
	cert *x509.Certificate
	key  ed25519.PrivateKey
	pool *x509.CertPool // holding only cert
}

// fixedKey returns the Ed25519 key whose seed is 32 times the byte seed.
func fixedKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

var (
	notBefore = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	notAfter  = time.Date(2099, 12, 31, 0, 0, 0, 0, time.UTC)
)

func newCA(t *testing.T, seed byte) *testCA {
	t.Helper()
	key := fixedKey(seed)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(int64(seed)),
		Subject:               pkix.Name{CommonName: "latch test CA"},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// leaf returns a certificate for 127.0.0.1 and localhost with the fixed key
// of seed, presented with ca's certificate after it.
func (ca *testCA) leaf(t *testing.T, seed byte) tls.Certificate {
	t.Helper()
	key := fixedKey(seed)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1000 + int64(seed)),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.cert.Raw}, PrivateKey: key, Leaf: cert}
}

// tlsServer starts a loopback https server presenting cert, shut down when
// the test ends. config, if not nil, is the base of its TLS configuration.
func tlsServer(t *testing.T, cert tls.Certificate, config *tls.Config, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	if config == nil {
		config = &tls.Config{}
	}
	srv.TLS = config
	srv.TLS.Certificates = []tls.Certificate{cert}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // failed handshakes are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// countingHandler answers body and counts the requests it serves.
func countingHandler(n *atomic.Int32, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		io.WriteString(w, body)
	}
}

func TestSPKIPin(t *testing.T) {
	ca := newCA(t, 1)
	leaf := ca.leaf(t, 2)
	sum := sha256.Sum256(leaf.Leaf.RawSubjectPublicKeyInfo)
	// The SubjectPublicKeyInfo of an Ed25519 key is a fixed 12-byte prefix
	// and the 32-byte public key.
	spki := append([]byte{0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00}, fixedKey(2).Public().(ed25519.PublicKey)...)
	if want := sha256.Sum256(spki); sum != want {
		t.Fatalf("leaf SPKI is not the expected encoding of its key")
	}
	if got := SPKIPin(leaf.Leaf); got != hex.EncodeToString(sum[:]) || len(got) != 64 {
		t.Errorf("SPKIPin = %q", got)
	}
}

// base64Pin returns the "sha256/<base64>" form of a hex pin.
func base64Pin(t *testing.T, cert *x509.Certificate) string {
	t.Helper()
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return "sha256/" + base64.StdEncoding.EncodeToString(sum[:])
}

func TestPinMatch(t *testing.T) {
	ca := newCA(t, 1)
	leaf := ca.leaf(t, 2)
	var n atomic.Int32
	srv := tlsServer(t, leaf, nil, countingHandler(&n, "pinned"))
	other := SPKIPin(ca.leaf(t, 3).Leaf)
	for name, pins := range map[string][]string{
		"hex":               {SPKIPin(leaf.Leaf)},
		"upper hex":         {strings.ToUpper(SPKIPin(leaf.Leaf))},
		"base64":            {base64Pin(t, leaf.Leaf)},
		"rotation, first":   {SPKIPin(leaf.Leaf), other},
		"rotation, second":  {other, SPKIPin(leaf.Leaf)},
		"rotation, base64":  {other, base64Pin(t, leaf.Leaf)},
		"duplicate entries": {SPKIPin(leaf.Leaf), SPKIPin(leaf.Leaf)},
	} {
		t.Run(name, func(t *testing.T) {
			h := New(Options{RootCAs: ca.pool, SPKIPins: pins})
			data, err := fetchAll(t.Context(), h, srv.URL+"/f", 0, 100)
			if err != nil || string(data) != "pinned" {
				t.Errorf("got %q, %v", data, err)
			}
		})
	}
	if n.Load() != 7 {
		t.Errorf("%d requests served, want 7", n.Load())
	}
}

// TestPinRotation serves the same content with the old key and then the new
// one, to a fetcher pinning both, then to one pinning only the new key.
func TestPinRotation(t *testing.T) {
	ca := newCA(t, 1)
	oldLeaf, newLeaf := ca.leaf(t, 2), ca.leaf(t, 3)
	var n atomic.Int32
	oldSrv := tlsServer(t, oldLeaf, nil, countingHandler(&n, "old"))
	newSrv := tlsServer(t, newLeaf, nil, countingHandler(&n, "new"))
	both := New(Options{RootCAs: ca.pool, SPKIPins: []string{SPKIPin(oldLeaf.Leaf), SPKIPin(newLeaf.Leaf)}})
	for _, srv := range []*httptest.Server{oldSrv, newSrv} {
		if _, err := fetchAll(t.Context(), both, srv.URL, 0, 10); err != nil {
			t.Errorf("%s with both pins: %v", srv.URL, err)
		}
	}
	onlyNew := New(Options{RootCAs: ca.pool, SPKIPins: []string{SPKIPin(newLeaf.Leaf)}})
	if _, err := fetchAll(t.Context(), onlyNew, newSrv.URL, 0, 10); err != nil {
		t.Errorf("new server, new pin: %v", err)
	}
	if _, err := fetchAll(t.Context(), onlyNew, oldSrv.URL, 0, 10); !errors.Is(err, mirror.ErrPinMismatch) {
		t.Errorf("old server, new pin: err = %v, want ErrPinMismatch", err)
	}
	if n.Load() != 3 {
		t.Errorf("%d requests served, want 3", n.Load())
	}
}

func TestPinMismatch(t *testing.T) {
	ca := newCA(t, 1)
	leaf := ca.leaf(t, 2)
	var n atomic.Int32
	srv := tlsServer(t, leaf, nil, countingHandler(&n, "x"))
	seen := []string{SPKIPin(leaf.Leaf), SPKIPin(ca.cert)}
	for name, pins := range map[string][]string{
		"other key":        {SPKIPin(ca.leaf(t, 3).Leaf)},
		"the CA's key":     {SPKIPin(ca.cert)}, // pins name the leaf
		"two other keys":   {SPKIPin(ca.leaf(t, 3).Leaf), base64Pin(t, ca.leaf(t, 4).Leaf)},
		"one bit off leaf": {flipLastHexDigit(SPKIPin(leaf.Leaf))},
	} {
		t.Run(name, func(t *testing.T) {
			sl := &sleepRecorder{}
			h := New(Options{RootCAs: ca.pool, SPKIPins: pins, Sleep: sl.Sleep})
			rc, err := h.Fetch(t.Context(), srv.URL+"/f", 0, 10)
			var pe *mirror.PinError
			if !errors.As(err, &pe) || !errors.Is(err, mirror.ErrPinMismatch) || rc != nil {
				t.Fatalf("err = %v, want PinError", err)
			}
			if pe.Host != "127.0.0.1" || !slices.Equal(pe.Seen, seen) || len(pe.Pins) != len(pins) {
				t.Errorf("PinError = %+v, want host 127.0.0.1, seen %v", pe, seen)
			}
			for i, p := range pe.Pins {
				if len(p) != 64 || (!strings.HasPrefix(pins[i], "sha256/") && p != pins[i]) {
					t.Errorf("pin %d reported as %q, configured as %q", i, p, pins[i])
				}
			}
			msg := err.Error()
			if !strings.Contains(msg, "host 127.0.0.1 ") || !strings.Contains(msg, seen[0]) || !strings.Contains(msg, pe.Pins[0]) {
				t.Errorf("message %q does not name the host, the key seen and the pins", msg)
			}
			if len(sl.get()) != 0 {
				t.Errorf("retried: slept %v", sl.get())
			}
		})
	}
	if n.Load() != 0 {
		t.Errorf("%d requests reached the server", n.Load())
	}
	// A server reached by name reports that name.
	set, err := parsePins([]string{SPKIPin(ca.cert)})
	if err != nil {
		t.Fatal(err)
	}
	err = set.verifyConnection(tls.ConnectionState{ServerName: "mirror.example", PeerCertificates: []*x509.Certificate{leaf.Leaf}})
	var pe *mirror.PinError
	if !errors.As(err, &pe) || pe.Host != "mirror.example" || !slices.Equal(pe.Seen, seen[:1]) {
		t.Errorf("by name: err = %v", err)
	}
}

func flipLastHexDigit(s string) string {
	last := s[len(s)-1]
	if last == '0' {
		return s[:len(s)-1] + "1"
	}
	return s[:len(s)-1] + "0"
}

func TestRootCAs(t *testing.T) {
	ca := newCA(t, 1)
	var n atomic.Int32
	srv := tlsServer(t, ca.leaf(t, 2), nil, countingHandler(&n, "trusted"))

	// Not trusted by the system roots.
	sl := &sleepRecorder{}
	_, err := New(Options{Sleep: sl.Sleep}).Fetch(t.Context(), srv.URL, 0, 10)
	var ce *tls.CertificateVerificationError
	if !errors.As(err, &ce) {
		t.Errorf("system roots: err = %v, want a certificate error", err)
	}
	// Nor by another CA.
	_, err = New(Options{RootCAs: newCA(t, 9).pool, Sleep: sl.Sleep}).Fetch(t.Context(), srv.URL, 0, 10)
	if !errors.As(err, &ce) {
		t.Errorf("other CA: err = %v, want a certificate error", err)
	}
	// Pins do not replace chain verification.
	_, err = New(Options{SPKIPins: []string{SPKIPin(ca.leaf(t, 2).Leaf)}, Sleep: sl.Sleep}).Fetch(t.Context(), srv.URL, 0, 10)
	if !errors.As(err, &ce) {
		t.Errorf("pinned, system roots: err = %v, want a certificate error", err)
	}
	if n.Load() != 0 || len(sl.get()) != 0 {
		t.Errorf("%d requests served, slept %v: want none", n.Load(), sl.get())
	}

	data, err := fetchAll(t.Context(), New(Options{RootCAs: ca.pool}), srv.URL, 0, 10)
	if err != nil || string(data) != "trusted" {
		t.Errorf("with RootCAs: got %q, %v", data, err)
	}
}

func TestTLSVersion(t *testing.T) {
	ca := newCA(t, 1)
	leaf := ca.leaf(t, 2)
	var n atomic.Int32
	old := tlsServer(t, leaf, &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, countingHandler(&n, "x"))
	_, err := New(Options{RootCAs: ca.pool, Retries: -1}).Fetch(t.Context(), old.URL, 0, 10)
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "remote error" || !strings.Contains(err.Error(), "protocol version") {
		t.Errorf("TLS 1.1 server: err = %v, want a protocol version alert", err)
	}
	if n.Load() != 0 {
		t.Errorf("%d requests reached the TLS 1.1 server", n.Load())
	}

	tls12 := tlsServer(t, leaf, &tls.Config{MaxVersion: tls.VersionTLS12}, func(w http.ResponseWriter, r *http.Request) {
		if r.TLS.Version != tls.VersionTLS12 {
			t.Errorf("version %x", r.TLS.Version)
		}
		io.WriteString(w, "1.2")
	})
	h := New(Options{RootCAs: ca.pool, SPKIPins: []string{SPKIPin(leaf.Leaf)}})
	if data, err := fetchAll(t.Context(), h, tls12.URL, 0, 10); err != nil || string(data) != "1.2" {
		t.Errorf("TLS 1.2 server: got %q, %v", data, err)
	}
}

func TestPinnedRedirects(t *testing.T) {
	ca := newCA(t, 1)
	pinned, unpinned := ca.leaf(t, 2), ca.leaf(t, 3)
	var plainN, otherN, goodN atomic.Int32
	plain := server(t, countingHandler(&plainN, "plain"))
	other := tlsServer(t, unpinned, nil, countingHandler(&otherN, "other"))
	good := tlsServer(t, ca.leaf(t, 4), nil, countingHandler(&goodN, "good"))
	origin := tlsServer(t, pinned, nil, func(w http.ResponseWriter, r *http.Request) {
		targets := map[string]string{"/down": plain.URL, "/other": other.URL, "/good": good.URL}
		http.Redirect(w, r, targets[r.URL.Path]+"/f", http.StatusFound)
	})
	pins := []string{SPKIPin(pinned.Leaf), SPKIPin(ca.leaf(t, 4).Leaf)}
	sl := &sleepRecorder{}
	h := New(Options{RootCAs: ca.pool, SPKIPins: pins, Sleep: sl.Sleep})

	// Down to http on loopback: refused before any connection.
	_, err := h.Fetch(t.Context(), origin.URL+"/down", 0, 10)
	var ie *mirror.InsecureURLError
	if !errors.As(err, &ie) || ie.URL != plain.URL+"/f" || ie.Reason != "redirect from https to http" {
		t.Errorf("redirect to http: err = %v, want InsecureURLError", err)
	}
	// Across hosts to a valid certificate with a key not pinned.
	_, err = h.Fetch(t.Context(), origin.URL+"/other", 0, 10)
	var pe *mirror.PinError
	if !errors.As(err, &pe) || pe.Host != "127.0.0.1" || len(pe.Seen) == 0 || pe.Seen[0] != SPKIPin(unpinned.Leaf) {
		t.Errorf("redirect to an unpinned key: err = %v, want PinError seeing %s", err, SPKIPin(unpinned.Leaf))
	}
	// Across hosts to a pinned key.
	if data, err := fetchAll(t.Context(), h, origin.URL+"/good", 0, 10); err != nil || string(data) != "good" {
		t.Errorf("redirect to a pinned key: got %q, %v", data, err)
	}
	if plainN.Load() != 0 || otherN.Load() != 0 || goodN.Load() != 1 || len(sl.get()) != 0 {
		t.Errorf("requests: plain %d, other %d, good %d; slept %v", plainN.Load(), otherN.Load(), goodN.Load(), sl.get())
	}
}

// TestPinsOnEveryConnection checks the pins on each new connection: a second
// fetch after the idle connection is dropped handshakes again.
func TestPinsOnEveryConnection(t *testing.T) {
	ca := newCA(t, 1)
	leaf := ca.leaf(t, 2)
	var handshakes atomic.Int32
	var n atomic.Int32
	srv := tlsServer(t, leaf, &tls.Config{
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			handshakes.Add(1)
			return nil, nil
		},
	}, countingHandler(&n, "x"))
	h := New(Options{RootCAs: ca.pool, SPKIPins: []string{SPKIPin(leaf.Leaf)}})
	tr := h.client.Transport.(*http.Transport)
	for range 2 {
		if _, err := fetchAll(t.Context(), h, srv.URL, 0, 10); err != nil {
			t.Fatal(err)
		}
		tr.CloseIdleConnections()
	}
	if handshakes.Load() != 2 || n.Load() != 2 {
		t.Fatalf("%d handshakes, %d requests; want 2 and 2", handshakes.Load(), n.Load())
	}
	// The same fetcher refuses another server on the same host with another
	// key.
	other := tlsServer(t, ca.leaf(t, 3), nil, countingHandler(&n, "y"))
	if _, err := fetchAll(t.Context(), h, other.URL, 0, 10); !errors.Is(err, mirror.ErrPinMismatch) {
		t.Errorf("err = %v, want ErrPinMismatch", err)
	}
}

// connectProxy starts a loopback HTTP proxy that tunnels CONNECT requests
// and counts them.
func connectProxy(t *testing.T, connects *atomic.Int32) *url.URL {
	t.Helper()
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		connects.Add(1)
		up, err := net.Dial("tcp", r.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer up.Close()
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n")
		go func() {
			io.Copy(up, buf)
			up.Close()
		}()
		io.Copy(conn, up)
	})
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestPinsThroughProxy(t *testing.T) {
	ca := newCA(t, 1)
	leaf := ca.leaf(t, 2)
	var n, connects atomic.Int32
	srv := tlsServer(t, leaf, nil, countingHandler(&n, "via proxy"))
	proxy := connectProxy(t, &connects)
	for _, tc := range []struct {
		pin     string
		wantErr error
	}{
		{SPKIPin(leaf.Leaf), nil},
		{SPKIPin(ca.leaf(t, 3).Leaf), mirror.ErrPinMismatch},
	} {
		h := New(Options{RootCAs: ca.pool, SPKIPins: []string{tc.pin}, Retries: -1})
		tr := h.client.Transport.(*http.Transport)
		// The environment's proxy settings skip loopback hosts.
		tr.Proxy = http.ProxyURL(proxy)
		data, err := fetchAll(t.Context(), h, srv.URL, 0, 20)
		if !errors.Is(err, tc.wantErr) || (err == nil && string(data) != "via proxy") {
			t.Errorf("pin %s: got %q, %v; want %v", tc.pin[:8], data, err, tc.wantErr)
		}
		tr.CloseIdleConnections()
	}
	if connects.Load() != 2 || n.Load() != 1 {
		t.Errorf("%d CONNECTs, %d requests; want 2 and 1", connects.Load(), n.Load())
	}
}

func TestPinsWithCallerTransport(t *testing.T) {
	ca := newCA(t, 1)
	var n atomic.Int32
	srv := httptest.NewTLSServer(countingHandler(&n, "caller's"))
	t.Cleanup(srv.Close)
	rt := srv.Client().Transport

	h := New(Options{Transport: rt, SPKIPins: []string{SPKIPin(srv.Certificate())}})
	if data, err := fetchAll(t.Context(), h, srv.URL, 0, 10); err != nil || string(data) != "caller's" {
		t.Errorf("pinned: got %q, %v", data, err)
	}
	sl := &sleepRecorder{}
	h = New(Options{Transport: rt, SPKIPins: []string{SPKIPin(ca.cert)}, Sleep: sl.Sleep})
	_, err := h.Fetch(t.Context(), srv.URL, 0, 10)
	var pe *mirror.PinError
	if !errors.As(err, &pe) || pe.Host != "127.0.0.1" || len(pe.Seen) == 0 || pe.Seen[0] != SPKIPin(srv.Certificate()) {
		t.Errorf("not pinned: err = %v, want PinError", err)
	}
	if len(sl.get()) != 0 {
		t.Errorf("retried: slept %v", sl.get())
	}

	// A response without TLS state cannot show a pinned key.
	var closed atomic.Bool
	noState := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{
			StatusCode: http.StatusOK,
			Header:     http.Header{},
			Body:       closeRecorder{Reader: strings.NewReader("ok"), closed: &closed},
			Request:    r,
		}, nil
	})
	h = New(Options{Transport: noState, SPKIPins: []string{SPKIPin(ca.cert)}})
	_, err = h.Fetch(t.Context(), "https://example.com/f", 0, 10)
	if !errors.As(err, &pe) || pe.Host != "example.com" || len(pe.Seen) != 0 || !strings.Contains(err.Error(), "seen none") {
		t.Errorf("no TLS state: err = %v, want PinError seeing none", err)
	}
	if !closed.Load() {
		t.Error("the refused response's body was not closed")
	}
	// Plain http to loopback has no certificate and is not pinned.
	if data, err := fetchAll(t.Context(), h, "http://127.0.0.1/f", 0, 10); err != nil || string(data) != "ok" {
		t.Errorf("plain loopback: got %q, %v", data, err)
	}
}

type closeRecorder struct {
	io.Reader
	closed *atomic.Bool
}

func (c closeRecorder) Close() error {
	c.closed.Store(true)
	return nil
}

func TestInvalidOptions(t *testing.T) {
	ca := newCA(t, 1)
	good := SPKIPin(ca.cert)
	for name, opts := range map[string]Options{
		"empty pin":             {SPKIPins: []string{""}},
		"short hex":             {SPKIPins: []string{good[:62]}},
		"long hex":              {SPKIPins: []string{good + "00"}},
		"not hex":               {SPKIPins: []string{"zz" + good[2:]}},
		"one bad of two":        {SPKIPins: []string{good, "sha256/"}},
		"base64 of 31 bytes":    {SPKIPins: []string{"sha256/" + base64.StdEncoding.EncodeToString(make([]byte, 31))}},
		"url-safe base64":       {SPKIPins: []string{"sha256/" + base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xff}, 32))}},
		"sha1 prefix":           {SPKIPins: []string{"sha1/" + base64.StdEncoding.EncodeToString(make([]byte, 32))}},
		"hex with colons":       {SPKIPins: []string{strings.Repeat("ab:", 31) + "ab"}},
		"RootCAs and Transport": {RootCAs: ca.pool},
		"bad pin and Transport": {SPKIPins: []string{"x"}},
	} {
		t.Run(name, func(t *testing.T) {
			if opts.RootCAs != nil || name == "bad pin and Transport" {
				opts.Transport = noTraffic(t)
			}
			h := New(opts)
			if opts.Transport == nil {
				noDialTransport(t, h)
			}
			rc, err := h.Fetch(t.Context(), "https://127.0.0.1/f", 0, 10)
			if !errors.Is(err, ErrInvalidOptions) || rc != nil {
				t.Errorf("err = %v, want ErrInvalidOptions", err)
			}
		})
	}
}

// noDialTransport makes any connection attempt or proxy lookup by h's own
// transport fail the test.
func noDialTransport(t *testing.T, h *HTTP) {
	tr := h.client.Transport.(*http.Transport)
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		t.Errorf("dialed %s", addr)
		return nil, errors.New("no dialing allowed")
	}
	tr.Proxy = func(r *http.Request) (*url.URL, error) {
		t.Errorf("proxy lookup for %s", r.URL)
		return nil, nil
	}
}

func TestPlainHTTPRefusedWithoutConnection(t *testing.T) {
	for _, u := range []string{"http://192.0.2.1/f", "http://example.com/f", "http://[2001:db8::1]/f", "http://127.0.0.1.example.com/f"} {
		sl := &sleepRecorder{}
		h := New(Options{Sleep: sl.Sleep})
		noDialTransport(t, h)
		_, err := h.Fetch(t.Context(), u, 0, 10)
		var ie *mirror.InsecureURLError
		if !errors.As(err, &ie) || ie.Reason != plainHTTPReason {
			t.Errorf("%s: err = %v, want InsecureURLError", u, err)
		}
		if len(sl.get()) != 0 {
			t.Errorf("%s: retried", u)
		}
	}
}
