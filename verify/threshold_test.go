package verify_test

import (
	"crypto"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/latchsec/latch/verify"
)

// thresholdFixture holds keys under opaque key IDs. "ec-pem" and "ec-hex"
// name the same P-256 key in two encodings; "outsider" is a valid key that
// the role does not authorise; "unsupported" has no usable key.
type thresholdFixture struct {
	keys    map[string]*verify.PublicKey
	signers map[string]crypto.Signer
	schemes map[string]string
}

func newThresholdFixture(t *testing.T) *thresholdFixture {
	t.Helper()
	ec := p256(t)
	f := &thresholdFixture{
		keys:    map[string]*verify.PublicKey{},
		signers: map[string]crypto.Signer{},
		schemes: map[string]string{},
	}
	add := func(id, keyType, scheme, public string, priv crypto.Signer) {
		f.keys[id] = mustParse(t, keyType, scheme, public)
		f.signers[id] = priv
		f.schemes[id] = scheme
	}
	add("ed-1", "ed25519", "ed25519", edHex(edKey(1)), edKey(1))
	add("ed-2", "ed25519", "ed25519", edHex(edKey(2)), edKey(2))
	add("ed-3", "ed25519", "ed25519", edHex(edKey(3)), edKey(3))
	add("ec-pem", "ecdsa", "ecdsa-sha2-nistp256", spkiPEM(t, &ec.PublicKey), ec)
	add("ec-hex", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256", ecHex(t, ec), ec)
	add("outsider", "ed25519", "ed25519", edHex(edKey(9)), edKey(9))
	f.keys["unsupported"] = nil
	return f
}

func (f *thresholdFixture) sig(t *testing.T, id string) verify.Signature {
	t.Helper()
	return verify.Signature{KeyID: id, Sig: sign(t, f.signers[id], f.schemes[id], testMessage)}
}

var roleKeyIDs = []string{"ed-1", "ed-2", "ed-3", "ec-pem", "ec-hex", "unsupported", "missing"}

func TestThreshold(t *testing.T) {
	f := newThresholdFixture(t)
	bad := func(s verify.Signature) verify.Signature {
		b := append([]byte(nil), s.Sig...)
		b[0] ^= 1
		return verify.Signature{KeyID: s.KeyID, Sig: b}
	}
	tests := []struct {
		name         string
		threshold    int
		sigs         []verify.Signature
		wantSigners  []string
		wantErr      error
		wantRejected []string
	}{
		{
			name:        "two of three, signers sorted",
			threshold:   2,
			sigs:        []verify.Signature{f.sig(t, "ed-3"), f.sig(t, "ed-1")},
			wantSigners: []string{"ed-1", "ed-3"},
		},
		{
			name:        "more signatures than needed all count",
			threshold:   1,
			sigs:        []verify.Signature{f.sig(t, "ed-2"), f.sig(t, "ec-pem"), f.sig(t, "ed-1")},
			wantSigners: []string{"ec-pem", "ed-1", "ed-2"},
		},
		{
			name:        "same key under two key IDs counts once",
			threshold:   2,
			sigs:        []verify.Signature{f.sig(t, "ec-pem"), f.sig(t, "ec-hex")},
			wantSigners: []string{"ec-pem"},
			wantErr:     verify.ErrThreshold,
		},
		{
			name:        "same key under two key IDs plus another key",
			threshold:   2,
			sigs:        []verify.Signature{f.sig(t, "ec-hex"), f.sig(t, "ec-pem"), f.sig(t, "ed-2")},
			wantSigners: []string{"ec-hex", "ed-2"},
		},
		{
			name:         "unauthorised key is ignored",
			threshold:    2,
			sigs:         []verify.Signature{f.sig(t, "ed-1"), f.sig(t, "outsider")},
			wantSigners:  []string{"ed-1"},
			wantErr:      verify.ErrThreshold,
			wantRejected: []string{"outsider"},
		},
		{
			name:         "unsupported and missing keys are skipped",
			threshold:    2,
			sigs:         []verify.Signature{{KeyID: "unsupported", Sig: []byte{1}}, {KeyID: "missing", Sig: []byte{2}}, f.sig(t, "ed-2")},
			wantSigners:  []string{"ed-2"},
			wantErr:      verify.ErrThreshold,
			wantRejected: []string{"missing", "unsupported"},
		},
		{
			name:        "duplicate signatures count once",
			threshold:   2,
			sigs:        []verify.Signature{f.sig(t, "ed-1"), f.sig(t, "ed-1")},
			wantSigners: []string{"ed-1"},
			wantErr:     verify.ErrThreshold,
		},
		{
			name:      "two ecdsa signatures by one key count once",
			threshold: 2,
			// ECDSA signatures are randomised: these differ but share a key ID.
			sigs:        []verify.Signature{f.sig(t, "ec-pem"), f.sig(t, "ec-pem")},
			wantSigners: []string{"ec-pem"},
			wantErr:     verify.ErrThreshold,
		},
		{
			name:         "bad signature does not count",
			threshold:    2,
			sigs:         []verify.Signature{f.sig(t, "ed-1"), bad(f.sig(t, "ed-2"))},
			wantSigners:  []string{"ed-1"},
			wantErr:      verify.ErrThreshold,
			wantRejected: []string{"ed-2"},
		},
		{
			name:        "bad signature next to a good one for the same key",
			threshold:   3,
			sigs:        []verify.Signature{bad(f.sig(t, "ed-1")), bad(f.sig(t, "ed-1")), f.sig(t, "ed-1"), f.sig(t, "ed-2")},
			wantSigners: []string{"ed-1", "ed-2"},
			wantErr:     verify.ErrThreshold,
		},
		{
			name:         "empty placeholder signatures are rejected, others count",
			threshold:    2,
			sigs:         []verify.Signature{{KeyID: "ed-3", Sig: []byte{}}, f.sig(t, "ed-1"), f.sig(t, "ec-hex")},
			wantSigners:  []string{"ec-hex", "ed-1"},
			wantRejected: nil,
		},
		{
			name:         "no signatures",
			threshold:    1,
			wantErr:      verify.ErrThreshold,
			wantRejected: nil,
		},
		{
			name:      "threshold zero",
			threshold: 0,
			sigs:      []verify.Signature{f.sig(t, "ed-1")},
			wantErr:   verify.ErrInvalidThreshold,
		},
		{
			name:      "negative threshold",
			threshold: -1,
			sigs:      []verify.Signature{f.sig(t, "ed-1")},
			wantErr:   verify.ErrInvalidThreshold,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			signers, err := verify.Threshold("timestamp", tt.threshold, roleKeyIDs, f.keys, testMessage, tt.sigs)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Threshold: %v", err)
				}
				if !slices.Equal(signers, tt.wantSigners) {
					t.Fatalf("signers = %q, want %q", signers, tt.wantSigners)
				}
				return
			}
			if signers != nil {
				t.Errorf("signers = %q on error, want nil", signers)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Threshold = %v, want %v", err, tt.wantErr)
			}
			var te *verify.ThresholdError
			if !errors.As(err, &te) {
				t.Fatalf("Threshold = %#v, want a *ThresholdError", err)
			}
			if te.Role != "timestamp" || te.Threshold != tt.threshold {
				t.Errorf("Role, Threshold = %q, %d", te.Role, te.Threshold)
			}
			if !slices.Equal(te.Signers, tt.wantSigners) || te.Valid != len(tt.wantSigners) {
				t.Errorf("Signers, Valid = %q, %d; want %q, %d", te.Signers, te.Valid, tt.wantSigners, len(tt.wantSigners))
			}
			if !slices.Equal(te.Rejected, tt.wantRejected) {
				t.Errorf("Rejected = %q, want %q", te.Rejected, tt.wantRejected)
			}
		})
	}
}

