package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// Resolve returns the newest release rel selects (see Release) that the
// map's repositories agree on (see Target), as Client.Resolve does for one
// repository. ReleaseInfo.Agreed is the agreed target, for DownloadFile.
//
// The candidates are the release paths that any repository lists. From the
// newest down, each is looked up through the map: the first that is agreed,
// follows the release convention in every agreeing repository's custom
// data, and is in rel's channel in every one of them, is the answer. So an
// organisation that approves a vendor's build approves its channels too; a
// build the vendor lists in "stable" and the organisation only in "beta" is
// a beta build.
//
// A candidate the repositories definitely do not agree on (too few list
// it, or they list it differently) is passed over: an older agreed release
// is the answer. A candidate whose lookup is undecided or conflicting (see
// Target), and repositories that could not be read at all (not refreshed, a
// delegated role no mirror serves) in numbers that could agree on a newer
// release by themselves, make Resolve fail instead of answering with an
// older release: a repository that can't be reached must not turn an update
// into "no update".
func (m *Multi) Resolve(ctx context.Context, rel Release) (*ReleaseInfo, error) {
	info, _, err := m.resolve(ctx, rel, nil)
	return info, err
}

// resolve is Resolve with skip, as Client.resolve.
func (m *Multi) resolve(ctx context.Context, rel Release, skip func(*ReleaseInfo) bool) (*ReleaseInfo, []*ReleaseInfo, error) {
	rel, p, rerr := rel.start()
	if rerr.Err != nil {
		return nil, nil, rerr
	}
	cands, err := m.releaseCandidates(ctx, rel, p)
	if err != nil {
		rerr.Err = err
		return nil, nil, rerr
	}
	return choose(m.log, rel, rerr, cands, skip, func(cand candidate) (*ReleaseInfo, *InvalidReleaseError, error) {
		a, err := m.Target(ctx, cand.path)
		var ce *ConsensusError
		if errors.As(err, &ce) && ce.decided() {
			m.log.Info("release candidate not agreed", "target", cand.path, "err", err)
			return nil, nil, nil
		}
		if err != nil {
			return nil, nil, err
		}
		info, ierr := agreedRelease(a, cand)
		return info, ierr, nil
	})
}

// decided reports whether the lookup came to an answer: no consulted
// mapping had a conflict or was undecided.
func (e *ConsensusError) decided() bool {
	return !slices.ContainsFunc(e.Mappings, func(o MappingOutcome) bool { return o.Conflict || o.Undecided })
}

// releaseCandidates lists, newest first, the release paths for rel within
// p that any repository lists. It fails if the repositories it could not
// read are enough, in a mapping that could hold releases of the app, to
// agree on a release by themselves: that release would go unseen.
func (m *Multi) releaseCandidates(ctx context.Context, rel Release, p pin) ([]candidate, error) {
	seen := map[string]bool{}
	var out []candidate
	unread := map[string]error{}
	for _, r := range m.repos {
		set := r.c.trusted.Load()
		if !set.refreshed {
			unread[r.name] = r.withRefreshError(ErrNotRefreshed)
			continue
		}
		cands, err := r.c.releaseCandidates(ctx, set, rel, p)
		if err != nil {
			unread[r.name] = err
			continue
		}
		for _, c := range cands {
			if !seen[c.path] {
				seen[c.path] = true
				out = append(out, c)
			}
		}
	}
	for _, mp := range m.m.Mapping {
		if !slices.ContainsFunc(mp.Paths, func(pat string) bool { return couldMatchRelease(pat, rel.App) }) {
			continue
		}
		e := &MultiError{Op: "listing releases"}
		for _, name := range mp.Repositories {
			if err, ok := unread[name]; ok {
				e.Repositories = append(e.Repositories, name)
				e.Errs = append(e.Errs, err)
			}
		}
		if len(e.Errs) >= mp.Threshold {
			return nil, e
		}
	}
	sortCandidates(out)
	return out, nil
}

// agreedRelease checks an agreed target against the release convention in
// every agreeing repository's custom data: the same version, and the
// channels all of them list.
func agreedRelease(a *AgreedTarget, cand candidate) (*ReleaseInfo, *InvalidReleaseError) {
	info, ierr := releaseInfo(a.Target, cand)
	if ierr != nil {
		return nil, ierr
	}
	for _, o := range a.mapping.Repositories {
		if o.Outcome != OutcomeAgreed || o.Repository == a.Repository() {
			continue
		}
		// Its custom data, with the agreed hashes.
		t := &Target{tf: a.tf}
		t.tf.Custom = o.Target.tf.Custom
		other, ierr := releaseInfo(t, cand)
		if ierr != nil {
			ierr.Reason = fmt.Sprintf("in repository %q: %s", o.Repository, ierr.Reason)
			return nil, ierr
		}
		info.Channels = slices.DeleteFunc(info.Channels, func(ch string) bool { return !slices.Contains(other.Channels, ch) })
	}
	info.Agreed = a
	return info, nil
}

// Apply is Client.Apply through the map's repositories: it refreshes every
// repository (leaving out those that fail while one refreshed; Resolve
// decides whether they could change the answer), resolves the newest
// release the repositories agree on (Multi.Resolve), and installs it with
// every check Client.Apply makes, the download checked against the agreed
// length and hashes.
//
// The installed-version floor, the memory of builds whose health check
// failed, the self-update journal and the audit log of installs belong to
// the application, not to any repository: they are kept in
// MultiConfig.StateDir/app.state and reported by Status.
func (m *Multi) Apply(ctx context.Context, rel Release, exePath string, opts ...ApplyOption) (*ApplyResult, error) {
	return m.app.Apply(ctx, rel, exePath, opts...)
}

// Recover is Client.Recover for an application updated with Multi.Apply.
func (m *Multi) Recover(app, exePath string) error { return m.app.Recover(app, exePath) }

// RevertUnsafe is Client.RevertUnsafe for an application updated with
// Multi.Apply.
func (m *Multi) RevertUnsafe(app, exePath string) error { return m.app.RevertUnsafe(app, exePath) }

// Builds is Client.Builds for an application updated with Multi.Apply.
func (m *Multi) Builds(app, exePath string) (*Builds, error) { return m.app.Builds(app, exePath) }
