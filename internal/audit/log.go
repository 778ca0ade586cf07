package audit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/latchsec/latch/internal/atomicfile"
)

// Defaults for [Options].
const (
	DefaultMaxBytes = 8 << 20
	DefaultMaxFiles = 8
)

// Options configure a [Log].
type Options struct {
	// Dir holds the log files; it is created (0700) if missing. One Log at
	// a time may use it: the caller serialises processes (the client holds
	// its state lock).
	Dir string
	// MaxBytes is the size after which audit.log is rotated: a record
	// that would take the file beyond it goes to a new file. A record
	// larger than MaxBytes gets a file to itself, and the audit-drop
	// record that rotation may write at the start of the new file comes
	// on top. 0 means DefaultMaxBytes.
	MaxBytes int64
	// MaxFiles is the number of files kept, audit.log included; rotation
	// deletes the oldest beyond it, recording the deletion. A file to be
	// deleted whose first or last record can't be read is kept and
	// Append fails until a person has looked at it. 0 means
	// DefaultMaxFiles.
	MaxFiles int
	// Now is the clock for record times; nil means time.Now.
	Now func() time.Time
}

// Anchor keeps the [Head] of the log somewhere an attacker who edits the
// log files would also have to change: the client keeps it in its
// crash-safe state store (rollback.State.AuditAnchor, as [Head.String]).
//
// The Log calls Store only after the record it names is durable, and Load
// only from [Open]; calls never overlap. Store must be durable when it
// returns (a crash after it must not lose the value).
type Anchor interface {
	// Load returns the Head stored last, or the zero Head if none was.
	Load() (Head, error)
	// Store keeps h, replacing the stored Head.
	Store(h Head) error
}

// MemAnchor is an [Anchor] in memory, for tests and for tools that verify
// a copied log. The zero value holds the zero Head. It is safe for
// concurrent use.
type MemAnchor struct {
	mu   sync.Mutex
	head Head
}

// Load returns the Head stored last.
func (a *MemAnchor) Load() (Head, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.head, nil
}

// Store keeps h.
func (a *MemAnchor) Store(h Head) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.head = h
	return nil
}

// Log appends records to an audit log. It is safe for concurrent use.
type Log struct {
	dir      string
	maxBytes int64
	maxFiles int
	now      func() time.Time
	anchor   Anchor

	mu         sync.Mutex
	f          *os.File // audit.log opened for appending; nil until needed
	size       int64    // of audit.log
	head       Head
	last       Record // the record head names, if any
	pending    bool   // head is not stored in the anchor yet
	needRetain bool   // files beyond MaxFiles may remain after a failed rotation
	failed     error  // a write whose outcome is unknown; the Log must be reopened
	closed     bool
}

