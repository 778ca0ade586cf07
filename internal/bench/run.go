package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// rowKind says how a row is measured and shown.
type rowKind int

const (
	kindRefresh  rowKind = iota // latch vs go-tuf, with RSS
	kindLive                    // latch vs go-tuf, RSS not the operation's own
	kindLookup                  // per-lookup time
	kindDownload                // latch vs go-tuf, with RSS and throughput
	kindFloor                   // one series, no TUF client
)

// series is the samples of one client in one row.
type series struct {
	Seconds       []float64 `json:"seconds"`
	MedianSeconds float64   `json:"median_seconds"`
	MaxRSS        []int64   `json:"max_rss_bytes,omitempty"`
	MedianMaxRSS  int64     `json:"median_max_rss_bytes,omitempty"`
	// Requests are the paths the first sample fetched during its timed part.
	Requests []string `json:"requests,omitempty"`
	// BytesPerSecond is for rows that move the large target.
	BytesPerSecond float64 `json:"bytes_per_second,omitempty"`
}

// row is one line of the table.
type row struct {
	Name  string  `json:"name"`
	Latch *series `json:"latch,omitempty"`
	GoTUF *series `json:"go_tuf,omitempty"`
	Floor *series `json:"floor,omitempty"`
	// Ratio is latch's median time over go-tuf's; RSSRatio the same for
	// the median peak RSS.
	Ratio    float64 `json:"ratio,omitempty"`
	RSSRatio float64 `json:"rss_ratio,omitempty"`
	Note     string  `json:"note,omitempty"`

	kind  rowKind
	bytes int64 // moved by kindDownload and kindFloor rows
}

// report is the benchmark's result, as printed and as written by -json.
type report struct {
	Machine  string `json:"machine"`
	Settings string `json:"settings"`
	// BaselineRSS is the peak RSS of a child that does nothing: the Go
	// runtime and this program's code, part of every row's RSS.
	BaselineRSS int64 `json:"baseline_max_rss_bytes"`
	// ParentRSS is this process's peak RSS (Linux only): on Linux no
	// child's max RSS reads below it, since until exec a child runs in its
	// parent's memory. That is why the repositories are generated in a child.
	ParentRSS int64  `json:"parent_max_rss_bytes,omitempty"`
	Rows      []*row `json:"rows"`
	Profile   string `json:"profile,omitempty"`
}

// runner runs bench-op children against one serve process.
type runner struct {
	s        settings
	exe      string
	server   string // base URL
	repos    string // directory of the generated repositories
	work     string // directory for state directories
	progress io.Writer
	rows     []*row
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
	r := &runner{s: s, exe: exe, repos: filepath.Join(base, "repos"), work: filepath.Join(base, "work"), progress: progress}
	if err := os.MkdirAll(r.work, 0o755); err != nil {
		return nil, err
	}

	tufRepos, large := plan(s)
	largest := slices.Max(s.flat)
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
		cold := r.row("cold refresh + lookup, "+t.label, kindRefresh)
		warm := r.row("warm refresh + lookup, new process, "+t.label, kindRefresh)
		live := r.row("warm refresh, long-lived client, "+t.label, kindLive)
		cold.Note = "targets.json " + mib(infos[t.spec.name].TargetsSize)
		if t.spec.bins {
			cold.Note = fmt.Sprintf("bin of %s", mib(infos[t.spec.name].BinSize))
		}
		target := targetPath(t.spec.targets / 2)
		common := []string{"-repo", t.spec.name, "-target", target}
		for rep := range s.reps {
			for _, cl := range alternate([]string{clientLatch, clientGoTUF}, rep) {
				state, err := os.MkdirTemp(r.work, cl+"-")
				if err != nil {
					return nil, err
				}
				args := append([]string{"-state", state}, common...)
				for _, m := range []struct {
					row *row
					op  string
				}{{cold, opCold}, {warm, opWarm}, {live, opLive}} {
					if err := r.measure(m.row, cl, m.op, args...); err != nil {
						return nil, err
					}
				}
				if t.lookup != "" {
					lr := r.row(t.lookup, kindLookup)
					la := append(args, "-targets", fmt.Sprint(t.spec.targets), fmt.Sprintf("-bins=%v", t.spec.bins), "-lookups", fmt.Sprint(s.lookups))
					if err := r.measure(lr, cl, opLookup, la...); err != nil {
						return nil, err
					}
				}
				if err := os.RemoveAll(state); err != nil {
					return nil, err
				}
			}
		}
	}

	size := count64(s.size)
	dl := r.row("download + verify, "+size, kindDownload)
	get := r.row("floor: GET + sha256 + write, "+size, kindFloor)
	getSync := r.row("floor: GET + sha256 + write + fsync, "+size, kindFloor)
	sum := r.row("floor: sha256 in memory, "+size, kindFloor)
	dl.bytes, get.bytes, getSync.bytes, sum.bytes = s.size, s.size, s.size, s.size
	sumHex := infos[large.name].LargeSHA256
	for rep := range s.dlReps {
		for _, m := range alternate([]struct {
			row    *row
			cl, op string
		}{{dl, clientLatch, opDownload}, {dl, clientGoTUF, opDownload}, {get, clientPlain, opGet}, {getSync, clientPlain, opGetSync}}, rep) {
			state, err := os.MkdirTemp(r.work, m.cl+"-")
			if err != nil {
				return nil, err
			}
			if err := r.measure(m.row, m.cl, m.op, "-repo", large.name, "-state", state,
				"-size", fmt.Sprint(s.size), "-sha256", sumHex); err != nil {
				return nil, err
			}
			if err := os.RemoveAll(state); err != nil {
				return nil, err
			}
		}
	}
	for range s.reps {
		if err := r.measure(sum, clientPlain, opSHA256, "-size", fmt.Sprint(s.size), "-state", r.work); err != nil {
			return nil, err
		}
	}

	rep := &report{Machine: machine(), Settings: describe(s), Rows: r.rows}
	if _, rep.BaselineRSS, err = r.child(clientPlain, opNoop); err != nil {
		return nil, err
	}
	rep.ParentRSS = selfPeakRSS()
	if s.cpuprofile != "" {
		if rep.Profile, err = r.profile(fmt.Sprintf("flat-%d", largest), largest); err != nil {
			return nil, err
		}
	}
	finish(rep)
	if err := printTable(out, rep); err != nil {
		return nil, err
	}
	if s.jsonOut != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(s.jsonOut, append(b, '\n'), 0o644); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// tufRepo is a generated repository that both clients refresh from, with
