package rollback

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/latchsec/latch/internal/atomicfile"
	"github.com/latchsec/latch/internal/cjson"
	"github.com/latchsec/latch/internal/rawfile"
)

const (
	stateName = "trusted-state"
	lockName  = "lock"
	// tempPattern names the temporary files of Save: atomicfile makes them
	// "." + "trusted-state-" + random + ".tmp" (atomicfile.TempBase).
	tempPattern = stateName + "-*"
	// formatVersion is the version of the state file format. A file with
	// another version is refused as corrupt rather than guessed at, except
	// format 1, the same without timestamp_reset_root, which is read.
	formatVersion = 2
)

// FileStore is a [Store] in a directory: the state in trusted-state, written
// atomically (temporary file, fsync, rename, fsync of the directory),
// and an exclusive lock on the file named lock, held from [OpenFileStore]
// until [FileStore.Close], so that one process (and one FileStore in it)
// owns the directory at a time; the holder writes its process ID into the
// lock file, so that a second store's [*LockedError] can name it. Readers
// that need no lock use [ReadFileState]. A FileStore is safe for concurrent
// use.
//
// Load and Save read trusted-state each time: the file is the authority, and
// Save checks against what is on disk, not against a copy in memory that a
// failed write might have left behind.
type FileStore struct {
	dir  string
	path string // dir/trusted-state

	mu     sync.Mutex
	lock   *os.File    // the locked lock file; nil once closed
	lockID fs.FileInfo // its identity, the key in held
	// closedBefore: the lock file held the blank record that Close
	// leaves, so the previous holder closed the store (PreviousHolderClosed).
	closedBefore bool
}

// held lists the lock files locked by FileStores of this process. It makes
// a second OpenFileStore of the same directory fail even where the system
// lock would not (fcntl-style locks are per process, and some network file
// systems implement flock with them).
var held struct {
	sync.Mutex
	files []fs.FileInfo
}

// OpenFileStore opens the store in dir, creating dir with permissions 0700
// if needed, and locks it. If another process or another FileStore of this
// process holds the lock, it fails at once with a [*LockedError] naming the
// holder (see [OpenFileStoreWait] to wait instead). Temporary files left by a Save that was cut
// short by a crash are removed: unless the previous holder closed the store
// ([FileStore.PreviousHolderClosed]), when none can be left. The state
// itself is read by Load and Save, so a corrupt state file is reported
// there, and never overwritten.
func OpenFileStore(dir string) (*FileStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("rollback: open store: %w", err)
	}
	f, id, closed, err := lockDir(filepath.Join(dir, lockName))
	if err != nil {
		return nil, err
	}
	fst := &FileStore{dir: dir, path: filepath.Join(dir, stateName), lock: f, lockID: id, closedBefore: closed}
	if !closed {
		if err := fst.removeTemps(); err != nil {
			return nil, errors.Join(err, fst.Close())
		}
	}
	return fst, nil
}

// PreviousHolderClosed reports whether the last holder of the store's lock
// released it with Close, after its last write, rather than being killed or
// crashing with the lock held: then it left no temporary file of an
// unfinished write, in this directory or in others it wrote under the same
// lock, and a start need not look for them. It is false for a lock file
// made now, and for one whose record doesn't read as closed.
func (f *FileStore) PreviousHolderClosed() bool { return f.closedBefore }

