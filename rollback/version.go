package rollback

import (
	"strings"

	"golang.org/x/mod/semver"
)

// CanonicalVersion returns version with a leading "v", the form
// golang.org/x/mod/semver compares, and reports whether it is a full
// semantic version: MAJOR.MINOR.PATCH, with or without the "v", with an
// optional prerelease ("-rc.1") and build metadata ("+abc", kept, and
// ignored when compared). semver's shorthands ("v1", "v1.2") are not: a
// release names its full version; nor are leading zeros, "dev" or "". It
// returns "" for what is not a full semantic version.
//
// It is the one rule latch applies to versions: those the installed-version
// floor records and those the client reads from release targets.
func CanonicalVersion(version string) (string, bool) {
	v := version
	if !strings.HasPrefix(v, "v") {
		v = "v" + v
	}
	withoutBuild, _, _ := strings.Cut(v, "+")
	if !semver.IsValid(v) || semver.Canonical(v) != withoutBuild {
		return "", false
	}
	return v, true
}
