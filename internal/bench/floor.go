package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/latchsec/latch/internal/rawfile"
)

// The floors are what any client must do for the same result, done the
// cheapest way this machine allows, without a TUF client: a latch row's
// latch/floor ratio is what latch costs above them.

// warmStateFiles are the small files of a state directory a warm start reads
// whatever the size of targets.json: the trusted state and the cached root,
// timestamp and snapshot.
var warmStateFiles = []string{"state/trusted-state", "root.json", "timestamp.json", "snapshot.json"}

// warmFloor is the floor of a warm refresh in a new process: read the small
// state files, then the two requests of a refresh that finds nothing new
// (the next root version, 404, and timestamp.json).
func warmFloor(ctx context.Context, a opArgs) error {
	var root []byte
	for _, name := range warmStateFiles {
		// As latch reads them: the cheapest way this machine allows.
		b, err := rawfile.ReadFile(filepath.Join(a.state, filepath.FromSlash(name)))
		if err != nil {
			return err
		}
		if name == "root.json" {
			root = b
		}
	}
	var r struct {
		Signed struct {
			Version int64 `json:"version"`
		} `json:"signed"`
	}
	if err := json.Unmarshal(root, &r); err != nil {
		return fmt.Errorf("cached root: %w", err)
	}
	meta := a.server + a.repo + "/metadata/"
	if _, err := get(ctx, fmt.Sprintf("%s%d.root.json", meta, r.Signed.Version+1), http.StatusNotFound, nil); err != nil {
		return err
	}
	_, err := get(ctx, meta+"timestamp.json", http.StatusOK, nil)
	return err
}

// coldFloor is the floor of a cold refresh: the requests of a cold refresh
// of a generated repository (next root, 404; timestamp, snapshot, targets
// and, with succinct bins, the target's bin), each document hashed with
// SHA-256 while it arrives, then its ed25519 signature checked over its
// signed bytes beside one validating scan (json.Valid) of the whole, on two
// cores. It is a best case: it knows the file names, the keys and that the
// signed bytes are canonical as they stand, and it persists nothing.
func coldFloor(ctx context.Context, a opArgs) error {
	kr, err := newKeyring()
	if err != nil {
		return err
	}
	keys := map[string]ed25519.PublicKey{}
	for _, s := range []signer{kr.timestamp, kr.snapshot, kr.targets, kr.bins} {
		keys[s.id] = s.priv.Public().(ed25519.PublicKey)
	}
	meta := a.server + a.repo + "/metadata/"
	if _, err := get(ctx, meta+"2.root.json", http.StatusNotFound, nil); err != nil {
		return err
	}
	docs := []string{"timestamp.json", "1.snapshot.json", "1.targets.json"}
	if a.bins {
		docs = append(docs, "1."+binName(binOf(a.target))+".json")
	}
	for _, name := range docs {
		body, err := get(ctx, meta+name, http.StatusOK, sha256.New())
		if err != nil {
			return err
		}
		valid := make(chan bool)
		go func() { valid <- json.Valid(body) }()
		err = checkSignature(body, keys)
		if !<-valid {
			return fmt.Errorf("%s: not valid JSON", name)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// checkSignature checks that one signature of a generated envelope,
// {"signatures":[...],"signed":<canonical bytes>}, verifies with a key of
// keys over the signed bytes.
func checkSignature(env []byte, keys map[string]ed25519.PublicKey) error {
	const head, sep = `{"signatures":`, `],"signed":`
	i := bytes.Index(env, []byte(sep))
	if !bytes.HasPrefix(env, []byte(head)) || i < 0 || !bytes.HasSuffix(env, []byte("}")) {
		return errors.New("not a generated envelope")
	}
	var sigs []struct {
		KeyID string `json:"keyid"`
		Sig   string `json:"sig"`
	}
	if err := json.Unmarshal(env[len(head):i+1], &sigs); err != nil {
		return err
	}
	signed := env[i+len(sep) : len(env)-1]
	for _, s := range sigs {
		sig, err := hex.DecodeString(s.Sig)
		if pub, ok := keys[s.KeyID]; ok && err == nil && ed25519.Verify(pub, signed, sig) {
			return nil
		}
	}
	return errors.New("no valid signature")
}

// get fetches url, wants the status want, and returns the body, hashed into
// h while it arrives if h is not nil.
func get(ctx context.Context, url string, want int, h hash.Hash) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		return nil, fmt.Errorf("GET %s: %s, want %d", url, resp.Status, want)
	}
	var buf bytes.Buffer
	if resp.ContentLength > 0 {
		buf.Grow(int(resp.ContentLength))
	}
	w := io.Writer(&buf)
	if h != nil {
		w = io.MultiWriter(&buf, h)
	}
	_, err = io.Copy(w, resp.Body)
	return buf.Bytes(), err
}

// plainGet is the floor of a download: GET, sha256 while writing to a file,
// compare, optionally fsync. The parent removes the file, untimed.
func plainGet(url, dest string, size int64, sum string, sync bool) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(dest)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(f, h), resp.Body, make([]byte, 256<<10))
	if err != nil {
		return err
	}
	if n != size || hex.EncodeToString(h.Sum(nil)) != sum {
		return fmt.Errorf("GET %s: %d bytes, sha256 mismatch or wrong length", url, n)
	}
	if sync {
		if err := f.Sync(); err != nil {
			return err
		}
	}
	return f.Close()
}
