package metadata

import (
	"crypto"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/latchsec/latch/internal/cjson"
	"github.com/latchsec/latch/verify"
)

// A Signer makes one entry of an envelope's "signatures" for [Seal]: a
// signature over the canonical form of "signed", listed under a key ID.
type Signer interface {
	// KeyID is the ID under which root metadata (or, for a delegated role,
	// the delegating targets metadata) lists the key.
	KeyID() string
	// Sign signs message, the canonical form of "signed", with the key's
	// scheme.
	Sign(message []byte) ([]byte, error)
}

// NewSigner returns a [Signer] that signs with key under scheme, as
// [verify.Sign] does (ed25519, ECDSA and RSA schemes, a key in memory or any
// other [crypto.Signer]), listed as keyID. A key that does not fit the
// scheme is reported by [Seal].
func NewSigner(keyID, scheme string, key crypto.Signer) Signer {
	return keySigner{id: keyID, scheme: scheme, key: key}
}

type keySigner struct {
	id, scheme string
	key        crypto.Signer
}

func (s keySigner) KeyID() string { return s.id }

func (s keySigner) Sign(message []byte) ([]byte, error) {
	return verify.Sign(s.key, s.scheme, message)
}

// Seal signs a document: it computes the canonical form of signed (the JSON
// of the "signed" object, in any formatting and member order), signs it
// with each signer in turn and returns the envelope
//
//	{"signatures":[{"keyid":...,"sig":<hex>},...],"signed":<canonical>}
//
// It is the mirror image of the Open functions: they canonicalise the
// received "signed" bytes and check the signatures over them; Seal
// canonicalises and signs the same way, and refuses what they refuse
// (signed that is not an object or has no canonical form: [ErrMalformed];
// one key ID twice: [ErrDuplicateSignature]; more than [MaxSignatures]).
//
// The envelope is canonical JSON, except that control characters inside
// strings (the newlines of PEM keys) are escaped so that the bytes are
// RFC 8259 JSON for every reader. Indent it (encoding/json's Indent) to
// publish it pretty-printed: the signatures stay valid. Errors are *[Error].
func Seal(signed []byte, signers ...Signer) ([]byte, error) {
	fail := func(role string, err error) ([]byte, error) {
		return nil, &Error{Role: role, Err: fmt.Errorf("signing: %w", err)}
	}
	canonical, err := cjson.Canonicalize(signed)
	if err != nil {
		return fail("unknown", fmt.Errorf("%w: signed: %w", ErrMalformed, err))
	}
	o, err := parseObject(canonical, "signed")
	if err != nil {
		return fail("unknown", err)
	}
	role, err := o.str("_type")
	if err != nil {
		role = "unknown"
	}
	if len(signers) > MaxSignatures {
		return fail(role, malformed("%d signers, more than %d signatures", len(signers), MaxSignatures))
	}
	env := make([]byte, 0, len(canonical)+len(signers)*200+32)
	env = append(env, `{"signatures":[`...)
	keyIDs := make([]string, 0, len(signers))
	for i, s := range signers {
		id := s.KeyID()
		if slices.Contains(keyIDs, id) {
			return fail(role, fmt.Errorf("%w: %w %q", ErrMalformed, ErrDuplicateSignature, id))
		}
		if !utf8.ValidString(id) {
			return fail(role, malformed("key ID %q is not UTF-8", id))
		}
		keyIDs = append(keyIDs, id)
		sig, err := s.Sign(canonical)
		if err != nil {
			return fail(role, fmt.Errorf("key %s: %w", id, err))
		}
		if i > 0 {
			env = append(env, ',')
		}
		env = append(env, `{"keyid":"`...)
		env = append(env, canonicalString.Replace(id)...)
		env = append(env, `","sig":"`...)
		env = hex.AppendEncode(env, sig)
		env = append(env, `"}`...)
	}
	env = append(env, `],"signed":`...)
	env = append(env, canonical...)
	env = append(env, '}')
	return cjson.Escape(env), nil
}

// canonicalString writes a UTF-8 string as the inside of a canonical JSON
// string: only the backslash and the double quote are escaped.
var canonicalString = strings.NewReplacer(`\`, `\\`, `"`, `\"`)
