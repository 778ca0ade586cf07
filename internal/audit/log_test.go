package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAppendFormat(t *testing.T) {
	dir := t.TempDir()
	a := &MemAnchor{}
	l := openLog(t, Options{Dir: dir}, a)
	rec, err := l.Append(KindRefresh, map[string]any{"timestamp": 812, "root": 5})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"seq":1,"time":"2025-01-02T03:04:05Z","kind":"refresh","fields":{"root":5,"timestamp":812},"prev":"` + Genesis + "\"}\n"
	b, err := os.ReadFile(filepath.Join(dir, currentName))
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != want {
		t.Fatalf("line\n%s\nwant\n%s", b, want)
	}
	if rec.Seq != 1 || rec.Kind != KindRefresh || rec.Prev != Genesis || string(rec.Fields) != `{"root":5,"timestamp":812}` ||
		!rec.Time.Equal(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("record %+v", rec)
	}
	head := Head{Seq: 1, Hash: lineHash(b)}
	if got, _ := a.Load(); got != (Mark{Head: head, Line: string(b)}) || l.Head() != head {
		t.Errorf("anchor %v, Head %v, want %v", got, l.Head(), head)
	}
	rec2, err := l.Append(KindDownload, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rec2.Seq != 2 || rec2.Prev != head.Hash || string(rec2.Fields) != "{}" {
		t.Errorf("second record %+v", rec2)
	}
}

func TestAppendTimeInUTC(t *testing.T) {
	dir := t.TempDir()
	zone := time.FixedZone("X", -6*3600)
	l := openLog(t, Options{Dir: dir, Now: func() time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 600, zone) }}, &MemAnchor{})
	rec, err := l.Append(KindInstall, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Time.Location() != time.UTC {
		t.Errorf("time %v not UTC", rec.Time)
	}
	b, _ := os.ReadFile(filepath.Join(dir, currentName))
	if !bytes.Contains(b, []byte(`"time":"2025-01-02T09:04:05.0000006Z"`)) {
		t.Errorf("line %s", b)
	}
}

func TestAppendInvalid(t *testing.T) {
	dir := t.TempDir()
	a := &MemAnchor{}
	l := openLog(t, Options{Dir: dir}, a)
	fill(t, l, 1, 2)
	before := snapshot(t, dir)
	head := l.Head()
	mark, _ := a.Load()
	tests := []struct {
		kind   string
		fields any
	}{
		{"", nil},
		{"Refresh", nil},
		{"-x", nil},
		{"a b", nil},
		{strings.Repeat("a", 65), nil},
		{KindDrop, nil},
		{KindRefresh, []int{1}},
		{KindRefresh, "text"},
		{KindRefresh, json.RawMessage(`[1]`)},
		{KindRefresh, json.RawMessage(`{"a":`)},
		{KindRefresh, make(chan int)},
		{KindRefresh, map[string]string{"big": strings.Repeat("x", MaxFieldsSize)}},
	}
	for _, tt := range tests {
		if _, err := l.Append(tt.kind, tt.fields); !errors.Is(err, ErrInvalid) {
			t.Errorf("Append(%.20q, %T): %v, want ErrInvalid", tt.kind, tt.fields, err)
		}
	}
	assertSnapshot(t, dir, before)
	if l.Head() != head {
		t.Errorf("head moved")
	}
	if got, _ := a.Load(); got != mark {
		t.Errorf("anchor moved")
	}
}

func TestOpenInvalid(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		opts Options
		a    Anchor
	}{
		{Options{}, &MemAnchor{}},
		{Options{Dir: dir, MaxBytes: -1}, &MemAnchor{}},
		{Options{Dir: dir, MaxFiles: -1}, &MemAnchor{}},
		{Options{Dir: dir}, nil},
		{Options{Dir: dir}, &MemAnchor{mark: Mark{Head: Head{Seq: 3, Hash: "abc"}}}},
		{Options{Dir: dir}, &MemAnchor{mark: Mark{Head: Head{Seq: 0, Hash: Genesis}}}},
		{Options{Dir: dir}, &MemAnchor{mark: Mark{Head: Head{Seq: 3, Hash: Genesis}, Line: "{}\n"}}},
	} {
		if _, err := Open(tt.opts, tt.a); !errors.Is(err, ErrInvalid) {
			t.Errorf("Open(%+v): %v, want ErrInvalid", tt.opts, err)
		}
	}
}

