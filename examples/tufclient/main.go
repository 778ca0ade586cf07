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
//	tufclient [--metadata-dir DIR] audit verify FILE|DIR
//
// Flags come before the command word, in any order; -v logs debug detail.
//
// init, refresh and download hold the metadata directory while they run.
// An invocation that finds it held by another (a cron job beside a person,
// say) logs the holder's process ID and waits for it, for at most
// --lock-wait (default 1m; 0 fails at once). Nothing else is ever waited
// for: audit verify reads without the lock.
//
// audit verify checks the hash chain of an audit log (DIR/audit/audit.log and
// its rotated files audit.N.log) and reports the first broken link: the file,
// line and sequence number, and whether a record was edited, deleted,
// reordered or malformed. Given a directory it checks every file in order;
// with --metadata-dir it also checks the chain against the anchor kept in
// the trusted state, which detects records removed from or added at the
// end, a rewritten chain and a forged "records dropped" entry.
//
// init checks that ROOT_FILE is root metadata signed by a threshold of its
// own root keys and stores it as the trust anchor; it does not use the
// network. refresh updates the root (following every rotation), timestamp,
// snapshot and targets metadata. download refreshes and then downloads each
// target in order, stopping at the first failure; a target whose file in the
// target directory already has the signed length and hashes is not fetched
// again.
//
// # Files
//
// The metadata directory holds the trusted metadata as <role>.json, each
// file byte-identical to what the repository served (role names are encoded
// reversibly, so "a/b" becomes a%2Fb.json), and no other file ending in
// .json. Everything else lives in its subdirectories: "state" holds the
// trust anchor that init stored (state/trusted-root, not a .json file, never
// changed by later commands), the client's forward-only trusted state, the
// targets index and the lock; "audit" holds the audit log.
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
// Plain http:// URLs are accepted for loopback hosts only.
//
// # Exit status and log
//
// tufclient exits 0 when everything succeeded and 1 otherwise, usage errors
// included. It logs each step to standard error (log/slog text format).
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
  tufclient [--metadata-dir DIR] audit verify FILE|DIR
`

const usageText = synopsis + `
Flags come before the command word, in any order. init, refresh and download wait
up to --lock-wait for another process using the metadata directory.

commands:
  init      store ROOT_FILE (self-signed root metadata) as the trusted root; no network
  refresh   update the trusted metadata from the repository
  download  refresh, then download each --target-name in order (stop at the first failure);
            a target already in --target-dir with the signed length and hashes is kept
  audit verify
            check an audit log's hash chain (a file, or a directory of rotated files) and
            report the first broken link; with --metadata-dir, also against its anchor

environment:
  FAKETIME  reference time instead of the current time, as faketime(1) takes it:
            "@YYYY-MM-DD hh:mm:ss" (start the clock there), "YYYY-MM-DD hh:mm:ss"
            (stop it there), or "+N"/"-N" with an optional unit s, m, h, d or y
            (365 days) as an offset from now; dates in the local zone (TZ)

Exit status: 0 on success, 1 on any failure.

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
	rootFile      string // init
	metadataDir   string
	metadataURL   string
	targetNames   []string
	targetBaseURL string
	targetDir     string
	auditPath     string // audit verify
	lockWait      time.Duration
	verbose       bool
}

// errUsage marks a command line that does not fit the usage.
var errUsage = errors.New("usage")

// commandFlags says which flags each command needs; -v is always allowed.
var commandFlags = map[string][]string{
	"init":     {"metadata-dir"},
	"refresh":  {"metadata-dir", "metadata-url"},
	"download": {"metadata-dir", "metadata-url", "target-name", "target-base-url", "target-dir"},
	"audit":    {},
}

