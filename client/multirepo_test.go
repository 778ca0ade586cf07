package client_test

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/internal/simulator"
	"github.com/latchsec/latch/rollback"
)

// multiEnv is a multi-repository client under test over simulated
// repositories, each with its own keys (its name is its key seed).
type multiEnv struct {
	t     *testing.T
	names []string
	repos map[string]*simulator.Repo
	clock *clock
	cfg   client.MultiConfig
	opts  []client.Option
	dl    string
	m     *client.Multi
}

// newRepos returns one simulated repository per name, each keyed by its
// name, with opts.
func newRepos(t *testing.T, opts simulator.Options, names ...string) map[string]*simulator.Repo {
	t.Helper()
	out := make(map[string]*simulator.Repo, len(names))
	for _, n := range names {
		o := opts
		o.Seed = n
		out[n] = simulator.New(t, o)
	}
	return out
}

// releasedRepos returns newRepos(names) in which every repository lists
// app.bin ("v1").
func releasedRepos(t *testing.T, names ...string) map[string]*simulator.Repo {
	t.Helper()
	repos := newRepos(t, simulator.Options{}, names...)
	publish(repos, "app.bin", []byte("v1"), nil, names...)
	return repos
}

// repoBase is the TAP 4 URL of a simulated repository: the base of its
// metadata/ and targets/ directories.
func repoBase(repo *simulator.Repo) string {
	meta, _ := repo.Serve()
	return strings.TrimSuffix(meta, "metadata/")
}

// mapping builds a mapping entry.
func mapping(paths []string, threshold int, terminating bool, repos ...string) client.Mapping {
	return client.Mapping{Paths: paths, Repositories: repos, Threshold: threshold, Terminating: terminating}
}

// newMultiEnv returns an env (not opened yet) over repos, listed in the map
// in the order of names, with mappings.
func newMultiEnv(t *testing.T, repos map[string]*simulator.Repo, names []string, mappings ...client.Mapping) *multiEnv {
	t.Helper()
	e := &multiEnv{t: t, names: names, repos: repos, clock: &clock{now: repos[names[0]].Now()}, dl: t.TempDir()}
	mp := &client.Map{Mapping: mappings}
	roots := map[string][]byte{}
	for _, n := range names {
		mp.Repositories = append(mp.Repositories, client.MapRepository{Name: n, URLs: []string{repoBase(repos[n])}})
		roots[n] = repos[n].TrustedRoot()
	}
	e.cfg = client.MultiConfig{Map: mp, TrustedRoots: roots, StateDir: t.TempDir()}
	e.opts = []client.Option{client.WithClock(e.clock.Now), client.WithFetcher(fastFetcher())}
	t.Cleanup(func() {
		if e.m != nil {
			e.m.Close()
		}
		noTemps(t, e.cfg.StateDir, e.dl)
	})
	return e
}

// open opens the multi-repository client, closing the previous one.
func (e *multiEnv) open() *client.Multi {
	e.t.Helper()
	if e.m != nil {
		if err := e.m.Close(); err != nil {
			e.t.Fatalf("Close: %v", err)
		}
		e.m = nil
	}
	m, err := client.NewMulti(e.cfg, e.opts...)
	if err != nil {
		e.t.Fatalf("NewMulti: %v", err)
	}
	e.m = m
	return m
}

func (e *multiEnv) refresh() {
	e.t.Helper()
	if err := e.m.Refresh(context.Background()); err != nil {
		e.t.Fatalf("Refresh: %v", err)
	}
}

// agreed looks path up, fails the test on an error, and checks which
// repositories agreed (in order).
func (e *multiEnv) agreed(path string, want ...string) *client.AgreedTarget {
	e.t.Helper()
	a, err := e.m.Target(context.Background(), path)
	if err != nil {
		e.t.Fatalf("Target(%q): %v", path, err)
	}
	if got := a.Repositories(); !slices.Equal(got, want) {
		e.t.Fatalf("Target(%q): agreed by %v, want %v", path, got, want)
	}
	return a
}

// noConsensus looks path up and returns the *ConsensusError, checking that
// it wraps sentinel.
func (e *multiEnv) noConsensus(path string, sentinel error) *client.ConsensusError {
	e.t.Helper()
	a, err := e.m.Target(context.Background(), path)
	if err == nil {
		e.t.Fatalf("Target(%q) agreed by %v, want %v", path, a.Repositories(), sentinel)
	}
	wantIs(e.t, err, sentinel)
	te := wantAs[*client.TargetError](e.t, err)
	if te.Path != path {
		e.t.Errorf("TargetError.Path = %q, want %q", te.Path, path)
	}
	return wantAs[*client.ConsensusError](e.t, err)
}

