package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/internal/simulator"
	"github.com/latchsec/latch/verify"
)

// TestDownload covers target delivery (spec §5.7): nothing unverified
// reaches the destination, and no partial file survives.
func TestDownload(t *testing.T) {
	t.Parallel()
	const path = "dir/app.bin"

	// setup returns an env that looked path up, and the destination,
	// holding old bytes.
	setup := func(t *testing.T, consistent bool) (*env, *client.Target, string) {
		repo := simulator.New(t, simulator.Options{ConsistentSnapshot: consistent})
		repo.AddTarget(path, appV1, nil)
		repo.Publish()
		e := refreshed(t, repo)
		dest := filepath.Join(e.dl, "app.bin")
		if err := os.WriteFile(dest, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
		return e, e.target(path), dest
	}
	// refused checks that dest still holds the old bytes.
	refused := func(t *testing.T, dest string) {
		t.Helper()
		if b, err := os.ReadFile(dest); err != nil || string(b) != "old" {
			t.Errorf("destination after a refused download: %q, %v", b, err)
		}
		noTemps(t, filepath.Dir(dest))
	}

	for _, consistent := range []bool{false, true} {
		t.Run(fmt.Sprintf("tampered consistent=%v", consistent), func(t *testing.T) {
			t.Parallel()
			e, tg, dest := setup(t, consistent)
			e.repo.SetFault(e.repo.TargetName(path), simulator.Fault{Mutate: simulator.FlipBit})
			err := e.c.DownloadFile(context.Background(), tg, dest)
			wantIs(t, err, client.ErrHashMismatch)
			if he := wantAs[*verify.HashError](t, err); he.Algorithm != "sha256" {
				t.Errorf("HashError %+v", he)
			}
			if te := wantAs[*client.TargetError](t, err); te.Path != path {
				t.Errorf("TargetError %+v", te)
			}
			refused(t, dest)
			if ok, err := e.c.Cached(tg, dest); ok || err != nil {
				t.Errorf("Cached = %v, %v", ok, err)
			}
		})
	}

	t.Run("no file on failure", func(t *testing.T) {
		t.Parallel()
		e, tg, dest := setup(t, false)
		e.repo.SetFault(e.repo.TargetName(path), simulator.Fault{Mutate: simulator.FlipBit})
		fresh := filepath.Join(e.dl, "new.bin")
		wantIs(t, e.c.DownloadFile(context.Background(), tg, fresh), client.ErrHashMismatch)
		if _, err := os.Stat(fresh); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("destination exists after a refused download: %v", err)
		}
		refused(t, dest)
	})

	t.Run("short", func(t *testing.T) {
		t.Parallel()
		e, tg, dest := setup(t, false)
		e.repo.SetFault(e.repo.TargetName(path), simulator.Fault{Mutate: truncate})
		err := e.c.DownloadFile(context.Background(), tg, dest)
		if le := wantAs[*verify.LengthError](t, err); le.Want != int64(len(appV1)) || le.Got != le.Want-1 {
			t.Errorf("LengthError %+v", le)
		}
		wantIs(t, err, client.ErrLengthMismatch)
		refused(t, dest)
	})

	t.Run("long", func(t *testing.T) {
		t.Parallel()
		e, tg, dest := setup(t, false)
		e.repo.SetFault(e.repo.TargetName(path), simulator.Fault{Mutate: func(b []byte) []byte { return append(b, 'x') }})
		wantIs(t, e.c.DownloadFile(context.Background(), tg, dest), client.ErrTooLarge)
		refused(t, dest)
	})

	t.Run("endless", func(t *testing.T) {
		t.Parallel()
		e, tg, dest := setup(t, false)
		e.repo.SetFault(e.repo.TargetName(path), simulator.Fault{Endless: true})
		wantIs(t, e.c.DownloadFile(context.Background(), tg, dest), client.ErrTooLarge)
		refused(t, dest)
	})

	t.Run("missing", func(t *testing.T) {
		t.Parallel()
		e, tg, dest := setup(t, true)
		e.repo.SetFault(e.repo.TargetName(path), simulator.Fault{Status: 404})
		wantIs(t, e.c.DownloadFile(context.Background(), tg, dest), client.ErrNotFound)
		refused(t, dest)
	})

	t.Run("not listed", func(t *testing.T) {
		t.Parallel()
		e, _, _ := setup(t, false)
		err := e.targetErr("dir/other.bin")
		wantIs(t, err, client.ErrUnknownTarget)
		if te := wantAs[*client.TargetError](t, err); te.Path != "dir/other.bin" {
			t.Errorf("TargetError %+v", te)
		}
	})

	t.Run("cached", func(t *testing.T) {
		t.Parallel()
		e, tg, dest := setup(t, false)
		if ok, err := e.c.Cached(tg, filepath.Join(e.dl, "absent")); ok || err != nil {
			t.Errorf("Cached(absent) = %v, %v", ok, err)
		}
		if ok, err := e.c.Cached(tg, dest); ok || err != nil {
			t.Errorf("Cached(old) = %v, %v", ok, err)
		}
		if err := os.WriteFile(dest, simulator.FlipBit(appV1), 0o644); err != nil {
			t.Fatal(err)
		}
		if ok, err := e.c.Cached(tg, dest); ok || err != nil {
			t.Errorf("Cached(same length, other bytes) = %v, %v", ok, err)
		}
		if err := os.WriteFile(dest, appV1, 0o644); err != nil {
			t.Fatal(err)
		}
		if ok, err := e.c.Cached(tg, dest); !ok || err != nil {
			t.Errorf("Cached(right bytes) = %v, %v", ok, err)
		}
		if ok, err := e.c.View().Cached(tg, dest); !ok || err != nil {
			t.Errorf("View().Cached(right bytes) = %v, %v", ok, err)
		}
		if ok, err := e.c.Cached(tg, e.dl); ok || err != nil {
			t.Errorf("Cached(directory) = %v, %v", ok, err)
		}
	})
}

