package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchsec/latch/client"
	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"
)

// t0 is when the test repositories are made.
var t0 = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

// entropy is a fixed stream of bytes for key generation: the same keys in
// every run.
type entropy struct {
	label string
	n     int
	buf   []byte
}

func (d *entropy) Read(p []byte) (int, error) {
	for len(d.buf) < len(p) {
		sum := sha256.Sum256(fmt.Appendf(nil, "%s/%d", d.label, d.n))
		d.n++
		d.buf = append(d.buf, sum[:]...)
	}
	n := copy(p, d.buf)
	d.buf = d.buf[n:]
	return n, nil
}

// fixture is one repository served on 127.0.0.1, its key directory and a
// long-lived latch client that follows it from root v1.
type fixture struct {
	t              *testing.T
	tmp            string
	repo           string
	keys, online   string // where init writes the offline and the online keys
	rand           *entropy
	srv            *httptest.Server
	stdout, stderr bytes.Buffer
	root1          []byte

	now    atomic.Int64 // the clock of the long-lived client, Unix seconds
	client *client.Client
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	tmp := t.TempDir()
	f := &fixture{t: t, tmp: tmp, repo: filepath.Join(tmp, "repo"), keys: filepath.Join(tmp, "keys"), online: filepath.Join(tmp, "online-keys"), rand: &entropy{label: t.Name()}}
	f.srv = httptest.NewServer(http.FileServer(http.Dir(f.repo)))
	t.Cleanup(f.srv.Close)
	return f
}

// publish runs a publish command at time at, with -dir (and both key
// directories unless -keys is given), and returns its error.
func (f *fixture) publish(at time.Time, args ...string) error {
	full := []string{args[0], "-dir", f.repo, "-now", at.Format(time.RFC3339)}
	switch {
	case slices.Contains(args, "-keys"):
	case args[0] == "init":
		full = append(full, "-keys", f.keys, "-online-keys", f.online)
	default:
		full = append(full, "-keys", f.keys, "-keys", f.online)
	}
	f.stdout.Reset()
	f.stderr.Reset()
	return run(append(full, args[1:]...), &env{stdout: &f.stdout, stderr: &f.stderr, rand: f.rand})
}

func (f *fixture) mustPublish(at time.Time, args ...string) {
	f.t.Helper()
	if err := f.publish(at, args...); err != nil {
		f.t.Fatalf("publish %s: %v\nstderr: %s", strings.Join(args, " "), err, f.stderr.String())
	}
}

// init runs publish init with two root keys, both required, and starts the
// long-lived client on root v1.
func (f *fixture) init() {
	f.t.Helper()
	f.mustPublish(t0, "init", "-root-keys", "2", "-root-threshold", "2")
	var err error
	if f.root1, err = os.ReadFile(filepath.Join(f.repo, "metadata", "1.root.json")); err != nil {
		f.t.Fatal(err)
	}
	f.client, err = client.New(f.config(filepath.Join(f.tmp, "long-lived")), client.WithClock(func() time.Time {
		return time.Unix(f.now.Load(), 0).UTC()
	}))
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { f.client.Close() })
}

func (f *fixture) config(stateDir string) client.Config {
	return client.Config{
		TrustedRoot:  f.root1,
		MetadataURLs: []string{f.srv.URL + "/metadata/"},
		TargetURLs:   []string{f.srv.URL + "/targets/"},
		StateDir:     stateDir,
	}
}

// release writes a release file named file and publishes it at time at.
func (f *fixture) release(at time.Time, version, file string, channels string) []byte {
	f.t.Helper()
	content := []byte("myapp " + version + " for linux/amd64\n")
	name := filepath.Join(f.tmp, file)
	if err := os.WriteFile(name, content, 0o644); err != nil {
		f.t.Fatal(err)
	}
	f.mustPublish(at, "add", "-app", "myapp", "-version", version, "-os", "linux", "-arch", "amd64", "-file", name, "-channels", channels)
	return content
}

// want is a release every client must resolve and download.
type want struct {
	path     string
	content  []byte
	version  string
	channels []string
}

