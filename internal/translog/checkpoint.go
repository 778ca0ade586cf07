package translog

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/latchsec/latch/transparency"
)

// MaxCheckpointSize bounds a checkpoint note: room for the three lines and
// a hundred signatures (as many as golang.org/x/mod/sumdb/note reads), far
// more than the 16 that C2SP signed-note requires a verifier to accept,
// while two notes still fit in one audit record.
const MaxCheckpointSize = 64 << 10

// Policy says which log to trust and how much: its origin line, its
// checkpoint key, and optionally witnesses that must cosign.
type Policy struct {
	// Origin is the log's identity, the first line of its checkpoints
	// (C2SP tlog-checkpoint), such as "example.com/releases".
	Origin string
	// LogKey is the log's Ed25519 note verifier key (C2SP signed-note,
	// signature type 0x01): "<name>+<key ID>+<base64 key>".
	LogKey string
	// WitnessKeys are the verifier keys of witnesses whose cosignatures
	// (C2SP tlog-cosignature, cosignature/v1, signature type 0x04) count
	// toward WitnessThreshold. Each must be a different key.
	WitnessKeys []string
	// WitnessThreshold is how many distinct witnesses must cosign a
	// checkpoint: 0 without witnesses, 1 to len(WitnessKeys) with them.
	WitnessThreshold int
}

// A Verifier opens checkpoints under one Policy. It is safe for concurrent
// use.
type Verifier struct {
	origin    string
	log       note.Verifier
	witnesses map[nameHash]bool
	threshold int
	known     note.Verifiers
}

type nameHash struct {
	name string
	hash uint32
}

// NewVerifier checks p and returns its Verifier. A witness key that is not a
// cosignature/v1 key, that repeats another witness's public key (cosignature/v1
// does not sign the witness's name, so one key under two names would count
// twice) or that is the log's own key, and a threshold out of range, are
// errors.
func NewVerifier(p Policy) (*Verifier, error) {
	if p.Origin == "" || !validName(p.Origin) {
		return nil, fmt.Errorf("log policy: origin %q: want a non-empty line", p.Origin)
	}
	logV, err := note.NewVerifier(p.LogKey)
	if err != nil {
		return nil, fmt.Errorf("log policy: log key %q: %v (want an Ed25519 note verifier key)", p.LogKey, err)
	}
	// note.NewVerifier accepted "<name>+<id>+base64(0x01 || key)". The name
	// and the id hold no '+'; the base64 may.
	parts := strings.SplitN(p.LogKey, "+", 3)
	logKey, err := base64.StdEncoding.DecodeString(parts[len(parts)-1])
	if err != nil || len(parts) != 3 || len(logKey) != 1+ed25519.PublicKeySize {
		return nil, fmt.Errorf("log policy: log key %q: want an Ed25519 note verifier key", p.LogKey)
	}
	logPub := logKey[1:]
	if p.WitnessThreshold < 0 || p.WitnessThreshold > len(p.WitnessKeys) || (len(p.WitnessKeys) > 0 && p.WitnessThreshold == 0) {
		return nil, fmt.Errorf("log policy: witness threshold %d of %d witness keys: want 0 without witnesses, 1 to %d with them",
			p.WitnessThreshold, len(p.WitnessKeys), len(p.WitnessKeys))
	}
	v := &Verifier{origin: p.Origin, log: logV, witnesses: map[nameHash]bool{}, threshold: p.WitnessThreshold}
	list := []note.Verifier{logV}
	pubs := map[string]bool{}
	for _, k := range p.WitnessKeys {
		w, err := newCosignatureVerifier(k)
		if err != nil {
			return nil, fmt.Errorf("log policy: witness key %q: %w", k, err)
		}
		key := string(w.pub)
		if pubs[key] || bytes.Equal(logPub, w.pub) {
			return nil, fmt.Errorf("log policy: witness key %q: the same public key as another witness or the log; each witness needs a key of its own", k)
		}
		id := nameHash{w.name, w.hash}
		if v.witnesses[id] || id == (nameHash{logV.Name(), logV.KeyHash()}) {
			return nil, fmt.Errorf("log policy: witness key %q: name and key ID already used", k)
		}
		pubs[key], v.witnesses[id] = true, true
		list = append(list, w)
	}
	v.known = note.VerifierList(list...)
	return v, nil
}

// Origin returns the origin the Verifier accepts.
func (v *Verifier) Origin() string { return v.origin }

