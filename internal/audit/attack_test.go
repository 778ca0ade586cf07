package audit

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// forge returns the line of a record that chains from the line prev (the
// genesis value if nil), as someone who can write the log files but not
// the anchor would write it.
func forge(t *testing.T, seq uint64, prev []byte, kind string, fields any) []byte {
	t.Helper()
	raw, err := canonicalFields(fields)
	if err != nil {
		t.Fatal(err)
	}
	p := Genesis
	if prev != nil {
		p = lineHash(prev)
	}
	line, err := encodeRecord(Record{Seq: seq, Time: time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC), Kind: kind, Fields: raw, Prev: p})
	if err != nil {
		t.Fatal(err)
	}
	return line
}

// rotatedLog makes a closed log of 40 records in four files (audit.3.log
// to audit.log, with audit-drop records) and returns its directory, its
// anchor and the options it was written with.
func rotatedLog(t *testing.T) (string, *MemAnchor, Options) {
	t.Helper()
	dir := t.TempDir()
	a := &MemAnchor{}
	opts := Options{Dir: dir, MaxBytes: smallFile, MaxFiles: 4}
	l := openLog(t, opts, a)
	fill(t, l, 1, 40)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	opts.Now = newClock().Now
	return dir, a, opts
}

// Attacks by someone who can write the audit directory but not the anchor
// (the client keeps it in its trusted state): each is reported by
// VerifyAnchored, and Open refuses the log and changes neither the files
// nor the anchor, so the next start doesn't adopt the attacker's log. (The
// anchor holds the last record in full: removing only that one is undone
// by Open, see TestOpenMissingLastRecord.)
func TestAttackWithoutTheAnchor(t *testing.T) {
	tests := []struct {
		name   string
		attack func(t *testing.T) (string, *MemAnchor)
		file   string
		line   int
		seq    uint64
		reason Reason
		anchor bool // found by comparing with the anchor
	}{
		{
			// The whole history replaced by one record that claims
			// rotation dropped it, chaining from the anchored record.
			name: "log replaced by a forged audit-drop record",
			attack: func(t *testing.T) (string, *MemAnchor) {
				dir, a := newTenLog(t)
				path := filepath.Join(dir, currentName)
				last := readLines(t, path)[9]
				d := dropFields{File: "audit.1.log", FirstSeq: 1, LastSeq: 10, LastHash: lineHash(last)}
				writeLines(t, path, [][]byte{forge(t, 11, last, KindDrop, d)})
				return dir, a
			},
			file: currentName, line: 1, seq: 11, reason: ReasonDeleted,
		},
		{
			// The oldest files deleted and a forged audit-drop record
			// appended to account for them.
			name: "oldest files deleted, forged audit-drop record appended",
			attack: func(t *testing.T) (string, *MemAnchor) {
				dir, a, _ := rotatedLog(t)
				lines := readLines(t, filepath.Join(dir, "audit.2.log"))
				last, err := parseRecord(lines[len(lines)-1])
				if err != nil {
					t.Fatal(err)
				}
				d := dropFields{File: "audit.2.log", FirstSeq: 1, LastSeq: last.Seq, LastHash: lineHash(lines[len(lines)-1])}
				os.Remove(filepath.Join(dir, "audit.3.log"))
				os.Remove(filepath.Join(dir, "audit.2.log"))
				path := filepath.Join(dir, currentName)
				cur := readLines(t, path)
				head, _ := a.Load()
				writeLines(t, path, append(cur, forge(t, head.Head.Seq+1, cur[len(cur)-1], KindDrop, d)))
				return dir, a
			},
			file: "audit.1.log", line: 1, reason: ReasonDeleted, // seq: the first of audit.1.log
		},
		{
			name: "forged record appended",
			attack: func(t *testing.T) (string, *MemAnchor) {
				dir, a := newTenLog(t)
				path := filepath.Join(dir, currentName)
				lines := readLines(t, path)
				writeLines(t, path, append(lines, forge(t, 11, lines[9], KindInstall, map[string]string{"app": "evil"})))
				return dir, a
			},
			file: currentName, line: 11, seq: 11, reason: ReasonExtended, anchor: true,
		},
		{
			// One record removed is written back from the anchor
			// (TestOpenMissingLastRecord); two can't be.
			name: "last two records removed",
			attack: func(t *testing.T) (string, *MemAnchor) {
				return tamper(t, func(l [][]byte) [][]byte { return l[:8] })
			},
			file: currentName, line: 8, seq: 8, reason: ReasonTruncated, anchor: true,
		},
		{
			name: "last record replaced by a forged one",
			attack: func(t *testing.T) (string, *MemAnchor) {
				return tamper(t, func(l [][]byte) [][]byte {
					return append(l[:9], forge(t, 10, l[8], KindRefresh, map[string]int{"n": 10}))
				})
			},
			file: currentName, line: 10, seq: 10, reason: ReasonRewritten, anchor: true,
		},
		{
			name: "chain rewritten",
			attack: func(t *testing.T) (string, *MemAnchor) {
				return tamper(t, func(l [][]byte) [][]byte {
					var prev []byte
					for i := range l {
						l[i] = forge(t, uint64(i+1), prev, KindRefresh, map[string]int{"n": i + 1})
						prev = l[i]
					}
					return l
				})
			},
			file: currentName, line: 10, seq: 10, reason: ReasonRewritten, anchor: true,
		},
		{
			name: "records reordered",
			attack: func(t *testing.T) (string, *MemAnchor) {
				return tamper(t, func(l [][]byte) [][]byte {
					l[8], l[9] = l[9], l[8]
					return l
				})
			},
			file: currentName, line: 9, seq: 10, reason: ReasonReordered,
		},
		{
			name: "log deleted",
			attack: func(t *testing.T) (string, *MemAnchor) {
				dir, a, _ := rotatedLog(t)
				for _, name := range names(t, dir) {
					os.Remove(filepath.Join(dir, name))
				}
				return dir, a
			},
			file: currentName, line: 0, seq: 0, reason: ReasonTruncated, anchor: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, a := tt.attack(t)
			seq := tt.seq
			if seq == 0 && tt.line > 0 {
				seq = readSeq(t, dir, tt.file)
			}
			head, _ := a.Load()
			_, err := VerifyAnchored(dir, head)
			wantBroken(t, err, tt.file, tt.line, seq, tt.reason, tt.anchor)
			refusesOpen(t, dir, a, tt.file, tt.line, seq, tt.reason, tt.anchor)
		})
	}
}

