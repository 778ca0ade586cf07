package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/latchsec/latch/transparency"
	"github.com/latchsec/latch/transparency/logwriter"
	"golang.org/x/mod/sumdb/note"
)

// Release transparency: publish can append every release it adds to a
// tile-based transparency log (C2SP tlog-tiles) written with Tessera's
// POSIX driver, so that clients can refuse releases that are not in the
// log and the vendor can watch the log for releases it did not make. See
// the package documentation, "Release transparency".

const (
	// logDir is where the log lives by default: REPO/log, served with the
	// repository.
	logDir = "log"
	// logKeyFile is the log's signing key in a key directory: a note signer
	// key, "PRIVATE+KEY+<origin>+<key ID>+<base64>", as Tessera's tools read it.
	logKeyFile = "tlog.key"
	// logConfigFile, in the log directory, records what add needs to log a
	// release.
	logConfigFile = ".publish-log.json"
	// logTimeout bounds the wait for the log to publish a checkpoint.
	logTimeout = time.Minute
)

// logConfig is the log's public settings.
type logConfig struct {
	Origin     string `json:"origin"`     // the log's identity, first line of its checkpoints
	Repository string `json:"repository"` // the repository name in every entry
	VKey       string `json:"vkey"`       // the log's note verifier key
}

// tlogInfo is the "tlog" member of a release's signed custom data: where in
// the log its entry is.
type tlogInfo struct {
	Index int64 `json:"index"`
}

func logFlags(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.logDir, "log", "", "transparency log `DIR` (default REPO/log)")
}

func logInitFlags(fs *flag.FlagSet, o *options) {
	logFlags(fs, o)
	fs.StringVar(&o.origin, "origin", "", "the log's `ORIGIN`, a name such as example.com/myapp/log (no spaces or +)")
	fs.StringVar(&o.repository, "repository", "", "the repository `NAME` in each entry (default the origin)")
}

// logPath is the log directory o names.
func (o *options) logPath() string {
	if o.logDir != "" {
		return o.logDir
	}
	return filepath.Join(o.dir, logDir)
}

// cmdLogInit makes the log's key and an empty log.
func cmdLogInit(o *options, e *env) error {
	if o.repository == "" {
		o.repository = o.origin
	}
	if o.origin == "" || strings.ContainsAny(o.origin, "+ \t\n") {
		return fmt.Errorf("%w: log-init needs -origin, a name without spaces or '+'", ErrUsage)
	}
	if _, err := (transparency.Entry{Repository: o.repository, Path: "x"}).Marshal(); err != nil {
		return fmt.Errorf("%w: -repository %q: no spaces or control characters", ErrUsage, o.repository)
	}
	if err := checkKeyDirs(o.dir, o.keyDirs); err != nil {
		return err
	}
	if _, err := loadRepo(o.dir, ""); err != nil {
		return err
	}
	dir := o.logPath()
	if _, err := os.Stat(filepath.Join(dir, logConfigFile)); err == nil {
		return fmt.Errorf("%w: %s already holds a log", ErrExists, dir)
	}
	// The first key directory: by default the offline one, where the
	// targets key is. Both sign every release.
	keyFile := filepath.Join(o.keyDirs[0], logKeyFile)
	if _, err := os.Stat(keyFile); err == nil {
		return fmt.Errorf("%w: %s already holds a log key", ErrExists, keyFile)
	}

	skey, vkey, err := note.GenerateKey(e.rand, o.origin)
	if err != nil {
		return err
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return err
	}
	if err := writeSecret(keyFile, []byte(skey+"\n")); err != nil {
		return err
	}
	e.printf("wrote %s: log key %s", keyFile, vkey)
	ctx, cancel := context.WithTimeout(context.Background(), logTimeout)
	defer cancel()
	l, err := logwriter.Open(ctx, dir, signer)
	if err != nil {
		return err
	}
	if err := l.Close(ctx); err != nil {
		return err
	}
	cfg, err := json.MarshalIndent(logConfig{Origin: o.origin, Repository: o.repository, VKey: vkey}, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, logConfigFile), append(cfg, '\n'), false); err != nil {
		return err
	}
	e.printf("wrote %s: an empty log; serve it at <URL of REPO>/log/ when it is REPO/log", dir)
	e.printf("clients verify it with --log-url <that URL> --log-key %s", vkey)
	return nil
}

