// Command tufclient is a command-line TUF client built on package client: it
// keeps trusted metadata for one repository in a directory, refreshes it as
// the TUF specification's client workflow prescribes, and downloads verified
// targets.
//
// Usage:
//
//	tufclient --metadata-dir DIR init ROOT_FILE
//	tufclient --metadata-dir DIR --metadata-url URL refresh
//	tufclient --metadata-dir DIR --metadata-url URL --target-base-url URL \
//		--target-dir DIR --target-name PATH [--target-name PATH ...] download
//	tufclient audit verify FILE|DIR
//	tufclient --metadata-dir DIR audit verify
//	tufclient --metadata-dir DIR clock reset-unsafe
//	tufclient --metadata-dir DIR --metadata-url URL --log-url URL --log-key KEY log monitor
//
// With several repositories that must agree (TAP 4), a map file replaces
// --metadata-url:
//
//	tufclient --metadata-dir DIR --map FILE init ROOTS_DIR
//	tufclient --metadata-dir DIR --map FILE refresh
//	tufclient --metadata-dir DIR --map FILE clock reset-unsafe
//	tufclient --metadata-dir DIR --map FILE [--target-base-url URL] \
//		--target-dir DIR --target-name PATH [--target-name PATH ...] download
//
// Flags come before the command word, in any order; -v logs debug detail.
//
// init, refresh, download, clock reset-unsafe and log monitor hold the
// metadata directory while they run.
// An invocation that finds it held by another (a cron job beside a person,
// say) logs the holder's process ID and waits for it, for at most
// --lock-wait (default 1m; 0 fails at once). Nothing else is ever waited
// for: audit verify reads without the lock.
//
// audit verify with --metadata-dir checks the audit log of DIR against the
// trusted state kept there (client.VerifyAudit): it reports the first broken
// link (the file, line and sequence number, and whether a record was
// edited, deleted, reordered or malformed), and also records removed from
// or added at the end, a rewritten chain and a forged "records dropped"
// entry. Given FILE|DIR instead (a copy of a log file, or of the directory
// of a log and its rotated files), it checks the hash chain alone
// (client.VerifyAuditFiles), which can't see those last four.
//
// clock reset-unsafe is the fix a "clock is earlier than a trusted time"
// failure names, for a clock that was wrong in the future: it sets the
// latest trusted time back to the clock (FAKETIME included) and records
// that in the audit log (client.Client.ResetTrustedTimeUnsafe). It weakens
// the protection against an attacker who sets the clock back to replay
// expired metadata: check the clock by other means first.
//
// init checks that ROOT_FILE is root metadata signed by a threshold of its
// own root keys and stores it as the trust anchor; it does not use the
// network. refresh updates the root (following every rotation), timestamp,
// snapshot and targets metadata. download refreshes and then downloads each
// target in order, stopping at the first failure; a target whose file in the
// target directory already has the signed length and hashes is not fetched
// again.
//
// # Release transparency
//
// download takes a release transparency policy: --log-url (repeat for
// mirrors) and --log-key name the log (the URL that serves its checkpoint
// as URL/checkpoint, and the verifier key publish log-init printed);
// --log-origin (default: the key's name), --log-repository (default: the
// origin), --witness-key (repeatable) with --witness-threshold, and
// --log-path (repeatable; default every target) complete it. A target the
// policy covers is then downloaded, or kept when already in place, only
// once the log proves that it holds exactly that release (see
// client.TransparencyLog). The latest checkpoint verified is kept in the
// trusted state; pass the same flags to every download.
//
// log monitor is the vendor's (or anyone's) watch on the log: it verifies
// the log's checkpoint, proves it consistent with the one it saw last time,
// and checks every entry added since against what the repository signs
// now. Each entry it does not recognise (a release the repository does not
// list with the same length and SHA-256, an entry for another repository,
// anything that is not a release entry) is one JSON line on standard
// output:
//
//	{"event":"unknown-entry","index":7,"reason":"the repository lists no such target","repository":"example.com/app","target":"app/9.9.9/linux-amd64","length":5,"sha256":"…"}
//
// and the exit status is 3. A log that contradicts the checkpoint the
// monitor saw before prints {"event":"split-view"} (or "rollback") with both
// signed checkpoints and exits 4. The client keeps the monitor's position,
// the next entry to check and the checkpoint it was read under, in the
// metadata directory, and starts there next time.
//
// # Files
//
// The metadata directory is the client's state directory
// (client.Config.StateDir): it holds the trusted metadata as <role>.json,
// each file byte-identical to what the repository served (role names are
// encoded reversibly, so "a/b" becomes a%2Fb.json), and no other file ending
// in .json; the client keeps everything else (its forward-only trusted
// state, the audit log, the lock, ...) in subdirectories of its own. Beside
// them tufclient keeps one file, the trust anchor that init stored,
// DIR/trusted-root (not a .json file, never changed by later commands).
// Later roots are not written into the anchor: the client starts from the
// newest root it verified, cached as root.json.
//
// A target path becomes the file of the same relative path below the target
// directory ("a/b.txt" is DIR/a/b.txt); a path that could escape the
// directory (absolute, "..", backslashes, device names, ...) is refused
// before anything is fetched. The target directory only ever holds verified
// files: each download is written to a temporary file that becomes visible
// under its name only once its length and hashes match, and that is removed
// on failure.
//
// # Several repositories
//
// --map FILE names a map file (TAP 4): the repositories, each with the URLs
// of its mirrors (each the base of the repository's metadata/ and targets/),
// and which of them must agree on which targets. init takes each
// repository's trusted root from ROOTS_DIR/<name>.root.json, checks them all
// (and the map) before it stores anything, and keeps each repository's
// state in DIR as client.Multi lays it out, and the repository's trust
// anchor in DIR/<name encoded like a role name>.trusted-root. refresh
// refreshes every repository and fails if any failed, naming each; clock
// reset-unsafe resets the trusted time of each. download trusts a target only when the map's threshold of
// repositories list it with the same length and hashes; a repository that
// did not refresh is reported and left out, the others may still agree. The
// targets come from the agreeing repositories' <URL>/targets/, or from
// --target-base-url for all of them if it is given.
//
// Plain http:// URLs are accepted for loopback hosts only.
//
// # Exit status and log
//
// tufclient exits 0 when everything succeeded and 1 otherwise, usage errors
// included; log monitor also exits 3 for unknown entries and 4 for a log
// that contradicts itself. It logs each step to standard error (log/slog text format).
//
// # FAKETIME
//
// The environment variable FAKETIME, when set and not empty, replaces the
// current time as the reference time for expiry checks, in the forms that
// faketime(1) uses:
//
//	@YYYY-MM-DD hh:mm:ss   start the clock at that time and let it run
//	YYYY-MM-DD hh:mm:ss    stop the clock at that time
//	+N, -N                 shift the real time by N seconds; a suffix s, m,
//	                       h, d or y (365 days) changes the unit: -2d, +1y
//
// Dates are in the local time zone, which TZ sets (TZ=UTC for UTC). An
// invalid FAKETIME is an error (exit status 1).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // TZ works on systems without a zoneinfo database

	"github.com/latchsec/latch/client"
)

