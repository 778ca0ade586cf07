package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
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
// tiny sizes, two runs per row. It checks that every row is measured and
// printed with its spread, floors and wire counts, and that the Markdown and
// README outputs are written, not how fast anything is.
func TestQuickRun(t *testing.T) {
	// Under -race each child would otherwise sleep a second before exiting.
	t.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	dir := t.TempDir()
	jsonOut, mdOut, readme := filepath.Join(dir, "bench.json"), filepath.Join(dir, "bench.md"), filepath.Join(dir, "README.md")
	const before, after = "# Title\n\nText before.\n" + beginMarker + "\n", endMarker + "\nText after.\n"
	if err := os.WriteFile(readme, []byte(before+"old table\n"+after), 0o644); err != nil {
		t.Fatal(err)
	}
	const reps, idle, clients = 2, 3, 5
	s, err := parseSettings([]string{"-quick", "-flat", "1000", "-pretty", "-bins", "1000", "-size", "8MiB",
		"-reps", fmt.Sprint(reps), "-dlreps", fmt.Sprint(reps), "-lookups", "100", "-idle", fmt.Sprint(idle), "-fleet", fmt.Sprint(clients),
		"-dir", t.TempDir(), "-json", jsonOut, "-markdown", mdOut, "-readme", readme})
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

	// The rows, and whether each has a floor.
	inBin := len(lookupNames(targetPath(500), 1000, 100, true))
	want := []struct {
		name  string
		floor bool
	}{
		{"cold refresh + lookup, flat 1,000", true},
		{"warm refresh + lookup, new process, flat 1,000", true},
		{"warm refresh, long-lived client, flat 1,000", false},
		{"lookup, flat 1,000, first lookup of each of 100 random names after start (per lookup)", false},
		{"lookup, flat 1,000, the same 100 names again (per lookup)", false},
		{"cold refresh + lookup, flat 1,000 pretty", false},
		{"warm refresh + lookup, new process, flat 1,000 pretty", true},
		{"warm refresh, long-lived client, flat 1,000 pretty", false},
		{"cold refresh + lookup, 1,000 in 256 bins", true},
		{"warm refresh + lookup, new process, 1,000 in 256 bins", true},
		{"warm refresh, long-lived client, 1,000 in 256 bins", false},
		{fmt.Sprintf("lookup, delegated, 1,000 in 256 bins, first lookup of each of %d random names of the bin fetched after start (per lookup)", inBin), false},
		{fmt.Sprintf("lookup, delegated, 1,000 in 256 bins, the same %d names again (per lookup)", inBin), false},
		{"download + verify, 8 MiB", true},
		{"floor: GET + SHA-256 + write, no fsync, 8 MiB", true},
		{"floor: SHA-256 in memory, 8 MiB", true},
		{"idle refresh, long-lived client, flat 1,000 (per refresh)", false},
		{"5 long-lived latch clients refresh at once, flat 1,000", false},
	}
	if len(rep.Rows) != len(want) {
		t.Errorf("%d rows, want %d", len(rep.Rows), len(want))
	}
	hasRSS := runtime.GOOS == "linux" || runtime.GOOS == "darwin"
	for i, w := range want {
		if i >= len(rep.Rows) || rep.Rows[i].Name != w.name {
			t.Errorf("row %d is not %q", i, w.name)
			continue
		}
		rw := rep.Rows[i]
		if rw.kind != kindIdle && rw.kind != kindFleet && !strings.Contains(out.String(), "\n"+w.name+"  ") {
			t.Errorf("table lacks row %q", w.name)
		}
		var measured []*series
		switch {
		case rw.kind == kindFloor:
			measured = []*series{rw.Floor}
		case rw.kind == kindFleet:
			measured = []*series{rw.Latch}
		default:
			measured = []*series{rw.Latch, rw.GoTUF}
			if w.floor {
				measured = append(measured, rw.Floor)
			}
		}
		if (rw.Floor != nil) != w.floor {
			t.Errorf("row %q: floor %v, want %v", w.name, rw.Floor != nil, w.floor)
		}
		for _, s := range measured {
			if s == nil || len(s.Seconds) != reps || s.Time.Median <= 0 || s.Time.Min > s.Time.Median || s.Time.Median > s.Time.Max {
				t.Errorf("row %q: series %+v, want %d samples and their spread", w.name, s, reps)
				continue
			}
			if hasRSS && (rw.kind == kindRefresh || rw.kind == kindDownload) && (s.RSS == nil || s.RSS.Median <= 0) {
				t.Errorf("row %q: no peak RSS", w.name)
			}
			if len(s.Wire) != reps || len(s.Wire[0].Requests) != s.Wire[0].NRequests {
				t.Errorf("row %q: wire counts %+v, want %d with the first one's requests", w.name, s.Wire, reps)
			}
		}
		if rw.Latch != nil && rw.GoTUF != nil && (rw.Ratio == nil || rw.Ratio.Median <= 0) {
			t.Errorf("row %q: no latch/go-tuf ratio", w.name)
		}
		if rw.Latch != nil && w.floor && (rw.FloorRatio == nil || rw.FloorRatio.Median <= 0) {
			t.Errorf("row %q: no latch/floor ratio", w.name)
		}
	}
	if len(rep.Rows) != len(want) {
		return
	}
	// One bin fetched, by each client, to look a target up in succinct bins.
	if note := rep.Rows[8].Note; !strings.Contains(note, "bins fetched 1/1") {
		t.Errorf("succinct cold row note = %q, want one bin fetched by each client", note)
	}
	// An idle refresh asks for the next root and the timestamp; the fleet
	// does that once per client and round.
	for _, s := range []*series{rep.Rows[16].Latch, rep.Rows[16].GoTUF} {
		for _, w := range s.Wire {
			if w.NRequests != 2*idle || w.BytesIn <= 0 || w.BytesOut <= 0 || w.NewConns > 2*idle {
				t.Errorf("idle refreshes: wire %+v, want %d requests", w, 2*idle)
			}
		}
	}
	for _, w := range rep.Rows[17].Latch.Wire {
		if w.NRequests != 2*clients || w.BytesIn <= 0 || w.BytesOut <= 0 || w.PeakConns < 1 {
			t.Errorf("fleet round: wire %+v, want %d requests", w, 2*clients)
		}
	}
	for _, name := range []string{"\nrequests per idle refresh  ", "\n5 long-lived latch clients refresh at once, flat 1,000 (one", "\npeak open connections  "} {
		if !strings.Contains(out.String(), name) {
			t.Errorf("fleet tables lack %q", name)
		}
	}
	if m := rep.Machine; m.CPUs < 1 || m.Go == "" || m.Commit == "" || !strings.Contains(out.String(), "machine: "+m.String()+"\ncommit: "+m.Commit+"\n") {
		t.Errorf("machine %+v, not printed", m)
	}

	b, err := os.ReadFile(jsonOut)
	if err != nil {
		t.Fatal(err)
	}
	var got report
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("JSON output: %v", err)
	}
	if len(got.Rows) != len(rep.Rows) || got.Rows[0].Name != want[0].name || got.Rows[0].Latch == nil || got.Rows[0].FloorRatio == nil {
		t.Errorf("JSON output has %d rows, first %+v", len(got.Rows), got.Rows[0])
	}
	md, err := os.ReadFile(mdOut)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range want[:14] {
		if !bytes.Contains(md, []byte("\n| "+w.name+" | ")) {
			t.Errorf("Markdown lacks row %q", w.name)
		}
	}
	for _, line := range []string{"\n| requests per idle refresh | ", "\n| peak open connections | "} {
		if !bytes.Contains(md, []byte(line)) {
			t.Errorf("Markdown lacks %q", line)
		}
	}
	if !bytes.Contains(md, []byte("`"+s.command+"`")) || !bytes.Contains(md, []byte("commit "+rep.Machine.Commit)) {
		t.Errorf("Markdown lacks the command or the commit:\n%s", md)
	}
	doc, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	if want := before + string(md) + after; string(doc) != want {
		t.Errorf("README:\n%s\nwant:\n%s", doc, want)
	}
}

