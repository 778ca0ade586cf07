// Package mirror names what can go wrong when a file is fetched from a
// mirror: the sentinels and typed errors that latch's default HTTP transport
// returns, and that a caller's client.Fetcher returns to signal the same
// conditions to the client.
//
// Package client re-exports every one of them under the same name
// (client.ErrNotFound is ErrNotFound, client.PinError is PinError), so a
// caller usually needs only client. They live here, apart, because the
// default transport is an internal package that client imports: both sides
// need one definition to share.
//
// Each sentinel has one meaning, and the client reacts to each in its own
// way (see client.Fetcher): ErrNotFound is an answer ("no such file"), not
// a fault; ErrRangeIgnored makes a download start again from the first
// byte; ErrSlowRetrieval sends the mirror to the back of the queue; the
// others fail the mirror for that file, and the client tries the next one.
package mirror

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

var (
	// ErrNotFound: the mirror says it has no such file (HTTP 404, and 403,
	// which object stores answer for a missing file when listing is not
	// allowed). Any mirror can say it of any file: it never means that no
	// trusted role lists a target.
	ErrNotFound = errors.New("file not found on the mirror")

	// ErrTooLarge: the file holds more bytes than allowed (its signed
	// length, or a size limit), found from a declared length before reading
	// or while reading: an endless data attack, or a file that was replaced.
	ErrTooLarge = errors.New("file too large")

	// ErrRangeIgnored: a request from a nonzero offset (to resume a
	// download) was not answered with the bytes from that offset (for HTTP:
	// status 200, or a 206 that starts elsewhere). The client then fetches
	// the file again from its first byte.
	ErrRangeIgnored = errors.New("mirror ignored the range request")

	// ErrSlowRetrieval: a transfer was cut off because the mirror did not
	// answer in time or sent too few bytes per second (see
	// client.WithMetadataTimeouts and client.WithTransferLimits): a slow
	// retrieval attack, or a network too poor to use. Another mirror may do
	// better. See *SlowError and *TimeoutError.
	ErrSlowRetrieval = errors.New("slow retrieval")

	// ErrInsecureURL: a URL, configured or reached by a redirect, that the
	// transport refuses to request: not https (plain http only to a
	// loopback host, unless client.WithPlainHTTPUnsafe), or a redirect from
	// https to http. See *InsecureURLError.
	ErrInsecureURL = errors.New("insecure url")

	// ErrTooManyRedirects: a request was redirected more than 10 times.
	ErrTooManyRedirects = errors.New("too many redirects")

	// ErrPinMismatch: the mirror's certificate chain is valid but its key is
	// not one of the pins (client.WithSPKIPins): the connection may be
	// intercepted, or the mirror's key rotated to one not pinned yet. See
	// *PinError.
	ErrPinMismatch = errors.New("mirror key not pinned")
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

// TooLargeError reports a file longer than the limit of the request.
type TooLargeError struct {
	URL   string // the URL requested, before any redirect
	Limit int64  // the most bytes allowed
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("GET %s: more than the %d bytes allowed", e.URL, e.Limit)
}

// Unwrap returns [ErrTooLarge].
func (e *TooLargeError) Unwrap() error { return ErrTooLarge }

// InsecureURLError reports a URL that the transport refuses to request, and
// why.
type InsecureURLError struct {
	URL    string // the refused URL (for a redirect, its target)
	Reason string // for example "redirect from https to http"
}

func (e *InsecureURLError) Error() string {
	return fmt.Sprintf("refusing %s: %s", e.URL, e.Reason)
}

// Unwrap returns [ErrInsecureURL].
func (e *InsecureURLError) Unwrap() error { return ErrInsecureURL }

// PinError reports a mirror whose certificate chain is valid but whose leaf
// key is not pinned.
type PinError struct {
	Host string   // the mirror's host name or address, without the port
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

// SlowError reports a transfer cut off because its mirror sent too few
// bytes while the reader waited for them.
type SlowError struct {
	URL    string        // the URL requested, before any redirect
	Got    int64         // the bytes received during Window
	Window time.Duration // time spent waiting for the mirror
	Min    int64         // the minimum average, in bytes per second
}

func (e *SlowError) Error() string {
	return fmt.Sprintf("GET %s: %d bytes in %v of waiting, below the minimum of %d bytes/s", e.URL, e.Got, e.Window, e.Min)
}

// Unwrap returns [ErrSlowRetrieval].
func (e *SlowError) Unwrap() error { return ErrSlowRetrieval }

// TimeoutError reports a transfer cut off because its mirror did not start
// answering in time (Headers is true: for HTTP, the response headers), or
// the whole transfer did not finish in time.
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
