package rollback

import (
	"errors"
	"testing"
	"time"
)

func TestResetTimeUnsafe(t *testing.T) {
	fst, err := OpenFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer fst.Close()
	for name, store := range map[string]Store{"mem": NewMemStore(), "file": fst} {
		t.Run(name, func(t *testing.T) {
			future := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
			now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
			s := NewState()
			s.AdvanceTime(future)
			if err := store.Save(s); err != nil {
				t.Fatal(err)
			}
			back := s.Clone()
			back.AdvanceTime(now) // ignored: never backwards
			if !back.LastTime.Equal(future) {
				t.Fatalf("AdvanceTime moved LastTime back to %v", back.LastTime)
			}
			back.LastTime = now // a plain edit is refused by Save
			var rerr *RollbackError
			if err := store.Save(back); !errors.As(err, &rerr) || !errors.Is(err, ErrRollback) {
				t.Fatalf("Save with an earlier LastTime: %v, want a RollbackError", err)
			}
			reset := s.Clone()
			reset.ResetTimeUnsafe(now)
			if err := store.Save(reset); err != nil {
				t.Fatalf("Save after ResetTimeUnsafe: %v", err)
			}
			got, err := store.Load()
			if err != nil {
				t.Fatal(err)
			}
			if !got.LastTime.Equal(now) {
				t.Errorf("stored LastTime = %v, want %v", got.LastTime, now)
			}
			// The permission is not stored: going back again is refused.
			got.LastTime = now.Add(-time.Hour)
			if err := store.Save(got); !errors.Is(err, ErrRollback) {
				t.Errorf("second move back without reset: %v, want ErrRollback", err)
			}
		})
	}
}