func TestClose(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, Options{Dir: dir}, &MemAnchor{})
	fill(t, l, 1, 1)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(KindRefresh, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close: %v", err)
	}
	if err := l.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
}

// Reopening continues the chain.
func TestReopen(t *testing.T) {
	dir, a := newTenLog(t)
	l := openLog(t, Options{Dir: dir}, a)
	if l.Head().Seq != 10 {
		t.Fatalf("head %v", l.Head())
	}
	fill(t, l, 11, 12)
	head, _ := a.Load()
	sum, err := VerifyAnchored(dir, head)
	if err != nil || sum.Records != 12 || head.Head != l.Head() || l.Head().Seq != 12 {
		t.Fatalf("%+v, %v", sum, err)
	}
}

// Open checks only the end of the log; damage further back stays visible
// to Verify after more records are appended.
func TestOpenChecksOnlyTheEnd(t *testing.T) {
	dir, a := tamper(t, func(l [][]byte) [][]byte {
		l[4] = bytes.Replace(l[4], []byte(`"n":5`), []byte(`"n":50`), 1)
		return l
	})
	l := openLog(t, Options{Dir: dir}, a)
	fill(t, l, 11, 11)
	head, _ := a.Load()
	_, err := VerifyAnchored(dir, head)
	wantBroken(t, err, currentName, 5, 5, ReasonEdited, false)
}

// Open compares the log's last line with the anchor's line byte for byte
// before it parses anything. The same record in another form, in the log
// or in the anchor, is still refused as it was when both were parsed: in
// the log, as the malformed line VerifyAnchored reports; in the anchor, as
// an invalid anchor. Nothing changes.
func TestOpenAnchorLineVariant(t *testing.T) {
	for name, variant := range map[string]func(t *testing.T, line string) string{
		"spacing":         func(_ *testing.T, s string) string { return strings.Replace(s, `"seq":10`, `"seq": 10`, 1) },
		"members swapped": swapMembers,
		"fields order": func(_ *testing.T, s string) string {
			return strings.Replace(s, `{"n":10,"role":"timestamp"}`, `{"role":"timestamp","n":10}`, 1)
		},
		"escaping":       func(_ *testing.T, s string) string { return strings.Replace(s, `"timestamp"`, `"times\u0074amp"`, 1) },
		"trailing space": func(_ *testing.T, s string) string { return strings.TrimSuffix(s, "\n") + " \n" },
	} {
		// writeVariant puts the variant of the last record in the log.
		writeVariant := func(t *testing.T, dir string) string {
			path := filepath.Join(dir, currentName)
			lines := readLines(t, path)
			bad := variant(t, string(lines[9]))
			if _, err := decodeRecord([]byte(bad)); err == nil || bad == string(lines[9]) {
				t.Fatalf("variant %q is not refused", bad)
			}
			lines[9] = []byte(bad)
			writeLines(t, path, lines)
			return bad
		}
		t.Run(name+" in the log", func(t *testing.T) {
			dir, a := newTenLog(t)
			writeVariant(t, dir)
			m, _ := a.Load()
			_, want := VerifyAnchored(dir, m)
			refusesOpen(t, dir, a, currentName, 10, 0, ReasonMalformed, false)
			if _, err := Open(Options{Dir: dir}, a); err == nil || err.Error() != want.Error() {
				t.Errorf("Open: %v; want %v", err, want)
			}
		})
		t.Run(name+" in the log and the anchor", func(t *testing.T) {
			dir, a := newTenLog(t)
			mark := lineMark(10, []byte(writeVariant(t, dir)))
			a.Store(mark)
			before := snapshot(t, dir)
			if _, err := Open(Options{Dir: dir}, a); !errors.Is(err, ErrInvalid) {
				t.Errorf("Open: %v; want ErrInvalid", err)
			}
			assertSnapshot(t, dir, before)
			if got, _ := a.Load(); got != mark {
				t.Error("anchor moved")
			}
		})
	}
}

