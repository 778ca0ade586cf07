package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/latchsec/latch/client"
	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"
)

// Operations a bench-op child runs. Each is timed inside the child, from
// just before the client is created (or the transfer starts) to just after
// the last call returns; the parent reads the child's peak RSS.
const (
	opCold      = "cold"       // new client, refresh, one lookup (the parent gives an empty state dir)
	opWarm      = "warm"       // the same on a state dir a cold run filled
	opLive      = "live"       // refresh, then time a second refresh on the same client
	opLookup    = "lookup"     // refresh and one lookup, then time lookups of distinct names, then the same again
	opDownload  = "download"   // refresh and lookup, then time download + verify of the large target
	opIdle      = "idle"       // refresh, then time -refreshes more on the same client (wire counts)
	opFleet     = "fleet"      // -clients long-lived clients, then time -rounds of all refreshing at once
	opColdFloor = "cold-floor" // floor of opCold: fetch + SHA-256 + signature + validating scan
	opWarmFloor = "warm-floor" // floor of opWarm: read the small state files + the same two requests
	opGet       = "get"        // floor: plain GET + sha256 + file write
	opGetSync   = "get-sync"   // floor: the same, then fsync
	opSHA256    = "sha256"     // floor: sha256 of in-memory bytes
	opNoop      = "noop"       // nothing: the baseline of peak RSS
)

const (
	clientLatch = "latch"
	clientGoTUF = "go-tuf"
	clientPlain = "plain" // the floors: no TUF client
)

// metaLimit caps metadata without a listed length in both clients: the
// generated snapshots list versions only (as go-tuf and python-tuf write
// them by default), and a 100,000-entry targets.json exceeds both default caps.
const metaLimit = 128 << 20

// opArgs are the flags of the bench-op subcommand.
type opArgs struct {
	client, op string
	server     string // base URL of the serve process
	control    string // base URL of its control listener
	repo       string // repository name: URL prefix and directory under dir
	dir        string // directory holding the generated repositories
	state      string // the client's state directory
	target     string // target path to look up
	targets    int    // targets in the repository, to pick lookup paths
	bins       bool   // the repository uses succinct bins
	lookups    int
	refreshes  int    // idle refreshes (opIdle)
	clients    int    // long-lived clients (opFleet)
	rounds     int    // refreshes of all clients at once (opFleet)
	size       int64  // bytes to hash (sha256) or expected (get)
	sum        string // expected hex sha256 (get)
	cpuprofile string
	repeat     int // cold and warm runs in a row (cold: each on a fresh subdirectory of state)
}

// opResult is what a child prints on stdout, as one JSON object.
type opResult struct {
	Seconds float64 `json:"seconds"`
	// Wire is what the server saw during the timed part.
	Wire wireStats `json:"wire"`
	// Lookups and Refreshes are how many the timed part did, for the
	// operations that time many: for opLookup, lookups per pass.
	Lookups int `json:"lookups,omitempty"`
	// Repeat is, of Seconds, the time of opLookup's second pass over the
	// same names.
	Repeat    float64 `json:"repeat_seconds,omitempty"`
	Refreshes int     `json:"refreshes,omitempty"`
	// Rounds are opFleet's rounds, each timed on its own.
	Rounds []opResult `json:"rounds,omitempty"`
}

