package audit

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// scanFields are fields in every form canonicalFields writes: each escape
// appendString uses, UTF-8, keys whose order differs decoded and escaped
// ("\u003c" sorts before "=" decoded, after it as written), numbers as
// written, nesting, empty containers and an empty key.
var scanFields = []any{
	nil,
	map[string]any{"ctl": "\x00\x01\x1f\b\f\n\r\t", "quote": `"\`, "html": "<a&b>", "sep": "\u2028\u2029", "del": "\x7f"},
	map[string]any{"utf8": "ö€😀\ufffd", "bad": "\xff\xfe", "<": 1, "=": 2, "": "empty key", "\n": "ctl key"},
	json.RawMessage(`{"n":[0,-0,1.5,-12e3,1E+2,1e-2,12345678901234567890123],"b":[true,false,null],"e":{},"a":[],"d":[[{"x":[{}]}]]}`),
	map[string]any{"reference_time": "2030-01-01T00:00:00Z", "versions": map[string]int64{"root": 5, "snapshot": 9, "targets": 9, "timestamp": 812}},
}

// scanLines returns lines as Append writes them, with the fields above.
func scanLines(tb testing.TB) [][]byte {
	tb.Helper()
	var lines [][]byte
	for i, f := range scanFields {
		raw, err := canonicalFields(f)
		if err != nil {
			tb.Fatal(err)
		}
		for _, t := range []time.Time{time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 120000000, time.UTC)} {
			line, err := encodeRecord(Record{Seq: uint64(i*1000 + 1), Time: t, Kind: KindDownload, Fields: raw, Prev: Genesis})
			if err != nil {
				tb.Fatal(err)
			}
			lines = append(lines, line)
		}
	}
	return lines
}

// TestScanRecord: the fast path of parseRecord reads every line Append
// writes, as decodeRecord does, and refuses each near miss that
// decodeRecord refuses: the same fields with another key order, spacing,
// escaping or number form. Refused, parseRecord gives decodeRecord's error.
func TestScanRecord(t *testing.T) {
	for _, line := range scanLines(t) {
		want, err := decodeRecord(line)
		if err != nil {
			t.Fatalf("decodeRecord(%q): %v", line, err)
		}
		got, ok := scanRecord(line)
		if !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("scanRecord(%q) = %+v, %v; want %+v", line, got, ok, want)
		}
	}
	line := `{"seq":12,"time":"2025-01-02T03:04:05.5Z","kind":"download","fields":{"a":"x\ny","b":[1,-2.5e3]},"prev":"` + Genesis + "\"}\n"
	if _, ok := scanRecord([]byte(line)); !ok {
		t.Fatalf("scanRecord(%q) refused", line)
	}
	for name, bad := range map[string]string{
		"no newline":        strings.TrimSuffix(line, "\n"),
		"CRLF":              strings.TrimSuffix(line, "\n") + "\r\n",
		"two newlines":      line + "\n",
		"trailing data":     strings.TrimSuffix(line, "\n") + "{}\n",
		"space":             strings.Replace(line, `"seq":12`, `"seq": 12`, 1),
		"space in fields":   strings.Replace(line, `"a":"x\ny"`, `"a": "x\ny"`, 1),
		"space at the end":  strings.Replace(line, `]},"prev"`, `] },"prev"`, 1),
		"members swapped":   strings.Replace(line, `"seq":12,"time":"2025-01-02T03:04:05.5Z"`, `"time":"2025-01-02T03:04:05.5Z","seq":12`, 1),
		"upper-case member": strings.Replace(line, `"seq"`, `"Seq"`, 1),
		"escaped member":    strings.Replace(line, `"seq"`, `"s\u0065q"`, 1),
		"seq 0":             strings.Replace(line, `"seq":12`, `"seq":0`, 1),
		"seq 012":           strings.Replace(line, `"seq":12`, `"seq":012`, 1),
		"seq 1.2e1":         strings.Replace(line, `"seq":12`, `"seq":1.2e1`, 1),
		"seq -12":           strings.Replace(line, `"seq":12`, `"seq":-12`, 1),
		"seq overflow":      strings.Replace(line, `"seq":12`, `"seq":18446744073709551616`, 1),
		"time offset":       strings.Replace(line, `05.5Z`, `05.5+00:00`, 1),
		"time zeros":        strings.Replace(line, `05.5Z`, `05.50Z`, 1),
		"time lower-case z": strings.Replace(line, `05.5Z`, `05.5z`, 1),
		"time escaped":      strings.Replace(line, `05.5Z`, `05.5\u005a`, 1),
		"kind upper-case":   strings.Replace(line, `"download"`, `"Download"`, 1),
		"kind escaped":      strings.Replace(line, `"download"`, `"d\u006fwnload"`, 1),
		"kind empty":        strings.Replace(line, `"download"`, `""`, 1),
		"prev upper-case":   strings.Replace(line, Genesis, strings.Repeat("A", 64), 1),
		"prev short":        strings.Replace(line, Genesis, Genesis[1:], 1),
		"prev long":         strings.Replace(line, Genesis, Genesis+"0", 1),
		"fields unsorted":   strings.Replace(line, `{"a":"x\ny","b":[1,-2.5e3]}`, `{"b":[1,-2.5e3],"a":"x\ny"}`, 1),
		"fields duplicate":  strings.Replace(line, `"b":[1,-2.5e3]`, `"a":"x\ny","b":[1,-2.5e3]`, 1),
		"fields array":      strings.Replace(line, `{"a":"x\ny","b":[1,-2.5e3]}`, `[1]`, 1),
		"fields null":       strings.Replace(line, `{"a":"x\ny","b":[1,-2.5e3]}`, `null`, 1),
		"newline as \\u":    strings.Replace(line, `x\ny`, `x\u000ay`, 1),
		"raw newline":       strings.Replace(line, `x\ny`, "x\ny", 1),
		"raw tab":           strings.Replace(line, `x\ny`, "x\ty", 1),
		"escaped slash":     strings.Replace(line, `x\ny`, `x\/y`, 1),
		"escaped letter":    strings.Replace(line, `x\ny`, `\u0078\ny`, 1),
		"raw <":             strings.Replace(line, `x\ny`, `x<y`, 1),
		"raw &":             strings.Replace(line, `x\ny`, `x&y`, 1),
		"upper-case \\u":    strings.Replace(line, `x\ny`, `x\u003Cy`, 1),
		"raw U+2028":        strings.Replace(line, `x\ny`, "x\u2028y", 1),
		"escaped U+00e9":    strings.Replace(line, `x\ny`, `x\u00e9y`, 1),
		"escaped U+FFFD":    strings.Replace(line, `x\ny`, `x\ufffdy`, 1),
		"surrogate pair":    strings.Replace(line, `x\ny`, `x\ud83d\ude00y`, 1),
		"invalid UTF-8":     strings.Replace(line, `x\ny`, "x\xffy", 1),
		"encoded surrogate": strings.Replace(line, `x\ny`, "x\xed\xa0\x80y", 1),
		"short escape":      strings.Replace(line, `x\ny`, `x\u00`, 1),
		"number 01":         strings.Replace(line, `[1,-2.5e3]`, `[01,-2.5e3]`, 1),
		"number 1.":         strings.Replace(line, `[1,-2.5e3]`, `[1.,-2.5e3]`, 1),
		"number .5":         strings.Replace(line, `[1,-2.5e3]`, `[.5,-2.5e3]`, 1),
		"number +1":         strings.Replace(line, `[1,-2.5e3]`, `[+1,-2.5e3]`, 1),
		"number -":          strings.Replace(line, `[1,-2.5e3]`, `[-,-2.5e3]`, 1),
		"number 1e":         strings.Replace(line, `[1,-2.5e3]`, `[1e,-2.5e3]`, 1),
		"number 1e+":        strings.Replace(line, `[1,-2.5e3]`, `[1e+,-2.5e3]`, 1),
		"number hex":        strings.Replace(line, `[1,-2.5e3]`, `[0x1,-2.5e3]`, 1),
		"trailing comma":    strings.Replace(line, `[1,-2.5e3]`, `[1,-2.5e3,]`, 1),
		"literal True":      strings.Replace(line, `[1,-2.5e3]`, `[True]`, 1),
		"unclosed":          strings.Replace(line, `[1,-2.5e3]}`, `[1,-2.5e3}`, 1),
		"too deep":          strings.Replace(line, `[1,-2.5e3]`, strings.Repeat("[", 10001)+strings.Repeat("]", 10001), 1),
	} {
		if bad == line {
			t.Fatalf("%s: the line is unchanged", name)
		}
		_, want := decodeRecord([]byte(bad))
		if want == nil {
			t.Errorf("%s: decodeRecord accepts %q", name, bad)
		}
		if r, ok := scanRecord([]byte(bad)); ok {
			t.Errorf("%s: scanRecord accepts %q as %+v", name, bad, r)
		}
		if r, err := parseRecord([]byte(bad)); err == nil || want == nil || err.Error() != want.Error() || !reflect.DeepEqual(r, Record{}) {
			t.Errorf("%s: parseRecord = %+v, %v; want decodeRecord's error %v", name, r, err, want)
		}
	}
}

// FuzzScanRecord: the fast path of parseRecord accepts exactly the lines
// decodeRecord accepts (fields nested deeper than maxScanDepth aside, which
// it leaves to decodeRecord), with the same Record.
func FuzzScanRecord(f *testing.F) {
	seeds := append(fuzzLines(f), scanLines(f)...)
	if len(seeds) == 0 {
		f.Fatal("no seeds")
	}
	for _, line := range seeds {
		f.Add(line)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := scanRecord(data)
		want, err := decodeRecord(data)
		switch {
		case ok && err != nil:
			t.Fatalf("scanRecord accepts %q, which decodeRecord refuses: %v", data, err)
		case ok && !reflect.DeepEqual(got, want):
			t.Fatalf("scanRecord(%q) = %+v, decodeRecord gives %+v", data, got, want)
		case !ok && err == nil && bytes.Count(data, []byte("{"))+bytes.Count(data, []byte("[")) <= maxScanDepth:
			t.Fatalf("scanRecord refuses %q, which decodeRecord accepts", data)
		}
	})
}
