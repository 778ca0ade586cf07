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
		mark, err := auditAnchor(cmd.metadataDir)
		if err != nil {
			return err
		}
		sum, err = audit.VerifyAnchored(dir, mark)
		if err != nil {
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

// auditAnchor reads the audit anchor from the trusted state of a metadata
// directory.
func auditAnchor(metadataDir string) (audit.Mark, error) {
	store, err := rollback.OpenFileStore(filepath.Join(metadataDir, stateSubdir))
	if err != nil {
		return audit.Mark{}, err
	}
	defer store.Close()
	s, err := store.Load()
	if err != nil {
		return audit.Mark{}, err
	}
	if s.AuditAnchor == "" {
		return audit.Mark{}, fmt.Errorf("%s has no audit anchor: no record was written", metadataDir)
	}
	return audit.ParseMark(s.AuditAnchor)
}
