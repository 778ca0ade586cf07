package cjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	sslcjson "github.com/secure-systems-lab/go-securesystemslib/cjson"
)

// oracle returns go-securesystemslib's canonical form of src, decoded with
// encoding/json (numbers as json.Number), and whether it accepted src.
func oracle(src []byte) ([]byte, bool) {
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	if err := dec.Decode(new(any)); !errors.Is(err, io.EOF) {
		return nil, false // trailing data
	}
	out, err := sslcjson.EncodeCanonical(v)
	if err != nil {
		return nil, false
	}
	return out, true
}

// docGen generates random valid JSON documents (no duplicate keys, integers
// within int64, no -0, no lone surrogates) in random layouts and escapes.
type docGen struct {
	r        *rand.Rand
	maxDepth int
}

// runes are the characters strings are made of: ones that sort
// interestingly, need escaping, or are multi-byte.
var runes = []rune{'a', 'b', 'A', 'z', '0', '"', '\\', '/', '#', ' ', 0, '\n', '\t', 0x1f, 0x7f, 'é', '中', '😀', '\u2028', '\uffff', '\ufffd', '<', '&'}

func (g *docGen) ws(dst []byte) []byte {
	return append(dst, []string{"", "", "", " ", "\n ", "\t", "\r\n  "}[g.r.IntN(7)]...)
}

// str appends a JSON string for s, escaping each rune in a random way.
func (g *docGen) str(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for _, r := range s {
		short := map[rune]string{'"': `\"`, '\\': `\\`, '/': `\/`, '\b': `\b`, '\f': `\f`, '\n': `\n`, '\r': `\r`, '\t': `\t`}[r]
		switch mustEscape := r == '"' || r == '\\' || r < 0x20; {
		case !mustEscape && g.r.IntN(3) > 0:
			dst = utf8.AppendRune(dst, r)
		case short != "" && g.r.IntN(2) == 0:
			dst = append(dst, short...)
		case r > 0xffff:
			hi, lo := utf16.EncodeRune(r)
			dst = fmt.Appendf(dst, `\u%04x\u%04X`, hi, lo)
		default:
			dst = fmt.Appendf(dst, `\u%04x`, r)
		}
	}
	return append(dst, '"')
}

func (g *docGen) randString(maxLen int) string {
	rs := make([]rune, g.r.IntN(maxLen+1))
	for i := range rs {
		rs[i] = runes[g.r.IntN(len(runes))]
	}
	return string(rs)
}

func (g *docGen) value(dst []byte, depth int) []byte {
	kind := g.r.IntN(10)
	if depth >= g.maxDepth {
		kind = 4 + g.r.IntN(6)
	}
	switch kind {
	case 0, 1:
		n := g.r.IntN(6)
		if g.r.IntN(8) == 0 {
			n = 13 + g.r.IntN(40) // sorted by chunks, not directly
		}
		seen := map[string]bool{}
		dst = append(g.ws(dst), '{')
		for i := 0; i < n; i++ {
			var k string
			switch g.r.IntN(3) {
			case 0:
				k = g.randString(3)
			case 1:
				// Long common prefixes, beyond what chunked sorting looks at.
				k = strings.Repeat("releases/linux-amd64/", 1+g.r.IntN(6)) + g.randString(2)
			default:
				k = fmt.Sprintf("file-%d", g.r.IntN(1000))
			}
			if seen[k] {
				continue
			}
			seen[k] = true
			if len(seen) > 1 {
				dst = append(g.ws(dst), ',')
			}
			dst = g.str(g.ws(dst), k)
			dst = append(g.ws(dst), ':')
			dst = g.value(dst, depth+1)
		}
		return append(g.ws(dst), '}')
	case 2, 3:
		dst = append(g.ws(dst), '[')
		for i := range g.r.IntN(5) {
			if i > 0 {
				dst = append(g.ws(dst), ',')
			}
			dst = g.value(dst, depth+1)
		}
		return append(g.ws(dst), ']')
	case 4, 5:
		return g.str(g.ws(dst), g.randString(8))
	case 6, 7:
		var n int64
		switch g.r.IntN(3) {
		case 0:
			n = int64(g.r.Uint64())
		case 1:
			n = g.r.Int64N(1000) - 500
		}
		return strconv.AppendInt(g.ws(dst), n, 10)
	default:
		return append(g.ws(dst), []string{"true", "false", "null"}[g.r.IntN(3)]...)
	}
}

