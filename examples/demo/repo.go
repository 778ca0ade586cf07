package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	latchmeta "github.com/latchsec/latch/metadata"
)

// How long each role's metadata stays valid after the repository signs it.
const (
	rootLife      = 365 * 24 * time.Hour
	targetsLife   = 90 * 24 * time.Hour
	snapshotLife  = 7 * 24 * time.Hour
	timestampLife = 24 * time.Hour
)

// targetsThreshold is how many of the two targets keys must sign targets.json.
const targetsThreshold = 2

// demoKey returns the ed25519 key the demo uses for label, derived from a
// fixed seed so that every run prints the same thing. A real repository
// generates its keys once and keeps the root and targets keys offline.
func demoKey(label string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("latch demo key/" + label))
	return ed25519.NewKeyFromSeed(seed[:])
}

// targetPath is the TUF target path of a release of myapp for this platform.
func targetPath(version string) string {
	return "myapp/" + version + "/" + runtime.GOOS + "-" + runtime.GOARCH
}

// binary is the fake executable of a release: a small shell script.
func binary(version string) []byte {
	return []byte("#!/bin/sh\necho 'myapp " + version + "'\n")
}

// targetURLPath is where a target is served below a mirror's root: with
// consistent snapshots the file name carries the sha256 of its content
// (spec §5.7.3).
func targetURLPath(p string, content []byte) string {
	sum := sha256.Sum256(content)
	dir, file := path.Split(p)
	return "targets/" + dir + hex.EncodeToString(sum[:]) + "." + file
}

// repo is the vendor's TUF repository, built with go-tuf's metadata API:
// root (one key), timestamp and snapshot (one key each), and targets (two
// keys, both required), with consistent snapshots. Everything it ever
// published stays in files, as on a real server, where attackers can fetch
// it too.
type repo struct {
	now       time.Time
	keys      map[string][]ed25519.PrivateKey
	root      *metadata.Metadata[metadata.RootType]
	targets   *metadata.Metadata[metadata.TargetsType]
	snapshot  *metadata.Metadata[metadata.SnapshotType]
	timestamp *metadata.Metadata[metadata.TimestampType]

	files      map[string][]byte // "metadata/<name>" and "targets/<name>"
	timestamps [][]byte          // every timestamp.json published, by version-1

	// log, if not nil, is the transparency log every release goes into
	// first (see transparency.go).
	log *releaseLog
}

// newRepo creates the vendor's repository and publishes root v1. Nothing
// else exists until the first release.
func newRepo(now time.Time) (*repo, error) { return newKeyedRepo(now, "") }

// newKeyedRepo is newRepo with the keys of owner (their labels begin with
// it): another party's repository.
func newKeyedRepo(now time.Time, owner string) (*repo, error) {
	r := &repo{
		now: now,
		keys: map[string][]ed25519.PrivateKey{
			metadata.ROOT:      {demoKey(owner + "root")},
			metadata.TIMESTAMP: {demoKey(owner + "timestamp")},
			metadata.SNAPSHOT:  {demoKey(owner + "snapshot")},
			metadata.TARGETS: {
				demoKey(owner + "targets-1"), demoKey(owner + "targets-2"),
			},
		},
		root:      metadata.Root(now.Add(rootLife)),
		targets:   metadata.Targets(now.Add(targetsLife)),
		snapshot:  metadata.Snapshot(now.Add(snapshotLife)),
		timestamp: metadata.Timestamp(now.Add(timestampLife)),
		files:     map[string][]byte{},
	}
	// The first release publishes version 1 of each of these.
	r.targets.Signed.Version = 0
	r.snapshot.Signed.Version = 0
	r.timestamp.Signed.Version = 0

	r.root.Signed.ConsistentSnapshot = true
	roles := []string{metadata.ROOT, metadata.TIMESTAMP, metadata.SNAPSHOT, metadata.TARGETS}
	for _, role := range roles {
		for _, k := range r.keys[role] {
			key, err := metadata.KeyFromPublicKey(k.Public())
			if err != nil {
				return nil, err
			}
			if err := r.root.Signed.AddKey(key, role); err != nil {
				return nil, err
			}
		}
	}
	r.root.Signed.Roles[metadata.TARGETS].Threshold = targetsThreshold
	b, err := sign(r.root, r.keys[metadata.ROOT]...)
	if err != nil {
		return nil, err
	}
	r.files["metadata/1.root.json"] = b
	return r, nil
}

// rootJSON is root v1, the trust anchor an application ships with.
func (r *repo) rootJSON() []byte { return r.files["metadata/1.root.json"] }

// sign returns m signed by each key (listed under go-tuf's key ID for it),
// as latch's metadata.Seal makes envelopes: the bytes to serve.
func sign[T metadata.Roles](m *metadata.Metadata[T], keys ...ed25519.PrivateKey) ([]byte, error) {
	signed, err := json.Marshal(m.Signed)
	if err != nil {
		return nil, err
	}
	signers := make([]latchmeta.Signer, len(keys))
	for i, k := range keys {
		key, err := metadata.KeyFromPublicKey(k.Public())
		if err != nil {
			return nil, err
		}
		id, err := key.ID()
		if err != nil {
			return nil, err
		}
		signers[i] = latchmeta.NewSigner(id, "ed25519", k)
	}
	return latchmeta.Seal(signed, signers...)
}

// targetFile describes content as target path p, with the signed custom
// metadata the application checks: its version and release channels, and
// with a transparency log the index of its entry (nil: none).
func targetFile(p, version string, content []byte, index *int64) (*metadata.TargetFiles, error) {
	tf, err := metadata.TargetFile().FromBytes(p, content, "sha256")
	if err != nil {
		return nil, err
	}
	info := releaseInfo{Version: version, Channels: []string{"stable"}}
	if index != nil {
		info.TLog = &tlogInfo{Index: *index}
	}
	custom, err := json.Marshal(info)
	if err != nil {
		return nil, err
	}
	raw := json.RawMessage(custom)
	tf.Custom = &raw
	return tf, nil
}

