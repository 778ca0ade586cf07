package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/latchsec/latch/client"
)

// logFlags are the flags of the release transparency policy.
var logFlags = []string{"log-url", "log-key", "log-origin", "log-repository", "witness-key", "witness-threshold", "log-path"}

// logPolicy is the policy the flags describe, nil without --log-url.
func (cmd *command) logPolicy() *client.TransparencyLog {
	if len(cmd.logURLs) == 0 {
		return nil
	}
	origin := cmd.logOrigin
	if origin == "" {
		// A log's key is named after its origin (publish log-init and
		// Tessera do so).
		origin, _, _ = strings.Cut(cmd.logKey, "+")
	}
	return &client.TransparencyLog{
		URLs:             cmd.logURLs,
		Origin:           origin,
		Key:              cmd.logKey,
		WitnessKeys:      cmd.witnessKeys,
		WitnessThreshold: cmd.witnessThreshold,
		Repository:       cmd.logRepository,
		Paths:            cmd.logPaths,
	}
}

// Monitor exit statuses, beside 0 (every entry is a release the repository
// signed) and 1 (the monitor could not do its job).
const (
	exitUnknownEntries = 3 // the log holds entries the repository did not sign
	exitLogConflict    = 4 // the log contradicts the checkpoint the monitor saw before
)

var errUnknownEntries = errors.New("the log holds entries the repository did not sign")

// monitorEvent is one machine-readable line on standard output.
type monitorEvent struct {
	Event      string `json:"event"` // "unknown-entry", "split-view", "rollback"
	Index      *int64 `json:"index,omitempty"`
	Reason     string `json:"reason,omitempty"`
	Repository string `json:"repository,omitempty"`
	Target     string `json:"target,omitempty"`
	Length     *int64 `json:"length,omitempty"`
	SHA256     string `json:"sha256,omitempty"`
	Entry      string `json:"entry_base64,omitempty"` // an entry that is not a release
	Trusted    string `json:"trusted_checkpoint,omitempty"`
	Checkpoint string `json:"checkpoint,omitempty"`
}

// monitor follows the log from where the last run stopped
// (client.Client.MonitorLog, which keeps that position in the metadata
// directory): each entry that is not a release the repository signs is one
// line on stdout, and the error then matches errUnknownEntries; a log that
// contradicts what the last run saw prints both checkpoints.
func monitor(ctx context.Context, cmd *command, log *slog.Logger, clock func() time.Time, stdout io.Writer) (err error) {
	c, err := newClient(ctx, cmd, log, clock)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, c.Close()) }()
	if err := c.Refresh(ctx); err != nil {
		return err
	}
	out := json.NewEncoder(stdout)
	res, err := c.MonitorLog(ctx, func(u client.UnknownLogEntry) error {
		ev := monitorEvent{Event: "unknown-entry", Index: &u.Index, Reason: u.Reason}
		if e := u.Entry; e != nil {
			ev.Repository, ev.Target, ev.Length, ev.SHA256 = e.Repository, e.Path, &e.Length, hex.EncodeToString(e.SHA256[:])
		} else {
			ev.Entry = base64.StdEncoding.EncodeToString(u.Raw)
		}
		return out.Encode(ev)
	})
	var ce *client.LogConflictError
	if errors.As(err, &ce) {
		ev := monitorEvent{Event: "split-view", Trusted: string(ce.Trusted.Note), Checkpoint: string(ce.Got.Note)}
		if errors.Is(err, client.ErrLogRollback) {
			ev.Event = "rollback"
		}
		return errors.Join(err, out.Encode(ev))
	}
	if err != nil {
		return err
	}
	log.Info("log checked", "from", res.From, "to", res.To, "unknown", res.Unknown, "origin", cmd.logPolicy().Origin)
	if res.Unknown > 0 {
		return fmt.Errorf("%w: %d of entries %d to %d", errUnknownEntries, res.Unknown, res.From, res.To-1)
	}
	return nil
}