// check asserts at time at that a client starting from root v1, the
// long-lived client and go-tuf's updater all accept the repository and
// resolve and download each release in ws.
func (f *fixture) check(at time.Time, ws ...want) {
	f.t.Helper()
	ctx := context.Background()
	fresh, err := client.New(f.config(f.t.TempDir()), client.WithClock(func() time.Time { return at }))
	if err != nil {
		f.t.Fatal(err)
	}
	defer fresh.Close()
	f.now.Store(at.Unix())
	for _, c := range []struct {
		name string
		c    *client.Client
	}{{"fresh client", fresh}, {"long-lived client", f.client}} {
		if err := c.c.Refresh(ctx); err != nil {
			f.t.Fatalf("%s: refresh at %s: %v", c.name, at, err)
		}
		for _, w := range ws {
			tg, err := c.c.Target(ctx, w.path)
			if err != nil {
				f.t.Fatalf("%s: %v", c.name, err)
			}
			var info releaseInfo
			if err := json.Unmarshal(tg.Custom(), &info); err != nil || info.Version != w.version || !slices.Equal(info.Channels, w.channels) {
				f.t.Errorf("%s: %s custom %s (%v), want version %s channels %q", c.name, w.path, tg.Custom(), err, w.version, w.channels)
			}
			dest := filepath.Join(f.t.TempDir(), "download")
			if err := c.c.DownloadFile(ctx, tg, dest); err != nil {
				f.t.Fatalf("%s: download %s: %v", c.name, w.path, err)
			}
			if got, err := os.ReadFile(dest); err != nil || !bytes.Equal(got, w.content) {
				f.t.Errorf("%s: downloaded %s: %q (%v), want %q", c.name, w.path, got, err, w.content)
			}
		}
	}

	cfg, err := config.New(f.srv.URL+"/metadata/", f.root1)
	if err != nil {
		f.t.Fatal(err)
	}
	cfg.RemoteTargetsURL = f.srv.URL + "/targets/"
	cfg.DisableLocalCache = true
	// Not http.DefaultClient: another test's server closing would close
	// its idle connections under a request reusing one.
	if err := cfg.SetDefaultFetcherHTTPClient(f.srv.Client()); err != nil {
		f.t.Fatal(err)
	}
	up, err := updater.New(cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	up.UnsafeSetRefTime(at)
	if err := up.Refresh(); err != nil {
		f.t.Fatalf("go-tuf: refresh at %s: %v", at, err)
	}
	for _, w := range ws {
		tf, err := up.GetTargetInfo(w.path)
		if err != nil {
			f.t.Fatalf("go-tuf: %v", err)
		}
		if _, got, err := up.DownloadTarget(tf, "", ""); err != nil || !bytes.Equal(got, w.content) {
			f.t.Errorf("go-tuf: downloaded %s: %q (%v), want %q", w.path, got, err, w.content)
		}
	}
}

// TestLifecycle publishes releases, refreshes the timestamp and rotates
// every role's key, and after each step checks that latch (from root v1 and
// long-lived) and go-tuf accept the repository and deliver the newest
// release.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()

	// init: version 1 of every role, no release yet.
	f.init()
	for _, name := range []string{"1.root.json", "1.targets.json", "1.snapshot.json", "timestamp.json"} {
		if _, err := os.Stat(filepath.Join(f.repo, "metadata", name)); err != nil {
			t.Errorf("after init: %v", err)
		}
	}
	root := readRoot(t, f.repo, 1)
	if !root.Signed.ConsistentSnapshot || root.Signed.Roles[metadata.ROOT].Threshold != 2 || len(root.Signed.Roles[metadata.ROOT].KeyIDs) != 2 {
		t.Errorf("root v1: consistent_snapshot %v, root keys %d threshold %d; want true, 2, 2",
			root.Signed.ConsistentSnapshot, len(root.Signed.Roles[metadata.ROOT].KeyIDs), root.Signed.Roles[metadata.ROOT].Threshold)
	}
	if !root.Signed.Expires.Equal(t0.AddDate(1, 0, 0)) {
		t.Errorf("root v1 expires %s, want a year after %s", root.Signed.Expires, t0)
	}
	keyFiles, _ := filepath.Glob(filepath.Join(f.keys, "*.pem"))
	onlineFiles, _ := filepath.Glob(filepath.Join(f.online, "*.pem"))
	for _, k := range keyFiles {
		if !strings.HasPrefix(filepath.Base(k), "root-") && !strings.HasPrefix(filepath.Base(k), "targets-") {
			t.Errorf("offline key directory holds %s", k)
		}
	}
	for _, k := range onlineFiles {
		if !strings.HasPrefix(filepath.Base(k), "snapshot-") && !strings.HasPrefix(filepath.Base(k), "timestamp-") {
			t.Errorf("online key directory holds %s", k)
		}
	}
	if len(keyFiles) != 3 || len(onlineFiles) != 2 {
		t.Errorf("key files %q and %q, want 2 root and targets offline, snapshot and timestamp online", keyFiles, onlineFiles)
	}
	keyFiles = append(keyFiles, onlineFiles...)
	if runtime.GOOS != "windows" {
		for _, k := range keyFiles {
			if fi, err := os.Stat(k); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("key file %s: mode %v (%v), want 0600", k, fi.Mode(), err)
			}
		}
	}
	f.check(t0.Add(time.Minute))
	if _, err := f.client.Target(ctx, "myapp/1.0.0/linux-amd64"); !errors.Is(err, client.ErrUnknownTarget) {
		t.Errorf("target before any release: %v, want ErrUnknownTarget", err)
	}

	// add: two releases; the second is an archive on two channels.
	v1 := want{"myapp/1.0.0/linux-amd64", f.release(t0.Add(time.Hour), "1.0.0", "myapp", "stable"), "1.0.0", []string{"stable"}}
	f.check(t0.Add(time.Hour+time.Minute), v1)
	checkListing(t, f.repo, 2)
	v2 := want{"myapp/1.1.0/linux-amd64.tar.gz", f.release(t0.Add(2*time.Hour), "1.1.0", "myapp-1.1.0-linux-amd64.tar.gz", "stable,beta"), "1.1.0", []string{"stable", "beta"}}
	sum := sha256.Sum256(v2.content)
	if _, err := os.Stat(filepath.Join(f.repo, "targets", "myapp", "1.1.0", hex.EncodeToString(sum[:])+".linux-amd64.tar.gz")); err != nil {
		t.Errorf("release file not stored under its hash: %v", err)
	}
	f.check(t0.Add(2*time.Hour+time.Minute), v2, v1)
	checkListing(t, f.repo, 3)

	// refresh-timestamp: timestamp v3 expired at t0+26h; v4 carries on.
	late := t0.Add(26*time.Hour + 30*time.Minute)
	stale, err := client.New(f.config(t.TempDir()), client.WithClock(func() time.Time { return late }))
	if err != nil {
		t.Fatal(err)
	}
	defer stale.Close()
	if err := stale.Refresh(ctx); !errors.Is(err, client.ErrExpired) {
		t.Fatalf("refresh after the timestamp expired: %v, want ErrExpired", err)
	}
	f.mustPublish(t0.Add(25*time.Hour), "refresh-timestamp")
	if ts := readTimestamp(t, f.repo); ts.Signed.Version != 4 || !ts.Signed.Expires.Equal(t0.Add(49*time.Hour)) {
		t.Errorf("timestamp v%d expires %s, want v4 expiring %s", ts.Signed.Version, ts.Signed.Expires, t0.Add(49*time.Hour))
	}
	f.check(late, v2, v1)

	// A thief with the timestamp key fast-forwards the long-lived client to
	// timestamp v1000. Once the server is restored, honest timestamps look
	// like rollbacks to that client...
	honest, err := os.ReadFile(filepath.Join(f.repo, "metadata", "timestamp.json"))
	if err != nil {
		t.Fatal(err)
	}
	forgeTimestamp(t, f, 1000)
	f.now.Store(t0.Add(27 * time.Hour).Unix())
	if err := f.client.Refresh(ctx); err != nil {
		t.Fatalf("refresh with the forged timestamp: %v", err)
	}
	if err := os.WriteFile(filepath.Join(f.repo, "metadata", "timestamp.json"), honest, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := f.client.Refresh(ctx); !errors.Is(err, client.ErrRollback) {
		t.Fatalf("refresh after restoring the server: %v, want ErrRollback", err)
	}
	// ... until the timestamp key is rotated: root v2 lists a new key, and
	// clients drop their timestamp and snapshot floors (spec §5.3.11).
	f.mustPublish(t0.Add(28*time.Hour), "rotate-key", "-role", "timestamp")
	if !strings.Contains(f.stdout.String(), "destroy") {
		t.Errorf("rotate-key output does not say to destroy the old key:\n%s", f.stdout.String())
	}
	if ts := readTimestamp(t, f.repo); ts.Signed.Version != 5 {
		t.Errorf("timestamp after rotation is v%d, want v5", ts.Signed.Version)
	}
	f.check(t0.Add(28*time.Hour+time.Minute), v2, v1)

	// The other roles rotate the same way; a root key is replaced in a root
	// signed by both old root keys and by the new pair.
	at := t0.Add(29 * time.Hour)
	for _, role := range []string{metadata.SNAPSHOT, metadata.TARGETS} {
		f.mustPublish(at, "rotate-key", "-role", role)
		f.check(at.Add(time.Minute), v2, v1)
		at = at.Add(time.Hour)
	}
	rootKeys := readRoot(t, f.repo, 4).Signed.Roles[metadata.ROOT].KeyIDs
	f.mustPublish(at, "rotate-key", "-role", metadata.ROOT, "-old", rootKeys[0])
	r5 := readRoot(t, f.repo, 5)
	if ids := r5.Signed.Roles[metadata.ROOT].KeyIDs; len(ids) != 2 || slices.Contains(ids, rootKeys[0]) || !slices.Contains(ids, rootKeys[1]) {
		t.Errorf("root v5 root keys %q, want %s replaced and %s kept", ids, rootKeys[0], rootKeys[1])
	}
	if len(r5.Signatures) != 3 {
		t.Errorf("root v5 has %d signatures, want 3 (two old root keys, and the new one)", len(r5.Signatures))
	}
	f.check(at.Add(time.Minute), v2, v1)

	// Releases go on with the rotated keys.
	v3 := want{"myapp/1.2.0/linux-amd64", f.release(at.Add(time.Hour), "1.2.0", "myapp", "stable"), "1.2.0", []string{"stable"}}
	f.check(at.Add(time.Hour+time.Minute), v3, v2, v1)
	if f.stderr.Len() > 0 {
		t.Errorf("unexpected warnings: %s", f.stderr.String())
	}
}

