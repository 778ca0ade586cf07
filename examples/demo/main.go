// Command demo shows latch protecting an application's update channel: an
// honest update, then the attacks a real update channel faces, each stopped.
//
//	go run ./examples/demo
//
// It needs no flags and no set-up, and nothing leaves 127.0.0.1. It starts
// with a short glossary of the words of TUF it uses (root, targets,
// delegation, snapshot, timestamp, threshold, and the rollback, freeze and
// mix-and-match attacks), and every line it prints fits 100 columns. In a
// temporary directory it builds a TUF repository with go-tuf's metadata API
// (ed25519 keys derived from fixed seeds; root and timestamp and snapshot
// with one key each, targets with two keys and threshold 2; consistent
// snapshots) and publishes "myapp" 1.0.0 and then 2.0.0 as the targets
// myapp/<version>/<GOOS>-<GOARCH>, each with signed custom metadata
// {"version": ..., "channels": ["stable"]}. Loopback HTTP servers play the
// mirrors. The application is a file in the temporary directory, installed
// and updated by a latch client (package client) that reads a fixed demo
// clock, so that expiry is deterministic.
//
// First the honest update: 1.0.0 installed, 2.0.0 verified and installed.
// Then, each in a fresh setup with 1.0.0 installed and 2.0.0 just released,
// an attacker who owns the mirror (or one signing key) tries:
//
//   - a tampered binary: latch refuses it (ErrHashMismatch);
//   - a replayed old timestamp: ErrRollback;
//   - frozen metadata, served on after it expired: ErrExpired;
//   - mix-and-match, an old targets file where snapshot lists a newer one:
//     ErrVersionMismatch;
//   - new targets metadata signed with one stolen key of the two required:
//     ErrThreshold;
//   - a malicious mirror before an honest one: the update succeeds from the
//     honest mirror, and latch says why it skipped the other;
//   - an endless timestamp and an endless binary: ErrTooLarge, after
//     reading no more than the limit.
//
// Then release transparency, where TUF alone can't help: the attacker holds
// both targets keys (a compromised build system). The vendor appends every
// release to a transparency log (written with Tessera's POSIX driver in the
// C2SP tlog-tiles layout, served by each mirror under /log/), and the
// device's client requires myapp's releases to be in it
// (client.TransparencyLog):
//
//   - a backdoored 2.0.0 signed for one victim and not logged: refused
//     (ErrNotLogged), where a client without the policy installs it;
//   - the same, logged by an attacker who also holds the log key: it
//     installs, and the vendor's monitor, which compares the log with the
//     repository, flags the entry;
//   - an attacker holding every key who logs a backdoored 2.0.1 in a
//     private fork of the log, shown to a device that trusted the public
//     log before: refused (ErrSplitView), with both signed checkpoints as
//     evidence.
//
// On Windows, where Tessera's POSIX driver does not run, these scenes are
// skipped.
//
// Then the self-update through client.Apply (on Unix: the demo's builds are
// shell scripts, which its health check runs with --version): 2.0.0 passes
// its check and replaces 1.0.0, which is kept; 2.1.0 can't start, fails its
// check and never takes 2.0.0's place, and the audit log records it; the
// next Apply passes 2.1.0 over.
//
// Last, the approval gate: an organisation runs a repository of its own
// (its own keys) in which it approves the vendor's releases, and its device
// uses a map file (TAP 4) that needs both repositories to list a release
// with the same length and hashes. The vendor releases 2.0.0; the device
// stays on 1.0.0, and the report shows each repository's answer; once the
// organisation approves 2.0.0, the device installs it.
//
// For each, the report says what the attacker did, what latch concluded
// (the typed error, matched with errors.Is, and its message) and whether the
// application on disk was left untouched. The exit status is 0 only if the
// honest update succeeded and every attack was stopped.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// sceneTimeout bounds each scene, so that a client that kept reading an
// endless stream could not hang the demo.
const sceneTimeout = 30 * time.Second

