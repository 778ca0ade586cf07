package main

import (
	"context"
	"errors"

	"golang.org/x/mod/sumdb/note"
)

// startLog fails on Windows: Tessera's POSIX driver needs POSIX file locks.
// Run the log on Linux or macOS, or with one of Tessera's cloud drivers.
func startLog(context.Context, string, note.Signer) (appender, error) {
	return nil, errors.New("transparency logs need Tessera's POSIX driver, which does not run on Windows")
}
