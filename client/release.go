package client

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"runtime"
	"slices"
	"strings"

	"github.com/latchsec/latch/metadata"
	"github.com/latchsec/latch/rollback"
	"github.com/latchsec/latch/verify"
	"golang.org/x/mod/semver"
)

var (
	// ErrNoRelease: no release matches the selector, after every role that
	// could list one was read (a role a mirror withholds fails resolution
	// with ErrNotFound instead). See *ReleaseError.
	ErrNoRelease = errors.New("no matching release")
	// ErrInvalidRelease: a release target breaks the release convention
	// (its signed version is missing, malformed or differs from its path;
	// channels malformed; no sha256). See *InvalidReleaseError.
	ErrInvalidRelease = errors.New("release target breaks the release convention")
)

// Release selects the builds of an application, for [Client.Resolve] and
// [Client.Apply], following a convention for naming an application's builds
// as targets, so that a client can find "the newest build of this app for
// this platform in this channel" from signed data alone.
//
// # The convention
//
// Each build of an application is one target
//
//	<app>/<version>/<os>-<arch>[<ext>]
//
// where <app> is the application's name (letters, digits, ".", "_" and "-",
// beginning with a letter or digit), <version> a full semantic version
// (MAJOR.MINOR.PATCH, optional pre-release and build parts, with or without
// a leading "v"), <os> and <arch> the Go names of the platform (GOOS,
// GOARCH), and <ext> one of "" (the executable itself), ".exe", ".tar.gz",
// ".tgz" or ".zip" (an archive holding the executable). Its signed "custom"
// object carries
//
//	{"version": "1.4.2", "channels": ["stable", "beta"]}
//
// "version" must equal the version in the path (a leading "v" aside), and
// "channels" lists the channels the build is published in. The target must
// list a sha256 hash: it identifies the build in the installed-version
// record and in the memory of builds whose health check failed.
//
// Because the version and channels are signed, a mirror can't move a build
// to another channel or make an old build look new; because the version is
// also in the path, a repository can't list two builds of one version for
// one platform in one role.
//
// # Resolution
//
// [Client.Resolve] lists the candidate paths below "<app>/" in the
// top-level targets metadata and in every delegated role whose path
// patterns could match a release of the app (bounded like a lookup,
// WithMaxDelegations), keeps those for the platform (and within the pin),
// and then, from the newest version down, looks each one up with
// [Client.Target], which applies the delegations' priority and terminating
// rules, and checks its signed custom data. The first that passes and is in
// the channel is the answer. A candidate whose custom data breaks the
// convention is skipped with a warning in the log and reported in the
// error if nothing else matches.
//
// Roles delegated by path hash prefixes or TAP 15 hash bins can't be
// listed without fetching every bin, so releases published only there are
// found with an exact pin ("v1.4.2"), which is looked up directly under
// each extension, with and without the "v".
type Release struct {
	// App is the application's name, the first segment of its targets.
	App string
	// Channel is the channel to follow; default "stable".
	Channel string
	// OS and Arch name the platform; default runtime.GOOS and
	// runtime.GOARCH.
	OS, Arch string
	// Pin, if set, limits the versions: a major version ("v1"), a minor
	// version ("v1.4") or an exact version ("v1.4.2"), with or without the
	// "v".
	Pin string
}

// ReleaseInfo is a resolved release.
type ReleaseInfo struct {
	Target   *Target
	Version  string   // the signed version, as written
	Channels []string // the signed channels
	// Agreed is the target the repositories agreed on, when Multi.Resolve
	// resolved the release; nil otherwise.
	Agreed *AgreedTarget
}

// ReleaseError reports a selector that matched no release, or failed.
type ReleaseError struct {
	App, Channel, OS, Arch, Pin string
	// Invalid lists the candidates skipped because they break the
	// convention, newest first.
	Invalid []*InvalidReleaseError
	Err     error
}