// outcomes returns each repository's outcome in mapping i of ce, as
// "name:outcome".
func outcomes(ce *client.ConsensusError, i int) []string {
	var out []string
	for _, r := range ce.Mappings[i].Repositories {
		out = append(out, r.Repository+":"+r.Outcome.String())
	}
	return out
}

func wantOutcomes(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("outcomes %v, want %v", got, want)
	}
}

// download downloads a through the multi-repository client and checks the
// bytes.
func (e *multiEnv) download(a *client.AgreedTarget, want []byte) {
	e.t.Helper()
	dest := filepath.Join(e.dl, "out")
	if err := e.m.DownloadFile(context.Background(), a, dest); err != nil {
		e.t.Fatalf("DownloadFile: %v", err)
	}
	got, err := os.ReadFile(dest)
	if err != nil {
		e.t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		e.t.Fatalf("downloaded %q, want %q", got, want)
	}
	os.Remove(dest)
}

// publish adds a target with data to each named repository and publishes.
func publish(repos map[string]*simulator.Repo, path string, data []byte, custom map[string]any, names ...string) {
	for _, n := range names {
		repos[n].AddTarget(path, data, custom)
		repos[n].Publish()
	}
}

var all = []string{"*", "*/*", "*/*/*"}

// thresholdEnv returns a refreshed client over repos, listed in the order
// of names, whose one mapping (terminating, every path) needs threshold of
// them to agree.
func thresholdEnv(t *testing.T, repos map[string]*simulator.Repo, threshold int, names ...string) *multiEnv {
	t.Helper()
	e := newMultiEnv(t, repos, names, mapping(all, threshold, true, names...))
	e.open()
	e.refresh()
	return e
}

// gate returns two repositories, vendor and org, that both list app.bin
// ("v1"), and a refreshed client that needs both to agree on every target.
func gate(t *testing.T) (map[string]*simulator.Repo, *multiEnv) {
	t.Helper()
	repos := releasedRepos(t, "vendor", "org")
	e := thresholdEnv(t, repos, 2, "vendor", "org")
	return repos, e
}

// TAP 4 "threshold": 1 of 1 is a single repository through the map.
func TestMultiOneOfOne(t *testing.T) {
	t.Parallel()
	repos := releasedRepos(t, "vendor")
	e := thresholdEnv(t, repos, 1, "vendor")
	a := e.agreed("app.bin", "vendor")
	if a.Repository() != "vendor" || a.Length() != 2 || a.Mapping().Index != 0 {
		t.Errorf("agreed %s by %s, %d bytes, mapping %d", a.Path(), a.Repository(), a.Length(), a.Mapping().Index)
	}
	e.download(a, []byte("v1"))
	ce := e.noConsensus("other.bin", client.ErrNoConsensus)
	wantOutcomes(t, outcomes(ce, 0), "vendor:not listed")
	wantIs(t, ce, client.ErrUnknownTarget)
}

// TAP 4 "threshold": 2 of 2 needs both; a target in one repository only is
// not trusted, and the error names both outcomes.
func TestMultiTwoOfTwo(t *testing.T) {
	t.Parallel()
	repos := releasedRepos(t, "vendor", "org")
	publish(repos, "new.bin", []byte("v2"), nil, "vendor")
	e := thresholdEnv(t, repos, 2, "vendor", "org")
	a := e.agreed("app.bin", "vendor", "org")
	e.download(a, []byte("v1"))

	ce := e.noConsensus("new.bin", client.ErrNoConsensus)
	wantOutcomes(t, outcomes(ce, 0), "vendor:listed", "org:not listed")
	// One repository listing it is not "no such target".
	wantIsNot(t, ce, client.ErrUnknownTarget, client.ErrConflictingTargets)
	if v := ce.Mappings[0].Repositories[0].Target; v == nil || v.Length() != 2 {
		t.Errorf("vendor's listing not reported: %+v", ce.Mappings[0].Repositories[0])
	}
	if !strings.Contains(ce.Error(), "vendor: listed (2 bytes, sha256 ") || !strings.Contains(ce.Error(), "org: not listed") {
		t.Errorf("error does not name both outcomes: %v", ce)
	}
	if _, err := os.Stat(filepath.Join(e.dl, "out")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("download directory: %v", err)
	}
}

