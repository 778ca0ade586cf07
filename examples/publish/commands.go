package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"golang.org/x/mod/semver"
)

// ---- init ----

// Where init writes the keys, and where the other commands look for them
// unless told otherwise.
const (
	defaultKeyDir       = "keys"        // root and targets: offline
	defaultOnlineKeyDir = "online-keys" // snapshot and timestamp: on the update server
)

func initFlags(fs *flag.FlagSet, o *options) {
	fs.IntVar(&o.rootKeys, "root-keys", 3, "how many root `keys` to generate")
	fs.IntVar(&o.rootThreshold, "root-threshold", 2, "how many root keys must sign root")
	fs.StringVar(&o.onlineKeyDir, "online-keys", defaultOnlineKeyDir, "directory `KEYDIR` for the snapshot and timestamp keys")
}

// onlineRole reports whether role's keys belong online: snapshot and
// timestamp are re-signed often, and automatically.
func onlineRole(role string) bool { return role == metadata.SNAPSHOT || role == metadata.TIMESTAMP }

// cmdInit generates the keys and writes version 1 of every role.
func cmdInit(o *options, e *env) error {
	if o.rootKeys < 1 || o.rootThreshold < 1 || o.rootThreshold > o.rootKeys {
		return fmt.Errorf("%w: -root-threshold %d of -root-keys %d", ErrUsage, o.rootThreshold, o.rootKeys)
	}
	if len(o.keyDirs) != 1 {
		return fmt.Errorf("%w: init writes the root and targets keys to one -keys directory, the snapshot and timestamp keys to -online-keys", ErrUsage)
	}
	offline, online := o.keyDirs[0], o.onlineKeyDir
	if a, b := filepath.Clean(offline), filepath.Clean(online); a == b {
		return fmt.Errorf("%w: -keys and -online-keys are both %s: the online keys go to the update server, the others must not", ErrUsage, a)
	}
	if err := checkKeyDirs(o.dir, []string{offline, online}); err != nil {
		return err
	}
	mdir := filepath.Join(o.dir, metadataDir)
	if entries, err := os.ReadDir(mdir); err == nil && len(entries) > 0 {
		return fmt.Errorf("%w: %s is not empty", ErrExists, mdir)
	}

	// Root lists every role's keys and thresholds. Consistent snapshots
	// (the default of go-tuf's metadata.Root) make clients fetch
	// <version>.<role>.json and <sha256>.<name> files, which publish never
	// overwrites.
	root := metadata.Root(o.expires(metadata.ROOT))
	root.Signed.ConsistentSnapshot = true
	count := map[string]int{metadata.ROOT: o.rootKeys, metadata.TARGETS: 1, metadata.SNAPSHOT: 1, metadata.TIMESTAMP: 1}
	var keys []privateKey
	var roles []string
	for _, role := range []string{metadata.ROOT, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP} {
		for range count[role] {
			k, err := newKey(e.rand)
			if err != nil {
				return err
			}
			if err := root.Signed.AddKey(k.pub, role); err != nil {
				return err
			}
			keys, roles = append(keys, k), append(roles, role)
		}
	}
	root.Signed.Roles[metadata.ROOT].Threshold = o.rootThreshold
	kr := keyring{}
	for _, k := range keys {
		kr[k.id] = k
	}

	// Targets, snapshot and timestamp start at version 0 here: prepare
	// signs version 1 of each, listing the one below it.
	r := &repo{
		dir:       o.dir,
		targets:   metadata.Targets(),
		snapshot:  metadata.Snapshot(),
		timestamp: metadata.Timestamp(),
	}
	r.targets.Signed.Version, r.snapshot.Signed.Version, r.timestamp.Signed.Version = 0, 0, 0
	p, err := r.prepare(update{root: root, resign: metadata.TARGETS}, kr, o)
	if err != nil {
		return err
	}
	for i := range keys {
		dir := offline
		if onlineRole(roles[i]) {
			dir = online
		}
		if err := keys[i].save(dir, roles[i]); err != nil {
			return err
		}
		e.printf("wrote %s: %s key %s", keys[i].file, roles[i], keys[i].id)
	}
	if err := os.MkdirAll(filepath.Join(o.dir, targetsDir), 0o755); err != nil {
		return err
	}
	if err := p.write(e); err != nil {
		return err
	}
	e.printf("ship %s with your application as its trusted root", filepath.Join(mdir, fileName(metadata.ROOT, 1)))
	e.printf("keep %s (root and targets keys) offline; %s (snapshot and timestamp keys) goes to the server that runs refresh-timestamp",
		offline, online)
	return nil
}