// lockDir opens and locks the lock file at path, records this process in
// it and in held, and returns it with its identity, and whether it held
// the blank record Close leaves before this process recorded itself. A
// lock file this process holds already is not opened a second time: with
// fcntl-style locks, closing that second descriptor would release the
// first one's lock.
func lockDir(path string) (_ *os.File, _ fs.FileInfo, closed bool, _ error) {
	held.Lock()
	defer held.Unlock()
	isHeld := func(fi fs.FileInfo) bool {
		return slices.ContainsFunc(held.files, func(h fs.FileInfo) bool { return os.SameFile(h, fi) })
	}
	if fi, err := os.Stat(path); err == nil && isHeld(fi) {
		me := self()
		return nil, nil, false, &LockedError{Path: path, PID: me.pid, Program: me.program, Err: ErrLocked}
	}
	f, err := rawfile.Open(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, false, fmt.Errorf("rollback: open store: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, false, fmt.Errorf("rollback: open store: %w", err)
	}
	if err := lockFile(f); err != nil {
		var h holder
		if errors.Is(err, ErrLocked) {
			h = readHolder(f)
			err = &LockedError{Path: path, PID: h.pid, Program: h.program, Err: ErrLocked}
		} else {
			err = fmt.Errorf("rollback: %s: %w", path, err)
		}
		f.Close()
		return nil, nil, false, err
	}
	blank := holder{}.record()
	prev := make([]byte, len(blank))
	if n, _ := f.ReadAt(prev, 0); n == len(prev) {
		closed = bytes.Equal(prev, blank)
	}
	if _, err := f.WriteAt(self().record(), 0); err != nil {
		return nil, nil, false, errors.Join(fmt.Errorf("rollback: %s: recording the holder: %w", path, err), unlockFile(f), f.Close())
	}
	held.files = append(held.files, fi)
	return f, fi, closed, nil
}

// removeTemps removes the temporary files of Saves that did not finish. The
// lock is held, so no Save is running.
func (f *FileStore) removeTemps() error {
	if err := atomicfile.RemoveTemps(f.dir, func(base string) bool { return base == stateName }); err != nil {
		return fmt.Errorf("rollback: open store: %w", err)
	}
	return nil
}

// Close releases the lock. Load and Save fail afterwards, as does a second
// Close, with an error wrapping [fs.ErrClosed].
func (f *FileStore) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lock == nil {
		return f.closedError("close")
	}
	// The record is blanked while the lock is still held. Closing the file
	// releases the system lock too; unlocking first makes the release
	// immediate on every system.
	_, werr := f.lock.WriteAt(holder{}.record(), 0)
	err := errors.Join(werr, unlockFile(f.lock), f.lock.Close())
	f.lock = nil
	held.Lock()
	held.files = slices.DeleteFunc(held.files, func(h fs.FileInfo) bool { return os.SameFile(h, f.lockID) })
	held.Unlock()
	if err != nil {
		return fmt.Errorf("rollback: close store %s: %w", f.dir, err)
	}
	return nil
}

func (f *FileStore) closedError(op string) error {
	return fmt.Errorf("rollback: %s store %s: %w", op, f.dir, fs.ErrClosed)
}

// Load returns the state in trusted-state, or NewState() if there is no such
// file. A file that can't be decoded, has an unknown format version or
// holds invalid records fails with [ErrCorrupt]. Decoding is strict: an
// object with a key twice, an unknown field or one named in another case
// is refused, as is anything after the state object.
func (f *FileStore) Load() (*State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lock == nil {
		return nil, f.closedError("load")
	}
	return f.read()
}