func TestReplaceBlock(t *testing.T) {
	const block = "| a | b |\n"
	for _, tt := range []struct {
		name, doc, want string
		wantErr         bool
	}{
		{name: "replaced", doc: "x\n" + beginMarker + "\nold\nlines\n" + endMarker + "\ny\n", want: "x\n" + beginMarker + "\n" + block + endMarker + "\ny\n"},
		{name: "empty block", doc: beginMarker + "\n" + endMarker, want: beginMarker + "\n" + block + endMarker},
		{name: "no begin", doc: "x\nold\n" + endMarker + "\n", wantErr: true},
		{name: "no end", doc: beginMarker + "\nold\n", wantErr: true},
		{name: "two begins", doc: beginMarker + "\n" + beginMarker + "\nold\n" + endMarker + "\n", wantErr: true},
		{name: "end first", doc: endMarker + "\nold\n" + beginMarker + "\n", wantErr: true},
		{name: "marker inside a line", doc: "see " + beginMarker + " here\nold\n" + endMarker + "\n", wantErr: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := replaceBlock([]byte(tt.doc), []byte(block))
			if tt.wantErr {
				if err == nil {
					t.Errorf("replaceBlock = %q, want an error", got)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Errorf("replaceBlock = %q, %v, want %q", got, err, tt.want)
			}
		})
	}
}

