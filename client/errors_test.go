package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/internal/fetch"
	"github.com/latchsec/latch/internal/simulator"
	"github.com/latchsec/latch/verify"
)

// publicFetcher is a caller's Fetcher in miniature: it carries the default
// transport's bytes, but reports what went wrong only with the sentinels
// package client exports, wrapped in errors of its own, as a Fetcher for S3
// or OCI would. Whatever the client does with the default transport's
// errors, it must do the same with these.
type publicFetcher struct{ inner client.Fetcher }

// publicErr is err as a caller's Fetcher would say it.
func publicErr(err error) error {
	for _, s := range []error{client.ErrNotFound, client.ErrTooLarge, client.ErrRangeIgnored,
		client.ErrSlowRetrieval, client.ErrPinMismatch, client.ErrInsecureURL} {
		if errors.Is(err, s) {
			return fmt.Errorf("custom transport: %w", s)
		}
	}
	return err
}

func (f publicFetcher) Fetch(ctx context.Context, url string, offset, max int64) (io.ReadCloser, error) {
	rc, err := f.inner.Fetch(ctx, url, offset, max)
	if err != nil {
		return nil, publicErr(err)
	}
	return publicReader{rc}, nil
}

type publicReader struct{ io.ReadCloser }

func (r publicReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = publicErr(err)
	}
	return n, err
}

// offsetLog records the offset of every request for a target.
type offsetLog struct {
	inner   client.Fetcher
	mu      sync.Mutex
	offsets []int64
}

func (f *offsetLog) Fetch(ctx context.Context, url string, offset, max int64) (io.ReadCloser, error) {
	if strings.Contains(url, "/targets/") {
		f.mu.Lock()
		f.offsets = append(f.offsets, offset)
		f.mu.Unlock()
	}
	return f.inner.Fetch(ctx, url, offset, max)
}

