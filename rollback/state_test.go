package rollback

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"
)

// hash returns a fixed, valid SHA-256 hex string for n.
func hash(n int) string { return fmt.Sprintf("%064x", n) }

// rec returns a valid record for version v.
func rec(v int64) RoleRecord { return RoleRecord{Version: v, SHA256: hash(int(v)), Length: 100 + v} }

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// assertRollback checks that err is a *RollbackError with the given fields.
func assertRollback(t *testing.T, err error, role, app, trusted, got string) {
	t.Helper()
	if !errors.Is(err, ErrRollback) {
		t.Fatalf("got %v, want ErrRollback", err)
	}
	var re *RollbackError
	if !errors.As(err, &re) {
		t.Fatalf("%v is not a *RollbackError", err)
	}
	if re.Role != role || re.App != app || re.Trusted != trusted || re.Got != got {
		t.Errorf("RollbackError{Role: %q, App: %q, Trusted: %q, Got: %q}, want {%q, %q, %q, %q}",
			re.Role, re.App, re.Trusted, re.Got, role, app, trusted, got)
	}
}

func assertUnchanged(t *testing.T, s, before *State) {
	t.Helper()
	if !reflect.DeepEqual(s, before) {
		t.Errorf("state changed after a refused call:\n got %+v\nwant %+v", s, before)
	}
}

func TestNewState(t *testing.T) {
	s := NewState()
	if s.Roles == nil || s.Installed == nil || s.Failed == nil {
		t.Fatalf("NewState has nil maps: %+v", s)
	}
	if len(s.Roles)+len(s.Installed)+len(s.Failed) != 0 || s.FastForwardRoot != 0 ||
		!s.LastTime.IsZero() || s.AuditAnchor != "" {
		t.Errorf("NewState is not empty: %+v", s)
	}
}

func TestAdvance(t *testing.T) {
	s := NewState()
	if err := s.Advance("timestamp", rec(14)); err != nil {
		t.Fatal(err)
	}
	before := s.Clone()
	err := s.Advance("timestamp", rec(12))
	assertRollback(t, err, "timestamp", "", "v14", "v12")
	if want := "timestamp v12 is older than trusted v14: possible rollback attack"; err.Error() != want {
		t.Errorf("message %q, want %q", err.Error(), want)
	}
	assertUnchanged(t, s, before)

	// An equal version is accepted, even with other bytes: the client
	// decides what that means.
	same := RoleRecord{Version: 14, SHA256: hash(99), Length: 7}
	if err := s.Advance("timestamp", same); err != nil {
		t.Fatalf("equal version: %v", err)
	}
	if s.Roles["timestamp"] != same {
		t.Errorf("record %+v, want %+v", s.Roles["timestamp"], same)
	}
	if err := s.Advance("timestamp", rec(15)); err != nil || s.Roles["timestamp"] != rec(15) {
		t.Errorf("newer version: err %v, record %+v", err, s.Roles["timestamp"])
	}

	// Delegated role names are kept verbatim, whatever they look like.
	for _, role := range []string{"../a", ".", "ö", "a/b"} {
		if err := s.Advance(role, rec(3)); err != nil {
			t.Fatalf("role %q: %v", role, err)
		}
		assertRollback(t, s.Advance(role, rec(2)), role, "", "v3", "v2")
	}

	// A State built by hand, with nil maps, works too.
	var z State
	if err := z.Advance("root", rec(1)); err != nil || z.Roles["root"] != rec(1) {
		t.Errorf("zero State: err %v, roles %v", err, z.Roles)
	}
}

