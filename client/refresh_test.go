package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/internal/simulator"
	"github.com/latchsec/latch/metadata"
	"github.com/latchsec/latch/rollback"
	"github.com/latchsec/latch/verify"
)

var (
	appV1    = []byte("app version 1.0\n")
	appV2    = []byte("app version 2.0, a little longer\n")
	pluginV1 = []byte("plugin x\n")
)

// TestRefreshAndDownload is the main flow, in each combination of
// consistent snapshots and pretty-printed metadata: refresh, look up a
// top-level and a delegated target, download them, refresh after a release
// and after no change.
func TestRefreshAndDownload(t *testing.T) {
	t.Parallel()
	for _, mode := range []struct {
		name               string
		consistent, pretty bool
	}{
		{"plain", false, false},
		{"consistent", true, false},
		{"pretty", false, true},
		{"consistent-pretty", true, true},
	} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			repo := simulator.New(t, simulator.Options{ConsistentSnapshot: mode.consistent, Pretty: mode.pretty})
			repo.AddTarget("app/1.0/app.bin", appV1, map[string]any{"version": "1.0"})
			repo.Delegate("targets", "plugins", simulator.DelegationOpts{Paths: []string{"plugins/*"}})
			repo.AddDelegatedTarget("plugins", "plugins/x.so", pluginV1, nil)
			repo.Publish()
			e := newEnv(t, repo)
			c := e.open()
			if _, err := c.Target(context.Background(), "app/1.0/app.bin"); !errors.Is(err, client.ErrNotRefreshed) {
				t.Fatalf("Target before Refresh: %v, want ErrNotRefreshed", err)
			}
			e.refresh()
			e.wantVersions(top(1, 2, 2, 2))
			c = e.c

			// Metadata requested by the name the spec prescribes; cached as
			// received, under the plain role name.
			repo.ResetRequests()
			e.refresh()
			if got, want := repo.Requests(), []string{"2.root.json", "timestamp.json"}; !slices.Equal(got, want) {
				t.Errorf("refresh without change requested %q, want %q", got, want)
			}
			for _, role := range []string{"timestamp", "snapshot", "targets"} {
				name := role + ".json"
				if mode.consistent && role != "timestamp" {
					name = fmt.Sprintf("%d.%s.json", repo.Version(role), role)
				}
				if !bytes.Equal(e.cacheFile(role), repo.Bytes(name)) {
					t.Errorf("cached %s.json differs from the served %s", role, name)
				}
			}
			if !bytes.Equal(e.cacheFile("root"), repo.TrustedRoot()) {
				t.Error("cached root.json differs from the trusted root")
			}

			tg := e.target("app/1.0/app.bin")
			if tg.Path() != "app/1.0/app.bin" || tg.Length() != int64(len(appV1)) || tg.Role() != "targets" {
				t.Errorf("target: path %q length %d role %q", tg.Path(), tg.Length(), tg.Role())
			}
			if got := hexOf(tg.Hashes()["sha256"]); got != hexSHA256(appV1) {
				t.Errorf("target sha256 %s, want %s", got, hexSHA256(appV1))
			}
			var custom map[string]string
			if err := json.Unmarshal(tg.Custom(), &custom); err != nil || custom["version"] != "1.0" {
				t.Errorf("custom %s (%v), want version 1.0", tg.Custom(), err)
			}
			chain := tg.Chain()
			if len(chain) != 1 || chain[0].Role != "targets" || chain[0].Version != 2 || chain[0].Stale {
				t.Errorf("chain %+v", chain)
			}

			repo.ResetRequests()
			pl := e.target("plugins/x.so")
			if pl.Role() != "plugins" || len(pl.Chain()) != 2 || pl.Chain()[1].Role != "plugins" || pl.Chain()[1].Version != 1 {
				t.Errorf("delegated target: role %q chain %+v", pl.Role(), pl.Chain())
			}
			wantName := "plugins.json"
			if mode.consistent {
				wantName = "1.plugins.json"
			}
			wantRequests(t, repo, wantName)

			// Downloads, by the consistent-snapshot name where it applies.
			repo.ResetRequests()
			dest := filepath.Join(e.dl, "app.bin")
			if err := c.DownloadFile(context.Background(), tg, dest); err != nil {
				t.Fatalf("DownloadFile: %v", err)
			}
			if b, _ := os.ReadFile(dest); !bytes.Equal(b, appV1) {
				t.Errorf("downloaded %q, want %q", b, appV1)
			}
			if got, want := repo.Requests(), []string{repo.TargetName("app/1.0/app.bin")}; !slices.Equal(got, want) {
				t.Errorf("download requested %q, want %q", got, want)
			}
			if mode.consistent && !bytes.Contains([]byte(repo.Requests()[0]), []byte(hexSHA256(appV1)+".app.bin")) {
				t.Errorf("consistent snapshot: target requested as %q", repo.Requests()[0])
			}
			if ok, err := c.Cached(tg, dest); !ok || err != nil {
				t.Errorf("Cached after download = %v, %v", ok, err)
			}
			plDest := filepath.Join(e.dl, "x.so")
			if err := c.DownloadFile(context.Background(), pl, plDest); err != nil {
				t.Fatalf("DownloadFile(plugin): %v", err)
			}
			if ok, err := c.Cached(pl, dest); ok || err != nil {
				t.Errorf("Cached(plugin, app file) = %v, %v, want false", ok, err)
			}

			// A release: new target, new versions of targets, snapshot,
			// timestamp.
			repo.AddTarget("app/2.0/app.bin", appV2, map[string]any{"version": "2.0"})
			repo.Publish()
			e.refresh()
			tg2 := e.target("app/2.0/app.bin")
			if err := c.DownloadFile(context.Background(), tg2, dest); err != nil {
				t.Fatalf("DownloadFile(2.0): %v", err)
			}
			if b, _ := os.ReadFile(dest); !bytes.Equal(b, appV2) {
				t.Errorf("downloaded %q, want %q", b, appV2)
			}
			if ok, err := c.Cached(tg, dest); ok || err != nil {
				t.Errorf("Cached(1.0, 2.0 file) = %v, %v, want false", ok, err)
			}
			e.wantVersions(top(1, 3, 3, 3))
		})
	}
}