// the label its rows carry.
type tufRepo struct {
	spec   repoSpec
	label  string
	lookup string // name of its lookup row; empty: none
}

// plan lists the repositories s asks for: the ones both clients refresh
// from, and the one with the large target.
func plan(s settings) ([]tufRepo, repoSpec) {
	var repos []tufRepo
	largest := slices.Max(s.flat)
	for _, n := range s.flat {
		t := tufRepo{spec: repoSpec{name: fmt.Sprintf("flat-%d", n), targets: n}, label: "flat " + count(n)}
		if n == largest {
			t.lookup = "lookup, flat " + count(n) + " (per lookup)"
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
			label: label, lookup: "lookup, delegated, " + label + " (per lookup)"})
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
	state, err := os.MkdirTemp(r.work, "profile-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(state)
	res, _, err := r.child(clientLatch, opCold, "-repo", repo, "-state", state, "-target", targetPath(n/2),
		"-cpuprofile", r.s.cpuprofile, "-repeat", fmt.Sprint(profileRuns))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s: %d latch cold refreshes + lookups, %s, %s each", r.s.cpuprofile, profileRuns, repo, seconds(res.Seconds/profileRuns)), nil
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
		*s = &series{Requests: res.Requests}
	}
	secs := res.Seconds
	if res.Lookups > 0 {
		secs /= float64(res.Lookups)
	}
	(*s).Seconds = append((*s).Seconds, secs)
	(*s).MaxRSS = append((*s).MaxRSS, rss)
	fmt.Fprintf(r.progress, "%-6s %-58s %10s  max RSS %s\n", cl, rw.Name, seconds(secs), mib(rss))
	return nil
}

// child runs one bench-op and returns its result and peak RSS in bytes.
func (r *runner) child(cl, op string, args ...string) (*opResult, int64, error) {
	argv := append([]string{"bench-op", "-client", cl, "-op", op, "-server", r.server, "-dir", r.repos}, args...)
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
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		stop()
		return nil, fmt.Errorf("server: %w", err)
	}
	r.server = strings.TrimSpace(line)
	fmt.Fprintln(r.progress, "serving at", r.server)
	return stop, nil
}

