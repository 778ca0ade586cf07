package verify

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	_ "crypto/sha256" // registers crypto.SHA256
	_ "crypto/sha512" // registers crypto.SHA384 and crypto.SHA512
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"
)

// RSA modulus bounds. The spec requires at least 2048 bits; the upper bound
// keeps a hostile root from making every verification expensive.
const (
	minRSABits = 2048
	maxRSABits = 16384
)

type family int

const (
	familyEd25519 family = iota + 1
	familyECDSA
	familyRSA
)

type algorithm int

const (
	algEd25519 algorithm = iota + 1
	algECDSA
	algRSAPSS
	algRSAPKCS1v15
)

// keyTypes maps each supported keytype to its family. "ecdsa-sha2-nistp256"
// is the keytype that go-tuf v0.x and early Sigstore roots use for "ecdsa".
var keyTypes = map[string]family{
	"ed25519":             familyEd25519,
	"ecdsa":               familyECDSA,
	"ecdsa-sha2-nistp256": familyECDSA,
	"rsa":                 familyRSA,
}

type schemeSpec struct {
	family family
	alg    algorithm
	hash   crypto.Hash    // digest signed by ECDSA and RSA; zero for ed25519
	curve  elliptic.Curve // ECDSA only: the one curve the scheme allows
}

var schemes = map[string]schemeSpec{
	"ed25519":             {familyEd25519, algEd25519, 0, nil},
	"ecdsa-sha2-nistp256": {familyECDSA, algECDSA, crypto.SHA256, elliptic.P256()},
	"ecdsa-sha2-nistp384": {familyECDSA, algECDSA, crypto.SHA384, elliptic.P384()},
	"ecdsa-sha2-nistp521": {familyECDSA, algECDSA, crypto.SHA512, elliptic.P521()},
	"rsassa-pss-sha256":   {familyRSA, algRSAPSS, crypto.SHA256, nil},
	"rsassa-pss-sha384":   {familyRSA, algRSAPSS, crypto.SHA384, nil},
	"rsassa-pss-sha512":   {familyRSA, algRSAPSS, crypto.SHA512, nil},
	"rsa-pkcs1v15-sha256": {familyRSA, algRSAPKCS1v15, crypto.SHA256, nil},
	"rsa-pkcs1v15-sha384": {familyRSA, algRSAPKCS1v15, crypto.SHA384, nil},
	"rsa-pkcs1v15-sha512": {familyRSA, algRSAPKCS1v15, crypto.SHA512, nil},
}

// PublicKey is a parsed public key bound to one signature scheme. It is
// immutable and safe for concurrent use. Make one with [ParseKey].
type PublicKey struct {
	keyType string
	scheme  string
	spec    schemeSpec
	ed      ed25519.PublicKey
	ec      *ecdsa.PublicKey
	rsa     *rsa.PublicKey
	// id is the DER SubjectPublicKeyInfo of the key: the same material gives
	// the same bytes whatever encoding the metadata used.
	id string
}