// TestRootUpdate covers spec §5.3.
func TestRootUpdate(t *testing.T) {
	t.Parallel()

	t.Run("rotation chain", func(t *testing.T) {
		t.Parallel()
		repo := simulator.New(t, simulator.Options{})
		repo.AddKey("root") // key 1
		repo.RemoveKey("root", 0)
		repo.Publish()      // v2: signed by keys 0 (v1) and 1 (v2)
		repo.AddKey("root") // key 2
		repo.RemoveKey("root", 1)
		repo.Publish() // v3: signed by keys 1 and 2
		e := refreshed(t, repo)
		if !bytes.Equal(e.cacheFile("root"), repo.Bytes("3.root.json")) {
			t.Error("cached root.json is not root v3 as served")
		}
		e.wantVersions(top(3, 1, 1, 1))
	})

	// §5.3.4: the new root must be signed by a threshold of the trusted
	// root's keys (signed only by the new key 1 fails), and §5.3.5 by a
	// threshold of its own (signed only by the old key 0 fails).
	for name, signer := range map[string]int{"signed only by new keys": 1, "signed only by old keys": 0} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			repo := simulator.New(t, simulator.Options{})
			e := refreshed(t, repo)
			before := e.disk()
			repo.AddKey("root")
			repo.RemoveKey("root", 0)
			repo.Sign("root", signer)
			repo.Publish()
			err := e.refreshErr()
			wantIs(t, err, client.ErrThreshold)
			te := wantAs[*verify.ThresholdError](t, err)
			if te.Role != "root" || te.Valid != 0 || !slices.Equal(te.Rejected, []string{repo.KeyID("root", signer)}) {
				t.Errorf("ThresholdError %+v, want root, 0 valid, key %d rejected", te, signer)
			}
			e.sameDisk(before)
			e.wantVersions(top(1, 1, 1, 1))
		})
	}

	t.Run("version N+2 served as N+1", func(t *testing.T) {
		t.Parallel()
		repo := simulator.New(t, simulator.Options{})
		repo.PublishRoot()
		repo.PublishRoot()
		repo.SetFault("2.root.json", simulator.Fault{Replace: repo.Bytes("3.root.json")})
		e := newEnv(t, repo)
		e.open()
		before := e.disk()
		err := e.refreshErr()
		wantIs(t, err, client.ErrVersionMismatch)
		ve := wantAs[*client.VersionError](t, err)
		if ve.Role != "root" || ve.Got != 3 || ve.Want != 2 || ve.Referrer != "" {
			t.Errorf("VersionError %+v, want root got 3 want 2", ve)
		}
		e.sameDisk(before)
		e.wantVersions(map[string]int64{"root": 1, "timestamp": 0})
	})

	// §5.3.6 and §5.3.10: only the final root must be unexpired.
	t.Run("expired intermediate root", func(t *testing.T) {
		t.Parallel()
		repo := simulator.New(t, simulator.Options{})
		repo.SetExpires("root", repo.Now().Add(-time.Hour))
		repo.PublishRoot()
		repo.SetExpires("root", repo.Now().AddDate(1, 0, 0))
		repo.PublishRoot()
		e := refreshed(t, repo)
		e.wantVersions(top(3, 1, 1, 1))
	})

	t.Run("expired final root", func(t *testing.T) {
		t.Parallel()
		repo := simulator.New(t, simulator.Options{})
		repo.SetExpires("root", repo.Now())
		repo.PublishRoot()
		e := newEnv(t, repo)
		e.open()
		err := e.refreshErr()
		wantIs(t, err, client.ErrExpired)
		ee := wantAs[*client.ExpiredError](t, err)
		if ee.Role != "root" || ee.Version != 2 || !ee.Expires.Equal(repo.Now()) || !ee.Now.Equal(repo.Now()) {
			t.Errorf("ExpiredError %+v", ee)
		}
		if slices.Contains(repo.Requests(), "timestamp.json") {
			t.Error("timestamp fetched after the root update failed")
		}
		// §5.3.8 persisted root v2 before §5.3.10 refused it as final;
		// nothing else was trusted.
		if !bytes.Equal(e.cacheFile("root"), repo.Bytes("2.root.json")) {
			t.Error("root v2 not persisted (spec 5.3.8)")
		}
		if e.cacheFile("timestamp") != nil {
			t.Error("timestamp cached")
		}
		e.wantVersions(map[string]int64{"root": 2, "timestamp": 0, "snapshot": 0, "targets": 0})
	})

	// §5.3.3: "not available" ends the probe; DESIGN.md: 403 as 404.
	for _, status := range []int{403, 404} {
		t.Run(fmt.Sprintf("status %d ends the probe", status), func(t *testing.T) {
			t.Parallel()
			repo := simulator.New(t, simulator.Options{})
			repo.PublishRoot()
			repo.SetFault("2.root.json", simulator.Fault{Status: status})
			e := refreshed(t, repo)
			e.wantVersions(top(1, 1, 1, 1))
		})
	}

	t.Run("status 500 does not end the probe", func(t *testing.T) {
		t.Parallel()
		repo := simulator.New(t, simulator.Options{})
		repo.SetFault("2.root.json", simulator.Fault{Status: 500})
		e := newEnv(t, repo)
		e.open()
		err := e.refreshErr()
		me := wantAs[*client.MirrorError](t, err)
		if me.File != "2.root.json" || len(me.Errs) != 1 {
			t.Errorf("MirrorError %+v", me)
		}
		if slices.Contains(repo.Requests(), "timestamp.json") {
			t.Error("timestamp fetched after the root probe failed")
		}
	})

	t.Run("rotation cap reached", func(t *testing.T) {
		t.Parallel()
		repo := simulator.New(t, simulator.Options{})
		repo.PublishRoot()
		repo.PublishRoot()
		repo.PublishRoot()
		e := newEnv(t, repo, client.WithMaxRootRotations(2))
		e.open()
		err := e.refreshErr()
		wantIs(t, err, client.ErrRootRotationLimit)
		if e.cacheFile("timestamp") != nil {
			t.Error("timestamp trusted after the rotation cap was reached")
		}
		// The two roots accepted were valid and persisted (spec 5.3.8).
		e.wantVersions(map[string]int64{"root": 3, "timestamp": 0})
	})

	t.Run("rotation cap not reached", func(t *testing.T) {
		t.Parallel()
		repo := simulator.New(t, simulator.Options{})
		repo.PublishRoot()
		repo.PublishRoot()
		e := newEnv(t, repo, client.WithMaxRootRotations(2))
		e.open()
		e.refresh()
		e.wantVersions(top(3, 1, 1, 1))
	})
}