// TestMirrors covers DESIGN.md "Mirrors": a mirror that fails for any
// reason is skipped; when all fail, MirrorError lists each reason.
func TestMirrors(t *testing.T) {
	t.Parallel()

	// setup returns an env with two mirrors over one repository, the
	// default server first, and the second server.
	setup := func(t *testing.T) (*env, *simulator.Server) {
		repo := simulator.New(t, simulator.Options{})
		repo.AddTarget("app.bin", appV1, nil)
		repo.Publish()
		e := newEnv(t, repo)
		second := repo.NewServer()
		m2, t2 := second.URLs()
		e.cfg.MetadataURLs = append(e.cfg.MetadataURLs, m2)
		e.cfg.TargetURLs = append(e.cfg.TargetURLs, t2)
		e.open()
		return e, second
	}

	t.Run("metadata failover", func(t *testing.T) {
		t.Parallel()
		e, second := setup(t)
		e.repo.SetFault("timestamp.json", simulator.Fault{Status: 500})
		e.repo.SetFault("snapshot.json", simulator.Fault{Mutate: simulator.FlipBit})
		e.repo.SetFault("targets.json", simulator.Fault{Mutate: badSig})
		e.refresh()
		for _, name := range []string{"timestamp.json", "snapshot.json", "targets.json"} {
			if !slices.Contains(second.Requests(), name) {
				t.Errorf("%s not fetched from the second mirror", name)
			}
		}
		e.wantVersions(top(1, 2, 2, 2))
	})

	// A mirror that is down must not hide the second mirror's answer that
	// there is no newer root (spec §5.3.3).
	t.Run("first mirror down", func(t *testing.T) {
		t.Parallel()
		e, _ := setup(t)
		e.repo.Server().Close()
		e.refresh()
		tg := e.target("app.bin")
		dest := filepath.Join(e.dl, "app.bin")
		if err := e.c.DownloadFile(context.Background(), tg, dest); err != nil {
			t.Fatalf("DownloadFile: %v", err)
		}
		e.wantVersions(top(1, 2, 2, 2))
	})

	t.Run("root from the second mirror", func(t *testing.T) {
		t.Parallel()
		e, _ := setup(t)
		e.repo.PublishRoot()
		e.repo.SetFault("2.root.json", simulator.Fault{Mutate: badSig})
		e.refresh()
		e.wantVersions(top(2, 2, 2, 2))
	})

	t.Run("metadata from no mirror", func(t *testing.T) {
		t.Parallel()
		e, second := setup(t)
		e.repo.SetFault("timestamp.json", simulator.Fault{Status: 500})
		second.SetFault("timestamp.json", simulator.Fault{Mutate: badSig})
		before := e.disk()
		err := e.refreshErr()
		me := wantAs[*client.MirrorError](t, err)
		m1, _ := e.repo.Server().URLs()
		m2, _ := second.URLs()
		if me.File != "timestamp.json" || !slices.Equal(me.Mirrors, []string{m1, m2}) || len(me.Errs) != 2 {
			t.Fatalf("MirrorError %+v", me)
		}
		var se *client.StatusError
		if !errors.As(me.Errs[0], &se) || se.Code != 500 {
			t.Errorf("first mirror's reason %v, want status 500", me.Errs[0])
		}
		wantIs(t, me.Errs[1], client.ErrThreshold)
		wantIs(t, err, client.ErrThreshold)
		e.sameDisk(before)
	})

	t.Run("target failover", func(t *testing.T) {
		t.Parallel()
		e, second := setup(t)
		e.refresh()
		tg := e.target("app.bin")
		e.repo.SetFault("targets/app.bin", simulator.Fault{Mutate: simulator.FlipBit})
		dest := filepath.Join(e.dl, "app.bin")
		if err := e.c.DownloadFile(context.Background(), tg, dest); err != nil {
			t.Fatalf("DownloadFile: %v", err)
		}
		if b, _ := os.ReadFile(dest); !bytes.Equal(b, appV1) {
			t.Errorf("downloaded %q", b)
		}
		if !slices.Contains(second.Requests(), "targets/app.bin") {
			t.Error("target not fetched from the second mirror")
		}
	})

	t.Run("target from no mirror", func(t *testing.T) {
		t.Parallel()
		e, second := setup(t)
		e.refresh()
		tg := e.target("app.bin")
		e.repo.SetFault("targets/app.bin", simulator.Fault{Status: 500})
		second.SetFault("targets/app.bin", simulator.Fault{Mutate: simulator.FlipBit})
		dest := filepath.Join(e.dl, "app.bin")
		err := e.c.DownloadFile(context.Background(), tg, dest)
		me := wantAs[*client.MirrorError](t, err)
		_, t1 := e.repo.Server().URLs()
		_, t2 := second.URLs()
		if me.File != "app.bin" || !slices.Equal(me.Mirrors, []string{t1, t2}) || len(me.Errs) != 2 {
			t.Fatalf("MirrorError %+v", me)
		}
		var se *client.StatusError
		if !errors.As(me.Errs[0], &se) || se.Code != 500 {
			t.Errorf("first mirror's reason %v, want status 500", me.Errs[0])
		}
		wantIs(t, me.Errs[1], client.ErrHashMismatch)
		if _, err := os.Stat(dest); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("destination exists: %v", err)
		}
	})
}
