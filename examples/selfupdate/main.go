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
//	selfupdate --update --map FILE --roots DIR --state-dir DIR [--channel NAME] [--now TIME] [-v]
//
// --version prints the version the binary was built with:
//
//	go build -ldflags "-X main.version=1.4.2" ./examples/selfupdate
//
// --update runs client.Apply on the running executable (os.Executable) for
// the releases of the application "selfupdate" in the channel (default
// "stable"), following latch's release convention: targets
// selfupdate/<version>/<os>-<arch> whose signed custom data is
// {"version": "<version>", "channels": [...]}. The health check runs the
// new executable with --version; if it fails, the old build is put back.
// The running process keeps its old code: the next start runs the new one.
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
//	5  the new build failed its health check (rolled back), or failed it
//	   before and was not tried again
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
var version = "0.0.0-dev"

// app is the release name of this application in the repository.
const app = "selfupdate"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type options struct {
	version, update                        bool
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
	case !o.update:
		fmt.Fprintf(stdout, "selfupdate %s: run with --update to update\n", version)
		return 0
	case o.mapFile != "" && (o.roots == "" || o.stateDir == "" || o.root != "" || o.metadataURL != "" || o.targetURL != ""):
		fmt.Fprintln(stderr, "selfupdate: --update --map needs --roots and --state-dir, and replaces --root and the URLs")
		return 2
	case o.mapFile == "" && (o.root == "" || o.metadataURL == "" || o.targetURL == "" || o.stateDir == ""):
		fmt.Fprintln(stderr, "selfupdate: --update needs --root, --metadata-url, --target-url and --state-dir")
		return 2
	}
	if err := update(ctx, o, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "selfupdate: %v\n", err)
		return exitCode(err)
	}
	return 0
}

// updater is what update needs: a client of one repository, or of several
// (--map).
type updater interface {
	Apply(ctx context.Context, rel client.Release, exePath string, opts ...client.ApplyOption) (*client.ApplyResult, error)
	Close() error
}

// openClient opens the client of the repository o names.
func openClient(o options, opts ...client.Option) (updater, error) {
	root, err := os.ReadFile(o.root)
	if err != nil {
		return nil, err
	}
	return client.New(client.Config{
		TrustedRoot:  root,
		MetadataURLs: []string{o.metadataURL},
		TargetURLs:   []string{o.targetURL},
		StateDir:     o.stateDir,
	}, opts...)
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
	open := openClient
	if o.mapFile != "" {
		open = openMulti
	}
	c, err := open(o, opts...)
	if err != nil {
		return err
	}
	defer c.Close()
	exe, err := os.Executable()
	if err != nil {
		return err
	}
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
