package client

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/latchsec/latch/metadata"
	"github.com/latchsec/latch/rollback"
	"github.com/latchsec/latch/verify"
)

// MultiConfig describes a client of several repositories (TAP 4).
type MultiConfig struct {
	// Map says which repositories there are, where, and which of them
	// must agree on which targets. Required; see ParseMap.
	Map *Map
	// TrustedRoots holds the trusted root of every repository of Map, by
	// name, as shipped with the application (spec §5.2). Required, and
	// exactly for the repositories of Map.
	TrustedRoots map[string][]byte
	// StateDir holds one state directory per repository, in the
	// subdirectory named by the repository's name encoded like a role name
	// (metadata.EncodeRoleName: "vendor" stays "vendor", "Vendor" becomes
	// "%56endor"), with what Config.StateDir holds for one repository; and
	// the application's own state (installed versions, failed builds, the
	// self-update journal, the audit log of installs) in "app.state".
	// Required.
	StateDir string
	// TargetURLs, if set, are the target mirrors of every repository,
	// instead of each repository's "<URL>/targets/": a CDN that serves the
	// targets of them all, say. What they serve is checked against the
	// agreed length and hashes as always.
	TargetURLs []string
}

// Multi is a client of several repositories with independent roots of
// trust that trusts a target only when enough of them agree on it (TAP 4,
// "multiple repository consensus on entrusted targets").
//
// Each repository is a full Client of its own: its trusted root, version
// floors, metadata cache and audit records live in its own subdirectory of
// MultiConfig.StateDir, it has its own mirrors, and it is refreshed and
// verified exactly as a single repository is. A repository that fails can
// hold back no other: its failure is reported, and the others go on.
//
// Multi is safe for concurrent use.
type Multi struct {
	m      *Map
	repos  []*repository // in the map's order
	byName map[string]*repository
	log    *slog.Logger
	// app keeps the application's state: the installed-version floor and
	// failed builds, the self-update journal and the audit log of
	// installs. It has no repository of its own: it takes releases from
	// the Multi (Client.source).
	app *Client
}

// appStateDir is the subdirectory of MultiConfig.StateDir that holds the
// application's state. No repository's can be named so: the encoding of
// repository names never leaves a ".".
const appStateDir = "app.state"

// repository is one repository of a Multi.
type repository struct {
	name string
	c    *Client
}

// NewMulti opens a client for every repository of cfg.Map, each with the
// options opts (its log records carry the attribute "repository"), and
// takes the lock on each repository's state directory. It does not touch
// the network. A field of cfg it cannot honour is an *OptionError (errors.Is
// ErrInvalidOptions), or a *MapError for a map that is not consistent.
//
// Two repositories with the same trusted root are refused: they would be
// one repository counted twice, and a threshold over them would mean less
// than it says.
//
// If another client holds a repository's state directory, NewMulti fails at
// once with an error matching ErrLocked; OpenMulti waits instead.
func NewMulti(cfg MultiConfig, opts ...Option) (*Multi, error) {
	return newMulti(cfg, opts, rollback.OpenFileStore)
}

// OpenMulti is NewMulti, except that it waits, until ctx ends, for each
// repository's state directory that another client holds (see Open).
func OpenMulti(ctx context.Context, cfg MultiConfig, opts ...Option) (*Multi, error) {
	return newMulti(cfg, opts, func(dir string) (*rollback.FileStore, error) { return rollback.OpenFileStoreWait(ctx, dir) })
}