// TestRenew: a repository without releases for a week needs its snapshot
// renewed; refresh-timestamp says so, renew does it.
func TestRenew(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.init()
	v1 := want{"myapp/1.0.0/linux-amd64", f.release(t0, "1.0.0", "myapp", "stable"), "1.0.0", []string{"stable"}}

	day6 := t0.Add(6*24*time.Hour + 12*time.Hour)
	f.mustPublish(day6, "refresh-timestamp")
	if w := f.stderr.String(); !strings.Contains(w, "snapshot v2 expires") || !strings.Contains(w, "publish renew -role snapshot") {
		t.Errorf("refresh-timestamp with the snapshot expiring first: warning %q", w)
	}
	f.mustPublish(day6, "renew", "-role", metadata.SNAPSHOT)
	if f.stderr.Len() > 0 {
		t.Errorf("renew -role snapshot: unexpected warning %q", f.stderr.String())
	}
	f.check(t0.Add(7*24*time.Hour+time.Hour), v1)

	for i, role := range []string{metadata.TARGETS, metadata.ROOT, metadata.TIMESTAMP} {
		at := t0.Add(8*24*time.Hour + time.Duration(i)*time.Hour)
		f.mustPublish(at, "renew", "-role", role)
		f.check(at.Add(time.Minute), v1)
	}
	if r := readRoot(t, f.repo, 2); !r.Signed.Expires.Equal(t0.Add(8*24*time.Hour+time.Hour).AddDate(1, 0, 0)) {
		t.Errorf("renewed root v2 expires %s", r.Signed.Expires)
	}
}

