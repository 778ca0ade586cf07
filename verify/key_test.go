package verify_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/latchsec/latch/verify"
)

var testMessage = []byte(`{"_type":"timestamp","version":1}`)

func TestRoundTrip(t *testing.T) {
	ed, ec256, ec384, ec521, rk := edKey(1), p256(t), p384(t), p521(t), rsa2048(t)
	tests := []struct {
		name            string
		keyType, scheme string
		public          string
		priv            crypto.Signer
		sigLen          int // if not 0, the signature length, to show the right primitive ran
	}{
		{"ed25519", "ed25519", "ed25519", edHex(ed), ed, 64},
		{"p256 pem", "ecdsa", "ecdsa-sha2-nistp256", spkiPEM(t, &ec256.PublicKey), ec256, 0},
		{"p256 hex", "ecdsa", "ecdsa-sha2-nistp256", ecHex(t, ec256), ec256, 0},
		{"p256 legacy keytype", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256", spkiPEM(t, &ec256.PublicKey), ec256, 0},
		{"p384 pem", "ecdsa", "ecdsa-sha2-nistp384", spkiPEM(t, &ec384.PublicKey), ec384, 0},
		{"p384 hex", "ecdsa", "ecdsa-sha2-nistp384", ecHex(t, ec384), ec384, 0},
		{"p521 pem", "ecdsa", "ecdsa-sha2-nistp521", spkiPEM(t, &ec521.PublicKey), ec521, 0},
		{"p521 hex legacy keytype", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp521", ecHex(t, ec521), ec521, 0},
		{"pss sha256", "rsa", "rsassa-pss-sha256", spkiPEM(t, &rk.PublicKey), rk, 256},
		{"pss sha384", "rsa", "rsassa-pss-sha384", spkiPEM(t, &rk.PublicKey), rk, 256},
		{"pss sha512", "rsa", "rsassa-pss-sha512", spkiPEM(t, &rk.PublicKey), rk, 256},
		{"pkcs1v15 sha256", "rsa", "rsa-pkcs1v15-sha256", spkiPEM(t, &rk.PublicKey), rk, 256},
		{"pkcs1v15 sha384", "rsa", "rsa-pkcs1v15-sha384", spkiPEM(t, &rk.PublicKey), rk, 256},
		{"pkcs1v15 sha512", "rsa", "rsa-pkcs1v15-sha512", spkiPEM(t, &rk.PublicKey), rk, 256},
		{"pss pkcs1 pem", "rsa", "rsassa-pss-sha256", pkcs1PEM(&rk.PublicKey), rk, 256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := mustParse(t, tt.keyType, tt.scheme, tt.public)
			if k.KeyType() != tt.keyType || k.Scheme() != tt.scheme {
				t.Fatalf("KeyType, Scheme = %q, %q; want %q, %q", k.KeyType(), k.Scheme(), tt.keyType, tt.scheme)
			}
			sig := sign(t, tt.priv, tt.scheme, testMessage)
			if tt.sigLen != 0 && len(sig) != tt.sigLen {
				t.Fatalf("signature has %d bytes, want %d", len(sig), tt.sigLen)
			}
			if err := k.Verify(testMessage, sig); err != nil {
				t.Fatalf("Verify: %v", err)
			}

			tampered := append([]byte(nil), testMessage...)
			tampered[len(tampered)-2] ^= 1
			if err := k.Verify(tampered, sig); !errors.Is(err, verify.ErrBadSignature) {
				t.Errorf("Verify(tampered message) = %v, want ErrBadSignature", err)
			}
			flipped := append([]byte(nil), sig...)
			flipped[len(flipped)/2] ^= 0x10
			if err := k.Verify(testMessage, flipped); !errors.Is(err, verify.ErrBadSignature) {
				t.Errorf("Verify(flipped signature) = %v, want ErrBadSignature", err)
			}
			if err := k.Verify(testMessage, nil); !errors.Is(err, verify.ErrBadSignature) {
				t.Errorf("Verify(empty signature) = %v, want ErrBadSignature", err)
			}
			if err := k.Verify(testMessage, append(sig, 0)); !errors.Is(err, verify.ErrBadSignature) {
				t.Errorf("Verify(signature with a trailing byte) = %v, want ErrBadSignature", err)
			}
		})
	}
}

// A signature made under one scheme never verifies under another, even with
// the same key material.
func TestSchemeConfusion(t *testing.T) {
	rk := rsa2048(t)
	pub := spkiPEM(t, &rk.PublicKey)
	tests := []struct{ signedAs, verifiedAs string }{
		{"rsa-pkcs1v15-sha256", "rsassa-pss-sha256"},
		{"rsassa-pss-sha256", "rsa-pkcs1v15-sha256"},
		{"rsassa-pss-sha256", "rsassa-pss-sha512"},
		{"rsassa-pss-sha512", "rsassa-pss-sha256"},
		{"rsa-pkcs1v15-sha384", "rsa-pkcs1v15-sha256"},
	}
	for _, tt := range tests {
		t.Run(tt.signedAs+" as "+tt.verifiedAs, func(t *testing.T) {
			k := mustParse(t, "rsa", tt.verifiedAs, pub)
			sig := sign(t, rk, tt.signedAs, testMessage)
			if err := k.Verify(testMessage, sig); !errors.Is(err, verify.ErrBadSignature) {
				t.Fatalf("Verify = %v, want ErrBadSignature", err)
			}
		})
	}
	t.Run("other ed25519 key", func(t *testing.T) {
		k := mustParse(t, "ed25519", "ed25519", edHex(edKey(2)))
		if err := k.Verify(testMessage, sign(t, edKey(1), "ed25519", testMessage)); !errors.Is(err, verify.ErrBadSignature) {
			t.Fatalf("Verify = %v, want ErrBadSignature", err)
		}
	})
	t.Run("ed25519 signature under ecdsa key", func(t *testing.T) {
		k := mustParse(t, "ecdsa", "ecdsa-sha2-nistp256", ecHex(t, p256(t)))
		if err := k.Verify(testMessage, sign(t, edKey(1), "ed25519", testMessage)); !errors.Is(err, verify.ErrBadSignature) {
			t.Fatalf("Verify = %v, want ErrBadSignature", err)
		}
	})
}

func TestCurveSchemeMismatch(t *testing.T) {
	ec256, ec384, ec521 := p256(t), p384(t), p521(t)
	tests := []struct {
		name, scheme, public string
	}{
		{"p384 pem under nistp256", "ecdsa-sha2-nistp256", spkiPEM(t, &ec384.PublicKey)},
		{"p521 pem under nistp256", "ecdsa-sha2-nistp256", spkiPEM(t, &ec521.PublicKey)},
		{"p256 pem under nistp384", "ecdsa-sha2-nistp384", spkiPEM(t, &ec256.PublicKey)},
		{"p256 pem under nistp521", "ecdsa-sha2-nistp521", spkiPEM(t, &ec256.PublicKey)},
		{"p384 hex under nistp256", "ecdsa-sha2-nistp256", ecHex(t, ec384)},
		{"p256 hex under nistp384", "ecdsa-sha2-nistp384", ecHex(t, ec256)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := verify.ParseKey("ecdsa", tt.scheme, tt.public)
			assertKeyError(t, k, err, verify.ErrInvalidKey, "ecdsa", tt.scheme)
		})
	}
}

