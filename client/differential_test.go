package client_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	tufmeta "github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/internal/simulator"
)

// goTUF is go-tuf v2's updater used as an oracle the way an application
// uses it: each refresh is a new updater over one metadata directory,
// starting from the root it persisted (the embedded one on a first run).
type goTUF struct {
	t                   *testing.T
	dir                 string
	embedded            []byte
	metaURL, targetsURL string
}

func newGoTUF(t *testing.T, repo *simulator.Repo) *goTUF {
	metaURL, targetsURL := repo.Serve()
	return &goTUF{t: t, dir: t.TempDir(), embedded: repo.TrustedRoot(), metaURL: metaURL, targetsURL: targetsURL}
}

// refresh runs one refresh with reference time ref.
func (g *goTUF) refresh(ref time.Time) (*updater.Updater, error) {
	g.t.Helper()
	root := g.embedded
	if b, err := os.ReadFile(filepath.Join(g.dir, "metadata", "root.json")); err == nil {
		root = b
	}
	cfg, err := config.New(g.metaURL, root)
	if err != nil {
		g.t.Fatal(err)
	}
	cfg.RemoteTargetsURL = g.targetsURL
	cfg.LocalMetadataDir = filepath.Join(g.dir, "metadata")
	cfg.LocalTargetsDir = filepath.Join(g.dir, "targets")
	up, err := updater.New(cfg)
	if err != nil {
		g.t.Fatal(err)
	}
	up.UnsafeSetRefTime(ref)
	return up, up.Refresh()
}

// goTUFVersions returns the versions of the top-level roles go-tuf trusts.
func goTUFVersions(up *updater.Updater) map[string]int64 {
	tm := up.GetTrustedMetadataSet()
	v := map[string]int64{}
	if tm.Root != nil {
		v["root"] = tm.Root.Signed.Version
	}
	if tm.Timestamp != nil {
		v["timestamp"] = tm.Timestamp.Signed.Version
	}
	if tm.Snapshot != nil {
		v["snapshot"] = tm.Snapshot.Signed.Version
	}
	if tg := tm.Targets["targets"]; tg != nil {
		v["targets"] = tg.Signed.Version
	}
	return v
}

// lookupResult is what a client answered for a target path: the length
// and SHA-256 it trusts, or that it refused.
type lookupResult struct {
	length int64
	sha256 string
	err    error
}

func (r lookupResult) String() string {
	if r.err != nil {
		return "error: " + r.err.Error()
	}
	return fmt.Sprintf("%d bytes, sha256 %.12s", r.length, r.sha256)
}

func (r lookupResult) same(o lookupResult) bool {
	return (r.err == nil) == (o.err == nil) && r.length == o.length && r.sha256 == o.sha256
}

func latchLookup(c *client.Client, path string) lookupResult {
	tg, err := c.Target(context.Background(), path)
	if err != nil {
		return lookupResult{err: err}
	}
	return lookupResult{length: tg.Length(), sha256: hexOf(tg.Hashes()["sha256"])}
}

func goTUFLookup(up *updater.Updater, path string) lookupResult {
	tf, err := up.GetTargetInfo(path)
	if err != nil {
		return lookupResult{err: err}
	}
	return lookupResult{length: tf.Length, sha256: hexOf(tf.Hashes["sha256"])}
}

// pair is latch and go-tuf following one repository with one clock.
type pair struct {
	t    *testing.T
	repo *simulator.Repo
	e    *env
	g    *goTUF
	now  time.Time
	up   *updater.Updater // go-tuf's updater of the last refresh
}

// newPair starts the clock half an hour after the repository's: see
// ahead.
func newPair(t *testing.T, repo *simulator.Repo) *pair {
	e := newEnv(t, repo)
	e.open()
	return &pair{t: t, repo: repo, e: e, g: newGoTUF(t, repo), now: repo.Now().Add(30 * time.Minute)}
}

// refresh refreshes both clients at p.now.
func (p *pair) refresh() (latchErr, goTUFErr error) {
	p.e.clock.Set(p.now)
	latchErr = p.e.c.Refresh(context.Background())
	p.up, goTUFErr = p.g.refresh(p.now)
	return latchErr, goTUFErr
}