func TestAdvanceInvalid(t *testing.T) {
	for _, tc := range []struct {
		name string
		role string
		rec  RoleRecord
	}{
		{"empty role", "", rec(1)},
		{"version 0", "targets", RoleRecord{Version: 0, SHA256: hash(1)}},
		{"negative version", "targets", RoleRecord{Version: -3, SHA256: hash(1)}},
		{"negative length", "targets", RoleRecord{Version: 2, SHA256: hash(1), Length: -1}},
		{"short hash", "targets", RoleRecord{Version: 2, SHA256: "abcd"}},
		{"uppercase hash", "targets", RoleRecord{Version: 2, SHA256: fmt.Sprintf("%064X", 0xabc)}},
		{"not hex", "targets", RoleRecord{Version: 2, SHA256: hash(1)[:63] + "g"}},
		{"empty hash", "targets", RoleRecord{Version: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewState()
			if err := s.Advance("targets", rec(1)); err != nil {
				t.Fatal(err)
			}
			before := s.Clone()
			if err := s.Advance(tc.role, tc.rec); !errors.Is(err, ErrInvalid) {
				t.Fatalf("got %v, want ErrInvalid", err)
			}
			assertUnchanged(t, s, before)
		})
	}
}

func TestCloneIndependent(t *testing.T) {
	s := NewState()
	must(t, s.Advance("root", rec(2)))
	must(t, s.CommitInstall("app", Install{Version: "v1.0.0", SHA256: hash(1), Time: t0}))
	must(t, s.MarkFailed("app", hash(2)))
	s.AdvanceTime(t0)
	s.AuditAnchor = "anchor"

	c := s.Clone()
	if !reflect.DeepEqual(c, s) {
		t.Fatalf("clone differs:\n%+v\n%+v", c, s)
	}
	before := s.Clone()
	must(t, c.Advance("root", rec(3)))
	must(t, c.Advance("targets", rec(1)))
	must(t, c.CommitInstall("app", Install{Version: "v2.0.0", SHA256: hash(3)}))
	c.Failed["app"][0] = hash(9)
	must(t, c.MarkFailed("app", hash(4)))
	c.AdvanceTime(t0.Add(time.Hour))
	c.AuditAnchor = "other"
	assertUnchanged(t, s, before)

	// And the other way round.
	c = s.Clone()
	s.Failed["app"][0] = hash(8)
	if c.Failed["app"][0] != hash(2) {
		t.Errorf("clone shares the failed list with the original")
	}

	// Cloning a hand-built State yields non-nil maps.
	z := (&State{}).Clone()
	if z.Roles == nil || z.Installed == nil || z.Failed == nil {
		t.Errorf("clone of a zero State has nil maps")
	}
}

func TestRemove(t *testing.T) {
	s := NewState()
	for _, role := range []string{"root", "timestamp", "snapshot", "targets", "bins-0", "bins-1"} {
		must(t, s.Advance(role, rec(2)))
	}
	for _, role := range []string{"root", "timestamp", "snapshot"} {
		before := s.Clone()
		if err := s.Remove("bins-0", role); !errors.Is(err, ErrInvalid) {
			t.Errorf("Remove(%q): got %v, want ErrInvalid", role, err)
		}
		assertUnchanged(t, s, before)
	}
	must(t, s.Remove("bins-0", "targets", "never-listed"))
	if got := len(s.Roles); got != 4 {
		t.Errorf("%d records left, want 4: %v", got, s.Roles)
	}
	if _, ok := s.Roles["bins-0"]; ok {
		t.Errorf("bins-0 still recorded")
	}
}

