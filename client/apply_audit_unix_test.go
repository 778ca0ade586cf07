//go:build unix

package client_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/internal/audit"
)

// actionRecord is an audit record of what happened to the executable: an
// install record of an operation on it (not a refusal, nor a build
// recorded where it was), or a revert record.
type actionRecord struct {
	Kind   string
	Fields struct {
		Outcome, Version, SHA256, To string
		ExeSHA256                    string `json:"exe_sha256"`
		ToSHA256                     string `json:"to_sha256"`
	}
}

// actionRecords returns the action records of the audit log in stateDir,
// after verifying the log against the anchor the trusted state keeps (the
// client must be closed).
func actionRecords(t *testing.T, stateDir string) []actionRecord {
	t.Helper()
	dir := filepath.Join(stateDir, "audit")
	if _, err := audit.VerifyAnchored(dir, anchorOf(t, stateDir)); err != nil {
		t.Fatalf("audit log: %v", err)
	}
	f, err := os.Open(filepath.Join(dir, "audit.log"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []actionRecord
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r actionRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r.Kind == "revert" || r.Kind == "install" && r.Fields.Outcome != "refused" && r.Fields.Outcome != "recorded" {
			out = append(out, r)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// journalOps returns how many operations on the executable the
// self-update journal in stateDir has begun (its sequence number), 0 if
// there is no journal.
func journalOps(t *testing.T, stateDir string) int64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(stateDir, "selfupdate", "app"))
	if errors.Is(err, fs.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	var j struct{ Seq int64 }
	if err := json.Unmarshal(b, &j); err != nil {
		t.Fatal(err)
	}
	return j.Seq
}

// wantEachActionAudited checks, with the client closed and every operation
// ended (recovered), that the audit log holds exactly one record per
// operation on the executable that began, each naming the build it was
// about: an install of want (release and executable hashes), or a revert
// to wantRevert.
func wantEachActionAudited(t *testing.T, stateDir string, want, wantRevert []byte, job any) {
	t.Helper()
	recs := actionRecords(t, stateDir)
	if ops := journalOps(t, stateDir); int64(len(recs)) != ops {
		t.Fatalf("%+v: %d operations on the executable, %d audit records of them: %+v", job, ops, len(recs), recs)
	}
	for _, r := range recs {
		switch {
		case r.Kind == "install" && (r.Fields.SHA256 != hexSHA256(want) || r.Fields.ExeSHA256 != hexSHA256(want)):
			t.Errorf("%+v: install record %+v, want sha256 and exe_sha256 %.12s", job, r, hexSHA256(want))
		case r.Kind == "revert" && (r.Fields.To != "1.0.0" || r.Fields.ToSHA256 != hexSHA256(wantRevert)):
			t.Errorf("%+v: revert record %+v, want to 1.0.0, sha256 %.12s", job, r, hexSHA256(wantRevert))
		}
	}
}

// TestApplyCrashRevert kills RevertUnsafe (from 2.0.0, installed by
// Apply, back to the kept 1.0.0) at each log record, then recovers as a
// start-up does: the executable is the build the floor names, and the
// audit log holds exactly one record of each operation on the
// executable, the revert among them once it began.
func TestApplyCrashRevert(t *testing.T) {
	if os.Getenv(applyCrashEnv) != "" {
		t.Skip("in a child process")
	}
	for n := 0; ; n++ {
		if n == 200 {
			t.Fatal("the child was killed at every log record")
		}
		dir := t.TempDir()
		job := applyCrashJob{Mode: "revert", Kill: n, StateDir: filepath.Join(dir, "state"), Exe: filepath.Join(dir, "bin", "app")}
		if err := os.MkdirAll(filepath.Dir(job.Exe), 0o755); err != nil {
			t.Fatal(err)
		}
		writeExe(t, job.Exe, buildV1)
		c := crashClient(t, crashRepo(t, false), job.StateDir)
		if _, err := c.Apply(context.Background(), client.Release{App: "app"}, job.Exe); err != nil {
			t.Fatal(err)
		}
		c.Close()
		repo := crashRepo(t, true)
		c = crashClient(t, repo, job.StateDir)
		if res, err := c.Apply(context.Background(), client.Release{App: "app"}, job.Exe); err != nil || !res.Updated {
			t.Fatalf("installing 2.0.0: %+v, %v", res, err)
		}
		c.Close()

		killed := runCrashChild(t, job)
		c = crashClient(t, repo, job.StateDir)
		if err := c.Recover("app", job.Exe); err != nil {
			t.Fatalf("%+v: Recover: %v", job, err)
		}
		exe, _ := os.ReadFile(job.Exe)
		floor := c.Status().Installed["app"].Version
		if !(floor == "1.0.0" && bytes.Equal(exe, buildV1) || floor == "2.0.0" && bytes.Equal(exe, buildV2)) {
			t.Fatalf("%+v: after Recover, floor %q and executable %q disagree", job, floor, exe)
		}
		c.Close()
		wantEachActionAudited(t, job.StateDir, buildV2, buildV1, job)
		if !killed {
			if n < 5 {
				t.Fatalf("only %d log records", n)
			}
			t.Logf("%d kills in RevertUnsafe", n)
			return
		}
	}
}

// journalPhase returns the phase of the operation in progress in the
// self-update journal in stateDir, "" if none.
func journalPhase(t *testing.T, stateDir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(stateDir, "selfupdate", "app"))
	if errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	var j struct{ Op *struct{ Phase string } }
	if err := json.Unmarshal(b, &j); err != nil {
		t.Fatal(err)
	}
	if j.Op == nil {
		return ""
	}
	return j.Op.Phase
}

// TestApplyCrashRecover kills an update to 2.0.0 so that the journal is
// left in each phase (the first kill of Apply that leaves it there), then
// kills the Recover of a start-up at each log record, and recovers again:
// the recovery's own change to the executable (an install undone or
// finished) has exactly one audit record too.
func TestApplyCrashRecover(t *testing.T) {
	if os.Getenv(applyCrashEnv) != "" {
		t.Skip("in a child process")
	}
	phases := map[string]bool{}
	for n := 0; len(phases) < 3; n++ {
		if n == 500 {
			t.Fatalf("Apply's kills left the journal only in phases %v", phases)
		}
		job := applyCrashJob{Mode: "log", Kill: n}
		setUpCrash(t, &job)
		if !runCrashChild(t, job) {
			t.Fatalf("Apply's kills left the journal only in phases %v", phases)
		}
		phase := journalPhase(t, job.StateDir)
		if phase == "" || phases[phase] {
			continue
		}
		phases[phase] = true
		for m := 0; ; m++ {
			if m == 200 {
				t.Fatal("Recover was killed at every log record")
			}
			// Each kill of Recover follows the same kill of Apply (the
			// journal names the executable's path: no copies).
			if m > 0 {
				setUpCrash(t, &job)
				runCrashChild(t, job)
				if got := journalPhase(t, job.StateDir); got != phase {
					t.Fatalf("%+v left phase %q, then %q", job, phase, got)
				}
			}
			rjob := job
			rjob.Mode, rjob.Kill = "recover", m
			killed := runCrashChild(t, rjob)
			c := crashClient(t, crashRepo(t, true), rjob.StateDir)
			if err := c.Recover("app", rjob.Exe); err != nil {
				t.Fatalf("%s, %+v: Recover: %v", phase, rjob, err)
			}
			c.Close()
			wantEachActionAudited(t, rjob.StateDir, buildV2, nil, rjob)
			if !killed {
				t.Logf("phase %s: %d kills in Recover", phase, m)
				break
			}
		}
	}
}