// Open opens the log in opts.Dir for appending, after checking its end
// against the anchor (the whole chain is checked by [Verify], not here):
//
//   - the last record is the anchored one: the log is ready;
//   - the last record is one beyond the anchor and chains from it: a crash
//     between writing a record and storing its anchor; the anchor is moved
//     to it;
//   - an incomplete last line (a crash while writing) after records that
//     pass one of the checks above is a crash artefact and is cut off; if
//     they don't, it is part of the error below;
//   - anything else is the [*BrokenError] that [VerifyAnchored] gives for
//     the whole log, matching [ErrBroken], and nothing is changed.
//
// Open also finishes a rotation that a crash interrupted.
func Open(opts Options, anchor Anchor) (*Log, error) {
	if opts.Dir == "" {
		return nil, invalid(errors.New("no directory"))
	}
	if opts.MaxBytes < 0 || opts.MaxFiles < 0 {
		return nil, invalid(fmt.Errorf("MaxBytes %d and MaxFiles %d must not be negative", opts.MaxBytes, opts.MaxFiles))
	}
	if anchor == nil {
		return nil, invalid(errors.New("no anchor"))
	}
	l := &Log{
		dir:      opts.Dir,
		maxBytes: opts.MaxBytes,
		maxFiles: opts.MaxFiles,
		now:      opts.Now,
		anchor:   anchor,
	}
	if l.maxBytes == 0 {
		l.maxBytes = DefaultMaxBytes
	}
	if l.maxFiles == 0 {
		l.maxFiles = DefaultMaxFiles
	}
	if l.now == nil {
		l.now = time.Now
	}
	if err := os.MkdirAll(l.dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	a, err := anchor.Load()
	if err != nil {
		return nil, fmt.Errorf("audit: load anchor: %w", err)
	}
	if err := a.check(); err != nil {
		return nil, err
	}
	if err := l.openTail(a); err != nil {
		return nil, err
	}
	if err := l.retain(func() time.Time { return l.now().UTC() }); err != nil {
		l.closeFile()
		return nil, err
	}
	return l, nil
}

// openTail finds the last record, checks it against the anchor a, cuts off
// a torn line and moves the anchor forward after a crash.
func (l *Log) openTail(a Head) error {
	files, err := listFiles(l.dir)
	if err != nil {
		return err
	}
	broken := func(cause error) error {
		if _, err := VerifyAnchored(l.dir, a); err != nil {
			return err
		}
		return cause
	}
	// The newest file with a complete record holds the last record; only
	// the newest file may end in a torn line.
	var (
		last     []byte
		tornPath string
		torn     int64
	)
	for i := len(files) - 1; i >= 0 && last == nil; i-- {
		path := filepath.Join(l.dir, files[i].name)
		t, err := readTail(path)
		if err != nil {
			return broken(fmt.Errorf("audit: %s: %w", path, err))
		}
		if t.torn > 0 {
			if i != len(files)-1 {
				return broken(fmt.Errorf("audit: %s ends in an incomplete line", path))
			}
			tornPath, torn = path, t.torn
		}
		last = t.last
	}
	var lastRec Record
	h := Head{}
	if last != nil {
		if lastRec, err = parseRecord(last); err != nil {
			return broken(fmt.Errorf("audit: last record: %w", err))
		}
		h = Head{Seq: lastRec.Seq, Hash: lineHash(last)}
	}
	oneAhead := last != nil && h.Seq == a.Seq+1 && lastRec.Prev == a.next()
	if h != a && !oneAhead {
		return broken(fmt.Errorf("audit: log ends at %q but its anchor is %q", h, a))
	}
	if torn > 0 {
		if err := cutTorn(tornPath, torn); err != nil {
			return err
		}
	}
	if oneAhead {
		if err := l.anchor.Store(h); err != nil {
			return fmt.Errorf("audit: store anchor: %w", err)
		}
	}
	l.head, l.last = h, lastRec
	if st, err := os.Stat(filepath.Join(l.dir, currentName)); err == nil {
		l.size = st.Size()
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// cutTorn removes the last n bytes of path, an incomplete line.
func cutTorn(path string, n int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("audit: cut incomplete line: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("audit: cut incomplete line: %w", err)
	}
	if err := f.Truncate(st.Size() - n); err != nil {
		return fmt.Errorf("audit: cut incomplete line: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("audit: cut incomplete line: %w", err)
	}
	return nil
}

// Head returns the last record's Head, the zero Head for an empty log.
func (l *Log) Head() Head {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.head
}

// Append adds a record of kind with fields, which must encode to a JSON
// object (a map, a struct, or a json.RawMessage holding an object; nil
// means {}); it is stored with sorted keys and no spaces, so the same event
// always gives the same bytes. kind must be 1 to 64 characters of a-z, 0-9
// and "-", and not [KindDrop]; fields may take at most [MaxFieldsSize]
// bytes. Bad input matches [ErrInvalid] and writes nothing.
//
// The record is written and fsynced, then its Head is stored in the
// anchor, before Append returns. If storing the anchor fails, the error
// matches [ErrNotAnchored] and the returned Record is valid: it is in the
// log. If writing or fsyncing fails, nothing is returned but the error;
// after a failed fsync the Log refuses further records until it is
// reopened, because whether the record reached the disk is unknown (Open
// finds out).
func (l *Log) Append(kind string, fields any) (Record, error) {
	if !validKind(kind) {
		return Record{}, invalid(fmt.Errorf("bad event kind %q", kind))
	}
	if kind == KindDrop {
		return Record{}, invalid(fmt.Errorf("event kind %q is reserved", kind))
	}
	raw, err := canonicalFields(fields)
	if err != nil {
		return Record{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return Record{}, ErrClosed
	}
	if l.failed != nil {
		return Record{}, fmt.Errorf("audit: log unusable until reopened: %w", l.failed)
	}
	if l.pending {
		if err := l.storeHead(); err != nil {
			return Record{}, fmt.Errorf("audit: store anchor of seq %d: %w", l.head.Seq, err)
		}
	}
	now := l.now().UTC()
	if l.needRetain {
		if err := l.retain(func() time.Time { return now }); err != nil {
			return Record{}, err
		}
	}
	line, rec, err := l.build(kind, raw, now)
	if err != nil {
		return Record{}, err
	}
	if l.size > 0 && l.size+int64(len(line)) > l.maxBytes {
		if err := l.rotate(now); err != nil {
			return Record{}, err
		}
		// Rotation may have added an audit-drop record.
		if line, rec, err = l.build(kind, raw, now); err != nil {
			return Record{}, err
		}
	}
	if err := l.commit(line, rec); err != nil {
		return Record{}, err
	}
	if err := l.storeHead(); err != nil {
		return rec, fmt.Errorf("audit: seq %d: %w: %w", rec.Seq, ErrNotAnchored, err)
	}
	return rec, nil
}

// build makes the record that follows the head.
func (l *Log) build(kind string, fields []byte, t time.Time) ([]byte, Record, error) {
	rec := Record{Seq: l.head.Seq + 1, Time: t, Kind: kind, Fields: fields, Prev: l.head.next()}
	line, err := encodeRecord(rec)
	if err != nil {
		return nil, Record{}, err
	}
	return line, rec, nil
}

// commit appends line, the encoding of rec, to audit.log and fsyncs it.
//
// The fsync is what makes the anchor trustworthy: the anchor is stored
// only after the record is on stable storage, so after a crash or power
// loss the log is never behind its anchor (which would look like
// truncation and lose the record of a trust decision); at most it is one
// record ahead, which Open accepts. A crash during the write can leave an
// incomplete line, which Open removes. The directory is fsynced after
// audit.log is created so that the file itself survives too.
func (l *Log) commit(line []byte, rec Record) error {
	if l.f == nil {
		path := filepath.Join(l.dir, currentName)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		st, err := f.Stat()
		if err == nil {
			err = atomicfile.SyncDir(l.dir)
		}
		if err != nil {
			f.Close()
			return fmt.Errorf("audit: %w", err)
		}
		l.f, l.size = f, st.Size()
	}
	if _, err := l.f.Write(line); err != nil {
		// A short write (a full disk) leaves part of a line: cut it off
		// so that the next record starts a line. If that fails too, Open
		// must deal with it.
		if terr := l.f.Truncate(l.size); terr != nil {
			l.failed = fmt.Errorf("write seq %d: %w; cut incomplete line: %w", rec.Seq, err, terr)
		}
		return fmt.Errorf("audit: write seq %d: %w", rec.Seq, err)
	}
	if err := l.f.Sync(); err != nil {
		l.failed = fmt.Errorf("fsync seq %d: %w", rec.Seq, err)
		return fmt.Errorf("audit: fsync seq %d: %w", rec.Seq, err)
	}
	l.size += int64(len(line))
	l.head = Head{Seq: rec.Seq, Hash: lineHash(line)}
	l.last = rec
	return nil
}

// storeHead stores the head in the anchor, remembering a failure.
func (l *Log) storeHead() error {
	if err := l.anchor.Store(l.head); err != nil {
		l.pending = true
		return err
	}
	l.pending = false
	return nil
}

// rotate moves audit.log aside and deletes files beyond MaxFiles, with
// audit-drop records dated now.
func (l *Log) rotate(now time.Time) error {
	if err := l.closeFile(); err != nil {
		return err
	}
	if err := shiftFiles(l.dir); err != nil {
		// The renames done keep the files in order, but which were done
		// is not known here.
		l.failed = err
		return err
	}
	l.size = 0
	return l.retain(func() time.Time { return now })
}

// retain deletes the oldest rotated files until MaxFiles-1 are left (so
// that audit.log makes MaxFiles), first recording each deletion in an
// audit-drop record unless the last record already is that record (a
// crash between the two). The records are dated by now.
func (l *Log) retain(now func() time.Time) error {
	l.needRetain = true
	for {
		files, err := listFiles(l.dir)
		if err != nil {
			return err
		}
		rotated := len(files)
		if rotated > 0 && files[len(files)-1].index == 0 {
			rotated--
		}
		if rotated <= l.maxFiles-1 {
			l.needRetain = false
			return nil
		}
		path := filepath.Join(l.dir, files[0].name)
		d, ok, err := describe(path)
		if err != nil {
			return err
		}
		if ok && !l.recorded(d) {
			raw, err := canonicalFields(d)
			if err != nil {
				return err
			}
			line, rec, err := l.build(KindDrop, raw, now())
			if err != nil {
				return err
			}
			if err := l.commit(line, rec); err != nil {
				return err
			}
			if err := l.storeHead(); err != nil {
				return fmt.Errorf("audit: store anchor of seq %d: %w", rec.Seq, err)
			}
		}
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("audit: drop oldest file: %w", err)
		}
		if err := atomicfile.SyncDir(l.dir); err != nil {
			return fmt.Errorf("audit: drop oldest file: %w", err)
		}
	}
}

// recorded reports whether the last record is the audit-drop record of d.
func (l *Log) recorded(d dropFields) bool {
	if l.head.Seq == 0 || l.last.Kind != KindDrop {
		return false
	}
	got, ok := parseDrop(l.last.Fields)
	return ok && got.LastSeq == d.LastSeq && got.LastHash == d.LastHash
}

func (l *Log) closeFile() error {
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	if err != nil {
		return fmt.Errorf("audit: close: %w", err)
	}
	return nil
}

// Close closes the log. Records appended before are already durable.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	l.closed = true
	return l.closeFile()
}