// newMulti is NewMulti with openStore to open and lock each state
// directory's store.
func newMulti(cfg MultiConfig, opts []Option, openStore func(dir string) (*rollback.FileStore, error)) (*Multi, error) {
	if cfg.Map == nil {
		return nil, &OptionError{Option: "MultiConfig.Map", Reason: "required"}
	}
	if cfg.StateDir == "" {
		return nil, &OptionError{Option: "MultiConfig.StateDir", Reason: "required"}
	}
	if err := cfg.Map.check(); err != nil {
		return nil, err
	}
	roots := make(map[string]string, len(cfg.TrustedRoots))
	for _, r := range cfg.Map.Repositories {
		root, ok := cfg.TrustedRoots[r.Name]
		if !ok || len(root) == 0 {
			return nil, &OptionError{Option: "MultiConfig.TrustedRoots", Reason: fmt.Sprintf("no trusted root for repository %q", r.Name)}
		}
		if other, ok := roots[string(root)]; ok {
			return nil, &OptionError{Option: "MultiConfig.TrustedRoots", Reason: fmt.Sprintf("repositories %q and %q have the same trusted root", other, r.Name)}
		}
		roots[string(root)] = r.Name
	}
	for name := range cfg.TrustedRoots {
		if _, ok := cfg.Map.repository(name); !ok {
			return nil, &OptionError{Option: "MultiConfig.TrustedRoots", Reason: fmt.Sprintf("repository %q is not in the map", name)}
		}
	}
	for _, u := range cfg.TargetURLs {
		if _, err := baseURL(u); err != nil {
			return nil, &OptionError{Option: "MultiConfig.TargetURLs", Reason: err.Error()}
		}
	}
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	m := &Multi{m: cfg.Map, byName: make(map[string]*repository), log: o.logger}
	for _, r := range cfg.Map.Repositories {
		c, err := openClient(repositoryConfig(cfg, r), append(slices.Clip(opts), WithLogger(o.logger.With("repository", r.Name))), openStore)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("client: repository %q: %w", r.Name, err), m.Close())
		}
		rc := &repository{name: r.Name, c: c}
		m.repos = append(m.repos, rc)
		m.byName[r.Name] = rc
	}
	app := &Client{cfg: Config{StateDir: filepath.Join(cfg.StateDir, appStateDir)}, opts: o, log: o.logger, source: m}
	app.trusted.Store(&trustedSet{})
	if err := app.openState(openStore); err != nil {
		return nil, errors.Join(fmt.Errorf("client: application state: %w", err), m.Close())
	}
	m.app = app
	return m, nil
}

// repositoryConfig is the Config of one repository of a Multi: the map's
// URLs are the bases of its "metadata/" and "targets/" directories, unless
// cfg names target mirrors for all.
func repositoryConfig(cfg MultiConfig, r MapRepository) Config {
	enc, _ := metadata.EncodeRoleName(r.Name) // checked by Map.check
	rc := Config{TrustedRoot: cfg.TrustedRoots[r.Name], StateDir: filepath.Join(cfg.StateDir, enc)}
	for _, u := range r.URLs {
		b, _ := baseURL(u) // checked by Map.check
		rc.MetadataURLs = append(rc.MetadataURLs, b+"metadata/")
		rc.TargetURLs = append(rc.TargetURLs, b+"targets/")
	}
	if len(cfg.TargetURLs) > 0 {
		rc.TargetURLs = slices.Clone(cfg.TargetURLs)
	}
	return rc
}

// Close closes every repository's client and the application's state.
func (m *Multi) Close() error {
	var errs []error
	if m.app != nil {
		if err := m.app.Close(); err != nil {
			errs = append(errs, fmt.Errorf("application state: %w", err))
		}
	}
	for _, r := range m.repos {
		if err := r.c.Close(); err != nil {
			errs = append(errs, fmt.Errorf("repository %q: %w", r.name, err))
		}
	}
	return errors.Join(errs...)
}

// Refresh refreshes every repository, concurrently, each exactly as
// Client.Refresh does. It returns nil if every repository refreshed, and
// otherwise a *MultiError with every repository's outcome. A failed
// repository does not make lookups fail by itself: Target looks for
// agreement among the repositories that can answer, and reports the others.
func (m *Multi) Refresh(ctx context.Context) error {
	errs := make([]error, len(m.repos))
	var wg sync.WaitGroup
	for i, r := range m.repos {
		wg.Go(func() { errs[i] = r.c.Refresh(ctx) })
	}
	wg.Wait()
	err := m.outcome("refresh", errs)
	if err != nil {
		m.log.Error("refresh failed in some repositories", "err", err)
	}
	return err
}

// outcome returns nil if errs, one per repository in order, are all nil,
// and else a *MultiError of op with every repository's outcome.
func (m *Multi) outcome(op string, errs []error) error {
	if !slices.ContainsFunc(errs, func(err error) bool { return err != nil }) {
		return nil
	}
	e := &MultiError{Op: op, Errs: errs}
	for _, r := range m.repos {
		e.Repositories = append(e.Repositories, r.name)
	}
	return e
}

