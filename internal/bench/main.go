// Command bench measures latch against go-tuf v2's updater and against
// floors (what any client must do for the same result, done the cheapest way)
// in the same run, on repositories it generates, and prints the machine it
// ran on and tables of medians with their spread (min–max).
//
//	go run ./internal/bench                    # full run: 1 GiB target, 5 runs per row, a fleet of 1,000
//	go run ./internal/bench -quick             # about a minute (CI's smoke test)
//	go run ./internal/bench -readme README.md  # full run, tables written into the README
//	go run ./internal/bench -json out.json -markdown out.md -cpuprofile latch-cold.pprof
//	go run ./internal/bench -lookups-only -pretty=false -size 1MiB  # the lookup rows alone
//
// -readme replaces the lines between <!-- bench:begin --> and
// <!-- bench:end --> in the file with the tables as Markdown (-markdown
// writes them to a file of their own), headed by the command, the commit and
// the machine, so that no figure is copied by hand.
//
// -cpuprofile profiles ten more latch cold refreshes + lookups of the largest
// flat repository, run in one child after the measurements (one run is too
// short for a useful profile); read it with go tool pprof.
//
// # Repositories
//
// In a temporary directory on the normal disk (under /var/tmp when it
// exists, or -dir), with ed25519 keys from fixed seeds and a fixed clock
// (2025-01-01, documents expiring 2035), it writes TUF repositories with
// consistent snapshots: flat targets.json of 1,000, 10,000 and 100,000
// entries (sha256 and length only, about 136 bytes each: 13.6 MB for
// 100,000), compact canonical JSON as go-tuf writes it; the 100,000 one again
// indented one space per level as python-tuf and tuf-on-ci publish it; the
// 100,000 targets in 256 TAP 15 succinct bins; and one large target (-size)
// listed with its sha256 only. Snapshot and timestamp list versions only, so
// both clients get a raised size cap for metadata without a listed length.
//
// # Measurements
//
// A separate process (this binary's "serve" subcommand) serves the
// repositories over loopback HTTP, so the server's memory never counts as the
// client's; it counts requests, bytes (HTTP headers included) and TCP
// connections on its accepted connections, and answers a control endpoint
// on a listener of its own. Each measured operation runs in a child process
// of its own (the "bench-op" subcommand); the child times the operation
// itself, excluding process start-up, and the parent reads the child's peak
// RSS (getrusage ru_maxrss). Before each child the parent flushes what
// earlier ones wrote to disk (sync), so that none pays for another's
// writeback. latch, go-tuf and the floors alternate, and
// each row reports the median with min and max:
//
//   - cold refresh + lookup: a new client on an empty state directory; its
//     floor makes the same requests, hashes each document with SHA-256 as it
//     arrives, and checks its ed25519 signature beside one json.Valid scan
//     (two cores), knowing the keys and file names, writing nothing;
//   - warm refresh + lookup, new process: a new client on the state a cold
//     run left, nothing changed on the server; its floor reads the small
//     state files (trusted state, cached root, timestamp and snapshot) and
//     makes the same two requests (next root, 404; timestamp);
//   - warm refresh, long-lived client: latch refreshes a second time on the
//     same client; go-tuf's Updater can refresh only once in its lifetime, so
//     its column is a new Updater on the warm cache in the same process;
//   - lookups, flat and delegated: in-process time per lookup after a
//     refresh and one lookup (which fetches the delegated bin), of -lookups
//     distinct names drawn at random with a fixed seed (for bins: those of
//     the bin fetched), the same for both clients in the same order; one
//     row for the first lookup of each name, one for the same names again;
//   - download + verify of the large target to a file; its floor is a plain
//     GET + sha256 + file write + fsync (latch fsyncs before its rename);
//     beside it the same without fsync, and sha256 of in-memory bytes;
//   - fleet cost, on the smallest flat repository: one long-lived client's
//     idle refreshes (-idle of them per run: time, requests, bytes and new
//     TCP connections per refresh), and -fleet long-lived latch clients in
//     one process, each on a state directory of its own and refreshed once,
//     all refreshing at once, once per run (wall time, requests, bytes, new
//     and peak open connections as the server sees them).
//
// A ratio (latch/go-tuf, latch/floor) is taken run by run, each pair
// measured one after the other, and reported as median (min–max).
//
// RSS is the whole child's peak: Go runtime, both libraries' code and the
// operation (the table's notes give the peak of a child that does nothing);
// for the long-lived and lookup rows it would include the untimed first
// refresh, so it is not shown there. On Linux a child's ru_maxrss never
// reads below its parent's peak (until exec the child runs in the parent's
// memory), so the parent stays small: a "gen" child writes the repositories.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

func main() {
	if err := dispatch(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// dispatch runs a subcommand, or the benchmark itself.
func dispatch(args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "serve":
			return serveMain(args[1:])
		case "bench-op":
			return opMain(args[1:])
		case "gen":
			return genMain(args[1:])
		}
	}
	s, err := parseSettings(args)
	if err != nil {
		return err
	}
	s.command = strings.Join(append([]string{"go run ./internal/bench"}, args...), " ")
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	_, err = run(s, exe, os.Stdout, os.Stderr)
	return err
}