// ---- add ----

func addFlags(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.app, "app", "", "application `NAME` (letters, digits, . _ -)")
	fs.StringVar(&o.version, "version", "", "release `SEMVER`, such as 1.4.2 or 2.0.0-rc.1 (no leading v)")
	fs.StringVar(&o.os, "os", "", "`OS` of the binary, as GOOS spells it")
	fs.StringVar(&o.arch, "arch", "", "`ARCH` of the binary, as GOARCH spells it")
	fs.StringVar(&o.file, "file", "", "the release `FILE`")
	o.channels = []string{"stable"}
	fs.Func("channels", "comma-separated release `channels` (default stable)", func(s string) error {
		o.channels = strings.Split(s, ",")
		return nil
	})
	logFlags(fs, o)
}

var (
	appName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	word    = regexp.MustCompile(`^[a-z0-9]+$`)
	channel = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
)

// releaseInfo is the signed custom data of a release target.
type releaseInfo struct {
	Version  string    `json:"version"`
	Channels []string  `json:"channels"`
	TLog     *tlogInfo `json:"tlog,omitempty"` // with a transparency log
}

// targetName is the target path of a release: <app>/<version>/<os>-<arch>,
// and the extension of file if it is one a client must know to unpack or
// run the release.
func targetName(o *options) string {
	name := o.app + "/" + o.version + "/" + o.os + "-" + o.arch
	base := strings.ToLower(filepath.Base(o.file))
	for _, ext := range []string{".tar.gz", ".zip", ".exe"} {
		if strings.HasSuffix(base, ext) {
			return name + ext
		}
	}
	return name
}

func checkRelease(o *options) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, args...))
	}
	switch {
	case !appName.MatchString(o.app):
		return bad("-app %q: letters, digits, '.', '_' and '-', starting with a letter or digit", o.app)
	case strings.HasPrefix(o.version, "v") || !semver.IsValid("v"+o.version) || semver.Canonical("v"+o.version) != "v"+o.version:
		return bad("-version %q: a semantic version MAJOR.MINOR.PATCH[-PRERELEASE], without a leading v or +build", o.version)
	case !word.MatchString(o.os) || !word.MatchString(o.arch):
		return bad("-os %q -arch %q: lowercase letters and digits, as GOOS and GOARCH", o.os, o.arch)
	case o.file == "":
		return bad("add needs -file")
	}
	for i, c := range o.channels {
		if !channel.MatchString(c) || slices.Contains(o.channels[:i], c) {
			return bad("-channels: %q is not a channel name (lowercase letters, digits, '-') or is repeated", c)
		}
	}
	if fi, err := os.Stat(o.file); err != nil || !fi.Mode().IsRegular() {
		return bad("-file %s is not a regular file", o.file)
	}
	return nil
}

