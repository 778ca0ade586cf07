//go:build !windows

package logwriter

import (
	"crypto/rand"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// TestAddNothing: an Add without entries is refused, and the log keeps
// its size; an Add after it gets index 0.
func TestAddNothing(t *testing.T) {
	skey, _, err := note.GenerateKey(rand.Reader, "example.com/test/log")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	w, err := Open(ctx, filepath.Join(t.TempDir(), "log"), signer)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(ctx)
	if _, _, err := w.Add(ctx); err == nil {
		t.Fatal("Add of no entries accepted")
	}
	if n, err := w.NextIndex(ctx); err != nil || n != 0 {
		t.Fatalf("NextIndex after a refused Add: %d, %v; want 0", n, err)
	}
	first, cp, err := w.Add(ctx, []byte("a"), []byte("b"))
	if err != nil || first != 0 || len(cp) == 0 {
		t.Fatalf("Add: first %d, checkpoint %d bytes, %v; want 0", first, len(cp), err)
	}
}
