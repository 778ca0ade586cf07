// Package fetch is latch's default HTTP transport: it gets bytes and trusts
// none of them.
//
// Everything a server returns is untrusted; the client verifies lengths,
// hashes and signatures afterwards. This package only makes that job bounded
// and the network tolerable:
//
//   - every request carries the caller's context;
//   - the reader returned by [HTTP.Fetch] never yields more than the caller's
//     limit, and a Content-Length above it fails before the body is read;
//   - a nonzero offset sends a Range request and accepts only a 206 answer
//     starting at that offset ([mirror.ErrRangeIgnored] otherwise);
//   - transient faults (network errors before the response headers, 5xx, 429)
//     are retried with bounded exponential backoff and jitter, honouring
//     Retry-After; 404, 403, other 4xx, certificate and pin failures are not,
//     and neither is a request that timed out (no connection within
//     [Options.ConnectTimeout], no response headers within
//     [Options.HeaderTimeout]): a server that does not answer is not asked
//     again, another mirror may do better;
//   - a slow or stalled server and an endless one are cut off (see below).
//
// The body itself is never retried: resuming a broken download from an offset
// is the caller's decision.
//
// # Transport security
//
// Only https is requested, with TLS 1.2 or later, except plain http to a
// literal loopback address or "localhost" (for tests and local mirrors) or
// with [Options.AllowInsecureHTTPUnsafe]. Redirects are followed at most 10
// times, each target checked like the first URL, and never from https down
// to http; a redirect to another https host (a CDN) is fine, since the
// content is verified anyway.
//
// Server certificates are verified against the system roots or
// [Options.RootCAs]. [Options.SPKIPins] additionally pins the key of the leaf
// certificate, on every TLS handshake: the first, each one after a redirect,
// and each new connection. A mismatch is a [*mirror.PinError], naming the host
// and the keys it presented.
//
// Proxies are taken from the environment (HTTPS_PROXY, HTTP_PROXY, NO_PROXY)
// as [http.ProxyFromEnvironment] does. Through an http:// proxy, https
// requests are tunnelled with CONNECT and the TLS session, so the pin
// check, is end to end with the origin server. A proxy reached over TLS (an
// https:// proxy URL) is handshaken with the same configuration: RootCAs, if
// set, must lead to its certificate, and with pins set, its key must be
// pinned too.
//
// # Slow retrieval and endless data
//
// Each request must have its response headers within [Options.HeaderTimeout]
// (30s by default), connecting included, or the transfer ends with a
// [*mirror.TimeoutError]. Every transfer, retries and body included, has a
// deadline ([Options.TransferTimeout], 30 minutes by default), after which it
// fails with a [*mirror.TimeoutError]. While the body is read, a watchdog
// demands a minimum average throughput ([Options.MinBytesPerSecond], 1024 by
// default) over a sliding window of [Options.SlowWindow] (30s by default) of
// time spent waiting for the server: a server that drips, or sends nothing
// after the headers, is cut off with a [*mirror.SlowError] and its connection
// closed. Time the caller spends between reads does not count against the
// server. Both errors wrap [mirror.ErrSlowRetrieval]; the caller may try
// another mirror. An endless response is stopped by the caller's length limit.
package fetch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/latchsec/latch/mirror"
)

// Version is the version of latch sent in the default User-Agent.
const Version = "0.1.0-dev"

// DefaultUserAgent is the User-Agent sent when [Options.UserAgent] is empty.
const DefaultUserAgent = "latch/" + Version + " (+https://github.com/latchsec/latch)"

const (
	defaultRetries        = 3
	defaultConnectTimeout = 10 * time.Second
	defaultHeaderTimeout  = 30 * time.Second
	defaultIdleTimeout    = 90 * time.Second

	defaultTransferTimeout   = 30 * time.Minute
	defaultMinBytesPerSecond = 1024
	defaultSlowWindow        = 30 * time.Second

	maxRedirects = 10

	// Backoff before retry n (from 0) is drawn from [d/2, d] with
	// d = min(baseBackoff<<n, maxBackoff).
	baseBackoff = 250 * time.Millisecond
	maxBackoff  = 8 * time.Second
	// A server's Retry-After is honoured up to this long.
	maxRetryAfter = 60 * time.Second

	// At most this much of an error response body is read so that the
	// connection can be reused.
	maxDrain = 4 << 10
)