func TestWeakRSA(t *testing.T) {
	for _, scheme := range []string{"rsassa-pss-sha256", "rsa-pkcs1v15-sha256"} {
		k, err := verify.ParseKey("rsa", scheme, rsa1024PubPEM)
		assertKeyError(t, k, err, verify.ErrInvalidKey, "rsa", scheme)
		if !strings.Contains(err.Error(), "1024 bits") {
			t.Errorf("error %q does not name the modulus size", err)
		}
	}
}

func TestUnsupportedKey(t *testing.T) {
	edPub := edHex(edKey(1))
	tests := []struct{ keyType, scheme, public string }{
		{"dsa", "dsa-sha1", edPub},
		{"", "", edPub},
		{"ED25519", "ed25519", edPub},
		{"ed25519", "ed448", edPub},
		{"ed25519", "", edPub},
		{"ed25519", "ecdsa-sha2-nistp256", edPub},
		{"ecdsa", "ed25519", edPub},
		{"ecdsa", "ecdsa-sha2-nistp224", edPub},
		{"rsa", "rsassa-pss-md5", edPub},
		{"rsa", "ecdsa-sha2-nistp256", edPub},
		{"ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384", edPub},
		{"sphincs", "sphincs-shake-256f", "garbage"},
	}
	for _, tt := range tests {
		k, err := verify.ParseKey(tt.keyType, tt.scheme, tt.public)
		assertKeyError(t, k, err, verify.ErrUnsupportedKey, tt.keyType, tt.scheme)
	}
}

