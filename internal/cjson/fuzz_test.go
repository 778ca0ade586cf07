package cjson

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/latchsec/latch/internal/testvec"
)

var seedTable = []string{
	``, ` `, `{}`, `[]`, `""`, `0`, `-0`, `1.5`, `1e3`, `01`, `-`, `true`, `nul`,
	`{"b":1,"a":2}`, `{"a":1,"a":2}`, `{"b":1,"a":1,"b":2}`, `{"a":{"b":{"c":[1,2,{"d":null}]}}}`,
	` { "a" : [ 1 , 2 ] } `, `{"a\"":1,"a#":2}`, `{"a\\b":1,"a\\":2}`, `{"\u0041":1,"B":2}`,
	`"\u00e9\n\/\ud83d\ude00"`, `"\ud800"`, `"\udc00"`, `"\ud800\u0041"`, `"\u12"`, `"\x"`,
	"\"a\nb\"", "{\"b\":\"\n\",\"a\":1}", "\"\xff\"", "\xef\xbb\xbf{}",
	`123456789012345678901234567890`, `[9223372036854775807,-9223372036854775808]`,
	nested("[", "]", MaxDepth), nested("[", "]", MaxDepth+1), nested(`{"a":`, "}", MaxDepth),
	`{"k3":3,"k1":1,"k12":12,"k0":0,"k2":2,"k11":11,"k10":10,"k5":5,"k4":4,"k7":7,"k6":6,"k9":9,"k8":8,"k13":13}`,
}

// addSeeds adds the seed table, a few generated documents, the document of
// every test vector (it fails if there are none) and the interop corpus.
func addSeeds(f *testing.F) {
	for _, s := range seedTable {
		f.Add([]byte(s))
	}
	g := docGen{r: rand.New(rand.NewPCG(5, 6)), maxDepth: 4}
	for range 20 {
		f.Add(g.value(nil, 0))
	}
	f.Add(genTargets(20).compact)
	for _, b := range testvec.Bodies(f) {
		f.Add(b)
	}
	for _, b := range testvec.Interop(f) {
		f.Add(b)
	}
}

// canonicalizeSlow canonicalises src without the fast path.
func canonicalizeSlow(src []byte) ([]byte, error) {
	start, _ := trim(src)
	p := parser{src: src, emit: true}
	if err := p.top(start); err != nil {
		return nil, err
	}
	return p.out, nil
}

// hasHugeInt reports whether canonical bytes hold an integer beyond int64.
func hasHugeInt(canon []byte) bool {
	for i := 0; i < len(canon); {
		switch c := canon[i]; {
		case c == '"':
			i = skipString(canon, i)
		case c == '-' || isDigit(c):
			j := skipDigits(canon, i+1)
			if _, err := strconv.ParseInt(string(canon[i:j]), 10, 64); err != nil {
				return true
			}
			i = j
		default:
			i++
		}
	}
	return false
}

func hasControl(b []byte) bool {
	return slices.ContainsFunc(b, func(c byte) bool { return c < 0x20 })
}

// sameError reports whether a and b are *Errors with the same sentinel and
// offset.
func sameError(a, b error) bool {
	var x, y *Error
	return errors.As(a, &x) && errors.As(b, &y) && x.Err == y.Err && x.Offset == y.Offset
}