// Open verifies a checkpoint note and returns it: a valid Ed25519
// signature by the log key, a well-formed body (C2SP tlog-checkpoint) whose
// origin is the policy's, and at least the threshold of valid witness
// cosignatures. Signatures by keys the policy does not list are ignored (C2SP
// signed-note); an invalid signature by a listed key fails the whole note.
func (v *Verifier) Open(msg []byte) (*transparency.Checkpoint, error) {
	if len(msg) > MaxCheckpointSize {
		return nil, fmt.Errorf("%w: checkpoint of %d bytes, more than %d", transparency.ErrMalformed, len(msg), MaxCheckpointSize)
	}
	n, err := note.Open(msg, v.known)
	var invalid *note.InvalidSignatureError
	var unverified *note.UnverifiedNoteError
	switch {
	case errors.As(err, &invalid) && v.witnesses[nameHash{invalid.Name, invalid.Hash}]:
		return nil, &transparency.WitnessError{Threshold: v.threshold, Invalid: invalid.Name}
	case errors.As(err, &invalid):
		return nil, &transparency.SignatureError{Key: v.log.Name(), Reason: "invalid signature by the log key"}
	case errors.As(err, &unverified):
		return nil, &transparency.SignatureError{Key: v.log.Name(), Reason: "no signature by the log key"}
	case err != nil:
		return nil, fmt.Errorf("%w: checkpoint: %v", transparency.ErrMalformed, err)
	}
	var logSigned bool
	var cosigned []transparency.Cosignature
	for _, s := range n.Sigs {
		id := nameHash{s.Name, s.Hash}
		if !v.witnesses[id] {
			logSigned = logSigned || id == nameHash{v.log.Name(), v.log.KeyHash()}
			continue
		}
		sig, _ := base64.StdEncoding.DecodeString(s.Base64) // note.Open decoded and verified it
		cosigned = append(cosigned, transparency.Cosignature{Witness: s.Name, Time: time.Unix(int64(binary.BigEndian.Uint64(sig[4:])), 0).UTC()})
	}
	if !logSigned {
		return nil, &transparency.SignatureError{Key: v.log.Name(), Reason: "no signature by the log key"}
	}
	cp, err := parseCheckpoint(n.Text)
	if err != nil {
		return nil, err
	}
	if cp.Origin != v.origin {
		return nil, &transparency.OriginError{Got: cp.Origin, Want: v.origin}
	}
	if len(cosigned) < v.threshold {
		names := make([]string, len(cosigned))
		for i, c := range cosigned {
			names[i] = c.Witness
		}
		return nil, &transparency.WitnessError{Cosigned: names, Threshold: v.threshold}
	}
	cp.Note = bytes.Clone(msg)
	cp.Cosigned = cosigned
	return cp, nil
}

// parseCheckpoint reads the body of a signed checkpoint: origin, tree size
// in decimal without leading zeros, base64 root hash, then optional
// non-empty extension lines (which this client ignores).
func parseCheckpoint(text string) (*transparency.Checkpoint, error) {
	bad := func(what string) (*transparency.Checkpoint, error) {
		return nil, fmt.Errorf("%w: checkpoint: %s", transparency.ErrMalformed, what)
	}
	lines := strings.Split(text, "\n")
	if len(lines) < 4 || lines[len(lines)-1] != "" {
		return bad("fewer than three lines")
	}
	for _, l := range lines[:len(lines)-1] {
		if l == "" {
			return bad("empty line")
		}
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return bad(fmt.Sprintf("tree size %q", lines[1]))
	}
	hash, err := tlog.ParseHash(lines[2])
	if err != nil || hash.String() != lines[2] {
		return bad(fmt.Sprintf("root hash %q", lines[2]))
	}
	if size == 0 && hash != emptyTree {
		return bad("an empty tree whose root is not the hash of nothing")
	}
	return &transparency.Checkpoint{Origin: lines[0], Size: size, Hash: hash}, nil
}

// emptyTree is the root of the empty tree (RFC 6962: SHA-256 of nothing).
var emptyTree = tlog.Hash(sha256.Sum256(nil))

// cosignatureVerifier verifies Ed25519 witness cosignatures of
// C2SP tlog-cosignature (cosignature/v1). Unlike the log's note signature,
// which signs the note text itself, a cosignature is 8 bytes of big-endian
// timestamp then an Ed25519 signature over
//
//	cosignature/v1\n
//	time <timestamp>\n
//	<note text>
type cosignatureVerifier struct {
	name string
	hash uint32
	pub  ed25519.PublicKey
}

const (
	sigTypeCosignatureV1 = 0x04
	cosignatureSize      = 8 + ed25519.SignatureSize
)

// newCosignatureVerifier parses a vkey "<name>+<key ID>+base64(0x04 || key)"
// whose key ID is SHA-256(name || "\n" || 0x04 || key)[:4], as the spec
// requires.
func newCosignatureVerifier(vkey string) (*cosignatureVerifier, error) {
	name, rest, _ := strings.Cut(vkey, "+")
	id, key64, _ := strings.Cut(rest, "+")
	hash, err1 := strconv.ParseUint(id, 16, 32)
	key, err2 := base64.StdEncoding.DecodeString(key64)
	if len(id) != 8 || err1 != nil || err2 != nil || name == "" || strings.ContainsAny(name, "+ \t\n") || !validName(name) {
		return nil, fmt.Errorf("not a verifier key <name>+<key ID>+<base64 key>")
	}
	if len(key) != 1+ed25519.PublicKeySize || key[0] != sigTypeCosignatureV1 {
		return nil, fmt.Errorf("not an Ed25519 cosignature/v1 key (signature type 0x04)")
	}
	if sum := sha256.Sum256([]byte(name + "\n" + string(key))); binary.BigEndian.Uint32(sum[:4]) != uint32(hash) {
		return nil, fmt.Errorf("key ID %s does not match the name and key", id)
	}
	return &cosignatureVerifier{name: name, hash: uint32(hash), pub: ed25519.PublicKey(key[1:])}, nil
}

func (c *cosignatureVerifier) Name() string    { return c.name }
func (c *cosignatureVerifier) KeyHash() uint32 { return c.hash }

func (c *cosignatureVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != cosignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig)
	if t > 1<<63-1 {
		return false
	}
	m := make([]byte, 0, 64+len(msg))
	m = append(m, "cosignature/v1\ntime "...)
	m = strconv.AppendUint(m, t, 10)
	m = append(m, '\n')
	m = append(m, msg...)
	return ed25519.Verify(c.pub, m, sig[8:])
}

// validName reports whether s can be a checkpoint's origin or a witness's
// name: non-empty valid UTF-8 without control characters.
func validName(s string) bool {
	return s != "" && utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
}