func TestDifferentialRandom(t *testing.T) {
	g := docGen{r: rand.New(rand.NewPCG(7, 11)), maxDepth: 5}
	for i := range 1000 {
		src := g.ws(g.value(nil, 0))
		got, err := Canonicalize(src)
		if err != nil {
			t.Fatalf("doc %d: Canonicalize(%q): %v", i, src, err)
		}
		want, ok := oracle(src)
		if !ok {
			t.Fatalf("doc %d: go-securesystemslib rejects %q", i, src)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("doc %d: Canonicalize(%q)\n = %q\nwant %q", i, src, got, want)
		}
	}
}

func TestDifferentialTable(t *testing.T) {
	// Both accept; the bytes must be identical.
	same := []string{
		`{"b":1,"a":2,"c":{"z":[],"y":{}}}`,
		`{"\ud83d\ude00":1,"\uffff":2,"\ue000":3,"z":4}`, // UTF-8 order, not UTF-16 order
		`{"a\"":1,"a#":2,"a\\":3,"a]":4,"a":5,"":6}`,
		`"<>&\u2028\u2029\ufeff\u007f"`,
		`"\u0000\u0001\b\f\n\r\t\u001f"`,
		`["\/", "\\/", "\"\\", "\u00E9\u00e9"]`,
		`[9223372036854775807, -9223372036854775808, 0, -1]`,
		` [ true , false , null , { } , [ ] , "" ] `,
		`{"signed":{"_type":"targets","version":1,"expires":"2030-01-01T00:00:00Z","targets":{"b":{"length":1,"hashes":{"sha256":"ab"}},"a":{"length":2,"hashes":{}}}},"signatures":[]}`,
		nested("[", "]", MaxDepth),
	}
	for _, s := range same {
		got, err := Canonicalize([]byte(s))
		want, ok := oracle([]byte(s))
		if err != nil || !ok || !bytes.Equal(got, want) {
			t.Errorf("input %q:\n ours %q, %v\n go-securesystemslib %q (accepts: %v)", s, got, err, want, ok)
		}
	}
	// Where go-securesystemslib accepts and we refuse, on purpose.
	refused := []struct {
		in  string
		err error
	}{
		{`{"a":1,"a":2}`, ErrDuplicateKey},        // it keeps the last value
		{`-0`, ErrNotCanonicalizable},             // it writes -0, Python TUF writes 0
		{`"\ud800"`, ErrNotCanonicalizable},       // it writes U+FFFD
		{`"\udc00\ud800"`, ErrNotCanonicalizable}, // likewise
		{"\"\xff\"", ErrSyntax},                   // it writes U+FFFD
		{nested("[", "]", MaxDepth+1), ErrTooDeep},
	}
	for _, c := range refused {
		if _, ok := oracle([]byte(c.in)); !ok {
			t.Errorf("go-securesystemslib now refuses %q", c.in)
		}
		if _, err := Canonicalize([]byte(c.in)); !errors.Is(err, c.err) {
			t.Errorf("Canonicalize(%q): %v, want %v", c.in, err, c.err)
		}
	}
	// Where we accept and go-securesystemslib refuses.
	for _, s := range []string{
		`18446744073709551616`, // integers beyond int64 pass through
		"\"a\nb\"",             // canonical bytes with a raw control character
	} {
		if _, ok := oracle([]byte(s)); ok {
			t.Errorf("go-securesystemslib now accepts %q", s)
		}
		if out, err := Canonicalize([]byte(s)); err != nil || string(out) != s {
			t.Errorf("Canonicalize(%q) = %q, %v", s, out, err)
		}
	}
}

// Objects with many keys are sorted by chunks of their keys; compare with a
// plain sort, including keys with long common prefixes and keys that are
// prefixes of others.
func TestSortManyKeys(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for round := range 50 {
		n := 1 + r.IntN(300)
		keys := map[string]bool{}
		for len(keys) < n {
			prefix := strings.Repeat("x", r.IntN(3)*60) + []string{"", "a", "ab", "abcdefg", "abcdefgh", "\x00"}[r.IntN(6)]
			keys[prefix+strings.Repeat("\x00", r.IntN(3))+string(rune('a'+r.IntN(3)))+strings.Repeat("b", r.IntN(9))] = true
		}
		var src []byte
		var want []string
		for k := range keys { // random order
			want = append(want, k)
			if len(src) > 0 {
				src = append(src, ',')
			}
			q, _ := json.Marshal(k)
			src = append(append(src, q...), ":0"...)
		}
		src = append(append([]byte{'{'}, src...), '}')
		slices.Sort(want)
		var got []string
		out, err := Canonicalize(src)
		if err == nil {
			err = Members(out, func(key string, _ []byte) error {
				got = append(got, key)
				return nil
			})
		}
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("round %d: %d keys sorted wrongly: %v", round, n, err)
		}
	}
}
