package translog

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/latchsec/latch/transparency"
)

func TestEntryRoundTrip(t *testing.T) {
	e := transparency.Entry{Repository: "example.com/app", Path: "app/1.4.2/linux amd64.tar.gz", Length: 0, SHA256: sha256.Sum256(nil)}
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := "latch-release/v1\nrepository example.com/app\ntarget app/1.4.2/linux amd64.tar.gz\nlength 0\n" +
		"sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
	if string(b) != want {
		t.Fatalf("Marshal = %q, want %q", b, want)
	}
	got, err := transparency.ParseEntry(b)
	if err != nil || got != e {
		t.Fatalf("ParseEntry = %+v, %v; want %+v", got, err, e)
	}
}

func TestEntryMarshalRejects(t *testing.T) {
	ok := testEntry(1, "")
	for name, mutate := range map[string]func(*transparency.Entry){
		"empty repository":      func(e *transparency.Entry) { e.Repository = "" },
		"space in repository":   func(e *transparency.Entry) { e.Repository = "a b" },
		"newline in path":       func(e *transparency.Entry) { e.Path = "app\nsha256 00" },
		"control char in path":  func(e *transparency.Entry) { e.Path = "app\x00" },
		"C1 control in path":    func(e *transparency.Entry) { e.Path = "app\u0085x" },
		"invalid UTF-8 in path": func(e *transparency.Entry) { e.Path = "app\xff" },
		"negative length":       func(e *transparency.Entry) { e.Length = -1 },
		"too long":              func(e *transparency.Entry) { e.Path = strings.Repeat("a", transparency.MaxEntrySize) },
	} {
		e := ok
		mutate(&e)
		if _, err := e.Marshal(); !errors.Is(err, transparency.ErrMalformed) {
			t.Errorf("%s: Marshal err = %v, want transparency.ErrMalformed", name, err)
		}
	}
}

// TestParseEntryCanonical: every byte string that differs from Marshal's
// output is refused, so equal releases have equal entries and a monitor
// compares bytes.
func TestParseEntryCanonical(t *testing.T) {
	good := string(mustMarshal(t, testEntry(7, "")))
	for name, b := range map[string]string{
		"no final newline":     strings.TrimSuffix(good, "\n"),
		"extra line":           good + "extra x\n",
		"CRLF":                 strings.ReplaceAll(good, "\n", "\r\n"),
		"other header":         strings.Replace(good, "latch-release/v1", "latch-release/v2", 1),
		"leading zero length":  strings.Replace(good, "length 1007", "length 01007", 1),
		"plus length":          strings.Replace(good, "length 1007", "length +1007", 1),
		"negative length":      strings.Replace(good, "length 1007", "length -1007", 1),
		"uppercase hex":        good[:len(good)-65] + strings.ToUpper(good[len(good)-65:]),
		"short hash":           good[:len(good)-3] + "\n",
		"no space after key":   strings.Replace(good, "target ", "target", 1),
		"fields swapped":       swapLines(good, 1, 2),
		"empty target":         strings.Replace(good, "target app/1.0.7/linux-amd64", "target ", 1),
		"space in repository":  strings.Replace(good, "repository example.com/app", "repository example.com/ app", 1),
		"tab in target":        strings.Replace(good, "linux-amd64", "linux\tamd64", 1),
		"length over int64":    strings.Replace(good, "length 1007", "length 9223372036854775808", 1),
		"missing sha256 value": strings.Replace(good, good[strings.LastIndex(good, "sha256 "):], "sha256\n", 1),
	} {
		if _, err := transparency.ParseEntry([]byte(b)); !errors.Is(err, transparency.ErrMalformed) {
			t.Errorf("%s: transparency.ParseEntry(%q) err = %v, want transparency.ErrMalformed", name, b, err)
		}
	}
}

func swapLines(s string, i, j int) string {
	lines := strings.SplitAfter(s, "\n")
	lines[i], lines[j] = lines[j], lines[i]
	return strings.Join(lines, "")
}

func FuzzParseEntry(f *testing.F) {
	for i := range int64(3) {
		f.Add(mustMarshal(f, testEntry(i, "")))
	}
	f.Add([]byte("latch-release/v1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := transparency.ParseEntry(b)
		if err != nil {
			if e != (transparency.Entry{}) {
				t.Fatalf("ParseEntry failed but returned %+v", e)
			}
			return
		}
		again, err := e.Marshal()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("ParseEntry(%q) = %+v, which marshals to %q, %v", b, e, again, err)
		}
	})
}

// FuzzParseBundle: a bundle either splits into exactly the entries asked
// for, which encode back to it, or fails with nothing returned.
func FuzzParseBundle(f *testing.F) {
	var b []byte
	for i := range int64(3) {
		e := mustMarshal(f, testEntry(i, ""))
		b = binary.BigEndian.AppendUint16(b, uint16(len(e)))
		b = append(b, e...)
	}
	f.Add(b, 3)
	f.Add(b[:len(b)-1], 3)
	f.Add([]byte{0, 0}, 1)
	f.Fuzz(func(t *testing.T, b []byte, n int) {
		if n < 0 || n > TileWidth {
			return
		}
		entries, err := parseBundle(b, n)
		if err != nil {
			if entries != nil {
				t.Fatalf("parseBundle failed (%v) but returned %d entries", err, len(entries))
			}
			return
		}
		var again []byte
		for _, e := range entries {
			again = binary.BigEndian.AppendUint16(again, uint16(len(e)))
			again = append(again, e...)
		}
		if len(entries) != n || !bytes.Equal(again, b) {
			t.Fatalf("parseBundle(%x, %d) = %q", b, n, entries)
		}
	})
}
