package client

import (
	"github.com/latchsec/latch/internal/archive"
	"github.com/latchsec/latch/internal/selfupdate"
	"github.com/latchsec/latch/rollback"
	"golang.org/x/mod/semver"
)

// installAction is what Apply does with the release Resolve chose.
type installAction int

const (
	// actInstall: download the release, check it and swap it in.
	actInstall installAction = iota
	// actRecord: the executable is the release file itself, put there by
	// other means: record it as installed, nothing to download.
	actRecord
	// actUpToDate: the build in place is this release; nothing to do.
	actUpToDate
	// actRefuseRollback: the release is older than the floor
	// (*rollback.RollbackError).
	actRefuseRollback
	// actRefuseChanged: the release is another build of the floor's
	// version (*ReleaseChangedError).
	actRefuseChanged
	// actRefuseKnownBad: every release that matched failed its health
	// check before (*KnownBadError).
	actRefuseKnownBad
)

// releaseFacts are what the decision needs of a release.
type releaseFacts struct {
	Version, SHA256 string
	// Archive: the executable is inside the release file, so the file's
	// hash is never the executable's.
	Archive bool
}

// installFactsOf gathers the facts of Apply's decision: the installed
// release, the build in place (cur, known: see Client.inPlace), the release
// Resolve chose (nil if none) and those it passed over as known bad, newest
// first.
func installFactsOf(installed rollback.Install, cur selfupdate.Build, known bool, chosen *ReleaseInfo, skipped []*ReleaseInfo, allowDowngrade bool) installFacts {
	f := installFacts{Installed: installed, InPlace: cur, Known: known, AllowDowngrade: allowDowngrade}
	if chosen != nil {
		_, isArchive := archive.FormatOf(chosen.Target.Path())
		f.Release = &releaseFacts{Version: chosen.Version, SHA256: chosen.sha256(), Archive: isArchive}
	}
	if len(skipped) > 0 {
		f.KnownBad = skipped[0].Version
	}
	return f
}

// installFacts are everything decideInstall reads: the trusted state's
// record, the build in place, what Resolve chose and passed over, and the
// caller's permission to go back.
type installFacts struct {
	// Installed is the release recorded as installed (Version "" if none).
	Installed rollback.Install
	// InPlace is the build at the executable's path as Client.inPlace
	// identifies it: by latch's records of its bytes if Known, otherwise
	// labelled with CurrentVersion if that is a semantic version, else
	// with no version ("dev", or no CurrentVersion).
	InPlace selfupdate.Build
	Known   bool
	// Release is what Resolve chose; nil if every release that matched
	// was passed over as known bad.
	Release *releaseFacts
	// KnownBad is the version of the newest release passed over because
	// it failed its health check before, "" if none.
	KnownBad       string
	AllowDowngrade bool
}

// installDecision is decideInstall's answer.
type installDecision struct {
	Action installAction
	// Floor is the version floor the release was held against (Version
	// "" if none: a first install of a build of unknown version).
	Floor versionFloor
	// Unsafe: the commit may lower the floor (a downgrade that
	// AllowDowngradeUnsafe allowed).
	Unsafe bool
	// NewerKnownBad: the release passed over as known bad (KnownBad) is
	// newer than the one chosen.
	NewerKnownBad bool
}

// decideInstall is Apply's version-floor decision: install, record, nothing
// to do, or refuse, from the facts alone (it reads no state and changes
// none).
func decideInstall(f installFacts) installDecision {
	d := installDecision{Floor: floorOf(f.Installed, f.InPlace, f.Known)}
	r := f.Release
	if r == nil {
		d.Action = actRefuseKnownBad
		return d
	}
	d.NewerKnownBad = f.KnownBad != "" && compareVersions(f.KnownBad, r.Version) > 0
	fl, exe := d.Floor, f.InPlace.Exe
	switch cmp := compareVersions(r.Version, fl.Version); {
	case fl.Version == "":
		// No floor: the release is installed and the floor starts there.
	case cmp == 0 && (r.SHA256 == fl.SHA256 || fl.SHA256 == "" && exe != r.SHA256):
		// The installed release, or the version CurrentVersion says is
		// running (unless that is the release file itself, which is
		// recorded below).
		d.Action = actUpToDate
		return d
	case cmp < 0 && !f.AllowDowngrade:
		d.Action = actRefuseRollback
		return d
	case cmp == 0 && fl.SHA256 != "" && r.SHA256 != fl.SHA256 && !f.AllowDowngrade:
		d.Action = actRefuseChanged
		return d
	case cmp < 0:
		d.Unsafe = true
	}
	if !r.Archive && exe == r.SHA256 {
		d.Action = actRecord
	}
	return d
}

// refusal returns the error of a decision that refuses, with the release
// refused (chosen, or the newest of those skipped as known bad), and nil
// for one that does not.
func refusal(d installDecision, app string, chosen *ReleaseInfo, skipped []*ReleaseInfo) (*ReleaseInfo, error) {
	switch d.Action {
	case actRefuseKnownBad:
		return skipped[0], &KnownBadError{App: app, Version: skipped[0].Version, SHA256: skipped[0].sha256()}
	case actRefuseRollback:
		return chosen, &rollback.RollbackError{App: app, Trusted: d.Floor.Version, Got: chosen.Version, Err: ErrRollback}
	case actRefuseChanged:
		return chosen, &ReleaseChangedError{App: app, Version: chosen.Version, InstalledSHA256: d.Floor.SHA256, SHA256: chosen.sha256()}
	}
	return nil, nil
}

// versionFloor is the version a release must not be older than, and the
// release hash recorded for it ("" for a floor from CurrentVersion).
type versionFloor struct {
	Version, SHA256 string
}

// floorOf returns the version floor: the installed release's, or the
// version of the build in place if latch has no record of its bytes and it
// is newer (see CurrentVersion). Version "" means no floor.
func floorOf(in rollback.Install, cur selfupdate.Build, known bool) versionFloor {
	f := versionFloor{Version: in.Version, SHA256: in.SHA256}
	if !known && cur.Version != "" && (f.Version == "" || compareVersions(cur.Version, f.Version) > 0) {
		f = versionFloor{Version: cur.Version}
	}
	return f
}

// compareVersions compares two versions as semver.Compare, in the form
// rollback.CanonicalVersion gives them; a version that is not a full
// semantic version is older than every one that is.
func compareVersions(a, b string) int {
	va, _ := rollback.CanonicalVersion(a)
	vb, _ := rollback.CanonicalVersion(b)
	return semver.Compare(va, vb)
}
