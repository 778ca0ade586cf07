package metadata

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"

	tuf "github.com/theupdateframework/go-tuf/v2/metadata"
)

func TestDelegationsRoles(t *testing.T) {
	set := newVectorSet(t)
	d := set.targetsDoc("targets-delegations.vec").Delegations()
	if d == nil || d.Succinct() != nil {
		t.Fatalf("Delegations() = %v", d)
	}
	roles := d.Roles()
	var names []string
	for _, r := range roles {
		names = append(names, r.Name)
	}
	if want := []string{"role-none", "role-paths", "role-prefix", "role-terminating", "role-after"}; !slices.Equal(names, want) {
		t.Fatalf("roles in order %q, want %q", names, want)
	}
	sum := sha256.Sum256([]byte("prefix/file.txt"))
	checks := []struct {
		r        DelegatedRole
		th       int
		keys     int
		term     bool
		paths    []string
		prefixes []string
	}{
		{roles[0], 1, 1, false, nil, nil},
		{roles[1], 1, 1, false, []string{"targets/*.tgz", "foo-version-?.tgz"}, nil},
		{roles[2], 1, 1, false, nil, []string{"00", hex.EncodeToString(sum[:])[:3]}},
		{roles[3], 2, 2, true, []string{"*"}, nil},
		{roles[4], 1, 1, false, []string{"*"}, nil},
	}
	for _, c := range checks {
		if c.r.Threshold != c.th || len(c.r.KeyIDs) != c.keys || c.r.Terminating != c.term ||
			!slices.Equal(c.r.Paths, c.paths) || !slices.Equal(c.r.PathHashPrefixes, c.prefixes) {
			t.Errorf("%s = %+v", c.r.Name, c.r)
		}
	}
	if keys := d.Keys(); len(keys) != 2 {
		t.Errorf("Keys() has %d keys, want 2", len(keys))
	}

	// Roles and Keys return copies.
	roles[1].Name = "changed"
	roles[1].Paths[0] = "*"
	roles[1].KeyIDs[0] = "attacker"
	roles[2].PathHashPrefixes[0] = ""
	keys := d.Keys()
	clear(keys)
	again := d.Roles()
	if again[1].Name != "role-paths" || again[1].Paths[0] != "targets/*.tgz" || again[1].KeyIDs[0] == "attacker" || again[2].PathHashPrefixes[0] != "00" {
		t.Errorf("Roles() changed through a returned value: %+v", again)
	}
	if len(d.Keys()) != 2 {
		t.Error("Keys() changed through a returned map")
	}
	if c := d.Children("anything.txt"); len(c) != 2 || c[0].Keys[c[0].KeyIDs[0]] == nil {
		t.Errorf("Children after changing copies = %+v", c)
	}
}

