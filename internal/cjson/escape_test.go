package cjson

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestEscape: Escape turns canonical bytes with control characters into
// JSON that encoding/json reads and writes alike, and Canonicalize maps it
// back to the same canonical bytes.
func TestEscape(t *testing.T) {
	src := "{\"a\":\"x\\\\y\\\"z\x00\x01\b\f\n\r\t\x1f\",\"b\":[1,\"\n\"]}"
	canonical, err := Canonicalize([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	escaped := Escape(canonical)
	var v any
	if err := json.Unmarshal(escaped, &v); err != nil {
		t.Fatalf("Escape output is not JSON: %v\n%q", err, escaped)
	}
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	if got := string(escaped) + "\n"; got != want.String() {
		t.Errorf("Escape = %q, encoding/json writes %q", got, want.String())
	}
	back, err := Canonicalize(escaped)
	if err != nil || !bytes.Equal(back, canonical) {
		t.Errorf("Canonicalize(Escape(c)) = %q, %v; want %q", back, err, canonical)
	}
	plain := []byte(`{"a":"b"}`)
	if got := Escape(plain); &got[0] != &plain[0] {
		t.Error("Escape copied bytes without control characters")
	}
}