// ParseKey parses the public part of a TUF key (the "keytype", "scheme" and
// "keyval"."public" fields). Supported:
//
//   - keytype "ed25519", scheme "ed25519": public is the hex of the 32-byte key.
//   - keytype "ecdsa" or "ecdsa-sha2-nistp256", scheme "ecdsa-sha2-nistp256",
//     "ecdsa-sha2-nistp384" or "ecdsa-sha2-nistp521": public is a PEM
//     "PUBLIC KEY" block (SubjectPublicKeyInfo) or the hex of the uncompressed
//     point. The curve must be the scheme's; the message is hashed with
//     SHA-256, SHA-384 or SHA-512 respectively and signatures are ASN.1 DER.
//   - keytype "rsa", scheme "rsassa-pss-sha256", "rsassa-pss-sha384",
//     "rsassa-pss-sha512" (any salt length) or "rsa-pkcs1v15-sha256",
//     "rsa-pkcs1v15-sha384", "rsa-pkcs1v15-sha512": public is a PEM
//     "PUBLIC KEY" or "RSA PUBLIC KEY" (PKCS #1) block; the modulus has 2048
//     to 16384 bits.
//
// A PEM value holds exactly one block, without headers; only white space may
// follow it. Errors are *[KeyError] wrapping [ErrUnsupportedKey] for an
// unknown keytype, scheme or pairing of the two, and [ErrInvalidKey] for
// anything else.
func ParseKey(keyType, scheme, public string) (*PublicKey, error) {
	fail := func(err error) (*PublicKey, error) {
		return nil, &KeyError{KeyType: keyType, Scheme: scheme, Err: err}
	}
	fam, ok := keyTypes[keyType]
	if !ok {
		return fail(fmt.Errorf("%w: unknown key type", ErrUnsupportedKey))
	}
	spec, ok := schemes[scheme]
	if !ok {
		return fail(fmt.Errorf("%w: unknown scheme", ErrUnsupportedKey))
	}
	if spec.family != fam {
		return fail(fmt.Errorf("%w: scheme does not fit the key type", ErrUnsupportedKey))
	}
	k := &PublicKey{keyType: keyType, scheme: scheme, spec: spec}
	var pub crypto.PublicKey
	var err error
	switch fam {
	case familyEd25519:
		k.ed, err = parseEd25519(public)
		pub = k.ed
	case familyECDSA:
		k.ec, err = parseECDSA(public, spec.curve)
		pub = k.ec
	case familyRSA:
		k.rsa, err = parseRSA(public)
		pub = k.rsa
	}
	if err != nil {
		return fail(err)
	}
	if fam == familyEd25519 {
		// What x509 would encode, without its reflection (costly the
		// first time in a process, which opens a root before anything).
		k.id = ed25519SPKIPrefix + string(k.ed)
		return k, nil
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return fail(invalidKey("%v", err))
	}
	k.id = string(der)
	return k, nil
}

// ed25519SPKIPrefix starts the DER SubjectPublicKeyInfo of every Ed25519
// key (RFC 8410, section 4); the 32 bytes of the key follow.
const ed25519SPKIPrefix = "\x30\x2a\x30\x05\x06\x03\x2b\x65\x70\x03\x21\x00"

func invalidKey(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidKey, fmt.Sprintf(format, args...))
}

