package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchsec/latch/internal/simulator"
	"github.com/latchsec/latch/internal/testproc"
	"github.com/latchsec/latch/transparency"
	"github.com/latchsec/latch/transparency/logwriter"
	"golang.org/x/mod/sumdb/note"
)

const logOrigin = "example.com/app/log"

// testLog is a Tessera-written log on loopback; dir says which directory
// it serves (the log, or a fork of it).
type testLog struct {
	t      *testing.T
	dir    string
	signer note.Signer
	vkey   string
	srv    *httptest.Server
	serve  atomic.Pointer[string]
}

func newTestLog(t *testing.T) *testLog {
	t.Helper()
	skey, vkey, err := note.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{7}, 32)), logOrigin)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	l := &testLog{t: t, dir: filepath.Join(t.TempDir(), "log"), signer: signer, vkey: vkey}
	l.serve.Store(&l.dir)
	l.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.FileServer(http.Dir(*l.serve.Load())).ServeHTTP(w, r)
	}))
	t.Cleanup(l.srv.Close)
	l.append(l.dir)
	return l
}

// append adds the entries to the log in dir and returns the first index.
func (l *testLog) append(dir string, entries ...[]byte) int64 {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	first, err := logwriter.Append(ctx, dir, l.signer, entries...)
	if errors.Is(err, logwriter.ErrUnsupported) {
		l.t.Skip(err)
	}
	if err != nil {
		l.t.Fatal(err)
	}
	return first
}

// release publishes data at path in the repository, its entry logged (in
// the log itself unless another directory is given).
func (l *testLog) release(f *fixture, path string, data []byte, logged bool) {
	l.t.Helper()
	custom := map[string]any{}
	if logged {
		b, err := transparency.Entry{Repository: logOrigin, Path: path, Length: int64(len(data)), SHA256: sha256.Sum256(data)}.Marshal()
		if err != nil {
			l.t.Fatal(err)
		}
		custom["tlog"] = map[string]any{"index": l.append(l.dir, b)}
	}
	f.repo.AddTarget(path, data, custom)
	f.repo.Publish()
}

func (l *testLog) flags() []string {
	return []string{"--log-url", l.srv.URL, "--log-key", l.vkey}
}

// runOut runs tufclient and returns its exit status, standard output and
// standard error.
func (f *fixture) runOut(args ...string) (int, string, string) {
	f.t.Helper()
	cmd := exec.CommandContext(f.t.Context(), binary, args...)
	cmd.Env = append(os.Environ(), "TZ=UTC", fakeTime(f.repo.Now()))
	return testproc.Run(f.t, cmd)
}

// TestTransparencyEndToEnd: with the log flags, download delivers logged
// releases only; log monitor reports the entries the repository did not
// sign, keeps its place, and catches a log that forks.
func TestTransparencyEndToEnd(t *testing.T) {
	f := newFixture(t, simulator.Options{Seed: "transparency"})
	l := newTestLog(t)
	f.serve()
	l.release(f, "app/1.0.0/linux-amd64", []byte("release 1"), true)
	f.mustRun(nil, f.initArgs()...)

	download := func(name string) []string {
		return append(append(l.flags(), "--log-path", "app/*/*"), f.downloadArgs(name)...)
	}
	f.mustRun(nil, download("app/1.0.0/linux-amd64")...)
	// Kept in place, it is proven again: still fine.
	f.mustRun(nil, download("app/1.0.0/linux-amd64")...)

	// A release signed but not logged: refused, nothing written.
	l.release(f, "app/2.0.0/linux-amd64", []byte("evil"), false)
	f.mustFail(nil, "not in the transparency log", download("app/2.0.0/linux-amd64")...)
	if _, err := os.Stat(filepath.Join(f.targetDir, "app", "2.0.0", "linux-amd64")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("refused target on disk: %v", err)
	}

	monitor := append(l.flags(), "--metadata-dir", f.metaDir, "--metadata-url", f.metaURL, "log", "monitor")
	if code, out, stderr := f.runOut(monitor...); code != 0 || out != "" {
		t.Fatalf("monitor of an honest log: exit %d, stdout %q\n%s", code, out, stderr)
	}

	// Someone with the log key logs a release the repository never signed.
	evil, err := transparency.Entry{Repository: logOrigin, Path: "app/9.9.9/linux-amd64", Length: 4, SHA256: sha256.Sum256([]byte("evil"))}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	l.append(l.dir, evil)
	code, out, stderr := f.runOut(monitor...)
	if code != exitUnknownEntries {
		t.Fatalf("monitor: exit %d, want %d\n%s", code, exitUnknownEntries, stderr)
	}
	var ev monitorEvent
	if err := json.Unmarshal([]byte(out), &ev); err != nil || ev.Event != "unknown-entry" || *ev.Index != 1 || ev.Target != "app/9.9.9/linux-amd64" {
		t.Fatalf("monitor output %q: %v", out, err)
	}
	// It keeps its place: the next run starts after that entry.
	if code, out, _ := f.runOut(monitor...); code != 0 || out != "" {
		t.Fatalf("second monitor run: exit %d, stdout %q", code, out)
	}

	// The log shows another history (same key, a different entry 1): the
	// monitor proves the contradiction.
	fork := filepath.Join(t.TempDir(), "fork")
	first, err := transparency.Entry{Repository: logOrigin, Path: "app/1.0.0/linux-amd64", Length: 9, SHA256: sha256.Sum256([]byte("release 1"))}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	hidden, err := transparency.Entry{Repository: logOrigin, Path: "app/9.9.8/linux-amd64", Length: 4, SHA256: sha256.Sum256([]byte("evil"))}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	l.append(fork, first, hidden, evil)
	l.serve.Store(&fork)
	code, out, stderr = f.runOut(monitor...)
	if code != exitLogConflict || !strings.Contains(out, `"event":"split-view"`) {
		t.Fatalf("monitor of a fork: exit %d, stdout %q\n%s", code, out, stderr)
	}
}
