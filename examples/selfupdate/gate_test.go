package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/latchsec/latch/internal/simulator"
)

// TestSelfUpdateGate: the application updates through a map that needs the
// vendor's repository and the organisation's to agree. 2.0.0 signed by the
// vendor alone is not installed; once the organisation lists the same
// build, it is.
func TestSelfUpdateGate(t *testing.T) {
	dir, exeName, builds := buildVersions(t, "1.0.0", "2.0.0")
	platform := runtime.GOOS + "-" + runtime.GOARCH
	repos := map[string]*simulator.Repo{
		"vendor": simulator.New(t, simulator.Options{Seed: "vendor", ConsistentSnapshot: true}),
		"org":    simulator.New(t, simulator.Options{Seed: "org"}),
	}
	publish := func(repo, version string) {
		repos[repo].AddTarget(fmt.Sprintf("selfupdate/%s/%s", version, platform), builds[version],
			map[string]any{"version": version, "channels": []string{"stable"}})
		repos[repo].Publish()
	}
	publish("vendor", "1.0.0")
	publish("org", "1.0.0")
	publish("vendor", "2.0.0")

	roots := filepath.Join(dir, "roots")
	if err := os.MkdirAll(roots, 0o755); err != nil {
		t.Fatal(err)
	}
	urls := map[string][]string{}
	for name, r := range repos {
		meta, _ := r.Serve()
		urls[name] = []string{strings.TrimSuffix(meta, "metadata/")}
		if err := os.WriteFile(filepath.Join(roots, name+".root.json"), r.TrustedRoot(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mapFile := filepath.Join(dir, "map.json")
	doc, _ := json.Marshal(map[string]any{"repositories": urls, "mapping": []map[string]any{
		{"paths": []string{"selfupdate/*/*"}, "repositories": []string{"vendor", "org"}, "threshold": 2, "terminating": true}}})
	if err := os.WriteFile(mapFile, doc, 0o644); err != nil {
		t.Fatal(err)
	}

	exe := filepath.Join(dir, "installed", exeName)
	if err := os.MkdirAll(filepath.Dir(exe), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, builds["1.0.0"], 0o755); err != nil {
		t.Fatal(err)
	}
	update := func(want string) {
		t.Helper()
		code, out, stderr := runExe(t, exe, "--update", "--map", mapFile, "--roots", roots,
			"--state-dir", filepath.Join(dir, "state"), "--now", repos["vendor"].Now().Format(time.RFC3339))
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("--update: exit %d, want %q\n%s%s", code, want, out, stderr)
		}
	}
	update("up to date: 1.0.0")
	if code, out, _ := runExe(t, exe, "--version"); code != 0 || strings.TrimSpace(out) != "1.0.0" {
		t.Fatalf("the vendor's 2.0.0 alone was installed: %q", out)
	}
	publish("org", "2.0.0")
	update("updated 1.0.0 to 2.0.0")
	if code, out, _ := runExe(t, exe, "--version"); code != 0 || strings.TrimSpace(out) != "2.0.0" {
		t.Fatalf("--version after approval: %q", out)
	}
}