// publishTimestamps publishes n new timestamps (nothing else changes).
func publishTimestamps(repo *simulator.Repo, n int) {
	for range n {
		repo.Timestamp()
		repo.Publish()
	}
}

// TestFastForwardRecovery covers spec §5.3.11: after the timestamp key is
// rotated, a lower timestamp version is accepted, and the store records
// the root version that allowed it.
func TestFastForwardRecovery(t *testing.T) {
	t.Parallel()

	t.Run("without rotation a lower version is a rollback", func(t *testing.T) {
		t.Parallel()
		repo := simulator.New(t, simulator.Options{})
		publishTimestamps(repo, 5) // v6
		e := refreshed(t, repo)
		repo.Timestamp().Signed.Version = 3
		repo.Publish()
		err := e.refreshErr()
		re := wantAs[*rollback.RollbackError](t, err)
		if re.Role != "timestamp" || re.Got != "v3" || re.Trusted != "v6" {
			t.Errorf("RollbackError %+v", re)
		}
		e.wantVersions(top(1, 6, 1, 1))
	})

	t.Run("timestamp key rotated", func(t *testing.T) {
		t.Parallel()
		repo := simulator.New(t, simulator.Options{})
		publishTimestamps(repo, 5)
		e := refreshed(t, repo)
		repo.AddKey("timestamp")
		repo.RemoveKey("timestamp", 0)
		repo.Publish() // root v2, timestamp v7 with the new key
		repo.Timestamp().Signed.Version = 3
		repo.Publish() // the repository's owners go back to v3
		e.refresh()
		e.wantVersions(top(2, 3, 1, 1))
		if st := e.state(); st.TimestampResetRoot != 2 || st.FastForwardRoot != 0 {
			t.Errorf("TimestampResetRoot = %d, FastForwardRoot = %d, want 2 and 0", st.TimestampResetRoot, st.FastForwardRoot)
		}
	})

	t.Run("snapshot key rotated", func(t *testing.T) {
		t.Parallel()
		repo := simulator.New(t, simulator.Options{})
		for range 4 {
			repo.Snapshot()
			repo.Publish()
		} // snapshot v5, timestamp v5
		e := refreshed(t, repo)
		repo.AddKey("snapshot")
		repo.RemoveKey("snapshot", 0)
		repo.Snapshot().Signed.Version = 2
		repo.Timestamp().Signed.Version = 2
		repo.Publish()
		e.refresh()
		e.wantVersions(top(2, 2, 2, 1))
		if got := e.state().FastForwardRoot; got != 2 {
			t.Errorf("FastForwardRoot = %d, want 2", got)
		}
	})

	// The reset is kept when the refresh that saw the rotation fails later
	// (here: the final root is expired): the next refresh, from a root
	// that does not rotate anything, still accepts the lower version.
	t.Run("reset survives a failed refresh", func(t *testing.T) {
		t.Parallel()
		repo := simulator.New(t, simulator.Options{})
		publishTimestamps(repo, 5)
		e := refreshed(t, repo)
		repo.AddKey("timestamp")
		repo.RemoveKey("timestamp", 0)
		repo.SetExpires("root", repo.Now())
		repo.Timestamp().Signed.Version = 3
		repo.Publish() // root v2 (expired), timestamp v3 with the new key
		wantIs(t, e.refreshErr(), client.ErrExpired)
		e.open() // a restart in between changes nothing
		repo.SetExpires("root", repo.Now().AddDate(1, 0, 0))
		repo.PublishRoot() // root v3, same keys
		e.refresh()
		e.wantVersions(top(3, 3, 1, 1))
		if st := e.state(); st.TimestampResetRoot != 2 || st.FastForwardRoot != 0 {
			t.Errorf("TimestampResetRoot = %d, FastForwardRoot = %d, want 2 and 0", st.TimestampResetRoot, st.FastForwardRoot)
		}
	})
}

