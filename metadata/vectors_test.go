package metadata

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch/internal/cjson"
	"github.com/latchsec/latch/verify"
)

// sentinels are the names an "expect:" header may use.
var sentinels = map[string]error{
	"ErrMalformed":          ErrMalformed,
	"ErrDuplicateSignature": ErrDuplicateSignature,
	"ErrType":               ErrType,
	"ErrSpecVersion":        ErrSpecVersion,
	"ErrInvalid":            ErrInvalid,
	"ErrThreshold":          verify.ErrThreshold,
	"ErrInvalidThreshold":   verify.ErrInvalidThreshold,
	"ErrSyntax":             cjson.ErrSyntax,
	"ErrDuplicateKey":       cjson.ErrDuplicateKey,
	"ErrTooDeep":            cjson.ErrTooDeep,
	"ErrNotCanonicalizable": cjson.ErrNotCanonicalizable,
}

// TestVectors opens every vector as its header says and checks what a
// correct client must conclude.
func TestVectors(t *testing.T) {
	set := newVectorSet(t)
	for _, name := range vectorNames(t) {
		t.Run(name, func(t *testing.T) {
			set.tb = t
			v := readVector(t, name)
			want, err := strconv.ParseInt(v.headers["version"], 10, 64)
			if err != nil {
				t.Fatalf("version header: %v", err)
			}
			doc, err := set.open(v)
			if v.headers["expect"] == "ok" {
				checkAccepted(t, v, doc, err, want)
				return
			}
			checkRefused(t, v, doc, err, want)
		})
	}
}

func checkAccepted(t *testing.T, v vector, doc document, err error, version int64) {
	t.Helper()
	if err != nil {
		t.Fatalf("refused: %v", err)
	}
	if got := doc.Version(); got != version {
		t.Errorf("Version() = %d, want %d", got, version)
	}
	if exp := v.headers["expires"]; exp != "" {
		want, err := time.Parse(time.RFC3339Nano, exp)
		if err != nil {
			t.Fatalf("expires header: %v", err)
		}
		got := doc.(interface{ Expires() time.Time }).Expires()
		if !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("Expires() = %v, want %v in UTC", got, want)
		}
	}
	switch d := doc.(type) {
	case *Root:
		if string(d.Bytes()) != string(v.body) {
			t.Error("Bytes() differs from the document received")
		}
		if len(d.Signers()) == 0 {
			t.Error("no signers recorded")
		}
	case *Targets:
		if d.Name() != v.headers["role"] {
			t.Errorf("Name() = %q, want %q", d.Name(), v.headers["role"])
		}
		for _, p := range collectPaths(t, d) {
			if _, ok := lookup(t, d, p); !ok {
				t.Errorf("Target(%q) not found, but listed by Paths", p)
			}
		}
	}
}

func checkRefused(t *testing.T, v vector, doc document, err error, version int64) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted, want %s", v.headers["expect"])
	}
	if doc != nil {
		t.Errorf("a document came back with the error %v", err)
	}
	for _, name := range strings.Fields(v.headers["expect"]) {
		sentinel, ok := sentinels[name]
		if !ok {
			t.Fatalf("unknown expectation %q", name)
		}
		if !errors.Is(err, sentinel) {
			t.Errorf("error %q does not match %s", err, name)
		}
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %q is not a *metadata.Error", err)
	}
	if e.Role != v.headers["role"] || e.Version != version {
		t.Errorf("Error{Role: %q, Version: %d}, want {%q, %d}", e.Role, e.Version, v.headers["role"], version)
	}
	var te *verify.ThresholdError
	if errors.As(err, &te) && te.Role != v.headers["role"] {
		t.Errorf("ThresholdError.Role = %q, want %q", te.Role, v.headers["role"])
	}
	if msg := err.Error(); !strings.HasPrefix(msg, v.headers["role"]+" metadata") {
		t.Errorf("message %q does not start with the role", msg)
	}
}
