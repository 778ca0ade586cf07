package audit

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// clock is a fixed test clock that moves one second per reading.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.t
	c.t = c.t.Add(time.Second)
	return t
}

func openLog(t *testing.T, opts Options, a Anchor) *Log {
	t.Helper()
	if opts.Now == nil {
		opts.Now = newClock().Now
	}
	l, err := Open(opts, a)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// fill appends records n = from..to of kind refresh.
func fill(t *testing.T, l *Log, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		if _, err := l.Append(KindRefresh, map[string]any{"role": "timestamp", "n": i}); err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
	}
}

// newTenLog makes a log of 10 records in one file, closed, and its anchor.
func newTenLog(t *testing.T) (string, *MemAnchor) {
	t.Helper()
	dir := t.TempDir()
	a := &MemAnchor{}
	l := openLog(t, Options{Dir: dir}, a)
	fill(t, l, 1, 10)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, a
}

func readLines(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.SplitAfter(b, []byte("\n"))[:bytes.Count(b, []byte("\n"))]
}

func writeLines(t *testing.T, path string, lines [][]byte) {
	t.Helper()
	if err := os.WriteFile(path, bytes.Join(lines, nil), 0o600); err != nil {
		t.Fatal(err)
	}
}

// snapshot returns the contents of every file in dir.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = string(b)
	}
	return m
}

func assertSnapshot(t *testing.T, dir string, want map[string]string) {
	t.Helper()
	got := snapshot(t, dir)
	if len(got) != len(want) {
		t.Errorf("files %v, want %v", keys(got), keys(want))
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s changed", name)
		}
	}
}

func keys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// wantBroken asserts that err is a BrokenError naming file (base name),
// line, seq and reason, and whether it matches ErrAnchorMismatch.
func wantBroken(t *testing.T, err error, file string, line int, seq uint64, reason Reason, anchor bool) {
	t.Helper()
	var be *BrokenError
	if !errors.As(err, &be) {
		t.Fatalf("error %v is not a *BrokenError", err)
	}
	if !errors.Is(err, ErrBroken) {
		t.Errorf("error %v does not match ErrBroken", err)
	}
	if errors.Is(err, ErrAnchorMismatch) != anchor {
		t.Errorf("errors.Is(%v, ErrAnchorMismatch) = %v, want %v", err, !anchor, anchor)
	}
	if filepath.Base(be.File) != file || be.Line != line || be.Seq != seq || be.Reason != reason {
		t.Errorf("got %s line %d seq %d %s, want %s line %d seq %d %s (%v)",
			filepath.Base(be.File), be.Line, be.Seq, be.Reason, file, line, seq, reason, err)
	}
}

// refusesOpen asserts that Open reports the same broken link as
// VerifyAnchored and changes neither the files nor the anchor.
func refusesOpen(t *testing.T, dir string, a *MemAnchor, file string, line int, seq uint64, reason Reason, anchor bool) {
	t.Helper()
	before := snapshot(t, dir)
	head, _ := a.Load()
	l, err := Open(Options{Dir: dir, Now: newClock().Now}, a)
	if err == nil {
		l.Close()
		t.Fatal("Open accepted a broken log")
	}
	wantBroken(t, err, file, line, seq, reason, anchor)
	assertSnapshot(t, dir, before)
	if after, _ := a.Load(); after != head {
		t.Errorf("anchor moved from %v to %v", head, after)
	}
}
