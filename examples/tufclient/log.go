package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/internal/atomicfile"
	"github.com/latchsec/latch/internal/fetch"
	"github.com/latchsec/latch/internal/translog"
	"github.com/latchsec/latch/transparency"
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

// monitorState is where a monitor stopped: the next index to check and the
// checkpoint that covered everything before it.
type monitorState struct {
	Next       int64  `json:"next"`
	Checkpoint string `json:"checkpoint"`
}

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

// monitor follows the log from where the last run stopped: it verifies the
// log's checkpoint, proves it consistent with the one the last run saw,
// reads every new entry (each proven to be in the tree) and checks it
// against what the repository signs now. An entry it does not recognise is
// one line on stdout; the error then matches errUnknownEntries.
func monitor(ctx context.Context, cmd *command, log *slog.Logger, clock func() time.Time, stdout io.Writer) (err error) {
	p := cmd.logPolicy()
	v, err := translog.NewVerifier(translog.Policy{Origin: p.Origin, LogKey: p.Key, WitnessKeys: p.WitnessKeys, WitnessThreshold: p.WitnessThreshold})
	if err != nil {
		return err
	}
	repository := p.Repository
	if repository == "" {
		repository = p.Origin
	}
	c, err := newClient(ctx, cmd, log, clock)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, c.Close()) }()
	if err := c.Refresh(ctx); err != nil {
		return err
	}

	statePath := monitorPath(cmd.metadataDir, p.Origin)
	var st monitorState
	if b, err := os.ReadFile(statePath); err == nil {
		if err := json.Unmarshal(b, &st); err != nil {
			return fmt.Errorf("%s: %w", statePath, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	var prev *transparency.Checkpoint
	if st.Checkpoint != "" {
		if prev, err = v.Open([]byte(st.Checkpoint)); err != nil {
			return fmt.Errorf("%s: the checkpoint it keeps: %w", statePath, err)
		}
	}

	h := fetch.New(fetch.Options{})
	var errs []error
	for _, u := range cmd.logURLs {
		if !strings.HasSuffix(u, "/") {
			u += "/"
		}
		l, err := translog.NewLog(v, httpLog{h, u}, translog.Options{MaxBundleSize: translog.MaxBundleSize})
		if err != nil {
			return err
		}
		cp, err := l.Checkpoint(ctx)
		if err == nil {
			err = l.Consistent(ctx, prev, cp)
		}
		var ce *transparency.ConflictError
		if errors.As(err, &ce) {
			ev := monitorEvent{Event: "split-view", Trusted: string(ce.Trusted.Note), Checkpoint: string(ce.Got.Note)}
			if errors.Is(err, transparency.ErrRollback) {
				ev.Event = "rollback"
			}
			if werr := json.NewEncoder(stdout).Encode(ev); werr != nil {
				return errors.Join(err, werr)
			}
			return err
		}
		if err != nil {
			log.Warn("log mirror failed", "url", u, "err", err)
			errs = append(errs, err)
			continue
		}
		unknown := 0
		err = l.Entries(ctx, cp, st.Next, func(i int64, e []byte) error {
			ev, err := checkEntry(ctx, c, repository, i, e)
			if err != nil || ev == nil {
				return err
			}
			unknown++
			log.Error("UNKNOWN LOG ENTRY: the log holds a release the repository did not sign", "index", i, "reason", ev.Reason, "target", ev.Target)
			return json.NewEncoder(stdout).Encode(ev)
		})
		if err != nil {
			return err
		}
		log.Info("log checked", "from", st.Next, "to", cp.Size, "unknown", unknown, "origin", p.Origin)
		b, err := json.Marshal(monitorState{Next: cp.Size, Checkpoint: string(cp.Note)})
		if err == nil {
			if err = os.MkdirAll(filepath.Dir(statePath), 0o755); err == nil {
				err = atomicfile.WriteFile(statePath, b, 0o644)
			}
		}
		if err != nil {
			return err
		}
		if unknown > 0 {
			return fmt.Errorf("%w: %d of entries %d to %d", errUnknownEntries, unknown, st.Next, cp.Size-1)
		}
		return nil
	}
	return errors.Join(errs...)
}

// checkEntry returns the event for entry i if the repository does not sign
// the release it names, nil if it does.
func checkEntry(ctx context.Context, c *client.Client, repository string, i int64, data []byte) (*monitorEvent, error) {
	e, err := transparency.ParseEntry(data)
	if err != nil {
		return &monitorEvent{Event: "unknown-entry", Index: &i, Reason: "not a release entry: " + err.Error(),
			Entry: base64.StdEncoding.EncodeToString(data)}, nil
	}
	ev := &monitorEvent{Event: "unknown-entry", Index: &i, Repository: e.Repository, Target: e.Path, Length: &e.Length, SHA256: hex.EncodeToString(e.SHA256[:])}
	if e.Repository != repository {
		ev.Reason = fmt.Sprintf("an entry for repository %q, not %q", e.Repository, repository)
		return ev, nil
	}
	t, err := c.Target(ctx, e.Path)
	if errors.Is(err, client.ErrUnknownTarget) {
		ev.Reason = "the repository lists no such target"
		return ev, nil
	}
	if err != nil {
		return nil, err
	}
	if sum := t.Hashes()["sha256"]; t.Length() != e.Length || !bytes.Equal(sum, e.SHA256[:]) {
		ev.Reason = fmt.Sprintf("the repository signs other bytes for this target (%d bytes, sha256 %x)", t.Length(), sum)
		return ev, nil
	}
	return nil, nil
}

// monitorPath is where the monitor of the log origin keeps its position:
// <metadata dir>/monitor/<first 16 hex digits of SHA-256(origin)>.json.
func monitorPath(metadataDir, origin string) string {
	sum := sha256.Sum256([]byte(origin))
	return filepath.Join(metadataDir, "monitor", hex.EncodeToString(sum[:8])+".json")
}

// httpLog reads one log mirror over HTTP(S): a translog.Fetcher.
type httpLog struct {
	h    *fetch.HTTP
	base string
}

func (l httpLog) Fetch(ctx context.Context, path string, max int64) ([]byte, error) {
	rc, err := l.h.Fetch(ctx, l.base+path, 0, max)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc) // the reader fails past max
}