func TestFastForward(t *testing.T) {
	resets := []struct {
		name    string
		reset   func(s *State, v int64) error
		root    func(s *State) int64
		dropped []string // the records discarded
	}{
		{"ResetTimestamp", (*State).ResetTimestamp, func(s *State) int64 { return s.TimestampResetRoot }, []string{"timestamp"}},
		{"FastForward", (*State).FastForward, func(s *State) int64 { return s.FastForwardRoot }, []string{"timestamp", "snapshot", "targets", "bins-0"}},
	}
	for _, r := range resets {
		t.Run(r.name, func(t *testing.T) {
			s := NewState()
			if err := r.reset(s, 1); !errors.Is(err, ErrInvalid) {
				t.Errorf("without a root: got %v, want ErrInvalid", err)
			}
			for _, role := range []string{"root", "timestamp", "snapshot", "targets", "bins-0"} {
				must(t, s.Advance(role, rec(5)))
			}
			for _, v := range []int64{0, -1, 6} {
				before := s.Clone()
				if err := r.reset(s, v); !errors.Is(err, ErrInvalid) {
					t.Errorf("reset(%d) with root v5: got %v, want ErrInvalid", v, err)
				}
				assertUnchanged(t, s, before)
			}

			must(t, r.reset(s, 4))
			for _, role := range []string{"root", "timestamp", "snapshot", "targets", "bins-0"} {
				_, kept := s.Roles[role]
				if dropped := slices.Contains(r.dropped, role); kept == dropped {
					t.Errorf("%s record kept: %v, want %v", role, kept, !dropped)
				}
			}
			if s.Roles["root"] != rec(5) || r.root(s) != 4 {
				t.Errorf("after the reset: %+v", s)
			}
			// After the reset, the lower versions the repository now
			// serves are accepted.
			must(t, s.Advance("timestamp", rec(1)))

			before := s.Clone()
			if err := r.reset(s, 4); !errors.Is(err, ErrInvalid) {
				t.Errorf("repeated reset: got %v, want ErrInvalid", err)
			}
			assertRollback(t, r.reset(s, 3), "root", "", "fast-forward reset at v4", "fast-forward reset at v3")
			assertUnchanged(t, s, before)
			must(t, r.reset(s, 5))
		})
	}
}

func TestCommitInstall(t *testing.T) {
	type step struct {
		version string
		refused bool // with ErrRollback
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"numeric order, not text order", []step{{"v1.9.0", false}, {"v1.10.0", false}, {"v1.9.5", true}}},
		{"prerelease before release", []step{{"v1.2.0-rc.1", false}, {"v1.2.0-rc.2", false}, {"v1.2.0", false}, {"v1.2.0-rc.3", true}}},
		{"prerelease identifiers", []step{{"v2.0.0-alpha.10", false}, {"v2.0.0-alpha.9", true}, {"v2.0.0-beta", false}}},
		{"with and without v", []step{{"1.9.0", false}, {"v1.10.0", false}, {"1.9.9", true}}},
		{"equal accepted", []step{{"v3.0.0", false}, {"v3.0.0", false}, {"3.0.0", false}}},
		{"build metadata ignored", []step{{"v1.0.0+a", false}, {"v1.0.0+b", false}, {"v0.9.0+z", true}}},
		{"major", []step{{"v2.0.0", false}, {"v1.99.99", true}, {"v10.0.0", false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewState()
			for i, st := range tc.steps {
				before := s.Clone()
				in := Install{Version: st.version, SHA256: hash(i), Time: t0.Add(time.Duration(i) * time.Minute)}
				err := s.CommitInstall("app", in)
				if !st.refused {
					if err != nil {
						t.Fatalf("step %d (%s): %v", i, st.version, err)
					}
					if s.Installed["app"] != in {
						t.Fatalf("step %d: recorded %+v, want %+v", i, s.Installed["app"], in)
					}
					continue
				}
				assertRollback(t, err, "", "app", before.Installed["app"].Version, st.version)
				assertUnchanged(t, s, before)
			}
		})
	}

	s := NewState()
	must(t, s.CommitInstall("app", Install{Version: "v1.3.0", SHA256: hash(1)}))
	err := s.CommitInstall("app", Install{Version: "v1.2.0", SHA256: hash(2)})
	if want := "app release v1.2.0 is older than installed v1.3.0: possible rollback attack"; err == nil || err.Error() != want {
		t.Errorf("message %v, want %q", err, want)
	}
	// Floors are per application.
	must(t, s.CommitInstall("other", Install{Version: "v0.1.0", SHA256: hash(3)}))

	// The time is kept in UTC.
	local := time.Date(2025, 3, 1, 13, 0, 0, 0, time.FixedZone("CET", 3600))
	must(t, s.CommitInstall("app", Install{Version: "v1.4.0", SHA256: hash(4), Time: local}))
	if got := s.Installed["app"].Time; got.Location() != time.UTC || !got.Equal(local) {
		t.Errorf("time %v, want %v in UTC", got, local)
	}
}

