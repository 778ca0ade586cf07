package audit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/latchsec/latch/internal/atomicfile"
	"github.com/latchsec/latch/internal/rawfile"
)

// currentName is the file that records are appended to.
const currentName = "audit.log"

// logFile is one file of a log: audit.log (index 0) or audit.N.log.
type logFile struct {
	name  string
	index int
}

func rotatedName(index int) string {
	return "audit." + strconv.Itoa(index) + ".log"
}

// parseName returns the index of a log file name, or false for other names.
func parseName(name string) (int, bool) {
	if name == currentName {
		return 0, true
	}
	num, ok := strings.CutPrefix(name, "audit.")
	if !ok {
		return 0, false
	}
	num, ok = strings.CutSuffix(num, ".log")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || strconv.Itoa(n) != num {
		return 0, false
	}
	return n, true
}

// listFiles returns the log files in dir, oldest (highest index) first and
// audit.log last. Gaps in the numbering are allowed: a crash during
// rotation leaves them, and order is all that matters.
func listFiles(dir string) ([]logFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	var files []logFile
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if n, ok := parseName(e.Name()); ok {
			files = append(files, logFile{name: e.Name(), index: n})
		}
	}
	// Most logs are one file. Not calling the sort then spares a new
	// process the first use of its code, which costs more than a system
	// call on some machines (a page fault on the sort's instructions).
	if len(files) > 1 {
		slices.SortFunc(files, func(a, b logFile) int { return b.index - a.index })
	}
	return files, nil
}

// shiftFiles renames audit.log to audit.1.log and every audit.N.log one
// place older, closing gaps left by an earlier crash on the way. Every
// rename keeps the files in order, so a crash between two of them leaves a
// log that reads the same.
func shiftFiles(dir string) error {
	files, err := listFiles(dir)
	if err != nil {
		return err
	}
	var rotated []int // indexes, newest first
	hasCurrent := false
	for i := len(files) - 1; i >= 0; i-- {
		if files[i].index == 0 {
			hasCurrent = true
		} else {
			rotated = append(rotated, files[i].index)
		}
	}
	move := func(from, to string) error {
		if err := os.Rename(filepath.Join(dir, from), filepath.Join(dir, to)); err != nil {
			return fmt.Errorf("audit: rotate: %w", err)
		}
		return nil
	}
	// Close gaps, newest first: the i-th newest goes to i+1, which is at or
	// below its index and free once the newer ones have moved.
	for i, n := range rotated {
		if n != i+1 {
			if err := move(rotatedName(n), rotatedName(i+1)); err != nil {
				return err
			}
		}
	}
	// Shift up, oldest first, into the place just freed.
	for i := len(rotated); i >= 1; i-- {
		if err := move(rotatedName(i), rotatedName(i+1)); err != nil {
			return err
		}
	}
	if hasCurrent {
		if err := move(currentName, rotatedName(1)); err != nil {
			return err
		}
	}
	if err := atomicfile.SyncDir(dir); err != nil {
		return fmt.Errorf("audit: rotate: %w", err)
	}
	return nil
}

// errLineTooLong reports a line longer than maxLineSize.
var errLineTooLong = errors.New("line longer than the largest record")

// readLine returns the next line of br, newline included. At the end of
// the input it returns what is left (possibly nothing, possibly an
// incomplete line) with io.EOF. A line longer than maxLineSize is skipped
// up to its newline and reported as errLineTooLong.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	tooLong := false
	for {
		frag, err := br.ReadSlice('\n')
		if !tooLong {
			if len(line)+len(frag) > maxLineSize {
				tooLong, line = true, nil
			} else {
				line = append(line, frag...)
			}
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case tooLong && (err == nil || err == io.EOF):
			return nil, errLineTooLong
		default:
			return line, err
		}
	}
}

// tail is the end of a log file as Open needs it.
type tail struct {
	size int64
	last []byte // last complete line, newline included; nil if none
	torn int64  // bytes after the last newline
}

// errBadTail reports a file end that can't be the end of a valid log.
var errBadTail = errors.New("file does not end in a record")

// readTail reads the last complete line of path and the length of an
// incomplete line after it (lastLine).
func readTail(path string) (tail, error) {
	f, err := rawfile.Open(path, os.O_RDONLY, 0)
	if err != nil {
		return tail{}, fmt.Errorf("audit: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return tail{}, fmt.Errorf("audit: %w", err)
	}
	return lastLine(f, st.Size())
}

// tailBlock is how much of a file's end lastLine reads first: a record is
// most often far shorter.
const tailBlock = 4 << 10

// lastLine returns the last complete line of a file of size bytes read
// through r, and the length of an incomplete line after it. It reads the
// file's end only: tailBlock bytes, then twice as many each time that is
// too little to hold the last line whole, at most 2*maxLineSize (a torn
// line and a whole one). What a log's opening costs does not grow with its
// history.
func lastLine(r io.ReaderAt, size int64) (tail, error) {
	t := tail{size: size}
	if size == 0 {
		return t, nil
	}
	limit := min(size, 2*maxLineSize)
	for n := min(limit, tailBlock); ; n = min(limit, 2*n) {
		buf := make([]byte, n)
		if _, err := r.ReadAt(buf, size-n); err != nil {
			return tail{}, fmt.Errorf("audit: %w", err)
		}
		end := bytes.LastIndexByte(buf, '\n')
		t.torn = n - int64(end+1)
		if t.torn > maxLineSize {
			return tail{}, errBadTail
		}
		start := 0
		if end >= 0 {
			start = bytes.LastIndexByte(buf[:end], '\n') + 1
		}
		if n < size && start == 0 {
			// The last line may begin before buf.
			if n == limit {
				return tail{}, errBadTail
			}
			continue
		}
		if end >= 0 {
			t.last = buf[start : end+1]
		}
		return t, nil
	}
}

// describe reads the first and last record of a log file for the record of
// its deletion. A file without records gives ok false.
func describe(path string) (d dropFields, ok bool, err error) {
	t, err := readTail(path)
	if err != nil {
		return dropFields{}, false, err
	}
	if t.torn != 0 {
		return dropFields{}, false, fmt.Errorf("audit: %s ends in an incomplete line", path)
	}
	if t.last == nil {
		return dropFields{}, false, nil
	}
	last, err := parseRecord(t.last)
	if err != nil {
		return dropFields{}, false, fmt.Errorf("audit: last record of %s: %w", path, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return dropFields{}, false, fmt.Errorf("audit: %w", err)
	}
	defer f.Close()
	line, err := readLine(bufio.NewReader(f))
	if err != nil {
		return dropFields{}, false, fmt.Errorf("audit: first record of %s: %w", path, err)
	}
	first, err := parseRecord(line)
	if err != nil {
		return dropFields{}, false, fmt.Errorf("audit: first record of %s: %w", path, err)
	}
	return dropFields{
		File:     filepath.Base(path),
		FirstSeq: first.Seq,
		LastSeq:  last.Seq,
		LastHash: lineHash(t.last),
	}, true, nil
}
