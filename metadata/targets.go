package metadata

import (
	"bytes"
	"encoding/json"
	"fmt"
	"iter"
	"math"
	"slices"
	"strings"

	"github.com/latchsec/latch/internal/cjson"
)

// Targets is verified targets metadata (spec §4.5), top-level or delegated.
// The "targets" map is indexed, not materialised: Open validates every entry
// and records where each starts in the canonical bytes, whose keys are
// sorted, so a lookup is a binary search that decodes one entry. A
// 100,000-entry document costs its canonical bytes plus 4 bytes per entry.
type Targets struct {
	header
	name        string
	targets     []byte   // the canonical "targets" object
	offsets     []uint32 // where each member's key starts in targets, in key order
	delegations *Delegations
	signers     []string
	wire        wireSpan // where signed and targets sit in the received bytes, if canonical
}

// TargetFile is one entry of a "targets" map (spec §4.5 TARGETS).
type TargetFile struct {
	Path   string
	Length int64
	// Hashes maps algorithm names to raw digests, as listed (spec §4.5
	// HASHES); package verify decides which are supported.
	Hashes map[string][]byte
	// Custom is the "custom" object as received, nil when absent.
	Custom json.RawMessage
}

// OpenTargets verifies data as the metadata of role name (RoleTargets or a
// delegated role) with the keys its delegator assigns, and decodes it.
func OpenTargets(data []byte, keys RoleKeys) (*Targets, error) {
	t := &Targets{name: keys.Name}
	if err := t.open(data, keys); err != nil {
		return nil, &Error{Role: keys.Name, Version: t.version, Err: err}
	}
	return t, nil
}

func (t *Targets) open(data []byte, keys RoleKeys) error {
	env, err := splitEnvelope(data)
	if err != nil {
		return err
	}
	if t.signers, err = env.check(keys); err != nil {
		return err
	}
	o, err := parseObject(env.canonical, "signed")
	if err != nil {
		return err
	}
	if t.header, err = parseHeader(o, RoleTargets); err != nil {
		return err
	}
	if err := t.decodeBody(o); err != nil {
		return err
	}
	if env.wireOff >= 0 {
		t.wire = wireSpan{signedOff: env.wireOff, signedLen: len(env.canonical), targetsOff: targetsOffset(env.canonical)}
	}
	return nil
}

// decodeBody indexes and validates what follows the header (spec §4.5).
func (t *Targets) decodeBody(o object) error {
	raw, err := o.required("targets")
	if err != nil {
		return err
	}
	if raw[0] != '{' {
		return malformed(`"targets" must be an object`)
	}
	if len(raw) > math.MaxUint32 {
		return malformed(`"targets" is larger than 4 GiB`)
	}
	t.targets = raw
	if err := cjson.MembersValid(raw, func(off int, path, v []byte) error {
		if err := checkTargetEntry(v); err != nil {
			return fmt.Errorf("target %q: %w", cjson.DecodeKey(path), err)
		}
		t.offsets = append(t.offsets, uint32(off))
		return nil
	}); err != nil {
		return err
	}
	if d, ok := o["delegations"]; ok {
		if t.delegations, err = parseDelegations(d); err != nil {
			return fmt.Errorf("delegations: %w", err)
		}
	}
	return nil
}

// checkTargetEntry validates one TARGETS entry without decoding it: a
// non-negative "length", a non-empty "hashes" object of hex strings, and an
// optional "custom" object.
func checkTargetEntry(v []byte) error {
	if v[0] != '{' {
		return malformed("want an object")
	}
	var haveLength, haveHashes bool
	err := cjson.MembersValid(v, func(_ int, k, fv []byte) error {
		switch {
		case cjson.KeyIs(k, "length"):
			haveLength = true
			_, err := parseLength(fv, "length")
			return err
		case cjson.KeyIs(k, "hashes"):
			haveHashes = true
			return checkHashes(fv)
		case cjson.KeyIs(k, "custom"):
			if fv[0] != '{' {
				return malformed(`"custom" must be an object`)
			}
		}
		return nil
	})
	switch {
	case err != nil:
		return err
	case !haveLength:
		return malformed(`missing "length"`)
	case !haveHashes:
		return malformed(`missing "hashes"`)
	}
	return nil
}