// TestTimestampUpdate covers spec §5.4.
func TestTimestampUpdate(t *testing.T) {
	t.Parallel()

	// setup returns an env that trusts timestamp v2 and a repository that
	// publishes timestamp v3.
	setup := func(t *testing.T) (*env, map[string]string) {
		repo := simulator.New(t, simulator.Options{})
		publishTimestamps(repo, 1)
		e := refreshed(t, repo)
		publishTimestamps(repo, 1)
		return e, e.disk()
	}

	t.Run("bad signature", func(t *testing.T) {
		t.Parallel()
		e, before := setup(t)
		e.repo.SetFault("timestamp.json", simulator.Fault{Mutate: badSig})
		err := e.refreshErr()
		wantIs(t, err, client.ErrThreshold)
		if te := wantAs[*verify.ThresholdError](t, err); te.Role != "timestamp" || te.Valid != 0 || te.Threshold != 1 {
			t.Errorf("ThresholdError %+v", te)
		}
		e.sameDisk(before)
		e.wantVersions(top(1, 2, 1, 1))
	})

	t.Run("below threshold", func(t *testing.T) {
		t.Parallel()
		repo := simulator.New(t, simulator.Options{})
		repo.AddKey("timestamp")
		repo.SetThreshold("timestamp", 2)
		repo.Publish() // root v2, timestamp v2 signed by both keys
		e := refreshed(t, repo)
		before := e.disk()
		repo.Sign("timestamp", 0) // one key (listing it twice is refused before: TestSnapshotUpdate)
		repo.Publish()
		err := e.refreshErr()
		te := wantAs[*verify.ThresholdError](t, err)
		if te.Role != "timestamp" || te.Valid != 1 || te.Threshold != 2 || !slices.Equal(te.Signers, []string{repo.KeyID("timestamp", 0)}) {
			t.Errorf("ThresholdError %+v, want 1 of 2 by key 0", te)
		}
		e.sameDisk(before)
		e.wantVersions(top(2, 2, 1, 1))
	})

	t.Run("older version", func(t *testing.T) {
		t.Parallel()
		e, _ := setup(t)
		e.refresh() // v3
		before := e.disk()
		e.repo.SetFault("timestamp.json", simulator.Fault{OldVersion: 2})
		err := e.refreshErr()
		wantIs(t, err, client.ErrRollback)
		if re := wantAs[*rollback.RollbackError](t, err); re.Role != "timestamp" || re.Got != "v2" || re.Trusted != "v3" {
			t.Errorf("RollbackError %+v", re)
		}
		e.sameDisk(before)
		e.wantVersions(top(1, 3, 1, 1))
	})

	t.Run("equal version", func(t *testing.T) {
		t.Parallel()
		e, _ := setup(t)
		e.refresh()
		p := filepath.Join(e.cfg.StateDir, "timestamp.json")
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		before := e.disk()
		e.refresh()
		fi2, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if !os.SameFile(fi, fi2) || !fi.ModTime().Equal(fi2.ModTime()) {
			t.Error("timestamp.json was rewritten for an equal version")
		}
		e.sameDisk(before)
	})

	// A document of another type, signed with the timestamp key.
	t.Run("wrong type", func(t *testing.T) {
		t.Parallel()
		e, before := setup(t)
		forged := *e.repo.Snapshot()
		e.repo.SetFault("timestamp.json", simulator.Fault{Replace: simulator.Seal(t, &forged, false, e.repo.Key("timestamp", 0))})
		err := e.refreshErr()
		wantIs(t, err, client.ErrType)
		wantIs(t, err, metadata.ErrType)
		if me := wantAs[*metadata.Error](t, err); me.Role != "timestamp" {
			t.Errorf("metadata.Error %+v", me)
		}
		e.sameDisk(before)
		e.wantVersions(top(1, 2, 1, 1))
	})

	// §5.4.3.2: the snapshot version in the new timestamp must not go back.
	t.Run("snapshot version goes back", func(t *testing.T) {
		t.Parallel()
		repo := simulator.New(t, simulator.Options{})
		repo.Snapshot()
		repo.Publish() // snapshot v2, timestamp v2
		e := refreshed(t, repo)
		before := e.disk()
		repo.Timestamp().Signed.Meta["snapshot.json"].Version = 1
		repo.Publish() // timestamp v3 lists snapshot v1
		err := e.refreshErr()
		re := wantAs[*rollback.RollbackError](t, err)
		if re.Role != "snapshot" || re.Got != "v1" || re.Trusted != "v2" {
			t.Errorf("RollbackError %+v", re)
		}
		e.sameDisk(before)
		e.wantVersions(top(1, 2, 2, 1))
	})

	// §5.4.4: expiry equal to the reference time is expired.
	t.Run("expired", func(t *testing.T) {
		t.Parallel()
		e, before := setup(t)
		e.repo.SetExpires("timestamp", e.repo.Now())
		e.repo.Publish() // v4
		err := e.refreshErr()
		wantIs(t, err, client.ErrExpired)
		if ee := wantAs[*client.ExpiredError](t, err); ee.Role != "timestamp" || ee.Version != 4 || !ee.Expires.Equal(e.repo.Now()) {
			t.Errorf("ExpiredError %+v", ee)
		}
		e.sameDisk(before)
		e.wantVersions(top(1, 2, 1, 1))
	})

	// DESIGN.md: an equal version is "no change" only while the trusted
	// copy is not expired; a replayed, expired timestamp is a freeze.
	t.Run("replayed expired equal version", func(t *testing.T) {
		t.Parallel()
		e, _ := setup(t)
		e.refresh() // v3, expires a day after repo.Now()
		before := e.disk()
		e.clock.Set(e.repo.Now().Add(25 * time.Hour))
		err := e.refreshErr()
		if ee := wantAs[*client.ExpiredError](t, err); ee.Role != "timestamp" || ee.Version != 3 {
			t.Errorf("ExpiredError %+v", ee)
		}
		wantIs(t, e.targetErr("anything"), client.ErrExpired)
		e.sameDisk(before)
	})
}

