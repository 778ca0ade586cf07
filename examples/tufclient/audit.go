package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/latchsec/latch/internal/audit"
	"github.com/latchsec/latch/rollback"
)

// verifyAudit checks the audit log at cmd.auditPath (a file, or a directory
// of rotated files) and prints what it found; a broken chain is an error
// naming the first broken link.
func verifyAudit(cmd *command, stdout io.Writer) error {
	st, err := os.Stat(cmd.auditPath)
	if err != nil {
		return err
	}
	var sum audit.Summary
	switch {
	case cmd.metadataDir != "":
		dir := cmd.auditPath
		if !st.IsDir() {
			dir = filepath.Dir(dir)
		}
		var mark audit.Mark
		if mark, sum, err = verifyAnchored(cmd.metadataDir, dir); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "anchored at %s (trusted state of %s)\n", mark.Head, cmd.metadataDir)
	case st.IsDir():
		if sum, err = audit.Verify(cmd.auditPath); err != nil {
			return err
		}
	default:
		if sum, err = audit.VerifyFile(cmd.auditPath); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "ok: %d records in %d file(s), chain from %s to %s\n", sum.Records, len(sum.Files), sum.Start, sum.Last)
	if sum.Missing != "" {
		fmt.Fprintf(stdout, "note: the log lacks its last record, which the trusted state holds (a crash before it was written, or it was removed); the next start writes it back:\n%s\n", sum.Missing)
	}
	return nil
}

// verifyAnchored checks the log in dir against the anchor in the trusted
// state of metadataDir. A client may be appending meanwhile (the anchor is
// read without the lock), so the anchor is read before and after the log:
// a result counts only if the anchor did not move in between.
func verifyAnchored(metadataDir, dir string) (audit.Mark, audit.Summary, error) {
	const attempts = 3
	for range attempts {
		before, err := auditAnchor(metadataDir)
		if err != nil {
			return audit.Mark{}, audit.Summary{}, err
		}
		sum, verr := audit.VerifyAnchored(dir, before)
		after, err := auditAnchor(metadataDir)
		if err != nil {
			return audit.Mark{}, audit.Summary{}, err
		}
		if after == before {
			return before, sum, verr
		}
	}
	return audit.Mark{}, audit.Summary{}, fmt.Errorf("the audit log of %s changed during each of %d attempts to verify it: a client is writing it; try again", metadataDir, attempts)
}

// auditAnchor reads the audit anchor from the trusted state of a metadata
// directory, without its lock: a refresh may run beside it.
func auditAnchor(metadataDir string) (audit.Mark, error) {
	s, err := rollback.ReadFileState(filepath.Join(metadataDir, stateSubdir))
	if err != nil {
		return audit.Mark{}, err
	}
	if s.AuditAnchor == "" {
		return audit.Mark{}, fmt.Errorf("%s has no audit anchor: no record was written", metadataDir)
	}
	return audit.ParseMark(s.AuditAnchor)
}