// settings are what one benchmark run measures.
type settings struct {
	quick       bool
	size        int64 // bytes of the large target
	flat        []int // sizes of the flat repositories
	pretty      bool  // also the largest flat one, indented
	bins        int   // targets in 256 succinct bins; 0: none
	reps        int   // runs per client and row
	dlReps      int   // runs per client of the large download
	lookups     int   // distinct names looked up per lookup run
	lookupsOnly bool  // measure the lookup rows only
	idle        int   // idle refreshes per idle run; 0: none
	fleet       int   // clients of the fleet; 0: none
	dir         string
	jsonOut     string
	markdown    string // write the tables as Markdown to this file
	readme      string // replace the block between the markers in this file
	cpuprofile  string
	keep        bool
	command     string // how the benchmark was started, for the tables
}

func parseSettings(args []string) (settings, error) {
	var s settings
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.BoolVar(&s.quick, "quick", false, "quick mode, about a minute: flat 1,000 and 10,000, 10,000 in bins, 64 MiB target, 3 runs per row, a fleet of 100, no pretty-printed repository")
	size := fs.String("size", "1GiB", "size of the large target (B, KiB, MiB, GiB)")
	flat := fs.String("flat", "1000,10000,100000", "entries of the flat targets.json repositories, comma-separated")
	fs.BoolVar(&s.pretty, "pretty", true, "also measure the largest flat repository pretty-printed")
	fs.IntVar(&s.bins, "bins", 100000, "targets in 256 succinct bins (0: no succinct repository)")
	fs.IntVar(&s.reps, "reps", 5, "runs per client and row")
	fs.IntVar(&s.dlReps, "dlreps", 5, "runs per client of the large download")
	fs.IntVar(&s.lookups, "lookups", 10000, "distinct names looked up per lookup run, twice")
	fs.BoolVar(&s.lookupsOnly, "lookups-only", false, "measure the lookup rows only (each after an untimed cold run)")
	fs.IntVar(&s.idle, "idle", 10, "idle refreshes timed per run of one long-lived client (0: none)")
	fs.IntVar(&s.fleet, "fleet", 1000, "long-lived latch clients that refresh at once, in one process (0: none); each holds about three file descriptors")
	fs.StringVar(&s.dir, "dir", "", "parent of the temporary directory (default /var/tmp if present, else the system's)")
	fs.StringVar(&s.jsonOut, "json", "", "also write the results as JSON to this file")
	fs.StringVar(&s.markdown, "markdown", "", "also write the tables as Markdown to this file")
	fs.StringVar(&s.readme, "readme", "", "replace the lines between "+beginMarker+" and "+endMarker+" in this file (README.md) with the tables")
	fs.StringVar(&s.cpuprofile, "cpuprofile", "", "write a CPU profile of one extra latch cold refresh + lookup of the largest flat repository")
	fs.BoolVar(&s.keep, "keep", false, "keep the temporary directory")
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	if fs.NArg() > 0 {
		return s, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if s.quick {
		for name, v := range map[string]func(){
			"size":   func() { *size = "64MiB" },
			"flat":   func() { *flat = "1000,10000" },
			"bins":   func() { s.bins = 10000 },
			"reps":   func() { s.reps = 3 },
			"dlreps": func() { s.dlReps = 3 },
			"pretty": func() { s.pretty = false },
			"fleet":  func() { s.fleet = 100 },
		} {
			if !set[name] {
				v()
			}
		}
	}
	var err error
	if s.size, err = parseSize(*size); err != nil {
		return s, err
	}
	for _, f := range strings.Split(*flat, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return s, fmt.Errorf("-flat: %q is not a positive count", f)
		}
		s.flat = append(s.flat, n)
	}
	if s.reps < 1 || s.dlReps < 1 || s.lookups < 1 || s.bins < 0 || s.idle < 0 || s.fleet < 0 {
		return s, errors.New("-reps, -dlreps and -lookups must be at least 1, -bins, -idle and -fleet at least 0")
	}
	if s.dir == "" {
		s.dir = os.TempDir()
		// /tmp is often a tmpfs: in memory, not the disk a client writes to.
		if st, err := os.Stat("/var/tmp"); err == nil && st.IsDir() {
			s.dir = "/var/tmp"
		}
	}
	s.dir = filepath.Clean(s.dir)
	return s, nil
}

// parseSize reads a byte count with an optional binary unit.
func parseSize(v string) (int64, error) {
	num, mult := v, int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if n, ok := strings.CutSuffix(v, u.suffix); ok {
			num, mult = n, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n < 1 || n > (1<<62)/mult {
		return 0, fmt.Errorf("size %q: want a positive count of B, KiB, MiB or GiB", v)
	}
	return n * mult, nil
}
