package audit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Summary describes a log that verified.
type Summary struct {
	Files   []string // paths read, oldest first
	Records int
	// Start is what the first record chains from: {0, Genesis} for a log
	// that starts at its beginning, or the last record of a file deleted
	// by rotation (recorded in an audit-drop record). Zero if there are no
	// records.
	Start Head
	// Last is the last record; zero if there are none.
	Last Head
	// TornBytes is the length of an incomplete line at the end of the
	// newest file: a crash while appending, removed by the next Open.
	TornBytes int64
	// Missing is the anchor's record, its line without the newline, when
	// the log ends just before it: a crash before the record reached the
	// log, or the record removed since; the next Open writes it back.
	// Otherwise "". Set by VerifyAnchored only.
	Missing string
}

// Verify checks every log file in dir, oldest first: each line is a record
// in canonical form, each record chains from the line before it (across
// files too) with the next seq, and the first record either starts the log
// (seq 1, prev Genesis) or follows a file whose deletion is recorded in an
// audit-drop record. An incomplete last line of the newest file is allowed
// (see [Summary.TornBytes]).
//
// A broken log gives a [*BrokenError] for the first broken link, whose
// [Reason] says what happened; every line is read even then, so that a
// deletion can be told from a reordering. Without an anchor, Verify can't
// see records removed from the end, records added at the end, or a chain
// rewritten from some record on, and it believes any audit-drop record:
// use [VerifyAnchored] with the anchor the client keeps.
func Verify(dir string) (Summary, error) {
	return verifyDir(dir, nil)
}

// VerifyAnchored is [Verify] and also checks the log against the anchor's
// Mark: the chain ends at m.Head, or just before it with m.Line following
// on (reported in [Summary.Missing]); the zero Mark means the log should
// have no records. A mismatch is a [*BrokenError] matching
// [ErrAnchorMismatch]. Only audit-drop records up to that end count: one
// that someone added after it can't account for deleted files.
func VerifyAnchored(dir string, m Mark) (Summary, error) {
	if err := m.check(); err != nil {
		return Summary{}, err
	}
	return verifyDir(dir, &m)
}

// VerifyFile checks one log file on its own: every line is a record and
// chains from the one before it. Where its first record chains from is
// reported in [Summary.Start], to compare with the [Summary.Last] of the
// file before it. An incomplete last line is reported in
// [Summary.TornBytes].
func VerifyFile(path string) (Summary, error) {
	s := &scanner{}
	if err := s.file(path, true); err != nil {
		return Summary{}, err
	}
	if err := s.chainError(); err != nil {
		return Summary{}, err
	}
	return s.summary(), nil
}

func verifyDir(dir string, anchor *Mark) (Summary, error) {
	files, err := listFiles(dir)
	if err != nil {
		return Summary{}, err
	}
	s := &scanner{anchor: anchor}
	for i, f := range files {
		if err := s.file(filepath.Join(dir, f.name), i == len(files)-1); err != nil {
			return Summary{}, err
		}
	}
	if err := s.startError(); err != nil {
		return Summary{}, err
	}
	if err := s.chainError(); err != nil {
		return Summary{}, err
	}
	sum := s.summary()
	if anchor != nil {
		if err := s.anchorError(filepath.Join(dir, currentName), &sum); err != nil {
			return Summary{}, err
		}
	}
	return sum, nil
}

// position is a record as the scanner remembers it.
type position struct {
	file string
	line int
	seq  uint64
	hash string // of its line
	prev string
}

// scanner checks records in order. After the first broken link it stops
// checking links but keeps reading, to collect audit-drop records and to
// tell a deletion from a reordering.
type scanner struct {
	files   []string
	records int
	first   *position
	prev    *position // the last record while the chain is intact
	torn    int64
	drops   []drop
	minSeq  uint64       // the lowest seq read
	err     *BrokenError // the first broken link, once found

	// A forward jump in seq with a broken link is a deletion unless the
	// missing seq turns up later (a reordering).
	gap     uint64 // the seq that was missing, 0 if none
	gapSeen bool

	anchor      *Mark
	anchorHash  string    // hash of the record with the anchor's seq
	anchorFound bool      // whether that hash is known
	anchorRec   *position // the record with the anchor's seq, if read
	extra       *position // the first record after the anchor's
}

// drop is an audit-drop record as the scanner remembers it.
type drop struct {
	dropFields
	seq uint64 // of the record
}

