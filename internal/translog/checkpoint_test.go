package translog

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	flog "github.com/transparency-dev/formats/log"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/latchsec/latch/transparency"
)

// signNote signs text with the signers, as a log and its witnesses would.
func signNote(t testing.TB, text string, signers ...note.Signer) []byte {
	t.Helper()
	b, err := note.Sign(&note.Note{Text: text}, signers...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const emptyRoot = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

func TestOpenCheckpoint(t *testing.T) {
	v := testVerifier(t)
	text := testOrigin + "\n5\n" + emptyRoot + "\n"
	cp, err := v.Open(signNote(t, text, testSigner))
	if err != nil {
		t.Fatal(err)
	}
	if cp.Origin != testOrigin || cp.Size != 5 || cp.Hash.String() != emptyRoot {
		t.Fatalf("Open = %+v", cp)
	}

	// Differential: Tessera's checkpoint parser reads the same.
	logV, err := note.NewVerifier(testVKey)
	if err != nil {
		t.Fatal(err)
	}
	fcp, _, _, err := flog.ParseCheckpoint(signNote(t, text, testSigner), testOrigin, logV)
	if err != nil || fcp.Size != uint64(cp.Size) || !bytes.Equal(fcp.Hash, cp.Hash[:]) {
		t.Fatalf("formats/log.ParseCheckpoint = %+v, %v", fcp, err)
	}
}

func TestOpenCheckpointRejects(t *testing.T) {
	v := testVerifier(t)
	otherSigner, _ := mustKey(testOrigin, 2) // same name, another key
	good := testOrigin + "\n5\n" + emptyRoot + "\n"
	tampered := signNote(t, good, testSigner)
	tampered[len(testOrigin)+1] = '6' // size 5 -> 6 under the old signature

	for _, tc := range []struct {
		name string
		msg  []byte
		want error
	}{
		{"tampered body", tampered, transparency.ErrLogSignature},
		{"signed by another key", signNote(t, good, otherSigner), transparency.ErrLogSignature},
		{"another origin", signNote(t, "example.com/other\n5\n"+emptyRoot+"\n", testSigner), transparency.ErrOrigin},
		{"leading zero size", signNote(t, testOrigin+"\n05\n"+emptyRoot+"\n", testSigner), transparency.ErrMalformed},
		{"negative size", signNote(t, testOrigin+"\n-5\n"+emptyRoot+"\n", testSigner), transparency.ErrMalformed},
		{"short hash", signNote(t, testOrigin+"\n5\nAAAA\n", testSigner), transparency.ErrMalformed},
		{"two lines", signNote(t, testOrigin+"\n5\n", testSigner), transparency.ErrMalformed},
		{"empty extension line", signNote(t, good+"\nx\n", testSigner), transparency.ErrMalformed},
		{"empty tree with a root", signNote(t, testOrigin+"\n0\n"+base64.StdEncoding.EncodeToString(make([]byte, 32))+"\n", testSigner), transparency.ErrMalformed},
		{"not a note", []byte("hello\n"), transparency.ErrMalformed},
		{"too large", bytes.Repeat([]byte("a"), MaxCheckpointSize+1), transparency.ErrMalformed},
	} {
		cp, err := v.Open(tc.msg)
		if !errors.Is(err, tc.want) || cp != nil {
			t.Errorf("%s: Open = %v, %v; want %v", tc.name, cp, err, tc.want)
		}
	}
	var oe *transparency.OriginError
	_, err := v.Open(signNote(t, "example.com/other\n5\n"+emptyRoot+"\n", testSigner))
	if !errors.As(err, &oe) || oe.Got != "example.com/other" || oe.Want != testOrigin {
		t.Errorf("another origin: %v", err)
	}
}

// witness is a test witness: a cosigner made by Tessera's formats library
// (so our verifier is checked against an independent signer), and its
// cosignature/v1 verifier key.
type witness struct {
	name   string
	signer note.Signer
	vkey   string
	// logStyle signs like a log (type 0x01) with the same key.
	logStyle note.Signer
}

func newWitness(t testing.TB, name string, seed byte) witness {
	t.Helper()
	skey, vkey, err := note.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{seed}, 32)), name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := fnote.NewSignerForCosignatureV1(skey)
	if err != nil {
		t.Fatal(err)
	}
	cvkey, err := fnote.VKeyToCosignatureV1(vkey)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return witness{name: name, signer: s, vkey: cvkey, logStyle: ls}
}