// TAP 4 "threshold": 2 of 3 survives one repository that is down, and
// reports it; with two down there is no consensus, and both are named.
func TestMultiTwoOfThreeOneDown(t *testing.T) {
	t.Parallel()
	names := []string{"a", "b", "c"}
	repos := releasedRepos(t, names...)
	e := newMultiEnv(t, repos, names, mapping(all, 2, true, names...))
	repos["c"].Server().Close()
	e.open()
	err := e.m.Refresh(context.Background())
	me := wantAs[*client.MultiError](t, err)
	if !slices.Equal(me.Repositories, names) || me.Errs[0] != nil || me.Errs[1] != nil || me.Errs[2] == nil {
		t.Fatalf("refresh outcomes %v: %v", me.Repositories, me.Errs)
	}
	a := e.agreed("app.bin", "a", "b")
	if got := a.Mapping().Repositories[2]; got.Outcome != client.OutcomeFailed || !strings.Contains(got.Err.Error(), "last refresh") {
		t.Errorf("c: %v", got)
	}
	e.download(a, []byte("v1"))
	if st := e.m.Status(); len(st.Repositories) != 3 || st.Repositories[2].Name != "c" || st.Repositories[2].LastError == nil || st.Repositories[0].LastError != nil {
		t.Errorf("status: %+v", st)
	}

	repos["b"].Server().Close()
	e.open() // a new process: nothing refreshed yet
	e.m.Refresh(context.Background())
	ce := e.noConsensus("app.bin", client.ErrNoConsensus)
	wantOutcomes(t, outcomes(ce, 0), "a:listed", "b:failed", "c:failed")
	wantIs(t, ce, client.ErrNotRefreshed)
}

// A repository rolled back by its mirror: a running client keeps what it
// trusted (the refresh fails, the lookup still agrees); a new process that
// can't refresh it has no consensus, and the error says rollback.
func TestMultiRollback(t *testing.T) {
	t.Parallel()
	repos, e := gate(t)
	repos["org"].SetFault("timestamp.json", simulator.Fault{OldVersion: 1})
	err := e.m.Refresh(context.Background())
	wantIs(t, err, client.ErrRollback)
	e.agreed("app.bin", "vendor", "org")

	e.open()
	wantIs(t, e.m.Refresh(context.Background()), client.ErrRollback)
	ce := e.noConsensus("app.bin", client.ErrNoConsensus)
	wantOutcomes(t, outcomes(ce, 0), "vendor:listed", "org:failed")
	wantIs(t, ce, client.ErrRollback)
	if st := e.m.Status(); st.Repositories[1].Roles[1].Version != 2 {
		t.Errorf("org's trusted timestamp moved: %+v", st.Repositories[1].Roles)
	}
}

// A repository frozen by its mirror (it keeps serving metadata that has
// since expired): no consensus, and the error says which role expired.
func TestMultiFrozen(t *testing.T) {
	t.Parallel()
	repos, e := gate(t)
	later := repos["vendor"].Now().AddDate(0, 0, 3)
	for _, role := range []string{"timestamp", "snapshot"} {
		repos["vendor"].SetExpires(role, later.AddDate(0, 0, 7))
	}
	repos["vendor"].Publish()
	e.clock.Set(later)
	err := e.m.Refresh(context.Background())
	me := wantAs[*client.MultiError](t, err)
	if me.Errs[0] != nil {
		t.Fatalf("vendor: %v", me.Errs[0])
	}
	ce := e.noConsensus("app.bin", client.ErrNoConsensus)
	wantOutcomes(t, outcomes(ce, 0), "vendor:listed", "org:failed")
	if ee := wantAs[*client.ExpiredError](t, ce); ee.Role != "timestamp" {
		t.Errorf("expired %s, want timestamp", ee.Role)
	}
}

