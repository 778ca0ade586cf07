package client_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/internal/audit"
	"github.com/latchsec/latch/internal/simulator"
	"github.com/latchsec/latch/rollback"
	"github.com/latchsec/latch/transparency/logwriter"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

const tlogOrigin = "example.com/app/log"

// tlog is a transparency log written with Tessera's POSIX driver, as
// publish writes it, and served on loopback. Tests switch what it serves:
// another directory (a fork, an older copy), a rewrite of the checkpoint
// (witness cosignatures), or nothing at all.
type tlog struct {
	t      *testing.T
	dir    string
	signer note.Signer
	vkey   string

	serving  atomic.Pointer[string] // the directory served
	down     atomic.Bool            // every request answers 404
	requests atomic.Int64
	mu       sync.Mutex
	rewrite  func(path string, b []byte) []byte
	srv      *httptest.Server
}

// newTlog makes an empty log whose key comes from seed.
func newTlog(t *testing.T, seed byte) *tlog {
	t.Helper()
	signer, vkey := keyPair(t, tlogOrigin, seed)
	l := &tlog{t: t, dir: filepath.Join(t.TempDir(), "log"), signer: signer, vkey: vkey}
	l.add() // creates the log: a checkpoint of the empty tree
	l.serving.Store(&l.dir)
	l.srv = httptest.NewServer(http.HandlerFunc(l.serve))
	t.Cleanup(l.srv.Close)
	return l
}

