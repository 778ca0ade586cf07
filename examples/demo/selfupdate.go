package main

import (
	"bufio"
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

	"github.com/latchsec/latch/client"
)

// The self-update: the application updates itself with client.Apply, which
// refreshes, picks the newest release for this platform, runs a health
// check on the new build before it takes the old one's place, and
// remembers a build that failed it, so that the next Apply passes it over.

// brokenBuild is a release that fails its health check: it can't start.
func brokenBuild(version string) []byte {
	return []byte("#!/bin/sh\n" +
		"echo 'myapp " + version + ": cannot open its database' >&2\n" +
		"exit 1\n")
}

// healthCheck runs the new build with --version; it must exit 0 within a
// few seconds.
var healthCheck = client.HealthCheckCommand(5*time.Second, "--version")

// selfUpdate plays the self-update and reports it, one line per step; it
// fails unless 2.0.0 installs, 2.1.0 fails its check and is rolled back
// and recorded, and the next Apply passes 2.1.0 over.
func selfUpdate(ctx context.Context, dir string, out io.Writer) error {
	fmt.Fprintln(out)
	say(out, "", "", "self-update: client.Apply checks a new build (here: runs it "+
		"with --version) beside the old one, swaps it in only if the check passes, "+
		"and remembers a build that failed")
	if runtime.GOOS == "windows" {
		fmt.Fprintf(out, "  skipped: the demo's builds are shell scripts\n")
		return nil
	}
	w, err := newWorld(ctx, dir, "mirror")
	if err != nil {
		return err
	}
	defer w.close()
	w.syncAll()
	// The installed 1.0.0 is a program the health check can run, as the
	// next builds will be: Apply gives them the old one's permissions.
	if err := os.Chmod(w.app, 0o755); err != nil {
		return err
	}
	rel := client.Release{App: "myapp"}
	apply := func() (*client.ApplyResult, error) {
		return w.client.Apply(ctx, rel, w.app, healthCheck, client.CurrentVersion("1.0.0"))
	}
	step := func(what, result string) { fmt.Fprintf(out, "  %-27s %s\n", what, result) }

	res, err := apply()
	if err != nil {
		return fmt.Errorf("update to 2.0.0: %w", err)
	}
	if err := w.wantApp("myapp 2.0.0"); err != nil || !res.Updated {
		return errors.Join(err, fmt.Errorf("update to 2.0.0: %+v", res))
	}
	step("2.0.0 released, Apply", fmt.Sprintf("check passed: %s -> %s, %s kept as a backup",
		res.Previous, res.Release.Version, res.Previous))

	if err := w.repo.releaseBuild("2.1.0", brokenBuild("2.1.0")); err != nil {
		return err
	}
	w.syncAll()
	_, err = apply()
	var he *client.HealthCheckError
	if !errors.As(err, &he) || !errors.Is(err, client.ErrHealthCheck) ||
		!strings.Contains(err.Error(), "exit status 1") {
		return fmt.Errorf("broken 2.1.0: %v, want a failed health check (exit 1)", err)
	}
	if err := w.wantApp("myapp 2.0.0"); err != nil {
		return err
	}
	step("2.1.0 released, Apply",
		"check failed (exit status 1): 2.1.0 not installed, 2.0.0 stays")
	outcome, err := lastInstall(ctx, w)
	if err != nil {
		return err
	}
	step("", fmt.Sprintf("audit log: install of %s: %s", outcome.Version, outcome.Outcome))

	res, err = apply()
	if err != nil {
		return fmt.Errorf("Apply after the failed build: %w", err)
	}
	if res.Updated || res.Release.Version != "2.0.0" ||
		res.KnownBad == nil || res.KnownBad.Version != "2.1.0" {
		return fmt.Errorf("Apply after the failed build: %+v, "+
			"want 2.0.0 up to date and 2.1.0 passed over", res)
	}
	if err := w.wantApp("myapp 2.0.0"); err != nil {
		return err
	}
	step("next Apply", fmt.Sprintf("passes over %s (ApplyResult.KnownBad): %s is up to date",
		res.KnownBad.Version, res.Release.Version))
	return nil
}

// wantApp checks the application on disk.
func (w *world) wantApp(label string) error {
	st, err := w.appState()
	if err != nil {
		return err
	}
	if st.label() != label {
		return fmt.Errorf("the app on disk is %s, want %s", st.label(), label)
	}
	return nil
}

// installRecord is the part of an "install" audit record the demo shows.
type installRecord struct {
	Version string `json:"version"`
	Outcome string `json:"outcome"`
}

// lastInstall returns the last install record of the world's audit log.
func lastInstall(ctx context.Context, w *world) (installRecord, error) {
	recs, _, err := readAudit(ctx, w.stateDir)
	if err != nil {
		return installRecord{}, err
	}
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Kind == "install" {
			var in installRecord
			return in, json.Unmarshal(recs[i].Fields, &in)
		}
	}
	return installRecord{}, errors.New("the audit log has no install record")
}

// auditRecord is one line of the audit log (see package auditlog).
type auditRecord struct {
	Seq    uint64          `json:"seq"`
	Kind   string          `json:"kind"`
	Fields json.RawMessage `json:"fields"`
	Prev   string          `json:"prev"`
}

// readAudit verifies the audit log of stateDir against its trusted state
// (client.VerifyAudit) and returns its records, from the files the check
// read.
func readAudit(ctx context.Context, stateDir string) ([]auditRecord, client.AuditSummary, error) {
	sum, err := client.VerifyAudit(ctx, stateDir)
	if err != nil {
		return nil, sum, fmt.Errorf("audit log: %w", err)
	}
	var recs []auditRecord
	for _, name := range sum.Files {
		f, err := os.Open(name)
		if err != nil {
			return nil, sum, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var r auditRecord
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				f.Close()
				return nil, sum, fmt.Errorf("%s: %w", filepath.Base(name), err)
			}
			recs = append(recs, r)
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, sum, err
		}
	}
	return recs, sum, nil
}
