//go:build unix

package client

import (
	"errors"
	"os/exec"
	"syscall"
)

// killedFromOutside reports whether a command's error says it was killed by
// a signal that comes from outside it (the OOM killer's SIGKILL, a user's
// SIGINT, a shutdown's SIGTERM or SIGHUP), rather than one that its own
// crash raises (SIGSEGV, SIGABRT, ...).
func killedFromOutside(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return false
	}
	switch ws.Signal() {
	case syscall.SIGKILL, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP:
		return true
	}
	return false
}