// swapMembers returns line with its seq and time members swapped.
func swapMembers(t *testing.T, line string) string {
	t.Helper()
	seq, rest, _ := strings.Cut(strings.TrimPrefix(line, "{"), ",")
	tm, rest, _ := strings.Cut(rest, ",")
	if !strings.HasPrefix(seq, `"seq":`) || !strings.HasPrefix(tm, `"time":`) {
		t.Fatalf("unexpected line %q", line)
	}
	return "{" + tm + "," + seq + "," + rest
}

func TestOpenEmptyLogWithAnchor(t *testing.T) {
	dir := t.TempDir()
	a := &MemAnchor{mark: Mark{Head: Head{Seq: 4, Hash: Genesis}}}
	refusesOpen(t, dir, a, currentName, 0, 0, ReasonTruncated, true)
}

// A crash after the anchor stored a record and before the record reached
// the log leaves the log one record short of its anchor, which holds the
// whole line: Open writes it. The same happens when someone who can't
// change the anchor removes the last record.
func TestOpenMissingLastRecord(t *testing.T) {
	for _, n := range []int{1, 10} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			dir := t.TempDir()
			a := &MemAnchor{}
			l := openLog(t, Options{Dir: dir}, a)
			fill(t, l, 1, n)
			head := l.Head()
			l.Close()
			mark, _ := a.Load()
			path := filepath.Join(dir, currentName)
			lines := readLines(t, path)
			writeLines(t, path, lines[:n-1])

			sum, err := VerifyAnchored(dir, mark)
			if err != nil || sum.Records != n-1 || sum.Missing+"\n" != mark.Line {
				t.Fatalf("VerifyAnchored: %+v, %v", sum, err)
			}
			l = openLog(t, Options{Dir: dir}, a)
			if got, _ := a.Load(); got != mark || l.Head() != head {
				t.Fatalf("anchor %v, head %v, want %v", got, l.Head(), head)
			}
			if got := readLines(t, path); !slices.EqualFunc(got, lines, bytes.Equal) {
				t.Fatal("the last record was not written back")
			}
			fill(t, l, n+1, n+1)
			mark, _ = a.Load()
			if sum, err := VerifyAnchored(dir, mark); err != nil || sum.Records != n+1 || sum.Missing != "" {
				t.Fatalf("after: %+v, %v", sum, err)
			}
		})
	}
	t.Run("anchor of an earlier version", func(t *testing.T) {
		// A "seq:hash" anchor holds no line: nothing to restore.
		dir, a := newTenLog(t)
		mark, _ := a.Load()
		a.Store(Mark{Head: mark.Head})
		path := filepath.Join(dir, currentName)
		writeLines(t, path, readLines(t, path)[:9])
		refusesOpen(t, dir, a, currentName, 9, 9, ReasonTruncated, true)
	})
}

