package metadata

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/latchsec/latch/verify"
)

func TestRootAccessors(t *testing.T) {
	set := newVectorSet(t)
	r := set.root("root-v1.vec")
	if r.Version() != 1 || r.SpecVersion() != "1.0.31" || !r.ConsistentSnapshot() {
		t.Errorf("Version, SpecVersion, ConsistentSnapshot = %d, %q, %v", r.Version(), r.SpecVersion(), r.ConsistentSnapshot())
	}
	exp := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	if !r.Expires().Equal(exp) {
		t.Errorf("Expires() = %v, want %v", r.Expires(), exp)
	}
	// Trusted only while the expiry is later than the reference time.
	if r.Expired(exp.Add(-time.Nanosecond)) || !r.Expired(exp) || !r.Expired(exp.Add(time.Hour)) {
		t.Error("Expired() is wrong around the expiry")
	}
	rk, ok := r.RoleKeys(RoleRoot)
	if !ok || rk.Name != RoleRoot || rk.Threshold != 2 || len(rk.KeyIDs) != 3 {
		t.Fatalf("RoleKeys(root) = %+v, %v", rk, ok)
	}
	// root-v1 is signed by all three root keys.
	want := slices.Sorted(slices.Values(rk.KeyIDs))
	if got := r.Signers(); !slices.Equal(got, want) {
		t.Errorf("Signers() = %v, want %v", got, want)
	}
	for _, role := range []string{RoleTimestamp, RoleSnapshot, RoleTargets} {
		rk, ok := r.RoleKeys(role)
		if !ok || rk.Name != role || rk.Threshold != 1 || len(rk.KeyIDs) != 1 || rk.Keys[rk.KeyIDs[0]] == nil {
			t.Errorf("RoleKeys(%s) = %+v, %v", role, rk, ok)
		}
	}
	if rk, ok := r.RoleKeys("role-paths"); ok || rk.Name != "" || rk.Keys != nil {
		t.Errorf("RoleKeys of a role root does not define = %+v, %v", rk, ok)
	}
}

// TestRootRoleKeysCopies: what RoleKeys and Signers return can be changed
// without changing the verified root.
func TestRootRoleKeysCopies(t *testing.T) {
	set := newVectorSet(t)
	r := set.root("root-v1.vec")
	rk, _ := r.RoleKeys(RoleTimestamp)
	id := rk.KeyIDs[0]
	rk.KeyIDs[0] = "attacker"
	delete(rk.Keys, id)
	rk.Keys["attacker"] = nil
	r.Signers()[0] = "attacker"

	again, _ := r.RoleKeys(RoleTimestamp)
	if again.KeyIDs[0] != id || again.Keys[id] == nil || len(again.Keys) != len(rk.Keys) {
		t.Errorf("RoleKeys changed through a returned value: %+v", again)
	}
	if _, ok := again.Keys["attacker"]; ok {
		t.Error("RoleKeys changed through a returned map")
	}
	if slices.Contains(r.Signers(), "attacker") {
		t.Error("Signers changed through a returned slice")
	}
	if _, err := OpenTimestamp(readVector(t, "timestamp.vec").body, r); err != nil {
		t.Errorf("root no longer verifies its timestamp: %v", err)
	}
}

func TestRootRotationSigners(t *testing.T) {
	set := newVectorSet(t)
	v1, v2 := set.root("root-v1.vec"), set.root("root-v2.vec")
	old, _ := v1.RoleKeys(RoleRoot)
	cur, _ := v2.RoleKeys(RoleRoot)
	// root-v2 is signed by the first two keys of each.
	want := slices.Sorted(slices.Values([]string{old.KeyIDs[0], old.KeyIDs[1], cur.KeyIDs[0], cur.KeyIDs[1]}))
	if got := v2.Signers(); !slices.Equal(got, want) {
		t.Errorf("Signers() = %v, want %v", got, want)
	}
}

