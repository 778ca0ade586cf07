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
		head, err := auditAnchor(cmd.metadataDir)
		if err != nil {
			return err
		}
		sum, err = audit.VerifyAnchored(dir, head)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "anchored at %s (trusted state of %s)\n", head, cmd.metadataDir)
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
	if sum.Unanchored > 0 {
		fmt.Fprintf(stdout, "note: %d record(s) beyond the anchor (a crash before the anchor was stored)\n", sum.Unanchored)
	}
	return nil
}

// auditAnchor reads the audit anchor from the trusted state of a metadata
// directory, without its lock: a refresh may run beside it. The anchor is
// read before the log, so records appended meanwhile are reported as beyond
// it.
func auditAnchor(metadataDir string) (audit.Head, error) {
	s, err := rollback.ReadFileState(filepath.Join(metadataDir, stateSubdir))
	if err != nil {
		return audit.Head{}, err
	}
	if s.AuditAnchor == "" {
		return audit.Head{}, fmt.Errorf("%s has no audit anchor: no record was written", metadataDir)
	}
	return audit.ParseHead(s.AuditAnchor)
}
