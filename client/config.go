package client

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/latchsec/latch/internal/fetch"
)

// Fetcher fetches bytes for the client. Callers may bring their own (S3, OCI,
// authenticated transports); the default is an HTTP client of its own.
//
// Everything a Fetcher returns is untrusted: the client verifies it before it
// reaches trusted state, the cache or the caller. A Fetcher must be safe for
// concurrent use.
//
// A Fetcher says what went wrong with errors that wrap these sentinels (the
// default transport's typed errors, such as *StatusError or *PinError, wrap
// them too, and a Fetcher may return those types as well); the client reacts
// to each as it does for the default transport:
//
//   - ErrNotFound: the mirror has no such file (for HTTP: 404 and 403).
//     It answers the question whether a newer root exists (spec §5.3.3);
//     for any other file it fails that mirror.
//   - ErrRangeIgnored: a request from offset > 0 was answered with other
//     bytes than those from offset. The client downloads the file again
//     from offset 0, once.
//   - ErrTooLarge: more than maxLength bytes. The client does not resume.
//   - ErrSlowRetrieval: the mirror was too slow. The client does not
//     resume, and tries that mirror last for the rest of the refresh.
//   - Any other error from Fetch (ErrPinMismatch, ErrInsecureURL, ...)
//     fails that mirror for that file. Any other error from the reader is
//     taken for a cut connection: a download resumes from where it stopped.
type Fetcher interface {
	// Fetch returns a reader of the resource at url starting at byte offset
	// (offset > 0 asks for a range: the reader's first byte is the one at
	// offset). The reader must return an error wrapping ErrTooLarge once more
	// than maxLength bytes would be read from it (the client enforces the
	// limit too). Fetch must honour ctx, and so must the reader: the client
	// ends ctx to enforce its timeouts (see WithMetadataTimeouts). Fetch
	// should return as soon as the server starts answering (for HTTP: the
	// response headers), leaving the body to the reader. A reader may also
	// have a method Size() int64 returning the length the server declared
	// (-1 if none): a hint the client uses to size buffers, never trusted.
	Fetch(ctx context.Context, url string, offset, maxLength int64) (io.ReadCloser, error)
}

// Config is what a client must be given. The zero value of every option is
// the strictest policy.
type Config struct {
	// TrustedRoot is the root metadata the application ships with (spec
	// §5.2): the trust anchor. Required.
	TrustedRoot []byte
	// MetadataURLs are the base URLs of the metadata mirrors, in order of
	// preference. Refresh needs at least one.
	MetadataURLs []string
	// TargetURLs are the base URLs of the target mirrors, in order of
	// preference. Required for downloads.
	TargetURLs []string
	// StateDir holds the metadata cache (<role>.json, byte-identical to what
	// was received) and, in its subdirectory "state", the forward-only
	// trusted state and the process lock. Required. Protect it like the
	// executable itself.
	StateDir string
	// TransparencyLog, if set, makes DownloadFile and Apply deliver a
	// target it covers only once a transparency log proves that it holds
	// exactly that release. See TransparencyLog.
	TransparencyLog *TransparencyLog
}

// Limits caps the size of metadata files whose referrer does not list a
// length (a listed length always wins). The zero value of a field means the
// default given beside it.
type Limits struct {
	Root      int64 // default 512 KiB
	Timestamp int64 // default 16 KiB
	Snapshot  int64 // default 2 MiB
	Targets   int64 // targets and delegated roles; default 5 MiB
}

func (l Limits) withDefaults() Limits {
	def := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.Root, 512<<10)
	def(&l.Timestamp, 16<<10)
	def(&l.Snapshot, 2<<20)
	def(&l.Targets, 5<<20)
	return l
}

// largest is the largest of the limits.
func (l Limits) largest() int64 { return max(l.Root, l.Timestamp, l.Snapshot, l.Targets) }

