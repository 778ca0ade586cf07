package cjson

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func nested(open, close string, n int) string {
	return strings.Repeat(open, n) + "1" + strings.Repeat(close, n)
}

func TestCanonicalize(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"sorted keys", `{"b":1,"a":2}`, `{"a":2,"b":1}`},
		{"whitespace", " \t\r\n{ \"a\" :\n [ 1 , 2 ] ,\"b\":{ } } \n", `{"a":[1,2],"b":{}}`},
		{"nested sort", `{"z":{"y":[{"b":true,"a":false}],"x":null}}`, `{"z":{"x":null,"y":[{"a":false,"b":true}]}}`},
		{"keys by UTF-8 bytes", `{"é":1,"z":2,"Z":3,"a":4,"😀":5,"￿":6}`, `{"Z":3,"a":4,"z":2,"é":1,"￿":6,"😀":5}`},
		{"keys compared decoded", `{"B":2,"\u0041":1}`, `{"A":1,"B":2}`},
		{"quote sorts before #", `{"a#":2,"a\"":1}`, `{"a\"":1,"a#":2}`},
		{"backslash key prefix", `{"a\\b":1,"a\\":2}`, `{"a\\":2,"a\\b":1}`},
		{"escaped keys", `{"\n":1,"\u0000":2}`, "{\"\x00\":2,\"\n\":1}"},
		{"unicode escape", `"\u00e9\u00E9"`, `"éé"`},
		{"short escapes", `"\n\t\r\b\f\/"`, "\"\n\t\r\b\f/\""},
		{"quote and backslash stay escaped", `"\u0022\u005c\"\\"`, `"\"\\\"\\"`},
		{"control characters raw", `"\u0000\u001f\u007f"`, "\"\x00\x1f\x7f\""},
		{"surrogate pair", `"\ud83d\ude00"`, `"😀"`},
		{"raw UTF-8 kept", `"é中😀` + "\u2028" + `"`, `"é中😀` + "\u2028" + `"`},
		{"big integers", `[123456789012345678901234567890,-98765432109876543210987654321]`, `[123456789012345678901234567890,-98765432109876543210987654321]`},
		{"integers", `[0, -1, 10, 9223372036854775807, -9223372036854775808]`, `[0,-1,10,9223372036854775807,-9223372036854775808]`},
		{"literals", `[true ,false, null]`, `[true,false,null]`},
		{"empty containers", `[ [ ] , { } ]`, `[[],{}]`},
		{"empty string key", `{"a":1,"":0}`, `{"":0,"a":1}`},
		{"top-level string", ` "x" `, `"x"`},
		{"top-level number", "\n42\n", `42`},
		{"many keys unsorted", `{"k3":3,"k1":1,"k12":12,"k0":0,"k2":2,"k11":11,"k10":10,"k5":5,"k4":4,"k7":7,"k6":6,"k9":9,"k8":8,"k13":13}`,
			`{"k0":0,"k1":1,"k10":10,"k11":11,"k12":12,"k13":13,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9}`},
		{"max depth arrays", nested("[", "]", MaxDepth), nested("[", "]", MaxDepth)},
		{"max depth objects", nested(`{"a": `, "}", MaxDepth), nested(`{"a":`, "}", MaxDepth)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Canonicalize([]byte(tt.in))
			if err != nil || string(got) != tt.want {
				t.Fatalf("Canonicalize(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
			if !IsCanonical(got) {
				t.Errorf("IsCanonical(%q) = false", got)
			}
		})
	}
}

func TestCanonicalizeErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		err  error
		off  int
	}{
		{"empty", ``, ErrSyntax, 0},
		{"only whitespace", "  \n", ErrSyntax, 3},
		{"unterminated object", `{`, ErrSyntax, 1},
		{"unterminated array", `[1,2`, ErrSyntax, 4},
		{"trailing comma in object", `{"a":1,}`, ErrSyntax, 7},
		{"trailing comma in array", `[1,]`, ErrSyntax, 3},
		{"missing colon", `{"a" 1}`, ErrSyntax, 5},
		{"single quotes", `{'a':1}`, ErrSyntax, 1},
		{"non-string key", `{1:1}`, ErrSyntax, 1},
		{"missing comma", `[1 2]`, ErrSyntax, 3},
		{"two values", `1 2`, ErrSyntax, 2},
		{"trailing data", `{"a":1}x`, ErrSyntax, 7},
		{"bad literal", `[tru]`, ErrSyntax, 1},
		{"capitalised literal", `True`, ErrSyntax, 0},
		{"raw newline in string", "{\"b\":\"x\ny\",\"a\":1}", ErrSyntax, 7},
		{"raw tab in string", "[\"\t\" ]", ErrSyntax, 2},
		{"raw NUL in key", "{ \"\x00\":1}", ErrSyntax, 3},
		{"invalid UTF-8", "\"\xff\"", ErrSyntax, 1},
		{"truncated UTF-8", "{\"a\":\"\xc3\"}", ErrSyntax, 6},
		{"UTF-8 surrogate", "\"\xed\xa0\x80\"", ErrSyntax, 1},
		{"overlong UTF-8", "\"\xc0\xaf\"", ErrSyntax, 1},
		{"non-ASCII outside strings", "[1,\xc3\xa9]", ErrSyntax, 3},
		{"byte order mark", "\xef\xbb\xbf{}", ErrSyntax, 0},
		{"leading zero", `01`, ErrSyntax, 1},
		{"leading zero negative", `[-01]`, ErrSyntax, 3},
		{"lone minus", `-`, ErrSyntax, 1},
		{"plus sign", `+1`, ErrSyntax, 0},
		{"fraction without digits", `1.`, ErrSyntax, 2},
		{"fraction dot exponent", `[1.e5]`, ErrSyntax, 3},
		{"leading dot", `.5`, ErrSyntax, 0},
		{"exponent without digits", `1e`, ErrSyntax, 2},
		{"double minus", `--1`, ErrSyntax, 1},
		{"hex number", `0x10`, ErrSyntax, 1},
		{"invalid escape", `"\x"`, ErrSyntax, 1},
		{"short unicode escape", `"\u12"`, ErrSyntax, 1},
		{"unicode escape at end", `"\u12`, ErrSyntax, 5},
		{"bad escape after high surrogate", `"\ud800\uzzzz"`, ErrSyntax, 7},
		{"unterminated string", `"abc`, ErrSyntax, 4},
		{"fraction", `1.5`, ErrNotCanonicalizable, 0},
		{"zero fraction", `[1, 2.0]`, ErrNotCanonicalizable, 4},
		{"exponent", `1e3`, ErrNotCanonicalizable, 0},
		{"signed exponent", `{"a":1E+3}`, ErrNotCanonicalizable, 5},
		{"negative zero", `-0`, ErrNotCanonicalizable, 0},
		{"nested negative zero", `[-0]`, ErrNotCanonicalizable, 1},
		{"lone high surrogate", `"\ud800"`, ErrNotCanonicalizable, 1},
		{"lone low surrogate", `"x\udc00"`, ErrNotCanonicalizable, 2},
		{"high surrogate then letter", `"\ud800\u0041"`, ErrNotCanonicalizable, 1},
		{"two high surrogates", `"\ud800\ud800"`, ErrNotCanonicalizable, 1},
		{"duplicate key", `{"a":1,"a":2}`, ErrDuplicateKey, 7},
		{"duplicate key nested", `{"a":1,"b":{"c":1,"c":2}}`, ErrDuplicateKey, 18},
		{"duplicate key unsorted", `{"b":1,"a":1,"b":2}`, ErrDuplicateKey, 13},
		{"duplicate key escaped", `{"a":1,"\u0061":2}`, ErrDuplicateKey, 7},
		{"earliest duplicate reported", `{"c":1,"b":1,"c":2,"b":2}`, ErrDuplicateKey, 13},
		{"duplicate in array element", `[{},{"x":1,"x":1}]`, ErrDuplicateKey, 11},
		{"too deep arrays", nested("[", "]", MaxDepth+1), ErrTooDeep, MaxDepth},
		{"too deep objects", nested(`{"a":`, "}", MaxDepth+1), ErrTooDeep, 5 * MaxDepth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Canonicalize([]byte(tt.in))
			if got != nil {
				t.Errorf("Canonicalize(%q) returned %q with error", tt.in, got)
			}
			checkError(t, err, tt.err, tt.off)
			if IsCanonical([]byte(tt.in)) {
				t.Errorf("IsCanonical(%q) = true", tt.in)
			}
		})
	}
}