// release publishes myapp at version: the binary (logged first, with a
// log), and new versions of targets, snapshot and timestamp, each signed by
// its role's keys.
func (r *repo) release(version string) error { return r.releaseBuild(version, binary(version)) }

// releaseBuild is release with content as the build.
func (r *repo) releaseBuild(version string, content []byte) error {
	p := targetPath(version)
	var index *int64
	if r.log != nil {
		i, err := r.log.append(r.log.dir, r.log.entry(p, content))
		if err != nil {
			return err
		}
		index = &i
	}
	return r.publish(p, version, content, index)
}

// publish makes content the target p, naming log entry index (nil: none),
// in new versions of targets, snapshot and timestamp, each signed by its
// role's keys: what release does after logging, and what a thief holding
// every key does.
func (r *repo) publish(p, version string, content []byte, index *int64) error {
	tf, err := targetFile(p, version, content, index)
	if err != nil {
		return err
	}
	r.files[targetURLPath(p, content)] = content

	t := &r.targets.Signed
	t.Targets[p] = tf
	t.Version++
	t.Expires = r.now.Add(targetsLife)
	b, err := sign(r.targets, r.keys[metadata.TARGETS]...)
	if err != nil {
		return err
	}
	r.files[fmt.Sprintf("metadata/%d.targets.json", t.Version)] = b

	s := &r.snapshot.Signed
	s.Meta["targets.json"] = metadata.MetaFile(t.Version)
	s.Version++
	s.Expires = r.now.Add(snapshotLife)
	if b, err = sign(r.snapshot, r.keys[metadata.SNAPSHOT]...); err != nil {
		return err
	}
	r.files[fmt.Sprintf("metadata/%d.snapshot.json", s.Version)] = b

	ts := &r.timestamp.Signed
	ts.Meta["snapshot.json"] = metadata.MetaFile(s.Version)
	ts.Version++
	ts.Expires = r.now.Add(timestampLife)
	if b, err = sign(r.timestamp, r.keys[metadata.TIMESTAMP]...); err != nil {
		return err
	}
	r.files["metadata/timestamp.json"] = b
	r.timestamps = append(r.timestamps, b)
	return nil
}

// forgeTargets is what an attacker holding targets keys can make: a copy
// of the current targets metadata, same version, in which target p points
// at content (naming log entry index, if not nil), signed with the stolen
// keys.
func (r *repo) forgeTargets(p, version string, content []byte, index *int64,
	stolen ...ed25519.PrivateKey) ([]byte, error) {
	b, err := r.targets.ToBytes(false)
	if err != nil {
		return nil, err
	}
	forged, err := (&metadata.Metadata[metadata.TargetsType]{}).FromBytes(b)
	if err != nil {
		return nil, err
	}
	tf, err := targetFile(p, version, content, index)
	if err != nil {
		return nil, err
	}
	forged.Signed.Targets[p] = tf
	return sign(forged, stolen...)
}

// site is one HTTP server on 127.0.0.1 holding a copy of the repository:
// metadata under /metadata/, targets under /targets/. What it serves is a
// copy made by sync, so a site that is not synced keeps serving old files;
// an attack replaces what it serves for one name. Safe for concurrent use.
type site struct {
	name string
	srv  *httptest.Server

	mu      sync.Mutex
	files   map[string][]byte
	attacks map[string]http.HandlerFunc
	logDir  string // the transparency log served under /log/, "" for none
}

func newSite(name string) *site {
	s := &site{name: name, files: map[string][]byte{}, attacks: map[string]http.HandlerFunc{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

func (s *site) metadataURL() string { return s.srv.URL + "/metadata/" }
func (s *site) targetsURL() string  { return s.srv.URL + "/targets/" }

// sync copies everything the repository has published, as a mirror does.
func (s *site) sync(r *repo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, b := range r.files {
		s.files[name] = b
	}
}

// attack makes the site answer requests for name ("metadata/timestamp.json",
// "targets/myapp/...") with h instead of its copy.
func (s *site) attack(name string, h http.HandlerFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attacks[name] = h
}

// put adds a file of the attacker's own.
func (s *site) put(name string, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[name] = b
}

// serveLog makes the site serve the log directory dir under /log/ (the
// log as Tessera writes it, read live).
func (s *site) serveLog(dir string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logDir = dir
}

func (s *site) serve(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/")
	s.mu.Lock()
	h, attacked := s.attacks[name]
	b, ok := s.files[name]
	logDir := s.logDir
	s.mu.Unlock()
	switch {
	case logDir != "" && strings.HasPrefix(name, "log/"):
		http.StripPrefix("/log/", http.FileServer(http.Dir(logDir))).ServeHTTP(w, r)
	case attacked:
		h(w, r)
	case ok:
		serveBytes(b)(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (s *site) close() { s.srv.Close() }

// serveBytes answers with b.
func serveBytes(b []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		w.Write(b) // a client that hangs up is not the server's problem
	}
}

// endlessCap bounds an endless stream, so that the demo ends even against a
// client that kept reading. latch stops long before.
const endlessCap = 1 << 30

// serveEndless answers with prefix followed by spaces, without a length,
// until the client hangs up (or endlessCap bytes have been sent).
func serveEndless(prefix []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, err := w.Write(prefix); err != nil {
			return
		}
		chunk := bytes.Repeat([]byte(" "), 32<<10)
		for sent := len(prefix); sent < endlessCap; sent += len(chunk) {
			if r.Context().Err() != nil {
				return
			}
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}
}