func TestCommitInstallInvalid(t *testing.T) {
	for _, tc := range []struct {
		app string
		in  Install
	}{
		{"app", Install{Version: "v1.2", SHA256: hash(1)}},
		{"app", Install{Version: "v1", SHA256: hash(1)}},
		{"app", Install{Version: "1.2.3.4", SHA256: hash(1)}},
		{"app", Install{Version: "v01.2.3", SHA256: hash(1)}},
		{"app", Install{Version: "V1.2.3", SHA256: hash(1)}},
		{"app", Install{Version: "vv1.2.3", SHA256: hash(1)}},
		{"app", Install{Version: "latest", SHA256: hash(1)}},
		{"app", Install{Version: "", SHA256: hash(1)}},
		{"app", Install{Version: "v1.2.3-", SHA256: hash(1)}},
		{"app", Install{Version: "v1.2.3", SHA256: "xyz"}},
		{"", Install{Version: "v1.2.3", SHA256: hash(1)}},
	} {
		s := NewState()
		must(t, s.CommitInstall("app", Install{Version: "v1.0.0", SHA256: hash(0)}))
		before := s.Clone()
		if err := s.CommitInstall(tc.app, tc.in); !errors.Is(err, ErrInvalid) {
			t.Errorf("CommitInstall(%q, %+v): got %v, want ErrInvalid", tc.app, tc.in, err)
		}
		if err := s.ForceInstallUnsafe(tc.app, tc.in); !errors.Is(err, ErrInvalid) {
			t.Errorf("ForceInstallUnsafe(%q, %+v): got %v, want ErrInvalid", tc.app, tc.in, err)
		}
		assertUnchanged(t, s, before)
	}
}

func TestForceInstallUnsafe(t *testing.T) {
	s := NewState()
	must(t, s.CommitInstall("app", Install{Version: "v2.0.0", SHA256: hash(2)}))
	older := Install{Version: "v1.0.0", SHA256: hash(1), Time: t0}
	must(t, s.ForceInstallUnsafe("app", older))
	if s.Installed["app"] != older {
		t.Errorf("recorded %+v, want %+v", s.Installed["app"], older)
	}
	// The lowered floor is the floor from now on.
	assertRollback(t, s.CommitInstall("app", Install{Version: "v0.9.0", SHA256: hash(3)}), "", "app", "v1.0.0", "v0.9.0")
}

func TestMarkFailed(t *testing.T) {
	s := NewState()
	if s.IsFailed("app", hash(1)) {
		t.Fatal("empty state reports a failed release")
	}
	must(t, s.MarkFailed("app", hash(1)))
	must(t, s.MarkFailed("app", hash(2)))
	must(t, s.MarkFailed("app", hash(1)))
	if got := s.Failed["app"]; !reflect.DeepEqual(got, []string{hash(1), hash(2)}) {
		t.Errorf("failed list %v", got)
	}
	if !s.IsFailed("app", hash(1)) || !s.IsFailed("app", hash(2)) || s.IsFailed("app", hash(3)) || s.IsFailed("other", hash(1)) {
		t.Errorf("IsFailed wrong: %v", s.Failed)
	}
	before := s.Clone()
	for _, tc := range [][2]string{{"app", "nothex"}, {"app", ""}, {"", hash(5)}} {
		if err := s.MarkFailed(tc[0], tc[1]); !errors.Is(err, ErrInvalid) {
			t.Errorf("MarkFailed(%q, %q): got %v, want ErrInvalid", tc[0], tc[1], err)
		}
	}
	assertUnchanged(t, s, before)
}

func TestAdvanceTime(t *testing.T) {
	s := NewState()
	local := t0.In(time.FixedZone("X", -6*3600))
	s.AdvanceTime(local)
	if !s.LastTime.Equal(t0) || s.LastTime.Location() != time.UTC {
		t.Errorf("LastTime %v, want %v in UTC", s.LastTime, t0)
	}
	s.AdvanceTime(t0.Add(-time.Second))
	if !s.LastTime.Equal(t0) {
		t.Errorf("LastTime moved backwards to %v", s.LastTime)
	}
	s.AdvanceTime(t0.Add(time.Second))
	if !s.LastTime.Equal(t0.Add(time.Second)) {
		t.Errorf("LastTime %v did not advance", s.LastTime)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