func parseEd25519(public string) (ed25519.PublicKey, error) {
	b, err := hex.DecodeString(public)
	if err != nil {
		return nil, invalidKey("public key is not hex")
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, invalidKey("public key has %d bytes, want %d", len(b), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

func parseECDSA(public string, curve elliptic.Curve) (*ecdsa.PublicKey, error) {
	want := curve.Params().Name
	if !isPEM(public) {
		b, err := hex.DecodeString(public)
		if err != nil {
			return nil, invalidKey("public key is neither PEM nor hex")
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, b)
		if err != nil {
			return nil, invalidKey("public key is not an uncompressed %s point", want)
		}
		return pub, nil
	}
	block, err := decodePEM(public)
	if err != nil {
		return nil, err
	}
	if block.Type != "PUBLIC KEY" {
		return nil, invalidKey("PEM block is %q, want \"PUBLIC KEY\"", block.Type)
	}
	parsed, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, invalidKey("%v", err)
	}
	pub, ok := parsed.(*ecdsa.PublicKey)
	if !ok {
		return nil, invalidKey("public key is %T, not ECDSA", parsed)
	}
	if pub.Curve != curve {
		return nil, invalidKey("key is on curve %s, the scheme needs %s", pub.Curve.Params().Name, want)
	}
	return pub, nil
}

func parseRSA(public string) (*rsa.PublicKey, error) {
	if !isPEM(public) {
		return nil, invalidKey("public key is not PEM")
	}
	block, err := decodePEM(public)
	if err != nil {
		return nil, err
	}
	var pub *rsa.PublicKey
	switch block.Type {
	case "PUBLIC KEY":
		parsed, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, invalidKey("%v", err)
		}
		var ok bool
		if pub, ok = parsed.(*rsa.PublicKey); !ok {
			return nil, invalidKey("public key is %T, not RSA", parsed)
		}
	case "RSA PUBLIC KEY":
		if pub, err = x509.ParsePKCS1PublicKey(block.Bytes); err != nil {
			return nil, invalidKey("%v", err)
		}
	default:
		return nil, invalidKey("PEM block is %q, want \"PUBLIC KEY\" or \"RSA PUBLIC KEY\"", block.Type)
	}
	if bits := pub.N.BitLen(); bits < minRSABits || bits > maxRSABits {
		return nil, invalidKey("modulus has %d bits, want %d to %d", bits, minRSABits, maxRSABits)
	}
	if pub.N.Bit(0) == 0 {
		return nil, invalidKey("modulus is even")
	}
	if pub.E < 3 || pub.E%2 == 0 {
		return nil, invalidKey("public exponent %d is not an odd number of at least 3", pub.E)
	}
	return pub, nil
}

func isPEM(public string) bool {
	return strings.HasPrefix(public, "-----BEGIN ")
}

// decodePEM decodes the single PEM block that public consists of.
func decodePEM(public string) (*pem.Block, error) {
	block, rest := pem.Decode([]byte(public))
	if block == nil {
		return nil, invalidKey("malformed PEM")
	}
	if len(block.Headers) != 0 {
		return nil, invalidKey("PEM block has headers")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, invalidKey("data after the PEM block")
	}
	return block, nil
}

// KeyType returns the keytype the key was parsed with.
func (k *PublicKey) KeyType() string { return k.keyType }

// Scheme returns the signature scheme the key was parsed with.
func (k *PublicKey) Scheme() string { return k.scheme }

// Equal reports whether k and o hold the same public key material, however
// it was encoded (hex or PEM, SubjectPublicKeyInfo or PKCS #1) and whatever
// keytype and scheme label it carries. This is the identity that threshold
// counting uses: one RSA key listed under a PSS and a PKCS #1 v1.5 scheme is
// still one key. Compare [PublicKey.Scheme] as well where the scheme matters.
// A nil key equals nothing.
func (k *PublicKey) Equal(o *PublicKey) bool {
	return k != nil && o != nil && k.id != "" && k.id == o.id
}

// Verify checks sig over message with the key's scheme. It returns an error
// wrapping [ErrBadSignature] if the signature does not verify.
func (k *PublicKey) Verify(message, sig []byte) error {
	return k.verify(&digests{message: message}, sig)
}

func (k *PublicKey) verify(d *digests, sig []byte) error {
	if k == nil {
		return fmt.Errorf("no key: %w", ErrBadSignature)
	}
	ok := false
	switch k.spec.alg {
	case algEd25519:
		ok = ed25519.Verify(k.ed, d.message, sig)
	case algECDSA:
		ok = ecdsa.VerifyASN1(k.ec, d.sum(k.spec.hash), sig)
	case algRSAPSS:
		opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto, Hash: k.spec.hash}
		ok = rsa.VerifyPSS(k.rsa, k.spec.hash, d.sum(k.spec.hash), sig, opts) == nil
	case algRSAPKCS1v15:
		ok = rsa.VerifyPKCS1v15(k.rsa, k.spec.hash, d.sum(k.spec.hash), sig) == nil
	}
	if !ok {
		return fmt.Errorf("%s: %w", k.scheme, ErrBadSignature)
	}
	return nil
}

// digests hashes one message at most once per algorithm, so that several
// ECDSA or RSA signatures over large metadata cost one pass each hash.
type digests struct {
	message []byte
	sums    map[crypto.Hash][]byte
}

func (d *digests) sum(h crypto.Hash) []byte {
	if s, ok := d.sums[h]; ok {
		return s
	}
	hh := h.New()
	hh.Write(d.message)
	s := hh.Sum(nil)
	if d.sums == nil {
		d.sums = make(map[crypto.Hash][]byte, 1)
	}
	d.sums[h] = s
	return s
}