func TestInvalidKey(t *testing.T) {
	ec256, rk := p256(t), rsa2048(t)
	ecPEM := spkiPEM(t, &ec256.PublicKey)
	rsaPEM := spkiPEM(t, &rk.PublicKey)
	edPub := edHex(edKey(1))
	withHeader := strings.Replace(ecPEM, "-----\n", "-----\nProc-Type: 4,ENCRYPTED\n\n", 1)
	compressed := "02" + ecHex(t, ec256)[2:66]
	offCurve := "04" + strings.Repeat("11", 64)
	tests := []struct {
		name, keyType, scheme, public string
	}{
		{"ed25519 short", "ed25519", "ed25519", edPub[:62]},
		{"ed25519 long", "ed25519", "ed25519", edPub + "00"},
		{"ed25519 not hex", "ed25519", "ed25519", strings.Repeat("zz", 32)},
		{"ed25519 empty", "ed25519", "ed25519", ""},
		{"ed25519 as pem", "ed25519", "ed25519", spkiPEM(t, edKey(1).Public())},
		{"ecdsa empty", "ecdsa", "ecdsa-sha2-nistp256", ""},
		{"ecdsa not hex", "ecdsa", "ecdsa-sha2-nistp256", "hello"},
		{"ecdsa compressed point", "ecdsa", "ecdsa-sha2-nistp256", compressed},
		{"ecdsa point off the curve", "ecdsa", "ecdsa-sha2-nistp256", offCurve},
		{"ecdsa text before pem", "ecdsa", "ecdsa-sha2-nistp256", "x" + ecPEM},
		{"ecdsa data after pem", "ecdsa", "ecdsa-sha2-nistp256", ecPEM + "x"},
		{"ecdsa two pem blocks", "ecdsa", "ecdsa-sha2-nistp256", ecPEM + ecPEM},
		{"ecdsa pem headers", "ecdsa", "ecdsa-sha2-nistp256", withHeader},
		{"ecdsa broken pem", "ecdsa", "ecdsa-sha2-nistp256", "-----BEGIN PUBLIC KEY-----\nAAAA\n"},
		{"ecdsa bad der", "ecdsa", "ecdsa-sha2-nistp256", pemOf("PUBLIC KEY", []byte{0x30, 0x03, 1, 2, 3})},
		{"ecdsa private key block", "ecdsa", "ecdsa-sha2-nistp256", p256PrivPEM},
		{"ecdsa holding rsa", "ecdsa", "ecdsa-sha2-nistp256", rsaPEM},
		{"ecdsa ed25519 spki", "ecdsa", "ecdsa-sha2-nistp256", spkiPEM(t, edKey(1).Public())},
		{"rsa holding ecdsa", "rsa", "rsassa-pss-sha256", ecPEM},
		{"rsa hex", "rsa", "rsassa-pss-sha256", hex.EncodeToString([]byte(rsaPEM))},
		{"rsa private key block", "rsa", "rsassa-pss-sha256", rsa2048PrivPEM},
		{"rsa bad pkcs1", "rsa", "rsassa-pss-sha256", pemOf("RSA PUBLIC KEY", []byte{0x30, 0x00})},
		{"rsa bad spki", "rsa", "rsassa-pss-sha256", pemOf("PUBLIC KEY", []byte{0x30, 0x00})},
		{"rsa exponent 1", "rsa", "rsassa-pss-sha256", pkcs1PEM(&rsa.PublicKey{N: rk.N, E: 1})},
		{"rsa even exponent", "rsa", "rsassa-pss-sha256", pkcs1PEM(&rsa.PublicKey{N: rk.N, E: 65536})},
		{"rsa even modulus", "rsa", "rsassa-pss-sha256", pkcs1PEM(&rsa.PublicKey{N: new(big.Int).Add(rk.N, big.NewInt(1)), E: 65537})},
		{"rsa modulus too large", "rsa", "rsa-pkcs1v15-sha512", pkcs1PEM(&rsa.PublicKey{N: new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 16385), big.NewInt(1)), E: 65537})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := verify.ParseKey(tt.keyType, tt.scheme, tt.public)
			assertKeyError(t, k, err, verify.ErrInvalidKey, tt.keyType, tt.scheme)
		})
	}
}

