// Package install names what can go wrong when a verified build replaces
// an application's executable (client.Client.Apply, Recover, RevertUnsafe):
// the sentinels and the typed error that the self-update machinery returns,
// and that an application's health check returns to say its check did not
// finish.
//
// Package client re-exports every one of them under the same name
// (client.ErrHealthCheck is ErrHealthCheck), so a caller usually needs only
// client. They live here, apart, because the code that installs is an
// internal package that client imports: both sides need one definition to
// share.
package install

import (
	"errors"
	"fmt"
)

var (
	// ErrHealthCheck: the new build failed its health check (or two checks
	// of it did not finish); the previous build stays in place, and the new
	// one is remembered as failed.
	ErrHealthCheck = errors.New("health check failed")
	// ErrHealthCheckInterrupted: the health check did not finish (its
	// process was killed, or the update was cancelled while it ran). A
	// health check returns an error wrapping it to say so; the build is
	// then checked again at its next install, once.
	ErrHealthCheckInterrupted = errors.New("health check did not finish")
	// ErrNoBackup: there is no kept previous build (with a known version)
	// to revert to.
	ErrNoBackup = errors.New("no kept previous version")
	// ErrJournal: the self-update journal can't be read, or describes files
	// that are not there; a person has to look at it.
	ErrJournal = errors.New("self-update journal is unusable")
	// ErrUnsafeWorkDir: the work directory beside the executable is not a
	// directory of this user that only it can write. See *WorkDirError.
	ErrUnsafeWorkDir = errors.New("self-update work directory is not safe")
)

// WorkDirError reports a work directory that someone else could change:
// what is staged or kept in it is put at the executable's path.
type WorkDirError struct {
	Path, Reason string
}

func (e *WorkDirError) Error() string {
	return fmt.Sprintf("self-update work directory %s %s; remove it or fix its owner and mode", e.Path, e.Reason)
}

// Unwrap returns [ErrUnsafeWorkDir].
func (e *WorkDirError) Unwrap() error { return ErrUnsafeWorkDir }
