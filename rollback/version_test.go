package rollback

import "testing"

// trickyVersions are versions with a v prefix or not, prerelease and build
// parts, shorthands, leading zeros and what is no version at all.
var trickyVersions = []struct {
	in, want string // want "": not a full semantic version
}{
	{"1.2.3", "v1.2.3"},
	{"v1.2.3", "v1.2.3"},
	{"1.2.3+build.7", "v1.2.3+build.7"},
	{"v1.2.3-rc.1", "v1.2.3-rc.1"},
	{"1.2.3-rc.1+meta", "v1.2.3-rc.1+meta"},
	{"1.2.3-0a", "v1.2.3-0a"},
	{"dev", ""},
	{"", ""},
	{"v", ""},
	{"1", ""},
	{"v1.2", ""},
	{"01.2.3", ""},
	{"1.02.3", ""},
	{"1.2.03", ""},
	{"1.2.3-01", ""},
	{"vv1.2.3", ""},
	{"V1.2.3", ""},
	{" 1.2.3", ""},
	{"1.2.3+", ""},
	{"1.2.3-", ""},
}

func TestCanonicalVersion(t *testing.T) {
	for _, tt := range trickyVersions {
		got, ok := CanonicalVersion(tt.in)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("CanonicalVersion(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
		// The floor accepts exactly the full semantic versions.
		err := NewState().CommitInstall("app", Install{Version: tt.in, SHA256: hash(1), Time: t0})
		if (err == nil) != ok {
			t.Errorf("CommitInstall(%q) = %v, CanonicalVersion says %v", tt.in, err, ok)
		}
	}
}
