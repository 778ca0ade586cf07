package audit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.ReaderAt
	n atomic.Int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	c.n.Add(int64(len(p)))
	return c.r.ReadAt(p, off)
}

// TestOpenReadsOnlyTheEnd: finding the last record of a log reads the same
// few bytes of its end whether the log holds ten short records, or more
// than a MiB of records before them (it read 2*maxLineSize, half a MiB, of
// any log that long).
func TestOpenReadsOnlyTheEnd(t *testing.T) {
	read := map[int]int64{}
	for _, long := range []int{0, 6} {
		dir, a := t.TempDir(), &MemAnchor{}
		l := openLog(t, Options{Dir: dir}, a)
		for range long {
			if _, err := l.Append(KindRefresh, map[string]any{"pad": strings.Repeat("p", MaxFieldsSize-100)}); err != nil {
				t.Fatal(err)
			}
		}
		fill(t, l, 1, 10)
		l.Close()
		data, err := os.ReadFile(filepath.Join(dir, currentName))
		if err != nil {
			t.Fatal(err)
		}
		if long > 0 && int64(len(data)) <= 2*maxLineSize {
			t.Fatalf("the log takes %d bytes: too few for this test", len(data))
		}
		r := &countingReader{r: bytes.NewReader(data)}
		tl, err := lastLine(r, int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		lines := bytes.SplitAfter(data, []byte("\n"))
		if want := lines[len(lines)-2]; !bytes.Equal(tl.last, want) || tl.torn != 0 {
			t.Fatalf("last line %q, torn %d; want %q, 0", tl.last, tl.torn, want)
		}
		read[len(data)] = r.n.Load()
		// And Open reopens it.
		openLog(t, Options{Dir: dir}, a)
	}
	for size, n := range read {
		if n > 8<<10 {
			t.Errorf("a %d-byte log: %d bytes read to find its last record, want at most 8 KiB", size, n)
		}
	}
}

// TestLastLine: lastLine finds what reading the whole end (2*maxLineSize)
// at once finds, for short and long lines, torn ends and files without
// a newline.
func TestLastLine(t *testing.T) {
	line := func(n int) string { return strings.Repeat("x", n-1) + "\n" }
	for _, c := range []string{
		"",
		"torn",
		line(1),
		line(10),
		line(10) + "torn",
		line(10) + line(20),
		line(10) + line(20) + "torn",
		line(tailBlock - 1),
		line(tailBlock),
		line(tailBlock + 1),
		line(10) + line(tailBlock),
		line(10) + line(tailBlock-1),
		line(10) + line(tailBlock+1),
		line(10) + line(tailBlock-10) + "0123456789",
		line(10) + line(tailBlock-10) + "012345678",
		line(10) + line(maxLineSize),
		line(10) + line(maxLineSize) + strings.Repeat("t", maxLineSize),
		line(10) + line(maxLineSize) + strings.Repeat("t", maxLineSize+1),
		line(10) + line(2*maxLineSize),
		line(10) + line(2*maxLineSize-1),
		line(10) + line(2*maxLineSize+1),
		strings.Repeat("t", maxLineSize),
		strings.Repeat("t", maxLineSize+1),
		line(10) + strings.Repeat("t", 3*maxLineSize),
		strings.Repeat(line(100), 10000),
	} {
		b := []byte(c)
		got, err := lastLine(bytes.NewReader(b), int64(len(b)))
		want, wantErr := endAtOnce(b)
		name := fmt.Sprintf("%d bytes ending %q", len(b), b[max(0, len(b)-12):])
		if !errors.Is(err, wantErr) || (err == nil && (!bytes.Equal(got.last, want.last) || got.torn != want.torn || got.size != want.size)) {
			t.Errorf("%s: got %d-byte line, torn %d, %v; want %d-byte line, torn %d, %v", name, len(got.last), got.torn, err, len(want.last), want.torn, wantErr)
		}
	}
}

// endAtOnce is what lastLine must return, found by reading the whole end
// of b that it may read, 2*maxLineSize, at once.
func endAtOnce(b []byte) (tail, error) {
	t := tail{size: int64(len(b))}
	buf := b[len(b)-min(len(b), 2*maxLineSize):]
	whole := len(buf) == len(b)
	end := bytes.LastIndexByte(buf, '\n')
	t.torn = int64(len(buf) - (end + 1))
	if t.torn > maxLineSize || (end < 0 && !whole) {
		return tail{}, errBadTail
	}
	if end < 0 {
		return t, nil
	}
	start := bytes.LastIndexByte(buf[:end], '\n') + 1
	if start == 0 && !whole {
		return tail{}, errBadTail
	}
	t.last = buf[start : end+1]
	return t, nil
}
