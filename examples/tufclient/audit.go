package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/latchsec/latch/client"
)

// verifyAudit checks an audit log and prints what it found; a broken chain
// is an error naming the first broken link. With --metadata-dir it checks
// that directory's log against the trusted state kept beside it; otherwise
// the file or directory cmd.auditPath by its chain alone.
func verifyAudit(ctx context.Context, cmd *command, stdout io.Writer) error {
	var sum client.AuditSummary
	var err error
	if cmd.metadataDir != "" {
		if sum, err = client.VerifyAudit(ctx, cmd.metadataDir); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "anchored: the log ends where the trusted state of %s says\n", cmd.metadataDir)
	} else if sum, err = client.VerifyAuditFiles(cmd.auditPath); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ok: %d records in %d file(s), seq %d to %s\n", sum.Records, len(sum.Files), sum.FirstSeq, sum.Last)
	if sum.Missing != "" {
		fmt.Fprintf(stdout, "note: the log lacks its last record, which the trusted state holds (a crash before it was written, or it was removed); the next start writes it back:\n%s\n", sum.Missing)
	}
	return nil
}

// resetClock lowers the trusted time of the metadata directory (with
// --map, of every repository's) to the clock (FAKETIME included), after a
// clock that was wrong in the future.
func resetClock(ctx context.Context, cmd *command, log *slog.Logger, clock func() time.Time) (err error) {
	var c interface {
		ResetTrustedTimeUnsafe() error
		Close() error
	}
	if cmd.mapFile != "" {
		c, err = newMultiClient(ctx, cmd, log, clock)
	} else {
		c, err = newClient(ctx, cmd, log, clock)
	}
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, c.Close()) }()
	if err := c.ResetTrustedTimeUnsafe(); err != nil {
		return err
	}
	log.Info("trusted time reset to the clock (if it was later)", "clock", clock().Format(time.RFC3339))
	return nil
}
