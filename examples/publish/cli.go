package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Errors that tell why a command did nothing. Each failure wraps one of
// them; a command that fails before it writes anything leaves REPO and the
// key directories exactly as they were.
var (
	// ErrUsage: the command line does not fit the usage.
	ErrUsage = errors.New("usage")
	// ErrExists: init on an existing repository, add of a released target.
	ErrExists = errors.New("already exists")
	// ErrMissingKeys: fewer private keys at hand than a role's threshold (see
	// KeysError).
	ErrMissingKeys = errors.New("not enough signing keys")
	// ErrKeyFile: a key file that is unreadable, malformed or readable by
	// others.
	ErrKeyFile = errors.New("bad key file")
	// ErrBadRepository: metadata in REPO that is missing or does not verify
	// (see RepositoryError).
	ErrBadRepository = errors.New("repository does not verify")
)

// errHelp reports that -h printed the usage.
var errHelp = flag.ErrHelp

// KeysError reports a role whose keys at hand are below its threshold.
type KeysError struct {
	Role        string   // the role to sign
	RootVersion int64    // the root that lists the role's keys
	Threshold   int      // signatures needed
	Missing     []string // key IDs listed in root and absent from the key directories
	Found       int      // keys found
}

func (e *KeysError) Error() string {
	return fmt.Sprintf("%s: %d of the %d signatures root v%d requires: keys %s are not in the key directories",
		e.Role, e.Found, e.Threshold, e.RootVersion, strings.Join(e.Missing, ", "))
}

func (e *KeysError) Unwrap() error { return ErrMissingKeys }

// RepositoryError reports a metadata file of REPO that is missing, malformed
// or does not verify.
type RepositoryError struct {
	File string // relative to REPO
	Err  error
}

func (e *RepositoryError) Error() string { return fmt.Sprintf("%s: %v", e.File, e.Err) }

func (e *RepositoryError) Unwrap() []error { return []error{ErrBadRepository, e.Err} }

// options is one parsed command line.
type options struct {
	dir     string
	keyDirs []string
	now     time.Time
	life    map[string]*lifetime // by role

	rootKeys, rootThreshold int    // init
	onlineKeyDir            string // init

	app, version, os, arch, file string // add
	channels                     []string

	role, old string // renew, rotate-key

	vendorRoot, vendorURL, vendorState, target, vetted string // approve
	logDir, origin, repository                         string // log-init, add
}

// expires is when metadata of role signed now expires.
func (o *options) expires(role string) time.Time { return o.now.Add(time.Duration(*o.life[role])) }

func ptr[T any](v T) *T { return &v }

type command struct {
	name, synopsis string
	flags          func(*flag.FlagSet, *options)
	run            func(*options, *env) error
}

var commands = []command{
	{"init", "-dir REPO [-keys KEYDIR] [-online-keys KEYDIR] [-root-keys N -root-threshold M]", initFlags, cmdInit},
	{"add", "-dir REPO -keys KEYDIR -app NAME -version SEMVER -os OS -arch ARCH -file BINARY [-channels LIST] [-log DIR]", addFlags, cmdAdd},
	{"refresh-timestamp", "-dir REPO -keys KEYDIR", nil, cmdRefreshTimestamp},
	{"renew", "-dir REPO -keys KEYDIR -role ROLE", roleFlags, cmdRenew},
	{"rotate-key", "-dir REPO -keys KEYDIR -role ROLE [-old KEYID]", rotateFlags, cmdRotateKey},
	{"approve", "-dir REPO -keys KEYDIR -vendor-root FILE -vendor-url URL -target PATH [-file FILE] [-vendor-state DIR]", approveFlags, cmdApprove},
	{"log-init", "-dir REPO [-keys KEYDIR] -origin ORIGIN [-repository NAME] [-log DIR]", logInitFlags, cmdLogInit},
}

