package audit

import (
	"errors"
	"fmt"
	"math"
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
	// MaxFiles sets how much is kept: rotation deletes the oldest file,
	// recording the deletion, only while the other rotated files hold at
	// least (MaxFiles-1)*MaxBytes bytes, so that about MaxFiles files
	// remain, audit.log included (one more when records don't fill their
	// files exactly). Counting bytes rather than files means that
	// splitting files or adding empty ones, which needs no anchor, can't
	// make rotation delete records. Rotation first verifies the whole log
	// against the anchor; a log that fails, or a file to be deleted whose
	// first or last record can't be read, is kept and Append fails until a
	// person has looked at it. 0 means DefaultMaxFiles.
	MaxFiles int
	// Now is the clock for record times; nil means time.Now.
	Now func() time.Time
}

// Anchor keeps the [Mark] of the log somewhere that someone who can edit
// the log files can't change: the client keeps it in its crash-safe state
// store (rollback.State.AuditAnchor, as [Mark.String]).
//
// [Log.Append] stores the Mark of each record before it writes the record.
// Load is called only from [Open]; calls never overlap. Store must be
// durable when it returns (a crash after it must not lose the value) and
// atomic (a crash during it leaves the old value or the new).
type Anchor interface {
	// Load returns the Mark stored last, or the zero Mark if none was.
	Load() (Mark, error)
	// Store keeps m, replacing the stored Mark.
	Store(m Mark) error
}

// MemAnchor is an [Anchor] in memory, for tests and for tools that verify
// a copied log. The zero value holds the zero Mark. It is safe for
// concurrent use.
type MemAnchor struct {
	mu   sync.Mutex
	mark Mark
}

// Load returns the Mark stored last.
func (a *MemAnchor) Load() (Mark, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.mark, nil
}

// Store keeps m.
func (a *MemAnchor) Store(m Mark) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.mark = m
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
	needRetain bool   // files beyond MaxFiles may remain after a failed rotation
	failed     error  // a write whose outcome is unknown; the Log must be reopened
	closed     bool
}

// Open opens the log in opts.Dir for appending, after checking its end
// against the anchor (the whole chain is checked by [Verify], and by
// rotation before it deletes a file, not here):
//
//   - the last record is the anchor's Head: the log is ready;
//   - the log ends one record before the Head and the anchor's Line
//     follows on: a crash before the record reached the log (or the record
//     removed since); Open verifies the whole log and writes the Line;
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
	// The directory is listed once, for openTail and retain: nothing
	// between them adds or removes a rotated file.
	files, err := listFiles(l.dir)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(l.dir, 0o700); err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
	} else if err != nil {
		return nil, err
	}
	m, err := anchor.Load()
	if err != nil {
		return nil, fmt.Errorf("audit: load anchor: %w", err)
	}
	rec, err := m.record()
	if err != nil {
		return nil, err
	}
	if err := l.openTail(files, m, rec); err != nil {
		return nil, err
	}
	if err := l.retainFrom(files, func() time.Time { return l.now().UTC() }); err != nil {
		l.closeFile()
		return nil, err
	}
	return l, nil
}

