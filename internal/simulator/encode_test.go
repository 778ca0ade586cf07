package simulator

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/cjson"
)

// populated returns a repository with delegations, custom data and a
// rotation, so every kind of metadata has content.
func populated(t *testing.T, opts Options) *Repo {
	r := New(t, opts)
	r.AddTarget("a/b.txt", []byte("b"), map[string]any{"version": "1.2.3", "n": 7, "tags": []string{"x", "<y>"}})
	r.Delegate("targets", "dev", DelegationOpts{PathHashPrefixes: []string{"ab", "0"}})
	r.DelegateSuccinct("dev", 2, "bins")
	r.AddDelegatedTarget(r.SuccinctBin("dev", "ö/c"), "ö/c", []byte("c"), nil)
	r.AddKey("root")
	r.Publish()
	return r
}

var wireNames = []string{"root.json", "2.root.json", "timestamp.json", "snapshot.json", "targets.json", "dev.json", "bins-0.json"}

func TestCompactIsCanonical(t *testing.T) {
	t.Parallel()
	r := populated(t, Options{SnapshotHashes: true})
	for _, name := range wireNames {
		b := r.Bytes(name)
		var v any
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		canon, err := cjson.EncodeCanonical(v)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, canon) {
			t.Errorf("%s is not canonical:\n%s\nwant\n%s", name, b, canon)
		}
	}
}

func TestPrettyIsIndentedCanonical(t *testing.T) {
	t.Parallel()
	compact := populated(t, Options{Seed: "s"})
	pretty := populated(t, Options{Seed: "s", Pretty: true})
	for _, name := range wireNames {
		p := pretty.Bytes(name)
		if !bytes.HasPrefix(p, []byte("{\n \"signatures\": [\n  {\n   \"keyid\": \"")) {
			t.Errorf("%s is not indented by one space:\n%.60s", name, p)
		}
		var c bytes.Buffer
		if err := json.Compact(&c, p); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if want := compact.Bytes(name); !bytes.Equal(c.Bytes(), want) {
			t.Errorf("%s: pretty form compacts to\n%s\nwant\n%s", name, c.Bytes(), want)
		}
	}
}

// TestSignaturesCoverCanonicalSigned checks the signatures by hand, without
// go-tuf: over the canonical form of the received "signed" value.
func TestSignaturesCoverCanonicalSigned(t *testing.T) {
	t.Parallel()
	r := populated(t, Options{Pretty: true})
	for name, signer := range map[string]string{
		"2.root.json": "root", "timestamp.json": "timestamp", "snapshot.json": "snapshot",
		"targets.json": "targets", "dev.json": "dev", "bins-3.json": "bins-1",
	} {
		var env struct {
			Signed     any `json:"signed"`
			Signatures []struct {
				KeyID string `json:"keyid"`
				Sig   string `json:"sig"`
			} `json:"signatures"`
		}
		d := json.NewDecoder(bytes.NewReader(r.Bytes(name)))
		d.UseNumber()
		if err := d.Decode(&env); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		canon, err := cjson.EncodeCanonical(env.Signed)
		if err != nil {
			t.Fatal(err)
		}
		key := r.Key(signer, 0)
		if len(env.Signatures) == 0 || env.Signatures[0].KeyID != r.KeyID(signer, 0) {
			t.Fatalf("%s: signatures %+v, want one by %s key 0 first", name, env.Signatures, signer)
		}
		sig, err := hex.DecodeString(env.Signatures[0].Sig)
		if err != nil || !ed25519.Verify(key.Public().(ed25519.PublicKey), canon, sig) {
			t.Errorf("%s: signature does not verify over the canonical signed bytes", name)
		}
	}
}