// TestCustomFetcherConditions: a caller's Fetcher can signal every condition
// the default transport does, with the sentinels package client exports, and
// the client reacts the same way to both: "not found" answers the root probe
// and fails the timestamp, an ignored Range restarts the download from byte
// 0, bytes beyond the signed length end it without a resume, a slow mirror
// goes to the back of the queue, and a pin mismatch trusts nothing.
func TestCustomFetcherConditions(t *testing.T) {
	t.Parallel()
	// Each scenario runs with the Fetcher that wrap makes of an HTTP
	// fetcher, and returns what the client did.
	scenarios := []struct {
		name string
		want string
		run  func(t *testing.T, wrap func(client.Fetcher) client.Fetcher) string
	}{
		{"no newer root", "refresh <nil>; failures 0", func(t *testing.T, wrap func(client.Fetcher) client.Fetcher) string {
			e := newEnv(t, simulator.New(t, simulator.Options{}), client.WithFetcher(wrap(fastFetcher())))
			e.open()
			err := e.c.Refresh(t.Context())
			return fmt.Sprintf("refresh %v; failures %d", err, e.c.Status().Mirrors[0].ConsecutiveFailures)
		}},
		{"timestamp not found", "ErrNotFound true, role timestamp; failures 1", func(t *testing.T, wrap func(client.Fetcher) client.Fetcher) string {
			repo := simulator.New(t, simulator.Options{})
			repo.SetFault("timestamp.json", simulator.Fault{Status: 404})
			e := newEnv(t, repo, client.WithFetcher(wrap(fastFetcher())))
			e.open()
			err := e.refreshErr()
			re := wantAs[*client.RefreshError](t, err)
			return fmt.Sprintf("ErrNotFound %v, role %s; failures %d", errors.Is(err, client.ErrNotFound), re.Role, e.c.Status().Mirrors[0].ConsecutiveFailures)
		}},
		{"range ignored", "download <nil>; offsets [0 4096 0]", func(t *testing.T, wrap func(client.Fetcher) client.Fetcher) string {
			repo := bigRepo(t)
			log := &offsetLog{inner: wrap(fastFetcher())}
			e := refreshed(t, repo, client.WithFetcher(log))
			repo.SetFault(repo.TargetName("big.bin"), simulator.Fault{CutAfter: 4096, IgnoreRange: true, Times: 2})
			err := e.c.DownloadFile(t.Context(), e.target("big.bin"), filepath.Join(e.dl, "big.bin"))
			return fmt.Sprintf("download %v; offsets %v", err, log.offsets)
		}},
		{"too large", "ErrTooLarge true; offsets [0]", func(t *testing.T, wrap func(client.Fetcher) client.Fetcher) string {
			repo := bigRepo(t)
			log := &offsetLog{inner: wrap(fastFetcher())}
			e := refreshed(t, repo, client.WithFetcher(log))
			repo.SetFault(repo.TargetName("big.bin"), simulator.Fault{Endless: true})
			err := e.c.DownloadFile(t.Context(), e.target("big.bin"), filepath.Join(e.dl, "big.bin"))
			return fmt.Sprintf("ErrTooLarge %v; offsets %v", errors.Is(err, client.ErrTooLarge), log.offsets)
		}},
		{"slow mirror", "refresh <nil>; slow mirror asked for [timestamp.json]; failures 1", func(t *testing.T, wrap func(client.Fetcher) client.Fetcher) string {
			repo := simulator.New(t, simulator.Options{})
			slow := repo.NewServer()
			slow.SetFault("timestamp.json", simulator.Fault{SlowDrip: 50 * time.Millisecond})
			slowMeta, _ := slow.URLs()
			dripping := fetch.New(fetch.Options{MinBytesPerSecond: 1000, SlowWindow: 300 * time.Millisecond})
			e := newEnv(t, repo, client.WithFetcher(wrap(dripping)))
			e.cfg.MetadataURLs = append([]string{slowMeta}, e.cfg.MetadataURLs...)
			e.open()
			err := e.c.Refresh(t.Context())
			// The slow mirror failed the timestamp and was asked for
			// nothing else: the next root came first, the snapshot and
			// targets from the other mirror.
			asked := slices.DeleteFunc(slow.Requests(), func(r string) bool { return strings.HasSuffix(r, "root.json") })
			return fmt.Sprintf("refresh %v; slow mirror asked for %v; failures %d", err, asked, e.c.Status().Mirrors[0].ConsecutiveFailures)
		}},
	}
	fetchers := map[string]func(client.Fetcher) client.Fetcher{
		"default": func(f client.Fetcher) client.Fetcher { return f },
		"custom":  func(f client.Fetcher) client.Fetcher { return publicFetcher{f} },
	}
	for _, sc := range scenarios {
		for name, wrap := range fetchers {
			t.Run(sc.name+"/"+name, func(t *testing.T) {
				t.Parallel()
				if got := sc.run(t, wrap); got != sc.want {
					t.Errorf("got %q, want %q", got, sc.want)
				}
			})
		}
	}

	// A pin mismatch on real TLS with the default transport, and from a
	// caller's transport that reports it with the exported type.
	repo := simulator.New(t, simulator.Options{})
	meta, _, pool, pin := tlsFront(t, repo)
	const otherPin = "0000000000000000000000000000000000000000000000000000000000000000"
	for name, opts := range map[string][]client.Option{
		"default": {client.WithRootCAs(pool), client.WithSPKIPins(otherPin)},
		"custom":  {client.WithFetcher(pinFetcher{&client.PinError{Host: "127.0.0.1", Seen: []string{pin}, Pins: []string{otherPin}}})},
	} {
		t.Run("pin mismatch/"+name, func(t *testing.T) {
			t.Parallel()
			c, err := client.New(client.Config{TrustedRoot: repo.TrustedRoot(), MetadataURLs: []string{meta}, StateDir: t.TempDir()},
				append(opts, client.WithClock(repo.Now))...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			err = c.Refresh(t.Context())
			wantIs(t, err, client.ErrPinMismatch)
			if pe := wantAs[*client.PinError](t, err); pe.Host != "127.0.0.1" || len(pe.Seen) == 0 || pe.Seen[0] != pin {
				t.Errorf("PinError %+v", pe)
			}
			if roles := c.View().Roles(); len(roles) != 1 {
				t.Errorf("trusted roles after a pin mismatch: %+v, want the root only", roles)
			}
		})
	}
}

// pinFetcher is a caller's TLS transport whose every connection presents a
// key that is not pinned.
type pinFetcher struct{ err *client.PinError }

func (f pinFetcher) Fetch(context.Context, string, int64, int64) (io.ReadCloser, error) {
	return nil, f.err
}

// TestRefreshError: a failed refresh is one *RefreshError naming the role,
// whatever the cause, and Status reports it with the type of its cause, not
// of a wrapper.
func TestRefreshError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		fault    func(e *env)
		role     string
		sentinel error
		typ      string
	}{
		{"expired timestamp", func(e *env) {
			e.repo.Timestamp().Signed.Expires = e.repo.Now().Add(-time.Hour)
			e.repo.Publish()
		}, "timestamp", client.ErrExpired, "*client.ExpiredError"},
		{"snapshot not served", func(e *env) {
			e.repo.SetFault("snapshot.json", simulator.Fault{Status: 404})
		}, "snapshot", client.ErrNotFound, "*mirror.StatusError"},
		{"targets malformed", func(e *env) {
			e.repo.SetFault("targets.json", simulator.Fault{Mutate: truncate})
		}, "targets", client.ErrMalformed, "*metadata.Error"},
		{"clock set back", func(e *env) {
			e.open()
			e.refresh()
			e.clock.Set(e.repo.Now().Add(-time.Hour))
		}, "", client.ErrClockRollback, "*client.ClockError"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, simulator.New(t, simulator.Options{}))
			tc.fault(e)
			if e.c == nil {
				e.open()
			}
			err := e.refreshErr()
			re := wantAs[*client.RefreshError](t, err)
			if re.Role != tc.role {
				t.Errorf("RefreshError.Role %q, want %q", re.Role, tc.role)
			}
			wantIs(t, err, tc.sentinel)
			st := e.c.Status()
			if st.LastError != err || st.LastErrorType != tc.typ {
				t.Errorf("Status: %v (%s), want the refresh's error (%s)", st.LastError, st.LastErrorType, tc.typ)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("message on more than one line: %q", err)
			}
		})
	}
}

