package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/internal/simulator"
)

// TestConcurrentInvocations: tufclient commands started together on one
// metadata directory wait for each other and all succeed; with
// --lock-wait 0 a held directory fails at once, naming the holder's pid;
// audit verify reads beside a holder.
func TestConcurrentInvocations(t *testing.T) {
	t.Parallel()
	f := newFixture(t, simulator.Options{})
	f.repo.AddTarget("a.txt", []byte("a"), nil)
	f.serve()
	f.mustRun(nil, f.initArgs()...)

	var wg sync.WaitGroup
	for i := range 4 {
		args := f.refreshArgs()
		if i%2 == 1 {
			args = f.downloadArgs("a.txt")
		}
		wg.Go(func() {
			if code, stderr := f.run(nil, args...); code != 0 {
				t.Errorf("tufclient %s beside others: exit status %d\n%s", args[len(args)-1], code, stderr)
			}
		})
	}
	wg.Wait()
	f.checkTargets(map[string][]byte{"a.txt": []byte("a")})

	// This process holds the directory, like a long-lived application.
	root, err := os.ReadFile(f.rootFile)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(client.Config{TrustedRoot: root, StateDir: f.metaDir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f.mustFail(nil, "pid "+strconv.Itoa(os.Getpid()), append([]string{"--lock-wait", "0"}, f.refreshArgs()...)...)
	f.mustRun(nil, "--metadata-dir", f.metaDir, "audit", "verify")

	// A refresh started now says what it waits for, and completes once
	// the holder closes.
	cmd := exec.CommandContext(t.Context(), binary, f.refreshArgs()...)
	cmd.Env = append(os.Environ(), "TZ=UTC", fakeTime(f.repo.Now()))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	log := bufio.NewReader(stderr)
	var said bytes.Buffer
	for !strings.Contains(said.String(), "waiting for the metadata directory") {
		line, err := log.ReadString('\n')
		said.WriteString(line)
		if err != nil {
			t.Fatalf("tufclient refresh beside a holder: %v\n%s", err, said.String())
		}
	}
	if !strings.Contains(said.String(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Errorf("the waiting refresh does not name the holder's pid:\n%s", said.String())
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(log)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("tufclient refresh after the holder closed: %v\n%s%s", err, said.String(), rest)
	}
}