func FuzzCanonicalize(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := Canonicalize(in)
		want, ok := oracle(in)
		start, end := trim(in)
		if err != nil {
			if out != nil {
				t.Fatalf("result %q with error %v", out, err)
			}
			var e *Error
			if !errors.As(err, &e) || e.Offset < 0 || e.Offset > len(in) {
				t.Fatalf("error %#v is not an *Error with an offset in the input", err)
			}
			switch e.Err {
			case ErrSyntax:
				if ok && utf8.Valid(in) {
					t.Fatalf("syntax error %v for JSON that go-securesystemslib accepts", err)
				}
			case ErrNotCanonicalizable, ErrDuplicateKey, ErrTooDeep:
			default:
				t.Fatalf("error %v wraps no sentinel", err)
			}
			// Validating without output finds the same error.
			p := parser{src: in}
			if verr := p.top(start); !sameError(verr, err) {
				t.Fatalf("validation: %v, canonicalisation: %v", verr, err)
			}
			return
		}
		if !IsCanonical(out) {
			t.Fatalf("output %q is not canonical", out)
		}
		if again, err := Canonicalize(out); err != nil || !bytes.Equal(again, out) || &again[0] != &out[0] {
			t.Fatalf("Canonicalize(%q) = %q, %v", out, again, err)
		}
		if ok && !bytes.Equal(out, want) {
			t.Fatalf("Canonicalize(%q)\n = %q\ngo-securesystemslib: %q", in, out, want)
		}
		if !ok && !hasHugeInt(out) && !hasControl(in[start:end]) {
			t.Fatalf("accepted %q, which go-securesystemslib refuses", in)
		}
		if IsCanonical(in[start:end]) != (&out[0] == &in[start]) {
			t.Fatalf("fast path not taken exactly for canonical input")
		}
		if !hasControl(out) {
			if slow, err := canonicalizeSlow(out); err != nil || !bytes.Equal(slow, out) {
				t.Fatalf("full parse of canonical %q = %q, %v", out, slow, err)
			}
		}
	})
}

func FuzzMembers(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		canon, cerr := Canonicalize(in)
		start, _ := trim(in)
		for _, c := range []struct{ open, close byte }{{'{', '}'}, {'[', ']'}} {
			var parts [][]byte
			calls := 0
			var err error
			if c.open == '{' {
				err = Members(in, func(key string, value []byte) error {
					calls++
					parts = append(parts, appendCanonicalString(nil, []byte(key)))
					parts = append(parts, value)
					return nil
				})
			} else {
				err = Elements(in, func(value []byte) error {
					calls++
					parts = append(parts, value)
					return nil
				})
			}
			isContainer := start < len(in) && in[start] == c.open
			switch {
			case !isContainer:
				if !errors.Is(err, ErrSyntax) {
					t.Fatalf("not a container %q, error %v", c.open, err)
				}
				continue
			case cerr != nil:
				if !sameError(err, cerr) || calls != 0 {
					t.Fatalf("error %v after %d calls; Canonicalize: %v", err, calls, cerr)
				}
				continue
			case err != nil:
				t.Fatalf("error %v for input Canonicalize accepts", err)
			}
			// Rebuild the canonical form from the parts.
			type member struct{ key, value []byte }
			var ms []member
			for k := 0; k < len(parts); {
				var m member
				if c.open == '{' {
					m.key = parts[k]
					k++
				}
				v := parts[k]
				k++
				if len(v) == 0 || isWS(v[0]) || isWS(v[len(v)-1]) || cap(v) != len(v) {
					t.Fatalf("value %q not trimmed or not capped", v)
				}
				cv, err := Canonicalize(v)
				if err != nil {
					t.Fatalf("value %q: %v", v, err)
				}
				m.value = cv
				ms = append(ms, m)
			}
			if c.open == '{' {
				slices.SortFunc(ms, func(a, b member) int {
					ka, _ := String(a.key)
					kb, _ := String(b.key)
					return strings.Compare(ka, kb)
				})
			}
			rebuilt := []byte{c.open}
			for k, m := range ms {
				if k > 0 {
					rebuilt = append(rebuilt, ',')
				}
				if c.open == '{' {
					rebuilt = append(append(rebuilt, m.key...), ':')
				}
				rebuilt = append(rebuilt, m.value...)
			}
			rebuilt = append(rebuilt, c.close)
			if !bytes.Equal(rebuilt, canon) {
				t.Fatalf("members rebuilt %q, canonical %q", rebuilt, canon)
			}
			// The callback's error stops the walk and comes back as is.
			stop := errors.New("stop")
			calls = 0
			fn := func() error { calls++; return stop }
			if c.open == '{' {
				err = Members(in, func(string, []byte) error { return fn() })
			} else {
				err = Elements(in, func([]byte) error { return fn() })
			}
			if len(ms) > 0 && (err != stop || calls != 1) || len(ms) == 0 && (err != nil || calls != 0) {
				t.Fatalf("callback error: got %v after %d calls", err, calls)
			}
		}
	})
}
