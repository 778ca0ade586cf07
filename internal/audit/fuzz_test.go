package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fuzzLines returns record lines as Append writes them, of every kind the
// client writes and an audit-drop record, to seed FuzzParseRecord.
func fuzzLines(f *testing.F) [][]byte {
	f.Helper()
	var lines [][]byte
	prev := Genesis
	for i, ev := range []struct {
		kind   string
		fields any
	}{
		{KindRefresh, map[string]any{"reference_time": "2030-01-01T00:00:00Z", "versions": map[string]int64{"root": 5, "timestamp": 812}}},
		{KindRootRotation, map[string]any{"from": 1, "to": 2, "signers": []string{strings.Repeat("ab", 32)}}},
		{KindReject, map[string]any{"error": "timestamp v12 is older than trusted v14: possible rollback attack", "type": "*client.RollbackError"}},
		{KindDownload, map[string]any{"target": "app/1.0/ö.bin", "length": 1 << 40, "hashes": map[string]string{"sha256": strings.Repeat("cd", 32)}, "outcome": "verified"}},
		{KindInstall, nil},
		{KindDrop, dropFields{File: "audit.8.log", FirstSeq: 9001, LastSeq: 10342, LastHash: strings.Repeat("ef", 32)}},
		{"custom-9", json.RawMessage(`{"a":[1,2.5,-3e10,"\u2028",null,true]}`)},
	} {
		raw, err := canonicalFields(ev.fields)
		if err != nil {
			f.Fatal(err)
		}
		t := time.Date(2025, 1, 2, 3, 4, 5, i*1001, time.UTC)
		line, err := encodeRecord(Record{Seq: uint64(i + 1), Time: t, Kind: ev.kind, Fields: raw, Prev: prev})
		if err != nil {
			f.Fatal(err)
		}
		lines = append(lines, line)
		prev = lineHash(line)
	}
	return lines
}

// FuzzParseRecord: a line is accepted only as exactly what Append writes
// (it encodes back to the same bytes), and a refused one yields the zero
// Record. The same bytes as an anchor: ParseMark accepts a record's line
// without its newline and names that record, a refusal matches ErrInvalid
// and yields the zero Mark, and an accepted Mark reads back from its
// String.
func FuzzParseRecord(f *testing.F) {
	for _, line := range fuzzLines(f) {
		f.Add(line)
		f.Add(bytes.TrimSuffix(line, []byte("\n")))
	}
	f.Add([]byte("12:" + strings.Repeat("01", 32)))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := parseRecord(data)
		if err != nil {
			if !reflect.DeepEqual(r, Record{}) {
				t.Fatalf("record %+v with error %v", r, err)
			}
		} else {
			again, err := encodeRecord(r)
			if err != nil || !bytes.Equal(again, data) {
				t.Fatalf("record %+v encodes to %q, %v; the line was %q", r, again, err, data)
			}
			if r.Seq == 0 || !validKind(r.Kind) || !validHash(r.Prev) || r.Time.Location() != time.UTC {
				t.Fatalf("accepted record %+v", r)
			}
			if r.Kind == KindDrop {
				parseDrop(r.Fields)
			}
			m, err := ParseMark(string(bytes.TrimSuffix(data, []byte("\n"))))
			if err != nil || m != lineMark(r.Seq, data) {
				t.Fatalf("ParseMark of a record's line: %+v, %v", m, err)
			}
		}

		m, err := ParseMark(string(data))
		if err != nil {
			if m != (Mark{}) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParseMark(%q) = %+v, %v", data, m, err)
			}
			return
		}
		if err := m.check(); err != nil {
			t.Fatalf("ParseMark accepted an invalid Mark %+v: %v", m, err)
		}
		if back, err := ParseMark(m.String()); err != nil || back != m {
			t.Fatalf("ParseMark(%q) = %+v, %v; want %+v", m.String(), back, err, m)
		}
	})
}