// agree refreshes both clients and fails the test unless both succeed and
// trust the same versions and, for each path, the same target.
func (p *pair) agree(paths ...string) {
	p.t.Helper()
	lerr, gerr := p.refresh()
	if lerr != nil || gerr != nil {
		p.t.Fatalf("latch: %v\ngo-tuf: %v", lerr, gerr)
	}
	if l, g := versions(p.e.c.View()), goTUFVersions(p.up); fmt.Sprint(l) != fmt.Sprint(g) {
		p.t.Fatalf("latch trusts %v, go-tuf %v", l, g)
	}
	for _, path := range paths {
		if l, g := latchLookup(p.e.c, path), goTUFLookup(p.up, path); !l.same(g) || l.err != nil {
			p.t.Fatalf("%s: latch %v, go-tuf %v", path, l, g)
		}
	}
}

// After a fast-forward attack on the timestamp and the recovery by a new
// timestamp key, the repository signs snapshot v3 again: two different
// snapshot v3 files exist, and the one the clients trust has expired
// meanwhile. The new file is what spec §5.5 checks: fetched and verified,
// it is valid, and latch agrees with go-tuf. The same holds without a
// fast-forward, and for targets and delegated roles (§5.6).
func TestExpiredTrustedRefetched(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		role        string // signed again at its version, with a fresh expiry
		fastForward bool
	}{
		{"snapshot after a fast-forward", "snapshot", true},
		{"snapshot", "snapshot", false},
		{"targets", "targets", false},
		{"delegated", "d", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			repo := simulator.New(t, simulator.Options{ConsistentSnapshot: true})
			repo.Delegate("targets", "d", simulator.DelegationOpts{Paths: []string{"d/*"}})
			repo.AddDelegatedTarget("d", "d/x", []byte("x"), nil)
			repo.AddTarget("a", []byte("a"), nil)
			repo.SetExpires(tc.role, repo.Now().Add(7*day))
			repo.Publish()
			repo.Snapshot()
			repo.Publish() // snapshot v3
			p := newPair(t, repo)
			p.agree("a", "d/x")
			if tc.fastForward {
				repo.Timestamp().Signed.Version = 1000
				repo.Publish()
				p.agree("a", "d/x")
			}

			p.now = p.now.Add(8 * day) // what the clients trust of tc.role has expired
			v := repo.Version(tc.role)
			bump := func() {
				if tc.role == "snapshot" {
					repo.Snapshot()
				} else {
					repo.Targets(tc.role)
				}
			}
			bump()
			repo.Publish()
			bump()
			if tc.role == "snapshot" {
				repo.Snapshot().Signed.Version = v
			} else {
				repo.Targets(tc.role).Signed.Version = v
			}
			repo.SetExpires(tc.role, p.now.Add(7*day))
			repo.SetExpires("snapshot", p.now.Add(7*day))
			repo.SetExpires("timestamp", p.now.Add(day))
			if tc.fastForward {
				rotateKey(repo, "timestamp")
				repo.Timestamp().Signed.Version = 1
			}
			repo.Publish()
			if got := repo.Version(tc.role); got != v {
				t.Fatalf("%s v%d published, want v%d again", tc.role, got, v)
			}
			p.agree("a", "d/x")
		})
	}
}

// The two divergences from go-tuf in fast-forward recovery, by design:
// after a rotation of the snapshot key alone latch accepts a lowered
// snapshot version (it discards the trusted timestamp that listed the
// higher one; go-tuf keeps it, as it still verifies); after a rotation of
// the timestamp key alone latch refuses one (the trusted snapshot, kept
// for its targets and delegated floors, keeps its own version as a floor;
// go-tuf accepts it).
func TestFastForwardDivergence(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rotate     string
		latchTakes bool
	}{
		{"snapshot", true},
		{"timestamp", false},
	} {
		t.Run(tc.rotate, func(t *testing.T) {
			t.Parallel()
			repo := simulator.New(t, simulator.Options{})
			for range 4 {
				repo.Snapshot()
				repo.Publish()
			} // snapshot v5
			p := newPair(t, repo)
			p.agree()
			rotateKey(repo, tc.rotate)
			repo.Snapshot().Signed.Version = 2
			repo.Publish()
			lerr, gerr := p.refresh()
			if tc.latchTakes {
				if lerr != nil || !errors.Is(gerr, &tufmeta.ErrBadVersionNumber{}) {
					t.Fatalf("latch: %v (want nil)\ngo-tuf: %v (want a bad version number)", lerr, gerr)
				}
				if got := versions(p.e.c.View())["snapshot"]; got != 2 {
					t.Errorf("latch trusts snapshot v%d, want v2", got)
				}
				return
			}
			if se := wantAs[*client.StaleError](t, lerr); se.Role != "snapshot" || se.Got != 2 || se.Trusted != 5 {
				t.Errorf("StaleError %+v", se)
			}
			if gerr != nil {
				t.Fatalf("go-tuf: %v, want it to take the lower snapshot version", gerr)
			}
		})
	}
}

