package client_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
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
	"github.com/latchsec/latch/rollback"
)

// clock is a settable clock for WithClock; it starts at the repository's
// fixed time.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// env is a client under test against one simulated repository, with its
// state directory and a download directory.
type env struct {
	t     *testing.T
	repo  *simulator.Repo
	clock *clock
	cfg   client.Config
	opts  []client.Option
	dl    string // download directory
	c     *client.Client
}

// newEnv returns an env whose client (not opened yet) uses the repository's
// default server, its root v1 as the trusted root, repo.Now() as its clock
// and a fetcher that retries transient faults without waiting.
func newEnv(t *testing.T, repo *simulator.Repo, opts ...client.Option) *env {
	t.Helper()
	metaURL, targetsURL := repo.Serve()
	e := &env{
		t:     t,
		repo:  repo,
		clock: &clock{now: repo.Now()},
		cfg: client.Config{
			TrustedRoot:  repo.TrustedRoot(),
			MetadataURLs: []string{metaURL},
			TargetURLs:   []string{targetsURL},
			StateDir:     t.TempDir(),
		},
		dl: t.TempDir(),
	}
	e.opts = append([]client.Option{client.WithClock(e.clock.Now), client.WithFetcher(fastFetcher())}, opts...)
	t.Cleanup(func() {
		if e.c != nil {
			e.c.Close()
		}
		noTemps(t, e.cfg.StateDir, e.dl)
	})
	return e
}

// fastFetcher is the default HTTP fetcher without the pauses between
// retries.
func fastFetcher() client.Fetcher {
	return fetch.New(fetch.Options{Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }})
}

// refreshed returns an env for repo that has refreshed once and forgotten
// the requests made so far.
func refreshed(t *testing.T, repo *simulator.Repo, opts ...client.Option) *env {
	t.Helper()
	e := newEnv(t, repo, opts...)
	e.open()
	e.refresh()
	repo.ResetRequests()
	return e
}

// open opens the client (closing the previous one) and returns it.
func (e *env) open() *client.Client {
	e.t.Helper()
	if e.c != nil {
		if err := e.c.Close(); err != nil {
			e.t.Fatalf("Close: %v", err)
		}
		e.c = nil
	}
	c, err := client.New(e.cfg, e.opts...)
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	e.c = c
	return c
}

// refresh refreshes and fails the test on an error.
func (e *env) refresh() {
	e.t.Helper()
	if err := e.c.Refresh(context.Background()); err != nil {
		e.t.Fatalf("Refresh: %v", err)
	}
}

// refreshErr refreshes and returns the error, which must not be nil.
func (e *env) refreshErr() error {
	e.t.Helper()
	err := e.c.Refresh(context.Background())
	if err == nil {
		e.t.Fatal("Refresh succeeded, want an error")
	}
	return err
}

// target looks path up and fails the test on an error.
func (e *env) target(path string) *client.Target {
	e.t.Helper()
	tg, err := e.c.Target(context.Background(), path)
	if err != nil {
		e.t.Fatalf("Target(%q): %v", path, err)
	}
	return tg
}

// wantRole looks path up and checks the role that lists it.
func (e *env) wantRole(path, role string) {
	e.t.Helper()
	if got := e.target(path).Role(); got != role {
		e.t.Errorf("%s from %s, want %s", path, got, role)
	}
}

// wantRequests checks the metadata and target names repo served since its
// requests were last reset.
func wantRequests(t *testing.T, repo *simulator.Repo, want ...string) {
	t.Helper()
	if got := repo.Requests(); !slices.Equal(got, want) {
		t.Errorf("requests %q, want %q", got, want)
	}
}

// targetErr looks path up and returns the error, which must not be nil.
func (e *env) targetErr(path string) error {
	e.t.Helper()
	tg, err := e.c.Target(context.Background(), path)
	if err == nil {
		e.t.Fatalf("Target(%q) = %s from %s, want an error", path, tg.Path(), tg.Role())
	}
	return err
}

// versions returns the version of each top-level role in v.
func versions(v *client.View) map[string]int64 {
	out := map[string]int64{}
	for _, r := range v.Roles() {
		out[r.Role] = r.Version
	}
	return out
}

// wantVersions checks the versions the client trusts in memory and, after
// reopening it on the same state directory, what it loads from disk.
// Roles with version 0 must be absent.
func (e *env) wantVersions(want map[string]int64) {
	e.t.Helper()
	check := func(where string, got map[string]int64) {
		e.t.Helper()
		for role, v := range want {
			if got[role] != v {
				e.t.Errorf("%s: %s v%d, want v%d (all: %v)", where, role, got[role], v, got)
			}
		}
	}
	check("in memory", versions(e.c.View()))
	e.open()
	check("after reopening", versions(e.c.View()))
}