// TestRepair: a run that stopped after writing targets leaves a snapshot
// that does not list the newest targets; commands that carry the snapshot
// forward refuse, and renew -role snapshot publishes what was started.
func TestRepair(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.init()
	v1 := want{"myapp/1.0.0/linux-amd64", f.release(t0, "1.0.0", "myapp", "stable"), "1.0.0", []string{"stable"}}
	ts := filepath.Join(f.repo, "metadata", "timestamp.json")
	before, err := os.ReadFile(ts)
	if err != nil {
		t.Fatal(err)
	}
	v2 := want{"myapp/1.1.0/linux-amd64", f.release(t0.Add(time.Hour), "1.1.0", "myapp", "stable"), "1.1.0", []string{"stable"}}
	// Undo what add wrote after 3.targets.json.
	if err := errors.Join(os.Remove(filepath.Join(f.repo, "metadata", "3.snapshot.json")), os.WriteFile(ts, before, 0o644)); err != nil {
		t.Fatal(err)
	}
	at := t0.Add(2 * time.Hour)
	unchanged := snapshotTree(t, f.repo, f.keys, f.online)
	err = f.publish(at, "refresh-timestamp")
	var re *RepositoryError
	if !errors.Is(err, ErrBadRepository) || !errors.As(err, &re) || re.File != "metadata/2.snapshot.json" {
		t.Fatalf("refresh-timestamp on a half-published repository: %v, want a RepositoryError for metadata/2.snapshot.json", err)
	}
	unchanged.check(t)
	f.mustPublish(at, "renew", "-role", metadata.SNAPSHOT)
	f.check(at.Add(time.Minute), v2, v1)
}