// TestSnapshotUpdate covers spec §5.5.
func TestSnapshotUpdate(t *testing.T) {
	t.Parallel()

	// setup returns an env that trusts snapshot v1 and a repository that
	// publishes snapshot v2 (a new target).
	setup := func(t *testing.T, opts simulator.Options) *env {
		repo := simulator.New(t, opts)
		e := refreshed(t, repo)
		repo.AddTarget("a", appV1, nil)
		repo.Publish()
		return e
	}
	// failed checks what a refused snapshot leaves: the new timestamp was
	// trusted (spec 5.4.5), the snapshot stayed.
	failed := func(e *env, before map[string]string) {
		e.t.Helper()
		e.sameDisk(before, "snapshot.json", "targets.json", "root.json")
		e.wantVersions(top(1, 2, 1, 1))
	}

	t.Run("hash mismatch", func(t *testing.T) {
		t.Parallel()
		e := setup(t, simulator.Options{TimestampHashes: true})
		before := e.disk()
		e.repo.SetFault("snapshot.json", simulator.Fault{Mutate: simulator.FlipBit})
		err := e.refreshErr()
		wantIs(t, err, client.ErrHashMismatch)
		if he := wantAs[*verify.HashError](t, err); he.Algorithm != "sha256" {
			t.Errorf("HashError %+v", he)
		}
		failed(e, before)
	})

	t.Run("length mismatch", func(t *testing.T) {
		t.Parallel()
		e := setup(t, simulator.Options{TimestampHashes: true})
		before := e.disk()
		e.repo.SetFault("snapshot.json", simulator.Fault{Mutate: truncate})
		err := e.refreshErr()
		wantIs(t, err, client.ErrLengthMismatch)
		if le := wantAs[*verify.LengthError](t, err); le.Got != le.Want-1 {
			t.Errorf("LengthError %+v", le)
		}
		failed(e, before)
	})

	t.Run("bad signature", func(t *testing.T) {
		t.Parallel()
		e := setup(t, simulator.Options{})
		before := e.disk()
		e.repo.SetFault("snapshot.json", simulator.Fault{Mutate: badSig})
		err := e.refreshErr()
		if te := wantAs[*verify.ThresholdError](t, err); te.Role != "snapshot" {
			t.Errorf("ThresholdError %+v", te)
		}
		failed(e, before)
	})

	// §4.2: a key ID may appear once in "signatures", even when the
	// signatures meet the threshold (tuf-conformance
	// test_duplicate_sig_keyids).
	t.Run("duplicate signature key ID", func(t *testing.T) {
		t.Parallel()
		e := setup(t, simulator.Options{})
		before := e.disk()
		e.repo.SetFault("snapshot.json", simulator.Fault{Mutate: dupSig})
		err := e.refreshErr()
		wantIs(t, err, metadata.ErrDuplicateSignature)
		wantIs(t, err, client.ErrMalformed)
		failed(e, before)
	})

	// §5.5.4: mix-and-match, an older snapshot under a newer timestamp.
	t.Run("version mismatch", func(t *testing.T) {
		t.Parallel()
		e := setup(t, simulator.Options{ConsistentSnapshot: true})
		e.repo.SetFault("2.snapshot.json", simulator.Fault{OldVersion: 1})
		before := e.disk()
		err := e.refreshErr()
		wantIs(t, err, client.ErrVersionMismatch)
		if ve := wantAs[*client.VersionError](t, err); ve.Role != "snapshot" || ve.Got != 1 || ve.Want != 2 || ve.Referrer != "timestamp" {
			t.Errorf("VersionError %+v", ve)
		}
		failed(e, before)
	})

	// §5.5.5: no targets role may go back or disappear.
	t.Run("targets version goes back", func(t *testing.T) {
		t.Parallel()
		e := setup(t, simulator.Options{})
		e.refresh() // snapshot v2 lists targets v2
		before := e.disk()
		e.repo.Snapshot().Signed.Meta["targets.json"].Version = 1
		e.repo.Publish()
		err := e.refreshErr()
		if re := wantAs[*rollback.RollbackError](t, err); re.Role != "targets" || re.Got != "v1" || re.Trusted != "v2" {
			t.Errorf("RollbackError %+v", re)
		}
		e.sameDisk(before, "snapshot.json", "targets.json")
		e.wantVersions(top(1, 3, 2, 2))
	})

	t.Run("delegated role disappears", func(t *testing.T) {
		t.Parallel()
		repo := simulator.New(t, simulator.Options{})
		repo.Delegate("targets", "d", simulator.DelegationOpts{Paths: []string{"d/*"}})
		repo.Publish()
		e := refreshed(t, repo)
		before := e.disk()
		delete(repo.Snapshot().Signed.Meta, "d.json")
		repo.Publish()
		err := e.refreshErr()
		wantIs(t, err, client.ErrRollback)
		if re := wantAs[*rollback.RollbackError](t, err); re.Role != "d" || re.Got != "" || re.Trusted != "v1" {
			t.Errorf("RollbackError %+v", re)
		}
		e.sameDisk(before, "snapshot.json", "targets.json")
		e.wantVersions(top(1, 3, 2, 2))
	})

	t.Run("expired", func(t *testing.T) {
		t.Parallel()
		e := setup(t, simulator.Options{})
		e.repo.SetExpires("snapshot", e.repo.Now().Add(-time.Second))
		e.repo.Publish() // snapshot v3
		before := e.disk()
		err := e.refreshErr()
		if ee := wantAs[*client.ExpiredError](t, err); ee.Role != "snapshot" || ee.Version != 3 {
			t.Errorf("ExpiredError %+v", ee)
		}
		e.sameDisk(before, "snapshot.json", "targets.json")
		e.wantVersions(top(1, 3, 1, 1))
	})
}