// Options configures [New]. The zero value is a working configuration.
type Options struct {
	// UserAgent is sent with every request; empty means DefaultUserAgent.
	UserAgent string

	// Retries is how many times one Fetch call retries a transient fault
	// before giving up: 0 means 3, a negative value means never.
	Retries int

	// HeaderTimeout bounds each request until its response headers arrive,
	// connecting and the TLS handshake included; zero or negative means 30s.
	// It applies to Transport too. A request that runs out of it ends the
	// Fetch with a *mirror.TimeoutError, without a retry.
	HeaderTimeout time.Duration

	// ConnectTimeout bounds dialing a connection and IdleTimeout how long an
	// idle connection is kept. Zero or negative means 10s and 90s. They
	// apply only to the transport that New builds, not to Transport.
	ConnectTimeout, IdleTimeout time.Duration

	// Transport, if not nil, carries the requests instead of a transport of
	// this package's own. Requests ask for "Accept-Encoding: identity", so a
	// *http.Transport does not decompress them behind the caller's back.
	//
	// Its own TLS configuration applies, so RootCAs must be nil (Fetch fails
	// with ErrInvalidOptions otherwise). SPKIPins still apply: each https
	// response must carry the TLS state of its connection (as those of
	// *http.Transport do) with a pinned leaf key, checked once the response
	// headers arrive, before any byte of the body is read.
	Transport http.RoundTripper

	// RootCAs, if not nil, replaces the system's roots as the certificates
	// that a server's certificate chain must lead to.
	RootCAs *x509.CertPool

	// SPKIPins, if not empty, pins the servers' keys: a server's leaf
	// certificate, besides a valid chain, must have a public key whose
	// SHA-256 (of its DER SubjectPublicKeyInfo, see [SPKIPin]) is one of
	// these. Each is 64 hex digits, or "sha256/" and the standard base64 of
	// the 32 bytes; anything else makes every Fetch fail with
	// ErrInvalidOptions. List the next key before rotating to it. Pins apply
	// to every https host reached, redirect targets included (plain http to
	// loopback has no certificate to check), and to the origin server
	// through a CONNECT proxy.
	SPKIPins []string

	// TransferTimeout bounds a whole Fetch: connecting, retries, and reading
	// the body until Close. Zero or negative means 30 minutes.
	TransferTimeout time.Duration

	// MinBytesPerSecond is the lowest average rate a body may arrive at,
	// over any SlowWindow of time spent waiting for it in Read; zero or
	// negative means 1024. SlowWindow zero or negative means 30s; below
	// 100ms it is raised to 100ms.
	MinBytesPerSecond int64
	SlowWindow        time.Duration

	// AllowInsecureHTTPUnsafe allows plain http to any host. Without it, plain
	// http is allowed only to a literal loopback address or "localhost".
	// Signed metadata still protects the content, but plain http shows an
	// observer what is fetched and lets the network delay or withhold
	// updates: do not use it for anything but a closed test network. Even
	// with it, a redirect from https to http is refused.
	AllowInsecureHTTPUnsafe bool

	// Sleep waits before a retry. It must return early with ctx.Err() once ctx
	// is done. Nil means a timer that does so.
	Sleep func(ctx context.Context, d time.Duration) error
}

// HTTP fetches resources over HTTPS. It is safe for concurrent use.
type HTTP struct {
	client          *http.Client
	userAgent       string
	retries         int
	allowInsecure   bool
	sleep           func(ctx context.Context, d time.Duration) error
	headerTimeout   time.Duration
	transferTimeout time.Duration
	minRate         int64
	window          time.Duration
	optErr          error // wraps ErrInvalidOptions; returned by every Fetch
}

// New returns an HTTP fetcher configured by opts. Options it cannot honour
// make every Fetch fail with [ErrInvalidOptions].
func New(opts Options) *HTTP {
	h := &HTTP{
		userAgent:       opts.UserAgent,
		retries:         opts.Retries,
		allowInsecure:   opts.AllowInsecureHTTPUnsafe,
		sleep:           opts.Sleep,
		headerTimeout:   positiveOr(opts.HeaderTimeout, defaultHeaderTimeout),
		transferTimeout: positiveOr(opts.TransferTimeout, defaultTransferTimeout),
		minRate:         opts.MinBytesPerSecond,
		window:          max(positiveOr(opts.SlowWindow, defaultSlowWindow), minSlowWindow),
	}
	if h.minRate <= 0 {
		h.minRate = defaultMinBytesPerSecond
	}
	if h.userAgent == "" {
		h.userAgent = DefaultUserAgent
	}
	if h.retries == 0 {
		h.retries = defaultRetries
	} else if h.retries < 0 {
		h.retries = 0
	}
	if h.sleep == nil {
		h.sleep = sleep
	}
	var pins *pinSet
	if len(opts.SPKIPins) > 0 {
		pins, h.optErr = parsePins(opts.SPKIPins)
	}
	rt := opts.Transport
	switch {
	case rt == nil:
		rt = newTransport(opts, pins)
	case opts.RootCAs != nil:
		h.optErr = fmt.Errorf("RootCAs cannot apply to the caller's Transport: %w", ErrInvalidOptions)
	case pins != nil:
		rt = &pinnedTransport{rt: rt, pins: pins}
	}
	h.client = &http.Client{
		Transport:     rt,
		CheckRedirect: h.checkRedirect,
	}
	return h
}

