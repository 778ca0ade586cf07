package metadata

import (
	"fmt"
	"maps"
	"slices"

	"github.com/latchsec/latch/verify"
)

// Top-level role names (spec §2.1).
const (
	RoleRoot      = "root"
	RoleTimestamp = "timestamp"
	RoleSnapshot  = "snapshot"
	RoleTargets   = "targets"
)

var topLevelRoles = []string{RoleRoot, RoleTimestamp, RoleSnapshot, RoleTargets}

// Root is verified root metadata (spec §4.3). It is safe for concurrent use:
// nothing changes it after Open.
type Root struct {
	header
	consistentSnapshot bool
	keys               map[string]*verify.PublicKey
	roles              map[string]RoleKeys
	signers            []string
	raw                []byte
}

// OpenRoot verifies and decodes root metadata.
//
// With trusted == nil, data is the root the application trusts by fiat (its
// embedded root): it must still be signed by a threshold of its own root keys.
// Otherwise data is a candidate new root, which must be signed by a threshold
// of trusted's root keys and by a threshold of its own (spec §5.3.4, §5.3.5).
// The version rule (exactly trusted+1, §5.3.5) and expiry are the client's.
func OpenRoot(data []byte, trusted *Root) (*Root, error) {
	r, err := openRoot(data, trusted)
	if err != nil {
		v := int64(0)
		if r != nil {
			v = r.version
		}
		return nil, &Error{Role: RoleRoot, Version: v, Err: err}
	}
	return r, nil
}

func openRoot(data []byte, trusted *Root) (*Root, error) {
	env, err := splitEnvelope(data)
	if err != nil {
		return nil, err
	}
	var oldSigners []string
	if trusted != nil {
		// §5.3.4: signed by a threshold of the trusted root's root keys.
		if oldSigners, err = env.check(trusted.roles[RoleRoot]); err != nil {
			return nil, err
		}
	}
	r, err := decodeRoot(env, data)
	if err != nil {
		return r, err
	}
	// §5.3.5 (and §5.2 for the embedded root): signed by a threshold of its
	// own root keys.
	selfSigners, err := env.check(r.roles[RoleRoot])
	if err != nil {
		return r, err
	}
	r.signers = mergeSorted(oldSigners, selfSigners)
	return r, nil
}

// decodeRoot decodes the root that env holds, received as data, without
// checking its signatures. On error, the root returned holds the version if
// it was read.
func decodeRoot(env *envelope, data []byte) (*Root, error) {
	o, err := parseObject(env.canonical, "signed")
	if err != nil {
		return nil, err
	}
	h, err := parseHeader(o, RoleRoot)
	r := &Root{header: h, raw: data}
	if err != nil {
		// h holds the version if it was read before the error.
		return r, err
	}
	return r, r.decodeBody(o)
}

// decodeBody decodes what follows the header (spec §4.3).
func (r *Root) decodeBody(o object) error {
	var err error
	if r.consistentSnapshot, err = o.boolean("consistent_snapshot"); err != nil {
		return err
	}
	keysRaw, err := o.required("keys")
	if err != nil {
		return err
	}
	if r.keys, err = parseKeys(keysRaw); err != nil {
		return err
	}
	roles, err := o.obj("roles")
	if err != nil {
		return err
	}
	r.roles = make(map[string]RoleKeys, len(topLevelRoles))
	for _, name := range topLevelRoles {
		raw, ok := roles[name]
		if !ok {
			return invalid("roles: %q is missing", name)
		}
		ro, err := parseObject(raw, fmt.Sprintf("role %q", name))
		if err != nil {
			return err
		}
		if r.roles[name], err = parseRoleKeys(name, ro, r.keys); err != nil {
			return err
		}
	}
	return nil
}

func mergeSorted(a, b []string) []string {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}

// ConsistentSnapshot reports whether the repository uses consistent
// snapshots (spec §5.5.x, §5.7): versioned metadata and hash-prefixed targets.
func (r *Root) ConsistentSnapshot() bool { return r.consistentSnapshot }

// RoleKeys returns the keys and threshold root assigns to a top-level role.
func (r *Root) RoleKeys(role string) (RoleKeys, bool) {
	rk, ok := r.roles[role]
	if !ok {
		return RoleKeys{}, false
	}
	rk.KeyIDs = slices.Clone(rk.KeyIDs)
	rk.Keys = maps.Clone(rk.Keys)
	return rk, true
}

// SameKeys reports whether role has the same threshold and the same keys (by
// ID and by key material) in r and other. The client uses it for
// fast-forward recovery (spec §5.3.11).
func (r *Root) SameKeys(other *Root, role string) bool {
	a, b := r.roles[role], other.roles[role]
	if a.Threshold != b.Threshold || len(a.KeyIDs) != len(b.KeyIDs) {
		return false
	}
	ids := slices.Sorted(slices.Values(a.KeyIDs))
	otherIDs := slices.Sorted(slices.Values(b.KeyIDs))
	if !slices.Equal(ids, otherIDs) {
		return false
	}
	for _, id := range ids {
		ka, kb := r.keys[id], other.keys[id]
		if (ka == nil) != (kb == nil) || (ka != nil && !ka.Equal(kb)) {
			return false
		}
	}
	return true
}

// Signers returns the key IDs whose signatures counted when this root was
// opened (both the trusted root's and its own), sorted: evidence for audit.
func (r *Root) Signers() []string { return slices.Clone(r.signers) }

// Bytes returns the document exactly as received.
func (r *Root) Bytes() []byte { return r.raw }
