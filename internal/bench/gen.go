package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/cjson"

	"github.com/latchsec/latch/metadata"
)

// benchNow is the reference time every client reads; every document expires
// ten years later.
var benchNow = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	expires   = "2035-01-01T00:00:00Z"
	binPrefix = "bins"
	binBits   = 8 // 256 succinct bins (TAP 15)
	largeName = "large.bin"
)

// targetPath is the path of the i-th generated target. With its entry
// (sha256 and length) it takes about 136 bytes of canonical JSON, so 100,000
// of them make a 13.6 MB targets.json.
func targetPath(i int) string { return fmt.Sprintf("releases/app-%06d/linux-amd64.tgz", i) }

// targetEntry is the i-th target's entry: a made-up length and the sha256 of
// made-up content (only the large target exists as a file).
func targetEntry(i int) map[string]any {
	sum := sha256.Sum256(fmt.Appendf(nil, "content %d", i))
	return map[string]any{
		"hashes": map[string]any{"sha256": hex.EncodeToString(sum[:])},
		"length": 1024 + (i*7919)%(1<<20),
	}
}

// binOf is the succinct bin (TAP 15) that a target path hashes to.
func binOf(path string) uint32 {
	sum := sha256.Sum256([]byte(path))
	return binary.BigEndian.Uint32(sum[:4]) >> (32 - binBits)
}

func binName(bin uint32) string { return fmt.Sprintf("%s-%02x", binPrefix, bin) }

// signer is an ed25519 key derived from a fixed seed.
type signer struct {
	priv ed25519.PrivateKey
	id   string
	key  map[string]any // the KEY object of spec §4.2
}

func newSigner(name string) (signer, error) {
	seed := sha256.Sum256([]byte("latch-bench/" + name))
	priv := ed25519.NewKeyFromSeed(seed[:])
	k := map[string]any{
		"keytype": "ed25519",
		"scheme":  "ed25519",
		"keyval":  map[string]any{"public": hex.EncodeToString(priv.Public().(ed25519.PublicKey))},
	}
	c, err := cjson.EncodeCanonical(k)
	if err != nil {
		return signer{}, err
	}
	sum := sha256.Sum256(c)
	return signer{priv: priv, id: hex.EncodeToString(sum[:]), key: k}, nil
}

// keyring holds the keys of every role; all generated repositories share it.
type keyring struct {
	root, timestamp, snapshot, targets, bins signer
}

func newKeyring() (*keyring, error) {
	var kr keyring
	for _, k := range []struct {
		name string
		dst  *signer
	}{{"root", &kr.root}, {"timestamp", &kr.timestamp}, {"snapshot", &kr.snapshot}, {"targets", &kr.targets}, {"bins", &kr.bins}} {
		s, err := newSigner(k.name)
		if err != nil {
			return nil, err
		}
		*k.dst = s
	}
	return &kr, nil
}

// repoSpec is one generated repository, served under /<name>/metadata/ and
// /<name>/targets/, with consistent snapshots.
type repoSpec struct {
	name    string
	targets int  // generated targets, flat or in bins
	pretty  bool // every file indented one space per level, as python-tuf writes
	bins    bool // targets in 256 succinct bins instead of top-level targets.json
	large   int64
}

// repoInfo is what the benchmark needs to know of a generated repository.
type repoInfo struct {
	TargetsSize int64  `json:"targets_size"` // bytes of the (top-level) targets.json
	BinSize     int64  `json:"bin_size"`     // bytes of the largest bin, for succinct repositories
	LargeSHA256 string `json:"large_sha256"` // hex sha256 of the large target
}

