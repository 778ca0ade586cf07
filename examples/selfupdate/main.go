// Command selfupdate is a small application that updates itself with latch:
// it finds the newest release of itself in a TUF repository, downloads and
// verifies it, swaps its own executable for it, checks that the new build
// runs, and records the installed version so that it never goes back.
//
// Usage:
//
//	selfupdate --version
//	selfupdate --update --root FILE --metadata-url URL --target-url URL \
//		--state-dir DIR [--channel NAME] [--now TIME] [-v]
//	selfupdate --builds --root FILE --state-dir DIR
//	selfupdate --update|--builds --map FILE --roots DIR --state-dir DIR [--channel NAME] [--now TIME] [-v]
//
// --version prints the version the binary was built with:
//
//	go build -ldflags "-X main.version=1.4.2" ./examples/selfupdate
//
// A build without it says "dev": latch then knows its version as unknown
// and installs the newest release.
//
// --update runs client.Apply on the running executable (os.Executable) for
// the releases of the application "selfupdate" in the channel (default
// "stable"), following latch's release convention: targets
// selfupdate/<version>/<os>-<arch> whose signed custom data is
// {"version": "<version>", "channels": [...]}. The health check runs the
// new executable with --version, beside the old one, before the swap; if
// it fails, the old build stays. The running process keeps its old code:
// the next start runs the new one.
//
// --builds lists the installed build and the previous ones kept beside it,
// with versions, hashes and install times, from latch's records and the
// bytes on disk; it does not use the network.
//
// With --map, the application updates through several repositories that
// must agree (TAP 4): FILE is a map file, and DIR holds each repository's
// trusted root as <name>.root.json. With a map that needs the vendor's
// repository and the organisation's own to agree, it installs only the
// builds both signed: an approval gate (see publish approve).
//
// A real application embeds its trusted root (go:embed) instead of --root,
// and uses the real clock. --now sets a fixed reference time (RFC 3339) for
// tests against a repository whose metadata was signed with a fixed clock,
// such as latch's test simulator; don't use it otherwise.
//
// # Exit status
//
//	0  updated, or up to date
//	1  any other failure (network, expired metadata, ...)
//	2  usage
//	3  refused: the newest release is older than the installed one, or
//	   another build of the installed version (possible rollback attack)
//	4  refused: the download did not match the signed hashes or length
//	   (tampered on the server or in transit)
//	5  the new build failed its health check (the old one stays), or
//	   failed it before and was not tried again
//	6  the health check did not finish (killed, or interrupted): the next
//	   --update checks the build once more
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
	"syscall"
	"time"

	"github.com/latchsec/latch/client"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// app is the release name of this application in the repository.
const app = "selfupdate"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type options struct {
	version, update, builds                bool
	root, metadataURL, targetURL, stateDir string
	channel, now                           string
	mapFile, roots                         string // --map
	verbose                                bool
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("selfupdate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.BoolVar(&o.update, "update", false, "update this executable to the newest release")
	fs.BoolVar(&o.builds, "builds", false, "list the installed build and the kept previous ones")
	fs.StringVar(&o.root, "root", "", "trusted root metadata `FILE` (a real application embeds it)")
	fs.StringVar(&o.metadataURL, "metadata-url", "", "base `URL` of the repository's metadata")
	fs.StringVar(&o.targetURL, "target-url", "", "base `URL` of the repository's targets")
	fs.StringVar(&o.stateDir, "state-dir", "", "`DIR` for latch's trusted state")
	fs.StringVar(&o.channel, "channel", "stable", "release channel `NAME`")
	fs.StringVar(&o.mapFile, "map", "", "map `FILE` (TAP 4) of repositories that must agree, instead of --root and the URLs")
	fs.StringVar(&o.roots, "roots", "", "`DIR` of the map's trusted roots, <name>.root.json")
	fs.StringVar(&o.now, "now", "", "fixed reference `TIME` (RFC 3339), for tests only")
	fs.BoolVar(&o.verbose, "v", false, "log each step")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "selfupdate: unexpected argument %q\n", fs.Arg(0))
		return 2
	case o.version:
		fmt.Fprintln(stdout, version)
		return 0
	case !o.update && !o.builds:
		fmt.Fprintf(stdout, "selfupdate %s: run with --update to update\n", version)
		return 0
	}
	if msg := o.usageError(); msg != "" {
		fmt.Fprintln(stderr, "selfupdate: "+msg)
		return 2
	}
	if o.builds {
		if err := builds(o, stdout); err != nil {
			fmt.Fprintf(stderr, "selfupdate: %v\n", err)
			return 1
		}
		return 0
	}
	if err := update(ctx, o, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "selfupdate: %v\n", err)
		return exitCode(err)
	}
	return 0
}

