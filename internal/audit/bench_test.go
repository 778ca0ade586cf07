package audit

import (
	"testing"
	"time"
)

// textAnchor keeps the Mark as text, as the client's trusted state does,
// so that Load parses it each time.
type textAnchor struct{ s string }

func (a *textAnchor) Load() (Mark, error) { return ParseMark(a.s) }

func (a *textAnchor) Store(m Mark) error {
	a.s = m.String()
	return nil
}

// BenchmarkOpen opens a log of 1,000 refresh records, as the client does
// at each start: the anchor parsed from its text, the log's end checked
// against it, nothing written.
func BenchmarkOpen(b *testing.B) {
	dir, a := b.TempDir(), &textAnchor{}
	l, err := Open(Options{Dir: dir, Now: newClock().Now}, a)
	if err != nil {
		b.Fatal(err)
	}
	for i := range 1000 {
		fields := map[string]any{
			"reference_time": time.Date(2030, 1, 1, 0, 0, i, 0, time.UTC).Format(time.RFC3339Nano),
			"versions":       map[string]int64{"root": 1, "snapshot": int64(i), "targets": int64(i), "timestamp": int64(i)},
		}
		if _, err := l.Append(KindRefresh, fields); err != nil {
			b.Fatal(err)
		}
	}
	l.Close()
	for b.Loop() {
		l, err := Open(Options{Dir: dir}, a)
		if err != nil {
			b.Fatal(err)
		}
		l.Close()
	}
}
