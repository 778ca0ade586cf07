package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/latchsec/latch/client"
	latchmeta "github.com/latchsec/latch/metadata"
)

// ErrNotVetted: approve -file names a file that is not the release the
// vendor signed.
var ErrNotVetted = errors.New("the vetted file is not the vendor's release")

func approveFlags(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.vendorRoot, "vendor-root", "", "the vendor's trusted root `FILE`, as its applications ship it")
	fs.StringVar(&o.vendorURL, "vendor-url", "", "`URL` of the vendor's repository, the base of its metadata/ and targets/")
	fs.StringVar(&o.vendorState, "vendor-state", "vendor-state", "`DIR` where approve keeps what it trusted of the vendor's repository between runs")
	fs.StringVar(&o.target, "target", "", "the target `PATH` to approve, as the vendor's repository lists it")
	fs.StringVar(&o.vetted, "file", "", "the `FILE` your team vetted: approve refuses unless it is the vendor's release, byte for byte")
}

// cmdApprove copies one release from the vendor's repository into this
// one, after latch verified it there: the same target path, length, hashes
// and custom data, so that a client whose map needs both repositories to
// agree (TAP 4) installs it.
func cmdApprove(o *options, e *env) error {
	if o.vendorRoot == "" || o.vendorURL == "" || o.target == "" {
		return fmt.Errorf("%w: approve needs -vendor-root, -vendor-url and -target", ErrUsage)
	}
	if err := checkKeyDirs(o.dir, o.keyDirs); err != nil {
		return err
	}
	r, err := loadRepo(o.dir, metadata.TARGETS)
	if err != nil {
		return err
	}
	kr, err := loadKeys(o.keyDirs)
	if err != nil {
		return err
	}
	u := update{resign: metadata.TARGETS}
	if _, err := r.signersFor(u, kr); err != nil {
		return err // before anything is fetched
	}

	// The vendor's release as latch verifies it: the vendor's root, every
	// rotation, expiry, rollback, delegations, and the file's length and
	// hashes.
	root, err := os.ReadFile(o.vendorRoot)
	if err != nil {
		return err
	}
	ctx := context.Background()
	c, err := client.New(client.Config{
		TrustedRoot:  root,
		MetadataURLs: []string{strings.TrimSuffix(o.vendorURL, "/") + "/metadata/"},
		TargetURLs:   []string{strings.TrimSuffix(o.vendorURL, "/") + "/targets/"},
		StateDir:     o.vendorState,
	}, client.WithClock(func() time.Time { return o.now }))
	if err != nil {
		return fmt.Errorf("the vendor's repository: %w", err)
	}
	defer c.Close()
	if err := c.Refresh(ctx); err != nil {
		return fmt.Errorf("the vendor's repository: %w", err)
	}
	t, err := c.Target(ctx, o.target)
	if err != nil {
		return fmt.Errorf("the vendor's repository: %w", err)
	}
	if o.vetted != "" {
		ok, err := c.Cached(t, o.vetted)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: %s differs from %s (%d bytes) as the vendor's targets role %s signs it", ErrNotVetted, o.vetted, o.target, t.Length(), t.Role())
		}
	}

	info := &metadata.TargetFiles{Length: t.Length(), Hashes: metadata.Hashes{}}
	for alg, d := range t.Hashes() {
		info.Hashes[alg] = d
	}
	if custom := t.Custom(); custom != nil {
		info.Custom = &custom
	}
	if old, ok := r.targets.Signed.Targets[o.target]; ok {
		if sameTarget(old, info) {
			e.printf("%s is approved already, in targets v%d", o.target, r.targets.Signed.Version)
			return nil
		}
		return fmt.Errorf("%w: targets v%d lists %s with other length, hashes or custom data than the vendor signs", ErrExists, r.targets.Signed.Version, o.target)
	}

	// Clients of this (consistent-snapshot) repository fetch the file as
	// <dir>/<hash>.<base name>, with the hash latch names files by.
	alg := "sha256"
	if _, ok := info.Hashes[alg]; !ok {
		alg = "sha512"
	}
	file, err := latchmeta.LocalPath(filepath.Join(o.dir, targetsDir), path.Join(path.Dir(o.target), hex.EncodeToString(info.Hashes[alg])+"."+path.Base(o.target)))
	if err != nil {
		return err
	}
	r.targets.Signed.Targets[o.target] = info
	p, err := r.prepare(u, kr, o)
	if err != nil {
		return err
	}
	// Verified outside the repository first, then copied in as add does:
	// a release that fails verification leaves no trace in REPO.
	tmp, err := os.MkdirTemp("", "publish-approve-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	verified := filepath.Join(tmp, "release")
	if err := c.DownloadFile(ctx, t, verified); err != nil {
		return fmt.Errorf("the vendor's repository: %w", err)
	}
	st, err := stage(verified, filepath.Dir(file))
	if err != nil {
		return err
	}
	defer os.Remove(st.tmp)
	if err := st.commit(file); err != nil {
		return err
	}
	e.printf("wrote %s: %d bytes, verified against the vendor's %s", file, t.Length(), t.Role())
	if err := p.write(e); err != nil {
		return err
	}
	e.printf("approved %s", o.target)
	return nil
}

// sameTarget reports whether two listings are identical: length, every
// hash, and custom data (compared as decoded JSON: the bytes of the file
// keep the indentation they were written with).
func sameTarget(a, b *metadata.TargetFiles) bool {
	custom := func(t *metadata.TargetFiles) any {
		if t.Custom == nil {
			return nil
		}
		d := json.NewDecoder(bytes.NewReader(*t.Custom))
		d.UseNumber()
		var v any
		if d.Decode(&v) != nil {
			return string(*t.Custom)
		}
		return v
	}
	return a.Length == b.Length && maps.EqualFunc(a.Hashes, b.Hashes, func(x, y metadata.HexBytes) bool { return bytes.Equal(x, y) }) &&
		reflect.DeepEqual(custom(a), custom(b))
}