func opMain(args []string) error {
	var a opArgs
	fs := flag.NewFlagSet("bench-op", flag.ContinueOnError)
	fs.StringVar(&a.client, "client", "", "latch, go-tuf or plain")
	fs.StringVar(&a.op, "op", "", "operation")
	fs.StringVar(&a.server, "server", "", "server base URL")
	fs.StringVar(&a.control, "control", "", "server control URL")
	fs.StringVar(&a.repo, "repo", "", "repository name")
	fs.StringVar(&a.dir, "dir", "", "directory of the generated repositories")
	fs.StringVar(&a.state, "state", "", "client state directory")
	fs.StringVar(&a.target, "target", "", "target path to look up")
	fs.IntVar(&a.targets, "targets", 0, "targets in the repository")
	fs.BoolVar(&a.bins, "bins", false, "the repository uses succinct bins")
	fs.IntVar(&a.lookups, "lookups", 10000, "distinct names to look up, twice")
	fs.IntVar(&a.refreshes, "refreshes", 10, "idle refreshes to time")
	fs.IntVar(&a.clients, "clients", 1000, "long-lived clients of the fleet")
	fs.IntVar(&a.rounds, "rounds", 1, "rounds of the fleet refreshing at once")
	fs.Int64Var(&a.size, "size", 0, "bytes")
	fs.StringVar(&a.sum, "sha256", "", "expected sha256 (hex)")
	fs.StringVar(&a.cpuprofile, "cpuprofile", "", "write a CPU profile of the timed part to this file")
	fs.IntVar(&a.repeat, "repeat", 1, "cold and warm runs in a row, for profiles")
	if err := fs.Parse(args); err != nil {
		return err
	}
	res, err := runOp(context.Background(), a)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// timer brackets the timed part of an operation: it resets the server's
// counts and starts the CPU profile, if any.
type timer struct {
	a     opArgs
	start time.Time
	prof  *os.File
}

func (t *timer) begin() error {
	if _, err := serverStats(t.a.control); err != nil {
		return err
	}
	if t.a.cpuprofile != "" {
		f, err := os.Create(t.a.cpuprofile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		t.prof = f
	}
	t.start = time.Now()
	return nil
}

func (t *timer) end(res *opResult) error {
	res.Seconds = time.Since(t.start).Seconds()
	if t.prof != nil {
		pprof.StopCPUProfile()
		if err := t.prof.Close(); err != nil {
			return err
		}
	}
	var err error
	res.Wire, err = serverStats(t.a.control)
	return err
}

// serverStats returns the server's counts since the last call, and starts
// them again.
func serverStats(control string) (wireStats, error) {
	var st wireStats
	resp, err := http.Get(control + statsPath[1:])
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

func runOp(ctx context.Context, a opArgs) (*opResult, error) {
	res := &opResult{}
	t := &timer{a: a}
	switch a.op {
	case opNoop:
		return res, nil
	case opGet, opGetSync:
		if err := t.begin(); err != nil {
			return nil, err
		}
		if err := plainGet(a.server+a.repo+"/targets/"+a.sum+"."+largeName, filepath.Join(a.state, "download"), a.size, a.sum, a.op == opGetSync); err != nil {
			return nil, err
		}
	case opSHA256:
		buf := make([]byte, 1<<20)
		rand.NewChaCha8([32]byte{}).Read(buf)
		if err := t.begin(); err != nil {
			return nil, err
		}
		h := sha256.New()
		for n := a.size; n > 0; n -= int64(len(buf)) {
			h.Write(buf[:min(n, int64(len(buf)))])
		}
		h.Sum(nil)
	case opColdFloor, opWarmFloor:
		floor := coldFloor
		if a.op == opWarmFloor {
			floor = warmFloor
		}
		if err := t.begin(); err != nil {
			return nil, err
		}
		if err := floor(ctx, a); err != nil {
			return nil, err
		}
	case opCold, opWarm:
		if err := t.begin(); err != nil {
			return nil, err
		}
		for i := range a.repeat {
			b := a
			if a.op == opCold && a.repeat > 1 {
				b.state = filepath.Join(a.state, fmt.Sprint(i))
			}
			if err := refreshLookup(ctx, b); err != nil {
				return nil, err
			}
		}
	case opFleet:
		return res, fleet(ctx, a, res)
	case opLive, opLookup, opDownload, opIdle:
		if err := refreshed(ctx, a, t, res); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("bench-op: unknown operation %q", a.op)
	}
	return res, t.end(res)
}

// refreshed runs the operations that start on a refreshed client, and
// begins the timer where their timed part starts.
func refreshed(ctx context.Context, a opArgs, t *timer, res *opResult) error {
	c, err := openClient(a)
	if err != nil {
		return err
	}
	defer c.close()
	if err := c.refresh(ctx); err != nil {
		return err
	}
	switch a.op {
	case opLive:
		if err := t.begin(); err != nil {
			return err
		}
		return c.refreshAgain(ctx)
	case opIdle:
		if err := t.begin(); err != nil {
			return err
		}
		for range a.refreshes {
			if err := c.refreshAgain(ctx); err != nil {
				return err
			}
		}
		res.Refreshes = a.refreshes
		return nil
	case opLookup:
		// The target's lookup fetches its bin, if any, before the timer.
		if err := c.lookup(ctx, a.target); err != nil {
			return err
		}
		names := lookupNames(a.target, a.targets, a.lookups, a.bins)
		pass := func() error {
			for _, p := range names {
				if err := c.lookup(ctx, p); err != nil {
					return err
				}
			}
			return nil
		}
		if err := t.begin(); err != nil {
			return err
		}
		if err := pass(); err != nil {
			return err
		}
		again := time.Now()
		if err := pass(); err != nil {
			return err
		}
		res.Repeat = time.Since(again).Seconds()
		res.Lookups = len(names)
		return nil
	}
	// opDownload
	if err := c.lookup(ctx, largeName); err != nil {
		return err
	}
	dest := filepath.Join(a.state, "download")
	if err := t.begin(); err != nil {
		return err
	}
	return c.download(ctx, dest)
}

// refreshLookup is a cold or warm run: a new client, a refresh, one lookup.
func refreshLookup(ctx context.Context, a opArgs) error {
	c, err := openClient(a)
	if err != nil {
		return err
	}
	defer c.close()
	if err := c.refresh(ctx); err != nil {
		return err
	}
	return c.lookup(ctx, a.target)
}

// lookupNames returns the target paths an opLookup looks up: up to n
// distinct ones, in an order drawn at random with a fixed seed (the same
// for both clients), other than target; for succinct bins, those in
// target's bin, which the untimed lookup of target fetched.
func lookupNames(target string, targets, n int, bins bool) []string {
	var out []string
	for i := range targets {
		if p := targetPath(i); p != target && (!bins || binOf(p) == binOf(target)) {
			out = append(out, p)
		}
	}
	r := rand.New(rand.NewChaCha8([32]byte{}))
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out[:min(n, len(out))]
}

// tufClient is what the benchmark does with a TUF client.
type tufClient interface {
	refresh(ctx context.Context) error
	// refreshAgain refreshes a second time in this process.
	refreshAgain(ctx context.Context) error
	// lookup finds path, remembering it for download.
	lookup(ctx context.Context, path string) error
	download(ctx context.Context, dest string) error
	close()
}

func openClient(a opArgs) (tufClient, error) {
	meta := a.server + a.repo + "/metadata/"
	targets := a.server + a.repo + "/targets/"
	root, err := os.ReadFile(filepath.Join(a.dir, a.repo, "root.json"))
	if err != nil {
		return nil, err
	}
	switch a.client {
	case clientLatch:
		c, err := client.New(client.Config{
			TrustedRoot:  root,
			MetadataURLs: []string{meta},
			TargetURLs:   []string{targets},
			StateDir:     a.state,
		}, client.WithClock(func() time.Time { return benchNow }),
			client.WithLimits(client.Limits{Snapshot: metaLimit, Targets: metaLimit}))
		if err != nil {
			return nil, err
		}
		return &latchClient{c: c}, nil
	case clientGoTUF:
		g := &goTUF{root: root, meta: meta, targets: targets, dir: a.state}
		return g, g.open()
	}
	return nil, fmt.Errorf("bench-op: unknown client %q", a.client)
}

type latchClient struct {
	c *client.Client
	t *client.Target
}

func (l *latchClient) refresh(ctx context.Context) error      { return l.c.Refresh(ctx) }
func (l *latchClient) refreshAgain(ctx context.Context) error { return l.c.Refresh(ctx) }
func (l *latchClient) close()                                 { l.c.Close() }

func (l *latchClient) lookup(ctx context.Context, path string) error {
	t, err := l.c.Target(ctx, path)
	l.t = t
	return err
}

func (l *latchClient) download(ctx context.Context, dest string) error {
	return l.c.DownloadFile(ctx, l.t, dest)
}

// goTUF drives go-tuf v2's updater as its documentation shows: the trusted
// root is the cached root.json once there is one.
type goTUF struct {
	root               []byte
	meta, targets, dir string
	up                 *updater.Updater
	t                  *metadata.TargetFiles
}

func (g *goTUF) open() error {
	metaDir := filepath.Join(g.dir, "metadata")
	root, err := os.ReadFile(filepath.Join(metaDir, "root.json"))
	if errors.Is(err, os.ErrNotExist) {
		root, err = g.root, nil
	}
	if err != nil {
		return err
	}
	cfg, err := config.New(g.meta, root)
	if err != nil {
		return err
	}
	cfg.LocalMetadataDir = metaDir
	cfg.LocalTargetsDir = filepath.Join(g.dir, "targets")
	cfg.RemoteTargetsURL = g.targets
	cfg.SnapshotMaxLength = metaLimit
	cfg.TargetsMaxLength = metaLimit
	if g.up, err = updater.New(cfg); err != nil {
		return err
	}
	g.up.UnsafeSetRefTime(benchNow)
	return nil
}

func (g *goTUF) refresh(context.Context) error { return g.up.Refresh() }

// refreshAgain creates a new updater: go-tuf's Updater refreshes only once
// in its lifetime.
func (g *goTUF) refreshAgain(context.Context) error {
	if err := g.open(); err != nil {
		return err
	}
	return g.up.Refresh()
}

func (g *goTUF) lookup(_ context.Context, path string) error {
	t, err := g.up.GetTargetInfo(path)
	g.t = t
	return err
}

func (g *goTUF) download(_ context.Context, dest string) error {
	_, _, err := g.up.DownloadTarget(g.t, dest, "")
	return err
}

func (g *goTUF) close() {}