func (e *ReleaseError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "release of %s for %s-%s in channel %q", e.App, e.OS, e.Arch, e.Channel)
	if e.Pin != "" {
		fmt.Fprintf(&b, " pinned to %s", e.Pin)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	if len(e.Invalid) > 0 {
		fmt.Fprintf(&b, " (%d candidates skipped:", len(e.Invalid))
		for _, inv := range e.Invalid {
			fmt.Fprintf(&b, " [%v]", inv)
		}
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns Err and the skipped candidates' errors.
func (e *ReleaseError) Unwrap() []error {
	errs := []error{e.Err}
	for _, inv := range e.Invalid {
		errs = append(errs, inv)
	}
	return errs
}

// InvalidReleaseError reports a release target that breaks the convention.
type InvalidReleaseError struct {
	Path   string
	Reason string
}

func (e *InvalidReleaseError) Error() string {
	return fmt.Sprintf("release target %q: %s", e.Path, e.Reason)
}

func (e *InvalidReleaseError) Unwrap() error { return ErrInvalidRelease }

// Resolve returns the newest release that rel selects (see the release
// convention in this file's documentation). It needs a successful Refresh
// first. Nothing matching is a *ReleaseError wrapping ErrNoRelease; a
// malformed selector is an *OptionError (ErrInvalidOptions); lookup failures (expired
// metadata, a delegated role no mirror serves) are returned inside a
// *ReleaseError too.
func (c *Client) Resolve(ctx context.Context, rel Release) (*ReleaseInfo, error) {
	info, _, err := c.resolve(ctx, rel, nil)
	return info, err
}

// resolve is Resolve with skip: candidates it reports true for are passed
// over and returned in the second result, newest first.
func (c *Client) resolve(ctx context.Context, rel Release, skip func(*ReleaseInfo) bool) (*ReleaseInfo, []*ReleaseInfo, error) {
	rel, p, rerr := rel.start()
	if rerr.Err != nil {
		return nil, nil, rerr
	}
	set := c.trusted.Load()
	if !set.refreshed {
		rerr.Err = ErrNotRefreshed
		return nil, nil, rerr
	}
	cands, err := c.releaseCandidates(ctx, set, rel, p)
	if err != nil {
		rerr.Err = err
		return nil, nil, rerr
	}
	return choose(c.log, rel, rerr, cands, skip, func(cand candidate) (*ReleaseInfo, *InvalidReleaseError, error) {
		t, err := c.Target(ctx, cand.path)
		if errors.Is(err, ErrUnknownTarget) {
			if !cand.guessed {
				c.log.Info("release candidate not chosen by the delegations for its path", "target", cand.path)
			}
			return nil, nil, nil
		}
		if err != nil {
			return nil, nil, err
		}
		info, ierr := releaseInfo(t, cand)
		return info, ierr, nil
	})
}

// start applies rel's defaults and checks it; rerr.Err is set if it is
// malformed.
func (r Release) start() (Release, pin, *ReleaseError) {
	r = r.withDefaults()
	rerr := &ReleaseError{App: r.App, Channel: r.Channel, OS: r.OS, Arch: r.Arch, Pin: r.Pin}
	p, err := r.check()
	rerr.Err = err
	return r, p, rerr
}

// choose returns the first of cands (newest first) that lookup resolves to
// a release in rel's channel and that skip does not pass over, with the
// ones skip passed over. lookup returns nil for a candidate that is not a
// release after all, an *InvalidReleaseError for one that breaks the
// convention (skipped, and reported in rerr if nothing else matches), and
// an error that ends resolution.
func choose(log *slog.Logger, rel Release, rerr *ReleaseError, cands []candidate, skip func(*ReleaseInfo) bool,
	lookup func(candidate) (*ReleaseInfo, *InvalidReleaseError, error)) (*ReleaseInfo, []*ReleaseInfo, error) {
	var skipped []*ReleaseInfo
	for _, cand := range cands {
		info, ierr, err := lookup(cand)
		switch {
		case err != nil:
			rerr.Err = err
			return nil, nil, rerr
		case ierr != nil:
			log.Warn("skipping a release target that breaks the release convention", "target", cand.path, "reason", ierr.Reason)
			rerr.Invalid = append(rerr.Invalid, ierr)
			continue
		case info == nil || !slices.Contains(info.Channels, rel.Channel):
			continue
		case skip != nil && skip(info):
			skipped = append(skipped, info)
			continue
		}
		return info, skipped, nil
	}
	rerr.Err = ErrNoRelease
	return nil, skipped, rerr
}

func (r Release) withDefaults() Release {
	if r.Channel == "" {
		r.Channel = "stable"
	}
	if r.OS == "" {
		r.OS = runtime.GOOS
	}
	if r.Arch == "" {
		r.Arch = runtime.GOARCH
	}
	return r
}

// check validates a selector (with defaults applied) and parses its pin.
func (r Release) check() (pin, error) {
	if err := checkAppName("Release.App", r.App); err != nil {
		return pin{}, err
	}
	for name, v := range map[string]string{"OS": r.OS, "Arch": r.Arch, "Channel": r.Channel} {
		if strings.ContainsAny(v, "/\x00") {
			return pin{}, &OptionError{Option: "Release." + name, Reason: fmt.Sprintf("%q contains '/' or NUL", v)}
		}
	}
	return parsePin(r.Pin)
}

// checkAppName refuses an application name (given as option) that is not
// letters, digits, '.', '_' and '-', beginning with a letter or digit: the
// name becomes part of target paths and file names.
func checkAppName(option, app string) error {
	if !validAppName(app) {
		return &OptionError{Option: option, Reason: fmt.Sprintf("%q: want letters, digits, '.', '_' and '-', beginning with a letter or digit", app)}
	}
	return nil
}

func validAppName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// pin is a parsed version constraint.
type pin struct {
	v     string // canonical form with "v": "v1", "v1.4" or a full version
	parts int    // 0: no pin; 1, 2 or 3 numbers given
	raw   string
}

func parsePin(s string) (pin, error) {
	if s == "" {
		return pin{}, nil
	}
	v := s
	if !strings.HasPrefix(v, "v") {
		v = "v" + v
	}
	if !semver.IsValid(v) {
		return pin{}, &OptionError{Option: "Release.Pin", Reason: fmt.Sprintf("%q is not a version (\"v1\", \"v1.4\" or \"v1.4.2\")", s)}
	}
	core, _, _ := strings.Cut(v, "+")
	core, _, _ = strings.Cut(core, "-")
	return pin{v: v, parts: strings.Count(core, ".") + 1, raw: s}, nil
}

// match reports whether the canonical full version v is within the pin.
func (p pin) match(v string) bool {
	switch p.parts {
	case 0:
		return true
	case 1:
		return semver.Major(v) == p.v
	case 2:
		return semver.MajorMinor(v) == p.v
	}
	return semver.Compare(v, p.v) == 0
}

// releaseExts are the file name endings of release targets, in the order
// of preference between builds of the same version.
var releaseExts = []string{"", ".exe", ".tar.gz", ".tgz", ".zip"}

// candidate is a target path that follows the convention for a selector.
type candidate struct {
	path    string
	version string // from the path, canonical with "v"
	ext     int    // index in releaseExts
	guessed bool   // made up from an exact pin, not listed
}

func parseReleasePath(p, app, platform string) (candidate, bool) {
	segs := strings.Split(p, "/")
	if len(segs) != 3 || segs[0] != app {
		return candidate{}, false
	}
	v, ok := rollback.CanonicalVersion(segs[1])
	if !ok {
		return candidate{}, false
	}
	for i, ext := range releaseExts {
		if segs[2] == platform+ext {
			return candidate{path: p, version: v, ext: i}, true
		}
	}
	return candidate{}, false
}

// releaseCandidates lists the paths that could be releases for rel within
// p, newest first: from the top-level targets role and from every role
// reachable through delegations whose path patterns could match a release
// of the app, in the walk lookups use (roleWalk, with its cap on roles
// visited); for an exact pin also the paths the pin names.
func (c *Client) releaseCandidates(ctx context.Context, set *trustedSet, rel Release, p pin) ([]candidate, error) {
	platform := rel.OS + "-" + rel.Arch
	seen := map[string]bool{}
	var out []candidate
	add := func(tp string, guessed bool) {
		if seen[tp] {
			return
		}
		if cand, ok := parseReleasePath(tp, rel.App, platform); ok && p.match(cand.version) {
			seen[tp] = true
			cand.guessed = guessed
			out = append(out, cand)
		}
	}
	now := c.opts.clock().UTC()
	load := func(v visit) (*metadata.Targets, error) {
		return c.delegated(ctx, set, v, now)
	}
	w := c.walkRoles(set, now)
	defer w.done()
	hashed := 0
	for {
		doc, _, err := w.next(load)
		if err != nil {
			return nil, err
		}
		if doc == nil {
			break
		}
		for tp, err := range doc.Paths() {
			if err != nil {
				return nil, err
			}
			if strings.HasPrefix(tp, rel.App+"/") {
				add(tp, false)
			}
		}
		d := doc.Delegations()
		if d == nil {
			continue
		}
		if d.Succinct() != nil {
			hashed++
			continue
		}
		keys := d.Keys()
		var children []metadata.RoleKeys
		for _, r := range d.Roles() {
			if r.PathHashPrefixes != nil {
				hashed++
				continue
			}
			if slices.ContainsFunc(r.Paths, func(pat string) bool { return couldMatchRelease(pat, rel.App) }) {
				children = append(children, delegatedKeys(r, keys))
			}
		}
		w.descend(doc, children)
	}
	if hashed > 0 && p.parts < 3 {
		c.log.Debug("releases in hash-prefix or hash-bin delegations are found only with an exact pin", "app", rel.App, "delegations", hashed)
	}
	if p.parts == 3 {
		bare := strings.TrimPrefix(p.raw, "v")
		for _, ver := range []string{bare, "v" + bare} {
			for _, ext := range releaseExts {
				add(rel.App+"/"+ver+"/"+platform+ext, true)
			}
		}
	}
	sortCandidates(out)
	return out, nil
}

// sortCandidates sorts release candidates newest first, then by the
// preference of their file name endings.
func sortCandidates(cands []candidate) {
	slices.SortFunc(cands, func(a, b candidate) int {
		if d := semver.Compare(b.version, a.version); d != 0 {
			return d
		}
		if a.ext != b.ext {
			return a.ext - b.ext
		}
		return strings.Compare(a.path, b.path)
	})
}

// couldMatchRelease reports whether a delegation's path pattern could match
// a release target of app: three segments, the first matching app.
func couldMatchRelease(pattern, app string) bool {
	segs := strings.Split(pattern, "/")
	if len(segs) != 3 {
		return false
	}
	ok, err := path.Match(segs[0], app)
	return err == nil && ok
}

// delegatedKeys is what a delegation authorises for role r.
func delegatedKeys(r metadata.DelegatedRole, all map[string]*verify.PublicKey) metadata.RoleKeys {
	keys := make(map[string]*verify.PublicKey, len(r.KeyIDs))
	for _, id := range r.KeyIDs {
		keys[id] = all[id]
	}
	return metadata.RoleKeys{Name: r.Name, Threshold: r.Threshold, KeyIDs: r.KeyIDs, Keys: keys}
}

// releaseInfo checks the signed custom data of a release target against
// the convention.
func releaseInfo(t *Target, cand candidate) (*ReleaseInfo, *InvalidReleaseError) {
	bad := func(format string, args ...any) *InvalidReleaseError {
		return &InvalidReleaseError{Path: t.Path(), Reason: fmt.Sprintf(format, args...)}
	}
	if len(t.tf.Hashes["sha256"]) != 32 {
		return nil, bad("no sha256 hash listed")
	}
	var custom map[string]json.RawMessage
	if len(t.tf.Custom) == 0 {
		return nil, bad("no signed custom data (want \"version\" and \"channels\")")
	}
	if err := json.Unmarshal(t.tf.Custom, &custom); err != nil {
		return nil, bad("custom data is not an object")
	}
	var version string
	if err := json.Unmarshal(custom["version"], &version); err != nil || custom["version"] == nil {
		return nil, bad("custom \"version\" missing or not a string")
	}
	v, ok := rollback.CanonicalVersion(version)
	if !ok {
		return nil, bad("custom version %q is not a semantic version MAJOR.MINOR.PATCH", version)
	}
	if v != cand.version {
		return nil, bad("custom version %q differs from the version in the path", version)
	}
	var channels []string
	if err := json.Unmarshal(custom["channels"], &channels); err != nil || custom["channels"] == nil {
		return nil, bad("custom \"channels\" missing or not a list of strings")
	}
	return &ReleaseInfo{Target: t, Version: version, Channels: channels}, nil
}

// sha256 is the hex SHA-256 the release's target lists (checked present by
// releaseInfo).
func (r *ReleaseInfo) sha256() string { return hex.EncodeToString(r.Target.tf.Hashes["sha256"]) }
