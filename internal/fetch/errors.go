package fetch

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

var (
	// ErrNotFound means the server answered 404 or 403. Object stores answer
	// 403 for a missing file when listing is not allowed, so both mean "not
	// here".
	ErrNotFound = errors.New("resource not found")

	// ErrTooLarge means the resource holds more bytes than the caller allowed,
	// found either from its Content-Length before reading or while reading.
	ErrTooLarge = errors.New("resource too large")

	// ErrRangeIgnored means a request from a nonzero offset was not answered
	// with the requested range (status 200, or a 206 that starts elsewhere).
	// The caller should fetch again from offset 0.
	ErrRangeIgnored = errors.New("server ignored the range request")

	// ErrInsecureURL means a URL, first or reached by redirect, is not an
	// allowed absolute URL: https, or plain http to a loopback host only (see
	// [Options.AllowInsecureHTTPUnsafe]), and never a redirect from https to
	// http.
	ErrInsecureURL = errors.New("insecure url")

	// ErrTooManyRedirects means a request was redirected more than 10 times.
	ErrTooManyRedirects = errors.New("too many redirects")

	// ErrPinMismatch means a server's certificate chain is valid but the
	// leaf's public key is not one of [Options.SPKIPins]: the connection may
	// be intercepted, or the server's key rotated to one not pinned yet.
	ErrPinMismatch = errors.New("server key not pinned")

	// ErrSlowRetrieval means a transfer was cut off because its server sent
	// fewer bytes per second than [Options.MinBytesPerSecond], did not
	// answer within [Options.HeaderTimeout] or did not finish within
	// [Options.TransferTimeout]: a slow retrieval attack, or a network too
	// poor to use. Another mirror may do better.
	ErrSlowRetrieval = errors.New("slow retrieval")

	// ErrInvalidOptions means [New] was given options it cannot honour.
	// Every Fetch of that fetcher fails with it, before any request.
	ErrInvalidOptions = errors.New("invalid fetch options")
)

// StatusError reports an HTTP status that is not a usable answer.
type StatusError struct {
	URL  string // the URL requested, before any redirect
	Code int    // the HTTP status code
}

func (e *StatusError) Error() string {
	text := http.StatusText(e.Code)
	if text == "" {
		return fmt.Sprintf("GET %s: status %d", e.URL, e.Code)
	}
	return fmt.Sprintf("GET %s: %d %s", e.URL, e.Code, text)
}

// Unwrap returns [ErrNotFound] for 404 and 403, nil otherwise.
func (e *StatusError) Unwrap() error {
	if e.Code == http.StatusNotFound || e.Code == http.StatusForbidden {
		return ErrNotFound
	}
	return nil
}

// TooLargeError reports a resource longer than the limit given to Fetch.
type TooLargeError struct {
	URL   string // the URL requested, before any redirect
	Limit int64  // the most bytes the caller allowed
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("GET %s: resource larger than the limit of %d bytes", e.URL, e.Limit)
}

// Unwrap returns [ErrTooLarge].
func (e *TooLargeError) Unwrap() error { return ErrTooLarge }

// InsecureURLError reports a URL that Fetch refuses to request, and why.
type InsecureURLError struct {
	URL    string // the refused URL (for a redirect, its target)
	Reason string // for example "plain http is allowed only to a loopback host"
}

func (e *InsecureURLError) Error() string {
	return fmt.Sprintf("refusing %s: %s", e.URL, e.Reason)
}

// Unwrap returns [ErrInsecureURL].
func (e *InsecureURLError) Unwrap() error { return ErrInsecureURL }

// PinError reports a server whose certificate chain is valid but whose leaf
// key is not pinned.
type PinError struct {
	Host string   // the server's host name or address, without the port
	Seen []string // hex SHA-256 of the SubjectPublicKeyInfo of each certificate presented, leaf first
	Pins []string // the pins configured, as hex
}

func (e *PinError) Error() string {
	seen := "none"
	if len(e.Seen) > 0 {
		seen = strings.Join(e.Seen, ", ")
	}
	return fmt.Sprintf("host %s presented a certificate whose key is not pinned (an interception, or a key rotation the pins do not include yet): seen %s; pinned %s",
		e.Host, seen, strings.Join(e.Pins, ", "))
}

// Unwrap returns [ErrPinMismatch].
func (e *PinError) Unwrap() error { return ErrPinMismatch }

// SlowError reports a transfer cut off because its server sent too few bytes
// while the reader waited for them.
type SlowError struct {
	URL    string        // the URL requested, before any redirect
	Got    int64         // the bytes received during Window
	Window time.Duration // time spent waiting for the server, at least Options.SlowWindow
	Min    int64         // the minimum average, in bytes per second
}

func (e *SlowError) Error() string {
	return fmt.Sprintf("GET %s: %d bytes in %v of waiting, below the minimum of %d bytes/s", e.URL, e.Got, e.Window, e.Min)
}

// Unwrap returns [ErrSlowRetrieval].
func (e *SlowError) Unwrap() error { return ErrSlowRetrieval }

// TimeoutError reports a transfer cut off because its server did not
// answer within [Options.HeaderTimeout] (Headers is true) or the transfer did
// not finish within [Options.TransferTimeout]. The client package uses it
// for its own per-file timeouts of metadata too.
type TimeoutError struct {
	URL     string        // the URL requested, before any redirect
	Timeout time.Duration // the time allowed
	Headers bool          // the time was for the response headers, not the whole transfer
}

func (e *TimeoutError) Error() string {
	if e.Headers {
		return fmt.Sprintf("GET %s: no response headers within %v", e.URL, e.Timeout)
	}
	return fmt.Sprintf("GET %s: transfer not finished within %v", e.URL, e.Timeout)
}

// Unwrap returns [ErrSlowRetrieval].
func (e *TimeoutError) Unwrap() error { return ErrSlowRetrieval }