// optionalFlags are flags a command takes but does not need.
var optionalFlags = map[string][]string{
	"init":     {"lock-wait"},
	"refresh":  {"lock-wait"},
	"download": {"lock-wait"},
	"audit":    {"metadata-dir"},
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
	fs.Var(&names, "target-name", "target `PATH` to download; repeat for several, downloaded in order")
	fs.StringVar(&cmd.targetBaseURL, "target-base-url", "", "base `URL` of the repository's targets")
	fs.StringVar(&cmd.targetDir, "target-dir", "", "directory `DIR` that receives the verified targets")
	fs.DurationVar(&cmd.lockWait, "lock-wait", time.Minute, "how long to wait (`DURATION`) while another process uses the metadata directory; 0 fails at once")
	fs.BoolVar(&cmd.verbose, "v", false, "log debug detail")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	cmd.targetNames = names
	rest := fs.Args()
	if len(rest) == 0 {
		return nil, fmt.Errorf("%w: no command (init, refresh, download or audit)", errUsage)
	}
	cmd.name, rest = rest[0], rest[1:]
	need, ok := commandFlags[cmd.name]
	if !ok {
		return nil, fmt.Errorf("%w: unknown command %q (want init, refresh, download or audit)", errUsage, cmd.name)
	}
	if cmd.name == "init" {
		if len(rest) != 1 {
			return nil, fmt.Errorf("%w: init takes one argument, the root metadata file", errUsage)
		}
		cmd.rootFile, rest = rest[0], nil
	}
	if cmd.name == "audit" {
		if len(rest) != 2 || rest[0] != "verify" {
			return nil, fmt.Errorf("%w: audit takes: verify FILE|DIR", errUsage)
		}
		cmd.auditPath, rest = rest[1], nil
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("%w: unexpected %q after %s (flags come before the command)", errUsage, rest[0], cmd.name)
	}
	var set []string // in lexical order
	fs.Visit(func(f *flag.Flag) { set = append(set, f.Name) })
	for _, name := range need {
		if !slices.Contains(set, name) {
			return nil, fmt.Errorf("%w: %s needs --%s", errUsage, cmd.name, name)
		}
	}
	for _, name := range set {
		if name != "v" && !slices.Contains(need, name) && !slices.Contains(optionalFlags[cmd.name], name) {
			return nil, fmt.Errorf("%w: --%s does not apply to %s", errUsage, name, cmd.name)
		}
	}
	if (cmd.metadataDir == "" && cmd.name != "audit") || (cmd.name == "download" && cmd.targetDir == "") {
		return nil, fmt.Errorf("%w: directory flags must not be empty", errUsage)
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
	switch cmd.name {
	case "init":
		err = initialise(ctx, cmd, log)
	case "refresh":
		err = refresh(ctx, cmd, log, clock)
	case "download":
		err = download(ctx, cmd, log, clock)
	case "audit":
		err = verifyAudit(cmd, stdout)
	}
	if err != nil {
		log.Error("command failed", "command", cmd.name, "err", err)
		return 1
	}
	return 0
}

// newClient opens the client over the metadata directory that init prepared.
func newClient(ctx context.Context, cmd *command, log *slog.Logger, clock func() time.Time) (*client.Client, error) {
	root, err := readAnchor(cmd.metadataDir)
	if err != nil {
		return nil, err
	}
	cfg := client.Config{
		TrustedRoot:  root,
		MetadataURLs: []string{cmd.metadataURL},
		StateDir:     cmd.metadataDir,
	}
	if cmd.targetBaseURL != "" {
		cfg.TargetURLs = []string{cmd.targetBaseURL}
	}
	return openClient(ctx, cmd, log, cfg, client.WithLogger(log), client.WithClock(clock))
}

// openClient opens a client over cfg.StateDir; while another process holds
// it, it says so and waits for at most cmd.lockWait.
func openClient(ctx context.Context, cmd *command, log *slog.Logger, cfg client.Config, opts ...client.Option) (*client.Client, error) {
	c, err := client.New(cfg, opts...)
	if !errors.Is(err, client.ErrLocked) || cmd.lockWait == 0 {
		return c, err
	}
	log.Info("waiting for the metadata directory", "held", err, "lock-wait", cmd.lockWait)
	ctx, cancel := context.WithTimeout(ctx, cmd.lockWait)
	defer cancel()
	return client.Open(ctx, cfg, opts...)
}

func refresh(ctx context.Context, cmd *command, log *slog.Logger, clock func() time.Time) (err error) {
	c, err := newClient(ctx, cmd, log, clock)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, c.Close()) }()
	return c.Refresh(ctx)
}
