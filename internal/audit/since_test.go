package audit

import (
	"errors"
	"testing"
)

// TestLogSince: the records after a seq, across rotated files, oldest
// first; none after the head; a closed Log refuses.
func TestLogSince(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, Options{Dir: dir, MaxBytes: smallFile, MaxFiles: 100}, &MemAnchor{})
	fill(t, l, 1, 12)
	if len(names(t, dir)) < 3 {
		t.Fatalf("files %v: want records in several files", names(t, dir))
	}
	head := l.Head().Seq
	for _, from := range []uint64{0, 1, 3, head - 1, head, head + 5} {
		recs, err := l.Since(from)
		if err != nil {
			t.Fatalf("Since(%d): %v", from, err)
		}
		want := int(max(int64(head)-int64(from), 0))
		if len(recs) != want {
			t.Fatalf("Since(%d): %d records, want %d", from, len(recs), want)
		}
		for i, r := range recs {
			if r.Seq != from+1+uint64(i) {
				t.Fatalf("Since(%d)[%d] has seq %d", from, i, r.Seq)
			}
		}
	}
	l.Close()
	if _, err := l.Since(0); !errors.Is(err, ErrClosed) {
		t.Errorf("Since on a closed log: %v, want ErrClosed", err)
	}
}