// TAP 4 "matching targets": different hashes, or the same hashes with a
// different length, are a disagreement; the error shows each listing.
func TestMultiDisagreement(t *testing.T) {
	t.Parallel()
	repos := newRepos(t, simulator.Options{}, "vendor", "org")
	publish(repos, "app.bin", []byte("good"), nil, "vendor")
	publish(repos, "app.bin", []byte("evil"), nil, "org")
	publish(repos, "len.bin", []byte("same"), nil, "vendor", "org")
	tf := repos["org"].Targets("targets").Signed.Targets["len.bin"]
	tf.Length++
	repos["org"].Publish()
	e := thresholdEnv(t, repos, 2, "vendor", "org")

	ce := e.noConsensus("app.bin", client.ErrNoConsensus)
	wantOutcomes(t, outcomes(ce, 0), "vendor:disagreed", "org:disagreed")
	for _, data := range []string{"good", "evil"} {
		if !strings.Contains(ce.Error(), hexSHA256([]byte(data))) {
			t.Errorf("error does not show the hash of %q: %v", data, ce)
		}
	}
	ce = e.noConsensus("len.bin", client.ErrNoConsensus)
	wantOutcomes(t, outcomes(ce, 0), "vendor:disagreed", "org:disagreed")
	if !strings.Contains(ce.Error(), "(4 bytes") || !strings.Contains(ce.Error(), "(5 bytes") {
		t.Errorf("error does not show both lengths: %v", ce)
	}
}

// Two different targets that each meet the threshold are a conflict, which
// ends the search even in a non-terminating mapping.
func TestMultiConflict(t *testing.T) {
	t.Parallel()
	repos := newRepos(t, simulator.Options{}, "a", "b", "c")
	publish(repos, "app.bin", []byte("one"), nil, "a")
	publish(repos, "app.bin", []byte("two"), nil, "b", "c")
	e := newMultiEnv(t, repos, []string{"a", "b", "c"},
		mapping(all, 1, false, "a", "b"),
		mapping(all, 1, true, "c"))
	e.open()
	e.refresh()
	ce := e.noConsensus("app.bin", client.ErrConflictingTargets)
	if len(ce.Mappings) != 1 || !ce.Mappings[0].Conflict {
		t.Fatalf("mappings consulted: %v", ce.Mappings)
	}
	wantOutcomes(t, outcomes(ce, 0), "a:disagreed", "b:disagreed")
}

// TAP 4 search steps 4.1 and 4.2: a terminating mapping that fails ends the
// search; a non-terminating one falls through to the next matching one.
func TestMultiTerminating(t *testing.T) {
	t.Parallel()
	for _, terminating := range []bool{true, false} {
		t.Run(map[bool]string{true: "terminating", false: "fall-through"}[terminating], func(t *testing.T) {
			t.Parallel()
			repos := newRepos(t, simulator.Options{}, "vendor", "org")
			publish(repos, "app/x.bin", []byte("x"), nil, "vendor")
			e := newMultiEnv(t, repos, []string{"vendor", "org"},
				mapping([]string{"app/*"}, 2, terminating, "vendor", "org"),
				mapping([]string{"other/*"}, 1, true, "vendor"), // does not match: skipped
				mapping([]string{"app/*"}, 1, true, "vendor"))
			e.open()
			e.refresh()
			if terminating {
				ce := e.noConsensus("app/x.bin", client.ErrNoConsensus)
				if len(ce.Mappings) != 1 || ce.Mappings[0].Index != 0 {
					t.Fatalf("mappings consulted: %v", ce.Mappings)
				}
				wantOutcomes(t, outcomes(ce, 0), "vendor:listed", "org:not listed")
				return
			}
			a := e.agreed("app/x.bin", "vendor")
			if a.Mapping().Index != 2 {
				t.Errorf("agreed in mapping %d, want 2", a.Mapping().Index)
			}
			e.download(a, []byte("x"))
		})
	}
}

// A mapping whose failed repositories could have met the threshold is
// undecided: the search ends there even if the mapping is not terminating,
// so blocking a repository can't steer the search to a weaker mapping.
func TestMultiUndecidedEndsSearch(t *testing.T) {
	t.Parallel()
	repos := newRepos(t, simulator.Options{}, "vendor", "org")
	publish(repos, "app/x.bin", []byte("x"), nil, "vendor")
	e := newMultiEnv(t, repos, []string{"vendor", "org"},
		mapping([]string{"app/*"}, 2, false, "vendor", "org"),
		mapping([]string{"app/*"}, 1, true, "vendor"))
	repos["org"].Server().Close()
	e.open()
	e.m.Refresh(context.Background())
	ce := e.noConsensus("app/x.bin", client.ErrUndecided)
	if len(ce.Mappings) != 1 || !ce.Mappings[0].Undecided {
		t.Fatalf("mappings consulted: %v", ce.Mappings)
	}
	wantOutcomes(t, outcomes(ce, 0), "vendor:listed", "org:failed")
	wantIs(t, ce, client.ErrNoConsensus)
}

