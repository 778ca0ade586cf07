package audit

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestMarkString(t *testing.T) {
	h := Head{Seq: 42, Hash: strings.Repeat("ab", 32)}
	line := `{"seq":42,"time":"2025-01-02T03:04:05Z","kind":"refresh","fields":{},"prev":"` + Genesis + "\"}\n"
	full := lineMark(42, []byte(line))
	for _, tt := range []struct {
		m    Mark
		want string
	}{
		{Mark{}, ""},
		{Mark{Head: h}, "42:" + h.Hash},
		{full, strings.TrimSuffix(line, "\n")},
	} {
		if s := tt.m.String(); s != tt.want {
			t.Errorf("String %q, want %q", s, tt.want)
		}
		if got, err := ParseMark(tt.want); err != nil || got != tt.m {
			t.Errorf("ParseMark(%q) = %v, %v", tt.want, got, err)
		}
	}
	for _, bad := range []string{
		"42", ":" + h.Hash, "042:" + h.Hash, "+4:" + h.Hash, "0:" + h.Hash, "x:" + h.Hash,
		"42:" + strings.ToUpper(h.Hash), "42:" + h.Hash[1:], "42:" + h.Hash + "0",
		"18446744073709551616:" + h.Hash, line, strings.Replace(line, `"fields":{}`, `"fields":{ }`, 1), "{",
	} {
		if got, err := ParseMark(bad); !errors.Is(err, ErrInvalid) || got != (Mark{}) {
			t.Errorf("ParseMark(%q) = %v, %v; want ErrInvalid", bad, got, err)
		}
	}
	// A Line must be the record its Head names.
	for _, m := range []Mark{{Head: h, Line: line}, {Head: Head{Seq: 41, Hash: full.Head.Hash}, Line: line}, {Line: line}} {
		if err := m.check(); !errors.Is(err, ErrInvalid) {
			t.Errorf("check(%+v) = %v, want ErrInvalid", m, err)
		}
	}
}

func TestCanonicalFields(t *testing.T) {
	type target struct {
		Path   string            `json:"path"`
		Length int64             `json:"length"`
		Hashes map[string]string `json:"hashes"`
	}
	tests := []struct {
		in   any
		want string
	}{
		{nil, `{}`},
		{map[string]any(nil), `{}`},
		{json.RawMessage(`null`), `{}`},
		{map[string]any{"z": 1, "a": map[string]any{"y": true, "b": nil}}, `{"a":{"b":null,"y":true},"z":1}`},
		{json.RawMessage(" {\"b\" : [1, 2],\n \"a\": 12345678901234567890123 } "), `{"a":12345678901234567890123,"b":[1,2]}`},
		{target{"app/1.0/linux", 7, map[string]string{"sha512": "cd", "sha256": "ab"}},
			`{"hashes":{"sha256":"ab","sha512":"cd"},"length":7,"path":"app/1.0/linux"}`},
		{map[string]string{"html": "<a&b>"}, `{"html":"\u003ca\u0026b\u003e"}`},
	}
	for _, tt := range tests {
		got, err := canonicalFields(tt.in)
		if err != nil || string(got) != tt.want {
			t.Errorf("canonicalFields(%v) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func TestParseRecord(t *testing.T) {
	good := Record{Seq: 3, Time: time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC), Kind: KindReject,
		Fields: json.RawMessage(`{"reason":"expired"}`), Prev: Genesis}
	line, err := encodeRecord(good)
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseRecord(line)
	if err != nil || got.Seq != 3 || !got.Time.Equal(good.Time) || got.Kind != KindReject || string(got.Fields) != string(good.Fields) || got.Prev != Genesis {
		t.Fatalf("parseRecord: %+v, %v", got, err)
	}
	s := string(line)
	for name, bad := range map[string]string{
		"no newline":      strings.TrimSuffix(s, "\n"),
		"seq 0":           strings.Replace(s, `"seq":3`, `"seq":0`, 1),
		"negative seq":    strings.Replace(s, `"seq":3`, `"seq":-3`, 1),
		"bad kind":        strings.Replace(s, KindReject, "Reject", 1),
		"short prev":      strings.Replace(s, Genesis, Genesis[1:], 1),
		"upper-case prev": strings.Replace(s, Genesis, strings.Repeat("A", 64), 1),
		"offset time":     strings.Replace(s, `05.000000006Z`, `05.000000006+01:00`, 1),
		"fields array":    strings.Replace(s, `{"reason":"expired"}`, `["expired"]`, 1),
		"fields unsorted": strings.Replace(s, `{"reason":"expired"}`, `{"b":1,"a":2}`, 1),
		"missing fields":  strings.Replace(s, `"fields":{"reason":"expired"},`, ``, 1),
		"members swapped": strings.Replace(s, `"seq":3,"time":"2025-01-02T03:04:05.000000006Z"`, `"time":"2025-01-02T03:04:05.000000006Z","seq":3`, 1),
		"trailing data":   strings.TrimSuffix(s, "\n") + "{}\n",
		"duplicate seq":   strings.Replace(s, `"seq":3`, `"seq":3,"seq":3`, 1),
	} {
		if _, err := parseRecord([]byte(bad)); err == nil {
			t.Errorf("%s: accepted %s", name, bad)
		}
	}
}
