package client_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/internal/simulator"
	"github.com/latchsec/latch/internal/testdir"
	"github.com/latchsec/latch/internal/testproc"
	"github.com/latchsec/latch/rollback"
)

// One state directory shared by several clients: in this process, and in
// child processes (this test binary again, TestSharedStateChild).

// TestOfflineBesideClient: a read-only view works while a client of this
// process holds the state directory, sees what it trusts, and writes
// nothing.
func TestOfflineBesideClient(t *testing.T) {
	t.Parallel()
	repo := releaseRepo(t, simulator.Options{})
	e := refreshed(t, repo)
	e.target("plugins/x.so") // the delegated role is cached too
	app := e.target("app/1.0/app.bin")
	dest := filepath.Join(e.dl, "app.bin")
	if err := e.c.DownloadFile(context.Background(), app, dest); err != nil {
		t.Fatal(err)
	}
	before := testdir.Files(t, e.cfg.StateDir)

	v, err := client.Offline(e.cfg, e.opts...)
	if err != nil {
		t.Fatalf("Offline beside a client: %v", err)
	}
	if got, want := versions(v), versions(e.c.View()); !maps(got, want) || v.Stale() {
		t.Errorf("view %v (stale %v), want %v as the holder trusts", got, v.Stale(), want)
	}
	if tg, err := v.Target("plugins/x.so"); err != nil || tg.Role() != "plugins" {
		t.Errorf("View.Target(plugins/x.so): %v", err)
	}
	tg, err := v.Target("app/1.0/app.bin")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := v.Cached(tg, dest); !ok || err != nil {
		t.Errorf("View.Cached: %v, %v", ok, err)
	}
	testdir.Same(t, before, testdir.Files(t, e.cfg.StateDir))
	e.refresh() // the holder goes on
}

