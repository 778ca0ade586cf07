package audit

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// Since returns the records of the log whose seq is above seq, oldest
// first; none (without reading a file) when the log's last record is at
// or below it. It reads the log's files from the newest back to the one
// that holds the record after seq; records of files that rotation deleted
// are gone. It does not verify the chain again: Open checked the end of
// the log and the records since are this Log's own. A caller that noted
// the head before an event (Head) finds with it whether a record of the
// event was written, after a crash that may have come before or after.
func (l *Log) Since(seq uint64) ([]Record, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	if l.head.Seq <= seq {
		return nil, nil
	}
	files, err := listFiles(l.dir)
	if err != nil {
		return nil, err
	}
	var out []Record
	for _, f := range slices.Backward(files) {
		recs, err := readRecords(filepath.Join(l.dir, f.name))
		if err != nil {
			return nil, err
		}
		reached := len(recs) > 0 && recs[0].Seq <= seq+1
		out = append(slices.DeleteFunc(recs, func(r Record) bool { return r.Seq <= seq }), out...)
		if reached {
			break
		}
	}
	return out, nil
}

// readRecords returns the records of the log file at path. An incomplete
// last line (a torn write that Open has not cut yet) is left out.
func readRecords(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	var out []Record
	for {
		line, err := readLine(br)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("audit: read %s: %w", path, err)
		}
		r, err := parseRecord(line)
		if err != nil {
			return nil, fmt.Errorf("audit: %s: %w", path, err)
		}
		out = append(out, r)
	}
}