// generate writes the repository spec describes under base/spec.name.
func generate(base string, spec repoSpec, kr *keyring) (repoInfo, error) {
	var info repoInfo
	dir := filepath.Join(base, spec.name) // root.json (the trust anchor), metadata/, targets/
	meta := filepath.Join(dir, "metadata")
	tdir := filepath.Join(dir, "targets")
	for _, d := range []string{meta, tdir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return info, err
		}
	}
	write := func(name string, signed map[string]any, s signer) (int64, error) {
		b, err := seal(signed, s, spec.pretty)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", name, err)
		}
		return int64(len(b)), os.WriteFile(filepath.Join(meta, name), b, 0o644)
	}
	targets := map[string]any{}
	snapMeta := map[string]any{"targets.json": map[string]any{"version": 1}}
	if spec.bins {
		bins := make([]map[string]any, 1<<binBits)
		for i := range bins {
			bins[i] = map[string]any{}
		}
		for i := range spec.targets {
			p := targetPath(i)
			bins[binOf(p)][p] = targetEntry(i)
		}
		for i, b := range bins {
			name := binName(uint32(i))
			n, err := write("1."+name+".json", header("targets", map[string]any{"targets": b}), kr.bins)
			if err != nil {
				return info, err
			}
			info.BinSize = max(info.BinSize, n)
			snapMeta[name+".json"] = map[string]any{"version": 1}
		}
	} else {
		for i := range spec.targets {
			targets[targetPath(i)] = targetEntry(i)
		}
	}
	if spec.large > 0 {
		sum, err := writeLarge(tdir, spec.large)
		if err != nil {
			return info, err
		}
		info.LargeSHA256 = sum
		targets[largeName] = map[string]any{"hashes": map[string]any{"sha256": sum}, "length": spec.large}
	}
	body := map[string]any{"targets": targets}
	if spec.bins {
		body["delegations"] = map[string]any{
			"keys": map[string]any{kr.bins.id: kr.bins.key},
			"succinct_roles": map[string]any{
				"bit_length": binBits, "name_prefix": binPrefix, "keyids": []any{kr.bins.id}, "threshold": 1,
			},
		}
	}
	var err error
	if info.TargetsSize, err = write("1.targets.json", header("targets", body), kr.targets); err != nil {
		return info, err
	}
	if _, err := write("1.snapshot.json", header("snapshot", map[string]any{"meta": snapMeta}), kr.snapshot); err != nil {
		return info, err
	}
	ts := map[string]any{"meta": map[string]any{"snapshot.json": map[string]any{"version": 1}}}
	if _, err := write("timestamp.json", header("timestamp", ts), kr.timestamp); err != nil {
		return info, err
	}
	keys := map[string]any{}
	roles := map[string]any{}
	for role, s := range map[string]signer{"root": kr.root, "timestamp": kr.timestamp, "snapshot": kr.snapshot, "targets": kr.targets} {
		keys[s.id] = s.key
		roles[role] = map[string]any{"keyids": []any{s.id}, "threshold": 1}
	}
	root := header("root", map[string]any{"consistent_snapshot": true, "keys": keys, "roles": roles})
	if _, err := write("1.root.json", root, kr.root); err != nil {
		return info, err
	}
	rootBytes, err := os.ReadFile(filepath.Join(meta, "1.root.json"))
	if err != nil {
		return info, err
	}
	return info, os.WriteFile(filepath.Join(dir, "root.json"), rootBytes, 0o644)
}

// header adds the common fields of spec §4.2 to a role's signed object.
func header(typ string, signed map[string]any) map[string]any {
	signed["_type"] = typ
	signed["spec_version"] = "1.0.31"
	signed["version"] = 1
	signed["expires"] = expires
	return signed
}

// seal signs the canonical form of signed and returns the envelope, canonical
// as go-tuf's simulator writes it, or indented by one space per level with
// sorted keys as python-tuf and tuf-on-ci publish it.
func seal(signed map[string]any, s signer, pretty bool) ([]byte, error) {
	b, err := json.Marshal(signed)
	if err != nil {
		return nil, err
	}
	env, err := metadata.Seal(b, metadata.NewSigner(s.id, "ed25519", s.priv))
	if err != nil || !pretty {
		return env, err
	}
	var p bytes.Buffer
	p.Grow(len(env) * 3 / 2)
	if err := json.Indent(&p, env, "", " "); err != nil {
		return nil, err
	}
	return p.Bytes(), nil
}

// writeLarge writes size deterministic pseudo-random bytes as the large
// target under its consistent-snapshot name (<sha256>.large.bin) and returns
// their hex sha256.
func writeLarge(dir string, size int64) (string, error) {
	tmp := filepath.Join(dir, "large.tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	src := io.LimitReader(rand.NewChaCha8([32]byte{'l', 'a', 't', 'c', 'h'}), size)
	if _, err := io.CopyBuffer(io.MultiWriter(f, h), src, make([]byte, 1<<20)); err != nil {
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	return sum, os.Rename(tmp, filepath.Join(dir, sum+"."+largeName))
}