// TestReadmeLeftWholeOnError: a README without the markers is refused and
// left as it was.
func TestReadmeLeftWholeOnError(t *testing.T) {
	readme := filepath.Join(t.TempDir(), "README.md")
	const doc = "# no markers here\n"
	if err := os.WriteFile(readme, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeOutputs(settings{readme: readme}, &report{}); err == nil || !strings.Contains(err.Error(), beginMarker) {
		t.Errorf("writeOutputs = %v, want an error naming %s", err, beginMarker)
	}
	if b, err := os.ReadFile(readme); err != nil || string(b) != doc {
		t.Errorf("README now %q, %v, want it unchanged", b, err)
	}
	if entries, err := os.ReadDir(filepath.Dir(readme)); err != nil || len(entries) != 1 {
		t.Errorf("directory holds %v, %v: want the README alone", entries, err)
	}
}

func TestSpread(t *testing.T) {
	if got, want := spread([]float64{3, 1, 2, 10}), (stat{Min: 1, Median: 2.5, Max: 10}); got != want {
		t.Errorf("spread = %+v, want %+v", got, want)
	}
	// Ratios pair the i-th samples, not the medians.
	if got, want := ratios([]float64{2, 4, 6, 1}, []float64{1, 4, 2}), (stat{Min: 1, Median: 2, Max: 3}); got == nil || *got != want {
		t.Errorf("ratios = %+v, want %+v", got, want)
	}
	for _, tt := range []struct {
		st     stat
		n      int
		format unitFormat
		want   string
	}{
		{stat{0.0101, 0.0106, 0.012}, 5, secondsIn, "10.6 ms (10.1–12.0)"},
		{stat{0.0009, 0.0012, 0.0015}, 3, secondsIn, "1.2 ms (0.9–1.5)"},
		{stat{0.0106, 0.0106, 0.0106}, 5, secondsIn, "10.6 ms"},
		{stat{0.01, 0.0106, 0.012}, 1, secondsIn, "10.6 ms"},
		{stat{2.5e-7, 3e-7, 4e-7}, 3, secondsIn, "0.30 µs (0.25–0.40)"},
		{stat{0.045, 0.0503, 0.061}, 3, ratioIn, "0.0503 (0.0450–0.0610)"},
		{stat{1.6, 1.84, 2.1}, 3, ratioIn, "1.84 (1.60–2.10)"},
		{stat{19.3, 21.9, 24.6}, 3, ratioIn, "21.9 (19.3–24.6)"},
		{stat{1, 2, 3}, 3, plain(number), "2 (1–3)"},
		{stat{29 << 20, 29.1 * (1 << 20), 29.3 * (1 << 20)}, 3, plain(mibFloat), "29.1 MiB (29.0–29.3)"},
	} {
		if got := spreadString(tt.st, tt.n, tt.format); got != tt.want {
			t.Errorf("spreadString(%+v, %d) = %q, want %q", tt.st, tt.n, got, tt.want)
		}
	}
}

// TestCountingListener: the server counts at the connection, so headers
// count as well as bodies, files sent by sendfile count, and a client that
// keeps its connection alive opens one.
func TestCountingListener(t *testing.T) {
	dir := t.TempDir()
	const size = 1 << 20
	if err := os.WriteFile(filepath.Join(dir, "f"), make([]byte, size), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &counter{}
	srv := &http.Server{Handler: http.FileServer(http.Dir(dir))}
	go srv.Serve(countingListener{Listener: ln, c: c})
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/f"

	get := func(cl *http.Client, n int) {
		for range n {
			resp, err := cl.Get(url)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
	}
	keepAlive := &http.Client{Transport: &http.Transport{}}
	get(keepAlive, 3)
	keepAlive.CloseIdleConnections()
	st := c.take()
	if st.NewConns != 1 || st.BytesOut <= 3*size || st.BytesIn <= int64(3*len("GET /f HTTP/1.1\r\n")) || st.PeakConns != 1 {
		t.Errorf("keep-alive client: %+v, want 1 connection, more than %d bytes out", st, 3*size)
	}
	get(&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}, 2)
	if st := c.take(); st.NewConns != 2 || st.BytesOut <= 2*size {
		t.Errorf("client without keep-alive: %+v, want 2 connections", st)
	}
}

// TestCheckSignature: the cold floor checks real signatures; it is not a
// floor if it accepts what a client must refuse.
func TestCheckSignature(t *testing.T) {
	kr, err := newKeyring()
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]ed25519.PublicKey{kr.timestamp.id: kr.timestamp.priv.Public().(ed25519.PublicKey)}
	signed := header("timestamp", map[string]any{"meta": map[string]any{"snapshot.json": map[string]any{"version": 1}}})
	env, err := seal(signed, kr.timestamp, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkSignature(env, keys); err != nil {
		t.Fatalf("valid envelope: %v", err)
	}
	flipped := bytes.Replace(env, []byte(`"version":1`), []byte(`"version":2`), 1)
	otherKey, err := seal(signed, kr.snapshot, false)
	if err != nil {
		t.Fatal(err)
	}
	pretty, err := seal(signed, kr.timestamp, true)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"signed bytes changed": flipped, "key not trusted": otherKey, "not canonical": pretty, "empty": nil} {
		if err := checkSignature(b, keys); err == nil {
			t.Errorf("%s: accepted", name)
		}
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
	if s.size != 64<<20 || s.reps != 3 || s.dlReps != 3 || s.pretty || s.bins != 10000 || !slices.Equal(s.flat, []int{1000, 10000}) || s.fleet != 100 || s.idle != 10 {
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
	if s.size != 1<<30 || s.reps != 5 || s.dlReps != 5 || !s.pretty || s.bins != 100000 || len(s.flat) != 3 || s.fleet != 1000 || s.idle != 10 {
		t.Errorf("default settings = %+v", s)
	}
	for _, args := range [][]string{{"-flat", "10,x"}, {"-flat", "0"}, {"-reps", "0"}, {"-size", "0"}, {"-fleet", "-1"}, {"-idle", "-1"}, {"extra"}} {
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