func witnessVerifier(t testing.TB, threshold int, ws ...witness) *Verifier {
	t.Helper()
	p := Policy{Origin: testOrigin, LogKey: testVKey, WitnessThreshold: threshold}
	for _, w := range ws {
		p.WitnessKeys = append(p.WitnessKeys, w.vkey)
	}
	v, err := NewVerifier(p)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestWitnessThreshold(t *testing.T) {
	w1, w2, w3 := newWitness(t, "w1.example", 11), newWitness(t, "w2.example", 12), newWitness(t, "w3.example", 13)
	stranger := newWitness(t, "w4.example", 14)
	v := witnessVerifier(t, 2, w1, w2, w3)
	text := testOrigin + "\n5\n" + emptyRoot + "\n"

	cp, err := v.Open(signNote(t, text, testSigner, w1.signer, w3.signer, stranger.signer))
	if err != nil {
		t.Fatal(err)
	}
	if len(cp.Cosigned) != 2 || cp.Cosigned[0].Witness != "w1.example" || cp.Cosigned[1].Witness != "w3.example" || cp.Cosigned[0].Time.IsZero() {
		t.Fatalf("Cosigned = %+v", cp.Cosigned)
	}

	for _, tc := range []struct {
		name     string
		msg      []byte
		cosigned []string
		invalid  string
	}{
		{"one witness", signNote(t, text, testSigner, w2.signer), []string{"w2.example"}, ""},
		{"unknown witnesses only", signNote(t, text, testSigner, w1.signer, stranger.signer), []string{"w1.example"}, ""},
		// A witness's key signing the note as a log would (type 0x01)
		// has another key ID: it is not a cosignature and is ignored.
		{"log-style signatures by witness keys", signNote(t, text, testSigner, w1.logStyle, w2.logStyle), nil, ""},
		{"invalid cosignature", corruptSig(t, signNote(t, text, testSigner, w1.signer, w2.signer), "w2.example"), nil, "w2.example"},
		{"cosignature of another checkpoint", moveSig(t, signNote(t, text, testSigner), signNote(t, testOrigin+"\n4\n"+emptyRoot+"\n", w1.signer), signNote(t, text, w2.signer)), nil, "w1.example"},
	} {
		cp, err := v.Open(tc.msg)
		var we *transparency.WitnessError
		if !errors.Is(err, transparency.ErrWitness) || !errors.As(err, &we) || cp != nil {
			t.Errorf("%s: Open = %v, %v; want transparency.ErrWitness", tc.name, cp, err)
			continue
		}
		if fmt.Sprint(we.Cosigned) != fmt.Sprint(tc.cosigned) || we.Invalid != tc.invalid || we.Threshold != 2 {
			t.Errorf("%s: %+v, want cosigned %v invalid %q", tc.name, we, tc.cosigned, tc.invalid)
		}
	}

	// Without the log's own signature, witnesses are not enough.
	if _, err := v.Open(signNote(t, text, w1.signer, w2.signer, w3.signer)); !errors.Is(err, transparency.ErrLogSignature) {
		t.Errorf("no log signature: %v, want transparency.ErrLogSignature", err)
	}
}

// corruptSig flips a bit in the signature line of key name.
func corruptSig(t testing.TB, msg []byte, name string) []byte {
	t.Helper()
	lines := strings.Split(string(msg), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "— "+name+" ") {
			b64 := l[len("— "+name+" "):]
			sig, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				t.Fatal(err)
			}
			sig[len(sig)-1] ^= 1
			lines[i] = "— " + name + " " + base64.StdEncoding.EncodeToString(sig)
			return []byte(strings.Join(lines, "\n"))
		}
	}
	t.Fatalf("no signature by %s", name)
	return nil
}

// moveSig returns base with the signature lines of the other notes added.
func moveSig(t testing.TB, base []byte, others ...[]byte) []byte {
	t.Helper()
	out := bytes.Clone(base)
	for _, o := range others {
		i := bytes.LastIndex(o, []byte("\n\n"))
		out = append(out, o[i+2:]...)
	}
	return out
}

