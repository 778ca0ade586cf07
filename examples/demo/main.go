// Command demo shows latch protecting an application's update channel: an
// honest update, then the attacks a real update channel faces, each stopped.
//
//	go run ./examples/demo
//
// It needs no flags and no set-up, and nothing leaves 127.0.0.1. In a
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
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/latchsec/latch/internal/audit"
	"github.com/latchsec/latch/rollback"
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

	fmt.Fprintf(out, "latch demo: the update channel of myapp (%s-%s) on 127.0.0.1, and the attacks it survives\n\n", runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(out, "repository  go-tuf metadata API, ed25519, consistent snapshots: root, timestamp and snapshot 1 key each,\n")
	fmt.Fprintf(out, "            targets %d keys with threshold %d\n", 2, targetsThreshold)
	fmt.Fprintf(out, "demo clock  %s; timestamp valid %v, snapshot %v, targets %v\n\n",
		demoStart.Format(time.RFC3339), days(timestampLife), days(snapshotLife), days(targetsLife))

	ctx, cancel := context.WithTimeout(context.Background(), sceneTimeout)
	herr := honest(ctx, filepath.Join(dir, "honest"), out)
	cancel()
	if herr != nil {
		fmt.Fprintf(out, "honest update FAILED: %v\n", herr)
	}

	fmt.Fprintf(out, "\nattacks, each on a fresh setup (1.0.0 installed, 2.0.0 just released), the attacker owning the mirror:\n\n")
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
		return fmt.Errorf("%d of %d release transparency scenes not as they should be", tlFailed, len(tlScenes))
	case serr != nil:
		return fmt.Errorf("the self-update failed: %w", serr)
	case gerr != nil:
		return fmt.Errorf("the approval gate failed: %w", gerr)
	}
	fmt.Fprintf(out, "honest update done, %d of %d attacks stopped, the app on disk never changed by an attack;\n", len(scenes), len(scenes))
	fmt.Fprintf(out, "with the transparency log, a release signed with stolen targets keys is refused unless logged, and flagged when logged;\n")
	fmt.Fprintf(out, "the approval gate held\n")
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
	fmt.Fprintf(out, "  installed   %s, verified from %s\n", before.label(), targetPath("1.0.0"))
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
	fmt.Fprintf(out, "  released    %s, signed custom %s\n", t.Path(), t.Custom())
	fmt.Fprintf(out, "  latch       trusts %s; %d bytes verified (sha256) before install\n", strings.Join(trusted, ", "), t.Length())
	fmt.Fprintf(out, "  app on disk %s -> %s\n", before.label(), after.label())
	if after.label() != "myapp 2.0.0" {
		return errors.New("the app on disk is not myapp 2.0.0 after the update")
	}
	w.close()
	w.client = nil
	return printAudit(out, filepath.Join(dir, "tuf"))
}

// printAudit shows the client's audit log after checking its hash chain
// against the anchor in the trusted state (the client must be closed).
func printAudit(out io.Writer, stateDir string) error {
	store, err := rollback.OpenFileStore(filepath.Join(stateDir, "state"))
	if err != nil {
		return err
	}
	st, err := store.Load()
	store.Close()
	if err != nil {
		return err
	}
	mark, err := audit.ParseMark(st.AuditAnchor)
	if err != nil {
		return err
	}
	dir := filepath.Join(stateDir, "audit")
	sum, err := audit.VerifyAnchored(dir, mark)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "audit.log"))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  audit log   %d records, hash chain verified up to the anchor %.20s… kept in the trusted state:\n", sum.Records, mark.Head.Hash)
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r audit.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return err
		}
		fmt.Fprintf(out, "    #%d %-13s %s  prev %.12s…\n", r.Seq, r.Kind, r.Fields, r.Prev)
	}
	return nil
}

// row is one scene of a report and what happened in it.
type row struct {
	name, attack, note string
	o                  outcome
}

// report prints one aligned row per scene and latch's evidence below it,
// and returns how many attacks were not stopped.
func report(out io.Writer, rows []row) int {
	wName, wVerdict, wApp := len("scene"), len("latch"), len("app on disk")
	for _, r := range rows {
		wName = max(wName, len(r.name))
		wVerdict = max(wVerdict, len(r.o.verdict))
		wApp = max(wApp, len(r.o.app))
	}
	fmt.Fprintf(out, "     %-*s  %-*s  %-*s  %s\n", wName, "scene", wVerdict, "latch", wApp, "app on disk", "what the attacker did")
	failed := 0
	for _, r := range rows {
		mark := "ok "
		if !r.o.stopped {
			mark = "BAD"
			failed++
		}
		fmt.Fprintf(out, "%s  %-*s  %-*s  %-*s  %s\n", mark, wName, r.name, wVerdict, r.o.verdict, wApp, r.o.app, r.attack)
		fmt.Fprintf(out, "       %s\n", r.o.evidence)
		if r.note != "" {
			fmt.Fprintf(out, "       (%s)\n", r.note)
		}
	}
	return failed
}
