package audit

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestVerifyNormalRun(t *testing.T) {
	dir, a := newTenLog(t)
	head, _ := a.Load()
	for name, verify := range map[string]func() (Summary, error){
		"Verify":         func() (Summary, error) { return Verify(dir) },
		"VerifyAnchored": func() (Summary, error) { return VerifyAnchored(dir, head) },
		"VerifyFile":     func() (Summary, error) { return VerifyFile(filepath.Join(dir, currentName)) },
	} {
		sum, err := verify()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if sum.Records != 10 || sum.Last != head.Head || sum.Start != (Head{0, Genesis}) || sum.TornBytes != 0 || sum.Missing != "" {
			t.Errorf("%s: summary %+v, anchor %v", name, sum, head)
		}
	}
	if head.Head.Seq != 10 || head.Line != string(readLines(t, filepath.Join(dir, currentName))[9]) {
		t.Errorf("anchor %v, want record 10", head)
	}
}

// tamper rewrites audit.log of a fresh 10-record log with edit.
func tamper(t *testing.T, edit func([][]byte) [][]byte) (string, *MemAnchor) {
	t.Helper()
	dir, a := newTenLog(t)
	path := filepath.Join(dir, currentName)
	writeLines(t, path, edit(readLines(t, path)))
	return dir, a
}

// A broken link inside the chain is found with or without the anchor.
func TestVerifyTamperedChain(t *testing.T) {
	tests := []struct {
		name   string
		edit   func([][]byte) [][]byte
		line   int
		seq    uint64
		reason Reason
	}{
		{
			// The record whose bytes changed is named: record 6 vouches
			// for record 5 and no longer matches it.
			name: "edit field of record 5",
			edit: func(l [][]byte) [][]byte {
				l[4] = bytes.Replace(l[4], []byte(`"n":5`), []byte(`"n":50`), 1)
				return l
			},
			line: 5, seq: 5, reason: ReasonEdited,
		},
		{
			name: "edit seq of record 5",
			edit: func(l [][]byte) [][]byte {
				l[4] = bytes.Replace(l[4], []byte(`"seq":5`), []byte(`"seq":7`), 1)
				return l
			},
			line: 5, seq: 7, reason: ReasonEdited,
		},
		{
			// Indistinguishable from an edit of record 5: the link
			// between them is what broke, and the earlier record is named.
			name: "edit prev of record 6",
			edit: func(l [][]byte) [][]byte {
				l[5] = bytes.Replace(l[5], []byte(`"prev":"`), []byte(`"prev":"0`), 1)
				l[5] = append(l[5][:bytes.LastIndexByte(l[5], '"')-1], []byte("\"}\n")...)
				return l
			},
			line: 5, seq: 5, reason: ReasonEdited,
		},
		{
			name: "edit first record",
			edit: func(l [][]byte) [][]byte {
				l[0] = bytes.Replace(l[0], []byte(`"timestamp"`), []byte(`"snapshot"`), 1)
				return l
			},
			line: 1, seq: 1, reason: ReasonEdited,
		},
		{
			name: "edit prev of record 1",
			edit: func(l [][]byte) [][]byte {
				l[0] = bytes.Replace(l[0], []byte(`"prev":"0`), []byte(`"prev":"1`), 1)
				return l
			},
			line: 1, seq: 1, reason: ReasonEdited,
		},
		{
			name: "delete record 5",
			edit: func(l [][]byte) [][]byte { return slices.Delete(l, 4, 5) },
			line: 5, seq: 6, reason: ReasonDeleted,
		},
		{
			name: "delete records 4 to 7",
			edit: func(l [][]byte) [][]byte { return slices.Delete(l, 3, 7) },
			line: 4, seq: 8, reason: ReasonDeleted,
		},
		{
			name: "delete record 1",
			edit: func(l [][]byte) [][]byte { return l[1:] },
			line: 1, seq: 2, reason: ReasonDeleted,
		},
		{
			name: "swap records 5 and 6",
			edit: func(l [][]byte) [][]byte {
				l[4], l[5] = l[5], l[4]
				return l
			},
			line: 5, seq: 6, reason: ReasonReordered,
		},
		{
			name: "move record 3 to the end",
			edit: func(l [][]byte) [][]byte { return append(slices.Delete(slices.Clone(l), 2, 3), l[2]) },
			line: 3, seq: 4, reason: ReasonReordered,
		},
		{
			name: "move record 8 to the front",
			edit: func(l [][]byte) [][]byte { return append([][]byte{l[7]}, slices.Delete(slices.Clone(l), 7, 8)...) },
			line: 1, seq: 8, reason: ReasonReordered,
		},
		{
			name: "duplicate record 5",
			edit: func(l [][]byte) [][]byte { return slices.Insert(l, 5, l[4]) },
			line: 6, seq: 5, reason: ReasonReordered,
		},
		{
			name: "garbage line",
			edit: func(l [][]byte) [][]byte {
				l[3] = []byte("not json\n")
				return l
			},
			line: 4, seq: 0, reason: ReasonMalformed,
		},
		{
			name: "spacing changed",
			edit: func(l [][]byte) [][]byte {
				l[3] = bytes.Replace(l[3], []byte(`,"kind"`), []byte(`, "kind"`), 1)
				return l
			},
			line: 4, seq: 0, reason: ReasonMalformed,
		},
		{
			name: "unknown member",
			edit: func(l [][]byte) [][]byte {
				l[3] = bytes.Replace(l[3], []byte(`{"seq"`), []byte(`{"x":1,"seq"`), 1)
				return l
			},
			line: 4, seq: 0, reason: ReasonMalformed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, a := tamper(t, tt.edit)
			if _, err := Verify(dir); err == nil {
				t.Fatal("Verify accepted the log")
			} else {
				wantBroken(t, err, currentName, tt.line, tt.seq, tt.reason, false)
			}
			head, _ := a.Load()
			_, err := VerifyAnchored(dir, head)
			wantBroken(t, err, currentName, tt.line, tt.seq, tt.reason, false)
		})
	}
}