// Metadata whose expiry is the reference time is expired: the spec wants
// an expiry later than the reference time. go-tuf accepts it for that
// instant; TestDifferential keeps its clock off such instants.
func TestExpiryInstant(t *testing.T) {
	t.Parallel()
	repo := simulator.New(t, simulator.Options{})
	repo.SetExpires("timestamp", repo.Now().Add(time.Hour))
	repo.Publish()
	p := newPair(t, repo)
	p.now = repo.Now().Add(time.Hour)
	lerr, gerr := p.refresh()
	wantIs(t, lerr, client.ErrExpired)
	if gerr != nil {
		t.Errorf("go-tuf: %v, want it to accept the timestamp at its expiry", gerr)
	}
}

// TestDifferential runs latch and go-tuf side by side over random
// repository histories: new targets, timestamps and snapshots, rotations
// of the timestamp, snapshot, targets, delegated and root keys, recoveries
// that lower versions, fast-forwards, re-signed versions, replays, and time
// passing until metadata expires. After each step both refresh and must
// agree: both fail, or both trust the same versions and answer every
// lookup alike. Histories are seeded: a failure names its seed and steps,
// and -run 'TestDifferential/seed=N' replays it (with -differential
// above N).
//
// One divergence is by design: a repository that lowers the snapshot
// version after rotating the snapshot keys but not the timestamp keys.
// latch discards the trusted timestamp with the snapshot (so it recovers
// from a fast-forwarded snapshot version); go-tuf keeps a timestamp that
// still verifies and refuses the lower snapshot version it lists. A history
// stops there, logged.
func TestDifferential(t *testing.T) {
	t.Parallel()
	for seed := range *differentialHistories {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			runHistory(t, seed, 16)
		})
	}
}

// differentialHistories is how many histories TestDifferential runs: a
// few by default, to stay quick; more for a campaign, as in
// go test -run TestDifferential ./client -differential 2000.
var differentialHistories = flag.Uint64("differential", 10, "number of random histories TestDifferential runs")

// history is one random repository history with the two clients.
type history struct {
	*pair
	rng        *rand.Rand
	steps      []string
	paths      []string                    // target paths published so far
	timestamps []int64                     // timestamp versions published so far
	files      map[string]map[int64][]byte // published files of targets and d by version
	repair     func()                      // undoes an attack after the clients saw it
	consistent bool
	// snapshotOnly: since the last rotation of the timestamp keys, the
	// snapshot keys were rotated (the divergence above is possible).
	snapshotOnly bool
}

type op struct {
	name   string
	weight int
	do     func(h *history) string // returns a description of what it did
}

const day = 24 * time.Hour