func (l *tlog) serve(w http.ResponseWriter, r *http.Request) {
	l.requests.Add(1)
	if l.down.Load() {
		http.NotFound(w, r)
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/")
	b, err := os.ReadFile(filepath.Join(*l.serving.Load(), filepath.FromSlash(path)))
	if err != nil || strings.Contains(path, "..") || strings.HasPrefix(path, ".") {
		http.NotFound(w, r)
		return
	}
	l.mu.Lock()
	rw := l.rewrite
	l.mu.Unlock()
	if rw != nil {
		b = rw(path, b)
	}
	w.Write(b)
}

func (l *tlog) setRewrite(f func(path string, b []byte) []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rewrite = f
}

// add appends entries to the log directory and returns the first's index.
func (l *tlog) add(entries ...[]byte) int64 {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	first, err := logwriter.Append(ctx, l.dir, l.signer, entries...)
	if errors.Is(err, logwriter.ErrUnsupported) {
		l.t.Skip(err)
	}
	if err != nil {
		l.t.Fatal(err)
	}
	return first
}

// copyDir copies the log as it is now, to serve later (an older view).
func (l *tlog) copyDir() string {
	l.t.Helper()
	dir := filepath.Join(l.t.TempDir(), "copy")
	if err := os.CopyFS(dir, os.DirFS(l.dir)); err != nil {
		l.t.Fatal(err)
	}
	return dir
}

func (l *tlog) policy() *client.TransparencyLog {
	return &client.TransparencyLog{URLs: []string{l.srv.URL + "/"}, Origin: tlogOrigin, Key: l.vkey}
}

// entry is the log entry of a release of data at path.
func entry(t *testing.T, path string, data []byte) []byte {
	t.Helper()
	b, err := client.LogEntry{Repository: tlogOrigin, Path: path, Length: int64(len(data)), SHA256: sha256.Sum256(data)}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tlogEnv is a repository, a log, and a client whose policy covers
// app/*/* with that log.
type tlogEnv struct {
	*env
	log *tlog
}

func newTlogEnv(t *testing.T) *tlogEnv {
	t.Helper()
	repo := simulator.New(t, simulator.Options{})
	l := newTlog(t, 1)
	e := newEnv(t, repo)
	e.cfg.TransparencyLog = l.policy()
	e.cfg.TransparencyLog.Paths = []string{"app/*/*"}
	return &tlogEnv{env: e, log: l}
}

// releasedTlogEnv is a tlogEnv whose repository has published release 1
// ("release 1" at app/1.0.0/linux-amd64), logged.
func releasedTlogEnv(t *testing.T) *tlogEnv {
	t.Helper()
	e := newTlogEnv(t)
	e.release("app/1.0.0/linux-amd64", []byte("release 1"))
	return e
}

// release logs a release (unless index is given: then the target names
// that index and nothing is logged) and publishes it.
func (e *tlogEnv) release(path string, data []byte, index ...int64) {
	e.t.Helper()
	var i int64
	if len(index) > 0 {
		i = index[0]
	} else {
		i = e.log.add(entry(e.t, path, data))
	}
	e.repo.AddTarget(path, data, map[string]any{"tlog": map[string]any{"index": i}})
	e.repo.Publish()
}

// download refreshes and downloads path, returning the error.
func (e *tlogEnv) download(path string) error {
	e.t.Helper()
	if e.c == nil {
		e.open()
	}
	e.refresh()
	dest := filepath.Join(e.dl, filepath.Base(path))
	err := e.c.DownloadFile(context.Background(), e.target(path), dest)
	if _, serr := os.Stat(dest); (err == nil) != (serr == nil) {
		e.t.Errorf("download of %s: err %v, file at dest: %v", path, err, serr == nil)
	}
	os.Remove(dest)
	return err
}

// mustDownload is download, failing the test on an error.
func (e *tlogEnv) mustDownload(path string) {
	e.t.Helper()
	if err := e.download(path); err != nil {
		e.t.Fatalf("download of %s: %v", path, err)
	}
}

// trustedLog reads the log checkpoint in the trusted state (closing the
// client; the next download reopens it).
func (e *tlogEnv) trustedLog() (rollback.LogCheckpoint, bool) {
	e.t.Helper()
	if e.c != nil {
		e.c.Close()
		e.c = nil
	}
	s, err := rollback.ReadFileState(filepath.Join(e.cfg.StateDir, "state"))
	if err != nil {
		e.t.Fatal(err)
	}
	cp, ok := s.Logs[tlogOrigin]
	return cp, ok
}

// transparencyRecords returns the fields of the audit log's transparency
// records.
func transparencyRecords(t *testing.T, stateDir string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(stateDir, "audit", "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r audit.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r.Kind == audit.KindTransparency {
			var f map[string]any
			if err := json.Unmarshal(r.Fields, &f); err != nil {
				t.Fatal(err)
			}
			out = append(out, f)
		}
	}
	return out
}

// TestTransparencyLoggedRelease: a logged release is delivered, the
// checkpoint it was proven under becomes the trusted one, and the audit log
// says so.
func TestTransparencyLoggedRelease(t *testing.T) {
	e := releasedTlogEnv(t)
	e.mustDownload("app/1.0.0/linux-amd64")
	cp, ok := e.trustedLog()
	if !ok || cp.Size != 1 || !strings.HasPrefix(cp.Note, tlogOrigin+"\n1\n") || !cp.Verified.Equal(e.repo.Now()) {
		t.Fatalf("trusted checkpoint %+v", cp)
	}
	e.release("app/1.1.0/linux-amd64", []byte("release 2"))
	e.mustDownload("app/1.1.0/linux-amd64")
	if cp, _ := e.trustedLog(); cp.Size != 2 {
		t.Fatalf("trusted checkpoint of size %d, want 2", cp.Size)
	}
	recs := transparencyRecords(t, e.cfg.StateDir)
	if len(recs) != 2 || recs[1]["outcome"] != "verified" || recs[1]["index"] != 1.0 || recs[1]["checkpoint_size"] != 2.0 {
		t.Errorf("audit records %v", recs)
	}
}

// TestTransparencyRefusals: each way a covered release can fail the log
// check is its own error, nothing reaches the destination, and the trusted
// checkpoint stays where it was.
func TestTransparencyRefusals(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(e *tlogEnv) string // returns the target to download
		want  error
	}{
		{"not logged, no index", func(e *tlogEnv) string {
			e.repo.AddTarget("app/2.0.0/linux-amd64", []byte("evil"), map[string]any{"version": "2.0.0"})
			e.repo.Publish()
			return "app/2.0.0/linux-amd64"
		}, client.ErrNotLogged},
		{"not logged, index beyond the log", func(e *tlogEnv) string {
			e.release("app/2.0.0/linux-amd64", []byte("evil"), 7)
			return "app/2.0.0/linux-amd64"
		}, client.ErrNotLogged},
		{"index of another release", func(e *tlogEnv) string {
			e.release("app/2.0.0/linux-amd64", []byte("evil"), 0)
			return "app/2.0.0/linux-amd64"
		}, client.ErrWrongLogEntry},
		{"logged under another repository name", func(e *tlogEnv) string {
			data := []byte("evil")
			b, err := client.LogEntry{Repository: "someone-else", Path: "app/2.0.0/linux-amd64", Length: 4, SHA256: sha256.Sum256(data)}.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			e.release("app/2.0.0/linux-amd64", data, e.log.add(b))
			return "app/2.0.0/linux-amd64"
		}, client.ErrWrongLogEntry},
		{"tampered leaf tile", func(e *tlogEnv) string {
			e.release("app/2.0.0/linux-amd64", []byte("release 2"))
			e.log.setRewrite(func(path string, b []byte) []byte {
				if strings.HasPrefix(path, "tile/0/") {
					b[0] ^= 1
				}
				return b
			})
			return "app/2.0.0/linux-amd64"
		}, client.ErrInvalidLogProof},
		{"tampered entry bundle", func(e *tlogEnv) string {
			e.release("app/2.0.0/linux-amd64", []byte("release 2"))
			e.log.setRewrite(func(path string, b []byte) []byte {
				if strings.HasPrefix(path, "tile/entries/") {
					b = bytes.Replace(b, []byte("app/2.0.0/"), []byte("app/2.0.1/"), 1)
				}
				return b
			})
			return "app/2.0.0/linux-amd64"
		}, client.ErrInvalidLogProof},
		{"checkpoint signed by another key", func(e *tlogEnv) string {
			e.release("app/2.0.0/linux-amd64", []byte("release 2"))
			other, _ := keyPair(t, tlogOrigin, 9)
			e.log.setRewrite(func(path string, b []byte) []byte {
				if path == "checkpoint" {
					return resign(t, b, other)
				}
				return b
			})
			return "app/2.0.0/linux-amd64"
		}, client.ErrLogSignature},
		{"tampered checkpoint", func(e *tlogEnv) string {
			e.release("app/2.0.0/linux-amd64", []byte("release 2"))
			e.log.setRewrite(func(path string, b []byte) []byte {
				if path == "checkpoint" {
					b = bytes.Replace(b, []byte("\n2\n"), []byte("\n3\n"), 1)
				}
				return b
			})
			return "app/2.0.0/linux-amd64"
		}, client.ErrLogSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := releasedTlogEnv(t)
			e.mustDownload("app/1.0.0/linux-amd64")
			before, _ := e.trustedLog()
			path := tc.setup(e)
			e.repo.ResetRequests()
			err := e.download(path)
			wantIs(t, err, tc.want)
			wantAs[*client.TargetError](t, err)
			for _, r := range e.repo.Requests() {
				if strings.HasPrefix(r, "targets/") {
					t.Errorf("the refused release was fetched: %s", r)
				}
			}
			if after, _ := e.trustedLog(); after != before {
				t.Errorf("trusted checkpoint moved: %+v -> %+v", before, after)
			}
			recs := transparencyRecords(t, e.cfg.StateDir)
			if last := recs[len(recs)-1]; last["outcome"] != "refused" || last["target"] != path {
				t.Errorf("audit record %v", last)
			}
		})
	}
}

