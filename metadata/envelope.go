package metadata

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/latchsec/latch/internal/cjson"
	"github.com/latchsec/latch/verify"
)

// MaxSignatures caps the signatures one envelope may carry (docs/decisions.md,
// "Size limits"), so a document cannot make the client spend unbounded time on
// signature checks.
const MaxSignatures = 256

// RoleKeys is what a delegator authorises for a role: the key IDs whose
// signatures count, the public keys behind them, and how many distinct keys
// must sign. Root metadata provides it for the top-level roles
// ([Root.RoleKeys]) and targets metadata for delegated roles.
type RoleKeys struct {
	Name      string
	Threshold int
	KeyIDs    []string
	// Keys maps key IDs to parsed public keys. A key of a type or scheme this
	// client does not support is present with a nil value: it never counts.
	Keys map[string]*verify.PublicKey
}

// envelope is a split, canonicalised document whose signatures have not been
// checked yet. It never leaves this package.
type envelope struct {
	// canonical is the canonical form of the received "signed": what the
	// signatures cover, and what the document is decoded from once they
	// are checked.
	canonical []byte
	sigs      []verify.Signature
	// wireOff is where canonical starts in the received bytes when they
	// were canonical already (canonical is then a slice of them), else -1.
	wireOff int
}

// splitEnvelope splits a document strictly (spec §4.2): exactly one "signed"
// object and one "signatures" array in which no key ID appears twice; other
// top-level members are ignored, as the spec asks of unrecognised fields, but
// are still validated as JSON.
//
// The whole document is canonicalised once, which validates every byte
// (duplicate keys, depth, UTF-8, numbers) and costs one pass when it arrives
// canonical. The canonical form of an object holds the canonical form of
// each member's value, so "signed" is read straight out of it.
func splitEnvelope(data []byte) (*envelope, error) {
	env := envelope{wireOff: -1}
	var sigsRaw []byte
	canonical, err := cjson.Canonicalize(data)
	if err != nil {
		return nil, fmt.Errorf("%w: envelope: %w", ErrMalformed, err)
	}
	if canonical[0] != '{' {
		return nil, malformed("envelope: want an object")
	}
	// Canonicalize returns canonical input itself, without the whitespace
	// around it.
	start := len(data) - len(bytes.TrimLeft(data, " \t\r\n"))
	wire := &canonical[0] == &data[start]
	_ = cjson.MembersValid(canonical, func(off int, k, v []byte) error {
		switch {
		case cjson.KeyIs(k, "signed"):
			env.canonical = v
			if wire {
				env.wireOff = start + valueOffset(off, k)
			}
		case cjson.KeyIs(k, "signatures"):
			sigsRaw = v
		}
		return nil
	})
	if env.canonical == nil || env.canonical[0] != '{' {
		return nil, malformed(`envelope: "signed" must be an object`)
	}
	if sigsRaw == nil || sigsRaw[0] != '[' {
		return nil, malformed(`envelope: "signatures" must be an array`)
	}
	var keyIDs []string // every entry's, skipped signatures included
	err = cjson.ElementsValid(sigsRaw, func(e []byte) error {
		if len(keyIDs) == MaxSignatures {
			return malformed("more than %d signatures", MaxSignatures)
		}
		o, err := parseObject(e, "signature")
		if err != nil {
			return err
		}
		keyID, err := o.str("keyid")
		if err != nil {
			return err
		}
		sigHex, err := o.str("sig")
		if err != nil {
			return err
		}
		// §4.2: a key ID is unique in "signatures", even where a signature
		// under it is a placeholder. At most MaxSignatures entries, so a
		// linear search is cheaper than a map.
		if slices.Contains(keyIDs, keyID) {
			return fmt.Errorf("%w: %w %q", ErrMalformed, ErrDuplicateSignature, keyID)
		}
		keyIDs = append(keyIDs, keyID)
		// A signature that is not hex (or empty, as Sigstore's placeholder
		// signatures are) can never verify: it is skipped, not an error.
		if sig, err := hex.DecodeString(sigHex); err == nil && len(sig) > 0 {
			env.sigs = append(env.sigs, verify.Signature{KeyID: keyID, Sig: sig})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &env, nil
}

// valueOffset is where the value of a member of canonical JSON starts,
// given where its key starts (MembersValid's off) and the raw key: after
// the quoted key and the colon (canonical JSON has no whitespace).
func valueOffset(keyOff int, rawKey []byte) int { return keyOff + len(rawKey) + 3 }

// check counts the signatures by keys that keys authorises over the
// canonical bytes (spec §5.3.4, §5.4.1, §5.5.3, §5.6.3) and returns the key
// IDs that counted.
func (env *envelope) check(keys RoleKeys) ([]string, error) {
	return verify.Threshold(keys.Name, keys.Threshold, keys.KeyIDs, keys.Keys, env.canonical, env.sigs)
}

// open is the chokepoint every Open function but OpenRoot goes through:
// split, canonical form, threshold, and only then the first decoding of
// "signed". It returns the decoded "signed" object, its header and the key IDs
// whose signatures counted.
func open(data []byte, keys RoleKeys, wantType string) (object, header, []string, error) {
	env, err := splitEnvelope(data)
	if err != nil {
		return nil, header{}, nil, err
	}
	signers, err := env.check(keys)
	if err != nil {
		return nil, header{}, nil, err
	}
	o, h, err := env.decode(wantType)
	return o, h, signers, err
}

// decode is the first decoding of "signed": its object and its header.
func (env *envelope) decode(wantType string) (object, header, error) {
	o, err := parseObject(env.canonical, "signed")
	if err != nil {
		return nil, header{}, err
	}
	h, err := parseHeader(o, wantType)
	return o, h, err
}

// parseKeys decodes a KEYS object (spec §4.3). Keys of unsupported types or
// schemes, and keys that do not parse, are kept with a nil value so that role
// key IDs still resolve but never count: unknown key types fail closed.
func parseKeys(raw []byte) (map[string]*verify.PublicKey, error) {
	o, err := parseObject(raw, `"keys"`)
	if err != nil {
		return nil, err
	}
	keys := make(map[string]*verify.PublicKey, len(o))
	for id, v := range o {
		k, err := parseObject(v, fmt.Sprintf("key %q", id))
		if err != nil {
			return nil, err
		}
		keyType, err := k.str("keytype")
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", id, err)
		}
		scheme, err := k.str("scheme")
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", id, err)
		}
		val, err := k.obj("keyval")
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", id, err)
		}
		public, err := val.str("public")
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", id, err)
		}
		pk, err := verify.ParseKey(keyType, scheme, public)
		if err != nil {
			pk = nil
		}
		keys[id] = pk
	}
	return keys, nil
}

// parseRoleKeys decodes the "keyids" and "threshold" of a role and checks
// that every key ID is defined (spec §4.3: roles refer to keys by ID).
func parseRoleKeys(name string, o object, keys map[string]*verify.PublicKey) (RoleKeys, error) {
	rk := RoleKeys{Name: name, Keys: keys}
	ids, err := o.strings("keyids")
	if err != nil {
		return rk, fmt.Errorf("role %q: %w", name, err)
	}
	th, err := o.int("threshold")
	if err != nil {
		return rk, fmt.Errorf("role %q: %w", name, err)
	}
	if th < 1 {
		return rk, invalid("role %q: threshold %d is below 1", name, th)
	}
	if th > MaxSignatures {
		return rk, invalid("role %q: threshold %d is above %d", name, th, MaxSignatures)
	}
	for _, id := range ids {
		if _, ok := keys[id]; !ok {
			return rk, invalid("role %q: key ID %q is not in keys", name, id)
		}
	}
	rk.KeyIDs = ids
	rk.Threshold = int(th)
	return rk, nil
}