// run parses args (the command word, then its flags) and runs the command.
func run(args []string, e *env) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(e.stderr, "usage:\n")
		for _, c := range commands {
			fmt.Fprintf(e.stderr, "  publish %s %s\n", c.name, c.synopsis)
		}
		fmt.Fprint(e.stderr, "run publish COMMAND -h for the flags of a command; go doc explains each step\n")
		if len(args) == 0 {
			return fmt.Errorf("%w: no command", ErrUsage)
		}
		return errHelp
	}
	i := slices.IndexFunc(commands, func(c command) bool { return c.name == args[0] })
	if i < 0 {
		return fmt.Errorf("%w: unknown command %q", ErrUsage, args[0])
	}
	c := commands[i]
	o, err := parseFlags(c, args[1:], e.stderr)
	if err != nil {
		return err
	}
	return c.run(o, e)
}

// parseFlags parses the flags of command c. Errors wrap ErrUsage (or are
// errHelp).
func parseFlags(c command, args []string, stderr io.Writer) (*options, error) {
	day := lifetime(24 * time.Hour)
	o := &options{life: map[string]*lifetime{
		metadata.ROOT:      ptr(365 * day),
		metadata.TARGETS:   ptr(90 * day),
		metadata.SNAPSHOT:  ptr(7 * day),
		metadata.TIMESTAMP: ptr(day),
	}}
	fs := flag.NewFlagSet("publish "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.dir, "dir", "", "repository `REPO` (metadata/ and targets/ below it)")
	fs.Func("keys", "directory `KEYDIR` of private keys; repeat for several (default: keys and online-keys, where init writes them)", func(s string) error {
		o.keyDirs = append(o.keyDirs, s)
		return nil
	})
	for _, role := range []string{metadata.ROOT, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP} {
		fs.Var(o.life[role], role+"-expiry", "`lifetime` of "+role+" metadata when signed (Nd or a Go duration)")
	}
	fs.Func("now", "", func(s string) error { // hidden: tests only
		t, err := time.Parse(time.RFC3339, s)
		o.now = t
		return err
	})
	if c.flags != nil {
		c.flags(fs, o)
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: publish %s %s\n", c.name, c.synopsis)
		fs.VisitAll(func(f *flag.Flag) {
			if f.Name == "now" {
				return
			}
			name, usage := flag.UnquoteUsage(f)
			fmt.Fprintf(stderr, "  -%s %s\n    \t%s", f.Name, name, usage)
			if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "[]" {
				fmt.Fprintf(stderr, " (default %s)", f.DefValue)
			}
			fmt.Fprintln(stderr)
		})
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) { // fs.Usage has run
			return nil, errHelp
		}
		return nil, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%w: unexpected argument %q", ErrUsage, fs.Arg(0))
	}
	if o.dir == "" {
		return nil, fmt.Errorf("%w: %s needs -dir REPO", ErrUsage, c.name)
	}
	if len(o.keyDirs) == 0 {
		o.keyDirs = []string{defaultKeyDir, defaultOnlineKeyDir}
		if c.name == "init" { // -keys is where init writes the offline keys
			o.keyDirs = o.keyDirs[:1]
		}
	}
	if o.now.IsZero() {
		o.now = time.Now()
	}
	// Metadata carries whole seconds in UTC ("2026-03-01T12:00:00Z").
	o.now = o.now.UTC().Truncate(time.Second)
	return o, nil
}

// lifetime is a flag.Value for how long metadata stays valid: "7d" or any
// positive Go duration ("36h").
type lifetime time.Duration

func (l *lifetime) String() string {
	d := time.Duration(*l)
	if d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}

func (l *lifetime) Set(s string) error {
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil {
			return fmt.Errorf("%q is not a number of days", s)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return err
		}
	}
	if d <= 0 || d > 10*365*24*time.Hour {
		return fmt.Errorf("lifetime %q is not between 1s and 10 years", s)
	}
	*l = lifetime(d)
	return nil
}