// releaseLog is the log add appends to, open for one command.
type releaseLog struct {
	cfg  logConfig
	dir  string
	l    *logwriter.Writer
	next int64 // the index the next entry gets
}

// openReleaseLog opens the log of o, or returns nil when there is none (no
// -log and no REPO/log). The log key must be in a key directory.
func openReleaseLog(ctx context.Context, o *options) (*releaseLog, error) {
	dir := o.logPath()
	raw, err := os.ReadFile(filepath.Join(dir, logConfigFile))
	if errors.Is(err, fs.ErrNotExist) && o.logDir == "" {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: not a log made by publish log-init: %v", ErrBadRepository, dir, err)
	}
	var cfg logConfig
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, &RepositoryError{File: filepath.Join(dir, logConfigFile), Err: err}
	}
	signer, err := loadLogKey(o.keyDirs, cfg)
	if err != nil {
		return nil, err
	}
	l, err := logwriter.Open(ctx, dir, signer)
	if err != nil {
		return nil, err
	}
	next, err := l.NextIndex(ctx)
	if err != nil {
		return nil, errors.Join(err, l.Close(ctx))
	}
	return &releaseLog{cfg: cfg, dir: dir, l: l, next: next}, nil
}

// loadLogKey finds the log key in the key directories: the one whose
// verifier key is the log's.
func loadLogKey(dirs []string, cfg logConfig) (note.Signer, error) {
	for _, d := range dirs {
		name := filepath.Join(d, logKeyFile)
		if _, err := os.Stat(name); err != nil {
			continue
		}
		data, err := readSecret(name)
		if err != nil {
			return nil, err
		}
		s, err := note.NewSigner(string(bytes.TrimSpace(data)))
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrKeyFile, name, err)
		}
		v, err := note.NewVerifier(cfg.VKey)
		if err != nil {
			return nil, &RepositoryError{File: logConfigFile, Err: err}
		}
		if s.Name() != v.Name() || s.KeyHash() != v.KeyHash() {
			return nil, fmt.Errorf("%w: %s is not the key of log %s (%s)", ErrKeyFile, name, cfg.Origin, cfg.VKey)
		}
		return s, nil
	}
	return nil, fmt.Errorf("%w: the log key (%s) is in none of the key directories %s", ErrMissingKeys, logKeyFile, strings.Join(dirs, ", "))
}

// info is the custom data that places the release in the log.
func (rl *releaseLog) info() *tlogInfo {
	if rl == nil {
		return nil
	}
	return &tlogInfo{Index: rl.next}
}

// add appends the entry of target name and waits until a checkpoint
// includes it. It must land at the index info promised.
func (rl *releaseLog) add(ctx context.Context, e *env, name string, st *staged) error {
	if rl == nil {
		return nil
	}
	entry := transparency.Entry{Repository: rl.cfg.Repository, Path: name, Length: st.length}
	copy(entry.SHA256[:], st.sha256)
	data, err := entry.Marshal()
	if err != nil {
		return err
	}
	index, _, err := rl.l.Add(ctx, data)
	if err != nil {
		return fmt.Errorf("logging %s: %w", name, err)
	}
	if index != rl.next {
		return fmt.Errorf("logging %s: the log put it at index %d, not %d: was another publish running? Nothing was published; the entry at %d is an orphan the monitor will report",
			name, index, rl.next, index)
	}
	e.printf("logged %s at index %d of %s", name, index, rl.dir)
	return nil
}

func (rl *releaseLog) close(ctx context.Context) error {
	if rl == nil {
		return nil
	}
	return rl.l.Close(ctx)
}
