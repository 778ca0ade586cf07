package selfupdate

import (
	"time"

	"github.com/latchsec/latch/rollback"
)

// StateHooks returns the Hooks that record app's installs in a trusted
// state: update applies a change to the state and saves it durably, now
// stamps the install. A commit sets the installed-version floor (refusing an
// older build unless op.Unsafe) to the build's version and release hash (its
// executable's hash if it did not come from a release); a revert lowers it
// on purpose and marks the release it leaves as failed, so that the next
// update doesn't reinstall it; a failed health check marks the build
// failed. Each is idempotent.
func StateHooks(app string, update func(func(*rollback.State) error) error, now func() time.Time) Hooks {
	return Hooks{
		Commit: func(op Op) error {
			return update(func(s *rollback.State) error {
				in := rollback.Install{Version: op.Build.Version, SHA256: op.Build.recordSHA256(), Time: now().UTC()}
				switch {
				case op.Kind == KindRevert:
					if err := s.ForceInstallUnsafe(app, in); err != nil {
						return err
					}
					if op.Prev.SHA256 == "" {
						return nil // not a release: nothing could install it again
					}
					return s.MarkFailed(app, op.Prev.SHA256)
				case op.Unsafe:
					return s.ForceInstallUnsafe(app, in)
				}
				return s.CommitInstall(app, in)
			})
		},
		MarkFailed: func(op Op) error {
			return update(func(s *rollback.State) error { return s.MarkFailed(app, op.Build.SHA256) })
		},
	}
}