// keyPair is a note key pair for name from a one-byte seed.
func keyPair(t *testing.T, name string, seed byte) (note.Signer, string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{seed}, 32)), name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s, vkey
}

// resign returns the checkpoint note b's text signed by signers only.
func resign(t *testing.T, b []byte, signers ...note.Signer) []byte {
	t.Helper()
	text := b[:bytes.Index(b, []byte("\n\n"))+1]
	out, err := note.Sign(&note.Note{Text: string(text)}, signers...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestTransparencyUncovered: a target outside the policy's paths is
// delivered as before, without a request to the log.
func TestTransparencyUncovered(t *testing.T) {
	e := newTlogEnv(t)
	e.repo.AddTarget("other/file", []byte("not a release"), nil)
	e.repo.Publish()
	e.log.requests.Store(0)
	e.mustDownload("other/file")
	if err := e.c.ProveLogged(context.Background(), e.target("other/file")); err != nil {
		t.Fatalf("ProveLogged of an uncovered target: %v", err)
	}
	if n := e.log.requests.Load(); n != 0 {
		t.Errorf("%d requests to the log", n)
	}
	if _, ok := e.trustedLog(); ok {
		t.Error("a trusted checkpoint without a covered download")
	}
}

// TestTransparencySplitView: after the client trusted one history, a log
// that shows it another one (same key, same origin) is refused, with both
// signed checkpoints in the error and in the audit log.
func TestTransparencySplitView(t *testing.T) {
	for _, tc := range []struct {
		name       string
		forkExtra  int // entries in the fork beyond the trusted size
		wantReason error
	}{
		{"larger fork", 2, client.ErrSplitView},
		{"fork of the same size", 0, client.ErrSplitView},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := releasedTlogEnv(t)
			e.release("app/1.1.0/linux-amd64", []byte("release 2"))
			e.mustDownload("app/1.1.0/linux-amd64")
			before, _ := e.trustedLog()

			// The fork: the same first entry, then what the victim is
			// shown.
			fork := &tlog{t: t, dir: filepath.Join(t.TempDir(), "fork"), signer: e.log.signer}
			fork.add(entry(t, "app/1.0.0/linux-amd64", []byte("release 1")), entry(t, "app/1.1.0/linux-amd64", []byte("evil")))
			for i := range tc.forkExtra {
				fork.add(entry(t, "app/9.0.0/linux-amd64", []byte{byte(i)}))
			}
			e.log.serving.Store(&fork.dir)
			e.release("app/1.1.1/linux-amd64", []byte("evil"), 1)

			err := e.download("app/1.1.1/linux-amd64")
			wantIs(t, err, tc.wantReason)
			ce := wantAs[*client.LogConflictError](t, err)
			if string(ce.Trusted.Note) != before.Note || ce.Got.Size != int64(2+tc.forkExtra) {
				t.Errorf("evidence: trusted %q, got size %d", ce.Trusted.Note, ce.Got.Size)
			}
			if after, _ := e.trustedLog(); after != before {
				t.Errorf("trusted checkpoint moved: %+v -> %+v", before, after)
			}
			recs := transparencyRecords(t, e.cfg.StateDir)
			ev, _ := recs[len(recs)-1]["evidence"].(map[string]any)
			if ev["trusted"] != before.Note || ev["checkpoint"] != string(ce.Got.Note) {
				t.Errorf("audit evidence %v", ev)
			}
		})
	}
}