// TestRepairRotation: a targets key rotation that stopped before writing
// root v2 leaves targets v3 signed by the old and the new key; the next add
// builds on it under root v1, and clients never see the half-made rotation.
func TestRepairRotation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.init()
	v1 := want{"myapp/1.0.0/linux-amd64", f.release(t0, "1.0.0", "myapp", "stable"), "1.0.0", []string{"stable"}}
	ts := filepath.Join(f.repo, "metadata", "timestamp.json")
	before, err := os.ReadFile(ts)
	if err != nil {
		t.Fatal(err)
	}
	f.mustPublish(t0.Add(time.Hour), "rotate-key", "-role", metadata.TARGETS)
	if err := errors.Join(os.Remove(filepath.Join(f.repo, "metadata", "2.root.json")), os.WriteFile(ts, before, 0o644)); err != nil {
		t.Fatal(err)
	}
	f.check(t0.Add(time.Hour+time.Minute), v1)
	v2 := want{"myapp/1.1.0/linux-amd64", f.release(t0.Add(2*time.Hour), "1.1.0", "myapp", "stable"), "1.1.0", []string{"stable"}}
	if _, err := os.Stat(filepath.Join(f.repo, "metadata", "4.targets.json")); err != nil {
		t.Errorf("add after the stopped rotation: %v", err)
	}
	f.check(t0.Add(2*time.Hour+time.Minute), v2, v1)
}