// TestActionableMessages: where a refusal is mostly a misconfiguration,
// the message says what to check, and the error still matches its sentinel
// and type.
func TestActionableMessages(t *testing.T) {
	t.Parallel()
	wantWords := func(t *testing.T, err error, words ...string) {
		t.Helper()
		for _, w := range words {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("message %q does not say %q", err, w)
			}
		}
	}

	t.Run("repository set up again", func(t *testing.T) {
		t.Parallel()
		// The client trusts the root of a repository; at its URL, a
		// repository made again from scratch, with new keys.
		old := simulator.New(t, simulator.Options{})
		again := simulator.New(t, simulator.Options{Seed: "init again"})
		e := newEnv(t, again)
		e.cfg.TrustedRoot = old.TrustedRoot()
		e.open()
		err := e.refreshErr()
		wantIs(t, err, client.ErrThreshold)
		if te := wantAs[*verify.ThresholdError](t, err); te.Valid != 0 || te.Role != "timestamp" {
			t.Errorf("ThresholdError %+v", te)
		}
		if re := wantAs[*client.RefreshError](t, err); re.Role != "timestamp" {
			t.Errorf("RefreshError %+v", re)
		}
		wantWords(t, err, "trusted root", "Config.TrustedRoot", "Config.MetadataURLs", "new keys")
	})

	t.Run("no repository at the URL", func(t *testing.T) {
		t.Parallel()
		repo := simulator.New(t, simulator.Options{})
		e := newEnv(t, repo)
		e.cfg.MetadataURLs[0] += "wrong/"
		e.open()
		err := e.refreshErr()
		wantIs(t, err, client.ErrNotFound)
		if se := wantAs[*client.StatusError](t, err); se.Code != 404 {
			t.Errorf("StatusError %+v", se)
		}
		wantWords(t, err, "TUF repository", "Config.MetadataURLs", "timestamp.json")
	})

	t.Run("truncated download", func(t *testing.T) {
		t.Parallel()
		repo := simulator.New(t, simulator.Options{})
		repo.AddTarget("app.bin", appV1, nil)
		repo.Publish()
		e := refreshed(t, repo)
		repo.SetFault(repo.TargetName("app.bin"), simulator.Fault{Mutate: truncate})
		err := e.c.DownloadFile(t.Context(), e.target("app.bin"), filepath.Join(e.dl, "app.bin"))
		wantIs(t, err, client.ErrLengthMismatch)
		if le := wantAs[*verify.LengthError](t, err); le.Got != le.Want-1 {
			t.Errorf("LengthError %+v", le)
		}
		if se := wantAs[*client.StatusError](t, err); se.Code != 416 {
			t.Errorf("StatusError %+v, want the refused resume (416)", se)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("message on more than one line: %q", err)
		}
		wantWords(t, err, "length mismatch", "resuming from byte")
	})
}