// TestTransparencyRollback: a log (or mirror) that serves an older
// checkpoint than the trusted one is refused.
func TestTransparencyRollback(t *testing.T) {
	e := releasedTlogEnv(t)
	old := e.log.copyDir()
	e.release("app/1.1.0/linux-amd64", []byte("release 2"))
	e.mustDownload("app/1.1.0/linux-amd64")
	before, _ := e.trustedLog()
	e.log.serving.Store(&old)
	err := e.download("app/1.0.0/linux-amd64")
	wantIs(t, err, client.ErrLogRollback)
	ce := wantAs[*client.LogConflictError](t, err)
	if ce.Trusted.Size != 2 || ce.Got.Size != 1 {
		t.Errorf("sizes %d and %d", ce.Trusted.Size, ce.Got.Size)
	}
	if after, _ := e.trustedLog(); after != before {
		t.Errorf("trusted checkpoint moved: %+v -> %+v", before, after)
	}
}

// TestTransparencyMirrors: a log mirror that is down, or stale, is skipped
// for the next.
func TestTransparencyMirrors(t *testing.T) {
	e := releasedTlogEnv(t)
	stale := e.log.copyDir()
	e.release("app/1.1.0/linux-amd64", []byte("release 2"))
	down := newTlog(t, 1)
	down.down.Store(true)
	behind := newTlog(t, 1)
	behind.serving.Store(&stale)
	e.cfg.TransparencyLog.URLs = []string{down.srv.URL, behind.srv.URL, e.log.srv.URL}
	e.mustDownload("app/1.1.0/linux-amd64")
}

// TestTransparencyOrigin: a checkpoint signed by the log key for another
// log is refused.
func TestTransparencyOrigin(t *testing.T) {
	e := releasedTlogEnv(t)
	e.log.setRewrite(func(path string, b []byte) []byte {
		if path == "checkpoint" {
			return resign(t, bytes.Replace(b, []byte(tlogOrigin+"\n"), []byte("example.com/other\n"), 1), e.log.signer)
		}
		return b
	})
	err := e.download("app/1.0.0/linux-amd64")
	wantIs(t, err, client.ErrLogOrigin)
	if _, ok := e.trustedLog(); ok {
		t.Error("a trusted checkpoint after a refusal")
	}
}