// Err returns the error, wrapping [ErrInvalidOptions], that every Fetch
// returns because New could not honour its options; nil if there is none.
func (h *HTTP) Err() error { return h.optErr }

// newTransport returns a transport with the settings of
// http.DefaultTransport, the connection timeouts, roots and pins (if not
// nil) of opts, and no transparent decompression, so that lengths are those
// of the bytes on the wire.
func newTransport(opts Options, pins *pinSet) *http.Transport {
	dialer := &net.Dialer{
		Timeout:   positiveOr(opts.ConnectTimeout, defaultConnectTimeout),
		KeepAlive: 30 * time.Second,
	}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: opts.RootCAs}
	if pins != nil {
		tlsConfig.VerifyConnection = pins.verifyConnection
	}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		TLSClientConfig:       tlsConfig,
		MaxIdleConns:          100,
		IdleConnTimeout:       positiveOr(opts.IdleTimeout, defaultIdleTimeout),
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
		DisableCompression:    true,
	}
}

func positiveOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Fetch returns a reader of the resource at rawURL from byte offset on. An
// offset above 0 sends a Range request; a server that does not honour it
// yields [mirror.ErrRangeIgnored]. The reader returns a
// [*mirror.TooLargeError] once more than maxLength bytes would be read from
// it, and a [*mirror.SlowError] or [*mirror.TimeoutError] if the server is too
// slow; the caller must close it, which ends the transfer and its deadline.
//
// A 404 or 403 yields a [*mirror.StatusError] wrapping [mirror.ErrNotFound], a
// key not pinned a [*mirror.PinError], no response headers within the header
// timeout a [*mirror.TimeoutError]. Transient faults are retried until the
// response headers arrive; after that, errors from the reader are the caller's
// to handle.
func (h *HTTP) Fetch(ctx context.Context, rawURL string, offset, maxLength int64) (io.ReadCloser, error) {
	if h.optErr != nil {
		return nil, h.optErr
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err // a *url.Error naming rawURL
	}
	if err := h.checkURL(u); err != nil {
		return nil, err
	}
	name := u.Redacted() // for errors: no password
	if offset < 0 || maxLength < 0 {
		return nil, fmt.Errorf("GET %s: negative offset %d or length limit %d", name, offset, maxLength)
	}
	t := newTransfer(ctx, name, h.transferTimeout)
	rc, err := h.fetch(t, rawURL, name, offset, maxLength)
	if err != nil {
		t.end()
		return nil, err
	}
	return rc, nil
}

// fetch is Fetch within transfer t, for a valid URL.
func (h *HTTP) fetch(t *transfer, rawURL, name string, offset, maxLength int64) (io.ReadCloser, error) {
	for attempt := 0; ; attempt++ {
		resp, err := h.do(t, rawURL, name, offset)
		var wait time.Duration
		var lastErr error
		switch {
		case err != nil:
			if !retryable(t.ctx, err) {
				return nil, t.reason(err)
			}
			lastErr = err
			wait = backoff(attempt)
		case transientStatus(resp.StatusCode):
			lastErr = &mirror.StatusError{URL: name, Code: resp.StatusCode}
			var ok bool
			if wait, ok = retryAfter(resp.Header); !ok {
				wait = backoff(attempt)
			}
			drainClose(resp.Body)
		default:
			if err := check(resp, name, offset, maxLength); err != nil {
				var se *mirror.StatusError
				if errors.As(err, &se) {
					// A 404 is part of every refresh (the probe for the
					// next root): drained, its connection serves the next
					// request. The drain is capped and watched like any
					// body, so a server that drips it can't hold us.
					drainClose(h.newBody(t, resp.Body, name, maxDrain))
				} else {
					_ = resp.Body.Close() // the error returned is the one that matters
				}
				return nil, err
			}
			b := h.newBody(t, resp.Body, name, maxLength)
			b.size = resp.ContentLength
			return b, nil
		}
		if attempt >= h.retries {
			return nil, fmt.Errorf("gave up after %d attempts: %w", attempt+1, lastErr)
		}
		if err := h.sleep(t.ctx, wait); err != nil {
			return nil, fmt.Errorf("GET %s: waiting to retry after %v: %w", name, lastErr, t.reason(err))
		}
	}
}