func appendBytes(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// A torn last line beyond the anchor is cut off by Open; one that should
// have been the anchored record is truncation.
func TestOpenTornLine(t *testing.T) {
	t.Run("beyond the anchor", func(t *testing.T) {
		dir, a := newTenLog(t)
		path := filepath.Join(dir, currentName)
		intact, _ := os.ReadFile(path)
		appendBytes(t, path, `{"seq":11,"time":"2025-01-02T03:`)
		l := openLog(t, Options{Dir: dir}, a)
		if b, _ := os.ReadFile(path); !bytes.Equal(b, intact) {
			t.Fatal("torn line not cut off")
		}
		fill(t, l, 11, 11)
		head, _ := a.Load()
		if sum, err := VerifyAnchored(dir, head); err != nil || sum.Records != 11 || sum.TornBytes != 0 {
			t.Fatalf("%+v, %v", sum, err)
		}
	})
	t.Run("the anchored record", func(t *testing.T) {
		// Torn while being written: cut off, and written again from the
		// anchor.
		dir, a := newTenLog(t)
		path := filepath.Join(dir, currentName)
		intact, _ := os.ReadFile(path)
		if err := os.WriteFile(path, intact[:len(intact)-20], 0o600); err != nil {
			t.Fatal(err)
		}
		openLog(t, Options{Dir: dir}, a)
		if b, _ := os.ReadFile(path); !bytes.Equal(b, intact) {
			t.Fatal("the anchored record was not restored")
		}
	})
	t.Run("alone in a new file", func(t *testing.T) {
		dir, a := newTenLog(t)
		if err := os.Rename(filepath.Join(dir, currentName), filepath.Join(dir, rotatedName(1))); err != nil {
			t.Fatal(err)
		}
		appendBytes(t, filepath.Join(dir, currentName), `{"seq":11`)
		l := openLog(t, Options{Dir: dir}, a)
		fill(t, l, 11, 11)
		head, _ := a.Load()
		if sum, err := VerifyAnchored(dir, head); err != nil || sum.Records != 11 {
			t.Fatalf("%+v, %v", sum, err)
		}
	})
	t.Run("the record before the anchored one", func(t *testing.T) {
		dir, a := newTenLog(t)
		path := filepath.Join(dir, currentName)
		lines := readLines(t, path)
		writeLines(t, path, append(lines[:8], lines[8][:20]))
		refusesOpen(t, dir, a, currentName, 8, 8, ReasonTruncated, true)
	})
	t.Run("in an older file", func(t *testing.T) {
		dir, a := newTenLog(t)
		appendBytes(t, filepath.Join(dir, currentName), `{"seq":11`)
		if err := os.Rename(filepath.Join(dir, currentName), filepath.Join(dir, rotatedName(1))); err != nil {
			t.Fatal(err)
		}
		appendBytes(t, filepath.Join(dir, currentName), "")
		refusesOpen(t, dir, a, rotatedName(1), 11, 0, ReasonMalformed, false)
	})
}

// failingAnchor is a MemAnchor whose Store fails while fail is set.
type failingAnchor struct {
	MemAnchor
	fail bool
}

func (a *failingAnchor) Store(m Mark) error {
	if a.fail {
		return errors.New("disk full")
	}
	return a.MemAnchor.Store(m)
}

// A record whose anchor can't be stored is not written.
func TestAppendAnchorStoreFails(t *testing.T) {
	dir := t.TempDir()
	a := &failingAnchor{}
	l := openLog(t, Options{Dir: dir}, a)
	fill(t, l, 1, 2)
	mark, _ := a.Load()
	before := snapshot(t, dir)
	a.fail = true
	if _, err := l.Append(KindRefresh, nil); err == nil {
		t.Fatal("Append succeeded without its anchor")
	}
	assertSnapshot(t, dir, before)
	if got, _ := a.Load(); got != mark {
		t.Fatalf("anchor %v, want %v", got, mark)
	}
	a.fail = false
	rec, err := l.Append(KindRefresh, nil)
	if err != nil || rec.Seq != 3 {
		t.Fatalf("Append: %+v, %v", rec, err)
	}
	mark, _ = a.Load()
	if sum, err := VerifyAnchored(dir, mark); err != nil || sum.Records != 3 || mark.Head != l.Head() {
		t.Fatalf("%+v, %v", sum, err)
	}
}

func TestAppendConcurrent(t *testing.T) {
	dir := t.TempDir()
	a := &MemAnchor{}
	l := openLog(t, Options{Dir: dir, MaxBytes: 2000, MaxFiles: 100}, a)
	const workers, each = 8, 25
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				if _, err := l.Append(KindDownload, map[string]int{"worker": w, "i": i}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	head, _ := a.Load()
	sum, err := VerifyAnchored(dir, head)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Records != workers*each || head.Head.Seq != workers*each || len(sum.Files) < 3 {
		t.Fatalf("summary %+v, anchor %v", sum, head)
	}
}
