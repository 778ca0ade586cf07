package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// rowKind says how a row is measured and shown.
type rowKind int

const (
	kindRefresh  rowKind = iota // latch vs go-tuf (and a floor), with RSS
	kindLive                    // latch vs go-tuf, RSS not the operation's own
	kindLookup                  // per-lookup time
	kindDownload                // latch vs go-tuf vs a floor, with RSS and throughput
	kindFloor                   // a floor alone, no TUF client
	kindIdle                    // per idle refresh of one long-lived client: the fleet table
	kindFleet                   // the fleet refreshing at once, one sample per round: the fleet table
)

// stat is the spread of a row's samples.
type stat struct {
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	Max    float64 `json:"max"`
}

// series is the samples of one client (or floor) in one row.
type series struct {
	Seconds []float64 `json:"seconds"`
	Time    stat      `json:"time_seconds"`
	MaxRSS  []int64   `json:"max_rss_bytes,omitempty"`
	RSS     *stat     `json:"max_rss,omitempty"` // bytes; nil where the peak isn't the operation's own
	// Wire is what the server saw during each sample's timed part; only the
	// first sample keeps its list of requests.
	Wire []wireStats `json:"wire"`
	// BytesPerSecond is the median throughput of rows that move the large
	// target.
	BytesPerSecond float64 `json:"bytes_per_second,omitempty"`
}

// row is one line of the table.
type row struct {
	Name  string  `json:"name"`
	Latch *series `json:"latch,omitempty"`
	GoTUF *series `json:"go_tuf,omitempty"`
	Floor *series `json:"floor,omitempty"`
	// Ratio is latch's time over go-tuf's, FloorRatio latch's over the
	// floor's, run by run (the i-th sample of each, measured one after the
	// other), with their spread.
	Ratio      *stat  `json:"ratio,omitempty"`
	FloorRatio *stat  `json:"floor_ratio,omitempty"`
	Note       string `json:"note,omitempty"`

	kind  rowKind
	bytes int64 // moved by kindDownload and kindFloor rows
}

// report is the benchmark's result, as printed and as written by -json.
type report struct {
	Command  string      `json:"command"`
	Machine  machineInfo `json:"machine"`
	Settings string      `json:"settings"`
	// BaselineRSS is the peak RSS of a child that does nothing: the Go
	// runtime and this program's code, part of every row's RSS.
	BaselineRSS int64 `json:"baseline_max_rss_bytes"`
	// ParentRSS is this process's peak RSS (Linux only): on Linux no
	// child's max RSS reads below it, since until exec a child runs in its
	// parent's memory. That is why the repositories are generated in a child.
	ParentRSS int64 `json:"parent_max_rss_bytes,omitempty"`
	// Load is the system's load average over a minute at the start and at
	// the end of the run, where the system tells: other work on the machine
	// inflates every time and widens every spread.
	Load []float64 `json:"load_average,omitempty"`
	Rows []*row    `json:"rows"`
	// FleetRepo is the repository of the idle and fleet rows, Idle the
	// refreshes of each idle run, Clients the size of the fleet.
	FleetRepo string `json:"fleet_repo,omitempty"`
	Idle      int    `json:"idle_refreshes,omitempty"`
	Clients   int    `json:"fleet_clients,omitempty"`
	Profile   string `json:"profile,omitempty"`
}

// runner runs bench-op children against one serve process.
type runner struct {
	s        settings
	exe      string
	server   string // base URL
	control  string // base URL of the server's control listener
	repos    string // directory of the generated repositories
	work     string // directory for state directories
	progress io.Writer
	rows     []*row
}

// step is one measured child: a client (or the floor) running an operation
// for a row.
type step struct {
	row    *row
	cl, op string
}

