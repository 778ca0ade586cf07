package rollback

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fuzzStates returns encoded states to seed FuzzDecodeState: an empty one,
// and full ones with delegated roles, installs, failures, a time and the
// audit anchors the client writes.
func fuzzStates(f *testing.F) [][]byte {
	f.Helper()
	full := NewState()
	for role, v := range map[string]int64{"root": 5, "timestamp": 40, "snapshot": 30, "targets": 20, "bins/0": 3, "a%2Fb/ö": 1} {
		if err := full.Advance(role, RoleRecord{Version: v, SHA256: strings.Repeat("ab", 32), Length: 100 + v, Root: 5}); err != nil {
			f.Fatal(err)
		}
	}
	full.FastForwardRoot = 2
	if err := full.CommitInstall("app", Install{Version: "1.2.3-rc.1+b7", SHA256: strings.Repeat("cd", 32), Time: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}); err != nil {
		f.Fatal(err)
	}
	if err := full.MarkFailed("app", strings.Repeat("ef", 32)); err != nil {
		f.Fatal(err)
	}
	full.AdvanceTime(time.Date(2025, 3, 1, 12, 0, 0, 1500, time.UTC))
	var out [][]byte
	for _, anchor := range []string{
		"",
		"12:" + strings.Repeat("01", 32),
		`{"seq":12,"time":"2025-03-01T12:00:00Z","kind":"refresh","fields":{"versions":{"root":5}},"prev":"` + strings.Repeat("01", 32) + `"}`,
	} {
		for _, s := range []*State{NewState(), full} {
			s = s.Clone()
			s.AuditAnchor = anchor
			b, err := encodeState(s)
			if err != nil {
				f.Fatal(err)
			}
			out = append(out, b)
		}
	}
	return out
}

// FuzzDecodeState fuzzes what FileStore.Load does with the bytes of
// trusted-state: a refusal returns no state; an accepted state is valid,
// and encoding it gives bytes that decode to the same state and encode to
// the same bytes again.
func FuzzDecodeState(f *testing.F) {
	for _, b := range fuzzStates(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := decodeState(data)
		if err != nil {
			if s != nil {
				t.Fatalf("state %+v with error %v", s, err)
			}
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