// finish computes medians, ratios and notes.
func finish(rep *report) {
	for _, rw := range rep.Rows {
		for _, s := range []*series{rw.Latch, rw.GoTUF, rw.Floor} {
			if s == nil {
				continue
			}
			s.MedianSeconds = median(s.Seconds)
			s.MedianMaxRSS = median(s.MaxRSS)
			if rw.kind == kindLive || rw.kind == kindLookup {
				s.MaxRSS, s.MedianMaxRSS = nil, 0
			}
			if rw.bytes > 0 {
				s.BytesPerSecond = float64(rw.bytes) / s.MedianSeconds
			}
		}
	}
	for _, rw := range rep.Rows {
		if rw.Latch != nil && rw.GoTUF != nil {
			rw.Ratio = rw.Latch.MedianSeconds / rw.GoTUF.MedianSeconds
			if rw.Latch.MedianMaxRSS > 0 && rw.GoTUF.MedianMaxRSS > 0 {
				rw.RSSRatio = float64(rw.Latch.MedianMaxRSS) / float64(rw.GoTUF.MedianMaxRSS)
			}
		}
		var notes []string
		if rw.Note != "" {
			notes = append(notes, rw.Note)
		}
		switch rw.kind {
		case kindRefresh, kindLive:
			notes = append(notes, fmt.Sprintf("requests %d/%d", len(rw.Latch.Requests), len(rw.GoTUF.Requests)))
			if lb, gb := bins(rw.Latch.Requests), bins(rw.GoTUF.Requests); lb+gb > 0 {
				notes = append(notes, fmt.Sprintf("bins fetched %d/%d", lb, gb))
			}
			if rw.kind == kindLive {
				notes = append(notes, "go-tuf: new Updater, same process")
			}
		case kindDownload:
			notes = append(notes, fmt.Sprintf("%s vs %s", rate(rw.Latch.BytesPerSecond), rate(rw.GoTUF.BytesPerSecond)))
			for _, f := range rep.Rows {
				if f.kind == kindFloor && strings.HasPrefix(f.Name, "floor: GET") && f.Floor != nil {
					suffix := ""
					if strings.Contains(f.Name, "fsync") {
						suffix = " with fsync"
					}
					notes = append(notes, fmt.Sprintf("latch %.0f%% of floor%s", 100*rw.Latch.BytesPerSecond/f.Floor.BytesPerSecond, suffix))
				}
			}
		case kindFloor:
			notes = append(notes, rate(rw.Floor.BytesPerSecond))
		}
		rw.Note = strings.Join(notes, "; ")
	}
}

func bins(paths []string) int {
	n := 0
	for _, p := range paths {
		if strings.Contains(p, "."+binPrefix+"-") {
			n++
		}
	}
	return n
}

func median[T int64 | float64](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func printTable(out io.Writer, rep *report) error {
	fmt.Fprintf(out, "machine: %s\nsettings: %s\nmax RSS of a child that does nothing: %s", rep.Machine, rep.Settings, mib(rep.BaselineRSS))
	if rep.ParentRSS > 0 {
		fmt.Fprintf(out, " (no child's reads below this process's peak, %s)", mib(rep.ParentRSS))
	}
	fmt.Fprint(out, "\n\n")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "operation\tlatch\tgo-tuf\tlatch/go-tuf\tlatch max RSS\tgo-tuf max RSS\tRSS ratio\tnotes")
	for _, rw := range rep.Rows {
		cells := []string{rw.Name, "—", "—", "—", "—", "—", "—", rw.Note}
		if rw.Floor != nil {
			cells[1] = seconds(rw.Floor.MedianSeconds)
			cells[4] = mib(rw.Floor.MedianMaxRSS)
			cells[7] = "floor (no TUF client): " + rw.Note
		}
		if rw.Latch != nil {
			cells[1] = seconds(rw.Latch.MedianSeconds)
			cells[4] = mib(rw.Latch.MedianMaxRSS)
		}
		if rw.GoTUF != nil {
			cells[2] = seconds(rw.GoTUF.MedianSeconds)
			cells[5] = mib(rw.GoTUF.MedianMaxRSS)
		}
		if rw.Ratio > 0 {
			cells[3] = fmt.Sprintf("%.3f", rw.Ratio)
		}
		if rw.RSSRatio > 0 {
			cells[6] = fmt.Sprintf("%.3f", rw.RSSRatio)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if rep.Profile != "" {
		fmt.Fprintln(out, "\nCPU profile:", rep.Profile)
	}
	return nil
}

func seconds(s float64) string {
	switch {
	case s == 0:
		return "—"
	case s < 1e-3:
		return fmt.Sprintf("%.2f µs", s*1e6)
	case s < 1:
		return fmt.Sprintf("%.1f ms", s*1e3)
	}
	return fmt.Sprintf("%.2f s", s)
}

func mib(b int64) string {
	if b <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}

func rate(bps float64) string { return fmt.Sprintf("%.0f MiB/s", bps/(1<<20)) }

// count writes n with thousands separators.
func count(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// count64 writes a byte count in the largest binary unit that divides it.
func count64(b int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if b%u.size == 0 {
			return fmt.Sprintf("%d %s", b/u.size, u.name)
		}
	}
	return fmt.Sprintf("%d B", b)
}

func describe(s settings) string {
	return fmt.Sprintf("flat %v, pretty %v, bins %d, large target %s, %d runs per row (%d for downloads), %d lookups per lookup run, in %s",
		s.flat, s.pretty, s.bins, count64(s.size), s.reps, s.dlReps, s.lookups, s.dir)
}

// machine describes where the benchmark ran.
func machine() string {
	cpu := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v) + ", "
				break
			}
		}
	}
	return fmt.Sprintf("%s%d CPUs, %s/%s, %s", cpu, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
}