// run generates the repositories, measures and prints the table on out;
// progress goes to progress. exe is this program (a test binary in tests).
func run(s settings, exe string, out, progress io.Writer) (*report, error) {
	base, err := os.MkdirTemp(s.dir, "latch-bench-")
	if err != nil {
		return nil, err
	}
	if s.keep {
		fmt.Fprintln(progress, "keeping", base)
	} else {
		defer os.RemoveAll(base)
	}
	m := machine(s.dir) // now: the commit is that of the code being measured
	loadStart, hasLoad := loadAverage()
	r := &runner{s: s, exe: exe, repos: filepath.Join(base, "repos"), work: filepath.Join(base, "work"), progress: progress}
	if err := os.MkdirAll(r.work, 0o755); err != nil {
		return nil, err
	}

	tufRepos, large := plan(s)
	infos, err := r.generate()
	if err != nil {
		return nil, err
	}

	stop, err := r.startServer()
	if err != nil {
		return nil, err
	}
	defer stop()

	for _, t := range tufRepos {
		if s.lookupsOnly && t.lookup == "" {
			continue
		}
		if err := r.refreshRows(t, infos[t.spec.name]); err != nil {
			return nil, err
		}
	}
	// The fleet's repository is the smallest flat one: an idle refresh
	// fetches no targets, and the fleet's clients each hold theirs.
	smallest := tufRepos[slices.IndexFunc(tufRepos, func(t tufRepo) bool { return t.spec.name == fmt.Sprintf("flat-%d", slices.Min(s.flat)) })]
	if !s.lookupsOnly {
		if err := r.downloadRows(large, infos[large.name]); err != nil {
			return nil, err
		}
		if err := r.fleetRows(smallest); err != nil {
			return nil, err
		}
	}
	rep := &report{Command: s.command, Machine: m, Settings: describe(s), Rows: r.rows,
		FleetRepo: smallest.label, Idle: s.idle, Clients: s.fleet}
	if loadEnd, ok := loadAverage(); hasLoad && ok {
		rep.Load = []float64{loadStart, loadEnd}
	}
	if _, rep.BaselineRSS, err = r.child(clientPlain, opNoop); err != nil {
		return nil, err
	}
	rep.ParentRSS = selfPeakRSS()
	if s.cpuprofile != "" {
		largest := slices.Max(s.flat)
		if rep.Profile, err = r.profile(fmt.Sprintf("flat-%d", largest), largest); err != nil {
			return nil, err
		}
	}
	finish(rep)
	if err := printText(out, rep); err != nil {
		return nil, err
	}
	return rep, writeOutputs(s, rep)
}