var ops = []op{
	{"add target", 4, func(h *history) string {
		path := fmt.Sprintf("t%d", len(h.paths))
		role := "targets"
		if h.rng.IntN(2) == 0 {
			path, role = "d/"+path, "d"
		}
		h.paths = append(h.paths, path)
		h.repo.AddDelegatedTarget(role, path, []byte(path), nil)
		h.freshTargets(role)
		h.publish(true)
		return path + " in " + role
	}},
	{"timestamp", 3, func(h *history) string { h.publish(false); return "" }},
	{"snapshot", 2, func(h *history) string { h.publish(true); return "" }},
	{"time passes", 3, func(h *history) string {
		d := time.Duration(1+h.rng.IntN(96)) * time.Hour
		h.now = h.now.Add(d)
		return d.String()
	}},
	{"rotate timestamp key", 1, func(h *history) string {
		rotateKey(h.repo, "timestamp")
		h.snapshotOnly = false
		desc := ""
		if h.rng.IntN(2) == 0 {
			v := 1 + h.rng.Int64N(h.repo.Version("timestamp"))
			h.repo.Timestamp().Signed.Version = v
			desc = fmt.Sprintf("timestamp v%d", v)
		}
		h.publish(false)
		return desc
	}},
	{"rotate snapshot key", 1, func(h *history) string {
		rotateKey(h.repo, "snapshot")
		h.snapshotOnly = true
		return h.lower()
	}},
	{"rotate timestamp and snapshot keys", 1, func(h *history) string {
		rotateKey(h.repo, "timestamp")
		rotateKey(h.repo, "snapshot")
		h.snapshotOnly = false
		return h.lower()
	}},
	{"rotate targets key", 1, func(h *history) string {
		rotateKey(h.repo, "targets")
		h.freshTargets("targets")
		h.publish(true)
		return ""
	}},
	{"rotate delegated key", 1, func(h *history) string {
		rotateKey(h.repo, "d")
		h.freshTargets("d")
		h.freshTargets("targets")
		h.publish(true)
		return ""
	}},
	{"rotate root key", 1, func(h *history) string {
		rotateKey(h.repo, "root")
		h.publish(false)
		return ""
	}},
	{"fast-forward", 2, func(h *history) string {
		role := []string{"timestamp", "snapshot", "targets", "d"}[h.rng.IntN(4)]
		switch role {
		case "timestamp":
			h.repo.Timestamp().Signed.Version += 1000
		case "snapshot":
			h.repo.Snapshot().Signed.Version += 1000
		default:
			h.repo.Targets(role).Signed.Version += 1000
			h.freshTargets(role)
		}
		h.publish(role != "timestamp")
		return role
	}},
	{"re-sign a version", 2, func(h *history) string {
		role := []string{"snapshot", "targets", "d"}[h.rng.IntN(3)]
		v := h.repo.Version(role)
		if role == "snapshot" {
			h.repo.Snapshot()
			h.repo.Publish()
			h.repo.Snapshot().Signed.Version = v
		} else {
			h.repo.Targets(role)
			h.repo.Publish()
			h.repo.Targets(role).Signed.Version = v
			h.freshTargets(role)
		}
		h.publish(true)
		return fmt.Sprintf("%s v%d", role, v)
	}},
	{"expire and re-sign", 3, func(h *history) string {
		role := []string{"snapshot", "targets", "d"}[h.rng.IntN(3)]
		v := h.repo.Version(role)
		var expires time.Time
		if role == "snapshot" {
			expires = h.repo.Snapshot().Signed.Expires
			h.repo.Publish()
			h.repo.Snapshot().Signed.Version = v
		} else {
			expires = h.repo.Targets(role).Signed.Expires
			h.repo.Publish()
			h.repo.Targets(role).Signed.Version = v
			h.freshTargets(role)
		}
		h.now = later(h.now, expires.Add(90*time.Minute))
		h.publish(true)
		return fmt.Sprintf("%s v%d", role, v)
	}},
	{"snapshot lists an older version", 3, func(h *history) string {
		// The holder of the snapshot key, maybe while the timestamp key
		// is rotated.
		role := []string{"targets", "d"}[h.rng.IntN(2)]
		cur := h.repo.Version(role)
		var older []int64
		for v := range h.files[role] {
			if v < cur {
				older = append(older, v)
			}
		}
		if len(older) == 0 {
			h.publish(false)
			return "no older " + role
		}
		slices.Sort(older)
		old := older[h.rng.IntN(len(older))]
		desc := fmt.Sprintf("%s v%d", role, old)
		if h.rng.IntN(2) == 0 {
			rotateKey(h.repo, "timestamp")
			h.snapshotOnly = false
			desc += ", timestamp key rotated"
		}
		h.listVersion(role, old)
		h.publish(true)
		if !h.consistent {
			h.repo.SetFault(role+".json", simulator.Fault{OldVersion: old})
		}
		h.repair = func() { h.listVersion(role, cur); h.publish(true) }
		return desc
	}},
	{"replay a timestamp", 1, func(h *history) string {
		v := h.timestamps[h.rng.IntN(len(h.timestamps))]
		h.repo.SetFault("timestamp.json", simulator.Fault{OldVersion: v})
		return fmt.Sprintf("v%d", v)
	}},
}

// ahead returns an expiry n days ahead. Expiries fall on the hour, the
// clock on the half hour: a reference time never equals an expiry, the
// one instant where go-tuf (expired after it) and the spec (metadata must
// expire later than the reference time) differ.
func (h *history) ahead(n int) time.Time {
	return h.now.Add(time.Duration(n)*day + 30*time.Minute)
}

// publish publishes with a fresh timestamp (and snapshot).
func (h *history) publish(snapshot bool) {
	if snapshot {
		h.repo.SetExpires("snapshot", h.ahead(2+h.rng.IntN(6)))
	}
	h.repo.SetExpires("timestamp", h.ahead(1))
	h.repo.Publish()
	h.record()
}

// record notes the timestamp version and the files of the targets roles
// that are published now.
func (h *history) record() {
	h.timestamps = append(h.timestamps, h.repo.Version("timestamp"))
	for _, role := range []string{"targets", "d"} {
		v := h.repo.Version(role)
		name := role + ".json"
		if h.consistent {
			name = fmt.Sprintf("%d.%s", v, name)
		}
		h.files[role][v] = h.repo.Bytes(name)
	}
}