// do sends one request within transfer t. If its response headers don't
// arrive within the header timeout, the transfer ends: a server that does
// not answer is not asked again.
func (h *HTTP) do(t *transfer, rawURL, name string, offset int64) (*http.Response, error) {
	timer := time.AfterFunc(h.headerTimeout, func() {
		t.cancel(&mirror.TimeoutError{URL: name, Timeout: h.headerTimeout, Headers: true})
	})
	defer timer.Stop()
	req, err := http.NewRequestWithContext(t.ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", h.userAgent)
	req.Header.Set("Accept-Encoding", "identity")
	if offset > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(offset, 10)+"-")
	}
	resp, err := h.client.Do(req)
	var pe *mirror.PinError
	var ue *url.Error
	if errors.As(err, &pe) && pe.Host == "" && errors.As(err, &ue) {
		// A handshake with an IP address has no server name: take the host
		// from the URL that failed, the first one or a redirect target.
		if u, perr := url.Parse(ue.URL); perr == nil {
			pe.Host = u.Hostname()
		}
	}
	return resp, err
}

// plainHTTPReason is why plain http to a host that is not loopback is
// refused. It names the client option that allows it: this transport is the
// client's.
const plainHTTPReason = "plain http is allowed only to a loopback host: use https, or client.WithPlainHTTPUnsafe on a network you control"

// checkURL returns a *mirror.InsecureURLError unless u may be requested.
func (h *HTTP) checkURL(u *url.URL) error {
	refuse := func(reason string) error {
		return &mirror.InsecureURLError{URL: u.Redacted(), Reason: reason}
	}
	if u.Host == "" {
		return refuse("not an absolute url with a host")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if h.allowInsecure || isLoopback(u.Hostname()) {
			return nil
		}
		return refuse(plainHTTPReason)
	default:
		return refuse(fmt.Sprintf("scheme %q is not allowed", u.Scheme))
	}
}

// isLoopback reports whether host is "localhost" or a literal loopback
// address. Other names are not resolved: what they point to is up to DNS.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Unmap().IsLoopback()
}

// checkRedirect enforces the redirect policy: at most maxRedirects, every
// target allowed by checkURL, and no step from https down to http.
func (h *HTTP) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > maxRedirects {
		return fmt.Errorf("stopped after %d redirects: %w", maxRedirects, mirror.ErrTooManyRedirects)
	}
	if err := h.checkURL(req.URL); err != nil {
		return err
	}
	if req.URL.Scheme != "https" {
		for _, prev := range via {
			if prev.URL.Scheme == "https" {
				return &mirror.InsecureURLError{URL: req.URL.Redacted(), Reason: "redirect from https to http"}
			}
		}
	}
	return nil
}

// retryable reports whether err from http.Client.Do is worth another try: a
// network fault, not a policy refusal, a certificate or pin error, a
// timeout or the end of ctx.
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var certErr *tls.CertificateVerificationError
	var netErr net.Error
	switch {
	case errors.Is(err, mirror.ErrInsecureURL), errors.Is(err, mirror.ErrTooManyRedirects),
		errors.Is(err, mirror.ErrPinMismatch), errors.As(err, &certErr):
		return false
	case errors.As(err, &netErr) && netErr.Timeout():
		// A dial or TLS handshake that timed out: the server (or the path
		// to it) is not answering; another mirror may.
		return false
	}
	return true
}

func transientStatus(code int) bool {
	return code == http.StatusTooManyRequests || (code >= 500 && code <= 599)
}

// backoff returns the wait before retry number attempt (from 0): exponential
// with a cap, with "equal jitter" so that concurrent clients spread out while
// each wait still grows.
func backoff(attempt int) time.Duration {
	d := baseBackoff
	for i := 0; i < attempt && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	return d/2 + rand.N(d/2+1)
}