// TAP 4 "paths": patterns match like delegation paths, one segment per
// wildcard; a path no mapping matches is ErrUnmapped, and a mapping is
// consulted only for paths it matches.
func TestMultiPathPatterns(t *testing.T) {
	t.Parallel()
	repos := newRepos(t, simulator.Options{}, "vendor", "org")
	for _, p := range []string{"plugins/x.so", "plugins/sub/y.so", "z.so", "app/1.0/linux-amd64"} {
		publish(repos, p, []byte(p), nil, "vendor", "org")
	}
	e := newMultiEnv(t, repos, []string{"vendor", "org"},
		mapping([]string{"plugins/*.so"}, 2, true, "vendor", "org"),
		mapping([]string{"app/*/linux-*"}, 1, true, "org"))
	e.open()
	e.refresh()
	e.agreed("plugins/x.so", "vendor", "org")
	e.agreed("app/1.0/linux-amd64", "org")
	for _, p := range []string{"plugins/sub/y.so", "z.so", "plugins/x.so.sig"} {
		ce := e.noConsensus(p, client.ErrUnmapped)
		if len(ce.Mappings) != 0 {
			t.Errorf("%s: consulted %v", p, ce.Mappings)
		}
	}
}

// Each repository walks its own delegations: one with delegated roles, one
// with succinct hash bins, agreeing on a target both delegate.
func TestMultiDelegationsAndBins(t *testing.T) {
	t.Parallel()
	repos := newRepos(t, simulator.Options{}, "vendor", "org")
	path, data := "plugins/x.so", []byte("plugin")
	repos["vendor"].Delegate("targets", "plugins", simulator.DelegationOpts{Paths: []string{"plugins/*"}})
	repos["vendor"].AddDelegatedTarget("plugins", path, data, map[string]any{"from": "vendor"})
	repos["vendor"].Publish()
	repos["org"].DelegateSuccinct("targets", 4, "bin")
	repos["org"].AddDelegatedTarget(repos["org"].SuccinctBin("targets", path), path, data, map[string]any{"from": "org"})
	repos["org"].Publish()
	e := thresholdEnv(t, repos, 2, "vendor", "org")
	a := e.agreed(path, "vendor", "org")
	if a.Role() != "plugins" {
		t.Errorf("role %q, want vendor's plugins", a.Role())
	}
	if got := a.Mapping().Repositories[1].Target.Role(); got != repos["org"].SuccinctBin("targets", path) {
		t.Errorf("org's role %q", got)
	}
	// Custom metadata is exempt from agreement: the caller sees the first
	// agreeing repository's, every repository's listing is reported.
	if string(a.Custom()) != `{"from":"vendor"}` || string(a.Mapping().Repositories[1].Target.Custom()) != `{"from":"org"}` {
		t.Errorf("custom %s, org's %s", a.Custom(), a.Mapping().Repositories[1].Target.Custom())
	}
	e.download(a, data)
}

// Repositories with and without consistent snapshots agree, and a download
// works through either one's mirrors.
func TestMultiConsistentSnapshots(t *testing.T) {
	t.Parallel()
	repos := newRepos(t, simulator.Options{ConsistentSnapshot: true}, "vendor")
	for n, r := range newRepos(t, simulator.Options{}, "org") {
		repos[n] = r
	}
	data := []byte("payload")
	publish(repos, "dir/app.bin", data, nil, "vendor", "org")
	e := thresholdEnv(t, repos, 2, "vendor", "org")
	a := e.agreed("dir/app.bin", "vendor", "org")
	e.download(a, data)
	repos["vendor"].SetFault(repos["vendor"].TargetName("dir/app.bin"), simulator.Fault{Status: 404})
	e.download(a, data)
	if !slices.Contains(repos["org"].Requests(), "targets/dir/app.bin") {
		t.Errorf("org's mirror not asked: %v", repos["org"].Requests())
	}
}