// Among many equal keys in an unsorted object, the first repeat is reported.
func TestDuplicateKeyOffset(t *testing.T) {
	src := `{"z":0`
	want := 0
	for i := range 40 {
		if i == 1 {
			want = len(src) + 1
		}
		src += fmt.Sprintf(`,"a":%d`, i)
	}
	src += "}"
	_, err := Canonicalize([]byte(src))
	checkError(t, err, ErrDuplicateKey, want)
}

// checkError asserts that err is an *Error wrapping want at offset off.
func checkError(t *testing.T, err, want error, off int) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not an *Error", err)
	}
	if e.Offset != off {
		t.Errorf("error %v: offset %d, want %d", err, e.Offset, off)
	}
}

func TestErrorMessage(t *testing.T) {
	_, err := Canonicalize([]byte(`{"a":1,"a":2}`))
	want := `cjson: duplicate object key at offset 7: duplicate key "a"`
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %s", err, want)
	}
	if e := (*Error)(nil); !errors.As(err, &e) || e.Unwrap() != ErrDuplicateKey {
		t.Fatalf("Unwrap() != ErrDuplicateKey")
	}
}

func TestIsCanonical(t *testing.T) {
	yes := []string{
		`{"a":1}`, `[]`, `{}`, `""`, `0`, `-1`, `true`, `null`,
		"\"a\nb\x00\x7f\"", // control characters are written raw
		`"\\\""`,
		`{"a\"":1,"a#":2}`, // sorted by decoded keys: '"' < '#'
		`{"a\\":2,"a\\b":1}`,
		`123456789012345678901234567890`,
		nested("[", "]", MaxDepth),
		`{"":0,"a":[1,{"b":null}]}`,
	}
	no := []string{
		``, ` 1`, `1 `, `{"a": 1}`, `[1, 2]`,
		`{"b":1,"a":2}`, `{"a":1,"a":1}`, `{"a#":2,"a\"":1}`,
		`"\n"`, `"\/"`, `"\u00e9"`, `"\u0022"`,
		`1.0`, `1e2`, `-0`, `01`, `+1`,
		"\"\xff\"", "\"\xed\xa0\x80\"",
		nested("[", "]", MaxDepth+1),
		`{"a":1}{}`, `[1,]`, `{"a":1,}`, `"abc`, `tru`, `"\"`,
	}
	for _, s := range yes {
		if !IsCanonical([]byte(s)) {
			t.Errorf("IsCanonical(%q) = false", s)
		}
	}
	for _, s := range no {
		if IsCanonical([]byte(s)) {
			t.Errorf("IsCanonical(%q) = true", s)
		}
	}
}

// Canonical bytes may hold raw control characters; they are accepted when
// the whole input is canonical, and rejected in any other input.
func TestRawControlCharacters(t *testing.T) {
	canon := []byte("{\"a\":\"x\ny\",\"b\":\"\t\"}")
	if out, err := Canonicalize(canon); err != nil || !bytes.Equal(out, canon) {
		t.Fatalf("Canonicalize(%q) = %q, %v", canon, out, err)
	}
	if out, err := Canonicalize([]byte(`{"a":"x\ny","b":"\t"}`)); err != nil || !bytes.Equal(out, canon) {
		t.Fatalf("Canonicalize of escaped form = %q, %v; want %q", out, err, canon)
	}
	var got []string
	err := Members(canon, func(key string, value []byte) error {
		s, err := String(value)
		got = append(got, key+"="+s)
		return err
	})
	if err != nil || fmt.Sprint(got) != fmt.Sprint([]string{"a=x\ny", "b=\t"}) {
		t.Fatalf("Members = %q, %v", got, err)
	}
	_, err = Canonicalize([]byte("{\"b\":\"\t\",\"a\":\"x\ny\"}"))
	checkError(t, err, ErrSyntax, 6)
}