// usageError says what o lacks, or has that does not fit, for --update or
// --builds; "" if nothing.
func (o options) usageError() string {
	cmd := "--update"
	if o.builds {
		cmd = "--builds"
	}
	switch {
	case o.mapFile != "" && (o.roots == "" || o.stateDir == "" || o.root != "" || o.metadataURL != "" || o.targetURL != ""):
		return cmd + " --map needs --roots and --state-dir, and replaces --root and the URLs"
	case o.mapFile == "" && (o.root == "" || o.stateDir == ""):
		return cmd + " needs --root and --state-dir"
	case o.mapFile == "" && !o.builds && (o.metadataURL == "" || o.targetURL == ""):
		return "--update needs --root, --metadata-url, --target-url and --state-dir"
	}
	return ""
}

// updater is what update and builds need: a client of one repository, or
// of several (--map).
type updater interface {
	Apply(ctx context.Context, rel client.Release, exePath string, opts ...client.ApplyOption) (*client.ApplyResult, error)
	Builds(app, exePath string) (*client.Builds, error)
	Close() error
}

// open opens the client of o's state directory (with --map, of every
// repository of the map) and returns it with this executable's path.
func open(o options, opts ...client.Option) (updater, string, error) {
	var c updater
	var err error
	if o.mapFile != "" {
		c, err = openMulti(o, opts...)
	} else {
		c, err = openClient(o, opts...)
	}
	if err != nil {
		return nil, "", err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, "", errors.Join(err, c.Close())
	}
	return c, exe, nil
}

// openClient opens the client of the repository o names.
func openClient(o options, opts ...client.Option) (updater, error) {
	root, err := os.ReadFile(o.root)
	if err != nil {
		return nil, err
	}
	cfg := client.Config{TrustedRoot: root, StateDir: o.stateDir}
	if o.metadataURL != "" {
		cfg.MetadataURLs = []string{o.metadataURL}
	}
	if o.targetURL != "" {
		cfg.TargetURLs = []string{o.targetURL}
	}
	c, err := client.New(cfg, opts...)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// exitCode maps the reason of a failed update to the documented status.
func exitCode(err error) int {
	switch {
	case errors.Is(err, client.ErrRollback), errors.Is(err, client.ErrReleaseChanged):
		return 3
	case errors.Is(err, client.ErrHashMismatch), errors.Is(err, client.ErrLengthMismatch), errors.Is(err, client.ErrTooLarge):
		return 4
	case errors.Is(err, client.ErrHealthCheck), errors.Is(err, client.ErrKnownBad):
		return 5
	case errors.Is(err, client.ErrHealthCheckInterrupted):
		return 6
	}
	return 1
}

func update(ctx context.Context, o options, stdout, stderr io.Writer) error {
	level := slog.LevelWarn
	if o.verbose {
		level = slog.LevelInfo
	}
	opts := []client.Option{client.WithLogger(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})))}
	if o.now != "" {
		at, err := time.Parse(time.RFC3339, o.now)
		if err != nil {
			return fmt.Errorf("--now: %w", err)
		}
		opts = append(opts, client.WithClock(func() time.Time { return at }))
	}
	c, exe, err := open(o, opts...)
	if err != nil {
		return err
	}
	defer c.Close()
	res, err := c.Apply(ctx, client.Release{App: app, Channel: o.channel}, exe,
		client.HealthCheckCommand(30*time.Second, "--version"),
		client.CurrentVersion(version))
	if err != nil {
		return err
	}
	if res.Updated {
		fmt.Fprintf(stdout, "updated %s to %s; restart to run it\n", version, res.Release.Version)
	} else {
		fmt.Fprintf(stdout, "up to date: %s\n", res.Release.Version)
	}
	return nil
}

// builds prints the installed build and the kept ones.
func builds(o options, stdout io.Writer) error {
	c, exe, err := open(o)
	if err != nil {
		return err
	}
	defer c.Close()
	b, err := c.Builds(app, exe)
	if err != nil {
		return err
	}
	show := func(what string, bi client.BuildInfo) {
		v := bi.Version
		if v == "" {
			v = "(version unknown)"
		}
		when := "not installed by latch"
		if !bi.Installed.IsZero() {
			when = "installed " + bi.Installed.Format(time.RFC3339)
		}
		fmt.Fprintf(stdout, "%-9s %s  sha256 %.16s  %s  %s\n", what, v, bi.ExecutableSHA256, when, bi.Path)
	}
	show("installed", b.Installed)
	for _, k := range b.Kept {
		show("kept", k)
	}
	if b.Pending {
		fmt.Fprintln(stdout, "an interrupted update is pending: the next --update finishes it")
	}
	return nil
}