// Rotation deletes records only when the log has grown: reshaping the
// files, which needs no anchor, can't make Open or Append delete records.
func TestAttackRetention(t *testing.T) {
	tests := []struct {
		name    string
		reshape func(t *testing.T, dir string)
	}{
		{
			// The rotated files renumbered older, with empty files in
			// their places: seven rotated files where four are kept.
			name: "padded with empty files",
			reshape: func(t *testing.T, dir string) {
				for i := 3; i >= 1; i-- {
					if err := os.Rename(filepath.Join(dir, rotatedName(i)), filepath.Join(dir, rotatedName(i+3))); err != nil {
						t.Fatal(err)
					}
					appendBytes(t, filepath.Join(dir, rotatedName(i)), "")
				}
			},
		},
		{
			// Every rotated file split in two, the chain intact.
			name: "files split",
			reshape: func(t *testing.T, dir string) {
				var lines [][][]byte
				for _, name := range names(t, dir) {
					if name != currentName {
						lines = append(lines, readLines(t, filepath.Join(dir, name)))
						os.Remove(filepath.Join(dir, name))
					}
				}
				n := 2 * len(lines)
				for _, ls := range lines {
					writeLines(t, filepath.Join(dir, rotatedName(n)), ls[:1])
					writeLines(t, filepath.Join(dir, rotatedName(n-1)), ls[1:])
					n -= 2
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, a, opts := rotatedLog(t)
			want := allRecords(t, dir)
			tt.reshape(t, dir)
			head, _ := a.Load()
			if sum, err := VerifyAnchored(dir, head); err != nil || sum.Records != len(want) {
				t.Fatalf("reshaped log: %+v, %v", sum, err)
			}
			l := openLog(t, opts, a)
			l.Close()
			if got := allRecords(t, dir); !slices.Equal(seqs(got), seqs(want)) {
				t.Errorf("Open changed the records: seq %v, want %v", seqs(got), seqs(want))
			}
			if after, _ := a.Load(); after != head {
				t.Errorf("anchor moved from %v to %v", head, after)
			}
		})
	}
}

func seqs(recs []Record) []uint64 {
	var out []uint64
	for _, r := range recs {
		out = append(out, r.Seq)
	}
	return out
}
