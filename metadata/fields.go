package metadata

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"regexp"
	"time"

	"github.com/latchsec/latch/internal/cjson"
)

// object is one decoded JSON object: exact member names (no case folding) to
// their raw values. Objects are only ever read from validated bytes (the
// canonical form of "signed", or an envelope cjson.Members accepted), which
// have no duplicate keys: cjson refuses them at every depth.
type object map[string][]byte

// parseObject decodes one object of validated bytes (see object).
func parseObject(raw []byte, what string) (object, error) {
	if len(raw) == 0 || raw[0] != '{' {
		return nil, malformed("%s: want an object", what)
	}
	o := make(object)
	// The callback can't fail, and neither can walking validated bytes.
	_ = cjson.MembersValid(raw, func(_ int, k, v []byte) error {
		o[cjson.DecodeKey(k)] = v
		return nil
	})
	return o, nil
}

func (o object) has(key string) bool {
	_, ok := o[key]
	return ok
}

func (o object) required(key string) ([]byte, error) {
	v, ok := o[key]
	if !ok {
		return nil, malformed("missing %q", key)
	}
	return v, nil
}

func (o object) str(key string) (string, error) {
	v, err := o.required(key)
	if err != nil {
		return "", err
	}
	return jsonString(v, key)
}

func jsonString(v []byte, what string) (string, error) {
	if len(v) == 0 || v[0] != '"' {
		return "", malformed("%q: want a string", what)
	}
	s, err := cjson.String(v)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %w", ErrMalformed, what, err)
	}
	return s, nil
}

func (o object) int(key string) (int64, error) {
	v, err := o.required(key)
	if err != nil {
		return 0, err
	}
	return jsonInt(v, key)
}

func jsonInt(v []byte, what string) (int64, error) {
	if len(v) == 0 || (v[0] != '-' && (v[0] < '0' || v[0] > '9')) {
		return 0, malformed("%q: want an integer", what)
	}
	n, err := cjson.Int(v)
	if err != nil {
		return 0, fmt.Errorf("%w: %q: %w", ErrMalformed, what, err)
	}
	return n, nil
}

func (o object) boolean(key string) (bool, error) {
	v, err := o.required(key)
	if err != nil {
		return false, err
	}
	switch string(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, malformed("%q: want a boolean", key)
}

func (o object) obj(key string) (object, error) {
	v, err := o.required(key)
	if err != nil {
		return nil, err
	}
	return parseObject(v, fmt.Sprintf("%q", key))
}

// strings decodes a required array of strings.
func (o object) strings(key string) ([]string, error) {
	v, err := o.required(key)
	if err != nil {
		return nil, err
	}
	if len(v) == 0 || v[0] != '[' {
		return nil, malformed("%q: want an array", key)
	}
	out := []string{}
	err = cjson.ElementsValid(v, func(e []byte) error {
		s, err := jsonString(e, key)
		if err != nil {
			return err
		}
		out = append(out, s)
		return nil
	})
	return out, err
}

// header is what every role's "signed" object carries (spec §4.2-4.6).
type header struct {
	typ         string
	specVersion string
	version     int64
	expires     time.Time
}

// specVersionRE accepts "1", "1.0" and "1.x.y": any other major version is
// refused (docs/decisions.md) (spec §4.2: clients MUST check spec_version).
var specVersionRE = regexp.MustCompile(`^1(\.[0-9]+){0,2}$`)

func parseHeader(o object, wantType string) (header, error) {
	var h header
	var err error
	if h.typ, err = o.str("_type"); err != nil {
		return h, err
	}
	if h.typ != wantType {
		return h, fmt.Errorf("%w: _type is %q, want %q", ErrType, h.typ, wantType)
	}
	if h.version, err = o.int("version"); err != nil {
		return h, err
	}
	if h.version < 1 {
		return h, invalid("version %d is below 1", h.version)
	}
	if h.specVersion, err = o.str("spec_version"); err != nil {
		return h, err
	}
	if !specVersionRE.MatchString(h.specVersion) {
		return h, fmt.Errorf("%w: %q (this client implements 1.x)", ErrSpecVersion, h.specVersion)
	}
	exp, err := o.str("expires")
	if err != nil {
		return h, err
	}
	if h.expires, err = parseTime(exp); err != nil {
		return h, err
	}
	return h, nil
}

// parseTime reads an "expires" value: RFC 3339 with optional fractional
// seconds; "Z" per the spec, other offsets accepted and converted to UTC
// (docs/decisions.md: real repositories carry ".188964Z" and "-06:00").
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, malformed("expires %q is not an RFC 3339 time", s)
	}
	return t.UTC(), nil
}

// Version is the document's version number.
func (h *header) Version() int64 { return h.version }

// Expires is the document's expiry time, in UTC.
func (h *header) Expires() time.Time { return h.expires }

// SpecVersion is the spec_version the document declares.
func (h *header) SpecVersion() string { return h.specVersion }

// Expired reports whether the document is expired at reference time ref: a
// document is trusted only while its expiry is later than ref (spec §5.4.4).
func (h *header) Expired(ref time.Time) bool { return !h.expires.After(ref) }

// parseHashes decodes a HASHES object: algorithm name to lowercase or
// uppercase hex digest, at least one entry. Algorithms are not judged here
// (package verify decides which are supported).
func parseHashes(raw []byte, what string) (map[string][]byte, error) {
	if len(raw) == 0 || raw[0] != '{' {
		return nil, malformed("%s: want an object", what)
	}
	out := make(map[string][]byte, 2)
	err := cjson.MembersValid(raw, func(_ int, k, v []byte) error {
		alg := hashName(k)
		var digest []byte
		if len(v) >= 2 && v[0] == '"' && bytes.IndexByte(v, '\\') < 0 {
			digest = v[1 : len(v)-1] // a validated string without escapes
		} else {
			s, err := jsonString(v, alg)
			if err != nil {
				return err
			}
			digest = []byte(s)
		}
		d := make([]byte, len(digest)/2)
		if _, err := hex.Decode(d, digest); err != nil || len(digest) == 0 || len(digest)%2 != 0 {
			return invalid("%s: %s digest %q is not hex", what, alg, digest)
		}
		out[alg] = d
		return nil
	})
	if err == nil && len(out) == 0 {
		return nil, invalid("%s: no hashes listed", what)
	}
	return out, err
}

// hashName decodes the raw key of a HASHES member, without allocating for
// the usual algorithms.
func hashName(k []byte) string {
	switch string(k) {
	case "sha256":
		return "sha256"
	case "sha512":
		return "sha512"
	}
	return cjson.DecodeKey(k)
}

// parseLength decodes a LENGTH: a non-negative integer.
func parseLength(v []byte, what string) (int64, error) {
	n, err := jsonInt(v, what)
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, invalid("%s: negative length %d", what, n)
	}
	return n, nil
}