// retryAfter returns the wait a Retry-After header asks for, capped at
// maxRetryAfter. An HTTP-date is taken relative to the response's Date
// header, so the local clock plays no part; without a valid Date, or with an
// unparsable value, ok is false.
func retryAfter(hdr http.Header) (d time.Duration, ok bool) {
	v := strings.TrimSpace(hdr.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseUint(v, 10, 64); err == nil {
		if secs > uint64(maxRetryAfter/time.Second) {
			return maxRetryAfter, true
		}
		return time.Duration(secs) * time.Second, true
	}
	when, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	now, err := http.ParseTime(hdr.Get("Date"))
	if err != nil {
		return 0, false
	}
	return min(max(when.Sub(now), 0), maxRetryAfter), true
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// drainClose reads a little of an unwanted body so the connection can be
// reused, then closes it.
func drainClose(body io.ReadCloser) {
	// Errors are irrelevant here: the response is discarded either way. A
	// small buffer, not io.Discard's 8 KiB one: such bodies are mostly a
	// line, and in a new process fresh memory costs a page fault per page.
	buf := make([]byte, 512)
	for n := 0; n < maxDrain; {
		k, err := body.Read(buf[:min(len(buf), maxDrain-n)])
		if err != nil || k == 0 {
			break
		}
		n += k
	}
	_ = body.Close()
}

// newBody returns the reader for the caller of an accepted response body,
// read within transfer t.
func (h *HTTP) newBody(t *transfer, rc io.ReadCloser, name string, maxLength int64) *body {
	limit := maxLength
	if limit < math.MaxInt64 {
		limit++ // one byte more than allowed tells "too large" from "exactly full"
	}
	return &body{
		rc:  rc,
		r:   io.LimitReader(rc, limit),
		max: maxLength,
		url: name,
		t:   t,
		dog: startWatchdog(t, name, h.window, h.minRate),
	}
}

// check returns why a final (non-transient) response is unusable, if it is.
func check(resp *http.Response, name string, offset, maxLength int64) error {
	switch {
	case offset == 0 && resp.StatusCode == http.StatusOK:
	case offset > 0 && resp.StatusCode == http.StatusOK:
		return fmt.Errorf("GET %s from byte %d: status 200: %w", name, offset, mirror.ErrRangeIgnored)
	case offset > 0 && resp.StatusCode == http.StatusPartialContent:
		cr := resp.Header.Get("Content-Range")
		if start, ok := rangeStart(cr); !ok || start != offset {
			return fmt.Errorf("GET %s from byte %d: Content-Range %q: %w", name, offset, cr, mirror.ErrRangeIgnored)
		}
	default:
		return &mirror.StatusError{URL: name, Code: resp.StatusCode}
	}
	if resp.ContentLength > maxLength {
		return &mirror.TooLargeError{URL: name, Limit: maxLength}
	}
	return nil
}

// rangeStart returns the first byte position of a Content-Range header of
// the form "bytes <first>-<last>/<complete length or *>".
func rangeStart(v string) (int64, bool) {
	spec, ok := strings.CutPrefix(v, "bytes ")
	if !ok {
		return 0, false
	}
	rng, size, ok := strings.Cut(spec, "/")
	if !ok {
		return 0, false
	}
	first, last, ok := strings.Cut(rng, "-")
	if !ok {
		return 0, false
	}
	start, err1 := strconv.ParseInt(first, 10, 64)
	end, err2 := strconv.ParseInt(last, 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start {
		return 0, false
	}
	if size != "*" {
		n, err := strconv.ParseInt(size, 10, 64)
		if err != nil || n <= end {
			return 0, false
		}
	}
	return start, true
}

// body is the response body limited to max bytes. Once the limit is passed,
// every Read returns a *mirror.TooLargeError. A read cut off by the transfer's
// deadline or watchdog returns their error.
type body struct {
	size int64 // Content-Length as declared, -1 if unknown
	rc   io.ReadCloser
	r    io.Reader // rc limited to max+1 bytes
	n    int64     // bytes returned so far
	max  int64
	url  string
	err  error // sticky *mirror.TooLargeError
	t    *transfer
	dog  *watchdog
}

func (b *body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	b.dog.begin()
	n, err := b.r.Read(p)
	b.dog.end(n)
	if err != nil && err != io.EOF {
		err = b.t.reason(err)
	}
	if int64(n) > b.max-b.n { // not b.n+n > max, which overflows near MaxInt64
		n = int(b.max - b.n)
		b.err = &mirror.TooLargeError{URL: b.url, Limit: b.max}
		err = b.err
	}
	b.n += int64(n)
	return n, err
}

// Size returns the length the server declared, -1 if it declared none. It is
// a hint for sizing buffers, untrusted: the limit still applies while
// reading.
func (b *body) Size() int64 { return b.size }

// Close closes the response body and ends the transfer.
func (b *body) Close() error {
	b.dog.stop()
	err := b.rc.Close()
	b.t.end()
	return err
}