// listVersion makes the snapshot list version v of a targets role, with
// its length and hashes if the repository lists them.
func (h *history) listVersion(role string, v int64) {
	mf := h.repo.Snapshot().Signed.Meta[role+".json"]
	mf.Version = v
	if mf.Hashes != nil {
		b := h.files[role][v]
		sum := sha256.Sum256(b)
		mf.Length, mf.Hashes = int64(len(b)), tufmeta.Hashes{"sha256": sum[:]}
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// freshTargets gives a targets role that is about to be published a new
// expiry, some days ahead.
func (h *history) freshTargets(role string) {
	h.repo.SetExpires(role, h.ahead(2+h.rng.IntN(20)))
}

// lower publishes after a snapshot key rotation, lowering versions as a
// repository recovering from a fast-forward would.
func (h *history) lower() string {
	var desc []string
	if h.rng.IntN(2) == 0 {
		v := 1 + h.rng.Int64N(h.repo.Version("snapshot"))
		h.repo.Snapshot().Signed.Version = v
		desc = append(desc, fmt.Sprintf("snapshot v%d", v))
	}
	for _, role := range []string{"targets", "d"} {
		if h.rng.IntN(2) == 0 {
			v := 1 + h.rng.Int64N(h.repo.Version(role))
			h.repo.Targets(role).Signed.Version = v
			h.freshTargets(role)
			desc = append(desc, fmt.Sprintf("%s v%d", role, v))
		}
	}
	h.publish(true)
	return strings.Join(desc, ", ")
}

func runHistory(t *testing.T, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, 0x1a7c4))
	opts := simulator.Options{
		ConsistentSnapshot: rng.IntN(2) == 0,
		SnapshotHashes:     rng.IntN(2) == 0,
		TimestampHashes:    rng.IntN(2) == 0,
		Seed:               fmt.Sprint(seed),
	}
	repo := simulator.New(t, opts)
	repo.Delegate("targets", "d", simulator.DelegationOpts{Paths: []string{"d/*"}})
	repo.Publish()
	h := &history{pair: newPair(t, repo), rng: rng, consistent: opts.ConsistentSnapshot,
		files: map[string]map[int64][]byte{"targets": {}, "d": {}}}
	h.record()
	total := 0
	for _, o := range ops {
		total += o.weight
	}
	if h.compare("start") {
		return
	}
	for range steps {
		n := rng.IntN(total)
		var o op
		for _, o = range ops {
			if n < o.weight {
				break
			}
			n -= o.weight
		}
		step := o.name
		if desc := o.do(h); desc != "" {
			step += " (" + desc + ")"
		}
		if rng.IntN(2) == 0 {
			h.e.open() // latch as a new process; go-tuf always is one
			step += ", new process"
		}
		if h.compare(step) {
			return
		}
	}
}

// compare refreshes both clients after step and checks that they agree. It
// reports whether the history must stop at a divergence by design.
func (h *history) compare(step string) bool {
	h.t.Helper()
	h.steps = append(h.steps, step)
	lerr, gerr := h.refresh()
	h.repo.ClearFaults()
	if h.repair != nil {
		defer func() { h.repair(); h.repair = nil }()
	}
	fail := func(format string, args ...any) bool {
		h.t.Helper()
		h.t.Fatalf("steps:\n  %s\n%s", strings.Join(h.steps, "\n  "), fmt.Sprintf(format, args...))
		return true
	}
	switch {
	case lerr == nil && gerr != nil && h.snapshotOnly && errors.Is(gerr, &tufmeta.ErrBadVersionNumber{}):
		h.t.Logf("by design after %d steps: latch recovers from the snapshot key rotation, go-tuf keeps its timestamp: %v", len(h.steps), gerr)
		return true
	case (lerr == nil) != (gerr == nil):
		return fail("latch: %v\ngo-tuf: %v", lerr, gerr)
	case lerr != nil:
		return false
	}
	if l, g := versions(h.e.c.View()), goTUFVersions(h.up); fmt.Sprint(l) != fmt.Sprint(g) {
		return fail("latch trusts %v, go-tuf %v", l, g)
	}
	for _, path := range h.paths {
		if l, g := latchLookup(h.e.c, path), goTUFLookup(h.up, path); !l.same(g) {
			return fail("%s: latch %v, go-tuf %v", path, l, g)
		}
	}
	return false
}
