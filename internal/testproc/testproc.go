// Package testproc runs the test binary again as a child process, for tests
// across real processes: a lock held by another process, a process killed
// while it holds one, a daemon and a command-line tool side by side.
package testproc

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// Command returns the test binary, run again with the tests matching run (a
// -test.run pattern; "^$" for none, for a child that TestMain diverts) and
// with env ("NAME=value") added to the environment. A race-enabled child
// exits without ThreadSanitizer's one-second sleep.
func Command(run string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run="+run, "-test.count=1")
	cmd.Env = append(os.Environ(), "GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// Run runs cmd to its end and returns its exit status and what it wrote
// to standard output and standard error. A command that could not run, or
// ended without an exit status, fails the test.
func Run(t testing.TB, cmd *exec.Cmd) (status int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		status = exit.ExitCode()
	default:
		t.Fatalf("running %s: %v", cmd.Path, err)
	}
	return status, out.String(), errOut.String()
}

// A Child is a running child process that the test talks to through its
// standard input and output; its standard error is the test binary's.
type Child struct {
	Cmd   *exec.Cmd
	Stdin io.WriteCloser
	out   *bufio.Reader

	once   sync.Once
	exited chan struct{}
	err    error
}

// Start starts Command(run, env...). The child is killed, if still
// running, and waited for when the test ends.
func Start(t testing.TB, run string, env ...string) *Child {
	t.Helper()
	cmd := Command(run, env...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &Child{Cmd: cmd, Stdin: stdin, out: bufio.NewReader(stdout), exited: make(chan struct{})}
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-c.Exited()
	})
	return c
}

// Line reads the child's next line of output, without the newline; it
// fails the test if the child says nothing more.
func (c *Child) Line(t testing.TB) string {
	t.Helper()
	s, err := c.out.ReadString('\n')
	if err != nil {
		t.Fatalf("child said %q: %v", s, err)
	}
	return strings.TrimSuffix(s, "\n")
}

// Exited starts waiting for the child, once, and returns a channel closed
// when it has exited; [Child.Err] is its exit then. The child's output is
// no longer read by line after the first call.
func (c *Child) Exited() <-chan struct{} {
	c.once.Do(func() {
		go func() {
			io.Copy(io.Discard, c.out) // the test framework's last words
			c.err = c.Cmd.Wait()
			close(c.exited)
		}()
	})
	return c.exited
}

// Err is how the child exited, once [Child.Exited] is closed.
func (c *Child) Err() error { return c.err }

// End closes the child's standard input and fails the test unless the
// child then exits cleanly.
func (c *Child) End(t testing.TB) {
	t.Helper()
	c.Stdin.Close()
	<-c.Exited()
	if c.err != nil {
		t.Fatalf("child: %v", c.err)
	}
}

// Kill kills the child and waits for it to exit.
func (c *Child) Kill(t testing.TB) {
	t.Helper()
	if err := c.Cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-c.Exited()
}
