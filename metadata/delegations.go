package metadata

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/latchsec/latch/internal/cjson"
	"github.com/latchsec/latch/verify"
)

// Delegations is the "delegations" object of targets metadata (spec §4.5),
// with either an ordered list of roles or TAP 15 succinct hash bins.
type Delegations struct {
	keys     map[string]*verify.PublicKey
	roles    []DelegatedRole
	succinct *SuccinctRoles
}

// DelegatedRole is one entry of "roles", in priority order (spec §4.5).
type DelegatedRole struct {
	Name        string
	Threshold   int
	KeyIDs      []string
	Terminating bool
	// At most one of Paths and PathHashPrefixes is set; with neither, the
	// role is trusted for no target.
	Paths            []string
	PathHashPrefixes []string // lowercase hex
}

// SuccinctRoles describes 2^BitLength hash bins (TAP 15) named
// NamePrefix-<hex>, all with the same keys and threshold, none terminating.
type SuccinctRoles struct {
	Threshold  int
	KeyIDs     []string
	BitLength  int
	NamePrefix string
}

// Child is a delegated role trusted for a target path: the keys to verify it
// with and whether the search stops after it (spec §5.6.7.2).
type Child struct {
	RoleKeys
	Terminating bool
}

func parseDelegations(raw []byte) (*Delegations, error) {
	o, err := parseObject(raw, `"delegations"`)
	if err != nil {
		return nil, err
	}
	d := &Delegations{}
	keysRaw, err := o.required("keys")
	if err != nil {
		return nil, err
	}
	if d.keys, err = parseKeys(keysRaw); err != nil {
		return nil, err
	}
	rolesRaw, hasRoles := o["roles"]
	succRaw, hasSucc := o["succinct_roles"]
	switch {
	case hasRoles && hasSucc:
		return nil, invalid(`both "roles" and "succinct_roles" are set (TAP 15 allows one)`)
	case hasSucc:
		d.succinct, err = parseSuccinct(succRaw, d.keys)
		return d, err
	case !hasRoles:
		return nil, malformed(`missing "roles"`)
	}
	if rolesRaw[0] != '[' {
		return nil, malformed(`"roles" must be an array`)
	}
	seen := make(map[string]bool)
	err = cjson.ElementsValid(rolesRaw, func(e []byte) error {
		r, err := parseDelegatedRole(e, d.keys)
		if err != nil {
			return err
		}
		if seen[r.Name] {
			return invalid("role %q is delegated twice", r.Name)
		}
		seen[r.Name] = true
		d.roles = append(d.roles, r)
		return nil
	})
	return d, err
}

func parseDelegatedRole(raw []byte, keys map[string]*verify.PublicKey) (DelegatedRole, error) {
	var r DelegatedRole
	o, err := parseObject(raw, "delegated role")
	if err != nil {
		return r, err
	}
	if r.Name, err = o.str("name"); err != nil {
		return r, err
	}
	// A delegated role named like a top-level role would share its metadata
	// file name and its trusted-state record.
	if slices.Contains(topLevelRoles, r.Name) {
		return r, invalid("delegated role uses the top-level role name %q", r.Name)
	}
	rk, err := parseRoleKeys(r.Name, o, keys)
	if err != nil {
		return r, err
	}
	r.KeyIDs, r.Threshold = rk.KeyIDs, rk.Threshold
	if r.Terminating, err = o.boolean("terminating"); err != nil {
		return r, fmt.Errorf("role %q: %w", r.Name, err)
	}
	hasPaths, hasPrefixes := o.has("paths"), o.has("path_hash_prefixes")
	if hasPaths && hasPrefixes {
		return r, invalid(`role %q: both "paths" and "path_hash_prefixes" are set`, r.Name)
	}
	if hasPaths {
		if r.Paths, err = o.strings("paths"); err != nil {
			return r, fmt.Errorf("role %q: %w", r.Name, err)
		}
	}
	if hasPrefixes {
		if r.PathHashPrefixes, err = o.strings("path_hash_prefixes"); err != nil {
			return r, fmt.Errorf("role %q: %w", r.Name, err)
		}
		for i, p := range r.PathHashPrefixes {
			if !isHexString(p) {
				return r, invalid("role %q: path_hash_prefix %q is not hex", r.Name, p)
			}
			r.PathHashPrefixes[i] = strings.ToLower(p)
		}
	}
	return r, nil
}

func isHexString(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}

func parseSuccinct(raw []byte, keys map[string]*verify.PublicKey) (*SuccinctRoles, error) {
	o, err := parseObject(raw, `"succinct_roles"`)
	if err != nil {
		return nil, err
	}
	s := &SuccinctRoles{}
	if s.NamePrefix, err = o.str("name_prefix"); err != nil {
		return nil, err
	}
	bits, err := o.int("bit_length")
	if err != nil {
		return nil, err
	}
	if bits < 1 || bits > 32 {
		return nil, invalid("succinct_roles: bit_length %d is outside 1..32", bits)
	}
	s.BitLength = int(bits)
	rk, err := parseRoleKeys(s.NamePrefix, o, keys)
	if err != nil {
		return nil, err
	}
	s.KeyIDs, s.Threshold = rk.KeyIDs, rk.Threshold
	return s, nil
}