// checkHashes validates a HASHES object as parseHashes would, without
// allocating the decoded digests.
func checkHashes(v []byte) error {
	if v[0] != '{' {
		return malformed(`"hashes" must be an object`)
	}
	n := 0
	err := cjson.MembersValid(v, func(_ int, alg, hv []byte) error {
		n++
		if len(hv) < 4 || hv[0] != '"' || (len(hv)-2)%2 != 0 {
			return invalid("%s digest is not hex", cjson.DecodeKey(alg))
		}
		for _, c := range hv[1 : len(hv)-1] {
			if !isHex(c) {
				return invalid("%s digest is not hex", cjson.DecodeKey(alg))
			}
		}
		return nil
	})
	if err == nil && n == 0 {
		return invalid("no hashes listed")
	}
	return err
}

func isHex(c byte) bool { return hexDigit[c] }

// hexDigit[c] reports whether c is a hex digit: a table, because Open checks
// every digit of every hash of every target.
var hexDigit = func() (t [256]bool) {
	for _, c := range []byte("0123456789abcdefABCDEF") {
		t[c] = true
	}
	return t
}()

// Name is the role this document was verified as.
func (t *Targets) Name() string { return t.name }

// Len is the number of targets listed.
func (t *Targets) Len() int { return len(t.offsets) }

// Target returns the entry for path, if listed.
func (t *Targets) Target(path string) (TargetFile, bool) {
	p := []byte(path)
	i, found := slices.BinarySearchFunc(t.offsets, p, func(off uint32, p []byte) int {
		key := cjson.KeyAt(t.targets, int(off))
		if bytes.IndexByte(key, '\\') < 0 {
			return bytes.Compare(key, p)
		}
		return strings.Compare(cjson.DecodeKey(key), path)
	})
	if !found {
		return TargetFile{}, false
	}
	_, raw := cjson.MemberAt(t.targets, int(t.offsets[i]))
	// Open validated the entry; decoding it again cannot fail.
	tf, err := decodeTarget(path, raw)
	if err != nil {
		panic(fmt.Sprintf("metadata: validated target %q does not decode: %v", path, err))
	}
	return tf, true
}

func decodeTarget(path string, raw []byte) (TargetFile, error) {
	tf := TargetFile{Path: path}
	o, err := parseObject(raw, "target")
	if err != nil {
		return tf, err
	}
	v, err := o.required("length")
	if err != nil {
		return tf, err
	}
	if tf.Length, err = parseLength(v, "length"); err != nil {
		return tf, err
	}
	if v, err = o.required("hashes"); err != nil {
		return tf, err
	}
	if tf.Hashes, err = parseHashes(v, "hashes"); err != nil {
		return tf, err
	}
	if v, ok := o["custom"]; ok {
		tf.Custom = json.RawMessage(escapeControl(v))
	}
	return tf, nil
}

// Paths returns the listed target paths in sorted order.
func (t *Targets) Paths() iter.Seq[string] {
	return func(yield func(string) bool) {
		for _, off := range t.offsets {
			if !yield(cjson.DecodeKey(cjson.KeyAt(t.targets, int(off)))) {
				return
			}
		}
	}
}

// Delegations returns the document's delegations, nil if it has none.
func (t *Targets) Delegations() *Delegations { return t.delegations }

// Signers returns the key IDs whose signatures counted, sorted.
func (t *Targets) Signers() []string { return slices.Clone(t.signers) }

// escapeControl returns a copy of canonical JSON bytes in which raw control
// characters are escaped as \u00XX: canonical JSON writes them raw, which
// RFC 8259 parsers refuse. Outside strings canonical JSON has no control
// characters, so every one of them is inside a string.
func escapeControl(v []byte) []byte {
	out := make([]byte, 0, len(v))
	for _, c := range v {
		if c < 0x20 {
			out = fmt.Appendf(out, `\u%04x`, c)
			continue
		}
		out = append(out, c)
	}
	return out
}