// TestOfflineWritesNothing: a view creates no state directory, caches no
// newer embedded root, writes no audit record and removes no leftover
// temporary file.
func TestOfflineWritesNothing(t *testing.T) {
	t.Parallel()
	repo := simulator.New(t, simulator.Options{})
	e := newEnv(t, repo)
	absent := e.cfg
	absent.StateDir = filepath.Join(t.TempDir(), "absent")
	v, err := client.Offline(absent, e.opts...)
	if err != nil || !maps(versions(v), map[string]int64{"root": 1}) {
		t.Fatalf("Offline of a missing state directory: %v, %v; want root v1 alone", versions(v), err)
	}
	if _, err := os.Stat(absent.StateDir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Offline created the state directory: %v", err)
	}

	e.open()
	e.refresh()
	e.c.Close()
	e.c = nil
	repo.PublishRoot()
	e.cfg.TrustedRoot = repo.Bytes("2.root.json") // a newer build embeds root v2
	leftover := filepath.Join(e.cfg.StateDir, "state", ".trusted-state-1.tmp")
	if err := os.WriteFile(leftover, []byte("left by a crash"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := testdir.Files(t, e.cfg.StateDir)
	v, err = client.Offline(e.cfg, e.opts...)
	if err != nil {
		t.Fatal(err)
	}
	if got := versions(v); !maps(got, top(2, 1, 1, 1)) {
		t.Errorf("view %v, want the embedded root v2 over the cached v1", got)
	}
	testdir.Same(t, before, testdir.Files(t, e.cfg.StateDir))
	os.Remove(leftover)
}

// TestOpenWaits: Open waits for a client of this process to close, or for
// its context to end.
func TestOpenWaits(t *testing.T) {
	t.Parallel()
	repo := simulator.New(t, simulator.Options{})
	e := newEnv(t, repo)
	e.open()

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if c, err := client.Open(ctx, e.cfg, e.opts...); !errors.Is(err, client.ErrLocked) || !errors.Is(err, context.Canceled) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("Open with a cancelled context beside a client: %v, want ErrLocked and context.Canceled", err)
	}

	type opened struct {
		c   *client.Client
		err error
	}
	done := make(chan opened, 1)
	go func() {
		c, err := client.Open(t.Context(), e.cfg, e.opts...)
		done <- opened{c, err}
	}()
	e.refresh()
	e.c.Close()
	e.c = nil
	o := <-done
	if o.err != nil {
		t.Fatalf("Open after the holder closed: %v", o.err)
	}
	defer o.c.Close()
	if err := o.c.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// The child processes.

const sharedEnv = "LATCH_SHARED_STATE_CHILD"

type sharedJob struct {
	// Mode is what the child does:
	//   - "hold": a long-lived client (a daemon) that refreshes once, says
	//     "ready", then refreshes for every line on its stdin, answering
	//     "refreshed", and closes when its stdin does;
	//   - "cli": a command-line invocation that tries New, reports the pid
	//     its *rollback.LockedError names, then waits for the directory with
	//     Open and refreshes;
	//   - "refresh": a writer that says "ready" and refreshes again and
	//     again until its stdin closes.
	Mode     string
	StateDir string
	Root     []byte
	MetaURL  string
	Now      time.Time
}

// TestSharedStateChild is the child process; it is skipped in a normal run.
func TestSharedStateChild(t *testing.T) {
	env := os.Getenv(sharedEnv)
	if env == "" {
		t.Skip("run as a child process by the tests of shared state directories")
	}
	var job sharedJob
	if err := json.Unmarshal([]byte(env), &job); err != nil {
		t.Fatal(err)
	}
	cfg := client.Config{TrustedRoot: job.Root, MetadataURLs: []string{job.MetaURL}, StateDir: job.StateDir}
	opts := []client.Option{client.WithClock(func() time.Time { return job.Now }), client.WithFetcher(fastFetcher())}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	ctx := t.Context()
	switch job.Mode {
	case "hold":
		c, err := client.New(cfg, opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		fmt.Println("ready")
		for range lines {
			if err := c.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			fmt.Println("refreshed")
		}
	case "cli":
		_, err := client.New(cfg, opts...)
		var le *rollback.LockedError
		if !errors.As(err, &le) || !errors.Is(err, client.ErrLocked) {
			t.Fatalf("New beside the parent: %v, want a *rollback.LockedError", err)
		}
		fmt.Printf("locked by %d\n", le.PID)
		c, err := client.Open(ctx, cfg, opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	case "refresh":
		c, err := client.New(cfg, opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Println("ready")
		for {
			select {
			case _, ok := <-lines:
				if !ok {
					return
				}
			default:
			}
			if err := c.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
		}
	default:
		t.Fatalf("unknown mode %q", job.Mode)
	}
}

// startChild runs TestSharedStateChild in a child process, in mode, on the
// repository and state directory of e.
func startChild(t *testing.T, e *env, mode string) *testproc.Child {
	t.Helper()
	job, err := json.Marshal(sharedJob{Mode: mode, StateDir: e.cfg.StateDir, Root: e.cfg.TrustedRoot, MetaURL: e.cfg.MetadataURLs[0], Now: e.repo.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return testproc.Start(t, "^TestSharedStateChild$", sharedEnv+"="+string(job))
}

// TestConcurrentCLIs: command-line invocations started while this process
// holds the state directory are told who holds it (this process, by pid),
// wait for it with Open, and all complete once it is released.
func TestConcurrentCLIs(t *testing.T) {
	t.Parallel()
	repo := simulator.New(t, simulator.Options{})
	e := newEnv(t, repo)
	e.open()
	var children []*testproc.Child
	for range 3 {
		ch := startChild(t, e, "cli")
		if got, want := ch.Line(t), "locked by "+strconv.Itoa(os.Getpid()); got != want {
			t.Fatalf("child: %q, want %q", got, want)
		}
		children = append(children, ch)
	}
	e.c.Close()
	e.c = nil
	for _, ch := range children {
		ch.End(t)
	}
	v, err := client.Offline(e.cfg, e.opts...)
	if err != nil || !maps(versions(v), top(1, 1, 1, 1)) {
		t.Errorf("after the invocations: %v, %v", versions(v), err)
	}
}

// TestDaemonAndCLI: a long-lived client in another process (a daemon) holds
// the state directory; a command-line tool reads it with Offline at any
// time, writing nothing, is told the daemon's pid by New, and gets the
// directory with Open once the daemon closes.
func TestDaemonAndCLI(t *testing.T) {
	t.Parallel()
	repo := releaseRepo(t, simulator.Options{})
	e := newEnv(t, repo)
	daemon := startChild(t, e, "hold")
	if got := daemon.Line(t); got != "ready" {
		t.Fatalf("daemon: %q", got)
	}
	for i := range 3 {
		before := testdir.Files(t, e.cfg.StateDir)
		v, err := client.Offline(e.cfg, e.opts...)
		if err != nil {
			t.Fatalf("Offline beside the daemon: %v", err)
		}
		if got, want := versions(v)["targets"], repo.Version("targets"); got != want {
			t.Errorf("view: targets v%d, want v%d", got, want)
		}
		if _, err := v.Target("app/1.0/app.bin"); err != nil {
			t.Errorf("View.Target: %v", err)
		}
		testdir.Same(t, before, testdir.Files(t, e.cfg.StateDir))

		repo.AddTarget(fmt.Sprintf("app/1.%d/app.bin", i+1), appV1, nil)
		repo.Publish()
		fmt.Fprintln(daemon.Stdin, "refresh")
		if got := daemon.Line(t); got != "refreshed" {
			t.Fatalf("daemon: %q", got)
		}
	}

	_, err := client.New(e.cfg, e.opts...)
	if le := wantAs[*rollback.LockedError](t, err); le.PID != daemon.Cmd.Process.Pid || !strings.Contains(err.Error(), "pid "+strconv.Itoa(le.PID)) {
		t.Errorf("New beside the daemon: %v, want the daemon's pid %d", err, daemon.Cmd.Process.Pid)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := client.Open(ctx, e.cfg, e.opts...); !errors.Is(err, client.ErrLocked) || !errors.Is(err, context.Canceled) {
		t.Errorf("Open with a cancelled context beside the daemon: %v", err)
	}

	daemon.End(t)
	c, err := client.Open(t.Context(), e.cfg, e.opts...)
	if err != nil {
		t.Fatalf("Open after the daemon closed: %v", err)
	}
	defer c.Close()
	if err := c.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Target(t.Context(), "app/1.3/app.bin"); err != nil {
		t.Error(err)
	}
}

// TestOfflineBesideWriter: views taken while another process refreshes
// again and again, as the repository publishes, never fail and never go
// back. Each view is one saved state: its roles are those a start-up would
// load, each no older than in the view before.
func TestOfflineBesideWriter(t *testing.T) {
	t.Parallel()
	repo := simulator.New(t, simulator.Options{ConsistentSnapshot: true})
	e := newEnv(t, repo)
	writer := startChild(t, e, "refresh")
	if got := writer.Line(t); got != "ready" {
		t.Fatalf("writer: %q", got)
	}
	writer.Exited()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	views, complete := 0, 0
	wg.Go(func() {
		last := map[string]int64{}
		for {
			select {
			case <-stop:
				return
			default:
			}
			v, err := client.Offline(e.cfg, e.opts...)
			if err != nil {
				t.Errorf("Offline beside a writer: %v", err)
				return
			}
			got := versions(v)
			for role, version := range got {
				if version < last[role] {
					t.Errorf("%s went back from v%d to v%d", role, last[role], version)
				}
				last[role] = version
			}
			// A saved state moves timestamp, then snapshot, then targets
			// (which the simulator numbers alike), and a view loads them
			// in that order, stopping at the first missing one.
			ts, sn, tg := got["timestamp"], got["snapshot"], got["targets"]
			if sn > ts || tg > sn {
				t.Errorf("view %v is no saved state", got)
			}
			views++
			if len(got) == 4 {
				complete++
			}
		}
	})
	for i := range 10 {
		repo.AddTarget(fmt.Sprintf("t%d", i), []byte{byte(i)}, nil)
		repo.Publish()
		// Wait until the writer has trusted this version, or has failed.
		for want := repo.Version("timestamp"); ; {
			select {
			case <-writer.Exited():
				t.Fatalf("writer exited: %v", writer.Err())
			default:
			}
			v, err := client.Offline(e.cfg, e.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if versions(v)["targets"] == want {
				break
			}
		}
	}
	close(stop)
	wg.Wait()
	writer.End(t)
	t.Logf("%d views beside the writer, %d with all four roles", views, complete)
}