// A signature over other bytes never counts, whoever made it.
func TestThresholdWrongMessage(t *testing.T) {
	f := newThresholdFixture(t)
	sigs := []verify.Signature{f.sig(t, "ed-1"), f.sig(t, "ec-pem")}
	_, err := verify.Threshold("root", 1, roleKeyIDs, f.keys, []byte(`{"_type":"timestamp","version":2}`), sigs)
	var te *verify.ThresholdError
	if !errors.As(err, &te) || !errors.Is(err, verify.ErrThreshold) {
		t.Fatalf("Threshold = %v, want ErrThreshold", err)
	}
	if !slices.Equal(te.Rejected, []string{"ec-pem", "ed-1"}) {
		t.Errorf("Rejected = %q", te.Rejected)
	}
}

func TestThresholdErrorMessage(t *testing.T) {
	keys := map[string]*verify.PublicKey{
		"0123456789abcdef": mustParse(t, "ed25519", "ed25519", edHex(edKey(1))),
		"fedcba9876543210": mustParse(t, "ed25519", "ed25519", edHex(edKey(2))),
	}
	ids := []string{"0123456789abcdef", "fedcba9876543210"}
	sigs := []verify.Signature{
		{KeyID: "0123456789abcdef", Sig: sign(t, edKey(1), "ed25519", testMessage)},
		{KeyID: "fedcba9876543210", Sig: []byte("bad")},
		{KeyID: "evil\x1b[2Jxyz", Sig: []byte("bad")},
	}
	_, err := verify.Threshold("timestamp", 2, ids, keys, testMessage, sigs)
	want := `role "timestamp": 1 of 2 required signatures valid (signed by [01234567…]; rejected ["evil\x1b[2J"… fedcba98…])`
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v\nwant    %s", err, want)
	}
	if strings.ContainsRune(err.Error(), 0x1b) {
		t.Errorf("error message carries a raw escape character")
	}

	_, err = verify.Threshold("root", 0, ids, keys, testMessage, sigs)
	if want := `role "root": invalid threshold 0`; err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %s", err, want)
	}
}
