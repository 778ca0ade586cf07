package verify_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"testing"

	"github.com/latchsec/latch/verify"
)

// Fixed test keys, generated once with openssl genpkey. Go's key generators
// ignore the random source's determinism, so the keys are embedded instead.
// They exist only for these tests.
const (
	p256PrivPEM = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgNi3VL1np1A2IpO9q
XHZLpFPRh+GufwjZCp/GT1ZiiRqhRANCAAS3HT82JRGpZes+zT40WTW8XTckgWLc
QyXNr1RH4rcF+c3508XnaXFOP9BuGy/JyJClMF+V2GuFCPZsa5s+s2t0
-----END PRIVATE KEY-----
`
	p384PrivPEM = `-----BEGIN PRIVATE KEY-----
MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDCZ8rn/X88b5ciym/qY
0cEiQcvlAEi/lSEaJbC0Htvi6XjVApXRI2B7PMLaUpXMniChZANiAATNOwOoL0Ji
LjbuJKb8dOC/OVTXvTH0lMFqp4kdGjeeCkoara/cLMSDipiWbe/bsRhMWGeFMqfw
DZwFyEudAv1eQC5VsQjuhtEE6+oHmW+0l0cpUBQdnAT4D2jFM0jITqA=
-----END PRIVATE KEY-----
`
	p521PrivPEM = `-----BEGIN PRIVATE KEY-----
MIHuAgEAMBAGByqGSM49AgEGBSuBBAAjBIHWMIHTAgEBBEIAFrTNzKaMf0x/cSgL
W1/z2bGH+w4IpBM5Q9GylLfAufcfhtMkevjHxZh7GFCY4Kh0m79NjuQuZRjQVYmR
XFEPVjShgYkDgYYABAGEj6FUPfnm0Sr8m+5TdxbDoicGbV2LxBMbr4fmKoKi+w7O
p0wiXf6FkcQE1bxeXRokun8KTDJV0g+nzn/TgaGZAAG2F0YVjInWmEhxjt0Zftps
YdVxo+JRWHYB1jcmINtZOyQh3LTzUDt5DU5NFxwELs9SRte8cB03dKqAwU5YIfZ+
0w==
-----END PRIVATE KEY-----
`
	rsa2048PrivPEM = `-----BEGIN PRIVATE KEY-----
MIIEvwIBADANBgkqhkiG9w0BAQEFAASCBKkwggSlAgEAAoIBAQC6toMN/Lp4+N9r
EGxKr5siLVtoTYewbu0mIZqeLmE/SNDFQ7zsJF0qumWMmlWHuk5b3HZo6zPOf1bd
21+uZp5mDwrS1LVWdWZgn0DelnsFaFNjsO+6g8DnAN0v4yu/6hYk8RhzjDD83hS5
ZH1gNqSh8wUtzTxDpqPq0HZR2srhiSiL+xhsiFe7/nEKtH58fCSC7Ogcgn968v0S
NKvEHhaiDpWtn5Q7aqOcOQ+mWiRSsNFjaL8sHUjmxoDTWdIJ9W4ZxzLCFbE36JkX
D60gKfKH6r21Xrdn/5PY5itdqU1YN49zgCjXxr0+e3moMZj/HgYF40ZT3BLu1tSr
uOx0QrgrAgMBAAECggEAC5bIoTfWp3Tagck4Pl7JQeUq9jSaTUFme9ig1ADHrXUc
7DT/opTlzhN+J/XHhNk833Bacydmu7lAq9NNeh+k5SJeUB2aNBn2W7jNo1DzEtR+
YkLCSwx06l0blF1pi/mTQLi+hUhdHS8uxx7I2tbikhegYE7nMi7n6P10JOhduvDh
EXXb53ziKjSfpoUsPxORNi03Gh+y3e/hc7vOKb07K3D9JXnQOsVtOkrIRjAw6v9x
DTvh9rGUdC4X7rXPDE4rV0YA0fmMHgThmF+4DMIFKOrtH12EJGFn5n/ruU+xwIfg
baUi/+Vx6raON0GTeuZ7FKa5jqr2UJVLzjB+wpoj6QKBgQDo2Ttr8Cw4XG3VYaGQ
eadfgS3xXnHy8zOUOJaI6o0vvv9cWKs7clrFergn+G7tgkv/ovqONYHEo+Jgj6VK
YUO4snlzs90zsNCT/dvLniRu3jldN8sPAohoLRIMYjdiJvoVIPZKkA31V9nBPIGy
aEmGCDTWeyYO+sKrpDar4RGmQwKBgQDNRvmmBtlx7EeOSXnAM8c1DbZg28OJcmy0
NdJS0N2JxT3SGJ4FRZWFQm48jliqsbat4cxeKILRx20UiivJQD8xIBqwF512Gzr7
NNHW/GjImfeytVKY+spK5Yud1kiNzq2dSiMn/JiewBvyO4CL4GNo31+IOf3RtQjt
3R9FH15r+QKBgQDXtnfwNR4iUK6H4dy1ZZ6DQb94PpC+DESaaho7WV/W/dDAknx/
pB8nl9sHXIYXjoAtoaURHczMiS7tWeY9FAKTFvShFd41RvbUQ3feGPGTrFfkXg3G
KAiKykZQJqU8TvObo1/ID9B+nBZliFJ3H1oNy4h3srq9Yd36+TSU4vtg1QKBgQCc
CdyRKNm3cG0AKrgCsxk1KeQ9gjAD1dftsI/c5enQ5P7WKmJMDZXXwyR6oZWiww3i
5SXtWQwAHIC9QT6Bb3XZiNbgjkLiWVafR4pOynV4LxmLXauYn+KPxic35oAmUznD
u2w35Bm7arqTiklvijTmrg03RyW6d8t+zDwN1gd3OQKBgQDAMuwxGNPUDmIByefa
MoFYAVCv1BYUEk8zhDsUvCN/zSW6aCw+GDxysw4RECAYjPHPNUPg5/Y17lfJOMN9
3NkMaSIQwP/wsoWtXw9ujwOWDPZRzm0QOCuATqu90+8Wc2z7G/12I89zwKAS5aAJ
fJ6ABkxXim+eu8EduwSyY4pQTw==
-----END PRIVATE KEY-----
`
	rsa1024PubPEM = `-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDLZtJISJnUzAVPojEnDbtgvgG2
mFrqKABfBKyQEjT+U7JoPW/PKvuXIip7b+aB2smbTEi/hlGjZI5N+2TNxvJ5wr8I
P8iyMB9mlZhomotVcBOdCnNFH6Z1+7SPS3dkGIKrd6ozP3PZHVlVpY5mwKK526OG
O+vgFMlkG1fP3+QeDQIDAQAB
-----END PUBLIC KEY-----
`
)

// edKey derives a fixed ed25519 key from a one-byte seed.
func edKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

func parsePriv(t testing.TB, s string) crypto.Signer {
	t.Helper()
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		t.Fatal("test key: no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("test key: %v", err)
	}
	return k.(crypto.Signer)
}

func p256(t testing.TB) *ecdsa.PrivateKey  { return parsePriv(t, p256PrivPEM).(*ecdsa.PrivateKey) }
func p384(t testing.TB) *ecdsa.PrivateKey  { return parsePriv(t, p384PrivPEM).(*ecdsa.PrivateKey) }
func p521(t testing.TB) *ecdsa.PrivateKey  { return parsePriv(t, p521PrivPEM).(*ecdsa.PrivateKey) }
func rsa2048(t testing.TB) *rsa.PrivateKey { return parsePriv(t, rsa2048PrivPEM).(*rsa.PrivateKey) }
func edHex(k ed25519.PrivateKey) string    { return hex.EncodeToString(k.Public().(ed25519.PublicKey)) }
func ecHex(t testing.TB, k *ecdsa.PrivateKey) string {
	t.Helper()
	b, err := k.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// spkiPEM encodes a public key as a PEM "PUBLIC KEY" block.
func spkiPEM(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func pkcs1PEM(pub *rsa.PublicKey) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(pub)}))
}

// sign signs msg with priv the way scheme prescribes.
func sign(t testing.TB, priv crypto.Signer, scheme string, msg []byte) []byte {
	t.Helper()
	sig, err := verify.Sign(priv, scheme, msg)
	if err != nil {
		t.Fatalf("sign %s: %v", scheme, err)
	}
	return sig
}

func mustParse(t testing.TB, keyType, scheme, public string) *verify.PublicKey {
	t.Helper()
	k, err := verify.ParseKey(keyType, scheme, public)
	if err != nil {
		t.Fatalf("ParseKey(%q, %q): %v", keyType, scheme, err)
	}
	return k
}
