//go:build !unix

package client

// killedFromOutside reports whether a command was killed from outside. On
// Windows a killed process has only an exit code, which its own failure
// could give too: a check killed there counts as failed, unless Apply's
// ctx was cancelled.
func killedFromOutside(error) bool { return false }