// file reads one file; newest says whether an incomplete last line is
// allowed. Only I/O errors are returned; damage is kept in s.err.
func (s *scanner) file(path string, newest bool) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	defer f.Close()
	s.files = append(s.files, path)
	br := bufio.NewReaderSize(f, 64<<10)
	for n := 1; ; n++ {
		line, err := readLine(br)
		switch {
		case errors.Is(err, errLineTooLong):
			s.fail(&BrokenError{File: path, Line: n, Reason: ReasonMalformed, Detail: err.Error()})
		case err == io.EOF:
			if len(line) > 0 {
				if newest {
					s.torn = int64(len(line))
				} else {
					s.fail(&BrokenError{File: path, Line: n, Reason: ReasonMalformed,
						Detail: "incomplete line at the end of a file that is not the newest"})
				}
			}
			return nil
		case err != nil:
			return fmt.Errorf("audit: read %s: %w", path, err)
		default:
			s.record(path, n, line)
		}
	}
}

func (s *scanner) fail(e *BrokenError) {
	if s.err == nil {
		s.err = e
	}
}

// record checks one complete line.
func (s *scanner) record(path string, n int, line []byte) {
	r, err := parseRecord(line)
	if err != nil {
		s.fail(&BrokenError{File: path, Line: n, Reason: ReasonMalformed, Detail: err.Error()})
		return
	}
	s.records++
	if s.minSeq == 0 || r.Seq < s.minSeq {
		s.minSeq = r.Seq
	}
	if r.Kind == KindDrop {
		if d, ok := parseDrop(r.Fields); ok {
			s.drops = append(s.drops, drop{dropFields: d, seq: r.Seq})
		}
	}
	if s.err != nil {
		if s.gap != 0 && r.Seq == s.gap {
			s.gapSeen = true
		}
		return
	}
	pos := &position{file: path, line: n, seq: r.Seq, hash: lineHash(line), prev: r.Prev}
	if s.first == nil {
		s.first = pos
		if s.anchor != nil && s.anchor.Head.Seq == r.Seq-1 {
			s.anchorHash, s.anchorFound = r.Prev, true
		}
	} else {
		s.link(s.prev, pos)
		if s.err != nil {
			return
		}
	}
	s.prev = pos
	if a := s.anchor; a != nil {
		switch {
		case r.Seq == a.Head.Seq:
			s.anchorHash, s.anchorFound, s.anchorRec = pos.hash, true, pos
		case r.Seq > a.Head.Seq && s.extra == nil:
			s.extra = pos
		}
	}
}

// link checks that r follows p.
func (s *scanner) link(p, r *position) {
	linked := r.prev == p.hash
	inSeq := r.seq == p.seq+1
	switch {
	case linked && inSeq:
	case inSeq:
		s.fail(&BrokenError{File: p.file, Line: p.line, Seq: p.seq, Reason: ReasonEdited,
			Detail: fmt.Sprintf("this record hashes to %s but the next one (%s line %d, seq %d) chains from %s: this record, or the next one's prev, was changed",
				p.hash, r.file, r.line, r.seq, r.prev)})
	case linked:
		s.fail(&BrokenError{File: r.file, Line: r.line, Seq: r.seq, Reason: ReasonEdited,
			Detail: fmt.Sprintf("this record chains from seq %d but its seq is not %d: its seq was changed", p.seq, p.seq+1)})
	case r.seq <= p.seq:
		s.fail(&BrokenError{File: r.file, Line: r.line, Seq: r.seq, Reason: ReasonReordered,
			Detail: fmt.Sprintf("seq %d comes after seq %d", r.seq, p.seq)})
	default:
		// Deleted or reordered: decided once every line has been read.
		s.fail(&BrokenError{File: r.file, Line: r.line, Seq: r.seq})
		s.gap = p.seq + 1
	}
}

// chainError returns the first broken link inside the files.
func (s *scanner) chainError() error {
	if s.err == nil {
		return nil
	}
	if s.gap != 0 {
		if s.gapSeen {
			s.err.Reason = ReasonReordered
			s.err.Detail = fmt.Sprintf("seq %d comes where seq %d belongs, which appears later", s.err.Seq, s.gap)
		} else {
			s.err.Reason = ReasonDeleted
			s.err.Detail = fmt.Sprintf("records seq %d to %d are missing before it", s.gap, s.err.Seq-1)
		}
	}
	return s.err
}

