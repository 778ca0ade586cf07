package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
)

// The markers of the block -readme replaces.
const (
	beginMarker = "<!-- bench:begin -->"
	endMarker   = "<!-- bench:end -->"
)

// finish computes the spreads, ratios and notes.
func finish(rep *report) {
	for _, rw := range rep.Rows {
		for _, s := range []*series{rw.Latch, rw.GoTUF, rw.Floor} {
			if s == nil {
				continue
			}
			s.Time = spread(s.Seconds)
			switch rw.kind {
			case kindRefresh, kindDownload, kindFloor, kindFleet:
				st := spread(s.MaxRSS)
				s.RSS = &st
			default: // the peak includes an untimed refresh
				s.MaxRSS = nil
			}
			if rw.bytes > 0 {
				s.BytesPerSecond = float64(rw.bytes) / s.Time.Median
			}
		}
		if rw.Latch != nil && rw.GoTUF != nil {
			rw.Ratio = ratios(rw.Latch.Seconds, rw.GoTUF.Seconds)
		}
		if rw.Latch != nil && rw.Floor != nil {
			rw.FloorRatio = ratios(rw.Latch.Seconds, rw.Floor.Seconds)
		}
		rw.Note = strings.Join(notes(rw), "; ")
	}
}

func notes(rw *row) []string {
	var out []string
	if rw.Note != "" {
		out = append(out, rw.Note)
	}
	switch rw.kind {
	case kindRefresh, kindLive:
		lr, gr := rw.Latch.Wire[0].Requests, rw.GoTUF.Wire[0].Requests
		out = append(out, fmt.Sprintf("requests %d/%d", len(lr), len(gr)))
		if lb, gb := bins(lr), bins(gr); lb+gb > 0 {
			out = append(out, fmt.Sprintf("bins fetched %d/%d", lb, gb))
		}
		if rw.kind == kindLive {
			out = append(out, "go-tuf: new Updater, same process")
		}
	case kindDownload:
		out = append(out, fmt.Sprintf("latch %s, go-tuf %s, floor %s", rate(rw.Latch.BytesPerSecond), rate(rw.GoTUF.BytesPerSecond), rate(rw.Floor.BytesPerSecond)))
		if r := rw.FloorRatio; r != nil {
			out = append(out, "latch at "+spreadString(stat{Min: 1 / r.Max, Median: 1 / r.Median, Max: 1 / r.Min}, len(rw.Latch.Seconds), plain(percent))+" of the floor's throughput")
		}
	case kindFloor:
		out = append(out, rate(rw.Floor.BytesPerSecond))
	}
	return out
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

// spread returns the minimum, median and maximum of xs.
func spread[T int | int64 | float64](xs []T) stat {
	if len(xs) == 0 {
		return stat{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	med := float64(s[len(s)/2])
	if len(s)%2 == 0 {
		med = (float64(s[len(s)/2-1]) + med) / 2
	}
	return stat{Min: float64(s[0]), Median: med, Max: float64(s[len(s)-1])}
}

// ratios returns the spread of a[i]/b[i]: pairs of samples measured one
// after the other, so that a load that comes and goes weighs on both.
func ratios(a, b []float64) *stat {
	var rs []float64
	for i := range min(len(a), len(b)) {
		if b[i] > 0 {
			rs = append(rs, a[i]/b[i])
		}
	}
	if len(rs) == 0 {
		return nil
	}
	st := spread(rs)
	return &st
}

// table is one table of the output, printed as text or as Markdown.
type table struct {
	title  string
	header []string
	rows   [][]string
	notes  []string // printed below the table
}

// tables lays the report out: the main table, then the fleet's.
func tables(rep *report) []table {
	main := table{header: []string{"operation", "latch", "go-tuf", "floor", "latch/go-tuf", "latch/floor", "latch max RSS", "go-tuf max RSS", "notes"}}
	var idle, fleet *row
	for _, rw := range rep.Rows {
		switch rw.kind {
		case kindIdle:
			idle = rw
			continue
		case kindFleet:
			fleet = rw
			continue
		}
		n := 0
		cells := []string{rw.Name, "—", "—", "—", "—", "—", "—", "—", rw.Note}
		for i, s := range []*series{rw.Latch, rw.GoTUF, rw.Floor} {
			if s != nil {
				n = len(s.Seconds)
				cells[1+i] = spreadString(s.Time, n, secondsIn)
			}
		}
		for i, r := range []*stat{rw.Ratio, rw.FloorRatio} {
			if r != nil {
				cells[4+i] = spreadString(*r, n, ratioIn)
			}
		}
		for i, s := range []*series{rw.Latch, rw.GoTUF} {
			if s != nil && s.RSS != nil {
				cells[6+i] = spreadString(*s.RSS, len(s.MaxRSS), plain(mibFloat))
			}
		}
		if rw.kind == kindFloor && rw.Floor.RSS != nil {
			cells[6] = spreadString(*rw.Floor.RSS, len(rw.Floor.MaxRSS), plain(mibFloat)) + " (floor)"
		}
		main.rows = append(main.rows, cells)
	}
	main.notes = []string{
		"Times and ratios: median (min–max) of the runs. A ratio is taken run by run, each pair measured one after the other, so a load that comes and goes weighs on both sides.",
		"Floor of a cold row: the same requests (next root: 404; timestamp, snapshot, targets and, with bins, the one bin), SHA-256 of each document as it arrives, then its ed25519 signature checked over the signed bytes beside one validating scan (json.Valid), on two cores; no lookup, nothing written. Pretty-printed signed bytes aren't canonical, so that row has no floor.",
		"Floor of a warm row (new process): read the trusted state and the cached root, timestamp and snapshot, then the same two requests (next root: 404; timestamp).",
		"Floor of the download: GET + SHA-256 while writing the file + fsync (latch fsyncs before its rename).",
		"go-tuf's Updater refreshes only once in its life: its long-lived column is a new Updater on the warm cache in the same process.",
		"Lookup rows: in one process per run, each client refreshes on the state its earlier runs left (latch: a warm start that reads the cached targets only as lookups need them; go-tuf: it loads and verifies them all first), looks up one target (with bins: fetching its bin), then the same names in the same order, drawn at random without repeats: first the first lookup of each name, then all of them again. Start and first lookup are in the warm row, not here. The first pass is where latch reads and hashes the chunks of its cache a lookup needs; the second is the steady state of a long-lived client.",
		fmt.Sprintf("Max RSS is the whole process's peak, Go runtime included: %s for a process that does nothing.", mib(rep.BaselineRSS)),
	}
	out := []table{main}
	if idle != nil {
		per := float64(rep.Idle)
		t := table{
			title:  "Idle refresh of one long-lived client, " + rep.FleetRepo + ", nothing new on the server (bytes as the server's connections carry them, HTTP headers included)",
			header: []string{"measurement", "latch", "go-tuf"},
		}
		line := func(name string, f func(s *series) string) {
			t.rows = append(t.rows, []string{name, f(idle.Latch), f(idle.GoTUF)})
		}
		perRefresh := func(s *series, f func(w wireStats) float64) string {
			return spreadString(wireSpread(s, func(w wireStats) float64 { return f(w) / per }), len(s.Wire), plain(number))
		}
		line("time per idle refresh", func(s *series) string { return spreadString(s.Time, len(s.Seconds), secondsIn) })
		line("requests per idle refresh", func(s *series) string {
			return perRefresh(s, func(w wireStats) float64 { return float64(w.NRequests) })
		})
		line("bytes per idle refresh, to / from the server", func(s *series) string {
			return perRefresh(s, func(w wireStats) float64 { return float64(w.BytesIn) }) + " / " + perRefresh(s, func(w wireStats) float64 { return float64(w.BytesOut) })
		})
		line(fmt.Sprintf("new TCP connections over %d idle refreshes", rep.Idle), func(s *series) string {
			return spreadString(wireSpread(s, func(w wireStats) float64 { return float64(w.NewConns) }), len(s.Wire), plain(number))
		})
		t.notes = []string{"go-tuf: a new Updater for each refresh, in the same process (its HTTP client is shared)."}
		out = append(out, t)
	}
	if fleet != nil {
		s, n := fleet.Latch, len(fleet.Latch.Wire)
		ws := func(f func(w wireStats) float64) string { return spreadString(wireSpread(s, f), n, plain(number)) }
		out = append(out, table{
			title:  fleet.Name + " (one process, one loopback server)",
			header: []string{"measurement", "latch"},
			rows: [][]string{
				{"wall time", spreadString(s.Time, n, secondsIn)},
				{"requests", ws(func(w wireStats) float64 { return float64(w.NRequests) })},
				{"bytes to / from the server", ws(func(w wireStats) float64 { return float64(w.BytesIn) }) + " / " + ws(func(w wireStats) float64 { return float64(w.BytesOut) })},
				{"new TCP connections", ws(func(w wireStats) float64 { return float64(w.NewConns) })},
				{"peak open connections", ws(func(w wireStats) float64 { return float64(w.PeakConns) })},
				{"peak RSS of the clients' process", fmt.Sprintf("%s (%s per client above a process that does nothing)",
					mib(s.MaxRSS[0]), mib((s.MaxRSS[0]-rep.BaselineRSS)/int64(rep.Clients)))},
			},
			notes: []string{fmt.Sprintf("%s latch clients in one process, each on a state directory of its own and refreshed once before (so each holds a connection, as a long-lived client does), then all refreshing at once; one sample per round.", count(rep.Clients))},
		})
	}
	return out
}

// wireSpread is the spread of f over the wire counts of s's samples.
func wireSpread(s *series, f func(wireStats) float64) stat {
	return spread(mapSlice(s.Wire, f))
}

// unitFormat writes v in the unit it would write like in.
type unitFormat func(v, like float64) string

// plain is a format without units that depend on the value.
func plain(f func(float64) string) unitFormat { return func(v, _ float64) string { return f(v) } }

// spreadString writes st: the median, then (min–max) when there are several
// samples that differ, in the median's unit written once.
func spreadString(st stat, n int, format unitFormat) string {
	med := format(st.Median, st.Median)
	if n < 2 || st.Min == st.Max {
		return med
	}
	num, unit, _ := strings.Cut(med, " ")
	lo, _, _ := strings.Cut(format(st.Min, st.Median), " ")
	hi, _, _ := strings.Cut(format(st.Max, st.Median), " ")
	if unit == "" {
		return fmt.Sprintf("%s (%s–%s)", num, lo, hi)
	}
	return fmt.Sprintf("%s %s (%s–%s)", num, unit, lo, hi)
}

func printText(out io.Writer, rep *report) error {
	fmt.Fprintf(out, "machine: %s\ncommit: %s\n", rep.Machine, rep.Machine.Commit)
	if l := loadString(rep); l != "" {
		fmt.Fprintf(out, "%s\n", l)
	}
	fmt.Fprintf(out, "settings: %s\nmax RSS of a child that does nothing: %s", rep.Settings, mib(rep.BaselineRSS))
	if rep.ParentRSS > 0 {
		fmt.Fprintf(out, " (no child's reads below this process's peak, %s)", mib(rep.ParentRSS))
	}
	fmt.Fprintln(out)
	for _, t := range tables(rep) {
		fmt.Fprintln(out)
		if t.title != "" {
			fmt.Fprintln(out, t.title)
		}
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		for _, cells := range append([][]string{t.header}, t.rows...) {
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, n := range t.notes {
			fmt.Fprintln(out, "-", n)
		}
	}
	if rep.Profile != "" {
		fmt.Fprintln(out, "\nCPU profile:", rep.Profile)
	}
	return nil
}

// loadString describes the load on the machine during the run, if known.
func loadString(rep *report) string {
	if len(rep.Load) != 2 {
		return ""
	}
	return fmt.Sprintf("load average (1 minute) was %.1f at the start of the run, %.1f at the end, on %d CPUs", rep.Load[0], rep.Load[1], rep.Machine.CPUs)
}

// markdown writes the tables as Markdown, headed by the command, commit and
// machine that produced them.
func markdown(rep *report) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Written by `%s` at commit %s, on %s.\n", rep.Command, rep.Machine.Commit, rep.Machine)
	if l := loadString(rep); l != "" {
		fmt.Fprintf(&b, "The %s.\n", l)
	}
	fmt.Fprintf(&b, "Settings: %s.\n", rep.Settings)
	cell := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	for _, t := range tables(rep) {
		b.WriteString("\n")
		if t.title != "" {
			fmt.Fprintf(&b, "%s:\n\n", t.title)
		}
		fmt.Fprintf(&b, "| %s |\n|%s\n", strings.Join(mapSlice(t.header, cell), " | "), strings.Repeat(" --- |", len(t.header)))
		for _, r := range t.rows {
			fmt.Fprintf(&b, "| %s |\n", strings.Join(mapSlice(r, cell), " | "))
		}
		if len(t.notes) > 0 {
			b.WriteString("\n")
		}
		for _, n := range t.notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	return b.Bytes()
}

// replaceBlock returns doc with the lines between its begin and end markers
// replaced by block. Each marker must appear once, on a line of its own,
// begin before end.
func replaceBlock(doc, block []byte) ([]byte, error) {
	find := func(m string) (int, error) {
		at, n := 0, 0
		for off, line := 0, []byte(nil); off < len(doc); off += len(line) {
			line = doc[off:]
			if i := bytes.IndexByte(line, '\n'); i >= 0 {
				line = line[:i+1]
			}
			if string(bytes.TrimSuffix(line, []byte("\n"))) == m {
				at, n = off, n+1
			}
		}
		switch n {
		case 1:
			return at, nil
		case 0:
			return 0, fmt.Errorf("no line %q", m)
		default:
			return 0, fmt.Errorf("%d lines %q, want one", n, m)
		}
	}
	begin, err := find(beginMarker)
	if err != nil {
		return nil, err
	}
	end, err := find(endMarker)
	if err != nil {
		return nil, err
	}
	if end < begin {
		return nil, errors.New(endMarker + " comes before " + beginMarker)
	}
	var out bytes.Buffer
	out.Write(doc[:begin+len(beginMarker)])
	out.WriteString("\n")
	out.Write(block)
	if len(block) > 0 && block[len(block)-1] != '\n' {
		out.WriteString("\n")
	}
	out.Write(doc[end:])
	return out.Bytes(), nil
}

// writeOutputs writes what -json, -markdown and -readme ask for.
func writeOutputs(s settings, rep *report) error {
	if s.jsonOut != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(s.jsonOut, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	md := markdown(rep)
	if s.markdown != "" {
		if err := os.WriteFile(s.markdown, md, 0o644); err != nil {
			return err
		}
	}
	if s.readme == "" {
		return nil
	}
	doc, err := os.ReadFile(s.readme)
	if err != nil {
		return err
	}
	out, err := replaceBlock(doc, md)
	if err != nil {
		return fmt.Errorf("-readme %s: %w", s.readme, err)
	}
	return replaceFile(s.readme, out)
}

// replaceFile replaces name's content with b through a temporary file and
// a rename, so that a failure leaves the old content whole.
func replaceFile(name string, b []byte) error {
	st, err := os.Stat(name)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(name), ".bench-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(st.Mode().Perm()); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), name)
}

// timeUnit is the unit seconds writes s in: its scale, name and decimals.
func timeUnit(s float64) (float64, string, int) {
	switch {
	case s < 1e-3:
		return 1e6, "µs", 2
	case s < 1:
		return 1e3, "ms", 1
	}
	return 1, "s", 2
}

func seconds(s float64) string { return secondsIn(s, s) }

// secondsIn writes s in the unit seconds would write like in.
func secondsIn(s, like float64) string {
	if s == 0 {
		return "—"
	}
	scale, unit, prec := timeUnit(like)
	return fmt.Sprintf("%.*f %s", prec, s*scale, unit)
}

// ratioIn writes a ratio to three significant digits of like.
func ratioIn(r, like float64) string {
	prec := 0
	if like > 0 && like < 100 {
		prec = max(0, 2-int(math.Floor(math.Log10(like))))
	}
	return fmt.Sprintf("%.*f", prec, r)
}

func percent(f float64) string { return fmt.Sprintf("%.0f%%", 100*f) }

// number writes a count, with thousands separators when it is whole.
func number(f float64) string {
	if f == float64(int64(f)) {
		return count(int(f))
	}
	return fmt.Sprintf("%.1f", f)
}

func mib(b int64) string { return mibFloat(float64(b)) }

func mibFloat(b float64) string {
	if b <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f MiB", b/(1<<20))
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
	d := fmt.Sprintf("flat %v, pretty %v, bins %d, large target %s, %d runs per row (%d for downloads), %d names per lookup run",
		s.flat, s.pretty, s.bins, count64(s.size), s.reps, s.dlReps, s.lookups)
	if s.idle > 0 {
		d += fmt.Sprintf(", %d idle refreshes per idle run", s.idle)
	}
	if s.fleet > 0 {
		d += fmt.Sprintf(", a fleet of %s clients", count(s.fleet))
	}
	return d + ", in " + s.dir
}
