package client

import (
	"fmt"
	"testing"

	"github.com/latchsec/latch/internal/selfupdate"
	"github.com/latchsec/latch/rollback"
)

// TestVersionRulesAgree: the release convention (a version in a target
// path), CurrentVersion and the trusted state's installed-version floor
// read versions alike: the same ones are valid, and the client's floor
// decision refuses a release as older exactly when the trusted state would
// refuse to record it.
func TestVersionRulesAgree(t *testing.T) {
	inputs := []string{
		"1.2.3", "v1.2.3", "1.2.3+build.7", "v1.2.3+other", "1.2.3-rc.1", "v1.2.3-rc.2+meta",
		"1.10.0", "1.9.0", "2.0.0-alpha", "2.0.0-alpha.1",
		"dev", "", "v", "1", "v1.2", "01.2.3", "1.2.03", "1.2.3-01", "V1.2.3", "1.2.3+",
	}
	const plat = "linux-amd64"
	sum := fmt.Sprintf("%064x", 1)
	var valid []string
	for _, in := range inputs {
		_, inPath := parseReleasePath("app/"+in+"/"+plat, "app", plat)
		err := rollback.NewState().CommitInstall("app", rollback.Install{Version: in, SHA256: sum})
		if inPath != (err == nil) {
			t.Errorf("%q: valid in a release path %v, but CommitInstall = %v", in, inPath, err)
		}
		if inPath {
			valid = append(valid, in)
		}
	}
	for _, floor := range valid {
		for _, in := range valid {
			s := rollback.NewState()
			if err := s.CommitInstall("app", rollback.Install{Version: floor, SHA256: sum}); err != nil {
				t.Fatal(err)
			}
			stateRefuses := s.CommitInstall("app", rollback.Install{Version: in, SHA256: sum}) != nil
			d := decideInstall(installFacts{
				Installed: rollback.Install{Version: floor, SHA256: sum},
				InPlace:   selfupdate.Build{Version: floor, SHA256: sum, Exe: sum}, Known: true,
				Release: &releaseFacts{Version: in, SHA256: sum},
			})
			if clientRefuses := d.Action == actRefuseRollback; clientRefuses != stateRefuses {
				t.Errorf("floor %q, release %q: Apply refuses as older %v, the trusted state %v", floor, in, clientRefuses, stateRefuses)
			}
		}
	}
}