// TestDelegationsChildren: the roles trusted for a path, in the delegator's
// order, each with only its own keys; Children does not stop at a
// terminating role (that is the client's walk).
func TestDelegationsChildren(t *testing.T) {
	set := newVectorSet(t)
	d := set.targetsDoc("targets-delegations.vec").Delegations()
	type child struct {
		name string
		term bool
		th   int
	}
	tests := []struct {
		target string
		want   []child
	}{
		{"targets/app.tgz", []child{{"role-paths", false, 1}}},
		{"foo-version-1.tgz", []child{{"role-paths", false, 1}, {"role-terminating", true, 2}, {"role-after", false, 1}}},
		{"anything.txt", []child{{"role-terminating", true, 2}, {"role-after", false, 1}}},
		{"prefix/file.txt", []child{{"role-prefix", false, 1}}},
		{"a/b/c", nil},
		{"targets/sub/app.tgz", nil},
	}
	all := d.Roles()
	for _, tt := range tests {
		var got []child
		for _, c := range d.Children(tt.target) {
			got = append(got, child{c.Name, c.Terminating, c.Threshold})
			i := slices.IndexFunc(all, func(r DelegatedRole) bool { return r.Name == c.Name })
			if i < 0 || !slices.Equal(c.KeyIDs, all[i].KeyIDs) || len(c.Keys) != len(c.KeyIDs) {
				t.Errorf("%s: child %s has keys %v, %d keys", tt.target, c.Name, c.KeyIDs, len(c.Keys))
			}
			for _, id := range c.KeyIDs {
				if c.Keys[id] == nil {
					t.Errorf("%s: child %s lacks key %s", tt.target, c.Name, id)
				}
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Children(%q) = %v, want %v", tt.target, got, tt.want)
		}
	}

	// Each child's RoleKeys verify its own document and name it, and not
	// another role's document.
	children := d.Children("anything.txt")
	tg, err := OpenTargets(readVector(t, "role-terminating.vec").body, children[0].RoleKeys)
	if err != nil || tg.Name() != "role-terminating" {
		t.Errorf("role-terminating.vec: %v", err)
	}
	if _, err := OpenTargets(readVector(t, "role-paths.vec").body, children[1].RoleKeys); err == nil {
		t.Error("role-paths.vec verified with the keys of role-after")
	}
}

// TestMatchesPaths: PATHPATTERN per spec §4.5; "*" and "?" and character
// classes never match the "/" separator.
func TestMatchesPaths(t *testing.T) {
	tests := []struct {
		pattern string
		match   []string
		noMatch []string
	}{
		// The spec's examples.
		{"targets/*.tgz", []string{"targets/foo.tgz", "targets/.tgz"}, []string{"foo.tgz", "targets/foo.tar.gz", "targets/sub/foo.tgz", "other/foo.tgz"}},
		{"foo-version-?.tgz", []string{"foo-version-2.tgz", "foo-version-a.tgz"}, []string{"foo-version-10.tgz", "foo-version-.tgz", "foo-version-/.tgz"}},
		{"*.tgz", []string{"foo.tgz", "bar.tgz"}, []string{"targets/foo.tgz", "foo.tgz/x", "foo.tgzx"}},
		{"foo.tgz", []string{"foo.tgz"}, []string{"foo.tgzz", "afoo.tgz", "dir/foo.tgz", "foo_tgz"}},
		// The separator is never matched by a wildcard or class.
		{"*", []string{"a", "a.b", ""}, []string{"a/b", "/a", "a/"}},
		{"a*b", []string{"ab", "axxb"}, []string{"a/b", "ax/xb"}},
		{"a?b", []string{"axb"}, []string{"a/b"}},
		{"a[/]b", nil, []string{"a/b", "a[/]b"}},
		{"a[^x]b", []string{"ayb"}, []string{"a/b", "axb"}},
		{"a[!-z]b", nil, []string{"a/b"}},
		{"*/*", []string{"a/b", "x/y"}, []string{"a", "a/b/c", "a//b"}},
		{"dir/*/file", []string{"dir/x/file"}, []string{"dir/file", "dir/x/y/file"}},
		// Malformed patterns match nothing.
		{"[", nil, []string{"[", "a"}},
		{"a[", nil, []string{"a[", "a"}},
		// Escapes.
		{`\*`, []string{"*"}, []string{"a"}},
	}
	for _, tt := range tests {
		r := DelegatedRole{Name: "r", Paths: []string{tt.pattern}}
		for _, p := range tt.match {
			if !r.Matches(p) {
				t.Errorf("%q does not match %q", tt.pattern, p)
			}
		}
		for _, p := range tt.noMatch {
			if r.Matches(p) {
				t.Errorf("%q matches %q", tt.pattern, p)
			}
		}
	}
	// Any of several patterns; none at all matches nothing.
	r := DelegatedRole{Paths: []string{"a/*", "b"}}
	if !r.Matches("a/x") || !r.Matches("b") || r.Matches("c") {
		t.Error("several patterns")
	}
	for _, r := range []DelegatedRole{{}, {Paths: []string{}}, {PathHashPrefixes: []string{}}} {
		if r.Matches("a") || r.Matches("") {
			t.Errorf("%+v matches", r)
		}
	}
}

func TestMatchesPathHashPrefixes(t *testing.T) {
	const target = "prefix/file.txt"
	sum := sha256.Sum256([]byte(target))
	digest := hex.EncodeToString(sum[:])
	other := "0"
	if digest[0] == '0' {
		other = "1"
	}
	tests := []struct {
		prefixes []string
		match    bool
	}{
		{[]string{digest[:1]}, true},
		{[]string{digest[:2]}, true},
		{[]string{digest}, true},
		{[]string{other, digest[:4]}, true},
		{[]string{other}, false},
		{[]string{digest + "0"}, false},
	}
	for _, tt := range tests {
		r := DelegatedRole{PathHashPrefixes: tt.prefixes}
		if got := r.Matches(target); got != tt.match {
			t.Errorf("prefixes %q: Matches = %v, want %v", tt.prefixes, got, tt.match)
		}
	}
	// Hash prefixes take precedence over nothing else: a role with
	// prefixes ignores Paths (Open never builds such a role).
	r := DelegatedRole{PathHashPrefixes: []string{other}, Paths: []string{"*/*"}}
	if r.Matches(target) {
		t.Error("Paths consulted beside PathHashPrefixes")
	}
}

// TestPathHashPrefixesLowercased: prefixes are compared with the lowercase
// hex digest whatever case the document uses.
func TestPathHashPrefixesLowercased(t *testing.T) {
	const target = "prefix/file.txt"
	sum := sha256.Sum256([]byte(target))
	upper := strings.ToUpper(hex.EncodeToString(sum[:])[:6])
	deleg := newTestKey("delegation")
	delegations := map[string]any{
		"keys":  map[string]any{deleg.id: deleg.json()},
		"roles": []any{map[string]any{"name": "bins", "keyids": []string{deleg.id}, "threshold": 1, "terminating": false, "path_hash_prefixes": []string{upper}}},
	}
	tg, err := OpenTargets(sign(t, testTargets(map[string]any{}, delegations), keyTargets), targetsKeys(t))
	if err != nil {
		t.Fatal(err)
	}
	r := tg.Delegations().Roles()[0]
	if r.PathHashPrefixes[0] != strings.ToLower(upper) || !r.Matches(target) {
		t.Errorf("role %+v does not match %q", r, target)
	}
}

func TestSuccinctVector(t *testing.T) {
	set := newVectorSet(t)
	d := set.targetsDoc("targets-succinct.vec").Delegations()
	s := d.Succinct()
	if s == nil || d.Roles() != nil || s.BitLength != 8 || s.NamePrefix != "bin" || s.Threshold != 1 || len(s.KeyIDs) != 1 {
		t.Fatalf("Succinct() = %+v, Roles() = %v", s, d.Roles())
	}
	const target = "app/1.0/linux-amd64"
	children := d.Children(target)
	if len(children) != 1 {
		t.Fatalf("Children(%q) = %+v, want one bin", target, children)
	}
	c := children[0]
	// TAP 15: succinct bins are not terminating.
	if c.Name != s.BinName(target) || c.Terminating || c.Threshold != 1 || !slices.Equal(c.KeyIDs, s.KeyIDs) || c.Keys[s.KeyIDs[0]] == nil {
		t.Errorf("child = %+v", c)
	}
	if c.Name != readVector(t, "bin.vec").headers["role"] {
		t.Errorf("bin %s, the generator (go-tuf) chose %s", c.Name, readVector(t, "bin.vec").headers["role"])
	}
	// Succinct returns a copy.
	s.BitLength, s.NamePrefix, s.KeyIDs[0] = 1, "x", "attacker"
	if again := d.Succinct(); again.BitLength != 8 || again.NamePrefix != "bin" || again.KeyIDs[0] == "attacker" {
		t.Errorf("Succinct() changed through a returned value: %+v", again)
	}
}

// succinctPaths are target paths for the oracle comparison.
func succinctPaths() []string {
	paths := []string{"", "/", "a", "app/1.0/linux-amd64", "ö/ü.txt", "\x00", strings.Repeat("x", 1000)}
	for i := range 200 {
		paths = append(paths, fmt.Sprintf("pkg/%d/file-%d.tar.gz", i%17, i))
	}
	return paths
}

// TestSuccinctRolesOracle checks BinName and IsBin against go-tuf's own
// SuccinctRoles for every bit length 1..32.
func TestSuccinctRolesOracle(t *testing.T) {
	paths := succinctPaths()
	for bits := 1; bits <= 32; bits++ {
		ours := &SuccinctRoles{BitLength: bits, NamePrefix: "bin"}
		oracle := &tuf.SuccinctRoles{BitLength: bits, NamePrefix: "bin"}
		for _, p := range paths {
			name := ours.BinName(p)
			if want := oracle.GetRolesForTarget(p)[0].Name; name != want {
				t.Fatalf("bits %d: BinName(%q) = %q, go-tuf %q", bits, p, name, want)
			}
			if !ours.IsBin(name) || !oracle.IsDelegatedRole(name) {
				t.Fatalf("bits %d: IsBin(%q) = %v, go-tuf %v", bits, name, ours.IsBin(name), oracle.IsDelegatedRole(name))
			}
		}
		width := (bits + 3) / 4
		last := uint64(1)<<bits - 1
		candidates := []string{
			fmt.Sprintf("bin-%0*x", width, 0),
			fmt.Sprintf("bin-%0*x", width, last),
			fmt.Sprintf("bin-%0*x", width, last+1), // one past the last bin
			fmt.Sprintf("bin-%0*x", width+1, 0),    // too wide
			"bin-", "bin", "other-" + strings.Repeat("0", width), "bin" + strings.Repeat("0", width),
		}
		if width > 1 {
			candidates = append(candidates, fmt.Sprintf("bin-%0*x", width-1, 0)) // too narrow
		}
		for _, name := range candidates {
			if got, want := ours.IsBin(name), oracle.IsDelegatedRole(name); got != want {
				t.Errorf("bits %d: IsBin(%q) = %v, go-tuf %v", bits, name, got, want)
			}
		}
	}
}

// TestIsBinStrict: only the names BinName produces are bins. go-tuf parses
// the suffix with strconv.ParseInt and so also accepts "+f", "-0" and
// uppercase hex; such names are not bins here.
func TestIsBinStrict(t *testing.T) {
	s := &SuccinctRoles{BitLength: 8, NamePrefix: "bin"}
	for _, name := range []string{"bin-FF", "bin-0A", "bin-+f", "bin--1", "bin- f", "bin-0x", "bin-g0", "Bin-00", "bin_00", "bin-00 "} {
		if s.IsBin(name) {
			t.Errorf("IsBin(%q) = true", name)
		}
	}
	for _, name := range []string{"bin-00", "bin-0a", "bin-ff"} {
		if !s.IsBin(name) {
			t.Errorf("IsBin(%q) = false", name)
		}
	}
	// A prefix that itself contains a hyphen.
	s = &SuccinctRoles{BitLength: 4, NamePrefix: "a-b"}
	if !s.IsBin("a-b-f") || s.IsBin("a-f") || s.IsBin("a-b-") {
		t.Error("hyphenated prefix")
	}
}

// TestBinNameSpread: with bit length 1 paths fall into both bins, and all
// 2^8 bins of the vector's delegation are reachable names.
func TestBinNameSpread(t *testing.T) {
	s := &SuccinctRoles{BitLength: 1, NamePrefix: "b"}
	seen := map[string]bool{}
	for _, p := range succinctPaths() {
		seen[s.BinName(p)] = true
	}
	if !seen["b-0"] || !seen["b-1"] || len(seen) != 2 {
		t.Errorf("bins used: %v", seen)
	}
	s = &SuccinctRoles{BitLength: 8, NamePrefix: "bin"}
	for i := range 256 {
		if name := fmt.Sprintf("bin-%02x", i); !s.IsBin(name) {
			t.Errorf("IsBin(%q) = false", name)
		}
	}
}