const synopsis = `usage:
  tufclient --metadata-dir DIR init ROOT_FILE
  tufclient --metadata-dir DIR --metadata-url URL refresh
  tufclient --metadata-dir DIR --metadata-url URL --target-base-url URL \
      --target-dir DIR --target-name PATH [--target-name PATH ...] download
  tufclient audit verify FILE|DIR
  tufclient --metadata-dir DIR audit verify
  tufclient --metadata-dir DIR clock reset-unsafe
  tufclient --metadata-dir DIR --map FILE init ROOTS_DIR
  tufclient --metadata-dir DIR --map FILE refresh
  tufclient --metadata-dir DIR --map FILE clock reset-unsafe
  tufclient --metadata-dir DIR --map FILE [--target-base-url URL] \
      --target-dir DIR --target-name PATH [--target-name PATH ...] download
  tufclient --metadata-dir DIR --metadata-url URL --log-url URL --log-key KEY log monitor
`

const usageText = synopsis + `
Flags come before the command word, in any order. Every command but audit verify
waits up to --lock-wait for another process using the metadata directory.

commands:
  init      store ROOT_FILE (self-signed root metadata) as the trusted root; no network
  refresh   update the trusted metadata from the repository
  download  refresh, then download each --target-name in order (stop at the first failure);
            a target already in --target-dir with the signed length and hashes is kept
  audit verify
            with --metadata-dir: check DIR's audit log against its trusted state; else
            check the hash chain of FILE|DIR (a copied log file, or a directory of
            rotated files); report the first broken link
  clock reset-unsafe
            after a clock that was wrong in the future: set the trusted time back to
            the clock, recorded in the audit log; check the clock by other means first
  log monitor
            check every entry added to the transparency log since the last run against
            what the repository signs; print each unknown entry as a JSON line
            (download takes the same --log-* flags: covered targets must be in the log)

several repositories (TAP 4): --map FILE replaces --metadata-url; init reads each
repository's root from ROOTS_DIR/<name>.root.json; download trusts a target only when
the map's threshold of repositories agree on it; --target-base-url is optional (default:
each repository's URL + targets/)

environment:
  FAKETIME  reference time instead of the current time, as faketime(1) takes it:
            "@YYYY-MM-DD hh:mm:ss" (start the clock there), "YYYY-MM-DD hh:mm:ss"
            (stop it there), or "+N"/"-N" with an optional unit s, m, h, d or y
            (365 days) as an offset from now; dates in the local zone (TZ)

Exit status: 0 on success, 1 on any failure; log monitor: 3 for unknown entries,
4 for a log that contradicts what it showed before.

flags:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// stringList is a flag.Value that collects every occurrence of a flag, in
// order.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

// command is one parsed invocation.
type command struct {
	name          string
	rootFile      string // init; with --map, the directory of the roots
	mapFile       string
	metadataDir   string
	metadataURL   string
	targetNames   []string
	targetBaseURL string
	targetDir     string
	auditPath     string // audit verify
	lockWait      time.Duration
	verbose       bool

	// release transparency (download, log monitor)
	logURLs          []string
	logKey           string
	logOrigin        string
	logRepository    string
	witnessKeys      []string
	witnessThreshold int
	logPaths         []string
}

// errUsage marks a command line that does not fit the usage.
var errUsage = errors.New("usage")

// commandFlags says which flags each command needs; -v is always allowed.
var commandFlags = map[string][]string{
	"init":     {"metadata-dir"},
	"refresh":  {"metadata-dir", "metadata-url"},
	"download": {"metadata-dir", "metadata-url", "target-name", "target-base-url", "target-dir"},
	"audit":    {},
	"clock":    {"metadata-dir"},
	"log":      {"metadata-dir", "metadata-url", "log-url", "log-key"},
}

// optionalFlags are flags a command takes but does not need.
var optionalFlags = map[string][]string{
	"init":     {"lock-wait"},
	"refresh":  {"lock-wait"},
	"download": append([]string{"lock-wait"}, logFlags...),
	"audit":    {"metadata-dir"},
	"clock":    {"lock-wait"},
	"log":      append([]string{"lock-wait"}, logFlags...),
}

// parseArgs parses the command line. Errors wrap errUsage.
func parseArgs(args []string, stderr io.Writer) (*command, error) {
	var cmd command
	var names stringList
	fs := flag.NewFlagSet("tufclient", flag.ContinueOnError)
	// Errors are reported by run; only -h prints the usage here.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.SetOutput(stderr)
		fs.PrintDefaults()
	}
	fs.StringVar(&cmd.metadataDir, "metadata-dir", "", "directory `DIR` of the trusted metadata")
	fs.StringVar(&cmd.metadataURL, "metadata-url", "", "base `URL` of the repository's metadata")
	fs.StringVar(&cmd.mapFile, "map", "", "map `FILE` (TAP 4) of several repositories, instead of --metadata-url")
	fs.Var(&names, "target-name", "target `PATH` to download; repeat for several, downloaded in order")
	fs.StringVar(&cmd.targetBaseURL, "target-base-url", "", "base `URL` of the repository's targets")
	fs.StringVar(&cmd.targetDir, "target-dir", "", "directory `DIR` that receives the verified targets")
	fs.DurationVar(&cmd.lockWait, "lock-wait", time.Minute, "how long to wait (`DURATION`) while another process uses the metadata directory; 0 fails at once")
	fs.BoolVar(&cmd.verbose, "v", false, "log debug detail")
	var logURLs, witnessKeys, logPaths stringList
	fs.Var(&logURLs, "log-url", "`URL` of the release transparency log (its checkpoint is URL/checkpoint); repeat for mirrors")
	fs.StringVar(&cmd.logKey, "log-key", "", "the log's note verifier `KEY` (publish log-init prints it)")
	fs.StringVar(&cmd.logOrigin, "log-origin", "", "the log's `ORIGIN` (default: the name in --log-key)")
	fs.StringVar(&cmd.logRepository, "log-repository", "", "the repository `NAME` in the log's entries (default: the origin)")
	fs.Var(&witnessKeys, "witness-key", "cosignature/v1 verifier `KEY` of a witness; repeat for several")
	fs.IntVar(&cmd.witnessThreshold, "witness-threshold", 0, "how many witnesses (`N`) must cosign each checkpoint")
	fs.Var(&logPaths, "log-path", "target path `PATTERN` the log must cover (\"*\" within one path segment); repeat; default: every target")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	cmd.targetNames = names
	cmd.logURLs, cmd.witnessKeys, cmd.logPaths = logURLs, witnessKeys, logPaths
	rest := fs.Args()
	if len(rest) == 0 {
		return nil, fmt.Errorf("%w: no command (init, refresh, download, audit, clock or log)", errUsage)
	}
	cmd.name, rest = rest[0], rest[1:]
	need, ok := commandFlags[cmd.name]
	optional := optionalFlags[cmd.name]
	if !ok {
		return nil, fmt.Errorf("%w: unknown command %q (want init, refresh, download, audit, clock or log)", errUsage, cmd.name)
	}
	var set []string // in lexical order
	fs.Visit(func(f *flag.Flag) { set = append(set, f.Name) })
	if slices.Contains(set, "map") {
		var err error
		if need, optional, err = withMap(cmd.name, set, need, optional); err != nil {
			return nil, err
		}
	}
	if cmd.name == "init" {
		if len(rest) != 1 && cmd.mapFile != "" {
			return nil, fmt.Errorf("%w: init with --map takes one argument, the directory of the roots", errUsage)
		}
		if len(rest) != 1 {
			return nil, fmt.Errorf("%w: init takes one argument, the root metadata file", errUsage)
		}
		cmd.rootFile, rest = rest[0], nil
	}
	if cmd.name == "log" {
		if len(rest) != 1 || rest[0] != "monitor" {
			return nil, fmt.Errorf("%w: log takes: monitor", errUsage)
		}
		rest = nil
	}
	if cmd.name == "clock" {
		if len(rest) != 1 || rest[0] != "reset-unsafe" {
			return nil, fmt.Errorf("%w: clock takes: reset-unsafe", errUsage)
		}
		rest = nil
	}
	if cmd.name == "audit" {
		switch {
		case slices.Contains(set, "metadata-dir") && (len(rest) != 1 || rest[0] != "verify"):
			return nil, fmt.Errorf("%w: audit with --metadata-dir takes: verify (it checks DIR's own log)", errUsage)
		case !slices.Contains(set, "metadata-dir") && (len(rest) != 2 || rest[0] != "verify"):
			return nil, fmt.Errorf("%w: audit takes: verify FILE|DIR", errUsage)
		case len(rest) == 2:
			cmd.auditPath = rest[1]
		}
		rest = nil
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("%w: unexpected %q after %s (flags come before the command)", errUsage, rest[0], cmd.name)
	}
	for _, name := range need {
		if !slices.Contains(set, name) {
			return nil, fmt.Errorf("%w: %s needs --%s", errUsage, cmd.name, name)
		}
	}
	for _, name := range set {
		if name != "v" && !slices.Contains(need, name) && !slices.Contains(optional, name) {
			return nil, fmt.Errorf("%w: --%s does not apply to %s", errUsage, name, cmd.name)
		}
	}
	if (cmd.metadataDir == "" && cmd.name != "audit") || (cmd.name == "download" && cmd.targetDir == "") ||
		(slices.Contains(set, "map") && cmd.mapFile == "") {
		return nil, fmt.Errorf("%w: directory and file flags must not be empty", errUsage)
	}
	if slices.ContainsFunc(set, func(f string) bool { return slices.Contains(logFlags, f) }) &&
		(!slices.Contains(set, "log-url") || !slices.Contains(set, "log-key")) {
		return nil, fmt.Errorf("%w: the log flags need --log-url and --log-key", errUsage)
	}
	if cmd.lockWait < 0 {
		return nil, fmt.Errorf("%w: --lock-wait must not be negative", errUsage)
	}
	return &cmd, nil
}

// run executes the command line args and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd, err := parseArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "tufclient: %v\n%s(tufclient -h for details)\n", err, synopsis)
		return 1
	}
	level := slog.LevelInfo
	if cmd.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	clock := time.Now
	if spec := os.Getenv("FAKETIME"); spec != "" {
		if clock, err = parseFakeTime(spec, time.Local, time.Now); err != nil {
			log.Error("command failed", "command", cmd.name, "err", err)
			return 1
		}
		log.Info("using FAKETIME as the reference time", "FAKETIME", spec, "now", clock().Format(time.RFC3339))
	}
	switch {
	case cmd.name == "init" && cmd.mapFile != "":
		err = initialiseMulti(ctx, cmd, log)
	case cmd.name == "init":
		err = initialise(ctx, cmd, log)
	case cmd.name == "refresh":
		err = refresh(ctx, cmd, log, clock)
	case cmd.name == "download":
		err = download(ctx, cmd, log, clock)
	case cmd.name == "audit":
		err = verifyAudit(ctx, cmd, stdout)
	case cmd.name == "clock":
		err = resetClock(ctx, cmd, log, clock)
	case cmd.name == "log":
		err = monitor(ctx, cmd, log, clock, stdout)
	}
	switch {
	case cmd.name == "log" && errors.Is(err, errUnknownEntries):
		log.Error("log monitor", "err", err)
		return exitUnknownEntries
	case cmd.name == "log" && (errors.Is(err, client.ErrSplitView) || errors.Is(err, client.ErrLogRollback)):
		log.Error("log monitor: the log contradicts what it showed before; keep the checkpoints printed as evidence", "err", err)
		return exitLogConflict
	case err != nil:
		log.Error("command failed", "command", cmd.name, "err", err)
		return 1
	}
	return 0
}

// newClient opens the client over the metadata directory that init prepared.
func newClient(ctx context.Context, cmd *command, log *slog.Logger, clock func() time.Time) (*client.Client, error) {
	root, err := readAnchor(cmd.metadataDir, anchorPath(cmd.metadataDir))
	if err != nil {
		return nil, err
	}
	cfg := client.Config{TrustedRoot: root, StateDir: cmd.metadataDir}
	if cmd.metadataURL != "" {
		cfg.MetadataURLs = []string{cmd.metadataURL}
	}
	if cmd.targetBaseURL != "" {
		cfg.TargetURLs = []string{cmd.targetBaseURL}
	}
	cfg.TransparencyLog = cmd.logPolicy()
	return openClient(ctx, cmd, log, cfg, client.WithLogger(log), client.WithClock(clock))
}

// openClient opens a client over cfg.StateDir; while another process holds
// it, it says so and waits for at most cmd.lockWait.
func openClient(ctx context.Context, cmd *command, log *slog.Logger, cfg client.Config, opts ...client.Option) (*client.Client, error) {
	return waitOpen(ctx, cmd, log,
		func() (*client.Client, error) { return client.New(cfg, opts...) },
		func(ctx context.Context) (*client.Client, error) { return client.Open(ctx, cfg, opts...) })
}

// waitOpen calls open; if it finds a metadata directory held by another
// process, it says so and calls wait, which waits for at most cmd.lockWait.
func waitOpen[T any](ctx context.Context, cmd *command, log *slog.Logger, open func() (T, error), wait func(context.Context) (T, error)) (T, error) {
	c, err := open()
	if !errors.Is(err, client.ErrLocked) || cmd.lockWait == 0 {
		return c, err
	}
	log.Info("waiting for the metadata directory", "held", err, "lock-wait", cmd.lockWait)
	ctx, cancel := context.WithTimeout(ctx, cmd.lockWait)
	defer cancel()
	return wait(ctx)
}

// refresh refreshes the repository, or with --map every repository.
func refresh(ctx context.Context, cmd *command, log *slog.Logger, clock func() time.Time) (err error) {
	var c interface {
		Refresh(context.Context) error
		Close() error
	}
	if cmd.mapFile != "" {
		c, err = newMultiClient(ctx, cmd, log, clock)
	} else {
		c, err = newClient(ctx, cmd, log, clock)
	}
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, c.Close()) }()
	return c.Refresh(ctx)
}
