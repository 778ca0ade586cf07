package rollback

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const testLog = "example.com/releases"

// checkpoint returns a valid log checkpoint of size n whose root is made
// from root.
func checkpoint(n int64, root byte, verified time.Time) LogCheckpoint {
	h := make([]byte, 32)
	h[0] = root
	return LogCheckpoint{Size: n, Hash: base64.StdEncoding.EncodeToString(h), Note: "note of size " + string(rune('0'+n%10)), Verified: verified}
}

func assertLogRollback(t *testing.T, err error, trusted, got string) {
	t.Helper()
	var re *RollbackError
	if !errors.Is(err, ErrRollback) || !errors.As(err, &re) {
		t.Fatalf("got %v, want a *RollbackError", err)
	}
	if re.Log != testLog || re.Trusted != trusted || re.Got != got || re.Role != "" || re.App != "" {
		t.Errorf("%+v, want Log %q Trusted %q Got %q", re, testLog, trusted, got)
	}
}

func TestAdvanceLog(t *testing.T) {
	s := NewState()
	must(t, s.AdvanceLog(testLog, checkpoint(10, 1, t0)))
	must(t, s.AdvanceLog(testLog, checkpoint(12, 2, t0.Add(time.Hour))))
	before := s.Clone()

	// A smaller tree: a rollback.
	assertLogRollback(t, s.AdvanceLog(testLog, checkpoint(11, 3, t0.Add(2*time.Hour))), "size 12", "size 11")
	assertUnchanged(t, s, before)
	// The same size with another root: a conflicting view, not a newer one.
	if err := s.AdvanceLog(testLog, checkpoint(12, 3, t0.Add(2*time.Hour))); !errors.Is(err, ErrInvalid) {
		t.Fatalf("same size, other root: %v, want ErrInvalid", err)
	}
	assertUnchanged(t, s, before)
	// Malformed input.
	for name, cp := range map[string]LogCheckpoint{
		"negative size": {Size: -1, Hash: checkpoint(1, 1, t0).Hash, Note: "n"},
		"short hash":    {Size: 1, Hash: "AAAA", Note: "n"},
		"no note":       {Size: 13, Hash: checkpoint(1, 1, t0).Hash},
	} {
		if err := s.AdvanceLog(testLog, cp); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if err := s.AdvanceLog("", checkpoint(13, 1, t0)); !errors.Is(err, ErrInvalid) {
		t.Errorf("no origin: %v, want ErrInvalid", err)
	}
	assertUnchanged(t, s, before)

	// The same checkpoint seen again later: fresher; seen with an earlier
	// clock: not staler.
	must(t, s.AdvanceLog(testLog, checkpoint(12, 2, t0.Add(3*time.Hour))))
	must(t, s.AdvanceLog(testLog, checkpoint(12, 2, t0)))
	if got := s.Logs[testLog].Verified; !got.Equal(t0.Add(3 * time.Hour)) {
		t.Errorf("Verified = %v, want the latest", got)
	}
}

func TestStoreRefusesLogRegression(t *testing.T) {
	withLog := func(t *testing.T) *State {
		s := baseState(t)
		must(t, s.AdvanceLog(testLog, checkpoint(12, 2, t0)))
		return s
	}
	for _, tc := range []struct {
		name   string
		change func(s *State)
		want   error
	}{
		{"smaller", func(s *State) { s.Logs[testLog] = checkpoint(11, 2, t0) }, ErrRollback},
		{"dropped", func(s *State) { delete(s.Logs, testLog) }, ErrRollback},
		{"same size, other root", func(s *State) { s.Logs[testLog] = checkpoint(12, 3, t0) }, ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stores(t, func(t *testing.T, open func() Store) {
				st := open()
				must(t, st.Save(withLog(t)))
				s := load(t, st)
				tc.change(s)
				if err := st.Save(s); !errors.Is(err, tc.want) {
					t.Fatalf("Save: %v, want %v", err, tc.want)
				}
				if got := load(t, st); !reflect.DeepEqual(got, withLog(t)) {
					t.Errorf("stored state changed by a refused Save: %+v", got)
				}
			})
		})
	}
}

func TestFileStoreLogs(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	s := baseState(t)
	must(t, s.AdvanceLog(testLog, checkpoint(12, 2, t0.In(time.FixedZone("x", 3600)))))
	must(t, st.Save(s))
	raw, err := os.ReadFile(filepath.Join(dir, "trusted-state"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"logs": {`) || !strings.Contains(string(raw), `"verified": "2025-03-01T12:00:00Z"`) {
		t.Errorf("trusted-state:\n%s", raw)
	}
	must(t, st.Close())
	got := load(t, openStore(t, dir))
	if !reflect.DeepEqual(got, s) {
		t.Errorf("reloaded\n%+v\nwant\n%+v", got, s)
	}
}