// Repositories may list different hash algorithms: they match when every
// algorithm both list agrees and one they share is supported; the agreed
// target carries every hash, and a download checks them all.
func TestMultiHashAlgorithms(t *testing.T) {
	t.Parallel()
	repos := newRepos(t, simulator.Options{}, "vendor", "org", "other")
	data := []byte("payload")
	sum := sha512.Sum512(data)
	publish(repos, "app.bin", data, nil, "vendor", "org", "other")
	publish(repos, "only512.bin", data, nil, "vendor", "org")
	repos["vendor"].Targets("targets").Signed.Targets["app.bin"].Hashes["sha512"] = sum[:]
	for _, n := range []string{"vendor", "org"} {
		h := repos[n].Targets("targets").Signed.Targets["only512.bin"].Hashes
		h["sha512"] = sum[:]
		if n == "org" {
			delete(h, "sha256")
		}
		repos[n].Publish()
	}
	bad := sha512.Sum512([]byte("other"))
	repos["other"].Targets("targets").Signed.Targets["app.bin"].Hashes["sha512"] = bad[:]
	repos["other"].Publish()
	e := thresholdEnv(t, repos, 2, "vendor", "org", "other")

	// other lists the same sha256 but a different sha512: not a match.
	a := e.agreed("app.bin", "vendor", "org")
	if h := a.Hashes(); len(h) != 2 || !bytes.Equal(h["sha512"], sum[:]) {
		t.Errorf("agreed hashes %x", h)
	}
	if got := a.Mapping().Repositories[2].Outcome; got != client.OutcomeDisagreed {
		t.Errorf("other: %v", got)
	}
	e.download(a, data)
	// vendor lists sha256 and sha512, org only sha512: they share sha512.
	a = e.agreed("only512.bin", "vendor", "org")
	e.download(a, data)
}

// A download goes through consensus: bytes that don't match the agreed
// target never reach the destination, whichever repository's mirror serves
// them, and the error names each repository's failure.
func TestMultiDownloadRefusesWrongBytes(t *testing.T) {
	t.Parallel()
	repos, e := gate(t)
	a := e.agreed("app.bin", "vendor", "org")
	repos["vendor"].SetFault("targets/app.bin", simulator.Fault{Status: 404})
	repos["org"].SetFault("targets/app.bin", simulator.Fault{Mutate: simulator.FlipBit})
	dest := filepath.Join(e.dl, "out")
	err := e.m.DownloadFile(context.Background(), a, dest)
	me := wantAs[*client.MultiError](t, err)
	if !slices.Equal(me.Repositories, []string{"vendor", "org"}) {
		t.Errorf("tried %v", me.Repositories)
	}
	wantIs(t, err, client.ErrNotFound)
	wantIs(t, err, client.ErrHashMismatch)
	if _, err := os.Stat(dest); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("destination: %v", err)
	}
	wantIs(t, e.m.DownloadFile(context.Background(), &client.AgreedTarget{}, dest), client.ErrInvalidOptions)
	_, err = e.m.Cached(&client.AgreedTarget{}, dest)
	wantIs(t, err, client.ErrInvalidOptions)
}

// NewMulti refuses configurations it cannot honour, before writing anything.
func TestNewMultiRefuses(t *testing.T) {
	t.Parallel()
	repos := newRepos(t, simulator.Options{}, "vendor", "org")
	e := newMultiEnv(t, repos, []string{"vendor", "org"}, mapping(all, 2, true, "vendor", "org"))
	for _, tc := range []struct {
		name   string
		edit   func(*client.MultiConfig)
		option string
	}{
		{"no map", func(c *client.MultiConfig) { c.Map = nil }, "MultiConfig.Map"},
		{"no state directory", func(c *client.MultiConfig) { c.StateDir = "" }, "MultiConfig.StateDir"},
		{"missing root", func(c *client.MultiConfig) { delete(c.TrustedRoots, "org") }, "MultiConfig.TrustedRoots"},
		{"root of no repository", func(c *client.MultiConfig) { c.TrustedRoots["other"] = []byte("{}") }, "MultiConfig.TrustedRoots"},
		{"one root twice", func(c *client.MultiConfig) { c.TrustedRoots["org"] = c.TrustedRoots["vendor"] }, "MultiConfig.TrustedRoots"},
	} {
		cfg := e.cfg
		cfg.StateDir = filepath.Join(t.TempDir(), "state")
		cfg.TrustedRoots = map[string][]byte{}
		for k, v := range e.cfg.TrustedRoots {
			cfg.TrustedRoots[k] = v
		}
		tc.edit(&cfg)
		_, err := client.NewMulti(cfg, e.opts...)
		if oe := wantAs[*client.OptionError](t, err); oe.Option != tc.option {
			t.Errorf("%s: option %q, want %q", tc.name, oe.Option, tc.option)
		}
		if _, err := os.Stat(cfg.StateDir); cfg.StateDir != "" && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: state directory created", tc.name)
		}
	}
	cfg := e.cfg
	cfg.Map = &client.Map{Repositories: cfg.Map.Repositories, Mapping: []client.Mapping{mapping(all, 3, true, "vendor", "org")}}
	_, err := client.NewMulti(cfg, e.opts...)
	if me := wantAs[*client.MapError](t, err); me.Field != "mapping[0].threshold" {
		t.Errorf("hand-built map: %v", err)
	}
}