// Roles returns a copy of the delegated roles in priority order (nil for
// succinct delegations).
func (d *Delegations) Roles() []DelegatedRole {
	if d.roles == nil {
		return nil
	}
	out := make([]DelegatedRole, len(d.roles))
	for i, r := range d.roles {
		r.KeyIDs = slices.Clone(r.KeyIDs)
		r.Paths = slices.Clone(r.Paths)
		r.PathHashPrefixes = slices.Clone(r.PathHashPrefixes)
		out[i] = r
	}
	return out
}

// Succinct returns a copy of the succinct hash bins, nil if the roles are
// listed.
func (d *Delegations) Succinct() *SuccinctRoles {
	if d.succinct == nil {
		return nil
	}
	s := *d.succinct
	s.KeyIDs = slices.Clone(s.KeyIDs)
	return &s
}

// Children returns, in priority order, the delegated roles trusted for the
// target path (spec §5.6.7.2; TAP 15: the one bin the path hashes to).
func (d *Delegations) Children(target string) []Child {
	if d.succinct != nil {
		return []Child{{RoleKeys: d.roleKeys(d.succinct.BinName(target), d.succinct.Threshold, d.succinct.KeyIDs)}}
	}
	var out []Child
	for _, r := range d.roles {
		if r.Matches(target) {
			out = append(out, Child{RoleKeys: d.roleKeys(r.Name, r.Threshold, r.KeyIDs), Terminating: r.Terminating})
		}
	}
	return out
}

func (d *Delegations) roleKeys(name string, threshold int, ids []string) RoleKeys {
	keys := make(map[string]*verify.PublicKey, len(ids))
	for _, id := range ids {
		keys[id] = d.keys[id]
	}
	return RoleKeys{Name: name, Threshold: threshold, KeyIDs: slices.Clone(ids), Keys: keys}
}

// Matches reports whether the role is trusted for target (spec §4.5): a
// path_hash_prefix of the hex SHA-256 of the path, or a PATHPATTERN in which
// wildcards never match the "/" separator.
func (r DelegatedRole) Matches(target string) bool {
	if r.PathHashPrefixes != nil {
		sum := sha256.Sum256([]byte(target))
		digest := hex.EncodeToString(sum[:])
		for _, p := range r.PathHashPrefixes {
			if strings.HasPrefix(digest, p) {
				return true
			}
		}
		return false
	}
	for _, p := range r.Paths {
		if matchPattern(p, target) {
			return true
		}
	}
	return false
}

// matchPattern matches segment by segment, so that no wildcard or character
// class can match a "/" and both must have as many segments.
func matchPattern(pattern, target string) bool {
	ps, ts := strings.Split(pattern, "/"), strings.Split(target, "/")
	if len(ps) != len(ts) {
		return false
	}
	for i := range ps {
		ok, err := path.Match(ps[i], ts[i])
		if err != nil || !ok {
			return false
		}
	}
	return true
}

// BinName returns the name of the bin that target belongs to: the first
// BitLength bits of SHA-256(target), as zero-padded hex after NamePrefix and
// a hyphen (TAP 15).
func (s *SuccinctRoles) BinName(target string) string {
	sum := sha256.Sum256([]byte(target))
	bin := binary.BigEndian.Uint32(sum[:4]) >> (32 - s.BitLength)
	return s.binName(bin)
}

// binName formats bin as BinName does, in one allocation (a lookup that
// reaches a bin names it).
func (s *SuccinctRoles) binName(bin uint32) string {
	const digits = "0123456789abcdef"
	width := (s.BitLength + 3) / 4
	var b strings.Builder
	b.Grow(len(s.NamePrefix) + 1 + width)
	b.WriteString(s.NamePrefix)
	b.WriteByte('-')
	for i := width - 1; i >= 0; i-- {
		b.WriteByte(digits[bin>>(4*i)&0xf])
	}
	return b.String()
}

// IsBin reports whether name is one of the 2^BitLength bins.
func (s *SuccinctRoles) IsBin(name string) bool {
	suffix, ok := strings.CutPrefix(name, s.NamePrefix+"-")
	width := (s.BitLength + 3) / 4
	if !ok || len(suffix) != width || !isHexString(suffix) || strings.ToLower(suffix) != suffix {
		return false
	}
	var bin uint64
	for _, c := range []byte(suffix) {
		bin = bin<<4 | uint64(hexValue(c))
	}
	return bin < 1<<s.BitLength
}

func hexValue(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'a' + 10
}

// Keys returns the delegation's key map (key ID to key; nil values for keys
// of unsupported types).
func (d *Delegations) Keys() map[string]*verify.PublicKey { return maps.Clone(d.keys) }