// run plays the honest update and every attack, writes the report to out,
// and returns an error unless the update succeeded and every attack was
// stopped.
func run(out io.Writer) error {
	dir, err := os.MkdirTemp("", "latch-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	fmt.Fprintf(out, "latch demo: the update channel of myapp (%s-%s) on 127.0.0.1, "+
		"and the attacks it survives\n\n", runtime.GOOS, runtime.GOARCH)
	printGlossary(out)
	const indent = "            "
	say(out, "repository  ", indent, fmt.Sprintf("made with go-tuf's metadata API: "+
		"ed25519 keys, consistent snapshots; root, timestamp and snapshot 1 key each, "+
		"targets %d keys with threshold %d", 2, targetsThreshold))
	say(out, "demo clock  ", indent, fmt.Sprintf("%s; timestamp valid %v, "+
		"snapshot %v, targets %v", demoStart.Format(time.RFC3339),
		days(timestampLife), days(snapshotLife), days(targetsLife)))
	fmt.Fprintln(out)

	ctx, cancel := context.WithTimeout(context.Background(), sceneTimeout)
	herr := honest(ctx, filepath.Join(dir, "honest"), out)
	cancel()
	if herr != nil {
		fmt.Fprintf(out, "honest update FAILED: %v\n", herr)
	}

	fmt.Fprintln(out)
	say(out, "", "", "attacks, each on a fresh setup (1.0.0 installed, 2.0.0 just released), "+
		"the attacker owning the mirror:")
	fmt.Fprintln(out)
	outcomes := make([]outcome, len(scenes))
	for i, sc := range scenes {
		ctx, cancel := context.WithTimeout(context.Background(), sceneTimeout)
		o, err := play(ctx, filepath.Join(dir, fmt.Sprintf("scene%d", i+1)), sc)
		cancel()
		if err != nil {
			o = outcome{verdict: "DEMO FAILED", evidence: err.Error(), app: "?"}
		}
		outcomes[i] = o
	}
	rows := make([]row, len(scenes))
	for i, sc := range scenes {
		rows[i] = row{name: sc.name, attack: sc.attack, note: sc.note, o: outcomes[i]}
	}
	failed := report(out, rows)
	tlFailed, err := transparencyScenes(dir, out)
	if err != nil {
		return err
	}

	ctx, cancel = context.WithTimeout(context.Background(), sceneTimeout)
	serr := selfUpdate(ctx, filepath.Join(dir, "selfupdate"), out)
	cancel()
	if serr != nil {
		fmt.Fprintf(out, "self-update FAILED: %v\n", serr)
	}

	ctx, cancel = context.WithTimeout(context.Background(), sceneTimeout)
	gerr := gate(ctx, filepath.Join(dir, "gate"), out)
	cancel()
	if gerr != nil {
		fmt.Fprintf(out, "approval gate FAILED: %v\n", gerr)
	}

	fmt.Fprintln(out)
	switch {
	case herr != nil:
		return fmt.Errorf("the honest update failed: %w", herr)
	case failed > 0:
		return fmt.Errorf("%d of %d attacks not stopped", failed, len(scenes))
	case tlFailed > 0:
		return fmt.Errorf("%d of %d release transparency scenes not as they should be",
			tlFailed, len(tlScenes))
	case serr != nil:
		return fmt.Errorf("the self-update failed: %w", serr)
	case gerr != nil:
		return fmt.Errorf("the approval gate failed: %w", gerr)
	}
	fmt.Fprintf(out, "honest update done, %d of %d attacks stopped, "+
		"the app on disk never changed by an attack;\n", len(scenes), len(scenes))
	fmt.Fprintf(out, "with the transparency log, "+
		"a release signed with stolen targets keys is\n")
	fmt.Fprintf(out, "refused unless logged, and flagged when logged; "+
		"a self-update that fails its health check\n")
	fmt.Fprintf(out, "is rolled back and not tried again; the approval gate held\n")
	return nil
}

func days(d time.Duration) string {
	n := int(d / (24 * time.Hour))
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}

