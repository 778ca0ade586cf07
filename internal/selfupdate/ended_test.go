package selfupdate_test

import (
	"errors"
	"os"
	"strconv"
	"testing"

	"github.com/latchsec/latch/internal/selfupdate"
)

// TestEndedUntilRecorded: each operation, once it ended, stays in the
// journal (with its number, the caller's mark, the executable and what
// happened) until the caller says it recorded it, across a move of the
// executable too; a new operation gets the next number.
func TestEndedUntilRecorded(t *testing.T) {
	f := newFixture(t, t.TempDir(), selfupdate.RenameOver)
	f.setUp()
	u := f.updater(selfupdate.OS{})
	marks := 0
	h := f.hooks()
	h.Mark = func() string { marks++; return "m" + strconv.Itoa(marks) }
	ended := func(u *selfupdate.Updater) *selfupdate.Ended {
		t.Helper()
		e, err := u.Ended()
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	// setUp installed 1.0.0 without a mark.
	if e := ended(u); e == nil || e.Op.Seq != 1 || e.Op.Mark != "" || e.Op.Build.Version != "1.0.0" {
		t.Fatalf("Ended after the first install: %+v", e)
	}

	f.stage(u, "2.0.0")
	if _, err := u.Install(request("2.0.0", build("1.0.0"), 1, nil), h); err != nil {
		t.Fatal(err)
	}
	e := ended(u)
	if e == nil || e.Outcome != selfupdate.Committed || e.Op.Seq != 2 || e.Op.Mark != "m1" || e.Exe != u.Exe || e.Op.Build.Version != "2.0.0" || e.Op.Build.Exe == "" {
		t.Fatalf("after Install, Ended = %+v", e)
	}
	// The executable moves before the install is recorded: the journal
	// of the new path still has it.
	moved := f.updater(selfupdate.OS{})
	moved.Exe += "-moved"
	b, err := os.ReadFile(u.Exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(moved.Exe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := moved.Recover(h); err != nil {
		t.Fatal(err)
	}
	if got := ended(moved); got == nil || got.Op.Seq != 2 || got.Exe != u.Exe {
		t.Fatalf("after a move, Ended = %+v, want the install at the old path", got)
	}
	if err := moved.Recorded(e); err != nil {
		t.Fatal(err)
	}
	if got := ended(moved); got != nil {
		t.Fatalf("after Recorded, Ended = %+v", got)
	}

	f.stage(moved, "3.0.0")
	_, err = moved.Install(request("3.0.0", selfupdate.Build{}, 1, func(string) error { return errors.New("unhealthy") }), h)
	if err == nil {
		t.Fatal("an unhealthy build installed")
	}
	e = ended(moved)
	if e == nil || e.Outcome != selfupdate.RolledBack || !e.Op.Failed || e.Op.Seq != 3 || e.Op.Mark != "m2" {
		t.Fatalf("after a failed check, Ended = %+v", e)
	}
	// Recorded forgets only the operation it is given.
	if err := moved.Recorded(&selfupdate.Ended{Op: selfupdate.Op{Seq: 2}}); err != nil {
		t.Fatal(err)
	}
	if got := ended(moved); got == nil || got.Op.Seq != 3 {
		t.Fatalf("Recorded of another operation forgot %+v", got)
	}
}
