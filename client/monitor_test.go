package client_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/latchsec/latch/client"
)

// monitor runs MonitorLog and returns the unknown entries it reported.
func (e *tlogEnv) monitor() ([]client.UnknownLogEntry, client.LogMonitorResult, error) {
	e.t.Helper()
	var got []client.UnknownLogEntry
	res, err := e.c.MonitorLog(context.Background(), func(u client.UnknownLogEntry) error {
		got = append(got, u)
		return nil
	})
	return got, res, err
}

// TestMonitorLog: the monitor reports each log entry that is not a release
// the repository signs (unknown target, other bytes, another repository,
// not a release entry), once: the next call starts where the last one
// stopped.
func TestMonitorLog(t *testing.T) {
	t.Parallel()
	e := newTlogEnv(t)
	e.release("app/1.0.0/linux-amd64", []byte("release 1"))
	e.log.add(
		entry(t, "app/6.6.6/linux-amd64", []byte("backdoor")), // 1: not listed
		entry(t, "app/1.0.0/linux-amd64", []byte("other")),    // 2: other bytes
		[]byte("not an entry\n"),                              // 3
	)
	e.open()
	e.refresh()
	got, res, err := e.monitor()
	if err != nil {
		t.Fatal(err)
	}
	var idx []int64
	for _, u := range got {
		idx = append(idx, u.Index)
	}
	if !slices.Equal(idx, []int64{1, 2, 3}) || res.From != 0 || res.To != 4 || res.Unknown != 3 {
		t.Fatalf("unknown entries %v, result %+v", idx, res)
	}
	for i, want := range []string{"lists no such target", "other bytes", "not a release entry"} {
		if !strings.Contains(got[i].Reason, want) {
			t.Errorf("entry %d: reason %q, want %q", got[i].Index, got[i].Reason, want)
		}
	}
	if got[0].Entry == nil || got[0].Entry.Path != "app/6.6.6/linux-amd64" || got[2].Entry != nil {
		t.Errorf("entries: %+v, %+v", got[0].Entry, got[2].Entry)
	}

	// Nothing new: nothing reported. A new release and an unknown entry:
	// only the latter, at its index.
	if got, res, err := e.monitor(); err != nil || len(got) != 0 || res.From != 4 || res.To != 4 {
		t.Fatalf("second call: %v, %+v, %v", got, res, err)
	}
	e.release("app/1.1.0/linux-amd64", []byte("release 2"))
	e.log.add(entry(t, "app/7.0.0/linux-amd64", []byte("evil")))
	e.refresh()
	if got, res, err := e.monitor(); err != nil || len(got) != 1 || got[0].Index != 5 || res.From != 4 || res.To != 6 {
		t.Fatalf("third call: %v, %+v, %v", got, res, err)
	}
}

// TestMonitorLogSplitView: a log that shows the monitor a history that
// does not extend what it saw before is a *LogConflictError with both
// checkpoints, recorded in the audit log, and the position does not move;
// a report that fails does not move it either.
func TestMonitorLogSplitView(t *testing.T) {
	t.Parallel()
	e := newTlogEnv(t)
	e.release("app/1.0.0/linux-amd64", []byte("release 1"))
	e.log.add(entry(t, "app/6.6.6/linux-amd64", []byte("backdoor")))
	e.open()
	e.refresh()
	_, err := e.c.MonitorLog(context.Background(), func(client.UnknownLogEntry) error { return context.Canceled })
	wantIs(t, err, context.Canceled)
	if got, res, err := e.monitor(); err != nil || len(got) != 1 || res.From != 0 {
		t.Fatalf("after a failed report: %v, %+v, %v (the position moved?)", got, res, err)
	}

	fork := &tlog{t: t, dir: filepath.Join(t.TempDir(), "fork"), signer: e.log.signer}
	fork.add(entry(t, "app/1.0.0/linux-amd64", []byte("release 1")), entry(t, "app/1.0.1/linux-amd64", []byte("x")), entry(t, "x/y", nil))
	e.log.serving.Store(&fork.dir)
	_, _, err = e.monitor()
	wantIs(t, err, client.ErrSplitView)
	ce := wantAs[*client.LogConflictError](t, err)
	if ce.Trusted.Size != 2 || ce.Got.Size != 3 {
		t.Errorf("evidence: trusted size %d, got size %d", ce.Trusted.Size, ce.Got.Size)
	}
	recs := transparencyRecords(t, e.cfg.StateDir)
	if last := recs[len(recs)-1]; last["outcome"] != "monitor-conflict" || last["evidence"] == nil {
		t.Errorf("audit record %v", last)
	}
	e.log.serving.Store(&e.log.dir)
	if got, res, err := e.monitor(); err != nil || len(got) != 0 || res.From != 2 {
		t.Fatalf("back on the true log: %v, %+v, %v", got, res, err)
	}
}

// TestMonitorLogNeedsPolicy: without a log policy, MonitorLog is an option
// error.
func TestMonitorLogNeedsPolicy(t *testing.T) {
	t.Parallel()
	e := newTlogEnv(t)
	e.cfg.TransparencyLog = nil
	e.open()
	_, err := e.c.MonitorLog(context.Background(), func(client.UnknownLogEntry) error { return nil })
	wantIs(t, err, client.ErrInvalidOptions)
}