// TestTransparencyWitnesses: with witnesses required, a checkpoint counts
// only with enough valid cosignatures (cosigned here by Tessera's formats
// library, an independent implementation of cosignature/v1).
func TestTransparencyWitnesses(t *testing.T) {
	e := newTlogEnv(t)
	var signers []note.Signer
	for i, name := range []string{"w1.example", "w2.example", "w3.example"} {
		skey, vkey, err := note.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{byte(20 + i)}, 32)), name)
		if err != nil {
			t.Fatal(err)
		}
		s, err := fnote.NewSignerForCosignatureV1(skey)
		if err != nil {
			t.Fatal(err)
		}
		cv, err := fnote.VKeyToCosignatureV1(vkey)
		if err != nil {
			t.Fatal(err)
		}
		signers = append(signers, s)
		e.cfg.TransparencyLog.WitnessKeys = append(e.cfg.TransparencyLog.WitnessKeys, cv)
	}
	e.cfg.TransparencyLog.WitnessThreshold = 2
	e.release("app/1.0.0/linux-amd64", []byte("release 1"))
	cosign := func(ws ...note.Signer) {
		e.log.setRewrite(func(path string, b []byte) []byte {
			if path != "checkpoint" {
				return b
			}
			n, err := note.Open(b, note.VerifierList(mustVerifier(t, e.log.vkey)))
			if err != nil {
				t.Fatal(err)
			}
			out, err := note.Sign(n, ws...)
			if err != nil {
				t.Fatal(err)
			}
			return out
		})
	}
	cosign(signers[0])
	err := e.download("app/1.0.0/linux-amd64")
	wantIs(t, err, client.ErrLogWitness)
	if we := wantAs[*client.LogWitnessError](t, err); len(we.Cosigned) != 1 || we.Threshold != 2 {
		t.Errorf("%+v", we)
	}
	if _, ok := e.trustedLog(); ok {
		t.Error("a trusted checkpoint after a refusal")
	}
	cosign(signers[0], signers[2])
	e.mustDownload("app/1.0.0/linux-amd64")
}