func TestCanonicalizeReturnsInput(t *testing.T) {
	src := []byte(" \n" + `{"a":[1,"x"],"b":{"c":null}}` + "\t")
	out, err := Canonicalize(src)
	if err != nil {
		t.Fatal(err)
	}
	if &out[0] != &src[2] || len(out) != len(src)-3 || cap(out) != len(out) {
		t.Fatalf("Canonicalize copied canonical input (len %d cap %d)", len(out), cap(out))
	}

	d := genTargets(200)
	if n := testing.AllocsPerRun(10, func() {
		if !IsCanonical(d.canonical) {
			t.Fatal("not canonical")
		}
	}); n != 0 {
		t.Errorf("IsCanonical allocates %v times", n)
	}
	if n := testing.AllocsPerRun(10, func() {
		if out, err := Canonicalize(d.canonical); err != nil || &out[0] != &d.canonical[0] {
			t.Fatal("Canonicalize copied canonical input")
		}
	}); n != 0 {
		t.Errorf("Canonicalize allocates %v times on canonical input", n)
	}

	// Non-canonical input gets a fresh slice.
	src = []byte(`{"b":1,"a":2}`)
	out, err = Canonicalize(src)
	if err != nil || string(out) != `{"a":2,"b":1}` || string(src) != `{"b":1,"a":2}` {
		t.Fatalf("Canonicalize = %q, %v; input now %q", out, err, src)
	}
}

type kv struct {
	key   string
	value string
}

func collectMembers(obj string) ([]kv, error) {
	var got []kv
	err := Members([]byte(obj), func(key string, value []byte) error {
		got = append(got, kv{key, string(value)})
		return nil
	})
	return got, err
}

func TestMembers(t *testing.T) {
	got, err := collectMembers(" {\n \"b\" : [1, {\"y\":2, \"x\":1}] ,\"\\u0061\\n\":\"v\\u00e9\" , \"c\":{} }\n")
	want := []kv{{"b", `[1, {"y":2, "x":1}]`}, {"a\n", `"v\u00e9"`}, {"c", `{}`}}
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Members = %q, %v; want %q", got, err, want)
	}
	if got, err := collectMembers(`{}`); err != nil || len(got) != 0 {
		t.Fatalf("Members({}) = %q, %v", got, err)
	}

	// Values cannot be appended to over the rest of the input.
	src := []byte(`{"a":1,"b":2}`)
	err = Members(src, func(key string, value []byte) error {
		if cap(value) != len(value) {
			t.Errorf("value %q has capacity %d", value, cap(value))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMembersStopsAtCallbackError(t *testing.T) {
	stop := errors.New("stop")
	calls := 0
	err := Members([]byte(`{"a":1,"b":2,"c":3}`), func(key string, value []byte) error {
		calls++
		if key == "b" {
			return stop
		}
		return nil
	})
	if err != stop || calls != 2 {
		t.Fatalf("Members = %v after %d calls; want the callback's error after 2", err, calls)
	}
}

func TestMembersErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		err  error
		off  int
	}{
		{"array", `[1]`, ErrSyntax, 0},
		{"string", ` "a"`, ErrSyntax, 1},
		{"empty", ``, ErrSyntax, 0},
		{"syntax error late", `{"a":1,"b":[1,2}`, ErrSyntax, 15},
		{"trailing data", `{"a":1} {}`, ErrSyntax, 8},
		{"duplicate key", `{"b":1,"a":2,"b":3}`, ErrDuplicateKey, 13},
		{"nested duplicate key", `{"a":{"x":1,"x":2}}`, ErrDuplicateKey, 12},
		{"fraction", `{"a":0.5}`, ErrNotCanonicalizable, 5},
		{"too deep", nested(`{"a":`, "}", MaxDepth+1), ErrTooDeep, 5 * MaxDepth},
		{"raw control character", "{\"b\":1,\"a\":\"\n\"}", ErrSyntax, 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			err := Members([]byte(tt.in), func(string, []byte) error { calls++; return nil })
			checkError(t, err, tt.err, tt.off)
			if calls != 0 {
				t.Errorf("callback called %d times for invalid input", calls)
			}
		})
	}
	// Depth is counted from the object given.
	if _, err := collectMembers(nested(`{"a":`, "}", MaxDepth)); err != nil {
		t.Errorf("Members at MaxDepth: %v", err)
	}
}