type options struct {
	fetcher           Fetcher
	fetcherSet        bool // WithFetcher was given, perhaps with nil
	metaHeaderTimeout time.Duration
	metaFileTimeout   time.Duration
	clock             func() time.Time
	logger            *slog.Logger
	limits            Limits
	maxRootRotation   int
	maxDelegations    int
	clockTolerance    time.Duration
	progress          func(Progress)
	auditRequired     bool
	transport         fetch.Options // for the default fetcher
	transportSet      bool          // a transport option was given
	pinsSet           bool          // WithSPKIPins was given
	transferSet       bool          // WithTransferLimits was given
}

// WithRootCAs makes the default HTTP transport trust these certificate
// authorities instead of the system's.
func WithRootCAs(pool *x509.CertPool) Option {
	return func(o *options) { o.transport.RootCAs, o.transportSet = pool, true }
}

// WithSPKIPins pins the mirrors' TLS keys: every HTTPS connection of the
// default transport, redirects included, must present a leaf certificate
// whose SubjectPublicKeyInfo hashes (SHA-256) to one of pins, given as hex or
// as "sha256/<base64>". Give the next key's pin before rotating it. Pinning
// is defence in depth: the signed metadata stays the trust root. New refuses
// an empty list and a pin in neither form.
func WithSPKIPins(pins ...string) Option {
	return func(o *options) { o.transport.SPKIPins, o.transportSet, o.pinsSet = pins, true, true }
}

// WithTransferLimits sets the slow-retrieval guard of the default transport:
// the deadline of each whole transfer (default 30 minutes), and the minimum
// average throughput over a sliding window (default 1024 bytes per second
// over 30 seconds). A mirror that drips, stalls after the headers or streams
// endlessly is cut off with ErrSlowRetrieval and the next mirror is tried.
// All three must be positive.
func WithTransferLimits(timeout time.Duration, minBytesPerSecond int64, window time.Duration) Option {
	return func(o *options) {
		o.transport.TransferTimeout, o.transport.MinBytesPerSecond, o.transport.SlowWindow = timeout, minBytesPerSecond, window
		o.transportSet, o.transferSet = true, true
	}
}

// Defaults of WithMetadataTimeouts.
const (
	DefaultMetadataHeaderTimeout = 10 * time.Second
	DefaultMetadataFileTimeout   = 30 * time.Second
)

// WithMetadataTimeouts bounds each request for a metadata file to one
// mirror: the mirror must start answering (the response headers) within
// header, and the whole file must arrive within perFile (defaults
// DefaultMetadataHeaderTimeout and DefaultMetadataFileTimeout). A request
// that runs out of either fails with ErrSlowRetrieval and is not repeated
// on that mirror: the next mirror is tried, and for the rest of the refresh
// (and the lookups after it) the mirror that timed out is tried last, so a
// mirror that accepts connections and never answers costs one header
// timeout per Refresh. Both must be positive, and header at most perFile:
// New refuses anything else with ErrInvalidOptions, since a metadata request
// without a bound would let one mirror hold every refresh. They hold for any Fetcher that honours
// its context: header bounds the Fetch call, perFile the Fetch call and
// reading the file. Target downloads are bounded by WithTransferLimits
// instead: a large file may take long, as long as it keeps arriving.
func WithMetadataTimeouts(header, perFile time.Duration) Option {
	return func(o *options) { o.metaHeaderTimeout, o.metaFileTimeout = header, perFile }
}

// WithPlainHTTPUnsafe lets the default transport use http:// mirrors that
// are not on the loopback interface. Without TLS anyone on the path sees what
// the client updates and can delay it, feed it stale or endless data, or
// serve it a different file for every request: the signed metadata still
// stops wrong updates, but availability and privacy are gone. Use it only on
// networks you control.
func WithPlainHTTPUnsafe() Option {
	return func(o *options) { o.transport.AllowInsecureHTTPUnsafe, o.transportSet = true, true }
}

// DefaultClockTolerance is how far the clock may read before the last
// trusted reference time (see WithClockToleranceUnsafe) without a refresh
// failing with ErrClockRollback: enough for NTP steps and virtual machines
// resuming, far below any metadata lifetime.
const DefaultClockTolerance = 10 * time.Minute

