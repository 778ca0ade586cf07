package selfupdate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/latchsec/latch/install"
)

// journal is the file that describes the build in place, the kept builds
// and the operation in progress.
type journal struct {
	Format int    `json:"format"`
	Exe    string `json:"exe"`
	Seq    int64  `json:"seq"` // numbers backup and aside names
	// Current is the build latch last left at Exe, nil if none.
	Current *Build `json:"current,omitempty"`
	Backups []kept `json:"backups"` // newest first
	Trash   []name `json:"trash"`   // names to remove when possible
	// Unfinished counts the health checks that did not finish, per build
	// (release SHA-256), oldest first.
	Unfinished []unfinished `json:"unfinished,omitempty"`
	Op         *Op          `json:"op"`
	// Ended is the operation that ended last, until its caller has
	// recorded it (Updater.Recorded).
	Ended *Ended `json:"ended,omitempty"`
}

type kept struct {
	Name  name  `json:"name"`
	Build Build `json:"build"`
}

type unfinished struct {
	SHA256 string `json:"sha256"`
	Checks int    `json:"checks"`
}

const (
	journalFormat = 1
	// stagedName is the name of the staged new binary in the work
	// directory.
	stagedName name = "new"
	// unfinishedLimit is how many checks of one build may not finish
	// before it counts as failed.
	unfinishedLimit = 2
	// maxUnfinished bounds the builds the journal counts unfinished
	// checks for; the oldest are forgotten.
	maxUnfinished = 16
)

// movedTo is a journal for the executable at exe, which j is not about
// (the application moved): the kept builds stay where they are,
// forgotten; the numbering, the unfinished checks and the operation that
// ended last, not recorded yet, carry over.
func (j *journal) movedTo(exe string) *journal {
	return &journal{Format: journalFormat, Exe: exe, Seq: j.Seq, Unfinished: j.Unfinished, Ended: j.Ended}
}

// countUnfinished counts one more health check of the build with the
// release hash sum that did not finish, and returns the count.
func (j *journal) countUnfinished(sum string) int {
	i := slices.IndexFunc(j.Unfinished, func(c unfinished) bool { return c.SHA256 == sum })
	if i < 0 {
		j.Unfinished = append(j.Unfinished, unfinished{SHA256: sum})
		i = len(j.Unfinished) - 1
	}
	j.Unfinished[i].Checks++
	n := j.Unfinished[i].Checks
	if len(j.Unfinished) > maxUnfinished {
		j.Unfinished = slices.Delete(j.Unfinished, 0, len(j.Unfinished)-maxUnfinished)
	}
	return n
}

// forgetUnfinished drops the count of the build with the release hash sum:
// it was committed or marked failed.
func (j *journal) forgetUnfinished(sum string) {
	j.Unfinished = slices.DeleteFunc(j.Unfinished, func(c unfinished) bool { return c.SHA256 == sum })
}

// load reads the journal; a missing one is an empty journal for u.Exe.
func (u *Updater) load() (*journal, error) {
	b, err := u.FS.ReadFile(u.Journal)
	if errors.Is(err, fs.ErrNotExist) {
		return &journal{Format: journalFormat, Exe: u.Exe}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("selfupdate: reading the journal: %w", err)
	}
	var j journal
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", install.ErrJournal, u.Journal, err)
	}
	if err := j.check(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", install.ErrJournal, u.Journal, err)
	}
	return &j, nil
}

// check refuses a journal that could make the Updater touch files outside
// its work directory.
func (j *journal) check() error {
	if j.Format != journalFormat {
		return fmt.Errorf("format %d, want %d", j.Format, journalFormat)
	}
	if !filepath.IsAbs(j.Exe) {
		return fmt.Errorf("executable path %q is not absolute", j.Exe)
	}
	names := slices.Clone(j.Trash)
	for _, k := range j.Backups {
		names = append(names, k.Name)
	}
	if op := j.Op; op != nil {
		names = append(names, op.New)
		if op.Kind == KindInstall {
			names = append(names, op.Backup)
		}
		if op.Aside != "" {
			names = append(names, op.Aside)
		}
		if op.Keep < 0 {
			return fmt.Errorf("keep %d is negative", op.Keep)
		}
	}
	for _, n := range names {
		if n == "" || n == "." || n == ".." || strings.ContainsAny(string(n), `/\:`) {
			return fmt.Errorf("file name %q is not a plain name", n)
		}
	}
	return nil
}

// save replaces the journal atomically and durably (temporary file, fsync,
// rename, fsync of its directory: package atomicfile): every later step
// relies on it being on disk first.
func (u *Updater) save(j *journal) error {
	b, err := json.MarshalIndent(j, "", "\t")
	if err != nil {
		return err
	}
	phase := Phase("")
	if j.Op != nil {
		phase = j.Op.Phase
	}
	u.step("journal", "phase", phase)
	if err := u.FS.WriteFile(u.Journal, b, 0o600); err != nil {
		return fmt.Errorf("selfupdate: writing the journal: %w", err)
	}
	return nil
}
