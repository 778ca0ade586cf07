package rollback

import (
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"
)

// stores runs f against each Store implementation, fresh for each call of
// open.
func stores(t *testing.T, f func(t *testing.T, open func() Store)) {
	t.Run("MemStore", func(t *testing.T) {
		f(t, func() Store { return NewMemStore() })
	})
	t.Run("FileStore", func(t *testing.T) {
		f(t, func() Store {
			fs, err := OpenFileStore(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { fs.Close() })
			return fs
		})
	})
}

func load(t *testing.T, st Store) *State {
	t.Helper()
	s, err := st.Load()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// baseState is a full state with every kind of record.
func baseState(t *testing.T) *State {
	t.Helper()
	s := NewState()
	for role, v := range map[string]int64{"root": 5, "timestamp": 40, "snapshot": 30, "targets": 20, "bins/0": 3, "bins/1": 4} {
		must(t, s.Advance(role, rec(v)))
	}
	must(t, s.FastForward(2))
	must(t, s.ResetTimestamp(3))
	for role, v := range map[string]int64{"timestamp": 40, "snapshot": 30, "targets": 20, "bins/0": 3, "bins/1": 4} {
		must(t, s.Advance(role, rec(v)))
	}
	must(t, s.CommitInstall("app", Install{Version: "v1.10.0", SHA256: hash(7), Time: t0}))
	must(t, s.MarkFailed("app", hash(8)))
	s.AdvanceTime(t0)
	s.AuditAnchor = hash(9)
	return s
}

func TestStoreRoundTrip(t *testing.T) {
	stores(t, func(t *testing.T, open func() Store) {
		st := open()
		if s := load(t, st); !reflect.DeepEqual(s, NewState()) {
			t.Errorf("empty store loads %+v, want NewState()", s)
		}
		s := baseState(t)
		must(t, st.Save(s))
		got := load(t, st)
		if !reflect.DeepEqual(got, s) {
			t.Fatalf("loaded\n%+v\nsaved\n%+v", got, s)
		}

		// Load hands out copies, and Save keeps one.
		got.Roles["root"] = rec(99)
		got.Failed["app"][0] = hash(1)
		s.Roles["targets"] = rec(98)
		s.Installed["app"] = Install{}
		if again := load(t, st); !reflect.DeepEqual(again, baseState(t)) {
			t.Errorf("stored state changed through a copy: %+v", again)
		}
	})
}

func TestStoreRefusesRegression(t *testing.T) {
	// A timestamp reset discards the timestamp only: the snapshot, targets
	// and delegated floors stay.
	afterTimestampReset := func(change func(s *State)) func(*testing.T, *State) {
		return func(t *testing.T, s *State) {
			must(t, s.ResetTimestamp(5))
			change(s)
		}
	}
	for _, tc := range []struct {
		name                    string
		change                  func(t *testing.T, s *State)
		role, app, trusted, got string
	}{
		{"lower timestamp", func(t *testing.T, s *State) { s.Roles["timestamp"] = rec(39) }, "timestamp", "", "v40", "v39"},
		{"lower delegated", func(t *testing.T, s *State) { s.Roles["bins/1"] = rec(1) }, "bins/1", "", "v4", "v1"},
		{"lower root", func(t *testing.T, s *State) { s.Roles["root"] = rec(4) }, "root", "", "v5", "v4"},
		{"targets lowered without reset", func(t *testing.T, s *State) {
			must(t, s.Remove("targets"))
			must(t, s.Advance("targets", rec(19)))
		}, "targets", "", "v20", "v19"},
		{"root lowered with reset", func(t *testing.T, s *State) {
			must(t, s.FastForward(5))
			s.Roles["root"] = rec(4)
			s.FastForwardRoot = 4
		}, "root", "", "v5", "v4"},
		{"timestamp dropped without reset", func(t *testing.T, s *State) { delete(s.Roles, "timestamp") }, "timestamp", "", "v40", ""},
		{"snapshot dropped without reset", func(t *testing.T, s *State) { delete(s.Roles, "snapshot") }, "snapshot", "", "v30", ""},
		{"fast-forward root lowered", func(t *testing.T, s *State) { s.FastForwardRoot = 1 }, "root", "", "fast-forward reset at v2", "fast-forward reset at v1"},
		{"timestamp reset root lowered", func(t *testing.T, s *State) { s.TimestampResetRoot = 2 }, "root", "", "fast-forward reset at v3", "fast-forward reset at v2"},
		{"snapshot lowered with a timestamp reset", afterTimestampReset(func(s *State) { s.Roles["snapshot"] = rec(29) }), "snapshot", "", "v30", "v29"},
		{"snapshot dropped with a timestamp reset", afterTimestampReset(func(s *State) { delete(s.Roles, "snapshot") }), "snapshot", "", "v30", ""},
		{"targets lowered with a timestamp reset", afterTimestampReset(func(s *State) { s.Roles["targets"] = rec(19) }), "targets", "", "v20", "v19"},
		{"delegated lowered with a timestamp reset", afterTimestampReset(func(s *State) { s.Roles["bins/0"] = rec(1) }), "bins/0", "", "v3", "v1"},
		{"install lowered", func(t *testing.T, s *State) { s.Installed["app"] = Install{Version: "v1.9.0", SHA256: hash(1)} }, "", "app", "v1.10.0", "v1.9.0"},
		{"install dropped", func(t *testing.T, s *State) { delete(s.Installed, "app") }, "", "app", "v1.10.0", ""},
		{"time moved back", func(t *testing.T, s *State) { s.LastTime = t0.Add(-time.Nanosecond) }, "", "",
			"2025-03-01T12:00:00Z", "2025-03-01T11:59:59.999999999Z"},
		{"a fresh state", func(t *testing.T, s *State) { *s = *NewState() }, "root", "", "v5", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stores(t, func(t *testing.T, open func() Store) {
				st := open()
				must(t, st.Save(baseState(t)))
				s := load(t, st)
				tc.change(t, s)
				assertRollback(t, st.Save(s), tc.role, tc.app, tc.trusted, tc.got)
				if got := load(t, st); !reflect.DeepEqual(got, baseState(t)) {
					t.Errorf("stored state changed by a refused Save: %+v", got)
				}
			})
		})
	}
}

