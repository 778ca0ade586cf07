package verify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
)

// Sign signs message with key under scheme: the signature that [PublicKey.Verify]
// accepts from key's public half parsed for the same scheme (the schemes of
// [ParseKey]). ed25519 signs the message itself and is deterministic; ECDSA
// and RSA sign the scheme's digest of it (ECDSA as ASN.1 DER, RSA-PSS with a
// salt as long as the digest) with randomness from crypto/rand.
//
// key may be any [crypto.Signer] (a key in memory, an HSM, a cloud KMS) whose
// public key fits the scheme: an ed25519 key for "ed25519", an ECDSA key on
// the scheme's curve for "ecdsa-sha2-nistp256/384/521", an RSA key for the
// "rsassa-pss-*" and "rsa-pkcs1v15-*" schemes. Errors are *[KeyError]
// wrapping [ErrUnsupportedKey] for an unknown scheme and [ErrInvalidKey] for
// a key that does not fit it, or the signer's own error.
func Sign(key crypto.Signer, scheme string, message []byte) ([]byte, error) {
	fail := func(err error) ([]byte, error) {
		return nil, &KeyError{Scheme: scheme, Err: err}
	}
	spec, ok := schemes[scheme]
	if !ok {
		return fail(fmt.Errorf("%w: unknown scheme", ErrUnsupportedKey))
	}
	fits := false
	switch pub := key.Public().(type) {
	case ed25519.PublicKey:
		fits = spec.family == familyEd25519
	case *ecdsa.PublicKey:
		fits = spec.family == familyECDSA && pub.Curve == spec.curve
	case *rsa.PublicKey:
		fits = spec.family == familyRSA
	}
	if !fits {
		return fail(invalidKey("a %T does not sign under this scheme", key.Public()))
	}
	digest, opts := message, crypto.SignerOpts(crypto.Hash(0))
	if spec.alg != algEd25519 {
		digest, opts = (&digests{message: message}).sum(spec.hash), spec.hash
	}
	if spec.alg == algRSAPSS {
		opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: spec.hash}
	}
	sig, err := key.Sign(rand.Reader, digest, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", scheme, err)
	}
	return sig, nil
}