// TestTargetsUpdate covers spec §5.6.1-5.6.6 for the top-level targets role.
func TestTargetsUpdate(t *testing.T) {
	t.Parallel()

	setup := func(t *testing.T, opts simulator.Options) (*env, map[string]string) {
		repo := simulator.New(t, opts)
		e := refreshed(t, repo)
		repo.AddTarget("a", appV1, nil)
		repo.Publish()
		return e, e.disk()
	}
	// failed: timestamp and snapshot v2 were trusted, targets stayed v1.
	failed := func(e *env, before map[string]string) {
		e.t.Helper()
		e.sameDisk(before, "targets.json")
		wantIs(e.t, e.targetErr("a"), client.ErrNotRefreshed)
		e.wantVersions(top(1, 2, 2, 1))
	}

	t.Run("hash mismatch", func(t *testing.T) {
		t.Parallel()
		e, before := setup(t, simulator.Options{SnapshotHashes: true})
		e.repo.SetFault("targets.json", simulator.Fault{Mutate: simulator.FlipBit})
		wantIs(t, e.refreshErr(), client.ErrHashMismatch)
		failed(e, before)
	})

	t.Run("bad signature", func(t *testing.T) {
		t.Parallel()
		e, before := setup(t, simulator.Options{})
		e.repo.SetFault("targets.json", simulator.Fault{Mutate: badSig})
		if te := wantAs[*verify.ThresholdError](t, e.refreshErr()); te.Role != "targets" {
			t.Errorf("ThresholdError %+v", te)
		}
		failed(e, before)
	})

	t.Run("version mismatch", func(t *testing.T) {
		t.Parallel()
		e, before := setup(t, simulator.Options{ConsistentSnapshot: true})
		e.repo.SetFault("2.targets.json", simulator.Fault{OldVersion: 1})
		if ve := wantAs[*client.VersionError](t, e.refreshErr()); ve.Role != "targets" || ve.Got != 1 || ve.Want != 2 || ve.Referrer != "snapshot" {
			t.Errorf("VersionError %+v", ve)
		}
		failed(e, before)
	})

	t.Run("expired", func(t *testing.T) {
		t.Parallel()
		e, _ := setup(t, simulator.Options{})
		e.repo.SetExpires("targets", e.repo.Now())
		e.repo.Publish() // targets v3
		before := e.disk()
		if ee := wantAs[*client.ExpiredError](t, e.refreshErr()); ee.Role != "targets" || ee.Version != 3 {
			t.Errorf("ExpiredError %+v", ee)
		}
		e.sameDisk(before, "targets.json")
		e.wantVersions(top(1, 3, 3, 1))
	})

	t.Run("not listed", func(t *testing.T) {
		t.Parallel()
		repo := simulator.New(t, simulator.Options{})
		delete(repo.Snapshot().Signed.Meta, "targets.json")
		repo.Publish()
		e := newEnv(t, repo)
		e.open()
		wantIs(t, e.refreshErr(), client.ErrNotListed)
		if e.cacheFile("targets") != nil {
			t.Error("targets.json cached")
		}
		e.wantVersions(map[string]int64{"root": 1, "timestamp": 2, "snapshot": 2, "targets": 0})
	})
}