// openTail finds the last record in files, checks it against the anchor m,
// whose Line is the record rec, cuts off a torn line and writes the
// anchor's record if the log lacks it.
func (l *Log) openTail(files []logFile, m Mark, rec Record) error {
	broken := func(cause error) error {
		if _, err := VerifyAnchored(l.dir, m); err != nil {
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
		size     int64 = -1 // of audit.log, if read
	)
	for i := len(files) - 1; i >= 0 && last == nil; i-- {
		path := filepath.Join(l.dir, files[i].name)
		t, err := readTail(path)
		if err != nil {
			return broken(fmt.Errorf("audit: %s: %w", path, err))
		}
		if files[i].index == 0 {
			size = t.size
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
	switch {
	case last == nil:
	case m.Line != "" && string(last) == m.Line:
		// The anchor's line, the usual case. parseRecord depends on the
		// bytes alone, so it would give rec again (m.record parsed the
		// same bytes), and m.record checked that m.Head is rec's seq and
		// the hash of these bytes: the outcome is the same, without
		// parsing or hashing the line a second time. A line that differs
		// in any byte, a non-canonical form of the same record included,
		// is parsed below and refused as ever (TestOpenAnchorLineVariant).
		lastRec, h = rec, m.Head
	default:
		var err error
		if lastRec, err = parseRecord(last); err != nil {
			return broken(fmt.Errorf("audit: last record: %w", err))
		}
		h = Head{Seq: lastRec.Seq, Hash: lineHash(last)}
	}
	missing := m.follows(h)
	if h != m.Head && !missing {
		return broken(fmt.Errorf("audit: log ends at %q but its anchor is %q", h, m.Head))
	}
	if torn > 0 {
		if err := cutTorn(tornPath, torn); err != nil {
			return err
		}
	}
	l.head, l.last = h, lastRec
	if size >= 0 {
		// audit.log as readTail found it, less the line cut off.
		l.size = size - torn
	} else if st, err := os.Stat(filepath.Join(l.dir, currentName)); err == nil {
		l.size = st.Size()
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("audit: %w", err)
	}
	if missing {
		// Only to a log that is otherwise the chain Append wrote.
		if _, err := VerifyAnchored(l.dir, m); err != nil {
			return err
		}
		return l.commit([]byte(m.Line), rec)
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
// The record is stored in the anchor, then written and fsynced, before
// Append returns. If storing it fails, nothing is written. If writing or
// fsyncing fails, nothing is returned but the error; the record may still
// appear in the log, as Open writes the anchor's record when the log lacks
// it. After a failed fsync the Log refuses further records until it is
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
	if err := l.write(line, rec); err != nil {
		return Record{}, err
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

// write stores the Mark of rec, whose encoding is line, in the anchor, then
// appends line to the log.
func (l *Log) write(line []byte, rec Record) error {
	if err := l.anchor.Store(lineMark(rec.Seq, line)); err != nil {
		return fmt.Errorf("audit: store anchor of seq %d: %w", rec.Seq, err)
	}
	return l.commit(line, rec)
}

// commit appends line, the encoding of rec, to audit.log and fsyncs it.
//
// The anchor already holds the record, so after a crash or power loss the
// log ends at it or just before it, which Open repairs from the anchor;
// the fsync makes the record durable before Append returns. A crash
// during the write can leave an incomplete line, which Open removes. The
// directory is fsynced after audit.log is created so that the file itself
// survives too.
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

// rotate moves audit.log aside and deletes the oldest files as retain
// says, with audit-drop records dated now.
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

// retain deletes the oldest rotated file while the other rotated files
// hold at least keep bytes, first recording the deletion in an
// "audit-drop" record unless the last record already is that record (a
// crash between the two). The records are dated by now. Before the first
// deletion it verifies the whole log against the head: a file is deleted
// only from a log that is the unbroken chain Append wrote. An empty oldest
// file is just removed.
func (l *Log) retain(now func() time.Time) error {
	files, err := listFiles(l.dir)
	if err != nil {
		return err
	}
	return l.retainFrom(files, now)
}

// retainFrom is retain with the files of the directory listed already.
func (l *Log) retainFrom(files []logFile, now func() time.Time) error {
	l.needRetain = true
	verified := false
	for {
		var sizes []int64 // of the rotated files, oldest first
		for _, f := range files {
			if f.index == 0 {
				continue
			}
			st, err := os.Stat(filepath.Join(l.dir, f.name))
			if err != nil {
				return fmt.Errorf("audit: %w", err)
			}
			sizes = append(sizes, st.Size())
		}
		var others int64
		for _, n := range sizes[min(1, len(sizes)):] {
			others += n
		}
		if len(sizes) == 0 || sizes[0] > 0 && others < l.keep() {
			l.needRetain = false
			return nil
		}
		if sizes[0] > 0 && !verified {
			if _, err := VerifyAnchored(l.dir, Mark{Head: l.head}); err != nil {
				return fmt.Errorf("audit: not deleting the oldest file of a broken log: %w", err)
			}
			verified = true
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
			if err := l.write(line, rec); err != nil {
				return err
			}
		}
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("audit: drop oldest file: %w", err)
		}
		if err := atomicfile.SyncDir(l.dir); err != nil {
			return fmt.Errorf("audit: drop oldest file: %w", err)
		}
		if files, err = listFiles(l.dir); err != nil {
			return err
		}
	}
}

// keep is how many bytes the rotated files after the oldest must hold for
// the oldest to be deleted: (MaxFiles-1)*MaxBytes, or the largest int64.
func (l *Log) keep() int64 {
	n := int64(l.maxFiles - 1)
	if n > 0 && l.maxBytes > math.MaxInt64/n {
		return math.MaxInt64
	}
	return n * l.maxBytes
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
