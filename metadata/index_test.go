package metadata

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

// indexedTargets returns a signed targets document with delegations, opened.
func indexedTargets(t *testing.T) ([]byte, *Targets) {
	t.Helper()
	targets := map[string]any{}
	for _, p := range []string{"a", "b/c", "z\"q", "ö", "app/1.0/linux-amd64"} {
		targets[p] = targetEntry("content of " + p)
	}
	targets["a"].(map[string]any)["custom"] = map[string]any{"version": "1.0", "nested": map[string]any{"x": 1}}
	delegations := map[string]any{
		"keys":  map[string]any{keyTargets.id: keyTargets.json()},
		"roles": []any{map[string]any{"name": "team", "keyids": []string{keyTargets.id}, "threshold": 1, "terminating": false, "paths": []string{"team/*"}}},
	}
	doc := sign(t, testTargets(targets, delegations), keyTargets)
	tg, err := OpenTargets(doc, targetsKeys(t))
	if err != nil {
		t.Fatal(err)
	}
	return doc, tg
}

func TestReopenTargets(t *testing.T) {
	doc, tg := indexedTargets(t)
	digest := sha256.Sum256(doc)
	idx, ok := tg.Index(digest)
	if !ok {
		t.Fatal("no index for canonical bytes")
	}
	re, err := ReopenTargets(doc, idx, RoleTargets, digest)
	if err != nil {
		t.Fatal(err)
	}
	if re.Version() != tg.Version() || !re.Expires().Equal(tg.Expires()) || re.Len() != tg.Len() || re.Name() != RoleTargets {
		t.Errorf("reopened header %d %v %d, want %d %v %d", re.Version(), re.Expires(), re.Len(), tg.Version(), tg.Expires(), tg.Len())
	}
	paths := slices.Collect(tg.Paths())
	if got := slices.Collect(re.Paths()); !slices.Equal(got, paths) {
		t.Errorf("reopened paths %q, want %q", got, paths)
	}
	for _, p := range append(paths, "missing", "b") {
		a, okA := tg.Target(p)
		b, okB := re.Target(p)
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if okA != okB || !bytes.Equal(ja, jb) {
			t.Errorf("Target(%q): reopened %s %v, want %s %v", p, jb, okB, ja, okA)
		}
	}
	if ch := re.Delegations().Children("team/x"); len(ch) != 1 || ch[0].Name != "team" {
		t.Errorf("reopened delegations: %+v", ch)
	}
	if again, ok := re.Index(digest); !ok || !bytes.Equal(again, idx) {
		t.Error("a reopened document gives another index")
	}
	if re.Expired(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Error("reopened document expired")
	}
}

// Anything that doesn't match exactly is refused, for the caller to open
// the bytes in full: a corrupted index, another digest, other bytes.
func TestReopenTargetsRefuses(t *testing.T) {
	doc, tg := indexedTargets(t)
	digest := sha256.Sum256(doc)
	idx, _ := tg.Index(digest)
	other := sha256.Sum256([]byte("other"))
	changed := bytes.Clone(doc)
	changed[len(changed)/2] ^= 1
	cases := map[string]struct {
		data, index []byte
		digest      [32]byte
	}{
		"other digest":   {doc, idx, other},
		"changed bytes":  {changed, idx, digest},
		"empty index":    {doc, nil, digest},
		"truncated":      {doc, idx[:len(idx)-1], digest},
		"index of other": {doc, func() []byte { i, _ := tg.Index(other); return i }(), digest},
	}
	for i := 0; i < len(idx); i += 7 {
		bad := bytes.Clone(idx)
		bad[i] ^= 0x40
		cases[fmt.Sprintf("flipped byte %d", i)] = struct {
			data, index []byte
			digest      [32]byte
		}{doc, bad, digest}
	}
	for name, c := range cases {
		re, err := ReopenTargets(c.data, c.index, RoleTargets, c.digest)
		var me *Error
		if re != nil || !errors.Is(err, ErrInvalid) || !errors.As(err, &me) || me.Role != RoleTargets {
			t.Errorf("%s: %v, %v; want ErrInvalid", name, re, err)
		}
	}
}

// Bytes that were not canonical on the wire get no index.
func TestNoIndexForPrettyBytes(t *testing.T) {
	doc, _ := indexedTargets(t)
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, doc, "", " "); err != nil {
		t.Fatal(err)
	}
	tg, err := OpenTargets(pretty.Bytes(), targetsKeys(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tg.Index(sha256.Sum256(pretty.Bytes())); ok {
		t.Error("index for bytes that were not canonical")
	}
}