func mustVerifier(t *testing.T, vkey string) note.Verifier {
	t.Helper()
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestTransparencyOffline: with the log unreachable, a release proven
// before is delivered only within OfflineMaxAgeUnsafe of the last online
// check, and never when the log answers with bad data.
func TestTransparencyOffline(t *testing.T) {
	e := releasedTlogEnv(t)
	e.mustDownload("app/1.0.0/linux-amd64")
	e.log.down.Store(true)
	// The default: the log is needed.
	err := e.download("app/1.0.0/linux-amd64")
	wantIs(t, err, client.ErrNotFound)

	e.cfg.TransparencyLog.OfflineMaxAgeUnsafe = time.Hour
	e.open()
	e.clock.Set(e.repo.Now().Add(30 * time.Minute))
	if err := e.download("app/1.0.0/linux-amd64"); err != nil {
		t.Fatalf("within the bound: %v", err)
	}
	if recs := transparencyRecords(t, e.cfg.StateDir); recs[len(recs)-1]["outcome"] != "verified-offline" {
		t.Errorf("audit record %v", recs[len(recs)-1])
	}
	// A log that answers, badly, is never bypassed.
	e.clock.Set(e.repo.Now().Add(35 * time.Minute))
	e.log.down.Store(false)
	e.log.setRewrite(func(path string, b []byte) []byte {
		if path == "checkpoint" {
			b[len(b)-3] ^= 1
		}
		return b
	})
	wantIs(t, e.download("app/1.0.0/linux-amd64"), client.ErrLogSignature)
	e.log.setRewrite(nil)
	e.log.down.Store(true)
	// A release never proven before.
	e.clock.Set(e.repo.Now().Add(40 * time.Minute))
	e.release("app/1.1.0/linux-amd64", []byte("release 2"), 0)
	wantIs(t, e.download("app/1.1.0/linux-amd64"), client.ErrNotFound)
	// Past the bound.
	e.clock.Set(e.repo.Now().Add(61 * time.Minute))
	wantIs(t, e.download("app/1.0.0/linux-amd64"), client.ErrNotFound)
}

// TestTransparencyPolicyValidated: New refuses a policy it can't enforce.
func TestTransparencyPolicyValidated(t *testing.T) {
	repo := simulator.New(t, simulator.Options{})
	l := newTlog(t, 1)
	for name, mutate := range map[string]func(p *client.TransparencyLog){
		"no URLs":                 func(p *client.TransparencyLog) { p.URLs = nil },
		"relative URL":            func(p *client.TransparencyLog) { p.URLs = []string{"log/"} },
		"no origin":               func(p *client.TransparencyLog) { p.Origin = "" },
		"bad key":                 func(p *client.TransparencyLog) { p.Key = "x" },
		"threshold without keys":  func(p *client.TransparencyLog) { p.WitnessThreshold = 1 },
		"bad path pattern":        func(p *client.TransparencyLog) { p.Paths = []string{"app/["} },
		"negative offline age":    func(p *client.TransparencyLog) { p.OfflineMaxAgeUnsafe = -time.Second },
		"repository with a space": func(p *client.TransparencyLog) { p.Repository = "a b" },
	} {
		e := newEnv(t, repo)
		e.cfg.TransparencyLog = l.policy()
		mutate(e.cfg.TransparencyLog)
		c, err := client.New(e.cfg, e.opts...)
		if !errors.Is(err, client.ErrInvalidOptions) {
			if c != nil {
				c.Close()
			}
			t.Errorf("%s: New = %v, want ErrInvalidOptions", name, err)
		}
	}
}

// TestTransparencyRequests measures what one covered download costs in log
// requests: the checkpoint, the tiles of the consistency and inclusion
// proofs, the entry bundle. Tiles that never change are cached.
func TestTransparencyRequests(t *testing.T) {
	e := newTlogEnv(t)
	var filler [][]byte
	for i := range 1000 {
		filler = append(filler, entry(t, "filler/"+string(rune('a'+i%26))+"/x", []byte{byte(i), byte(i >> 8)}))
	}
	e.log.add(filler...)
	e.release("app/1.0.0/linux-amd64", []byte("release 1"))
	e.log.requests.Store(0)
	e.mustDownload("app/1.0.0/linux-amd64")
	// A tree of 1001 entries, nothing trusted yet: checkpoint, the partial
	// leaf tile 3.p/233 and level-1 tile 0.p/3 for the root, the entry's
	// bundle.
	first := e.log.requests.Load()
	e.release("app/1.1.0/linux-amd64", []byte("release 2"))
	e.log.requests.Store(0)
	e.mustDownload("app/1.1.0/linux-amd64")
	second := e.log.requests.Load()
	t.Logf("log requests per covered download: %d (first), %d (next)", first, second)
	if first > 4 || second > 4 {
		t.Errorf("log requests: %d and %d, want at most 4 each", first, second)
	}
}

// TestTransparencyApply: a self-update to a covered release that is not in
// the log is refused with the executable and the floor unchanged; once the
// release is logged, it installs.
func TestTransparencyApply(t *testing.T) {
	repo := simulator.New(t, simulator.Options{})
	l := newTlog(t, 1)
	v2 := publishApp(repo, "2.0.0", "", buildV2)
	repo.Publish()
	e := &appEnv{env: newEnv(t, repo), exe: filepath.Join(t.TempDir(), "app")}
	if err := os.WriteFile(e.exe, buildV1, 0o750); err != nil {
		t.Fatal(err)
	}
	e.cfg.TransparencyLog = l.policy()
	e.open()
	wantIs(t, e.applyErr(), client.ErrNotLogged)

	index := l.add(entry(t, v2, buildV2))
	repo.AddTarget(v2, buildV2, map[string]any{"version": "2.0.0", "channels": []string{"stable"}, "tlog": map[string]any{"index": index}})
	repo.Publish()
	e.mustApply()
	e.wantExe(buildV2)
}

// TestTransparencyStalledLogMirror: log files are fetched under the
// metadata timeouts, so a log mirror that never answers costs one header
// timeout and the next mirror serves.
func TestTransparencyStalledLogMirror(t *testing.T) {
	e := releasedTlogEnv(t)
	stalled := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer stalled.Close()
	e.cfg.TransparencyLog.URLs = []string{stalled.URL, e.log.srv.URL}
	e.opts = append(e.opts, client.WithMetadataTimeouts(200*time.Millisecond, time.Minute))
	e.mustDownload("app/1.0.0/linux-amd64")
	var seen bool
	for _, m := range e.c.Status().Mirrors {
		if m.URL == stalled.URL+"/" {
			seen = m.ConsecutiveFailures == 1 && m.LastError != ""
		}
	}
	if !seen {
		t.Errorf("Status does not report the stalled log mirror: %+v", e.c.Status().Mirrors)
	}
}
