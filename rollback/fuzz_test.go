package rollback

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fullState returns a state with every kind of record: delegated roles
// with unusual names, both resets, an install, a failure, the time, an
// audit anchor and a transparency log.
func fullState(tb testing.TB) *State {
	tb.Helper()
	s := NewState()
	rec := func(v int64) RoleRecord {
		return RoleRecord{Version: v, SHA256: strings.Repeat("ab", 32), Length: 100 + v, Root: 5}
	}
	if err := s.Advance("root", rec(5)); err != nil {
		tb.Fatal(err)
	}
	for _, err := range []error{s.FastForward(2), s.ResetTimestamp(3)} {
		if err != nil {
			tb.Fatal(err)
		}
	}
	for role, v := range map[string]int64{"timestamp": 40, "snapshot": 30, "targets": 20, "bins/0": 3, "a%2Fb/ö": 1} {
		if err := s.Advance(role, rec(v)); err != nil {
			tb.Fatal(err)
		}
	}
	for _, err := range []error{
		s.CommitInstall("app", Install{Version: "1.2.3-rc.1+b7", SHA256: strings.Repeat("cd", 32), Time: time.Date(2025, 3, 1, 12, 0, 0, 0, time.FixedZone("", 3600))}),
		s.MarkFailed("app", strings.Repeat("ef", 32)),
		s.MarkFailed("other", strings.Repeat("01", 32)),
		s.AdvanceLog("log.example/\"quoted\"", checkpoint(7, 3, time.Date(2025, 3, 1, 12, 0, 0, 9, time.UTC))),
	} {
		if err != nil {
			tb.Fatal(err)
		}
	}
	s.AdvanceTime(time.Date(2025, 3, 1, 12, 0, 0, 1500, time.UTC))
	return s
}

// fuzzStates returns state files to seed FuzzDecodeState: empty and full
// states with the audit anchors the client writes, each in format 2 as
// encodeState writes it, in format 1 and compact; then trickyStates.
func fuzzStates(tb testing.TB) [][]byte {
	tb.Helper()
	var out [][]byte
	for _, anchor := range []string{
		"",
		"12:" + strings.Repeat("01", 32),
		`{"seq":12,"time":"2025-03-01T12:00:00Z","kind":"refresh","fields":{"versions":{"root":5}},"prev":"` + strings.Repeat("01", 32) + `"}`,
	} {
		for _, s := range []*State{NewState(), fullState(tb)} {
			s = s.Clone()
			s.AuditAnchor = anchor
			if s.TimestampResetRoot == 0 {
				// Format 1 had no timestamp resets.
				b, err := encodeState(s)
				if err != nil {
					tb.Fatal(err)
				}
				v1 := strings.Replace(strings.Replace(string(b), `"format": 2`, `"format": 1`, 1), "\t\"timestamp_reset_root\": 0,\n", "", 1)
				out = append(out, []byte(v1))
			}
			b, err := encodeState(s)
			if err != nil {
				tb.Fatal(err)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, b); err != nil {
				tb.Fatal(err)
			}
			out = append(out, b, compact.Bytes())
		}
	}
	out = append(out, trickyStates(tb)...)
	if len(out) == 0 {
		tb.Fatal("no seeds")
	}
	return out
}

// FuzzDecodeState compares decodeState with the encoding/json decoder it
// replaced (decodeStateJSON) and checks what FileStore.Load relies on: a
// refusal returns no state; an accepted state is valid, and encoding it
// gives bytes that decode to the same state and encode to the same bytes
// again.
func FuzzDecodeState(f *testing.F) {
	for _, b := range fuzzStates(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := checkAgainstJSON(t, data)
		if s == nil {
			return
		}
		if err := s.check(); err != nil {
			t.Fatalf("decoded an invalid state: %v", err)
		}
		enc, err := encodeState(s)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		s2, err := decodeState(enc)
		if err != nil {
			t.Fatalf("decode of the encoding: %v\n%s", err, enc)
		}
		if !reflect.DeepEqual(s, s2) {
			t.Fatalf("round trip changed the state:\n%+v\n%+v", s, s2)
		}
		if again, err := encodeState(s2); err != nil || !bytes.Equal(again, enc) {
			t.Fatalf("encoding is not stable: %v\n%s\n%s", err, enc, again)
		}
	})
}

// checkAgainstJSON decodes data with decodeState and with decodeStateJSON
// and fails unless both refuse it, or both accept it as the same state, or
// decodeState refuses it for one of the reasons documented on it
// (divergence). It returns decodeState's state.
func checkAgainstJSON(t *testing.T, data []byte) *State {
	t.Helper()
	s, err := decodeState(data)
	if err != nil && s != nil {
		t.Fatalf("state %+v with error %v", s, err)
	}
	want, jerr := decodeStateJSON(data)
	switch {
	case err == nil && jerr != nil:
		t.Fatalf("accepted what encoding/json refuses (%v):\n%q\n%+v", jerr, data, s)
	case err == nil && !reflect.DeepEqual(s, want):
		t.Fatalf("decoded\n%+v\nencoding/json decodes\n%+v\nfrom %q", s, want, data)
	case err != nil && jerr == nil && divergence(t, data, err) == "":
		t.Fatalf("refused what encoding/json accepts: %v\n%q", err, data)
	}
	return s
}