// cmdAdd publishes one release file.
func cmdAdd(o *options, e *env) (err error) {
	if err := checkRelease(o); err != nil {
		return err
	}
	if err := checkKeyDirs(o.dir, o.keyDirs); err != nil {
		return err
	}
	name := targetName(o)
	r, err := loadRepo(o.dir, metadata.TARGETS)
	if err != nil {
		return err
	}
	if _, ok := r.targets.Signed.Targets[name]; ok {
		return fmt.Errorf("%w: %s is released in targets v%d; clients may have installed it, so publish a new version instead",
			ErrExists, name, r.targets.Signed.Version)
	}
	kr, err := loadKeys(o.keyDirs)
	if err != nil {
		return err
	}
	u := update{resign: metadata.TARGETS}
	if _, err := r.signersFor(u, kr); err != nil {
		return err // before anything is copied
	}
	// With a transparency log, the release's entry goes in once
	// everything is signed in memory and before anything is written: the
	// targets metadata names the index the entry will have.
	ctx, cancel := context.WithTimeout(context.Background(), logTimeout)
	defer cancel()
	rl, err := openReleaseLog(ctx, o)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, rl.close(ctx)) }()

	// Copy the file into the repository under a temporary name, hashing
	// what is written: the hash signed is the hash of the bytes served.
	dir := filepath.Join(o.dir, targetsDir, filepath.FromSlash(path.Dir(name)))
	st, err := stage(o.file, dir)
	if err != nil {
		return err
	}
	defer os.Remove(st.tmp)

	custom, err := json.Marshal(releaseInfo{Version: o.version, Channels: o.channels, TLog: rl.info()})
	if err != nil {
		return err
	}
	raw := json.RawMessage(custom)
	r.targets.Signed.Targets[name] = &metadata.TargetFiles{
		Length: st.length,
		Hashes: metadata.Hashes{"sha256": st.sha256},
		Custom: &raw,
	}
	p, err := r.prepare(u, kr, o)
	if err != nil {
		return err
	}
	if err := rl.add(ctx, e, name, st); err != nil {
		return err
	}
	// With consistent snapshots a client fetches the file as
	// <dir>/<sha256>.<base name> (spec §5.7.3): content never changes
	// under a name a client may have cached.
	file := filepath.Join(dir, hex.EncodeToString(st.sha256)+"."+path.Base(name))
	if err := st.commit(file); err != nil {
		return err
	}
	e.printf("wrote %s: %d bytes", file, st.length)
	if err := p.write(e); err != nil {
		return err
	}
	e.printf("released %s (version %s, channels %s)", name, o.version, strings.Join(o.channels, ","))
	return nil
}

// staged is a release file copied into the repository under a temporary
// name.
type staged struct {
	tmp    string
	length int64
	sha256 []byte
}

func stage(src, dir string) (*staged, error) {
	in, err := os.Open(src)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	out, err := os.CreateTemp(dir, ".publish-*")
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(out.Name(), 0o644)
	}
	if err != nil {
		os.Remove(out.Name())
		return nil, err
	}
	return &staged{tmp: out.Name(), length: n, sha256: h.Sum(nil)}, nil
}

// commit gives the staged file its final name. A file already there came
// from an earlier attempt to publish the same bytes; it is kept if its
// content still matches its name.
func (s *staged) commit(name string) error {
	err := os.Link(s.tmp, name)
	if !errors.Is(err, fs.ErrExist) {
		return err
	}
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	if !bytes.Equal(h.Sum(nil), s.sha256) {
		return &RepositoryError{File: name, Err: errors.New("content does not match the sha256 in its name")}
	}
	return nil
}

// ---- refresh-timestamp and renew ----

// cmdRefreshTimestamp signs a new timestamp: new version, new expiry.
func cmdRefreshTimestamp(o *options, e *env) error {
	return renew(o, e, metadata.TIMESTAMP)
}

func roleFlags(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.role, "role", "", "`ROLE`: root, targets, snapshot or timestamp")
}

func checkRole(o *options) error {
	if !slices.Contains(metadata.TOP_LEVEL_ROLE_NAMES[:], o.role) {
		return fmt.Errorf("%w: -role %q: want root, targets, snapshot or timestamp", ErrUsage, o.role)
	}
	return nil
}

