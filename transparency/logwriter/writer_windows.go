package logwriter

import (
	"context"

	"golang.org/x/mod/sumdb/note"
)

// Writer is not available on Windows.
type Writer struct{}

// Open fails with ErrUnsupported.
func Open(context.Context, string, note.Signer) (*Writer, error) { return nil, ErrUnsupported }

// NextIndex fails with ErrUnsupported.
func (*Writer) NextIndex(context.Context) (int64, error) { return 0, ErrUnsupported }

// Add fails with ErrUnsupported.
func (*Writer) Add(context.Context, ...[]byte) (int64, []byte, error) { return 0, nil, ErrUnsupported }

// Close does nothing.
func (*Writer) Close(context.Context) error { return nil }