// refreshRows measures the rows of one repository both clients refresh
// from: cold, warm in a new process, warm on a long-lived client, and
// lookups; the floors of the cold and warm rows run right after latch's.
func (r *runner) refreshRows(t tufRepo, info repoInfo) error {
	var cold, warm, live *row
	if !r.s.lookupsOnly {
		cold = r.row("cold refresh + lookup, "+t.label, kindRefresh)
		warm = r.row("warm refresh + lookup, new process, "+t.label, kindRefresh)
		live = r.row("warm refresh, long-lived client, "+t.label, kindLive)
		cold.Note = "targets.json " + mib(info.TargetsSize)
		if t.spec.bins {
			cold.Note = fmt.Sprintf("bin of %s", mib(info.BinSize))
		}
	}
	target := targetPath(t.spec.targets / 2)
	common := []string{"-repo", t.spec.name, "-target", target, fmt.Sprintf("-bins=%v", t.spec.bins)}
	var first, again *row
	if t.lookup != "" {
		// The same names for both clients, in the same order (lookupNames).
		n := count(len(lookupNames(target, t.spec.targets, r.s.lookups, t.spec.bins)))
		where := "random names"
		if t.spec.bins {
			where = "random names of the bin fetched"
		}
		first = r.row(fmt.Sprintf("%s, first lookup of each of %s %s after start (per lookup)", t.lookup, n, where), kindLookup)
		again = r.row(fmt.Sprintf("%s, the same %s names again (per lookup)", t.lookup, n), kindLookup)
	}
	for rep := range r.s.reps {
		for _, cl := range alternate([]string{clientLatch, clientGoTUF}, rep) {
			err := r.withState(cl, func(state string) error {
				args := append([]string{"-state", state}, common...)
				if r.s.lookupsOnly {
					// The state a cold run leaves, untimed: lookups follow a
					// warm start.
					if _, _, err := r.child(cl, opCold, args...); err != nil {
						return err
					}
					return r.lookupRows(first, again, cl, append(args, "-targets", fmt.Sprint(t.spec.targets)))
				}
				steps := []step{{cold, cl, opCold}}
				if cl == clientLatch && !t.spec.pretty {
					// Pretty-printed signed bytes aren't canonical: a signature
					// check needs a canonical copy, no floor's best case.
					steps = append(steps, step{cold, clientPlain, opColdFloor})
				}
				steps = append(steps, step{warm, cl, opWarm})
				if cl == clientLatch {
					steps = append(steps, step{warm, clientPlain, opWarmFloor})
				}
				steps = append(steps, step{live, cl, opLive})
				for _, m := range steps {
					if err := r.measure(m.row, m.cl, m.op, args...); err != nil {
						return err
					}
				}
				if t.lookup == "" {
					return nil
				}
				return r.lookupRows(first, again, cl, append(args, "-targets", fmt.Sprint(t.spec.targets)))
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// lookupRows runs one opLookup child of client cl and adds its passes to
// the rows first and again.
func (r *runner) lookupRows(first, again *row, cl string, args []string) error {
	res, rss, err := r.child(cl, opLookup, append(args, "-lookups", fmt.Sprint(r.s.lookups))...)
	if err != nil {
		return err
	}
	r.add(first, cl, &opResult{Seconds: res.Seconds - res.Repeat, Lookups: res.Lookups, Wire: res.Wire}, rss)
	r.add(again, cl, &opResult{Seconds: res.Repeat, Lookups: res.Lookups}, rss)
	return nil
}

// downloadRows measures the download of the large target by both clients
// beside its floors: GET + SHA-256 + write, with fsync (the download row's
// floor: latch fsyncs before its rename) and without; then SHA-256 alone.
func (r *runner) downloadRows(large repoSpec, info repoInfo) error {
	s := r.s
	size := count64(s.size)
	dl := r.row("download + verify, "+size, kindDownload)
	get := r.row("floor: GET + SHA-256 + write, no fsync, "+size, kindFloor)
	sum := r.row("floor: SHA-256 in memory, "+size, kindFloor)
	dl.bytes, get.bytes, sum.bytes = s.size, s.size, s.size
	for rep := range s.dlReps {
		for _, m := range alternate([]step{{dl, clientLatch, opDownload}, {dl, clientGoTUF, opDownload}, {dl, clientPlain, opGetSync}, {get, clientPlain, opGet}}, rep) {
			err := r.withState(m.cl, func(state string) error {
				return r.measure(m.row, m.cl, m.op, "-repo", large.name, "-state", state,
					"-size", fmt.Sprint(s.size), "-sha256", info.LargeSHA256)
			})
			if err != nil {
				return err
			}
		}
	}
	for range s.reps {
		if err := r.measure(sum, clientPlain, opSHA256, "-size", fmt.Sprint(s.size), "-state", r.work); err != nil {
			return err
		}
	}
	return nil
}

// fleetRows measures the fleet cost on repository t: s.idle idle refreshes
// of one long-lived client of each kind on a warm state, then s.fleet latch
// clients refreshing at once, s.reps rounds in one child. Either may be 0:
// not measured.
func (r *runner) fleetRows(t tufRepo) error {
	s := r.s
	common := []string{"-repo", t.spec.name, "-target", targetPath(t.spec.targets / 2)}
	if s.idle > 0 {
		idle := r.row(fmt.Sprintf("idle refresh, long-lived client, %s (per refresh)", t.label), kindIdle)
		for rep := range s.reps {
			for _, cl := range alternate([]string{clientLatch, clientGoTUF}, rep) {
				err := r.withState(cl, func(state string) error {
					// A cold run first, in a child of its own, untimed: the
					// idle client starts on a warm state, as a long-lived
					// one would, not just after writing it all.
					args := append([]string{"-state", state}, common...)
					if _, _, err := r.child(cl, opCold, args...); err != nil {
						return err
					}
					return r.measure(idle, cl, opIdle, append(args, "-refreshes", fmt.Sprint(s.idle))...)
				})
				if err != nil {
					return err
				}
			}
		}
	}
	if s.fleet == 0 {
		return nil
	}
	fl := r.row(fmt.Sprintf("%s long-lived latch clients refresh at once, %s", count(s.fleet), t.label), kindFleet)
	return r.withState("fleet", func(state string) error {
		res, rss, err := r.child(clientLatch, opFleet, append([]string{"-state", state, "-clients", fmt.Sprint(s.fleet), "-rounds", fmt.Sprint(s.reps)}, common...)...)
		if err != nil {
			return err
		}
		for _, round := range res.Rounds {
			r.add(fl, clientLatch, &round, rss)
		}
		return nil
	})
}

// withState runs f on a new state directory, named after cl, and removes
// it after.
func (r *runner) withState(cl string, f func(state string) error) error {
	state, err := os.MkdirTemp(r.work, cl+"-")
	if err != nil {
		return err
	}
	if err := f(state); err != nil {
		os.RemoveAll(state)
		return err
	}
	return os.RemoveAll(state)
}

// tufRepo is a generated repository that both clients refresh from, with
// the label its rows carry.
type tufRepo struct {
	spec   repoSpec
	label  string
	lookup string // what its lookup rows start with; empty: none
}

// plan lists the repositories s asks for: the ones both clients refresh
// from, and the one with the large target.
func plan(s settings) ([]tufRepo, repoSpec) {
	var repos []tufRepo
	largest := slices.Max(s.flat)
	for _, n := range s.flat {
		t := tufRepo{spec: repoSpec{name: fmt.Sprintf("flat-%d", n), targets: n}, label: "flat " + count(n)}
		if n == largest {
			t.lookup = "lookup, flat " + count(n)
		}
		repos = append(repos, t)
	}
	if s.pretty {
		repos = append(repos, tufRepo{spec: repoSpec{name: fmt.Sprintf("flat-%d-pretty", largest), targets: largest, pretty: true},
			label: "flat " + count(largest) + " pretty"})
	}
	if s.bins > 0 {
		label := count(s.bins) + " in 256 bins"
		repos = append(repos, tufRepo{spec: repoSpec{name: fmt.Sprintf("bins-%d", s.bins), targets: s.bins, bins: true},
			label: label, lookup: "lookup, delegated, " + label})
	}
	return repos, repoSpec{name: "large", large: s.size}
}

// generate writes the repositories in a child process (the gen subcommand):
// on Linux a child's peak RSS starts at the parent's (the parent's memory is
// what the child runs in until exec), so the parent must stay small.
func (r *runner) generate() (map[string]repoInfo, error) {
	s := r.s
	cmd := exec.Command(r.exe, "gen", r.repos, "-flat", strings.Join(mapSlice(s.flat, strconv.Itoa), ","),
		fmt.Sprintf("-pretty=%v", s.pretty), "-bins", fmt.Sprint(s.bins), "-size", fmt.Sprint(s.size))
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, r.progress
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("generating the repositories: %w", err)
	}
	infos := map[string]repoInfo{}
	return infos, json.Unmarshal(stdout.Bytes(), &infos)
}

// genMain is the gen subcommand: gen DIR [settings flags] writes the
// repositories the settings ask for under DIR and prints what the parent
// needs to know of them as JSON.
func genMain(args []string) error {
	if len(args) < 1 {
		return fmt.Errorf("gen: want a directory")
	}
	s, err := parseSettings(args[1:])
	if err != nil {
		return err
	}
	kr, err := newKeyring()
	if err != nil {
		return err
	}
	tufRepos, large := plan(s)
	infos := map[string]repoInfo{}
	for _, spec := range append(mapSlice(tufRepos, func(t tufRepo) repoSpec { return t.spec }), large) {
		start := time.Now()
		info, err := generate(args[0], spec, kr)
		if err != nil {
			return fmt.Errorf("generating %s: %w", spec.name, err)
		}
		infos[spec.name] = info
		fmt.Fprintf(os.Stderr, "generated %s in %.1fs (targets.json %s)\n", spec.name, time.Since(start).Seconds(), mib(info.TargetsSize))
	}
	return json.NewEncoder(os.Stdout).Encode(infos)
}

// profileRuns is how many latch cold runs the CPU profile covers: one
// takes a few hundred milliseconds, too few samples for a breakdown.
const profileRuns = 10

// profile runs latch cold refresh + lookup profileRuns times in one child,
// with a CPU profile.
func (r *runner) profile(repo string, n int) (string, error) {
	var desc string
	err := r.withState("profile", func(state string) error {
		res, _, err := r.child(clientLatch, opCold, "-repo", repo, "-state", state, "-target", targetPath(n/2),
			"-cpuprofile", r.s.cpuprofile, "-repeat", fmt.Sprint(profileRuns))
		if err != nil {
			return err
		}
		desc = fmt.Sprintf("%s: %d latch cold refreshes + lookups, %s, %s each", r.s.cpuprofile, profileRuns, repo, seconds(res.Seconds/profileRuns))
		return nil
	})
	return desc, err
}

// alternate rotates xs by rep, so that no client always runs first.
func alternate[T any](xs []T, rep int) []T {
	k := rep % len(xs)
	return append(slices.Clone(xs[k:]), xs[:k]...)
}

func mapSlice[T, U any](xs []T, f func(T) U) []U {
	out := make([]U, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

// row returns the row called name, adding it at the end of the table the
// first time.
func (r *runner) row(name string, kind rowKind) *row {
	for _, rw := range r.rows {
		if rw.Name == name {
			return rw
		}
	}
	rw := &row{Name: name, kind: kind}
	r.rows = append(r.rows, rw)
	return rw
}

// measure runs one child and adds its sample to rw.
func (r *runner) measure(rw *row, cl, op string, args ...string) error {
	res, rss, err := r.child(cl, op, args...)
	if err != nil {
		return err
	}
	r.add(rw, cl, res, rss)
	return nil
}

// add adds the sample res of client cl, whose process peaked at rss, to rw.
func (r *runner) add(rw *row, cl string, res *opResult, rss int64) {
	var s **series
	switch cl {
	case clientLatch:
		s = &rw.Latch
	case clientGoTUF:
		s = &rw.GoTUF
	default:
		s = &rw.Floor
	}
	if *s == nil {
		*s = &series{}
	}
	secs := res.Seconds
	if n := res.Lookups + res.Refreshes; n > 0 {
		secs /= float64(n)
	}
	wire := res.Wire
	if len((*s).Wire) > 0 {
		wire.Requests = nil
	}
	(*s).Seconds = append((*s).Seconds, secs)
	(*s).MaxRSS = append((*s).MaxRSS, rss)
	(*s).Wire = append((*s).Wire, wire)
	fmt.Fprintf(r.progress, "%-6s %-60s %10s  max RSS %s\n", cl, rw.Name, seconds(secs), mib(rss))
}

// child runs one bench-op and returns its result and peak RSS in bytes.
func (r *runner) child(cl, op string, args ...string) (*opResult, int64, error) {
	argv := append([]string{"bench-op", "-client", cl, "-op", op, "-server", r.server, "-control", r.control, "-dir", r.repos}, args...)
	flushDisk()
	cmd := exec.Command(r.exe, argv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, 0, fmt.Errorf("%s %s %s: %w\n%s", cl, op, strings.Join(args, " "), err, stderr.String())
	}
	var res opResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return nil, 0, fmt.Errorf("%s %s: result: %w", cl, op, err)
	}
	return &res, maxRSS(cmd.ProcessState), nil
}

// startServer starts the serve child and returns a function that stops it.
func (r *runner) startServer() (func(), error) {
	cmd := exec.Command(r.exe, "serve", "-dir", r.repos)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr // not progress: written from another goroutine
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop := func() {
		stdin.Close() // the server exits when its stdin closes
		cmd.Wait()
	}
	if r.server, r.control, err = readServerURLs(stdout); err != nil {
		stop()
		return nil, err
	}
	fmt.Fprintln(r.progress, "serving at", r.server)
	return stop, nil
}