// MultiError reports an operation on several repositories that failed in
// some of them: each repository tried, in order, with its outcome (nil for
// success). errors.Is and errors.As see every failure.
type MultiError struct {
	Op           string
	Repositories []string
	Errs         []error
}

func (e *MultiError) Error() string {
	var b strings.Builder
	b.WriteString(e.Op + ":")
	for i, err := range e.Errs {
		if err == nil {
			fmt.Fprintf(&b, " [%s: ok]", e.Repositories[i])
		} else {
			fmt.Fprintf(&b, " [%s: %v]", e.Repositories[i], err)
		}
	}
	return b.String()
}

func (e *MultiError) Unwrap() []error {
	var out []error
	for _, err := range e.Errs {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// Sentinels of multi-repository lookups, wrapped in a *ConsensusError.
var (
	// ErrNoConsensus: no mapping that matches the target path had enough
	// of its repositories agree on the target.
	ErrNoConsensus = errors.New("repositories do not agree on the target")
	// ErrConflictingTargets: a mapping's threshold was met by two different
	// targets (length or hashes) under the same path. One of the
	// repositories lies or is out of step; the search ends there, whatever
	// the mapping's terminating flag, since any answer would be a guess.
	ErrConflictingTargets = errors.New("repositories agree on different targets")
	// ErrUndecided: a mapping's repositories did not agree, but those that
	// failed to answer (unreachable, expired, ...) were enough to have met
	// the threshold. A repository that can't be reached has not said no,
	// so the search ends there, whatever the mapping's terminating flag:
	// otherwise whoever can block a repository could steer the search to
	// the mappings after it.
	ErrUndecided = errors.New("repositories that failed could have agreed on the target")
	// ErrUnmapped: no mapping of the map file matches the target path.
	ErrUnmapped = errors.New("no mapping matches the target path")
)

// Outcome is what one repository answered in a multi-repository lookup.
type Outcome int

const (
	// OutcomeAgreed: the repository is one of those whose agreement met
	// the threshold.
	OutcomeAgreed Outcome = iota + 1
	// OutcomeListed: the repository listed the target, no other listed it
	// differently, but too few listed it.
	OutcomeListed
	// OutcomeDisagreed: the repository listed the target with a length or
	// hashes that another repository contradicts.
	OutcomeDisagreed
	// OutcomeNotListed: a complete search of the repository's trusted
	// targets roles found no role that lists the target (ErrUnknownTarget).
	OutcomeNotListed
	// OutcomeFailed: the repository could not answer: unreachable, expired,
	// rolled back, not refreshed, a listing without a supported hash, ...
	// (see RepositoryOutcome.Err).
	OutcomeFailed
)

func (o Outcome) String() string {
	switch o {
	case OutcomeAgreed:
		return "agreed"
	case OutcomeListed:
		return "listed"
	case OutcomeDisagreed:
		return "disagreed"
	case OutcomeNotListed:
		return "not listed"
	case OutcomeFailed:
		return "failed"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// RepositoryOutcome is one repository's answer in a lookup.
type RepositoryOutcome struct {
	Repository string
	Outcome    Outcome
	// Target is what the repository listed, verified by that repository
	// alone; nil unless it listed the target.
	Target *Target
	// Err is why the repository did not list the target (OutcomeNotListed,
	// OutcomeFailed). When the repository's last Refresh in this process
	// failed, Err wraps that error too.
	Err error
}

func (o RepositoryOutcome) String() string {
	switch {
	case o.Target != nil && o.Err == nil:
		return fmt.Sprintf("%s: %s %s", o.Repository, o.Outcome, describeTarget(o.Target.tf))
	case o.Err != nil:
		return fmt.Sprintf("%s: %s: %v", o.Repository, o.Outcome, o.Err)
	}
	return fmt.Sprintf("%s: %s", o.Repository, o.Outcome)
}

// describeTarget says what a listing claims: length and hashes.
func describeTarget(tf metadata.TargetFile) string {
	var b strings.Builder
	fmt.Fprintf(&b, "(%d bytes", tf.Length)
	for _, alg := range slices.Sorted(maps.Keys(tf.Hashes)) {
		fmt.Fprintf(&b, ", %s %s", alg, hex.EncodeToString(tf.Hashes[alg]))
	}
	b.WriteString(")")
	return b.String()
}

// MappingOutcome is what one mapping's repositories answered.
type MappingOutcome struct {
	Index        int // in the map file's "mapping" list
	Mapping      Mapping
	Repositories []RepositoryOutcome // in the mapping's order
	// Conflict: two different targets each met the threshold.
	Conflict bool
	// Undecided: no agreement, but the repositories that failed could have
	// made one (ErrUndecided).
	Undecided bool
}

func (o MappingOutcome) String() string {
	term := "non-terminating"
	if o.Mapping.Terminating {
		term = "terminating"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "mapping %d (%d of %s, %s", o.Index, o.Mapping.Threshold, strings.Join(o.Mapping.Repositories, ", "), term)
	switch {
	case o.Conflict:
		b.WriteString(", conflict")
	case o.Undecided:
		b.WriteString(", undecided")
	}
	b.WriteString("):")
	for _, r := range o.Repositories {
		fmt.Fprintf(&b, " [%s]", r)
	}
	return b.String()
}

// ConsensusError reports a target that the map's repositories did not
// agree on: every mapping consulted, in order, with every repository's
// answer. It wraps ErrUnmapped, or ErrNoConsensus and, for the mapping that
// ended the search, ErrConflictingTargets or ErrUndecided; and every failed
// repository's error (so errors.Is(err, ErrExpired) tells
// that some repository was expired, errors.As finds its *ExpiredError). It
// wraps ErrUnknownTarget only when every repository consulted found no role
// that lists the target, the one answer that means "no such target".
type ConsensusError struct {
	Mappings []MappingOutcome // empty when no mapping matches the path
}

func (e *ConsensusError) sentinels() []error {
	if len(e.Mappings) == 0 {
		return []error{ErrUnmapped}
	}
	out := []error{ErrNoConsensus}
	switch last := e.Mappings[len(e.Mappings)-1]; {
	case last.Conflict:
		out = append(out, ErrConflictingTargets)
	case last.Undecided:
		out = append(out, ErrUndecided)
	}
	return out
}

func (e *ConsensusError) Error() string {
	var b strings.Builder
	s := e.sentinels()
	b.WriteString(s[len(s)-1].Error())
	for _, m := range e.Mappings {
		fmt.Fprintf(&b, "; %s", m)
	}
	return b.String()
}

func (e *ConsensusError) Unwrap() []error {
	out := e.sentinels()
	unknown := len(e.Mappings) > 0
	for _, m := range e.Mappings {
		for _, r := range m.Repositories {
			if r.Outcome == OutcomeFailed {
				out = append(out, r.Err)
			}
			unknown = unknown && r.Outcome == OutcomeNotListed
		}
	}
	if unknown {
		out = append(out, ErrUnknownTarget)
	}
	return out
}

// AgreedTarget is a target that enough repositories agreed on. Its Target
// is the one the caller sees:
//   - Path and Length as every agreeing repository lists them;
//   - Hashes: every hash any agreeing repository lists (they agree where
//     they overlap), so a download is checked against all of them;
//   - Custom, Role and Chain of Repository, the first agreeing repository in
//     the mapping's order. Custom metadata is exempt from agreement (TAP 4)
//     and may differ between repositories; the mapping's order is the
//     priority its author gave the repositories, so the first one's is
//     shown. Every repository's own listing is in Mapping().
type AgreedTarget struct {
	*Target
	mapping  MappingOutcome
	agreed   []string  // mapping order
	download []*Target // per agreeing repository: Target with its own names
}

// Repository is the agreeing repository whose custom metadata, role and
// chain Target carries.
func (a *AgreedTarget) Repository() string { return a.agreed[0] }

// Repositories are the agreeing repositories, in the mapping's order.
func (a *AgreedTarget) Repositories() []string { return slices.Clone(a.agreed) }

// Mapping is the mapping whose repositories agreed: its index in the map
// file, and every repository's answer.
func (a *AgreedTarget) Mapping() MappingOutcome {
	o := a.mapping
	o.Repositories = slices.Clone(o.Repositories)
	return o
}

// Target looks path up (TAP 4): it takes the mappings whose paths match it,
// in the map's order, and looks the target up in each repository of the
// mapping (each with its own delegations, expiry and rollback checks, as
// Client.Target does). Two repositories' listings match when their lengths
// are equal, every hash algorithm both list has the same digest, and at
// least one algorithm they share is one latch checks (sha256, sha512). A
// repository joins the first group of matching listings, in the mapping's
// order, that it matches; the target is trusted when one group has at least
// the mapping's threshold of repositories. Otherwise a terminating mapping
// ends the search, and a non-terminating one passes it to the next mapping
// that matches. Two exceptions end the search whatever the flag: two
// groups that both meet the threshold (a conflict, ErrConflictingTargets),
// and repositories that failed to answer in numbers that could have met it
// (ErrUndecided): falling through then would let whoever can block a
// repository choose a weaker mapping.
//
// Every repository of a mapping is asked, even once the threshold is met,
// so that a repository that contradicts the others is seen: it is logged,
// and reported in AgreedTarget.Mapping. A failure is a *TargetError
// wrapping a *ConsensusError.
func (m *Multi) Target(ctx context.Context, path string) (*AgreedTarget, error) {
	cerr := &ConsensusError{}
	for i, mp := range m.m.Mapping {
		if !mp.Matches(path) {
			continue
		}
		a, out := m.consult(ctx, i, mp, path)
		if a != nil {
			for _, r := range out.Repositories {
				if r.Outcome == OutcomeDisagreed {
					m.log.Warn("a repository disagrees with the consensus", "target", path, "outcome", r.String())
				}
			}
			return a, nil
		}
		cerr.Mappings = append(cerr.Mappings, out)
		if out.Conflict || out.Undecided || mp.Terminating {
			break
		}
	}
	err := &TargetError{Path: path, Err: cerr}
	m.log.Error("no consensus", "err", err)
	return nil, err
}

// group is a set of repositories whose listings match: the combined
// listing and the indexes of its members in the mapping.
type group struct {
	tf      metadata.TargetFile
	members []int
}

// consult asks every repository of mapping mp (index i) for path.
func (m *Multi) consult(ctx context.Context, i int, mp Mapping, path string) (*AgreedTarget, MappingOutcome) {
	out := MappingOutcome{Index: i, Mapping: mp, Repositories: make([]RepositoryOutcome, len(mp.Repositories))}
	var groups []*group
	for j, name := range mp.Repositories {
		r := m.byName[name]
		o := RepositoryOutcome{Repository: name}
		t, err := r.c.Target(ctx, path)
		if err == nil {
			_, err = verify.NewHashWriter(t.Length(), t.tf.Hashes) // a supported hash?
			o.Target = t
		}
		switch {
		case err == nil:
			groups = join(groups, t.tf, j)
		case errors.Is(err, ErrUnknownTarget):
			o.Outcome, o.Err = OutcomeNotListed, err
		default:
			o.Outcome, o.Err = OutcomeFailed, r.withRefreshError(err)
		}
		out.Repositories[j] = o
	}
	var won []*group
	for _, g := range groups {
		if len(g.members) >= mp.Threshold {
			won = append(won, g)
		}
	}
	out.Conflict = len(won) > 1
	failed, largest := 0, 0
	for _, r := range out.Repositories {
		if r.Outcome == OutcomeFailed {
			failed++
		}
	}
	for _, g := range groups {
		largest = max(largest, len(g.members))
	}
	out.Undecided = len(won) == 0 && failed > 0 && largest+failed >= mp.Threshold
	for _, g := range groups {
		outcome := OutcomeDisagreed
		switch {
		case len(won) == 1 && g == won[0]:
			outcome = OutcomeAgreed
		case len(won) == 0 && len(groups) == 1:
			outcome = OutcomeListed
		}
		for _, j := range g.members {
			out.Repositories[j].Outcome = outcome
		}
	}
	if len(won) != 1 {
		return nil, out
	}
	g := won[0]
	first := out.Repositories[g.members[0]].Target
	tf := g.tf
	tf.Custom = first.tf.Custom
	a := &AgreedTarget{Target: &Target{tf: tf, role: first.role, chain: first.chain}, mapping: out}
	for _, j := range g.members {
		t := out.Repositories[j].Target
		a.agreed = append(a.agreed, mp.Repositories[j])
		a.download = append(a.download, &Target{tf: tf, role: t.role, chain: t.chain, named: t.tf.Hashes})
	}
	return a, out
}

// join adds the listing tf of repository j to the first group it matches,
// or to a new group.
func join(groups []*group, tf metadata.TargetFile, j int) []*group {
	for _, g := range groups {
		if matchingTargets(g.tf, tf) {
			for alg, d := range tf.Hashes {
				g.tf.Hashes[alg] = d
			}
			g.members = append(g.members, j)
			return groups
		}
	}
	return append(groups, &group{tf: metadata.TargetFile{Path: tf.Path, Length: tf.Length, Hashes: maps.Clone(tf.Hashes)}, members: []int{j}})
}

// matchingTargets reports whether two listings describe the same file (TAP
// 4 "matching targets"): the same length, the same digest for every
// algorithm both list (known to latch or not), and at least one shared
// algorithm that latch checks.
func matchingTargets(a, b metadata.TargetFile) bool {
	if a.Length != b.Length {
		return false
	}
	shared := false
	for alg, d := range b.Hashes {
		ad, ok := a.Hashes[alg]
		if !ok {
			continue
		}
		if !bytes.Equal(ad, d) {
			return false
		}
		shared = shared || verify.SupportedHash(alg)
	}
	return shared
}

// withRefreshError adds the repository's last refresh error, if any, to the
// lookup error err: a lookup that fails after a failed refresh (a rollback,
// an unreachable repository) is explained by it.
func (r *repository) withRefreshError(err error) error {
	r.c.statusMu.Lock()
	last := r.c.lastErr
	r.c.statusMu.Unlock()
	if last == nil {
		return err
	}
	return fmt.Errorf("%w (last refresh: %w)", err, last)
}

// DownloadFile downloads a to dest from the target mirrors of the agreeing
// repositories, in the mapping's order, each as Client.DownloadFile does:
// the bytes must have the agreed length and match every agreed hash before
// they appear at dest. If every repository's mirrors fail, the error is a
// *TargetError wrapping a *MultiError with each one's reason.
func (m *Multi) DownloadFile(ctx context.Context, a *AgreedTarget, dest string) error {
	if a == nil || len(a.download) == 0 {
		return &OptionError{Option: "AgreedTarget", Reason: "DownloadFile needs one from Multi.Target"}
	}
	e := &MultiError{Op: "download"}
	for i, name := range a.agreed {
		err := m.byName[name].c.DownloadFile(ctx, a.download[i], dest)
		if err == nil {
			return nil
		}
		e.Repositories = append(e.Repositories, name)
		e.Errs = append(e.Errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return &TargetError{Path: a.Path(), Err: e}
}

// Cached reports whether the file at p is a verified copy of a: the agreed
// length and every agreed hash. A missing file is (false, nil).
func (m *Multi) Cached(a *AgreedTarget, p string) (bool, error) {
	if a == nil || len(a.download) == 0 {
		return false, &OptionError{Option: "AgreedTarget", Reason: "Cached needs one from Multi.Target"}
	}
	return m.byName[a.agreed[0]].c.Cached(a.download[0], p)
}

// MultiStatus is the Status of every repository, in the map's order, and
// the application's installed releases.
type MultiStatus struct {
	Repositories []RepositoryStatus
	// Installed is the committed release of each application updated
	// with Multi.Apply (the installed-version floor), with its SHA-256.
	Installed map[string]rollback.Install
	// AuditError is the last failure to write the audit log of installs.
	AuditError error
}

// RepositoryStatus is one repository's Status.
type RepositoryStatus struct {
	Name string
	Status
}

// Status reports every repository's Status. It does no I/O.
func (m *Multi) Status() MultiStatus {
	var st MultiStatus
	st.Installed, st.AuditError = m.app.installs()
	for _, r := range m.repos {
		st.Repositories = append(st.Repositories, RepositoryStatus{Name: r.name, Status: r.c.Status()})
	}
	return st
}