// TestLocalFaultsNotBlamedOnMirrors: a destination directory that does not
// exist, or the caller's cancelled context, is no mirror's fault: the error
// names no mirror, holds no *MirrorError, no other mirror is tried, and
// Status counts no mirror failure.
func TestLocalFaultsNotBlamedOnMirrors(t *testing.T) {
	t.Parallel()
	setup := func(t *testing.T) (*env, *client.Target) {
		repo := simulator.New(t, simulator.Options{})
		repo.AddTarget("app.bin", appV1, nil)
		repo.Publish()
		e := refreshed(t, repo)
		return e, e.target("app.bin")
	}
	notBlamed := func(t *testing.T, e *env, err error) {
		t.Helper()
		var me *client.MirrorError
		if errors.As(err, &me) {
			t.Errorf("error %q holds a *MirrorError", err)
		}
		for _, u := range append(e.cfg.MetadataURLs, e.cfg.TargetURLs...) {
			if strings.Contains(err.Error(), u) {
				t.Errorf("error %q names mirror %s", err, u)
			}
		}
		for _, h := range e.c.Status().Mirrors {
			if h.ConsecutiveFailures != 0 || !h.LastFailure.IsZero() {
				t.Errorf("mirror health %+v, want no failure", h)
			}
		}
	}

	t.Run("missing destination directory", func(t *testing.T) {
		t.Parallel()
		e, tg := setup(t)
		err := e.c.DownloadFile(t.Context(), tg, filepath.Join(e.dl, "absent", "app.bin"))
		wantIs(t, err, fs.ErrNotExist)
		wantAs[*client.TargetError](t, err)
		notBlamed(t, e, err)
		if got := e.repo.Requests(); len(got) != 0 {
			t.Errorf("requests %v, want none", got)
		}
	})

	t.Run("cancelled download", func(t *testing.T) {
		t.Parallel()
		e, tg := setup(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		dest := filepath.Join(e.dl, "app.bin")
		err := e.c.DownloadFile(ctx, tg, dest)
		wantIs(t, err, context.Canceled)
		wantAs[*client.TargetError](t, err)
		notBlamed(t, e, err)
		if _, err := os.Stat(dest); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("destination after a cancelled download: %v", err)
		}
	})

	t.Run("cancelled refresh", func(t *testing.T) {
		t.Parallel()
		e, _ := setup(t)
		e.repo.Publish()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := e.c.Refresh(ctx)
		wantIs(t, err, context.Canceled)
		if re := wantAs[*client.RefreshError](t, err); re.Role != "root" {
			t.Errorf("RefreshError %+v, want role root", re)
		}
		notBlamed(t, e, err)
	})
}

// TestMirrorHealthCounts404: a mirror that does not have a file the client
// needs failed, and Status counts it; its answer that there is no newer
// root is no failure.
func TestMirrorHealthCounts404(t *testing.T) {
	t.Parallel()
	repo := simulator.New(t, simulator.Options{})
	repo.AddTarget("app.bin", appV1, nil)
	repo.Publish()
	e := refreshed(t, repo)
	if h := e.c.Status().Mirrors[0]; h.ConsecutiveFailures != 0 || !h.LastFailure.IsZero() {
		t.Errorf("after a refresh that found no newer root: %+v, want no failure", h)
	}
	repo.Publish()
	repo.SetFault("timestamp.json", simulator.Fault{Status: 404})
	e.refreshErr()
	e.refreshErr()
	if h := e.c.Status().Mirrors[0]; h.ConsecutiveFailures != 2 || !strings.Contains(h.LastError, "404") {
		t.Errorf("after two refreshes the mirror answered 404 for timestamp.json: %+v, want 2 failures", h)
	}
	repo.ClearFaults()
	repo.SetFault(repo.TargetName("app.bin"), simulator.Fault{Status: 404})
	e.refresh()
	err := e.c.DownloadFile(t.Context(), e.target("app.bin"), filepath.Join(e.dl, "app.bin"))
	wantIs(t, err, client.ErrNotFound)
	if h := e.c.Status().Mirrors[1]; h.ConsecutiveFailures != 1 {
		t.Errorf("target mirror after a 404: %+v, want 1 failure", h)
	}
}

// TestNoMirrorsIsOptionError: Refresh without MetadataURLs and DownloadFile
// without TargetURLs fail with the sentinel of a configuration the client
// can't honour, naming the Config field.
func TestNoMirrorsIsOptionError(t *testing.T) {
	t.Parallel()
	repo := simulator.New(t, simulator.Options{})
	repo.AddTarget("app.bin", appV1, nil)
	repo.Publish()
	e := refreshed(t, repo)
	tg := e.target("app.bin")
	e.cfg.MetadataURLs, e.cfg.TargetURLs = nil, nil
	e.open()
	err := e.c.Refresh(t.Context())
	wantIs(t, err, client.ErrInvalidOptions)
	if oe := wantAs[*client.OptionError](t, err); oe.Option != "Config.MetadataURLs" {
		t.Errorf("OptionError %+v", oe)
	}
	err = e.c.DownloadFile(t.Context(), tg, filepath.Join(e.dl, "app.bin"))
	wantIs(t, err, client.ErrInvalidOptions)
	if oe := wantAs[*client.OptionError](t, err); oe.Option != "Config.TargetURLs" {
		t.Errorf("OptionError %+v", oe)
	}
}

// TestJournalErrorExported: an unusable self-update journal is reported
// with the exported sentinel, and Recover changes nothing.
func TestJournalErrorExported(t *testing.T) {
	t.Parallel()
	repo := simulator.New(t, simulator.Options{})
	e := newAppEnv(t, repo)
	journal := filepath.Join(e.cfg.StateDir, "selfupdate", "app")
	if err := os.MkdirAll(filepath.Dir(journal), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(journal, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	wantIs(t, e.c.Recover("app", e.exe), client.ErrJournal)
	if b, err := os.ReadFile(e.exe); err != nil || string(b) != string(buildV1) {
		t.Errorf("executable after a refused recovery: %v", err)
	}
}
