package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestMain lets the test binary stand in for the program: run re-executes
// its own binary with the serve and bench-op subcommands.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && slices.Contains([]string{"serve", "bench-op", "gen"}, os.Args[1]) {
		if err := dispatch(os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestQuickRun is the CI smoke test: the whole benchmark in quick mode with
// tiny sizes, one run per row. It checks that every row is measured and
// printed, not how fast anything is.
func TestQuickRun(t *testing.T) {
	// Under -race each child would otherwise sleep a second before exiting.
	t.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	jsonOut := filepath.Join(t.TempDir(), "bench.json")
	s, err := parseSettings([]string{"-quick", "-flat", "1000", "-pretty", "-bins", "1000", "-size", "8MiB",
		"-reps", "1", "-dlreps", "1", "-lookups", "100", "-dir", t.TempDir(), "-json", jsonOut})
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var out, progress bytes.Buffer
	rep, err := run(s, exe, &out, &progress)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, progress.String())
	}
	t.Logf("\n%s", out.String())

	want := []string{
		"cold refresh + lookup, flat 1,000",
		"warm refresh + lookup, new process, flat 1,000",
		"warm refresh, long-lived client, flat 1,000",
		"lookup, flat 1,000 (per lookup)",
		"cold refresh + lookup, flat 1,000 pretty",
		"warm refresh + lookup, new process, flat 1,000 pretty",
		"warm refresh, long-lived client, flat 1,000 pretty",
		"cold refresh + lookup, 1,000 in 256 bins",
		"warm refresh + lookup, new process, 1,000 in 256 bins",
		"warm refresh, long-lived client, 1,000 in 256 bins",
		"lookup, delegated, 1,000 in 256 bins (per lookup)",
		"download + verify, 8 MiB",
		"floor: GET + sha256 + write, 8 MiB",
		"floor: GET + sha256 + write + fsync, 8 MiB",
		"floor: sha256 in memory, 8 MiB",
	}
	if len(rep.Rows) != len(want) {
		t.Errorf("%d rows, want %d", len(rep.Rows), len(want))
	}
	hasRSS := runtime.GOOS == "linux" || runtime.GOOS == "darwin"
	for i, name := range want {
		if i >= len(rep.Rows) || rep.Rows[i].Name != name {
			t.Errorf("row %d is not %q", i, name)
			continue
		}
		if !strings.Contains(out.String(), "\n"+name+"  ") {
			t.Errorf("table lacks row %q", name)
		}
		rw := rep.Rows[i]
		measured := []*series{rw.Latch, rw.GoTUF}
		if strings.HasPrefix(name, "floor:") {
			measured = []*series{rw.Floor}
		}
		for _, s := range measured {
			if s == nil || len(s.Seconds) != 1 || s.MedianSeconds <= 0 {
				t.Errorf("row %q: series %+v, want one sample", name, s)
				continue
			}
			if hasRSS && (rw.kind == kindRefresh || rw.kind == kindDownload) && s.MedianMaxRSS <= 0 {
				t.Errorf("row %q: no peak RSS", name)
			}
		}
		if rw.Latch != nil && rw.GoTUF != nil && rw.Ratio <= 0 {
			t.Errorf("row %q: no ratio", name)
		}
	}
	// One bin fetched, by each client, to look a target up in succinct bins.
	if len(rep.Rows) == len(want) {
		if note := rep.Rows[7].Note; !strings.Contains(note, "bins fetched 1/1") {
			t.Errorf("succinct cold row note = %q, want one bin fetched by each client", note)
		}
	}

	b, err := os.ReadFile(jsonOut)
	if err != nil {
		t.Fatal(err)
	}
	var got report
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("JSON output: %v", err)
	}
	if len(got.Rows) != len(rep.Rows) || got.Rows[0].Name != want[0] || got.Rows[0].Latch == nil {
		t.Errorf("JSON output has %d rows, first %+v", len(got.Rows), got.Rows[0])
	}
}

func TestParseSize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
	}{{"1GiB", 1 << 30}, {"256MiB", 256 << 20}, {"8 MiB", 8 << 20}, {"3KiB", 3 << 10}, {"100B", 100}, {"7", 7}} {
		if got, err := parseSize(tt.in); err != nil || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v, want %d", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", "0", "-1MiB", "1TiB", "GiB", "1.5GiB", "9999999999GiB"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, got)
		}
	}
}

func TestQuickSettings(t *testing.T) {
	s, err := parseSettings([]string{"-quick"})
	if err != nil {
		t.Fatal(err)
	}
	if s.size != 256<<20 || s.reps != 3 || s.dlReps != 2 || s.pretty {
		t.Errorf("quick settings = %+v", s)
	}
	s, err = parseSettings([]string{"-quick", "-size", "1GiB", "-pretty"})
	if err != nil {
		t.Fatal(err)
	}
	if s.size != 1<<30 || !s.pretty {
		t.Errorf("explicit flags lost in quick mode: %+v", s)
	}
	s, err = parseSettings(nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.size != 1<<30 || s.reps != 5 || s.dlReps != 3 || !s.pretty || s.bins != 100000 || len(s.flat) != 3 {
		t.Errorf("default settings = %+v", s)
	}
	for _, args := range [][]string{{"-flat", "10,x"}, {"-flat", "0"}, {"-reps", "0"}, {"-size", "0"}, {"extra"}} {
		if _, err := parseSettings(args); err == nil {
			t.Errorf("parseSettings(%q) succeeded", args)
		}
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int]string{7: "7", 999: "999", 1000: "1,000", 100000: "100,000", 1234567: "1,234,567"} {
		if got := count(n); got != want {
			t.Errorf("count(%d) = %q, want %q", n, got, want)
		}
	}
}
