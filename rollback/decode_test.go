package rollback

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/latchsec/latch/internal/cjson"
	"github.com/latchsec/latch/internal/rawfile"
)

// decodeStateJSON is how FileStore decoded trusted-state before decodeState
// was written by hand: encoding/json into stateFile, the format version
// first. It is the oracle that decodeState is compared with.
func decodeStateJSON(data []byte) (*State, error) {
	var head struct {
		Format *int `json:"format"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, err
	}
	if head.Format == nil {
		return nil, errors.New("no format version")
	}
	if *head.Format != formatVersion && *head.Format != 1 {
		return nil, fmt.Errorf("unknown format version %d", *head.Format)
	}
	var sf stateFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sf); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the state object")
	}
	if (sf.TimestampReset == nil) != (sf.Format == 1) {
		return nil, fmt.Errorf("format %d: timestamp_reset_root is required in format %d only", sf.Format, formatVersion)
	}
	s := NewState()
	for role, rec := range sf.Roles {
		s.Roles[role] = rec
	}
	if sf.TimestampReset != nil {
		s.TimestampResetRoot = *sf.TimestampReset
	}
	s.FastForwardRoot = sf.FastForwardRoot
	s.LastTime = sf.LastTime.UTC()
	for app, in := range sf.Installed {
		in.Time = in.Time.UTC()
		s.Installed[app] = in
	}
	for app, hashes := range sf.Failed {
		s.Failed[app] = hashes
	}
	s.AuditAnchor = sf.AuditAnchor
	for origin, cp := range sf.Logs {
		cp.Verified = cp.Verified.UTC()
		s.Logs[origin] = cp
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	return s, nil
}

// schema is the shape of the state file as encoding/json reads it: an
// object read into a struct (fields, by name) or into a map (elem, the
// schema of every value). nil for anything else.
type schema struct {
	fields map[string]*schema
	elem   *schema
}

var stateSchema = func() *schema {
	scalars := func(names ...string) *schema {
		s := &schema{fields: map[string]*schema{}}
		for _, n := range names {
			s.fields[n] = nil
		}
		return s
	}
	top := scalars("format", "timestamp_reset_root", "fast_forward_root", "last_time", "failed", "audit_anchor")
	top.fields["roles"] = &schema{elem: scalars("version", "sha256", "length", "root")}
	top.fields["installed"] = &schema{elem: scalars("version", "sha256", "time")}
	top.fields["logs"] = &schema{elem: scalars("size", "hash", "note", "verified")}
	return top
}()

// ambiguousKeys reports, for JSON that encoding/json accepts, whether an
// object has the same key twice (keys compared decoded, as encoding/json
// decodes them), and whether a member of an object that encoding/json reads
// into one of the state file's structs names its field only up to case
// (encoding/json matches names case-insensitively: "FORMAT" sets format).
func ambiguousKeys(t testing.TB, data []byte) (dup, folded bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var walk func(sc *schema)
	token := func() json.Token {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("walking JSON that encoding/json accepted: %v", err)
		}
		return tok
	}
	walk = func(sc *schema) {
		switch token() {
		case json.Delim('['):
			for dec.More() {
				walk(nil)
			}
			token()
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				key := token().(string)
				dup = dup || seen[key]
				seen[key] = true
				var next *schema
				switch {
				case sc == nil:
				case sc.fields == nil:
					next = sc.elem
				default:
					for name, s := range sc.fields {
						if strings.EqualFold(name, key) {
							next = s
							folded = folded || name != key
						}
					}
				}
				walk(next)
			}
			token()
		}
	}
	walk(stateSchema)
	return dup, folded
}

// surrogateEscape matches a \u escape of a UTF-16 surrogate.
var surrogateEscape = regexp.MustCompile(`\\u[dD][89a-fA-F][0-9a-fA-F]{2}`)

// divergence returns why decodeState refused, with err, a file that
// encoding/json accepts, if that is one of the refusals documented on
// decodeState, and "" otherwise. The reason is checked in the input, not
// taken from err alone.
func divergence(t testing.TB, data []byte, err error) string {
	dup, folded := ambiguousKeys(t, data)
	switch {
	case errors.Is(err, errDuplicateKey) && dup:
		return "a key twice in an object"
	case errors.Is(err, errUnknownField) && folded:
		return "a field name in another case"
	case errors.Is(err, cjson.ErrSyntax) && !utf8.Valid(data):
		return "invalid UTF-8"
	case errors.Is(err, cjson.ErrNotCanonicalizable) && (bytes.Contains(data, []byte("-0")) || surrogateEscape.Match(data)):
		return "-0 or a lone surrogate escape"
	}
	return ""
}

// assertCorrupt checks that a FileStore whose trusted-state holds content
// refuses it with ErrCorrupt and reason (if not nil) on Load, Save and
// ReadFileState, and that nothing in the directory changed.
func assertCorrupt(t *testing.T, content string, reason error) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "trusted-state")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	st := openStore(t, dir)
	s, err := st.Load()
	if !errors.Is(err, ErrCorrupt) || s != nil {
		t.Fatalf("Load: got %+v, %v; want ErrCorrupt", s, err)
	}
	if reason != nil && !errors.Is(err, reason) {
		t.Errorf("Load: got %v, want it to wrap %v", err, reason)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file", err)
	}
	if _, err := ReadFileState(dir); !errors.Is(err, ErrCorrupt) {
		t.Errorf("ReadFileState: got %v, want ErrCorrupt", err)
	}
	// Save refuses to replace what it can't compare with.
	if err := st.Save(baseState(t)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Save: got %v, want ErrCorrupt", err)
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != content {
		t.Errorf("state file changed: %q, %v", got, err)
	}
	assertOnly(t, dir, "lock", "trusted-state")
}

// validStateFile is baseState encoded, as a string, and a function that
// returns it with the first old replaced by new.
func validStateFile(t *testing.T) (string, func(old, new string) string) {
	t.Helper()
	valid, err := encodeState(baseState(t))
	if err != nil {
		t.Fatal(err)
	}
	return string(valid), func(old, new string) string {
		t.Helper()
		if !strings.Contains(string(valid), old) {
			t.Fatalf("%q not in the encoded state", old)
		}
		return strings.Replace(string(valid), old, new, 1)
	}
}

// TestFileStoreRefusesAmbiguous: what encoding/json accepted but a state
// file must not hold, because two readers could take it two ways (a key
// twice, a name in another case) or because encoding/json rewrote it
// (invalid UTF-8, lone surrogates). encodeState writes none of it.
func TestFileStoreRefusesAmbiguous(t *testing.T) {
	_, replace := validStateFile(t)
	for _, tc := range []struct {
		name, content string
		reason        error
	}{
		{"format twice", replace(`"format": 2,`, `"format": 2, "format": 2,`), errDuplicateKey},
		// encoding/json keeps the last one: root v1 instead of v5.
		{"root twice", replace(`"roles": {`, `"roles": {"root": {"version": 1, "sha256": "`+hash(1)+`", "length": 1},`), errDuplicateKey},
		{"version twice", replace(`"version": 40,`, `"version": 40, "version": 1,`), errDuplicateKey},
		{"roles twice, merged", replace(`"installed"`, `"roles": {"bins/9": {"version": 1, "sha256": "`+hash(1)+`", "length": 1}}, "installed"`), errDuplicateKey},
		{"twice through an escape", replace(`"audit_anchor"`, `"audit_anchor": "x", "audit_anch\u006fr"`), errDuplicateKey},
		{"installed app twice", replace(`"installed": {`, `"installed": {"app": {"version": "v9.0.0", "sha256": "`+hash(1)+`"},`), errDuplicateKey},
		{"failed app twice", replace(`"failed": {`, `"failed": {"app": [],`), errDuplicateKey},
		{"field in upper case", replace(`"roles"`, `"ROLES"`), errUnknownField},
		{"field with a long s", replace(`"sha256": "`+hash(40), `"ſha256": "`+hash(40)), errUnknownField},
		{"field in title case", replace(`"last_time"`, `"Last_Time"`), errUnknownField},
		{"format in upper case", replace(`"format"`, `"FORMAT"`), errUnknownField},
		{"negative zero", replace(`"fast_forward_root": 2`, `"fast_forward_root": -0`), cjson.ErrNotCanonicalizable},
		{"lone surrogate", replace(`"audit_anchor": "`, `"audit_anchor": "\ud800`), cjson.ErrNotCanonicalizable},
		{"surrogate then a letter", replace(`"audit_anchor": "`, `"audit_anchor": "\ud800\u0041`), cjson.ErrNotCanonicalizable},
		{"invalid UTF-8", replace(`"audit_anchor": "`, "\"audit_anchor\": \"\xff"), cjson.ErrSyntax},
		{"invalid UTF-8 in a role name", replace(`"bins/0"`, "\"bins/\xc0\""), cjson.ErrSyntax},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := decodeStateJSON([]byte(tc.content)); err != nil {
				t.Fatalf("encoding/json refuses it too (%v): not a change", err)
			}
			assertCorrupt(t, tc.content, tc.reason)
		})
	}
}

// A file of a newer format is reported as such, whatever else it holds
// that this format does not have.
func TestDecodeStateNewerFormat(t *testing.T) {
	for _, data := range []string{
		`{"roles": "a string now", "format": 3, "new": [1.5, {"x": null}, "\u00e9"]}`,
		`{"format": 3, "format": 2}`,
		`{"roles": {"root": {"version": 1, "signed_by": ["k1"]}}, "format": 4}`,
	} {
		if _, err := decodeState([]byte(data)); !errors.Is(err, errFormat) {
			t.Errorf("%s: got %v, want an unknown format version", data, err)
		}
	}
	for _, data := range []string{
		`{"roles": "a string now", "format": 2}`,
		`{"roles": {"root": {"version": 1, "signed_by": ["k1"]}}, "format": 2}`,
		`{"format": 2, "new": [1.5, {"x": null}, "\u00e9"], "format": 3}`,
	} {
		if _, err := decodeState([]byte(data)); err == nil || errors.Is(err, errFormat) {
			t.Errorf("%s: got %v, want an error that is not about the format", data, err)
		}
	}
}

// trickyStates returns state files, valid and not, that exercise the
// corners of JSON: escapes, null, numbers, whitespace, format 1.
func trickyStates(t testing.TB) [][]byte {
	min2 := `{"format":2,"timestamp_reset_root":0}`
	root := `{"version":1,"sha256":"` + hash(1) + `","length":0}`
	var out [][]byte
	for _, s := range []string{
		min2,
		`{"format":1}`,
		" \t\r\n" + min2 + " \t\r\n",
		min2 + "\x00",
		min2 + "{}",
		min2 + " x",
		"\ufeff" + min2,
		`{"format":1,"timestamp_reset_root":null}`,
		`{"format":2,"timestamp_reset_root":null}`,
		`{"format":null,"timestamp_reset_root":0}`,
		`{"format":2.0,"timestamp_reset_root":0}`,
		`{"format":2e0,"timestamp_reset_root":0}`,
		`{"format":02,"timestamp_reset_root":0}`,
		`{"format":"2","timestamp_reset_root":0}`,
		`{"format":3}`,
		`{"format":3,"x":1e400}`,
		`{"format":18446744073709551618,"timestamp_reset_root":0}`,
		`{"format":2,"timestamp_reset_root":-0}`,
		`{"format":2,"timestamp_reset_root":0,"fast_forward_root":null,"last_time":null,"roles":null,"installed":null,"failed":null,"audit_anchor":null,"logs":null}`,
		`{"format":2,"timestamp_reset_root":0,"roles":{},"installed":{},"failed":{},"logs":{}}`,
		`{"format":2,"timestamp_reset_root":0,"failed":{"app":null}}`,
		`{"format":2,"timestamp_reset_root":0,"failed":{"app":[]}}`,
		`{"format":2,"timestamp_reset_root":0,"failed":{"app":[null]}}`,
		`{"format":2,"timestamp_reset_root":0,"failed":{"app":["` + hash(2) + `","` + hash(2) + `"]}}`,
		`{"format":2,"timestamp_reset_root":0,"failed":{"":[]}}`,
		`{"format":2,"timestamp_reset_root":0,"failed":{"app":"` + hash(2) + `"}}`,
		`{"format":2,"timestamp_reset_root":0,"roles":{"root":null}}`,
		`{"format":2,"timestamp_reset_root":0,"roles":{"root":` + root + `}}`,
		`{"format":2,"timestamp_reset_root":0,"roles":{"root":{"version":1,"sha256":"` + hash(1) + `","length":null,"root":null}}}`,
		`{"format":2,"timestamp_reset_root":0,"roles":{"root":{"version":1,"sha256":"` + hash(1) + `","length":0,"extra":{"a":[1]}}}}`,
		`{"format":2,"timestamp_reset_root":0,"roles":{"root":{"version":9223372036854775807,"sha256":"` + hash(1) + `","length":0}}}`,
		`{"format":2,"timestamp_reset_root":0,"roles":{"root":{"version":9223372036854775808,"sha256":"` + hash(1) + `","length":0}}}`,
		`{"format":2,"timestamp_reset_root":0,"roles":{"root":{"version":1e3,"sha256":"` + hash(1) + `","length":0}}}`,
		`{"format":2,"timestamp_reset_root":0,"roles":{"root":{"version":"1","sha256":"` + hash(1) + `","length":0}}}`,
		`{"format":2,"timestamp_reset_root":0,"roles":{"root":{"version":1,"sha256":"` + strings.ToUpper(hash(1)) + `","length":0}}}`,
		`{"format":2,"timestamp_reset_root":0,"roles":{"root":{"version":1,"sha256":"\u0030` + hash(1)[1:] + `","length":0}}}`,
		`{"format":2,"timestamp_reset_root":0,"roles":{"root":` + root + `,"a\u0000b\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00é😀":` + root + `}}`,
		`{"format":2,"timestamp_reset_root":0,"roles":{"root":` + root + `,"":` + root + `}}`,
		`{"form\u0061t":2,"timestamp_reset_root":0,"r\u006fles":{"root":{"versi\u006fn":1,"sha256":"` + hash(1) + `","length":0}}}`,
		`{"format":2,"timestamp_reset_root":1,"fast_forward_root":1,"roles":{"root":` + root + `}}`,
		`{"format":2,"timestamp_reset_root":0,"audit_anchor":"\u0000\ud83d\ude00\u2028"}`,
		`{"format":2,"timestamp_reset_root":0,"audit_anchor":"a` + "\x01" + `b"}`,
		`{"audit_anchor":"a` + "\x01" + `b","format":2,"timestamp_reset_root":0}`,
		`{"audit_anchor":"a` + "\n" + `b","format":2,"timestamp_reset_root":0}`,
		`{"audit_anchor":"a\u0001b","format":2,"timestamp_reset_root":0}`,
		`{"format":2,"timestamp_reset_root":0,"last_time":"2025-03-01T12:00:00Z"}`,
		`{"format":2,"timestamp_reset_root":0,"last_time":"2025-03-01T12:00:00.123456789+05:30"}`,
		`{"format":2,"timestamp_reset_root":0,"last_time":"2025-03-01T12:00:00-00:00"}`,
		`{"format":2,"timestamp_reset_root":0,"last_time":"2025-03-01t12:00:00z"}`,
		`{"format":2,"timestamp_reset_root":0,"last_time":"2025-03-01T12:00:00\u005a"}`,
		`{"format":2,"timestamp_reset_root":0,"last_time":"2025-03-01 12:00:00Z"}`,
		`{"format":2,"timestamp_reset_root":0,"last_time":"0000-01-01T00:00:00Z"}`,
		`{"format":2,"timestamp_reset_root":0,"last_time":"9999-12-31T23:59:59.999999999+23:59"}`,
		`{"format":2,"timestamp_reset_root":0,"last_time":"2025-03-01T24:00:00Z"}`,
		`{"format":2,"timestamp_reset_root":0,"last_time":1}`,
		`{"format":2,"timestamp_reset_root":0,"last_time":{}}`,
		`{"format":2,"timestamp_reset_root":0,"installed":{"app":{"version":"1.2.3","sha256":"` + hash(3) + `","time":null}}}`,
		`{"format":2,"timestamp_reset_root":0,"installed":{"app":{"version":"1.2.3","sha256":"` + hash(3) + `","time":"2025-03-01T12:00:00+01:00"}}}`,
		`{"format":2,"timestamp_reset_root":0,"installed":{"app":{"version":"1.2.3","sha256":"` + hash(3) + `","VERSION":"1.2.3"}}}`,
		`{"format":2,"timestamp_reset_root":0,"installed":{"app":null}}`,
		`{"format":2,"timestamp_reset_root":0,"logs":{"log.example":{"size":3,"hash":"` + strings.Repeat("A", 43) + `=","note":"n","verified":"2025-03-01T12:00:00+01:00"}}}`,
		`{"format":2,"timestamp_reset_root":0,"logs":{"log.example":{"size":null,"hash":"` + strings.Repeat("A", 43) + `=","note":"n","verified":null}}}`,
		`{"format":2,"timestamp_reset_root":0,"logs":{"log.example":null}}`,
		`{"format":2,"timestamp_reset_root":0,"Format":2}`,
		`{"format":2,"format":2,"timestamp_reset_root":0}`,
		`{"format":2,"timestamp_reset_root":0,"roles":{"root":` + root + `,"root":` + root + `}}`,
		`{"format":2,"timestamp_reset_root":0,"fast_forward_root":true}`,
		`[]`,
		`null`,
		`"format"`,
		``,
	} {
		out = append(out, []byte(s))
	}
	return out
}

// BenchmarkDecodeState decodes the state file of a client that refreshed a
// repository (four roles, the time, an audit anchor) and a full one (more
// roles, an install, a failure, a log), with decodeState and with the
// encoding/json decoder it replaced: compare with benchstat -col /decoder.
func BenchmarkDecodeState(b *testing.B) {
	refreshed := NewState()
	for role, v := range map[string]int64{"root": 1, "timestamp": 2, "snapshot": 2, "targets": 2} {
		if err := refreshed.Advance(role, RoleRecord{Version: v, SHA256: hash(int(v)), Length: 1000 * v, Root: 1}); err != nil {
			b.Fatal(err)
		}
	}
	refreshed.AdvanceTime(t0)
	refreshed.AuditAnchor = `{"seq":1,"time":"2030-01-01T00:00:00Z","kind":"refresh","fields":{"reference_time":"2030-01-01T00:00:00Z","versions":{"root":1,"snapshot":2,"targets":2,"timestamp":2}},"prev":"` + hash(0) + `"}`
	full := fullState(b)
	for _, st := range []struct {
		name string
		s    *State
	}{{"refreshed", refreshed}, {"full", full}} {
		data, err := encodeState(st.s)
		if err != nil {
			b.Fatal(err)
		}
		for _, dec := range []struct {
			name   string
			decode func([]byte) (*State, error)
		}{{"latch", decodeState}, {"json", decodeStateJSON}} {
			b.Run("state="+st.name+"/decoder="+dec.name, func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := dec.decode(data); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// A trusted-state file larger than any state (MaxStateSize) is corrupt, and
// is refused before it is read: a sparse file of a terabyte would
// otherwise be allocated in full. Nothing changes.
func TestFileStoreRefusesHugeState(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "trusted-state")
	valid, _ := validStateFile(t)
	if err := os.WriteFile(path, []byte(valid), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, size := range []int64{MaxStateSize + 1, 1 << 40} {
		if err := os.Truncate(path, size); err != nil {
			t.Skipf("no sparse file of %d bytes here: %v", size, err)
		}
		st := openStore(t, dir)
		s, err := st.Load()
		if !errors.Is(err, ErrCorrupt) || !errors.Is(err, rawfile.ErrTooLarge) || s != nil {
			t.Fatalf("Load of %d bytes: got %+v, %v; want ErrCorrupt and ErrTooLarge", size, s, err)
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("error %q does not name the file", err)
		}
		if _, err := ReadFileState(dir); !errors.Is(err, ErrCorrupt) || !errors.Is(err, rawfile.ErrTooLarge) {
			t.Errorf("ReadFileState of %d bytes: got %v, want ErrCorrupt and ErrTooLarge", size, err)
		}
		if err := st.Save(baseState(t)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("Save: got %v, want ErrCorrupt", err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(path); err != nil || fi.Size() != size {
			t.Errorf("state file changed: %v, %v", fi, err)
		}
		assertOnly(t, dir, "lock", "trusted-state")
	}
}
