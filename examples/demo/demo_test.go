package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
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
		"org approves 2.0.0 (the same length and hashes)  device runs myapp 2.0.0", "the approval gate held"} {
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
