package metadata

import (
	"encoding/json"
	"fmt"
	"iter"
	"math"
	"slices"

	"github.com/latchsec/latch/internal/cjson"
)

// Targets is verified targets metadata (spec §4.5), top-level or delegated.
// The "targets" map is indexed, not materialised: Open validates every entry
// and records where each starts in the canonical bytes, in key order, and
// a hash table over the keys, so a lookup reads one or two entries and
// decodes one. A 100,000-entry document costs its canonical bytes plus 12
// to 20 bytes per entry.
//
// A Targets is immutable and safe for concurrent use.
type Targets struct {
	header
	name        string
	entries     entries
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
	if len(env.canonical) < parallelOpen {
		if t.signers, err = env.check(keys); err != nil {
			return err
		}
		return t.decode(env)
	}
	// On a large document the signature check (which hashes all of it)
	// and the decoding (which walks all of it) run side by side. Nothing
	// decoded is kept unless the signatures verify, and a failed check is
	// the error whatever the decoding found (spec §5.6.3 comes first): the
	// decoder only reads bytes the canonical check above validated.
	var signers []string
	sigErr := make(chan error, 1)
	go func() {
		var err error
		signers, err = env.check(keys)
		sigErr <- err
	}()
	var d Targets
	decErr := d.decode(env)
	if err := <-sigErr; err != nil {
		return err
	}
	if decErr != nil {
		t.header = d.header
		return decErr
	}
	*t = d
	t.name, t.signers = keys.Name, signers
	return nil
}

// parallelOpen is the size of "signed" from which Open checks signatures
// beside the decoding: below it, a goroutine costs more than it saves.
const parallelOpen = 1 << 20

// decode decodes the verified (or being verified) canonical "signed" of env.
func (t *Targets) decode(env *envelope) error {
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
	// An entry takes 60 bytes or more; most take about twice that.
	offsets := make([]uint32, 0, len(raw)/128)
	if err := cjson.MembersValid(raw, func(off int, path, v []byte) error {
		if err := checkTargetEntry(v); err != nil {
			return fmt.Errorf("target %q: %w", cjson.DecodeKey(path), err)
		}
		offsets = append(offsets, uint32(off))
		return nil
	}); err != nil {
		return err
	}
	slots := newTable(raw, offsets)
	t.entries = entries{n: len(offsets), objLen: len(raw), canonical: true, obj: raw, offsets: offsets, slots: slots}
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
func (t *Targets) Len() int { return t.entries.n }

// Target returns the entry for path, and false if path is not listed. An
// error means the entry could not be read: only a document that a client
// reopened from its cache can fail, with an error wrapping ErrCacheCorrupt
// when its bytes no longer match what was verified (never with other data).
func (t *Targets) Target(path string) (TargetFile, bool, error) {
	v, ok, err := t.entries.find(path)
	if err == nil && ok && !t.entries.canonical {
		if v, err = cjson.Canonicalize(v); err != nil {
			err = t.entries.broken("target %q: %v", path, err)
		}
	}
	if err != nil || !ok {
		return TargetFile{}, false, t.err(err)
	}
	tf, err := decodeTarget(path, v)
	if err != nil {
		return TargetFile{}, false, t.err(t.entries.broken("target %q: %v", path, err))
	}
	return tf, true, nil
}

// err wraps an error reading the document as an *Error, nil as nil.
func (t *Targets) err(err error) error {
	if err == nil {
		return nil
	}
	return &Error{Role: t.name, Version: t.version, Err: err}
}

// decodeTarget decodes a validated TARGETS entry in canonical form.
func decodeTarget(path string, raw []byte) (TargetFile, error) {
	tf := TargetFile{Path: path, Length: -1}
	if len(raw) == 0 || raw[0] != '{' {
		return TargetFile{}, malformed("target: want an object")
	}
	err := cjson.MembersValid(raw, func(_ int, k, v []byte) error {
		var err error
		switch {
		case cjson.KeyIs(k, "length"):
			tf.Length, err = parseLength(v, "length")
		case cjson.KeyIs(k, "hashes"):
			tf.Hashes, err = parseHashes(v, "hashes")
		case cjson.KeyIs(k, "custom"):
			tf.Custom = json.RawMessage(escapeControl(v))
		}
		return err
	})
	switch {
	case err != nil:
		return TargetFile{}, err
	case tf.Length < 0:
		return TargetFile{}, malformed(`target: missing "length"`)
	case tf.Hashes == nil:
		return TargetFile{}, malformed(`target: missing "hashes"`)
	}
	return tf, nil
}

// Paths returns the listed target paths in sorted order. An error ends the
// sequence; as for Target, only a document reopened from a client's cache
// can fail.
func (t *Targets) Paths() iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		for i := range t.entries.n {
			off, err := t.entries.offset(i)
			var k []byte
			if err == nil {
				k, _, err = t.entries.member(off, true)
			}
			if err != nil {
				yield("", t.err(err))
				return
			}
			if !yield(cjson.DecodeKey(k), nil) {
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
