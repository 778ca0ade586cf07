package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch/transparency/logwriter"
)

// TestRun runs the whole demo: the honest update must succeed, every attack
// must be stopped, and the report must say so for each scene.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	report := out.String()
	for _, want := range []string{"app on disk myapp 1.0.0 -> myapp 2.0.0", "8 of 8 attacks stopped", "hash chain verified up to the anchor", "download      {", "\"outcome\":\"verified\"",
		"vendor releases 2.0.0, not approved yet          device runs myapp 1.0.0", "org: not listed",
		"org approves 2.0.0 (the same length and hashes)  device runs myapp 2.0.0", "the approval gate held",
		"refused unless logged, and flagged when logged"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if strings.Contains(report, "BAD") {
		t.Errorf("report has a scene marked BAD:\n%s", report)
	}
	for _, sc := range scenes {
		verdict := "updated from mirror-b"
		if sc.want != nil {
			verdict = sentinelName(sc.want)
		}
		found := false
		for _, line := range strings.Split(report, "\n") {
			if strings.HasPrefix(line, "ok ") && strings.Contains(line, sc.name) && strings.Contains(line, verdict) {
				found = true
			}
		}
		if !found {
			t.Errorf("report has no line marking %q ok with %s:\n%s", sc.name, verdict, report)
		}
	}
}

// TestTransparencyScenes: each release transparency scene ends as it
// should (refused, or installed and flagged by the monitor), and the report
// says so.
func TestTransparencyScenes(t *testing.T) {
	var out bytes.Buffer
	failed, err := transparencyScenes(t.TempDir(), &out)
	if err != nil || failed != 0 {
		t.Fatalf("transparency: %d failed, %v\n%s", failed, err, out.String())
	}
	if strings.Contains(out.String(), "skipped:") {
		t.Skip(out.String())
	}
	for _, want := range []string{"ErrNotLogged", "installed; monitor flags entry 2", "ErrSplitView", "without the log policy latch installs it"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

// TestUnattackedTransparencyScenesFail checks that judge: an honest update
// to 2.0.0 counts as no scene stopped.
func TestUnattackedTransparencyScenesFail(t *testing.T) {
	for i, sc := range tlScenes {
		sc.stage = func(_ context.Context, w *world) (string, error) {
			w.syncAll()
			return "2.0.0", nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		o, err := playTransparency(ctx, t.TempDir(), sc, true)
		cancel()
		if errors.Is(err, logwriter.ErrUnsupported) {
			t.Skip(err)
		}
		if err != nil {
			t.Fatalf("scene %d %q without attack: %v", i+1, sc.name, err)
		}
		if o.stopped {
			t.Errorf("scene %d %q without attack counts as stopped: %+v", i+1, sc.name, o)
		}
	}
}

// TestUnattackedScenesFail checks the judge: with the attack left out, the
// update goes through (or no mirror is skipped), so no scene may count as
// stopped.
func TestUnattackedScenesFail(t *testing.T) {
	for i, sc := range scenes {
		sc.stage = func(_ context.Context, w *world) error {
			w.syncAll()
			return nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		o, err := play(ctx, t.TempDir(), sc)
		cancel()
		if err != nil {
			t.Fatalf("scene %d %q without attack: %v", i+1, sc.name, err)
		}
		if o.stopped {
			t.Errorf("scene %d %q without attack counts as stopped: %+v", i+1, sc.name, o)
		}
		if sc.want != nil && o.app != "CHANGED to myapp 2.0.0" {
			t.Errorf("scene %d %q without attack: app %q, want the update installed", i+1, sc.name, o.app)
		}
	}
}
