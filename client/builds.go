package client

import (
	"fmt"
	"time"

	"github.com/latchsec/latch/internal/selfupdate"
)

// BuildInfo describes one build of an application on disk.
type BuildInfo struct {
	// Path is where it is: the executable's path, or a kept build's in the
	// hidden work directory beside it.
	Path string
	// Version is its version, "" if unknown.
	Version string
	// SHA256 is the hex SHA-256 of the release file it came from (the
	// archive, for archived releases), "" if it did not come from a
	// release (it was there before latch).
	SHA256 string
	// ExecutableSHA256 is the hex SHA-256 of the executable's bytes, ""
	// for a kept build recorded before latch recorded it.
	ExecutableSHA256 string
	// Installed is when latch put it at the executable's path, zero if it
	// did not.
	Installed time.Time
}

// Builds is what Client.Builds finds.
type Builds struct {
	// Installed is the build at the executable's path. Known is true if
	// latch's records identify its bytes (by SHA-256); otherwise latch
	// did not put them there (it never updated this executable, or the
	// executable was replaced by other means), and only Path and
	// ExecutableSHA256 are set.
	Installed BuildInfo
	Known     bool
	// Kept are the previous builds kept beside it (KeepPrevious), newest
	// first: the first is what RevertUnsafe puts back.
	Kept []BuildInfo
	// Pending is true if an update was interrupted; the next Apply or
	// Recover finishes it, and Installed may change then.
	Pending bool
}

// Builds lists the build of app at exePath and the previous builds kept
// beside it, with their versions, hashes and install times, from latch's
// records and the bytes on disk (it hashes the executable), for a support
// engineer or a dashboard. It changes nothing and does not use the
// network.
func (c *Client) Builds(app, exePath string) (*Builds, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	if err := checkAppName("app", app); err != nil {
		return nil, fmt.Errorf("builds: %w", err)
	}
	c.applyMu.Lock()
	defer c.applyMu.Unlock()
	u, err := c.updater(app, exePath)
	if err != nil {
		return nil, err
	}
	out := &Builds{}
	cur, known, err := c.inPlace(u, app, "")
	if err != nil {
		return nil, fmt.Errorf("builds of %s: %w", app, err)
	}
	out.Installed, out.Known = buildInfo(u.Exe, cur), known
	kept, err := u.Backups()
	if err != nil {
		return nil, fmt.Errorf("builds of %s: %w", app, err)
	}
	for _, k := range kept {
		out.Kept = append(out.Kept, buildInfo(k.Path, k.Build))
	}
	op, err := u.Interrupted()
	if err != nil {
		return nil, fmt.Errorf("builds of %s: %w", app, err)
	}
	out.Pending = op != nil
	return out, nil
}

func buildInfo(path string, b selfupdate.Build) BuildInfo {
	return BuildInfo{Path: path, Version: b.Version, SHA256: b.SHA256, ExecutableSHA256: b.Exe, Installed: b.Installed}
}