// Damage at the end is invisible to the chain and caught by the anchor.
func TestVerifyAnchorDetects(t *testing.T) {
	t.Run("truncated tail", func(t *testing.T) {
		dir, a := tamper(t, func(l [][]byte) [][]byte { return l[:8] })
		if sum, err := Verify(dir); err != nil || sum.Records != 8 {
			t.Fatalf("Verify without anchor: %+v, %v", sum, err)
		}
		head, _ := a.Load()
		_, err := VerifyAnchored(dir, head)
		wantBroken(t, err, currentName, 8, 8, ReasonTruncated, true)
		refusesOpen(t, dir, a, currentName, 8, 8, ReasonTruncated, true)
	})
	t.Run("emptied", func(t *testing.T) {
		dir, a := tamper(t, func(l [][]byte) [][]byte { return nil })
		head, _ := a.Load()
		_, err := VerifyAnchored(dir, head)
		wantBroken(t, err, currentName, 0, 0, ReasonTruncated, true)
		refusesOpen(t, dir, a, currentName, 0, 0, ReasonTruncated, true)
	})
	t.Run("files removed", func(t *testing.T) {
		dir, a := newTenLog(t)
		if err := os.Remove(filepath.Join(dir, currentName)); err != nil {
			t.Fatal(err)
		}
		refusesOpen(t, dir, a, currentName, 0, 0, ReasonTruncated, true)
	})
	t.Run("rewritten chain", func(t *testing.T) {
		// Every record re-encoded with a changed field and recomputed
		// hashes: a valid chain that is not the anchored one.
		dir, a := tamper(t, func(l [][]byte) [][]byte {
			prev := Genesis
			for i, line := range l {
				r, err := parseRecord(line)
				if err != nil {
					t.Fatal(err)
				}
				r.Fields = bytes.Replace(r.Fields, []byte("timestamp"), []byte("targets"), 1)
				r.Prev = prev
				if l[i], err = encodeRecord(r); err != nil {
					t.Fatal(err)
				}
				prev = lineHash(l[i])
			}
			return l
		})
		if _, err := Verify(dir); err != nil {
			t.Fatalf("Verify without anchor: %v", err)
		}
		head, _ := a.Load()
		_, err := VerifyAnchored(dir, head)
		wantBroken(t, err, currentName, 10, 10, ReasonRewritten, true)
		refusesOpen(t, dir, a, currentName, 10, 10, ReasonRewritten, true)
	})
	t.Run("records beyond the anchor", func(t *testing.T) {
		dir, a := newTenLog(t)
		sum, err := VerifyAnchored(dir, Mark{})
		wantBroken(t, err, currentName, 1, 1, ReasonExtended, true)
		if sum.Records != 0 {
			t.Errorf("summary %+v returned with an error", sum)
		}
		// As if the anchor store had been rolled back two records.
		lines := readLines(t, filepath.Join(dir, currentName))
		if err := a.Store(lineMark(8, lines[7])); err != nil {
			t.Fatal(err)
		}
		refusesOpen(t, dir, a, currentName, 9, 9, ReasonExtended, true)
	})
	t.Run("anchored hash differs", func(t *testing.T) {
		dir, _ := newTenLog(t)
		_, err := VerifyAnchored(dir, Mark{Head: Head{Seq: 9, Hash: Genesis}})
		wantBroken(t, err, currentName, 9, 9, ReasonRewritten, true)
	})
}

