package metadata

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/latchsec/latch/verify"
)

func TestRoleNamesAvoidWindowsDevices(t *testing.T) {
	for role, want := range map[string]string{"con": "%63on", "nul": "%6Eul", "lpt1": "%6Cpt1", "com9": "%63om9", "console": "console", "aux_": "aux_"} {
		got, err := EncodeRoleName(role)
		if err != nil || got != want {
			t.Errorf("EncodeRoleName(%q) = %q, %v; want %q", role, got, err, want)
			continue
		}
		back, err := DecodeRoleName(got)
		if err != nil || back != role {
			t.Errorf("DecodeRoleName(%q) = %q, %v; want %q", got, back, err, role)
		}
	}
}

func TestRoleURLNameMatchesPythonQuote(t *testing.T) {
	// Expected values are urllib.parse.quote(name, "") as other TUF clients
	// and repositories compute it.
	for role, want := range map[string]string{
		"?":                "%3F",
		"#":                "%23",
		"/delegatedrole":   "%2Fdelegatedrole",
		"../delegatedrole": "..%2Fdelegatedrole",
		"a:b@c+d":          "a%3Ab%40c%2Bd",
		"Team_A-1.x~":      "Team_A-1.x~",
		"ö":                "%C3%B6",
		"a b":              "a%20b",
	} {
		if got := RoleURLName(role); got != want {
			t.Errorf("RoleURLName(%q) = %q, want %q", role, got, want)
		}
	}
}

func TestOpenWithoutRootFails(t *testing.T) {
	if _, err := OpenTimestamp([]byte(`{}`), nil); !errors.Is(err, verify.ErrThreshold) {
		t.Errorf("OpenTimestamp with a nil root: %v, want ErrThreshold", err)
	}
	if _, err := OpenSnapshot([]byte(`{}`), nil); !errors.Is(err, verify.ErrThreshold) {
		t.Errorf("OpenSnapshot with a nil root: %v, want ErrThreshold", err)
	}
}

// A custom object with a control character (escaped on the wire, raw in the
// canonical form that is signed and decoded) comes back as valid JSON.
func TestCustomWithControlCharacters(t *testing.T) {
	entry := targetEntry("x")
	entry["custom"] = map[string]any{"note": "line1\nline2\t\x01"}
	signed := testTargets(map[string]any{"a": entry}, nil)
	doc := sign(t, signed, keyTargets)
	tg, err := OpenTargets(doc, targetsKeys(t))
	if err != nil {
		t.Fatal(err)
	}
	tf, ok := lookup(t, tg, "a")
	if !ok {
		t.Fatal("target a missing")
	}
	var custom struct{ Note string }
	if err := json.Unmarshal(tf.Custom, &custom); err != nil {
		t.Fatalf("custom %q is not valid JSON: %v", tf.Custom, err)
	}
	if custom.Note != "line1\nline2\t\x01" {
		t.Errorf("custom note = %q", custom.Note)
	}
}