// cmdRenew signs a new version of a role, and of the roles above it, with
// new expiries.
func cmdRenew(o *options, e *env) error {
	if err := checkRole(o); err != nil {
		return err
	}
	return renew(o, e, o.role)
}

func renew(o *options, e *env, role string) error {
	if err := checkKeyDirs(o.dir, o.keyDirs); err != nil {
		return err
	}
	u := update{resign: role}
	if role == metadata.ROOT {
		u.resign = ""
	}
	r, err := loadRepo(o.dir, u.resign)
	if err != nil {
		return err
	}
	kr, err := loadKeys(o.keyDirs)
	if err != nil {
		return err
	}
	if role == metadata.ROOT {
		if u.root, err = nextRoot(r.root, o); err != nil {
			return err
		}
	}
	p, err := r.prepare(u, kr, o)
	if err != nil {
		return err
	}
	return p.write(e)
}

// nextRoot is a copy of root with the next version and a new expiry, not
// signed yet.
func nextRoot(root *metadata.Metadata[metadata.RootType], o *options) (*metadata.Metadata[metadata.RootType], error) {
	data, err := root.ToBytes(false)
	if err != nil {
		return nil, err
	}
	next, err := (&metadata.Metadata[metadata.RootType]{}).FromBytes(data)
	if err != nil {
		return nil, err
	}
	next.Signed.Version++ // exactly N+1 (spec §5.3.5)
	next.Signed.Expires = o.expires(metadata.ROOT)
	next.ClearSignatures()
	return next, nil
}

// ---- rotate-key ----

func rotateFlags(fs *flag.FlagSet, o *options) {
	roleFlags(fs, o)
	fs.StringVar(&o.old, "old", "", "the `KEYID` to replace (needed when the role has several keys)")
}

// cmdRotateKey replaces one key of a role with a new one, in a new root
// version, and signs the role (and those above it) with the new key.
func cmdRotateKey(o *options, e *env) error {
	if err := checkRole(o); err != nil {
		return err
	}
	if err := checkKeyDirs(o.dir, o.keyDirs); err != nil {
		return err
	}
	resign := o.role
	if resign == metadata.ROOT {
		resign = "" // only root changes
	}
	r, err := loadRepo(o.dir, resign)
	if err != nil {
		return err
	}
	ids := r.root.Signed.Roles[o.role].KeyIDs
	old := o.old
	switch {
	case old == "" && len(ids) != 1:
		return fmt.Errorf("%w: root v%d lists %d %s keys; choose one with -old (%s)", ErrUsage, r.root.Signed.Version, len(ids), o.role, strings.Join(ids, ", "))
	case old == "":
		old = ids[0]
	case !slices.Contains(ids, old):
		return fmt.Errorf("%w: root v%d lists no %s key %s", ErrUsage, r.root.Signed.Version, o.role, old)
	}
	kr, err := loadKeys(o.keyDirs)
	if err != nil {
		return err
	}

	k, err := newKey(e.rand)
	if err != nil {
		return err
	}
	root, err := nextRoot(r.root, o)
	if err != nil {
		return err
	}
	if err := root.Signed.RevokeKey(old, o.role); err != nil {
		return err
	}
	if err := root.Signed.AddKey(k.pub, o.role); err != nil {
		return err
	}
	// The new key signs only once it is saved, and it is saved only once
	// everything has been signed in memory: a missing key stops the
	// command before anything is written.
	dir := dirOfKey(kr, old, o.keyDirs)
	retired, hadOld := kr[old]
	kr[k.id] = k
	p, err := r.prepare(update{root: root, resign: resign}, kr, o)
	if err != nil {
		return err
	}
	if err := k.save(dir, o.role); err != nil {
		return err
	}
	e.printf("wrote %s: %s key %s", k.file, o.role, k.id)
	if err := p.write(e); err != nil {
		return err
	}
	if hadOld {
		e.printf("%s key %s is not trusted since root v%d: destroy %s", o.role, old, root.Signed.Version, retired.file)
	}
	return nil
}