func TestElements(t *testing.T) {
	var got []string
	err := Elements([]byte(" [ 1 , \"a\" ,{\"b\": [ ]},[],null ] "), func(v []byte) error {
		got = append(got, string(v))
		return nil
	})
	want := []string{`1`, `"a"`, `{"b": [ ]}`, `[]`, `null`}
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Elements = %q, %v; want %q", got, err, want)
	}
	if err := Elements([]byte(`[]`), func([]byte) error { t.Fatal("called for empty array"); return nil }); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	calls := 0
	if err := Elements([]byte(`[1,2,3]`), func([]byte) error { calls++; return stop }); err != stop || calls != 1 {
		t.Fatalf("Elements = %v after %d calls", err, calls)
	}
	for _, c := range []struct {
		in  string
		err error
		off int
	}{
		{`{}`, ErrSyntax, 0},
		{`[1,{"a":1,"a":1}]`, ErrDuplicateKey, 10},
		{`[1,2`, ErrSyntax, 4},
		{nested("[", "]", MaxDepth+1), ErrTooDeep, MaxDepth},
	} {
		err := Elements([]byte(c.in), func([]byte) error { t.Fatalf("called for %q", c.in); return nil })
		checkError(t, err, c.err, c.off)
	}
}

func TestString(t *testing.T) {
	for in, want := range map[string]string{
		`"abc"`:                  "abc",
		` "a\u00e9\n\/\"\\" `:    "aé\n/\"\\",
		`"\ud83d\ude00"`:         "😀",
		`""`:                     "",
		"\"raw\ttab canonical\"": "raw\ttab canonical",
	} {
		if got, err := String([]byte(in)); err != nil || got != want {
			t.Errorf("String(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, c := range []struct {
		in  string
		err error
		off int
	}{
		{`1`, ErrSyntax, 0},
		{``, ErrSyntax, 0},
		{`"abc`, ErrSyntax, 4},
		{`"a" "b"`, ErrSyntax, 4},
		{`"\ud800"`, ErrNotCanonicalizable, 1},
		{"\"\\n\t\"", ErrSyntax, 3}, // neither canonical nor RFC 8259
		{"\"\xff\"", ErrSyntax, 1},
	} {
		got, err := String([]byte(c.in))
		if got != "" {
			t.Errorf("String(%q) = %q with error", c.in, got)
		}
		checkError(t, err, c.err, c.off)
	}
}

func TestInt(t *testing.T) {
	for in, want := range map[string]int64{
		`0`: 0, ` 42 `: 42, `-1`: -1,
		`9223372036854775807`:  9223372036854775807,
		`-9223372036854775808`: -9223372036854775808,
	} {
		if got, err := Int([]byte(in)); err != nil || got != want {
			t.Errorf("Int(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, c := range []struct {
		in  string
		err error
		off int
	}{
		{`9223372036854775808`, ErrRange, 0},
		{` -9223372036854775809`, ErrRange, 1},
		{`123456789012345678901234567890`, ErrRange, 0},
		{`1.0`, ErrNotCanonicalizable, 0},
		{`1e3`, ErrNotCanonicalizable, 0},
		{`-0`, ErrNotCanonicalizable, 0},
		{`"1"`, ErrSyntax, 0},
		{``, ErrSyntax, 0},
		{`01`, ErrSyntax, 1},
		{`1 2`, ErrSyntax, 2},
		{`-`, ErrSyntax, 1},
	} {
		got, err := Int([]byte(c.in))
		if got != 0 {
			t.Errorf("Int(%q) = %d with error", c.in, got)
		}
		checkError(t, err, c.err, c.off)
	}
}
