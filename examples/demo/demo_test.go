package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/latchsec/latch/transparency/logwriter"
)

// TestRun runs the whole demo: the honest update must succeed, every attack
// must be stopped, the self-update and the approval gate must go as they
// should, and the report must say so for each scene, in lines that fit
// the width.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	report := out.String()
	for _, want := range []string{
		// the honest update and its audit log
		"app on disk myapp 1.0.0 -> myapp 2.0.0",
		"which the\n              trusted state holds",
		"download  prev ", "8 of 8 attacks stopped",
		// the self-update
		"2.0.0 released, Apply       check passed: 1.0.0 -> 2.0.0, 1.0.0 kept as a backup",
		"2.1.0 released, Apply       " +
			"check failed (exit status 1): 2.1.0 not installed, 2.0.0 stays",
		"audit log: install of 2.1.0: ",
		"next Apply                  " +
			"passes over 2.1.0 (ApplyResult.KnownBad): 2.0.0 is up to date",
		// the approval gate
		"vendor releases 2.0.0, not approved yet          device runs myapp 1.0.0",
		"org: not listed",
		"org approves 2.0.0 (the same length and hashes)  device runs myapp 2.0.0",
		"the approval gate held",
		"refused unless logged, and flagged when logged",
	} {
		if runtime.GOOS == "windows" && strings.Contains(want, "Apply") {
			continue // the self-update is skipped there
		}
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if strings.Contains(report, "BAD") {
		t.Errorf("report has a scene marked BAD:\n%s", report)
	}
	lines := strings.Split(report, "\n")
	for _, sc := range scenes {
		verdict := "updated from mirror-b"
		if sc.want != nil {
			verdict = sentinelName(sc.want)
		}
		found := false
		for _, line := range lines {
			if strings.HasPrefix(line, "ok ") &&
				strings.Contains(line, sc.name) && strings.Contains(line, verdict) {
				found = true
			}
		}
		if !found {
			t.Errorf("report has no line marking %q ok with %s:\n%s",
				sc.name, verdict, report)
		}
	}
	for i, line := range lines {
		if n := utf8.RuneCountInString(line); n > width {
			t.Errorf("output line %d has %d columns, more than %d:\n%s",
				i+1, n, width, line)
		}
	}
	checkGlossary(t, lines)
}

// checkGlossary: each word of TUF the report uses is explained, once, in
// the glossary, before any other line uses it.
func checkGlossary(t *testing.T, lines []string) {
	t.Helper()
	explained := map[string]bool{}
	for _, g := range glossary {
		explained[g.term] = true
	}
	for _, term := range []string{"root", "timestamp", "snapshot", "targets", "delegation",
		"threshold", "rollback", "freeze", "mix-and-match"} {
		if !explained[term] {
			t.Errorf("the glossary does not explain %q", term)
			continue
		}
		quoted := regexp.QuoteMeta(term)
		word := regexp.MustCompile(`(?i)(^|[^a-z-])` + quoted + `($|[^a-z-])`)
		entry := regexp.MustCompile(`^  ` + quoted + ` +\S`)
		first, entries := -1, 0
		for i, line := range lines {
			if first < 0 && word.MatchString(line) {
				first = i
			}
			if entry.MatchString(line) {
				entries++
			}
		}
		if first < 0 || !entry.MatchString(lines[first]) || entries != 1 {
			t.Errorf("%q: first used on line %d (%q), explained on %d lines; "+
				"want it explained once, first",
				term, first+1, lines[max(first, 0)], entries)
		}
	}
}

// tabWidth is how many columns a tab takes when source lines are measured:
// the widest setting in common use.
const tabWidth = 8

// TestSourceWidth: every line of the demo's source fits width columns.
func TestSourceWidth(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("source files: %v, %v", files, err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			cols := 0
			for _, r := range line {
				if r == '\t' {
					cols += tabWidth - cols%tabWidth
				} else {
					cols++
				}
			}
			if cols > width {
				t.Errorf("%s:%d: %d columns (tabs of %d), more than %d",
					name, i+1, cols, tabWidth, width)
			}
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
	for _, want := range []string{"ErrNotLogged", "installed; monitor flags entry 2",
		"ErrSplitView", "without the log policy latch installs it"} {
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
			t.Errorf("scene %d %q without attack counts as stopped: %+v",
				i+1, sc.name, o)
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
			t.Errorf("scene %d %q without attack counts as stopped: %+v",
				i+1, sc.name, o)
		}
		if sc.want != nil && o.app != "CHANGED to myapp 2.0.0" {
			t.Errorf("scene %d %q without attack: app %q, want the update installed",
				i+1, sc.name, o.app)
		}
	}
}