// Each repository keeps its own state under the state directory, in the
// subdirectory named by its encoded name.
func TestMultiStateLayout(t *testing.T) {
	t.Parallel()
	repos := releasedRepos(t, "Vendor", "org")
	e := thresholdEnv(t, repos, 2, "Vendor", "org")
	for _, dir := range []string{"%56endor", "org"} {
		if _, err := os.Stat(filepath.Join(e.cfg.StateDir, dir, "timestamp.json")); err != nil {
			t.Errorf("%s: %v", dir, err)
		}
	}
	// Another process can't open the same state while this one holds it.
	_, err := client.NewMulti(e.cfg, e.opts...)
	wantIs(t, err, rollback.ErrLocked)
}

// A map file parsed by ParseMap works like a hand-built one.
func TestMultiFromMapFile(t *testing.T) {
	t.Parallel()
	repos := releasedRepos(t, "vendor", "org")
	e := newMultiEnv(t, repos, []string{"vendor", "org"})
	doc, _ := json.Marshal(map[string]any{
		"repositories": map[string][]string{"vendor": {repoBase(repos["vendor"])}, "org": {repoBase(repos["org"])}},
		"mapping":      []map[string]any{{"paths": []string{"*"}, "repositories": []string{"vendor", "org"}, "threshold": 2, "terminating": true}},
	})
	mp, err := client.ParseMap(doc)
	if err != nil {
		t.Fatal(err)
	}
	e.cfg.Map = mp
	e.open()
	e.refresh()
	e.agreed("app.bin", "vendor", "org")
}

// A map and roots distributed as targets of a repository the application
// trusts: read and verified like any target; a tampered or oversized map is
// refused before it is parsed.
func TestMultiMapFromTarget(t *testing.T) {
	t.Parallel()
	repos, e := gate(t)
	doc, _ := json.Marshal(map[string]any{
		"repositories": map[string][]string{"vendor": {repoBase(repos["vendor"])}, "org": {repoBase(repos["org"])}},
		"mapping":      []map[string]any{{"paths": all, "repositories": []string{"vendor", "org"}, "threshold": 2, "terminating": true}},
	})
	config := simulator.New(t, simulator.Options{Seed: "config"})
	config.AddTarget("map.json", doc, nil)
	config.AddTarget("bad-map.json", []byte(`{"repositories": {}}`), nil)
	config.AddTarget("huge-map.json", bytes.Repeat([]byte(" "), client.MaxMapSize+1), nil)
	for _, n := range []string{"vendor", "org"} {
		config.AddTarget(n+".root.json", repos[n].TrustedRoot(), nil)
	}
	config.Publish()
	ce := refreshed(t, config)
	ctx := context.Background()

	mp, err := client.MapFromTarget(ctx, ce.c, "map.json")
	if err != nil {
		t.Fatal(err)
	}
	roots := map[string][]byte{}
	for _, n := range []string{"vendor", "org"} {
		tg := ce.target(n + ".root.json")
		if roots[n], err = ce.c.ReadTarget(ctx, tg, 512<<10); err != nil {
			t.Fatal(err)
		}
	}
	e.cfg = client.MultiConfig{Map: mp, TrustedRoots: roots, StateDir: t.TempDir()}
	e.open()
	e.refresh()
	e.agreed("app.bin", "vendor", "org")

	_, err = client.MapFromTarget(ctx, ce.c, "bad-map.json")
	wantIs(t, err, client.ErrInvalidMap)
	config.ResetRequests()
	_, err = client.MapFromTarget(ctx, ce.c, "huge-map.json")
	wantIs(t, err, client.ErrTooLarge)
	if r := config.Requests(); len(r) != 0 {
		t.Errorf("fetched %v for a map listed as too large", r)
	}
	config.SetFault("targets/map.json", simulator.Fault{Mutate: func(b []byte) []byte { return bytes.Replace(b, []byte(`"threshold":2`), []byte(`"threshold":1`), 1) }})
	_, err = client.MapFromTarget(ctx, ce.c, "map.json")
	wantIs(t, err, client.ErrHashMismatch)
	_, err = client.MapFromTarget(ctx, ce.c, "no-map.json")
	wantIs(t, err, client.ErrUnknownTarget)
}