// TestSizeLimits covers the endless-data attack: the caps of DESIGN.md when
// the referrer lists no length, and the listed length when it does.
func TestSizeLimits(t *testing.T) {
	t.Parallel()

	t.Run("endless timestamp", func(t *testing.T) {
		t.Parallel()
		repo := simulator.New(t, simulator.Options{})
		repo.SetFault("timestamp.json", simulator.Fault{Endless: true})
		e := newEnv(t, repo, client.WithLimits(client.Limits{Timestamp: 4 << 10}))
		e.open()
		before := e.disk()
		wantIs(t, e.refreshErr(), client.ErrTooLarge)
		e.sameDisk(before)
	})

	t.Run("cap below the real size", func(t *testing.T) {
		t.Parallel()
		repo := simulator.New(t, simulator.Options{})
		e := newEnv(t, repo, client.WithLimits(client.Limits{Timestamp: 64}))
		e.open()
		wantIs(t, e.refreshErr(), client.ErrTooLarge)
	})

	t.Run("listed length wins over the cap", func(t *testing.T) {
		t.Parallel()
		repo := simulator.New(t, simulator.Options{TimestampHashes: true, SnapshotHashes: true})
		e := newEnv(t, repo, client.WithLimits(client.Limits{Snapshot: 16, Targets: 16}))
		e.open()
		e.refresh()
		e.wantVersions(top(1, 1, 1, 1))
	})

	t.Run("listed length bounds the download", func(t *testing.T) {
		t.Parallel()
		repo := simulator.New(t, simulator.Options{TimestampHashes: true})
		repo.SetFault("snapshot.json", simulator.Fault{Endless: true})
		e := newEnv(t, repo)
		e.open()
		wantIs(t, e.refreshErr(), client.ErrTooLarge)
		e.wantVersions(map[string]int64{"root": 1, "timestamp": 1, "snapshot": 0})
	})
}