func TestKeysAreDerivedFromSeed(t *testing.T) {
	t.Parallel()
	a := New(t, Options{Seed: "alpha"})
	b := New(t, Options{Seed: "alpha"})
	c := New(t, Options{Seed: "beta"})
	if !bytes.Equal(a.TrustedRoot(), b.TrustedRoot()) {
		t.Error("same seed, different roots")
	}
	if bytes.Equal(a.TrustedRoot(), c.TrustedRoot()) {
		t.Error("different seeds, same root")
	}
	a.AddKey("timestamp")
	seed := sha256.Sum256([]byte("alpha/timestamp/1"))
	if want := ed25519.NewKeyFromSeed(seed[:]); !a.Key("timestamp", 1).Equal(want) {
		t.Error("timestamp key 1 is not derived from sha256(seed/role/index)")
	}
	a.RemoveKey("timestamp", 0)
	if a.Key("timestamp", 0) == nil || a.KeyID("timestamp", 1) == a.KeyID("timestamp", 0) {
		t.Error("revoked key 0 is gone or indexes shifted")
	}
}

func TestSnapshotAndTimestampHashes(t *testing.T) {
	t.Parallel()
	r := New(t, Options{SnapshotHashes: true, TimestampHashes: true})
	snap := r.Bytes("snapshot.json")
	sum := sha256.Sum256(snap)
	mf := r.Timestamp().Signed.Meta["snapshot.json"]
	if mf.Length != int64(len(snap)) || !bytes.Equal(mf.Hashes["sha256"], sum[:]) || mf.Version != 1 {
		t.Errorf("timestamp meta %+v does not describe snapshot.json", mf)
	}
	targets := r.Bytes("targets.json")
	sum = sha256.Sum256(targets)
	if mf := r.Snapshot().Signed.Meta["targets.json"]; mf.Length != int64(len(targets)) || !bytes.Equal(mf.Hashes["sha256"], sum[:]) {
		t.Errorf("snapshot meta %+v does not describe targets.json", mf)
	}
	plain := New(t, Options{})
	if mf := plain.Snapshot().Signed.Meta["targets.json"]; mf.Length != 0 || len(mf.Hashes) != 0 {
		t.Errorf("snapshot meta %+v has hashes without SnapshotHashes", mf)
	}
}

// fatalRecorder stands in for the test so misuse can be observed: Fatalf
// records the message and ends the goroutine like the real one.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestMisuseFailsTheTest(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		call func(r *Repo)
		want string
	}{
		{"unknown role", func(r *Repo) { r.AddKey("nobody") }, `no role "nobody"`},
		{"target in root", func(r *Repo) { r.AddDelegatedTarget("root", "x", nil, nil) }, "not a targets role"},
		{"delegate to a top-level name", func(r *Repo) { r.Delegate("targets", "snapshot", DelegationOpts{}) }, "exists"},
		{"mixed delegation kinds", func(r *Repo) {
			r.Delegate("targets", "a", DelegationOpts{})
			r.DelegateSuccinct("targets", 1, "bins")
		}, "already delegates"},
		{"huge succinct", func(r *Repo) { r.DelegateSuccinct("targets", 17, "bins") }, "outside 1..16"},
		{"remove twice", func(r *Repo) { r.RemoveKey("root", 0); r.RemoveKey("root", 0) }, "no active key 0"},
		{"sign with unknown key", func(r *Repo) { r.Sign("timestamp", 3) }, "no key 3"},
		{"unpublished old version", func(r *Repo) { r.SetFault("timestamp.json", Fault{OldVersion: 2}) }, "no published version 2"},
		{"unknown bytes", func(r *Repo) { r.Bytes("2.timestamp.json") }, "nothing is served"},
		{"unpublished target", func(r *Repo) { r.AddTarget("x", nil, nil); r.TargetName("x") }, "not published"},
		{"float custom", func(r *Repo) {
			r.AddTarget("x", nil, map[string]any{"f": 1.5})
			r.Publish()
		}, "not representable in canonical form"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := New(t, Options{})
			r.Server() // started with the real t, so its cleanup is registered
			rec := &fatalRecorder{TB: t}
			r.t = rec
			done := make(chan struct{})
			go func() {
				defer close(done)
				tc.call(r)
			}()
			<-done
			if !strings.Contains(rec.msg, tc.want) {
				t.Errorf("failure %q, want it to mention %q", rec.msg, tc.want)
			}
		})
	}
}
