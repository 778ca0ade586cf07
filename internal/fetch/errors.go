package fetch

import (
	"errors"
	"fmt"
	"net/http"
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
