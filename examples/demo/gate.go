package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/latchsec/latch/client"
)

// The approval gate: an organisation runs a repository of its own in which
// it approves the vendor's releases, and its machines need both
// repositories to agree (TAP 4) before they install anything.

// gateMap is the device's map file: releases of myapp need the vendor and
// the organisation to list the same length and hashes.
const gateMap = `{
  "repositories": {"vendor": ["VENDOR"], "org": ["ORG"]},
  "mapping": [{"paths": ["myapp/*/*"], "repositories": ["vendor", "org"],
               "threshold": 2, "terminating": true}]
}`

// device is a machine of the organisation: one latch client over both
// repositories, and the application it installs.
type device struct {
	multi *client.Multi
	app   string
}

// update resolves the newest release both repositories agree on and
// installs it, unless it is installed already. It returns the version
// installed afterwards.
func (d *device) update(ctx context.Context) (string, error) {
	if err := d.multi.Refresh(ctx); err != nil {
		return "", err
	}
	info, err := d.multi.Resolve(ctx, client.Release{App: "myapp"})
	if err != nil {
		return "", err
	}
	if ok, err := d.multi.Cached(info.Agreed, d.app); err != nil || ok {
		return info.Version, err
	}
	return info.Version, d.multi.DownloadFile(ctx, info.Agreed, d.app)
}

// gate plays the approval gate and reports it; it fails unless the device
// installs 1.0.0, which both signed, stays on it while the vendor alone
// signs 2.0.0, and installs 2.0.0 once the organisation approved it.
func gate(ctx context.Context, dir string, out io.Writer) error {
	vendor, err := newRepo(demoStart)
	if err != nil {
		return err
	}
	org, err := newKeyedRepo(demoStart, "org/")
	if err != nil {
		return err
	}
	vsite, osite := newSite("vendor"), newSite("org")
	defer vsite.close()
	defer osite.close()
	urls := strings.NewReplacer("VENDOR", vsite.srv.URL, "ORG", osite.srv.URL)
	m, err := client.ParseMap([]byte(urls.Replace(gateMap)))
	if err != nil {
		return err
	}
	clock := &clock{t: demoStart}
	mc, err := client.NewMulti(client.MultiConfig{
		Map:          m,
		TrustedRoots: map[string][]byte{"vendor": vendor.rootJSON(), "org": org.rootJSON()},
		StateDir:     filepath.Join(dir, "tuf"),
	}, client.WithClock(clock.now))
	if err != nil {
		return err
	}
	defer mc.Close()
	d := &device{multi: mc, app: filepath.Join(dir, "myapp")}

	fmt.Fprintln(out)
	say(out, "", "", "approval gate: the organisation's machines install only what "+
		"the vendor released and its own repository approved")
	fmt.Fprintf(out, "  map           myapp/*/* needs 2 of vendor, org "+
		"(their own root keys each), terminating\n")
	step := func(what string, want string) error {
		vsite.sync(vendor)
		osite.sync(org)
		got, err := d.update(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		b, err := os.ReadFile(d.app)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  %-48s device runs myapp %s\n", what, got)
		if got != want || string(b) != string(binary(want)) {
			return fmt.Errorf("%s: the device runs %s, want %s", what, got, want)
		}
		return nil
	}
	for _, r := range []*repo{vendor, org} {
		if err := r.release("1.0.0"); err != nil {
			return err
		}
	}
	if err := step("vendor releases 1.0.0, org approves it", "1.0.0"); err != nil {
		return err
	}
	if err := vendor.release("2.0.0"); err != nil {
		return err
	}
	if err := step("vendor releases 2.0.0, not approved yet", "1.0.0"); err != nil {
		return err
	}
	_, err = mc.Target(ctx, targetPath("2.0.0"))
	var ce *client.ConsensusError
	if !errors.As(err, &ce) {
		return fmt.Errorf("2.0.0 before approval: %v, want no consensus", err)
	}
	for _, r := range ce.Mappings[0].Repositories {
		say(out, "    ", "      ", shortHashes(r.String()))
	}
	if err := org.release("2.0.0"); err != nil {
		return err
	}
	return step("org approves 2.0.0 (the same length and hashes)", "2.0.0")
}