// startError checks where the oldest record chains from. It comes before
// any other broken link.
func (s *scanner) startError() error {
	f := s.first
	if f == nil || (f.seq == 1 && f.prev == Genesis) {
		return nil
	}
	for _, d := range s.drops {
		if d.LastSeq == f.seq-1 && d.LastHash == f.prev && s.anchored(d) {
			return nil
		}
	}
	switch {
	case s.minSeq < f.seq:
		return &BrokenError{File: f.file, Line: f.line, Seq: f.seq, Reason: ReasonReordered,
			Detail: fmt.Sprintf("seq %d comes first but seq %d appears later", f.seq, s.minSeq)}
	case f.seq == 1 || f.prev == Genesis:
		return &BrokenError{File: f.file, Line: f.line, Seq: f.seq, Reason: ReasonEdited,
			Detail: fmt.Sprintf("the first record of a log must be seq 1 chaining from the genesis value, not seq %d chaining from %s", f.seq, f.prev)}
	default:
		return &BrokenError{File: f.file, Line: f.line, Seq: f.seq, Reason: ReasonDeleted,
			Detail: fmt.Sprintf("records before seq %d are missing and no audit-drop record up to the anchor accounts for them (it chains from %s)", f.seq, f.prev)}
	}
}

// anchored reports whether the audit-drop record d is covered by the
// anchor, at or before its Head. Without an anchor every record is
// believed.
func (s *scanner) anchored(d drop) bool {
	return s.anchor == nil || d.seq <= s.anchor.Head.Seq
}

func (s *scanner) summary() Summary {
	sum := Summary{Files: s.files, Records: s.records, TornBytes: s.torn}
	if s.first != nil {
		sum.Start = Head{Seq: s.first.seq - 1, Hash: s.first.prev}
		sum.Last = Head{Seq: s.prev.seq, Hash: s.prev.hash}
	}
	return sum
}

// anchorError compares the end of an intact chain with the anchor.
func (s *scanner) anchorError(current string, sum *Summary) error {
	a := *s.anchor
	torn := ""
	if s.torn > 0 {
		torn = fmt.Sprintf("; an incomplete line of %d bytes follows", s.torn)
	}
	last := s.prev
	end := Head{}
	if last != nil {
		end = Head{Seq: last.seq, Hash: last.hash}
	}
	switch {
	case end == a.Head:
		return nil
	case a.follows(end):
		sum.Missing = strings.TrimSuffix(a.Line, "\n")
		return nil
	case last == nil:
		return &BrokenError{File: current, Reason: ReasonTruncated,
			Detail: fmt.Sprintf("the log has no records but its anchor is at seq %d%s", a.Head.Seq, torn)}
	case last.seq < a.Head.Seq:
		return &BrokenError{File: last.file, Line: last.line, Seq: last.seq, Reason: ReasonTruncated,
			Detail: fmt.Sprintf("the log ends at seq %d but its anchor is at seq %d: records were removed from the end%s", last.seq, a.Head.Seq, torn)}
	case s.anchorFound && s.anchorHash == a.Head.next() && s.extra != nil:
		x := s.extra
		return &BrokenError{File: x.file, Line: x.line, Seq: x.seq, Reason: ReasonExtended,
			Detail: fmt.Sprintf("the log goes on to seq %d after the anchored seq %d: records were added", last.seq, a.Head.Seq)}
	case s.anchorRec != nil:
		r := s.anchorRec
		return &BrokenError{File: r.file, Line: r.line, Seq: r.seq, Reason: ReasonRewritten,
			Detail: fmt.Sprintf("this record hashes to %s but the anchor holds %s: the chain was rewritten", r.hash, a.Head.Hash)}
	case s.anchorFound:
		return &BrokenError{File: last.file, Line: last.line, Seq: last.seq, Reason: ReasonRewritten,
			Detail: fmt.Sprintf("the first record chains from %s but the anchor holds %s for seq %d: the chain was rewritten", s.anchorHash, a.Head.next(), a.Head.Seq)}
	default:
		return &BrokenError{File: last.file, Line: last.line, Seq: last.seq, Reason: ReasonRewritten,
			Detail: fmt.Sprintf("the anchored seq %d is not in the log, which starts at seq %d: the chain was rewritten", a.Head.Seq, s.first.seq)}
	}
}