// WithClockToleranceUnsafe widens (or narrows) how far the clock may go back
// behind the latest reference time a refresh trusted (default
// DefaultClockTolerance). A wider tolerance lets an attacker who sets the
// clock back replay metadata that expired in between: widen it only for
// devices whose clocks are known to jump, never to work around a clock that
// is wrong (fix the clock instead). d must not be negative.
func WithClockToleranceUnsafe(d time.Duration) Option {
	return func(o *options) { o.clockTolerance = d }
}

// Progress reports a download's progress: bytes written so far and the
// signed length. A resumed transfer continues from where it stopped; a
// transfer restarted from the beginning (a server that ignores Range) starts
// again at zero.
type Progress struct {
	Path        string // the target path
	Mirror      string
	Done, Total int64
}

// WithProgress calls fn as each download progresses, after every chunk
// written (at most 256 KiB; the last call has Done == Total). fn runs on the
// downloading goroutine and must be quick.
func WithProgress(fn func(Progress)) Option { return func(o *options) { o.progress = fn } }

// Option adjusts a client.
type Option func(*options)

// WithFetcher replaces the default HTTP transport. f must not be nil.
func WithFetcher(f Fetcher) Option { return func(o *options) { o.fetcher, o.fetcherSet = f, true } }

// WithClock sets the source of reference times (spec §5.1); the default is
// time.Now. Each Refresh reads it once, at its start. now must not be nil.
func WithClock(now func() time.Time) Option { return func(o *options) { o.clock = now } }

// WithLogger sends the client's structured log to l; by default (or with
// nil) it is discarded.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithLimits sets the size caps of metadata files without a listed length.
// A zero field keeps its default; a negative one, or one above
// LimitCeiling, is refused.
func WithLimits(l Limits) Option { return func(o *options) { o.limits = l } }

// WithMaxRootRotations sets how many new root versions one Refresh accepts
// (default 256). Reaching it while newer roots are still served is an error.
// n must be 1 to MaxRootRotationsCeiling: there is no unlimited setting.
func WithMaxRootRotations(n int) Option { return func(o *options) { o.maxRootRotation = n } }

// WithMaxDelegations sets how many targets roles one lookup, or one release
// resolution, may visit (default 32, spec §5.6.7). n must be 1 to
// MaxDelegationsCeiling: there is no unlimited setting.
func WithMaxDelegations(n int) Option { return func(o *options) { o.maxDelegations = n } }

// The largest values the caps accept. A cap set to "effectively infinite"
// would be a cap switched off under another name; these are far above what
// any repository needs (a release resolution over 16,384 hashed bins visits
// fewer than 20,000 roles; the largest targets metadata seen in practice is
// tens of MiB) and low enough that reaching one stops a hostile repository
// in bounded time and memory.
const (
	MaxDelegationsCeiling         = 1 << 16
	MaxRootRotationsCeiling       = 1 << 16
	LimitCeiling            int64 = 1 << 30 // bytes, for each field of Limits
)

// ErrInvalidOptions: the caller passed a Config field, an option or an
// argument the client can't honour: to New (a required field missing, a
// count below 1, a negative limit or tolerance, a malformed pin, ...), to
// Refresh (no MetadataURLs), to DownloadFile (no TargetURLs), or to
// Resolve, Apply, Recover and RevertUnsafe (a malformed Release selector or
// application name, an ApplyOption out of range). The call changed
// nothing. See *OptionError. No option switches a check or a cap off.
var ErrInvalidOptions = errors.New("invalid option or argument")

// OptionError reports the Config field, option or argument the client
// refused, and why.
type OptionError struct {
	Option string // "WithMaxDelegations", "Config.StateDir", "Release.App", ...
	Reason string
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("client: %v: %s: %s", ErrInvalidOptions, e.Option, e.Reason)
}

func (e *OptionError) Unwrap() error { return ErrInvalidOptions }