func TestStoreAcceptsSanctionedChanges(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, s *State)
	}{
		{"nothing", func(t *testing.T, s *State) {}},
		{"equal versions, other bytes", func(t *testing.T, s *State) {
			must(t, s.Advance("timestamp", RoleRecord{Version: 40, SHA256: hash(1), Length: 1}))
		}},
		{"delegated and targets dropped", func(t *testing.T, s *State) { must(t, s.Remove("bins/0", "targets")) }},
		{"fast-forward reset", func(t *testing.T, s *State) {
			must(t, s.Advance("root", rec(6)))
			must(t, s.FastForward(6))
			must(t, s.Advance("timestamp", rec(1)))
			must(t, s.Advance("snapshot", rec(2)))
			must(t, s.Advance("targets", rec(3)))
		}},
		{"timestamp reset", func(t *testing.T, s *State) {
			must(t, s.Advance("root", rec(6)))
			must(t, s.ResetTimestamp(6))
			must(t, s.Advance("timestamp", rec(1)))
		}},
		{"forced install", func(t *testing.T, s *State) {
			must(t, s.ForceInstallUnsafe("app", Install{Version: "v1.0.0", SHA256: hash(1)}))
		}},
		{"failed list and anchor replaced", func(t *testing.T, s *State) {
			s.Failed = map[string][]string{"other": {hash(3)}}
			s.AuditAnchor = "new"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stores(t, func(t *testing.T, open func() Store) {
				st := open()
				must(t, st.Save(baseState(t)))
				s := load(t, st)
				tc.change(t, s)
				must(t, st.Save(s))
				got := load(t, st)
				s.forced = nil
				if !reflect.DeepEqual(got, s) {
					t.Errorf("loaded\n%+v\nsaved\n%+v", got, s)
				}
			})
		})
	}
}

// The permission of ForceInstallUnsafe is not stored: a state loaded
// afterwards can't lower the floor by writing the field.
func TestStoreForcedIsOneTime(t *testing.T) {
	stores(t, func(t *testing.T, open func() Store) {
		st := open()
		must(t, st.Save(baseState(t)))
		s := load(t, st)
		must(t, s.ForceInstallUnsafe("app", Install{Version: "v1.5.0", SHA256: hash(1)}))
		must(t, st.Save(s))
		s = load(t, st)
		s.Installed["app"] = Install{Version: "v1.4.0", SHA256: hash(2)}
		assertRollback(t, st.Save(s), "", "app", "v1.5.0", "v1.4.0")
	})
}

// A State loaded before another Save can't undo that Save.
func TestStoreRefusesStaleState(t *testing.T) {
	stores(t, func(t *testing.T, open func() Store) {
		st := open()
		must(t, st.Save(baseState(t)))
		a, b := load(t, st), load(t, st)
		must(t, a.Advance("timestamp", rec(41)))
		must(t, st.Save(a))
		must(t, b.Advance("snapshot", rec(31)))
		assertRollback(t, st.Save(b), "timestamp", "", "v41", "v40")
	})
}

func TestStoreRefusesInvalid(t *testing.T) {
	stores(t, func(t *testing.T, open func() Store) {
		st := open()
		must(t, st.Save(baseState(t)))
		for name, change := range map[string]func(s *State){
			"version 0":                      func(s *State) { s.Roles["new"] = RoleRecord{SHA256: hash(1)} },
			"bad hash":                       func(s *State) { s.Roles["targets"] = RoleRecord{Version: 30, SHA256: "x"} },
			"bad install":                    func(s *State) { s.Installed["app"] = Install{Version: "v2", SHA256: hash(1)} },
			"bad failed hash":                func(s *State) { s.Failed["app"] = []string{"x"} },
			"fast-forward after the root":    func(s *State) { s.FastForwardRoot = 6 },
			"timestamp reset after the root": func(s *State) { s.TimestampResetRoot = 6 },
			"empty role name":                func(s *State) { s.Roles[""] = rec(1) },
		} {
			s := load(t, st)
			change(s)
			if err := st.Save(s); !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: got %v, want ErrInvalid", name, err)
			}
			if got := load(t, st); !reflect.DeepEqual(got, baseState(t)) {
				t.Errorf("%s: stored state changed: %+v", name, got)
			}
		}
	})
}

// Concurrent Saves: each succeeds or is refused as a rollback, and the
// stored version is the highest one saved.
func TestStoreConcurrent(t *testing.T) {
	stores(t, func(t *testing.T, open func() Store) {
		st := open()
		const workers, rounds = 4, 8
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			highest int64
		)
		errs := make(chan error, workers*rounds)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := range rounds {
					v := int64(r*workers + w + 1)
					s := NewState()
					if err := s.Advance("root", rec(v)); err != nil {
						errs <- err
						return
					}
					err := st.Save(s)
					switch {
					case err == nil:
						mu.Lock()
						highest = max(highest, v)
						mu.Unlock()
					case !errors.Is(err, ErrRollback):
						errs <- err
					}
					if _, err := st.Load(); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if got := load(t, st).Roles["root"].Version; got != highest || got == 0 {
			t.Errorf("stored root v%d, highest saved v%d", got, highest)
		}
	})
}