// honest installs 1.0.0, publishes 2.0.0 to the mirror and updates to it.
func honest(ctx context.Context, dir string, out io.Writer) error {
	w, err := newWorld(ctx, dir, "mirror")
	if err != nil {
		return err
	}
	defer w.close()
	before, err := w.appState()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "honest update\n")
	fmt.Fprintf(out, "  installed   %s, verified from %s\n",
		before.label(), targetPath("1.0.0"))
	w.syncAll()
	t, err := w.update(ctx, "2.0.0")
	if err != nil {
		return err
	}
	after, err := w.appState()
	if err != nil {
		return err
	}
	var trusted []string
	for _, r := range w.client.View().Roles() {
		trusted = append(trusted, fmt.Sprintf("%s v%d", r.Role, r.Version))
	}
	const indent = "              "
	say(out, "  released    ", indent,
		fmt.Sprintf("%s, signed custom %s", t.Path(), t.Custom()))
	say(out, "  latch       ", indent,
		fmt.Sprintf("trusts %s; %d bytes verified (sha256) before install",
			strings.Join(trusted, ", "), t.Length()))
	fmt.Fprintf(out, "  app on disk %s -> %s\n", before.label(), after.label())
	if after.label() != "myapp 2.0.0" {
		return errors.New("the app on disk is not myapp 2.0.0 after the update")
	}
	w.close()
	w.client = nil
	return printAudit(ctx, out, w.stateDir)
}

// printAudit shows the client's audit log after checking its hash chain
// against the trusted state (client.VerifyAudit), one record a line.
func printAudit(ctx context.Context, out io.Writer, stateDir string) error {
	recs, sum, err := readAudit(ctx, stateDir)
	if err != nil {
		return err
	}
	say(out, "  audit log   ", "              ", fmt.Sprintf("%d records; "+
		"the hash chain verified, and it ends at record %.16s…, "+
		"which the trusted state holds (client.VerifyAudit):", sum.Records, sum.Last))
	for _, r := range recs {
		line := fmt.Sprintf("    #%d %-9s prev %.10s…  %s", r.Seq, r.Kind, r.Prev, r.Fields)
		fmt.Fprintln(out, clip(line))
	}
	return nil
}

// row is one scene of a report and what happened in it.
type row struct {
	name, attack, note string
	o                  outcome
}

// report prints one aligned row per scene, with what the attacker did and
// latch's evidence below it, and returns how many attacks were not stopped.
func report(out io.Writer, rows []row) int {
	wName, wVerdict := len("scene"), len("latch")
	for _, r := range rows {
		wName = max(wName, len(r.name))
		wVerdict = max(wVerdict, len(r.o.verdict))
	}
	fmt.Fprintf(out, "     %-*s  %-*s  %s\n", wName, "scene", wVerdict, "latch", "app on disk")
	failed := 0
	for _, r := range rows {
		mark := "ok "
		if !r.o.stopped {
			mark = "BAD"
			failed++
		}
		fmt.Fprintf(out, "%s  %-*s  %-*s  %s\n",
			mark, wName, r.name, wVerdict, r.o.verdict, r.o.app)
		say(out, "       attack  ", "               ", r.attack)
		say(out, "       latch   ", "               ", r.o.evidence)
		if r.note != "" {
			say(out, "       note    ", "               ", r.note)
		}
	}
	return failed
}

// width is the widest line the demo prints.
const width = 100

// say writes text to out, word-wrapped to width columns: the first line
// begins with first, the others with rest. A word too long for a line of
// its own is cut.
func say(out io.Writer, first, rest, text string) {
	line, empty := []rune(first), true
	for _, word := range strings.Fields(text) {
		w := []rune(word)
		if !empty && len(line)+1+len(w) > width {
			fmt.Fprintln(out, string(line))
			line, empty = []rune(rest), true
		}
		if !empty {
			line = append(line, ' ')
		}
		for len(line)+len(w) > width {
			n := width - len(line)
			fmt.Fprintln(out, string(append(line, w[:n]...)))
			line, w = []rune(rest), w[n:]
		}
		line, empty = append(line, w...), false
	}
	fmt.Fprintln(out, string(line))
}

// clip cuts s to width columns, ending it with "…" if it was longer.
func clip(s string) string {
	r := []rune(s)
	if len(r) <= width {
		return s
	}
	return string(r[:width-1]) + "…"
}