// OpenMulti waits for a repository's state directory held by another
// client, until its context ends.
func TestOpenMultiWaits(t *testing.T) {
	t.Parallel()
	_, e := gate(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := client.OpenMulti(ctx, e.cfg, e.opts...)
	wantIs(t, err, client.ErrLocked)
	done := make(chan error, 1)
	go func() {
		m, err := client.OpenMulti(context.Background(), e.cfg, e.opts...)
		if err == nil {
			err = m.Close()
		}
		done <- err
	}()
	e.m.Close()
	e.m = nil
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// MultiConfig.TargetURLs replace every repository's target mirrors.
func TestMultiTargetURLs(t *testing.T) {
	t.Parallel()
	repos, e := gate(t)
	_, vendorTargets := repos["vendor"].Serve()
	e.m.Close()
	e.m = nil
	e.cfg.TargetURLs = []string{vendorTargets}
	e.open()
	e.refresh()
	a := e.agreed("app.bin", "vendor", "org")
	repos["vendor"].SetFault("targets/app.bin", simulator.Fault{Status: 404, Times: 1})
	repos["org"].ResetRequests()
	e.download(a, []byte("v1"))
	for _, r := range repos["org"].Requests() {
		if strings.HasPrefix(r, "targets/") {
			t.Errorf("org's own target mirror asked: %s", r)
		}
	}
	e.cfg.TargetURLs = []string{"ftp://x"}
	_, err := client.NewMulti(e.cfg, e.opts...)
	if oe := wantAs[*client.OptionError](t, err); oe.Option != "MultiConfig.TargetURLs" {
		t.Errorf("option %q", oe.Option)
	}
}

// fetcherFunc adapts a function to client.Fetcher.
type fetcherFunc func(ctx context.Context, url string, offset, maxLength int64) (io.ReadCloser, error)

func (f fetcherFunc) Fetch(ctx context.Context, url string, offset, maxLength int64) (io.ReadCloser, error) {
	return f(ctx, url, offset, maxLength)
}

// A download through a consistent-snapshot repository names the file by
// that repository's own hashes, not by an algorithm only another agreeing
// repository lists.
func TestMultiDownloadNamesByOwnHashes(t *testing.T) {
	t.Parallel()
	repos := newRepos(t, simulator.Options{}, "vendor")
	for n, r := range newRepos(t, simulator.Options{ConsistentSnapshot: true}, "org") {
		repos[n] = r
	}
	data := []byte("payload")
	sum := sha512.Sum512(data)
	publish(repos, "app.bin", data, nil, "vendor", "org")
	repos["vendor"].Targets("targets").Signed.Targets["app.bin"].Hashes["sha512"] = sum[:]
	repos["vendor"].Publish()
	h := repos["org"].Targets("targets").Signed.Targets["app.bin"].Hashes
	h["sha512"] = sum[:]
	delete(h, "sha256")
	repos["org"].Publish()
	e := newMultiEnv(t, repos, []string{"vendor", "org"}, mapping(all, 2, true, "vendor", "org"))
	// The organisation's mirror has the file under its sha512 name only,
	// as a repository that lists sha512 alone would.
	_, orgTargets := repos["org"].Serve()
	real := fastFetcher()
	e.opts = append(e.opts, client.WithFetcher(fetcherFunc(func(ctx context.Context, url string, offset, maxLength int64) (io.ReadCloser, error) {
		switch url {
		case orgTargets + hexOf(sum[:]) + ".app.bin":
			return io.NopCloser(bytes.NewReader(data[offset:])), nil
		case orgTargets + hexSHA256(data) + ".app.bin":
			return nil, fmt.Errorf("%w: %s", client.ErrNotFound, url)
		}
		return real.Fetch(ctx, url, offset, maxLength)
	})))
	e.open()
	e.refresh()
	a := e.agreed("app.bin", "vendor", "org")
	repos["vendor"].SetFault("targets/app.bin", simulator.Fault{Status: 404})
	e.download(a, data)
}