// TestRefusals: each bad command fails with its reason and changes nothing.
func TestRefusals(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.init()
	f.release(t0, "1.0.0", "myapp", "stable")
	bin := filepath.Join(f.tmp, "myapp")
	at := t0.Add(time.Hour)

	// online holds the snapshot and timestamp keys only; oneRoot adds one of
	// the two root keys.
	online, oneRoot := filepath.Join(f.tmp, "online"), filepath.Join(f.tmp, "one-root")
	for _, d := range []string{online, oneRoot} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		for _, pattern := range []string{"snapshot-*.pem", "timestamp-*.pem"} {
			copyGlob(t, filepath.Join(f.online, pattern), d)
		}
	}
	rootKeys, _ := filepath.Glob(filepath.Join(f.keys, "root-*.pem"))
	copyGlob(t, rootKeys[0], oneRoot)

	release := func(extra ...string) []string {
		args := map[string]string{"-app": "myapp", "-version": "2.0.0", "-os": "linux", "-arch": "amd64", "-file": bin}
		for i := 0; i < len(extra); i += 2 {
			args[extra[i]] = extra[i+1]
		}
		out := []string{"add"}
		for _, k := range slices.Sorted(maps.Keys(args)) {
			out = append(out, k, args[k])
		}
		return out
	}
	for _, tc := range []struct {
		name string
		args []string
		want error
	}{
		{"no command", []string{}, ErrUsage},
		{"unknown command", []string{"publish"}, ErrUsage},
		{"init again", []string{"init"}, ErrExists},
		{"released again", release("-version", "1.0.0"), ErrExists},
		{"version with v", release("-version", "v2.0.0"), ErrUsage},
		{"short version", release("-version", "2.0"), ErrUsage},
		{"build metadata", release("-version", "2.0.0+abc"), ErrUsage},
		{"app with slash", release("-app", "my/app"), ErrUsage},
		{"app with dots", release("-app", ".."), ErrUsage},
		{"upper-case os", release("-os", "Linux"), ErrUsage},
		{"repeated channel", release("-channels", "beta,beta"), ErrUsage},
		{"bad channel", release("-channels", "stable,"), ErrUsage},
		{"no file", release("-file", filepath.Join(f.tmp, "absent")), ErrUsage},
		{"keys inside repo", append(release(), "-keys", filepath.Join(f.repo, "keys")), ErrUsage},
		{"no targets key", append(release(), "-keys", online), ErrMissingKeys},
		{"missing key directory", []string{"refresh-timestamp", "-keys", filepath.Join(f.tmp, "absent")}, ErrUsage},
		{"missing second key directory", append(release(), "-keys", f.keys, "-keys", filepath.Join(f.tmp, "absent")), ErrUsage},
		{"online keys beside offline ones", []string{"init", "-keys", f.keys, "-online-keys", f.keys + string(filepath.Separator)}, ErrUsage},
		{"bad lifetime", []string{"refresh-timestamp", "-timestamp-expiry", "0d"}, ErrUsage},
		{"unknown role", []string{"renew", "-role", "mirror"}, ErrUsage},
		{"ambiguous root key", []string{"rotate-key", "-role", "root"}, ErrUsage},
		{"one of two root keys", []string{"rotate-key", "-role", "root", "-old", readRoot(t, f.repo, 1).Signed.Roles[metadata.ROOT].KeyIDs[0], "-keys", oneRoot}, ErrMissingKeys},
		{"renew root with one of two keys", []string{"renew", "-role", "root", "-keys", oneRoot}, ErrMissingKeys},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unchanged := snapshotTree(t, f.repo, f.keys, f.online, online, oneRoot)
			var err error
			if len(tc.args) == 0 {
				err = run(nil, &env{stdout: &f.stdout, stderr: &f.stderr, rand: f.rand})
			} else {
				err = f.publish(at, tc.args...)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			unchanged.check(t)
		})
	}

	var ke *KeysError
	if err := f.publish(at, append(release(), "-keys", online)...); !errors.As(err, &ke) || ke.Role != metadata.TARGETS || ke.Found != 0 || ke.Threshold != 1 {
		t.Errorf("add without the targets key: %v, want a KeysError for targets", err)
	}
	if err := f.publish(at, "renew", "-role", "root", "-keys", oneRoot); !errors.As(err, &ke) || ke.Role != metadata.ROOT || ke.Found != 1 || ke.Threshold != 2 || len(ke.Missing) != 1 {
		t.Errorf("renew root with one root key: %v, want a KeysError for root, 1 of 2", err)
	}

	t.Run("key readable by others", func(t *testing.T) {
		if runtime.GOOS == "windows" {
			t.Skip("no Unix permissions")
		}
		ts, _ := filepath.Glob(filepath.Join(online, "timestamp-*.pem"))
		if err := os.Chmod(ts[0], 0o644); err != nil {
			t.Fatal(err)
		}
		unchanged := snapshotTree(t, f.repo, f.keys, f.online)
		if err := f.publish(at, "refresh-timestamp", "-keys", online); !errors.Is(err, ErrKeyFile) {
			t.Errorf("err = %v, want ErrKeyFile", err)
		}
		unchanged.check(t)
	})

	t.Run("tampered targets", func(t *testing.T) {
		name := filepath.Join(f.repo, "metadata", "2.targets.json")
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, bytes.Replace(data, []byte(`"stable"`), []byte(`"beta"`), 1), 0o644); err != nil {
			t.Fatal(err)
		}
		unchanged := snapshotTree(t, f.repo, f.keys, f.online)
		err = f.publish(at, release()...)
		var re *RepositoryError
		if !errors.Is(err, ErrBadRepository) || !errors.As(err, &re) || re.File != "metadata/2.targets.json" {
			t.Errorf("add over tampered targets: %v, want a RepositoryError for metadata/2.targets.json", err)
		}
		unchanged.check(t)
	})
}