// Save writes s to trusted-state atomically and durably after the checks
// described in [Store]. If the stored state is corrupt, Save fails with
// [ErrCorrupt] and leaves the file alone.
func (f *FileStore) Save(s *State) error {
	if err := s.check(); err != nil {
		return invalid(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lock == nil {
		return f.closedError("save")
	}
	prev, err := f.read()
	if err != nil {
		return err
	}
	if err := checkForward(prev, s); err != nil {
		return err
	}
	data, err := encodeState(stored(s))
	if err != nil {
		return fmt.Errorf("rollback: save: %w", err)
	}
	tmp, err := atomicfile.CreateTemp(f.dir, tempPattern)
	if err != nil {
		return fmt.Errorf("rollback: save: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return errors.Join(fmt.Errorf("rollback: save: %w", err), tmp.Abort())
	}
	if err := tmp.Commit(f.path); err != nil {
		return fmt.Errorf("rollback: save: %w", err)
	}
	return nil
}

// read decodes trusted-state. The caller holds f.mu.
func (f *FileStore) read() (*State, error) {
	data, err := rawfile.ReadFile(f.path)
	return parseStateFile(f.path, data, err)
}

// ReadFileState returns the state that a [FileStore] in dir keeps, without
// taking its lock and without writing anything (not even dir): for readers
// beside the store's holder, in this process or another. Save replaces the
// state file atomically, so what a reader gets is a state that was saved at
// some moment, or NewState() if none was. On Windows the file is opened so
// that a Save beside the reader may still replace it. Errors are those of
// [FileStore.Load].
func ReadFileState(dir string) (*State, error) {
	root, err := os.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return NewState(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("rollback: read state: %w", err)
	}
	defer root.Close()
	data, err := root.ReadFile(stateName)
	return parseStateFile(filepath.Join(dir, stateName), data, err)
}

// parseStateFile decodes the state file at path given the result of reading
// it: a missing file is the empty state.
func parseStateFile(path string, data []byte, err error) (*State, error) {
	if errors.Is(err, fs.ErrNotExist) {
		return NewState(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("rollback: read state: %w", err)
	}
	s, err := decodeState(data)
	if err != nil {
		return nil, fmt.Errorf("rollback: %s: %w: %w", path, ErrCorrupt, err)
	}
	return s, nil
}

// stateFile is the JSON form of a State, as encodeState writes it.
// Encoding is deterministic (map keys sorted), times are RFC 3339 in UTC.
// decodeState reads the same form.
type stateFile struct {
	Format          int                      `json:"format"`
	Roles           map[string]RoleRecord    `json:"roles"`
	TimestampReset  *int64                   `json:"timestamp_reset_root"` // absent in format 1
	FastForwardRoot int64                    `json:"fast_forward_root"`
	LastTime        time.Time                `json:"last_time"`
	Installed       map[string]Install       `json:"installed"`
	Failed          map[string][]string      `json:"failed"`
	AuditAnchor     string                   `json:"audit_anchor"`
	Logs            map[string]LogCheckpoint `json:"logs,omitempty"`
}

func encodeState(s *State) ([]byte, error) {
	data, err := json.MarshalIndent(stateFile{
		Format:          formatVersion,
		Roles:           s.Roles,
		TimestampReset:  &s.TimestampResetRoot,
		FastForwardRoot: s.FastForwardRoot,
		LastTime:        s.LastTime,
		Installed:       s.Installed,
		Failed:          s.Failed,
		AuditAnchor:     s.AuditAnchor,
		Logs:            s.Logs,
	}, "", "\t")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

var (
	// errUnknownField is the error for an object member that the state
	// file format does not have.
	errUnknownField = errors.New("unknown field")
	// errDuplicateKey is the error for an object with a key twice.
	errDuplicateKey = errors.New("duplicate key")
	errNoFormat     = errors.New("no format version")
	errFormat       = errors.New("unknown format version")
)

// Names of the members of the objects in a state file (see stateFile).
var (
	stateFields   = []string{"format", "roles", "timestamp_reset_root", "fast_forward_root", "last_time", "installed", "failed", "audit_anchor", "logs"}
	roleFields    = []string{"version", "sha256", "length", "root"}
	installFields = []string{"version", "sha256", "time"}
	logFields     = []string{"size", "hash", "note", "verified"}
)

// decodeState parses a state file strictly: every member, with no unknown
// fields and nothing after the object, then the format version, then the
// records' validity. A file that is refused and names a format version
// other than 1 and 2 is reported as of an unknown format (errFormat)
// rather than for what failed: a newer format may hold what this code does
// not know.
//
// It reads the stateFile form by hand, as encoding/json did before, without
// its reflection (costly in a new process, where every warm start reads
// this file): names match exactly, integers are int64 without fraction or
// exponent, times are what [time.Time.UnmarshalJSON] accepts (RFC 3339
// between quotes, escapes not decoded) and are kept in UTC, and null stands
// for the zero value, a nil list in failed, and a missing
// timestamp_reset_root. What encoding/json let through and decodeState
// refuses (encodeState never writes any of it):
//   - an object with a key twice, escapes decoded: encoding/json kept the
//     last value (or merged two maps), so two readers of one state file
//     could disagree on what is trusted;
//   - a field name in another case ("Roles", "ſha256"), which encoding/json
//     matched case-insensitively;
//   - invalid UTF-8 and escapes of lone UTF-16 surrogates, which
//     encoding/json replaced with U+FFFD, and -0.
func decodeState(data []byte) (*State, error) {
	s, err := readState(data)
	if err != nil {
		if v, ok := findFormat(data); ok {
			if ferr := checkFormat(v); ferr != nil {
				return nil, ferr
			}
		}
		return nil, err
	}
	return s, nil
}

func checkFormat(v int64) error {
	if v != formatVersion && v != 1 {
		return fmt.Errorf("%w %d", errFormat, v)
	}
	return nil
}

// readState is decodeState without the search for a newer format version
// when the file can't be read.
func readState(data []byte) (*State, error) {
	d := &stateDecoder{b: data, text: string(data)}
	s := NewState()
	var format int64
	hasFormat, reset := false, false
	err := d.object(stateFields, func(name string) (err error) {
		switch name {
		case "format":
			hasFormat = !d.null()
			format, err = d.int()
		case "roles":
			err = entries(d, s.Roles, d.role)
		case "timestamp_reset_root":
			reset = !d.null()
			s.TimestampResetRoot, err = d.int()
		case "fast_forward_root":
			s.FastForwardRoot, err = d.int()
		case "last_time":
			s.LastTime, err = d.time()
		case "installed":
			err = entries(d, s.Installed, d.install)
		case "failed":
			err = entries(d, s.Failed, d.strings)
		case "audit_anchor":
			s.AuditAnchor, err = d.string()
		case "logs":
			err = entries(d, s.Logs, d.log)
		}
		return err
	})
	switch {
	case err != nil:
		return nil, err
	case d.space() != len(d.b):
		return nil, d.syntax("data after the state object")
	case !hasFormat:
		return nil, errNoFormat
	}
	if err := checkFormat(format); err != nil {
		return nil, err
	}
	if reset != (format == formatVersion) {
		return nil, fmt.Errorf("format %d: timestamp_reset_root is required in format %d only", format, formatVersion)
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	return s, nil
}

// findFormat returns the format version of a state file that may be of a
// newer format, looking at the members of its object only as far as needed
// to find where they end; false if there is none or it can't be read.
func findFormat(data []byte) (int64, bool) {
	d := &stateDecoder{b: data, text: string(data)}
	var format []byte
	err := d.object(nil, func(name string) (err error) {
		if name == "format" && format == nil {
			format, err = d.token()
			return err
		}
		return d.skip()
	})
	if err != nil || format == nil {
		return 0, false
	}
	v, err := cjson.Int(format)
	return v, err == nil
}

// stateDecoder reads the JSON of a state file from b[i:]. It reads the
// structure (objects, arrays, where a value ends) itself, and each string
// and integer through cjson, which checks them by the rules of JSON (and
// refuses what JSON readers disagree on: invalid UTF-8, lone surrogates,
// -0).
type stateDecoder struct {
	b    []byte
	text string // string(b), whose substrings are the strings without escapes
	i    int
	last int // where the last token began
}

func (d *stateDecoder) syntax(msg string) error {
	return fmt.Errorf("%w at offset %d: %s", cjson.ErrSyntax, d.i, msg)
}

// space skips JSON whitespace and returns where it ends.
func (d *stateDecoder) space() int {
	for d.i < len(d.b) && (d.b[d.i] == ' ' || d.b[d.i] == '\t' || d.b[d.i] == '\n' || d.b[d.i] == '\r') {
		d.i++
	}
	return d.i
}

// peek returns the next byte after whitespace, 0 at the end.
func (d *stateDecoder) peek() byte {
	if d.space(); d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

// consume skips c, the next byte after whitespace, and reports whether it
// was there.
func (d *stateDecoder) consume(c byte) bool {
	if d.peek() == c {
		d.i++
		return true
	}
	return false
}

// null reports whether the next value is null, without reading it.
func (d *stateDecoder) null() bool {
	return d.peek() == 'n' && bytes.HasPrefix(d.b[d.i:], []byte("null"))
}

// token reads a string, a number or a literal, and returns its bytes,
// unchecked but for the ends of a string and its raw control characters
// (which JSON does not allow, and cjson takes from input that is in its
// canonical form).
func (d *stateDecoder) token() ([]byte, error) {
	c := d.peek()
	start := d.i
	d.last = start
	switch {
	case c == '"':
		for d.i++; d.i < len(d.b); d.i++ {
			switch c := d.b[d.i]; {
			case c == '\\':
				d.i++
			case c == '"':
				d.i++
				return d.b[start:d.i], nil
			case c < ' ':
				return nil, d.syntax("control character in a string")
			}
		}
		return nil, d.syntax("unterminated string")
	case c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z':
		for ; d.i < len(d.b); d.i++ {
			if c := d.b[d.i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '+' || c == '.') {
				break
			}
		}
		return d.b[start:d.i], nil
	case d.i == len(d.b):
		return nil, d.syntax("unexpected end of input")
	}
	return nil, d.syntax(fmt.Sprintf("unexpected %q", d.b[d.i]))
}

// skip reads a value of any kind, checking only that it ends.
func (d *stateDecoder) skip() error {
	depth := 0
	for {
		switch d.peek() {
		case '{', '[':
			depth++
			d.i++
		case '}', ']':
			depth--
			d.i++
		case ',', ':':
			if depth == 0 {
				return d.syntax("unexpected separator")
			}
			d.i++
			continue
		default:
			if _, err := d.token(); err != nil {
				return err
			}
		}
		if depth <= 0 {
			if depth < 0 {
				return d.syntax("unbalanced brackets")
			}
			return nil
		}
	}
}

// object reads an object, or null (no members). For each member it decodes
// the key and calls fn, which must read the value. With names, the object
// is a struct: every key must be one of names (errUnknownField), once
// (errDuplicateKey). With nil names any key goes.
func (d *stateDecoder) object(names []string, fn func(key string) error) error {
	if d.null() {
		d.i += len("null")
		return nil
	}
	if !d.consume('{') {
		return d.syntax("want an object")
	}
	if d.consume('}') {
		return nil
	}
	var seen uint64
	for {
		tok, err := d.token()
		if err != nil {
			return err
		}
		if tok[0] != '"' {
			return d.syntax("want a key")
		}
		key, err := d.decode(tok)
		if err != nil {
			return err
		}
		if names != nil {
			i := slices.Index(names, key)
			switch {
			case i < 0:
				return fmt.Errorf("%w %q", errUnknownField, key)
			case seen&(1<<i) != 0:
				return fmt.Errorf("%w %q", errDuplicateKey, key)
			}
			seen |= 1 << i
		}
		if !d.consume(':') {
			return d.syntax("want a colon")
		}
		switch err := fn(key); {
		case err == errDuplicateKey:
			return fmt.Errorf("%w %q", errDuplicateKey, key)
		case err != nil:
			return fmt.Errorf("%q: %w", key, err)
		}
		if d.consume(',') {
			continue
		}
		if d.consume('}') {
			return nil
		}
		return d.syntax("want a comma or a closing brace")
	}
}

// entries reads an object, or null, into the map m, each value with read;
// a key that m holds already is refused.
func entries[V any](d *stateDecoder, m map[string]V, read func() (V, error)) error {
	return d.object(nil, func(key string) error {
		if _, dup := m[key]; dup {
			return errDuplicateKey
		}
		v, err := read()
		m[key] = v
		return err
	})
}

func (d *stateDecoder) role() (r RoleRecord, err error) {
	err = d.object(roleFields, func(name string) (err error) {
		switch name {
		case "version":
			r.Version, err = d.int()
		case "sha256":
			r.SHA256, err = d.string()
		case "length":
			r.Length, err = d.int()
		case "root":
			r.Root, err = d.int()
		}
		return err
	})
	return r, err
}

func (d *stateDecoder) install() (in Install, err error) {
	err = d.object(installFields, func(name string) (err error) {
		switch name {
		case "version":
			in.Version, err = d.string()
		case "sha256":
			in.SHA256, err = d.string()
		case "time":
			in.Time, err = d.time()
		}
		return err
	})
	return in, err
}

func (d *stateDecoder) log() (cp LogCheckpoint, err error) {
	err = d.object(logFields, func(name string) (err error) {
		switch name {
		case "size":
			cp.Size, err = d.int()
		case "hash":
			cp.Hash, err = d.string()
		case "note":
			cp.Note, err = d.string()
		case "verified":
			cp.Verified, err = d.time()
		}
		return err
	})
	return cp, err
}

// int reads an integer in the range of int64; null is 0.
func (d *stateDecoder) int() (int64, error) {
	tok, err := d.token()
	switch {
	case err != nil:
		return 0, err
	case string(tok) == "null":
		return 0, nil
	}
	return cjson.Int(tok)
}

// string reads a string; null is "".
func (d *stateDecoder) string() (string, error) {
	tok, err := d.token()
	switch {
	case err != nil:
		return "", err
	case string(tok) == "null":
		return "", nil
	case tok[0] != '"':
		return "", d.syntax("want a string")
	}
	return d.decode(tok)
}

// decode returns the string that tok, the string token just read, stands
// for. Without escapes that is a substring of d.text: the strings of a state
// file share one allocation.
func (d *stateDecoder) decode(tok []byte) (string, error) {
	if bytes.IndexByte(tok, '\\') < 0 && cjson.IsCanonical(tok) {
		return d.text[d.last+1 : d.last+len(tok)-1], nil
	}
	return cjson.String(tok)
}

// strings reads an array of strings; null is a nil slice.
func (d *stateDecoder) strings() ([]string, error) {
	if d.null() {
		d.i += len("null")
		return nil, nil
	}
	if !d.consume('[') {
		return nil, d.syntax("want an array")
	}
	out := []string{}
	if d.consume(']') {
		return out, nil
	}
	for {
		s, err := d.string()
		if err != nil {
			return nil, err
		}
		out = append(out, s)
		if d.consume(',') {
			continue
		}
		if d.consume(']') {
			return out, nil
		}
		return nil, d.syntax("want a comma or a closing bracket")
	}
}

// time reads a time as encoding/json did, with [time.Time.UnmarshalJSON]
// (null is the zero time), in UTC.
func (d *stateDecoder) time() (time.Time, error) {
	var t time.Time
	tok, err := d.token()
	if err == nil {
		err = t.UnmarshalJSON(tok)
	}
	return t.UTC(), err
}