func assertKeyError(t *testing.T, k *verify.PublicKey, err, want error, keyType, scheme string) {
	t.Helper()
	if k != nil {
		t.Errorf("ParseKey(%q, %q) returned a key with error %v", keyType, scheme, err)
	}
	if !errors.Is(err, want) {
		t.Fatalf("ParseKey(%q, %q) = %v, want %v", keyType, scheme, err, want)
	}
	other := verify.ErrInvalidKey
	if want == verify.ErrInvalidKey {
		other = verify.ErrUnsupportedKey
	}
	if errors.Is(err, other) {
		t.Errorf("ParseKey(%q, %q) = %v, which is also %v", keyType, scheme, err, other)
	}
	var ke *verify.KeyError
	if !errors.As(err, &ke) || ke.KeyType != keyType || ke.Scheme != scheme {
		t.Errorf("ParseKey(%q, %q) = %#v, want a *KeyError with the key type and scheme", keyType, scheme, err)
	}
}

func TestEqual(t *testing.T) {
	ec256, rk := p256(t), rsa2048(t)
	ecPEM := mustParse(t, "ecdsa", "ecdsa-sha2-nistp256", spkiPEM(t, &ec256.PublicKey))
	ecHexKey := mustParse(t, "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256", ecHex(t, ec256))
	rsaSPKI := mustParse(t, "rsa", "rsassa-pss-sha256", spkiPEM(t, &rk.PublicKey))
	rsaPKCS1 := mustParse(t, "rsa", "rsa-pkcs1v15-sha256", pkcs1PEM(&rk.PublicKey))
	ed1 := mustParse(t, "ed25519", "ed25519", edHex(edKey(1)))
	ed1Upper := mustParse(t, "ed25519", "ed25519", strings.ToUpper(edHex(edKey(1))))
	ed2 := mustParse(t, "ed25519", "ed25519", edHex(edKey(2)))
	other := mustParse(t, "ecdsa", "ecdsa-sha2-nistp384", ecHex(t, p384(t)))

	equal := [][2]*verify.PublicKey{
		{ecPEM, ecHexKey},
		{ecHexKey, ecPEM},
		{rsaSPKI, rsaPKCS1},
		{ed1, ed1Upper},
		{ed1, ed1},
	}
	for i, p := range equal {
		if !p[0].Equal(p[1]) {
			t.Errorf("pair %d: Equal = false, want true", i)
		}
	}
	distinct := [][2]*verify.PublicKey{
		{ed1, ed2},
		{ecPEM, other},
		{ecPEM, rsaSPKI},
		{ed1, nil},
		{nil, ed1},
		{nil, nil},
		{&verify.PublicKey{}, &verify.PublicKey{}},
	}
	for i, p := range distinct {
		if p[0].Equal(p[1]) {
			t.Errorf("pair %d: Equal = true, want false", i)
		}
	}
}

func TestVerifyWithoutKey(t *testing.T) {
	var nilKey *verify.PublicKey
	for _, k := range []*verify.PublicKey{nilKey, {}} {
		if err := k.Verify(testMessage, make([]byte, 64)); !errors.Is(err, verify.ErrBadSignature) {
			t.Errorf("Verify on %#v = %v, want ErrBadSignature", k, err)
		}
	}
}

func BenchmarkEd25519Verify(b *testing.B) {
	priv := edKey(1)
	k := mustParse(b, "ed25519", "ed25519", edHex(priv))
	msg := make([]byte, 1024)
	sig := sign(b, priv, "ed25519", msg)
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if err := k.Verify(msg, sig); err != nil {
			b.Fatal(err)
		}
	}
}

func pemOf(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

// PSS signatures verify whatever salt length the signer chose; python-tuf
// signs with the maximum length.
func TestPSSAnySaltLength(t *testing.T) {
	rk := rsa2048(t)
	k := mustParse(t, "rsa", "rsassa-pss-sha256", spkiPEM(t, &rk.PublicKey))
	digest := sha256.Sum256(testMessage)
	for _, salt := range []int{0, 20, rsa.PSSSaltLengthEqualsHash, rsa.PSSSaltLengthAuto} {
		sig, err := rsa.SignPSS(rand.Reader, rk, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: salt})
		if err != nil {
			t.Fatal(err)
		}
		if err := k.Verify(testMessage, sig); err != nil {
			t.Errorf("salt length %d: %v", salt, err)
		}
	}
}
