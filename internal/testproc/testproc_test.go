package testproc

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
)

const childEnv = "LATCH_TESTPROC_CHILD"

// TestMain makes the test binary an echoing child when childEnv is "echo"
// and a failing one when it is "fail".
func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "echo":
		fmt.Println("ready")
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			fmt.Println("echo " + sc.Text())
		}
		os.Exit(0)
	case "fail":
		fmt.Println("failing")
		fmt.Fprintln(os.Stderr, "exit 3")
		os.Exit(3)
	}
	os.Exit(m.Run())
}

func TestChild(t *testing.T) {
	c := Start(t, "^$", childEnv+"=echo")
	if got := c.Line(t); got != "ready" {
		t.Fatalf("child said %q, want ready", got)
	}
	fmt.Fprintln(c.Stdin, "x")
	if got := c.Line(t); got != "echo x" {
		t.Fatalf("child said %q, want echo x", got)
	}
	c.End(t)
}

func TestChildKill(t *testing.T) {
	c := Start(t, "^$", childEnv+"=echo")
	c.Line(t)
	c.Kill(t)
	if c.Err() == nil {
		t.Error("a killed child exited cleanly")
	}
}

func TestRun(t *testing.T) {
	status, stdout, stderr := Run(t, Command("^$", childEnv+"=fail"))
	if status != 3 || stdout != "failing\n" || stderr != "exit 3\n" {
		t.Errorf("child: exit status %d, stdout %q, stderr %q; want 3, \"failing\", \"exit 3\"", status, stdout, stderr)
	}
	if status, _, _ := Run(t, Command("^$")); status != 0 {
		t.Errorf("child running no test: exit status %d, want 0", status)
	}
}

func TestCommand(t *testing.T) {
	err := Command("^$", childEnv+"=fail").Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("child: %v, want exit status 3", err)
	}
}