func TestVerifyFileTampered(t *testing.T) {
	dir, _ := tamper(t, func(l [][]byte) [][]byte { return slices.Delete(l, 4, 5) })
	_, err := VerifyFile(filepath.Join(dir, currentName))
	wantBroken(t, err, currentName, 5, 6, ReasonDeleted, false)
	if _, err := VerifyFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestVerifyAnchoredInvalidAnchor(t *testing.T) {
	dir, _ := newTenLog(t)
	if _, err := VerifyAnchored(dir, Mark{Head: Head{Seq: 10, Hash: "abc"}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("got %v, want ErrInvalid", err)
	}
}

// An incomplete last line is a crash artefact in the newest file, and
// damage anywhere else.
func TestVerifyTornLine(t *testing.T) {
	dir, a := newTenLog(t)
	path := filepath.Join(dir, currentName)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"seq":11,"ti`); err != nil {
		t.Fatal(err)
	}
	f.Close()
	head, _ := a.Load()
	sum, err := VerifyAnchored(dir, head)
	if err != nil || sum.TornBytes != 13 || sum.Records != 10 {
		t.Fatalf("VerifyAnchored: %+v, %v", sum, err)
	}
	// The same file as an older one.
	if err := os.Rename(path, filepath.Join(dir, rotatedName(1))); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Verify(dir)
	wantBroken(t, err, rotatedName(1), 11, 0, ReasonMalformed, false)
}

func TestVerifyLongLine(t *testing.T) {
	dir, _ := tamper(t, func(l [][]byte) [][]byte {
		l[2] = append(bytes.Repeat([]byte("x"), maxLineSize+10), '\n')
		return l
	})
	_, err := Verify(dir)
	// Line 3 is skipped as a whole; the records after it are still read.
	wantBroken(t, err, currentName, 3, 0, ReasonMalformed, false)
}

func TestVerifyEmptyDir(t *testing.T) {
	sum, err := VerifyAnchored(t.TempDir(), Mark{})
	if err != nil || sum.Records != 0 || sum.Last != (Head{}) || sum.Start != (Head{}) {
		t.Fatalf("%+v, %v", sum, err)
	}
	if _, err := Verify(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing dir: %v", err)
	}
}
