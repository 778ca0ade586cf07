package verify_test

import (
	"crypto"
	"errors"
	"testing"

	"github.com/latchsec/latch/verify"
)

// TestSignRefuses: Sign refuses a scheme it does not know and a key that
// does not fit the scheme (the pairings ParseKey refuses on the verifying
// side), instead of producing a signature no client accepts.
func TestSignRefuses(t *testing.T) {
	tests := []struct {
		name   string
		key    crypto.Signer
		scheme string
		want   error
	}{
		{"unknown scheme", edKey(1), "ed448", verify.ErrUnsupportedKey},
		{"ed25519 key as ecdsa", edKey(1), "ecdsa-sha2-nistp256", verify.ErrInvalidKey},
		{"P-384 key as nistp256", p384(t), "ecdsa-sha2-nistp256", verify.ErrInvalidKey},
		{"P-256 key as nistp521", p256(t), "ecdsa-sha2-nistp521", verify.ErrInvalidKey},
		{"rsa key as ed25519", rsa2048(t), "ed25519", verify.ErrInvalidKey},
		{"ecdsa key as rsa", p256(t), "rsassa-pss-sha256", verify.ErrInvalidKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sig, err := verify.Sign(tt.key, tt.scheme, testMessage)
			if !errors.Is(err, tt.want) || sig != nil {
				t.Fatalf("Sign = %x, %v; want nil, %v", sig, err, tt.want)
			}
			var ke *verify.KeyError
			if !errors.As(err, &ke) || ke.Scheme != tt.scheme {
				t.Errorf("error %v is not a *KeyError for scheme %q", err, tt.scheme)
			}
		})
	}
}