func TestSameKeys(t *testing.T) {
	set := newVectorSet(t)
	v1, v2, pretty := set.root("root-v1.vec"), set.root("root-v2.vec"), set.root("root-v1-pretty.vec")
	for role, same := range map[string]bool{RoleRoot: false, RoleTimestamp: false, RoleSnapshot: true, RoleTargets: true} {
		if got := v1.SameKeys(v2, role); got != same {
			t.Errorf("v1.SameKeys(v2, %s) = %v, want %v", role, got, same)
		}
		if got := v2.SameKeys(v1, role); got != same {
			t.Errorf("v2.SameKeys(v1, %s) = %v, want %v", role, got, same)
		}
		if !v1.SameKeys(pretty, role) {
			t.Errorf("v1.SameKeys(v1 pretty, %s) = false", role)
		}
	}

	base := openTestRoot(t, testRoot(1, standardRoles()), keyRoot)
	variant := func(change func(signed map[string]any)) *Root {
		signed := testRoot(1, standardRoles())
		change(signed)
		return openTestRoot(t, signed, keyRoot)
	}
	other := newTestKey("other")
	tests := []struct {
		name   string
		change func(signed map[string]any)
		same   bool
	}{
		{"identical", func(map[string]any) {}, true},
		{"an extra key", func(s map[string]any) {
			s["keys"].(map[string]any)[other.id] = other.json()
			s["roles"].(map[string]any)[RoleTimestamp] = map[string]any{"keyids": []string{other.id, keyTimestamp.id}, "threshold": 1}
		}, false},
		{"other threshold", func(s map[string]any) {
			s["roles"].(map[string]any)[RoleTimestamp].(map[string]any)["threshold"] = 2
		}, false},
		{"same key ID, other key material", func(s map[string]any) {
			s["keys"].(map[string]any)[keyTimestamp.id] = other.json()
		}, false},
		{"same key material, other key ID", func(s map[string]any) {
			k := s["keys"].(map[string]any)
			k["timestamp-renamed"] = k[keyTimestamp.id]
			s["roles"].(map[string]any)[RoleTimestamp] = map[string]any{"keyids": []string{"timestamp-renamed"}, "threshold": 1}
		}, false},
		{"unparsable key for the same key ID", func(s map[string]any) {
			s["keys"].(map[string]any)[keyTimestamp.id] = map[string]any{"keytype": "ed25519", "scheme": "ed25519", "keyval": map[string]any{"public": "00"}}
		}, false},
	}
	for _, tt := range tests {
		r := variant(tt.change)
		if got := base.SameKeys(r, RoleTimestamp); got != tt.same {
			t.Errorf("%s: SameKeys = %v, want %v", tt.name, got, tt.same)
		}
		if got := r.SameKeys(base, RoleTimestamp); got != tt.same {
			t.Errorf("%s (reversed): SameKeys = %v, want %v", tt.name, got, tt.same)
		}
		if !base.SameKeys(r, RoleSnapshot) {
			t.Errorf("%s: snapshot keys differ", tt.name)
		}
	}

	// Two orderings of the same key IDs are the same keys.
	twoKeys := func(ids ...string) *Root {
		signed := testRoot(1, standardRoles())
		signed["keys"].(map[string]any)[other.id] = other.json()
		signed["roles"].(map[string]any)[RoleTimestamp] = map[string]any{"keyids": ids, "threshold": 1}
		return openTestRoot(t, signed, keyRoot)
	}
	if !twoKeys(other.id, keyTimestamp.id).SameKeys(twoKeys(keyTimestamp.id, other.id), RoleTimestamp) {
		t.Error("key ID order changes SameKeys")
	}
	// Unparsable keys on both sides compare equal by key ID.
	unparsable := func(s map[string]any) {
		s["keys"].(map[string]any)[keyTimestamp.id] = map[string]any{"keytype": "x", "scheme": "x", "keyval": map[string]any{"public": "00"}}
	}
	if !variant(unparsable).SameKeys(variant(unparsable), RoleTimestamp) {
		t.Error("the same unsupported key under the same ID differs")
	}
}

// TestOpenRootKeepsTrustedRoot: a refused candidate changes nothing in the
// trusted root it was checked against.
func TestOpenRootKeepsTrustedRoot(t *testing.T) {
	set := newVectorSet(t)
	v1 := set.root("root-v1.vec")
	before, _ := v1.RoleKeys(RoleRoot)
	for _, name := range []string{"root-v2-new-keys-only.vec", "root-v2-old-keys-only.vec"} {
		r, err := OpenRoot(readVector(t, name).body, v1)
		if r != nil || !errors.Is(err, verify.ErrThreshold) {
			t.Fatalf("%s: %v, %v", name, r, err)
		}
	}
	after, _ := v1.RoleKeys(RoleRoot)
	if !slices.Equal(before.KeyIDs, after.KeyIDs) || v1.Version() != 1 {
		t.Error("the trusted root changed")
	}
	if _, err := OpenRoot(readVector(t, "root-v2.vec").body, v1); err != nil {
		t.Errorf("root-v2 after refused candidates: %v", err)
	}
}

// TestOpenRootTrustedSignaturesFirst: with a trusted root, a candidate that
// the trusted keys did not sign is refused before it is decoded (spec
// §5.3.4), so a malformed body is reported as a threshold failure.
func TestOpenRootTrustedSignaturesFirst(t *testing.T) {
	set := newVectorSet(t)
	v1 := set.root("root-v1.vec")
	signed := testRoot(2, standardRoles())
	signed["spec_version"] = "2.0"
	_, err := OpenRoot(sign(t, signed, keyRoot), v1)
	if !errors.Is(err, verify.ErrThreshold) || errors.Is(err, ErrSpecVersion) {
		t.Errorf("err = %v, want only ErrThreshold", err)
	}
}
