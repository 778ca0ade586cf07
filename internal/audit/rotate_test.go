package audit

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// Small files: two refresh records fill one, so rotation happens often.
const smallFile = 400

// names lists the log file names in dir, oldest first.
func names(t *testing.T, dir string) []string {
	t.Helper()
	files, err := listFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ns []string
	for _, f := range files {
		ns = append(ns, f.name)
	}
	return ns
}

// allRecords reads every record in dir, oldest first.
func allRecords(t *testing.T, dir string) []Record {
	t.Helper()
	var recs []Record
	for _, name := range names(t, dir) {
		for _, line := range readLines(t, filepath.Join(dir, name)) {
			r, err := parseRecord(line)
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, r)
		}
	}
	return recs
}

func TestRotation(t *testing.T) {
	dir := t.TempDir()
	a := &MemAnchor{}
	l := openLog(t, Options{Dir: dir, MaxBytes: smallFile, MaxFiles: 4}, a)
	fill(t, l, 1, 6)
	// Nothing dropped yet: three files, starting at the beginning.
	if got := names(t, dir); !slices.Equal(got, []string{"audit.2.log", "audit.1.log", "audit.log"}) {
		t.Fatalf("files %v", got)
	}
	fill(t, l, 7, 40)
	if got := names(t, dir); !slices.Equal(got, []string{"audit.3.log", "audit.2.log", "audit.1.log", "audit.log"}) {
		t.Fatalf("files %v", got)
	}
	head, _ := a.Load()
	sum, err := VerifyAnchored(dir, head)
	if err != nil {
		t.Fatal(err)
	}
	recs := allRecords(t, dir)
	if sum.Records != len(recs) || sum.Last != l.Head() || len(sum.Files) != 4 {
		t.Fatalf("summary %+v", sum)
	}

	// The chain carries across files: each file's first record chains from
	// the previous file's last line, with the next seq.
	var prev *Summary
	for _, name := range names(t, dir) {
		path := filepath.Join(dir, name)
		s, err := VerifyFile(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// Only an audit-drop record at the start may take a file beyond
		// MaxBytes.
		limit := int64(smallFile)
		lines := readLines(t, path)
		if r, _ := parseRecord(lines[0]); r.Kind == KindDrop {
			limit += int64(len(lines[0]))
		}
		if info, _ := os.Stat(path); info.Size() > limit {
			t.Errorf("%s has %d bytes, more than %d", name, info.Size(), limit)
		}
		if prev != nil && s.Start != prev.Last {
			t.Errorf("%s starts from %v, previous file ends at %v", name, s.Start, prev.Last)
		}
		prev = &s
	}

	// Every deletion was recorded, the latest one just before the oldest
	// remaining file, and the user's records are all there from that point.
	var drops []dropFields
	var user []int
	for _, r := range recs {
		if r.Kind == KindDrop {
			d, ok := parseDrop(r.Fields)
			if !ok {
				t.Fatalf("bad drop record %s", r.Fields)
			}
			drops = append(drops, d)
			continue
		}
		var f struct{ N int }
		if err := json.Unmarshal(r.Fields, &f); err != nil {
			t.Fatal(err)
		}
		user = append(user, f.N)
	}
	if len(drops) == 0 {
		t.Fatal("no audit-drop record")
	}
	for i, d := range drops {
		if d.File != "audit.4.log" || (i > 0 && d.FirstSeq != drops[i-1].LastSeq+1) {
			t.Errorf("drop %d: %+v", i, d)
		}
	}
	start := sum.Start
	if start.Seq != recs[0].Seq-1 || start.Hash != recs[0].Prev {
		t.Errorf("start %v, first record %+v", start, recs[0])
	}
	if !slices.ContainsFunc(drops, func(d dropFields) bool { return d.LastSeq == start.Seq && d.LastHash == start.Hash }) {
		t.Errorf("start %v not accounted for by %+v", start, drops)
	}
	// Anchors that the rotated log can't have come from: the audit-drop
	// record that accounts for the oldest file's start comes after them,
	// so it doesn't count.
	oldest := names(t, dir)[0]
	_, err = VerifyAnchored(dir, Mark{Head: Head{Seq: start.Seq, Hash: Genesis}})
	wantBroken(t, err, oldest, 1, start.Seq+1, ReasonDeleted, false)
	_, err = VerifyAnchored(dir, Mark{Head: Head{Seq: 1, Hash: Genesis}})
	wantBroken(t, err, oldest, 1, start.Seq+1, ReasonDeleted, false)
	// An anchor at the last seq with another hash: a rewritten chain.
	_, err = VerifyAnchored(dir, Mark{Head: Head{Seq: sum.Last.Seq, Hash: Genesis}})
	wantBroken(t, err, currentName, len(readLines(t, filepath.Join(dir, currentName))), sum.Last.Seq, ReasonRewritten, true)

	if user[len(user)-1] != 40 {
		t.Errorf("user records %v", user)
	}
	for i := 1; i < len(user); i++ {
		if user[i] != user[i-1]+1 {
			t.Errorf("user records %v", user)
		}
	}
}

func TestRotationTampering(t *testing.T) {
	build := func(t *testing.T) (string, *MemAnchor) {
		dir := t.TempDir()
		a := &MemAnchor{}
		l := openLog(t, Options{Dir: dir, MaxBytes: smallFile, MaxFiles: 4}, a)
		fill(t, l, 1, 40)
		l.Close()
		return dir, a
	}
	t.Run("oldest file deleted without a record", func(t *testing.T) {
		dir, a := build(t)
		os.Remove(filepath.Join(dir, "audit.3.log"))
		_, err := Verify(dir)
		wantBroken(t, err, "audit.2.log", 1, allRecords(t, dir)[0].Seq, ReasonDeleted, false)
		// Open checks only the end.
		openLog(t, Options{Dir: dir, MaxBytes: smallFile, MaxFiles: 4}, a)
	})
	t.Run("middle file deleted", func(t *testing.T) {
		dir, _ := build(t)
		os.Remove(filepath.Join(dir, "audit.2.log"))
		_, err := Verify(dir)
		wantBroken(t, err, "audit.1.log", 1, readSeq(t, dir, "audit.1.log"), ReasonDeleted, false)
	})
	t.Run("files swapped", func(t *testing.T) {
		dir, _ := build(t)
		p1, p2 := filepath.Join(dir, "audit.1.log"), filepath.Join(dir, "audit.2.log")
		os.Rename(p1, p1+".tmp")
		os.Rename(p2, p1)
		os.Rename(p1+".tmp", p2)
		_, err := Verify(dir)
		wantBroken(t, err, "audit.2.log", 1, readSeq(t, dir, "audit.2.log"), ReasonReordered, false)
	})
	t.Run("newest file deleted", func(t *testing.T) {
		// No file dropped yet: the anchor finds the truncation.
		dir := t.TempDir()
		a := &MemAnchor{}
		l := openLog(t, Options{Dir: dir, MaxBytes: smallFile, MaxFiles: 100}, a)
		fill(t, l, 1, 10)
		l.Close()
		os.Remove(filepath.Join(dir, currentName))
		if _, err := Verify(dir); err != nil {
			t.Fatalf("Verify without anchor: %v", err)
		}
		refusesOpen(t, dir, a, "audit.1.log", 2, 8, ReasonTruncated, true)
	})
	t.Run("newest file deleted after drops", func(t *testing.T) {
		// audit.log held the audit-drop record that accounts for the
		// start of the oldest file, so the start is reported first.
		dir, a := build(t)
		os.Remove(filepath.Join(dir, currentName))
		_, err := Verify(dir)
		wantBroken(t, err, "audit.3.log", 1, readSeq(t, dir, "audit.3.log"), ReasonDeleted, false)
		refusesOpen(t, dir, a, "audit.3.log", 1, readSeq(t, dir, "audit.3.log"), ReasonDeleted, false)
	})
}

// readSeq returns the seq of the first record of a file.
func readSeq(t *testing.T, dir, name string) uint64 {
	t.Helper()
	r, err := parseRecord(readLines(t, filepath.Join(dir, name))[0])
	if err != nil {
		t.Fatal(err)
	}
	return r.Seq
}

// A crash can stop a rotation between any two of its steps; the files left
// read as the same log, and the next Open or rotation finishes the work.
func TestRotationCrash(t *testing.T) {
	opts := func(dir string, maxFiles int) Options {
		return Options{Dir: dir, MaxBytes: smallFile, MaxFiles: maxFiles, Now: newClock().Now}
	}
	build := func(t *testing.T) (string, *MemAnchor) {
		dir := t.TempDir()
		a := &MemAnchor{}
		l := openLog(t, opts(dir, 4), a)
		fill(t, l, 1, 20)
		l.Close()
		return dir, a
	}
	check := func(t *testing.T, dir string, a *MemAnchor, want []string) {
		t.Helper()
		head, _ := a.Load()
		if _, err := VerifyAnchored(dir, head); err != nil {
			t.Fatal(err)
		}
		if got := names(t, dir); !slices.Equal(got, want) {
			t.Errorf("files %v, want %v", got, want)
		}
	}
	full := []string{"audit.3.log", "audit.2.log", "audit.1.log", "audit.log"}

	t.Run("between renames", func(t *testing.T) {
		dir, a := build(t)
		// The first rename of a shift, audit.3 to audit.4, then a crash.
		os.Rename(filepath.Join(dir, "audit.3.log"), filepath.Join(dir, "audit.4.log"))
		check(t, dir, a, []string{"audit.4.log", "audit.2.log", "audit.1.log", "audit.log"})
		l := openLog(t, opts(dir, 4), a)
		fill(t, l, 21, 24)
		check(t, dir, a, full)
	})
	t.Run("after renames", func(t *testing.T) {
		dir, a := build(t)
		if err := shiftFiles(dir); err != nil {
			t.Fatal(err)
		}
		check(t, dir, a, []string{"audit.4.log", "audit.3.log", "audit.2.log", "audit.1.log"})
		head, _ := a.Load()
		l := openLog(t, opts(dir, 4), a)
		// Open dropped audit.4.log and recorded it in a new audit.log.
		check(t, dir, a, full)
		if h := l.Head(); h.Seq != head.Head.Seq+1 {
			t.Errorf("head %v, want one drop record after %v", h, head)
		}
		last := allRecords(t, dir)
		if r := last[len(last)-1]; r.Kind != KindDrop {
			t.Errorf("last record %+v", r)
		}
	})
	t.Run("after the drop record", func(t *testing.T) {
		dir, a := build(t)
		if err := shiftFiles(dir); err != nil {
			t.Fatal(err)
		}
		// Write the drop record as rotation would, then crash before
		// deleting the file.
		l := openLog(t, opts(dir, 5), a)
		d, ok, err := describe(filepath.Join(dir, "audit.4.log"))
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		raw, err := canonicalFields(d)
		if err != nil {
			t.Fatal(err)
		}
		line, rec, err := l.build(KindDrop, raw, l.now())
		if err != nil {
			t.Fatal(err)
		}
		if err := l.write(line, rec); err != nil {
			t.Fatal(err)
		}
		l.Close()
		head, _ := a.Load()
		l = openLog(t, opts(dir, 4), a)
		if l.Head() != head.Head {
			t.Errorf("head %v, want %v: the deletion was recorded twice", l.Head(), head)
		}
		check(t, dir, a, full)
	})
	t.Run("empty oldest file", func(t *testing.T) {
		// Nothing to record: a file without records is just removed.
		dir, a := build(t)
		appendBytes(t, filepath.Join(dir, "audit.7.log"), "")
		head, _ := a.Load()
		l := openLog(t, opts(dir, 4), a)
		if l.Head() != head.Head {
			t.Errorf("head %v, want %v", l.Head(), head)
		}
		check(t, dir, a, full)
	})
	t.Run("fewer files kept", func(t *testing.T) {
		dir, a := build(t)
		openLog(t, opts(dir, 2), a)
		check(t, dir, a, []string{"audit.1.log", "audit.log"})
	})
	t.Run("one file", func(t *testing.T) {
		dir, a := build(t)
		l := openLog(t, opts(dir, 1), a)
		fill(t, l, 21, 30)
		check(t, dir, a, []string{"audit.log"})
	})
}
