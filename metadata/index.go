package metadata

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/latchsec/latch/internal/cjson"
)

// A targets index lets a client reopen cached targets metadata without a
// second pass over it. docs/decisions.md ("The local disk") settles that a cache file
// whose hash matches the trusted state's record was verified before and
// needs no second signature check; the index goes one step further and
// spares the canonical check and the scan that builds the key offsets, which
// for 100,000 targets are most of what a start-up costs.
//
// The index is derived data about exact bytes: it names their SHA-256, and
// a checksum of its own guards against corruption. Like the cache and the
// trusted state it lives in the state directory, which the OS protects like
// the executable: an attacker who can write there has already won.

// wireSpan locates canonical received bytes: "signed" at signedOff (length
// signedLen) in them, and its "targets" value at targetsOff in signed.
// signedLen == 0 means the received bytes were not canonical.
type wireSpan struct {
	signedOff, signedLen, targetsOff int
}

const indexMagic = "latch targets index v1\n"

// errStop ends a walk early.
var errStop = errors.New("stop")

// targetsOffset returns where the value of "targets" starts in a canonical
// "signed" object. Its keys are sorted: only those before "targets" are
// walked.
func targetsOffset(signed []byte) int {
	at := -1
	_ = cjson.MembersValid(signed, func(off int, k, _ []byte) error {
		if cjson.KeyIs(k, "targets") {
			at = valueOffset(off, k)
			return errStop
		}
		return nil
	})
	return at
}

// Index returns the lookup index of t for the exact bytes it was opened from,
// whose SHA-256 is digest, to keep beside them; false if those bytes were not
// canonical (the index points into them, and a client then reopens them with
// OpenTargets).
func (t *Targets) Index(digest [sha256.Size]byte) ([]byte, bool) {
	if t.wire.signedLen == 0 || t.wire.targetsOff < 0 {
		return nil, false
	}
	b := make([]byte, 0, len(indexMagic)+sha256.Size+5*8+4*len(t.offsets)+sha256.Size)
	b = append(b, indexMagic...)
	b = append(b, digest[:]...)
	for _, v := range []int{t.wire.signedOff, t.wire.signedLen, t.wire.targetsOff, len(t.targets), len(t.offsets)} {
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	for _, off := range t.offsets {
		b = binary.LittleEndian.AppendUint32(b, off)
	}
	sum := sha256.Sum256(b)
	return append(b, sum[:]...), true
}

// ReopenTargets reopens targets metadata of role name that an earlier
// OpenTargets accepted, read back from a cache: data must hash to digest,
// which the caller recorded in its trusted state after that OpenTargets
// succeeded on the same bytes and with keys it still trusts (for top-level
// targets: the same root), and index must be the one Index gave for them.
// The signature threshold, the validation of every entry and the key index
// are not computed again; the header (type, spec_version, version, expires)
// and the delegations are decoded again, and version and expiry are the
// caller's to check as always. Any mismatch is an error wrapping ErrInvalid:
// the caller then opens data with OpenTargets.
func ReopenTargets(data, index []byte, name string, digest [sha256.Size]byte) (*Targets, error) {
	t := &Targets{name: name}
	if err := t.reopen(data, index, digest); err != nil {
		return nil, &Error{Role: name, Version: t.version, Err: fmt.Errorf("%w: reopening from the cache: %w", ErrInvalid, err)}
	}
	return t, nil
}

func (t *Targets) reopen(data, index []byte, digest [sha256.Size]byte) error {
	fixed := len(indexMagic) + sha256.Size + 5*8
	if len(index) < fixed+sha256.Size || !bytes.HasPrefix(index, []byte(indexMagic)) {
		return errors.New("not a targets index")
	}
	body, sum := index[:len(index)-sha256.Size], index[len(index)-sha256.Size:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) {
		return errors.New("index checksum mismatch")
	}
	if !bytes.Equal(body[len(indexMagic):len(indexMagic)+sha256.Size], digest[:]) {
		return errors.New("index is for other bytes")
	}
	if got := sha256.Sum256(data); got != digest {
		return errors.New("cached bytes differ from the recorded ones")
	}
	var v [5]uint64
	for i := range v {
		v[i] = binary.LittleEndian.Uint64(body[len(indexMagic)+sha256.Size+8*i:])
	}
	signedOff, signedLen, targetsOff, targetsLen, n := v[0], v[1], v[2], v[3], v[4]
	switch {
	case uint64(len(body)-fixed) != 4*n,
		signedOff > uint64(len(data)) || signedLen > uint64(len(data))-signedOff,
		targetsOff > signedLen || targetsLen > signedLen-targetsOff || targetsLen < 2,
		targetsLen > math.MaxUint32:
		return errors.New("index out of bounds")
	}
	signed := data[signedOff : signedOff+signedLen]
	targets := signed[targetsOff : targetsOff+targetsLen]
	if signed[0] != '{' || targets[0] != '{' || targets[len(targets)-1] != '}' {
		return errors.New("index does not point at the targets object")
	}
	t.offsets = make([]uint32, n)
	prev := uint32(0)
	for i := range t.offsets {
		off := binary.LittleEndian.Uint32(body[fixed+4*i:])
		if off <= prev || uint64(off) >= targetsLen-1 || targets[off] != '"' || (targets[off-1] != '{' && targets[off-1] != ',') {
			return errors.New("index offsets are not member keys")
		}
		t.offsets[i], prev = off, off
	}
	t.targets = targets
	// The header and the delegations, from "signed" with the targets map
	// left out: canonical JSON stays canonical with an empty object there.
	rest := make([]byte, 0, len(signed)-len(targets)+2)
	rest = append(append(append(rest, signed[:targetsOff]...), "{}"...), signed[targetsOff+targetsLen:]...)
	o, err := parseObject(rest, "signed")
	if err != nil {
		return err
	}
	if t.header, err = parseHeader(o, RoleTargets); err != nil {
		return err
	}
	if d, ok := o["delegations"]; ok {
		if t.delegations, err = parseDelegations(d); err != nil {
			return fmt.Errorf("delegations: %w", err)
		}
	}
	t.wire = wireSpan{signedOff: int(signedOff), signedLen: int(signedLen), targetsOff: int(targetsOff)}
	return nil
}
