package client

import (
	"testing"

	"github.com/latchsec/latch/internal/selfupdate"
	"github.com/latchsec/latch/rollback"
)

// TestDecideInstall covers every branch of Apply's version-floor decision.
// Hashes: "R1", "R2" are release files, "E" the executable's bytes when
// they are no release file.
func TestDecideInstall(t *testing.T) {
	rel := func(version, sum string) *releaseFacts { return &releaseFacts{Version: version, SHA256: sum} }
	archived := func(version, sum string) *releaseFacts {
		return &releaseFacts{Version: version, SHA256: sum, Archive: true}
	}
	installed := func(version, sum string) rollback.Install { return rollback.Install{Version: version, SHA256: sum} }
	// running is a build latch has no record of, labelled by
	// CurrentVersion (version "": "dev" or none).
	running := func(version, exe string) selfupdate.Build { return selfupdate.Build{Version: version, Exe: exe} }
	// recorded is a build latch's records identify.
	recorded := func(version, sum string) selfupdate.Build {
		return selfupdate.Build{Version: version, SHA256: sum, Exe: sum}
	}
	tests := []struct {
		name string
		f    installFacts
		want installDecision
	}{
		// First install: no record in the trusted state.
		{"first install, dev build", installFacts{InPlace: running("", "E"), Release: rel("2.0.0", "R2")},
			installDecision{Action: actInstall}},
		{"first install, dev build that is the release file", installFacts{InPlace: running("", "R2"), Release: rel("2.0.0", "R2")},
			installDecision{Action: actRecord}},
		{"first install, older CurrentVersion", installFacts{InPlace: running("1.0.0", "E"), Release: rel("2.0.0", "R2")},
			installDecision{Action: actInstall, Floor: versionFloor{Version: "1.0.0"}}},
		{"first install, equal CurrentVersion", installFacts{InPlace: running("2.0.0", "E"), Release: rel("2.0.0", "R2")},
			installDecision{Action: actUpToDate, Floor: versionFloor{Version: "2.0.0"}}},
		{"first install, equal CurrentVersion, v prefix and build metadata", installFacts{InPlace: running("v2.0.0+abc", "E"), Release: rel("2.0.0", "R2")},
			installDecision{Action: actUpToDate, Floor: versionFloor{Version: "v2.0.0+abc"}}},
		{"first install, equal CurrentVersion, the release file itself", installFacts{InPlace: running("2.0.0", "R2"), Release: rel("2.0.0", "R2")},
			installDecision{Action: actRecord, Floor: versionFloor{Version: "2.0.0"}}},
		{"first install, equal CurrentVersion, archived release", installFacts{InPlace: running("2.0.0", "E"), Release: archived("2.0.0", "R2")},
			installDecision{Action: actUpToDate, Floor: versionFloor{Version: "2.0.0"}}},
		{"first install, dev build, archived release", installFacts{InPlace: running("", "R2"), Release: archived("2.0.0", "R2")},
			installDecision{Action: actInstall}},
		{"first install, older release than CurrentVersion", installFacts{InPlace: running("3.0.0", "E"), Release: rel("2.0.0", "R2")},
			installDecision{Action: actRefuseRollback, Floor: versionFloor{Version: "3.0.0"}}},
		{"first install, older release, AllowDowngradeUnsafe", installFacts{InPlace: running("3.0.0", "E"), Release: rel("2.0.0", "R2"), AllowDowngrade: true},
			installDecision{Action: actInstall, Floor: versionFloor{Version: "3.0.0"}, Unsafe: true}},
		{"first install, prerelease older than CurrentVersion", installFacts{InPlace: running("2.0.0", "E"), Release: rel("2.0.0-rc.1", "R2")},
			installDecision{Action: actRefuseRollback, Floor: versionFloor{Version: "2.0.0"}}},

		// A release is recorded as installed.
		{"installed, newer release", installFacts{Installed: installed("1.0.0", "R1"), InPlace: recorded("1.0.0", "R1"), Known: true, Release: rel("2.0.0", "R2")},
			installDecision{Action: actInstall, Floor: versionFloor{"1.0.0", "R1"}}},
		{"installed, equal release", installFacts{Installed: installed("2.0.0", "R2"), InPlace: recorded("2.0.0", "R2"), Known: true, Release: rel("2.0.0", "R2")},
			installDecision{Action: actUpToDate, Floor: versionFloor{"2.0.0", "R2"}}},
		{"installed, another build of the same version", installFacts{Installed: installed("2.0.0", "R1"), InPlace: recorded("2.0.0", "R1"), Known: true, Release: rel("2.0.0", "R2")},
			installDecision{Action: actRefuseChanged, Floor: versionFloor{"2.0.0", "R1"}}},
		{"installed, another build of the same version, AllowDowngradeUnsafe", installFacts{Installed: installed("2.0.0", "R1"), InPlace: recorded("2.0.0", "R1"), Known: true, Release: rel("2.0.0", "R2"), AllowDowngrade: true},
			installDecision{Action: actInstall, Floor: versionFloor{"2.0.0", "R1"}}},
		{"installed, older release", installFacts{Installed: installed("2.0.0", "R2"), InPlace: recorded("2.0.0", "R2"), Known: true, Release: rel("1.10.0", "R1")},
			installDecision{Action: actRefuseRollback, Floor: versionFloor{"2.0.0", "R2"}}},
		{"installed, older release, AllowDowngradeUnsafe", installFacts{Installed: installed("2.0.0", "R2"), InPlace: recorded("2.0.0", "R2"), Known: true, Release: rel("1.10.0", "R1"), AllowDowngrade: true},
			installDecision{Action: actInstall, Floor: versionFloor{"2.0.0", "R2"}, Unsafe: true}},
		{"installed, CurrentVersion ignored when the records know the bytes", installFacts{Installed: installed("2.0.0", "R2"), InPlace: recorded("2.0.0", "R2"), Known: true, Release: rel("2.0.0", "R2")},
			installDecision{Action: actUpToDate, Floor: versionFloor{"2.0.0", "R2"}}},

		// The executable was replaced by other means: the floor is the
		// newer of the state's and CurrentVersion.
		{"floor from the state: CurrentVersion older", installFacts{Installed: installed("2.0.0", "R2"), InPlace: running("1.0.0", "E"), Release: rel("1.5.0", "R1")},
			installDecision{Action: actRefuseRollback, Floor: versionFloor{"2.0.0", "R2"}}},
		{"floor from the state: dev build", installFacts{Installed: installed("2.0.0", "R2"), InPlace: running("", "E"), Release: rel("2.0.0", "R2")},
			installDecision{Action: actUpToDate, Floor: versionFloor{"2.0.0", "R2"}}},
		{"floor from CurrentVersion: newer than the state's", installFacts{Installed: installed("2.0.0", "R2"), InPlace: running("3.0.0", "E"), Release: rel("2.5.0", "R1")},
			installDecision{Action: actRefuseRollback, Floor: versionFloor{Version: "3.0.0"}}},
		{"floor from CurrentVersion: equal to the release", installFacts{Installed: installed("2.0.0", "R2"), InPlace: running("3.0.0", "E"), Release: rel("3.0.0", "R1")},
			installDecision{Action: actUpToDate, Floor: versionFloor{Version: "3.0.0"}}},

		// Known-bad builds.
		{"every match known bad", installFacts{Installed: installed("1.0.0", "R1"), InPlace: recorded("1.0.0", "R1"), Known: true, KnownBad: "2.0.0"},
			installDecision{Action: actRefuseKnownBad, Floor: versionFloor{"1.0.0", "R1"}}},
		{"newer release known bad, installed one up to date", installFacts{Installed: installed("1.0.0", "R1"), InPlace: recorded("1.0.0", "R1"), Known: true, Release: rel("1.0.0", "R1"), KnownBad: "2.0.0"},
			installDecision{Action: actUpToDate, Floor: versionFloor{"1.0.0", "R1"}, NewerKnownBad: true}},
		{"newer release known bad, older one installed", installFacts{Installed: installed("1.0.0", "R1"), InPlace: recorded("1.0.0", "R1"), Known: true, Release: rel("1.5.0", "R2"), KnownBad: "2.0.0"},
			installDecision{Action: actInstall, Floor: versionFloor{"1.0.0", "R1"}, NewerKnownBad: true}},
		{"known-bad build of the same version", installFacts{InPlace: running("", "E"), Release: rel("2.0.0", "R2"), KnownBad: "2.0.0"},
			installDecision{Action: actInstall}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := decideInstall(tt.f); got != tt.want {
				t.Errorf("decideInstall = %+v, want %+v", got, tt.want)
			}
		})
	}
}