// checkListing asserts that snapshot v lists targets v with version, length
// and sha256, and that timestamp.json lists snapshot v the same way.
func checkListing(t *testing.T, repo string, v int64) {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(repo, "metadata", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	targets, snapBytes := read(fmt.Sprintf("%d.targets.json", v)), read(fmt.Sprintf("%d.snapshot.json", v))
	snap, err := (&metadata.Metadata[metadata.SnapshotType]{}).FromBytes(snapBytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []struct {
		what string
		mf   *metadata.MetaFiles
		data []byte
	}{
		{"snapshot's targets.json", snap.Signed.Meta["targets.json"], targets},
		{"timestamp's snapshot.json", readTimestamp(t, repo).Signed.Meta["snapshot.json"], snapBytes},
	} {
		sum := sha256.Sum256(l.data)
		if l.mf == nil || l.mf.Version != v || l.mf.Length != int64(len(l.data)) || !bytes.Equal(l.mf.Hashes["sha256"], sum[:]) {
			t.Errorf("%s: %+v, want version %d, length %d, sha256 %x", l.what, l.mf, v, len(l.data), sum)
		}
	}
}

func readRoot(t *testing.T, repo string, v int) *metadata.Metadata[metadata.RootType] {
	t.Helper()
	m, err := (&metadata.Metadata[metadata.RootType]{}).FromFile(filepath.Join(repo, "metadata", fmt.Sprintf("%d.root.json", v)))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func readTimestamp(t *testing.T, repo string) *metadata.Metadata[metadata.TimestampType] {
	t.Helper()
	m, err := (&metadata.Metadata[metadata.TimestampType]{}).FromFile(filepath.Join(repo, "metadata", "timestamp.json"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// forgeTimestamp writes what a thief of the timestamp key could: the
// current timestamp with version v, validly signed.
func forgeTimestamp(t *testing.T, f *fixture, v int64) {
	t.Helper()
	kr, err := loadKeys([]string{f.online})
	if err != nil {
		t.Fatal(err)
	}
	root := readRoot(t, f.repo, 1)
	keys, err := kr.signers(root, metadata.TIMESTAMP)
	if err != nil {
		t.Fatal(err)
	}
	ts := readTimestamp(t, f.repo)
	ts.Signed.Version = v
	data, err := sign(ts, keys)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.repo, "metadata", "timestamp.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyGlob(t *testing.T, pattern, dir string) {
	t.Helper()
	names, err := filepath.Glob(pattern)
	if err != nil || len(names) == 0 {
		t.Fatalf("no files match %s (%v)", pattern, err)
	}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, filepath.Base(n)), b, 0o600)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// tree is the content and mode of every file, and every directory, below
// some directories.
type tree struct {
	dirs  []string
	files map[string]string
}

func snapshotTree(t *testing.T, dirs ...string) tree {
	t.Helper()
	tr := tree{dirs: dirs, files: map[string]string{}}
	for _, d := range dirs {
		err := filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.IsDir() {
				tr.files[p] = "directory"
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fi, err := e.Info()
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			tr.files[p] = fmt.Sprintf("%x %v", sum, fi.Mode())
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return tr
}

// check asserts that the directories hold exactly the files they held.
func (tr tree) check(t *testing.T) {
	t.Helper()
	now := snapshotTree(t, tr.dirs...)
	for p, v := range now.files {
		if tr.files[p] != v {
			t.Errorf("%s changed or appeared", p)
		}
	}
	for p := range tr.files {
		if _, ok := now.files[p]; !ok {
			t.Errorf("%s disappeared", p)
		}
	}
}