// top returns the versions of the four top-level roles.
func top(root, timestamp, snapshot, targets int64) map[string]int64 {
	return map[string]int64{"root": root, "timestamp": timestamp, "snapshot": snapshot, "targets": targets}
}

// cacheFile returns the cached metadata of a top-level role (nil if absent).
func (e *env) cacheFile(role string) []byte {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.cfg.StateDir, role+".json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// disk returns the SHA-256 of every file in the state directory by path
// relative to it, leaving out what records rather than trusts: the lock, the
// audit log (refusals are recorded there) and the audit anchor in the
// trusted state.
func (e *env) disk() map[string]string {
	e.t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(e.cfg.StateDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && d.Name() == "audit" {
			return filepath.SkipDir
		}
		if err != nil || d.IsDir() || d.Name() == "lock" {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if d.Name() == "trusted-state" {
			var st map[string]any
			if err := json.Unmarshal(b, &st); err != nil {
				return err
			}
			delete(st, "audit_anchor")
			if b, err = json.Marshal(st); err != nil {
				return err
			}
		}
		rel, _ := filepath.Rel(e.cfg.StateDir, p)
		sum := sha256.Sum256(b)
		out[rel] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// sameDisk checks that the files named (all files if none) are as in before.
func (e *env) sameDisk(before map[string]string, names ...string) {
	e.t.Helper()
	after := e.disk()
	if len(names) == 0 {
		for n := range before {
			names = append(names, n)
		}
		for n := range after {
			if _, ok := before[n]; !ok {
				e.t.Errorf("state directory: %s appeared", n)
			}
		}
	}
	for _, n := range names {
		if before[n] != after[n] {
			e.t.Errorf("state directory: %s changed (sha256 %.12s -> %.12s)", n, before[n], after[n])
		}
	}
}

// state reads the trusted state; it closes the client to take the lock,
// and leaves it closed.
func (e *env) state() *rollback.State {
	e.t.Helper()
	if e.c != nil {
		e.c.Close()
		e.c = nil
	}
	st, err := rollback.OpenFileStore(filepath.Join(e.cfg.StateDir, "state"))
	if err != nil {
		e.t.Fatal(err)
	}
	defer st.Close()
	s, err := st.Load()
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// noTemps fails the test if a file whose name begins with "." is left in
// one of dirs or below.
func noTemps(t *testing.T, dirs ...string) {
	t.Helper()
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p != dir && strings.HasPrefix(d.Name(), ".") {
				t.Errorf("temporary file left: %s", p)
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	}
}

// badSig returns b with the first hex digit of its first signature changed:
// still well-formed metadata, no longer validly signed.
func badSig(b []byte) []byte {
	out := bytes.Clone(b)
	i := bytes.Index(out, []byte(`"sig"`))
	if i < 0 {
		panic("badSig: no signature")
	}
	j := i + len(`"sig"`) + bytes.IndexByte(out[i+len(`"sig"`):], '"') + 1
	if out[j] == '0' {
		out[j] = '1'
	} else {
		out[j] = '0'
	}
	return out
}

// dupSig lists the document's first signature twice, as
// tuf-conformance's test_duplicate_sig_keyids does.
func dupSig(b []byte) []byte {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(b, &doc); err != nil {
		panic(err)
	}
	var sigs []json.RawMessage
	if err := json.Unmarshal(doc["signatures"], &sigs); err != nil || len(sigs) == 0 {
		panic("dupSig: no signature")
	}
	doc["signatures"], _ = json.Marshal(append(sigs, sigs[0]))
	out, err := json.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return out
}

// truncate drops the last byte.
func truncate(b []byte) []byte { return bytes.Clone(b[:len(b)-1]) }

// hexOf returns b in hex.
func hexOf(b []byte) string { return hex.EncodeToString(b) }

// hexSHA256 returns the hex SHA-256 of b.
func hexSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// wantAs fails the test unless errors.As finds a *T in err, and returns it.
func wantAs[T error](t *testing.T, err error) T {
	t.Helper()
	var target T
	if !errors.As(err, &target) {
		t.Fatalf("error %q (%T) has no %T in its chain", err, err, target)
	}
	return target
}

// wantIsNot fails the test if errors.Is(err, target) for any target.
func wantIsNot(t *testing.T, err error, targets ...error) {
	t.Helper()
	for _, target := range targets {
		if errors.Is(err, target) {
			t.Errorf("error %q: want not errors.Is %q", err, target)
		}
	}
}

// wantIs fails the test unless errors.Is(err, target).
func wantIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %q: want errors.Is %q", err, target)
	}
}
