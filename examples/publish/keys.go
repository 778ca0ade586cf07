package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	latchmeta "github.com/latchsec/latch/metadata"
)

// privateKey is an ed25519 signing key with its TUF key ID and, once saved
// or loaded, its file.
type privateKey struct {
	id   string
	key  ed25519.PrivateKey
	pub  *metadata.Key // as root lists it
	file string
}

// newKey makes a key from 32 bytes of entropy.
func newKey(entropy io.Reader) (privateKey, error) {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := io.ReadFull(entropy, seed); err != nil {
		return privateKey{}, fmt.Errorf("generating a key: %w", err)
	}
	return keyOf(ed25519.NewKeyFromSeed(seed))
}

// keyOf computes k's key ID: the sha256 of the canonical JSON of its public
// key as root lists it (go-tuf's Key.ID).
func keyOf(k ed25519.PrivateKey) (privateKey, error) {
	pub, err := metadata.KeyFromPublicKey(k.Public())
	if err != nil {
		return privateKey{}, err
	}
	id, err := pub.ID()
	if err != nil {
		return privateKey{}, err
	}
	return privateKey{id: id, key: k, pub: pub}, nil
}

// save writes k to dir as <role>-<start of key ID>.pem, a PKCS #8 PEM file,
// and sets k.file.
func (k *privateKey) save(dir, role string) error {
	der, err := x509.MarshalPKCS8PrivateKey(k.key)
	if err != nil {
		return err
	}
	name := filepath.Join(dir, role+"-"+k.id[:16]+".pem")
	if err := writeSecret(name, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
		return err
	}
	k.file = name
	return nil
}

// writeSecret writes a private key file only its owner can read, in a
// directory only its owner can enter, never replacing a file.
func writeSecret(name string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
	}
	return err
}

// keyring is every private key found in the key directories, by key ID.
type keyring map[string]privateKey

// loadKeys reads every *.pem file in dirs. A directory that does not exist
// is an error: a mistyped -keys must not read as "no keys here".
func loadKeys(dirs []string) (keyring, error) {
	kr := keyring{}
	for _, dir := range dirs {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("%w: -keys %s is not a directory (init writes the keys to -keys and -online-keys)", ErrUsage, dir)
		}
		names, err := filepath.Glob(filepath.Join(dir, "*.pem"))
		if err != nil {
			return nil, err
		}
		for _, name := range names {
			k, err := readKey(name)
			if err != nil {
				return nil, err
			}
			kr[k.id] = k
		}
	}
	return kr, nil
}

// readSecret reads a private key file, refusing one that others may read
// (as ssh does): a signing key that leaked is a key to rotate.
func readSecret(name string) ([]byte, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrKeyFile, name, err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s: mode %04o lets others read it: chmod 600 it (and rotate the key if it leaked)", ErrKeyFile, name, fi.Mode().Perm())
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrKeyFile, name, err)
	}
	return data, nil
}

// readKey reads one key file.
func readKey(name string) (privateKey, error) {
	bad := func(format string, args ...any) (privateKey, error) {
		return privateKey{}, fmt.Errorf("%w: %s: %s", ErrKeyFile, name, fmt.Sprintf(format, args...))
	}
	data, err := readSecret(name)
	if err != nil {
		return privateKey{}, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return bad("not a PEM \"PRIVATE KEY\" block")
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return bad("%v", err)
	}
	ed, ok := parsed.(ed25519.PrivateKey)
	if !ok {
		return bad("not an ed25519 key")
	}
	k, err := keyOf(ed)
	if err != nil {
		return bad("%v", err)
	}
	k.file = name
	return k, nil
}

// listed returns the keys at hand that root lists for role.
func (kr keyring) listed(root *metadata.Metadata[metadata.RootType], role string) []privateKey {
	var have []privateKey
	for _, id := range root.Signed.Roles[role].KeyIDs {
		if k, ok := kr[id]; ok {
			have = append(have, k)
		}
	}
	return have
}

// signers returns the keys at hand that root lists for role, or a
// *KeysError when they are fewer than the role's threshold.
func (kr keyring) signers(root *metadata.Metadata[metadata.RootType], role string) ([]privateKey, error) {
	r := root.Signed.Roles[role]
	have := kr.listed(root, role)
	if len(have) < r.Threshold {
		var missing []string
		for _, id := range r.KeyIDs {
			if _, ok := kr[id]; !ok {
				missing = append(missing, id)
			}
		}
		return nil, &KeysError{Role: role, RootVersion: root.Signed.Version, Threshold: r.Threshold, Missing: missing, Found: len(have)}
	}
	return have, nil
}

// sign returns m signed by each key, as latch's metadata.Seal makes
// envelopes, indented with tabs: the bytes to publish. m is replaced by the
// document those bytes hold, so the checks that follow verify them.
func sign[T metadata.Roles](m *metadata.Metadata[T], keys []privateKey) ([]byte, error) {
	signed, err := json.Marshal(m.Signed)
	if err != nil {
		return nil, err
	}
	signers := make([]latchmeta.Signer, len(keys))
	for i, k := range keys {
		signers[i] = latchmeta.NewSigner(k.id, "ed25519", k.key)
	}
	env, err := latchmeta.Seal(signed, signers...)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := json.Indent(&b, env, "", "\t"); err != nil {
		return nil, err
	}
	if _, err := m.FromBytes(b.Bytes()); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// checkKeyDirs refuses a key directory inside the repository, which the web
// server would publish.
func checkKeyDirs(repo string, dirs []string) error {
	r, err := filepath.Abs(repo)
	if err != nil {
		return err
	}
	for _, d := range dirs {
		a, err := filepath.Abs(d)
		if err != nil {
			return err
		}
		if rel, err := filepath.Rel(r, a); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return fmt.Errorf("%w: key directory %s is inside the repository %s, which is public", ErrUsage, d, repo)
		}
	}
	return nil
}

// dirOfKey is the key directory that holds key id, or the first key
// directory when it is not at hand (lost): where a key that replaces it
// belongs.
func dirOfKey(kr keyring, id string, dirs []string) string {
	if k, ok := kr[id]; ok {
		return filepath.Dir(k.file)
	}
	return dirs[0]
}