func (c Config) validate() error {
	if len(c.TrustedRoot) == 0 {
		return &OptionError{Option: "Config.TrustedRoot", Reason: "required"}
	}
	if c.StateDir == "" {
		return &OptionError{Option: "Config.StateDir", Reason: "required"}
	}
	for _, f := range []struct {
		name string
		urls []string
	}{{"Config.MetadataURLs", c.MetadataURLs}, {"Config.TargetURLs", c.TargetURLs}} {
		for _, u := range f.urls {
			if _, err := baseURL(u); err != nil {
				return &OptionError{Option: f.name, Reason: err.Error()}
			}
		}
	}
	return nil
}

// baseURL checks a mirror URL and returns it with a trailing slash.
func baseURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", fmt.Errorf("mirror %q is not an absolute http(s) URL", s)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("mirror %q must not have a query or fragment", s)
	}
	if !strings.HasSuffix(s, "/") {
		s += "/"
	}
	return s, nil
}

// newOptions applies opts over the defaults and checks the result: every
// value must mean something, and none may lift a cap or a check.
func newOptions(opts []Option) (options, error) {
	o := options{maxRootRotation: 256, maxDelegations: 32, clockTolerance: DefaultClockTolerance,
		metaHeaderTimeout: DefaultMetadataHeaderTimeout, metaFileTimeout: DefaultMetadataFileTimeout,
		clock: time.Now, logger: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	bad := func(option, format string, args ...any) (options, error) {
		return options{}, &OptionError{Option: option, Reason: fmt.Sprintf(format, args...)}
	}
	l := o.limits
	switch {
	case o.maxDelegations < 1 || o.maxDelegations > MaxDelegationsCeiling:
		return bad("WithMaxDelegations", "%d roles per lookup: want 1 to %d", o.maxDelegations, MaxDelegationsCeiling)
	case o.maxRootRotation < 1 || o.maxRootRotation > MaxRootRotationsCeiling:
		return bad("WithMaxRootRotations", "%d rotations per refresh: want 1 to %d", o.maxRootRotation, MaxRootRotationsCeiling)
	case l.Root < 0 || l.Timestamp < 0 || l.Snapshot < 0 || l.Targets < 0:
		return bad("WithLimits", "negative size in %+v (0 means the default)", l)
	case l.largest() > LimitCeiling:
		return bad("WithLimits", "size above %d bytes in %+v", LimitCeiling, l)
	case o.clockTolerance < 0:
		return bad("WithClockToleranceUnsafe", "negative tolerance %s", o.clockTolerance)
	case o.metaHeaderTimeout <= 0 || o.metaFileTimeout <= 0 || o.metaHeaderTimeout > o.metaFileTimeout:
		return bad("WithMetadataTimeouts", "header %s, per file %s: both must be positive, the header timeout at most the per-file one",
			o.metaHeaderTimeout, o.metaFileTimeout)
	case o.clock == nil:
		return bad("WithClock", "nil clock")
	case o.fetcherSet && o.fetcher == nil:
		return bad("WithFetcher", "nil Fetcher")
	case o.fetcher != nil && o.transportSet:
		return bad("WithFetcher", "WithRootCAs, WithSPKIPins, WithTransferLimits and WithPlainHTTPUnsafe configure the default transport; with WithFetcher, configure your own")
	case o.pinsSet && len(o.transport.SPKIPins) == 0:
		return bad("WithSPKIPins", "no pins given")
	}
	if t := o.transport; o.transferSet && (t.TransferTimeout <= 0 || t.MinBytesPerSecond <= 0 || t.SlowWindow <= 0) {
		return bad("WithTransferLimits", "timeout %s, %d bytes/s over %s: each must be positive", t.TransferTimeout, t.MinBytesPerSecond, t.SlowWindow)
	}
	o.limits = o.limits.withDefaults()
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if o.fetcher == nil {
		h := fetch.New(o.transport)
		if err := h.Err(); err != nil {
			return bad("WithSPKIPins", "%v", err)
		}
		o.fetcher = h
	}
	return o, nil
}
