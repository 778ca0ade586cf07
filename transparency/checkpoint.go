package transparency

import (
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// Checkpoint is a verified checkpoint: the log's signed statement that its
// tree of Size entries has root Hash.
type Checkpoint struct {
	Origin string
	Size   int64
	Hash   tlog.Hash
	// Note is the signed note as served, signatures included: the evidence
	// to show anyone who holds the log key.
	Note []byte
	// Cosigned lists the trusted witnesses whose cosignatures verified,
	// with the time each one states.
	Cosigned []Cosignature
}

// Cosignature is one verified witness cosignature.
type Cosignature struct {
	Witness string
	Time    time.Time
}