func TestNewVerifierRejects(t *testing.T) {
	w1, w2 := newWitness(t, "w1.example", 11), newWitness(t, "w2.example", 12)
	// w1's key under another name: cosignature/v1 does not sign the name,
	// so one cosignature would count twice.
	renamed := newWitness(t, "w1-again.example", 11)
	_, logAsWitnessVKey := mustKey("log-as-witness", 1)
	logAsWitness, err := fnote.VKeyToCosignatureV1(logAsWitnessVKey)
	if err != nil {
		t.Fatal(err)
	}
	_, plainW1 := mustKey("w1.example", 11)
	badID := w1.vkey[:len("w1.example+")] + "00000000" + w1.vkey[len("w1.example+00000000"):]

	for _, tc := range []struct {
		name string
		p    Policy
	}{
		{"no origin", Policy{LogKey: testVKey}},
		{"no log key", Policy{Origin: testOrigin}},
		{"log key is a cosignature key", Policy{Origin: testOrigin, LogKey: w1.vkey}},
		{"threshold above witnesses", Policy{Origin: testOrigin, LogKey: testVKey, WitnessKeys: []string{w1.vkey}, WitnessThreshold: 2}},
		{"witnesses without threshold", Policy{Origin: testOrigin, LogKey: testVKey, WitnessKeys: []string{w1.vkey}}},
		{"negative threshold", Policy{Origin: testOrigin, LogKey: testVKey, WitnessThreshold: -1}},
		{"one key under two names", Policy{Origin: testOrigin, LogKey: testVKey, WitnessKeys: []string{w1.vkey, renamed.vkey}, WitnessThreshold: 2}},
		{"the same witness twice", Policy{Origin: testOrigin, LogKey: testVKey, WitnessKeys: []string{w2.vkey, w2.vkey}, WitnessThreshold: 2}},
		{"the log as its own witness", Policy{Origin: testOrigin, LogKey: testVKey, WitnessKeys: []string{logAsWitness}, WitnessThreshold: 1}},
		{"witness key of the log's type", Policy{Origin: testOrigin, LogKey: testVKey, WitnessKeys: []string{plainW1}, WitnessThreshold: 1}},
		{"witness key ID wrong", Policy{Origin: testOrigin, LogKey: testVKey, WitnessKeys: []string{badID}, WitnessThreshold: 1}},
	} {
		if v, err := NewVerifier(tc.p); err == nil {
			t.Errorf("%s: NewVerifier = %v, want an error", tc.name, v)
		}
	}
}

// FuzzOpenCheckpoint: any bytes either open to a checkpoint whose signed
// body says exactly what its fields say, or fail with nothing returned.
func FuzzOpenCheckpoint(f *testing.F) {
	w1 := newWitness(f, "w1.example", 11)
	v := witnessVerifier(f, 1, w1)
	f.Add(signNote(f, testOrigin+"\n5\n"+emptyRoot+"\n", testSigner, w1.signer))
	f.Add(signNote(f, testOrigin+"\n0\n"+emptyRoot+"\nextension\n", testSigner, w1.signer))
	f.Add(signNote(f, testOrigin+"\n5\n"+emptyRoot+"\n", testSigner))
	f.Fuzz(func(t *testing.T, msg []byte) {
		cp, err := v.Open(msg)
		if err != nil {
			if cp != nil {
				t.Fatalf("Open failed (%v) but returned %+v", err, cp)
			}
			return
		}
		want := fmt.Sprintf("%s\n%d\n%s\n", cp.Origin, cp.Size, cp.Hash)
		if !bytes.HasPrefix(msg, []byte(want)) || !bytes.Equal(cp.Note, msg) || cp.Origin != testOrigin || len(cp.Cosigned) < 1 {
			t.Fatalf("Open(%q) = %+v", msg, cp)
		}
	})
}

// TestNewVerifierKeyWithPlus: a log key whose base64 holds a '+' (about
// half of all keys) is accepted, and it is still refused as a witness of its
// own log: the key is read after the name and the key ID, not after the
// last '+' (which cut such a key short, and made NewVerifier panic).
func TestNewVerifierKeyWithPlus(t *testing.T) {
	var logKey string
	for seed := byte(1); logKey == "" && seed < 255; seed++ {
		if _, vkey := mustKey("plus.example/log", seed); strings.Contains(strings.SplitN(vkey, "+", 3)[2], "+") {
			logKey = vkey
		}
	}
	if logKey == "" {
		t.Fatal("no seed gives a key with '+' in its base64")
	}
	if _, err := NewVerifier(Policy{Origin: testOrigin, LogKey: logKey}); err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	asWitness, err := fnote.VKeyToCosignatureV1(logKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewVerifier(Policy{Origin: testOrigin, LogKey: logKey, WitnessKeys: []string{asWitness}, WitnessThreshold: 1}); err == nil {
		t.Error("the log's own key accepted as its witness")
	}
}
