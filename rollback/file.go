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
// short by a crash are removed. The state itself is read by Load and Save,
// so a corrupt state file is reported there, and never overwritten.
func OpenFileStore(dir string) (*FileStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("rollback: open store: %w", err)
	}
	f, id, err := lockDir(filepath.Join(dir, lockName))
	if err != nil {
		return nil, err
	}
	fst := &FileStore{dir: dir, path: filepath.Join(dir, stateName), lock: f, lockID: id}
	if err := fst.removeTemps(); err != nil {
		return nil, errors.Join(err, fst.Close())
	}
	return fst, nil
}

// lockDir opens and locks the lock file at path, records this process in
// it and in held, and returns it with its identity. A lock file this
// process holds already is not opened a second time: with fcntl-style
// locks, closing that second descriptor would release the first one's
// lock.
func lockDir(path string) (*os.File, fs.FileInfo, error) {
	held.Lock()
	defer held.Unlock()
	isHeld := func(fi fs.FileInfo) bool {
		return slices.ContainsFunc(held.files, func(h fs.FileInfo) bool { return os.SameFile(h, fi) })
	}
	if fi, err := os.Stat(path); err == nil && isHeld(fi) {
		me := self()
		return nil, nil, &LockedError{Path: path, PID: me.pid, Program: me.program, Err: ErrLocked}
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("rollback: open store: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("rollback: open store: %w", err)
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
		return nil, nil, err
	}
	if _, err := f.WriteAt(self().record(), 0); err != nil {
		return nil, nil, errors.Join(fmt.Errorf("rollback: %s: recording the holder: %w", path, err), unlockFile(f), f.Close())
	}
	held.files = append(held.files, fi)
	return f, fi, nil
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
	data, err := os.ReadFile(f.path)
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
	errNoFormat     = errors.New("no format version")
)

// decodeState parses a state file strictly: the format version first, so
// that a newer format is reported as such, then every member, with no
// unknown fields and nothing after the object, then the records' validity.
//
// It reads the stateFile form by hand, as encoding/json did before, without
// its reflection (costly in a new process, where every warm start reads
// this file): names match exactly, integers are int64 without fraction or
// exponent, times are what [time.Time.UnmarshalJSON] accepts (RFC 3339
// between quotes, escapes not decoded) and are kept in UTC, and null stands
// for the zero value, a nil list in failed, and a missing
// timestamp_reset_root. What encoding/json let through and decodeState
// refuses (encodeState never writes any of it):
//   - an object with a key twice, at any depth, escapes decoded:
//     encoding/json kept the last value (or merged two maps), so two readers
//     of one state file could disagree on what is trusted;
//   - a field name in another case ("Roles", "ſha256"), which encoding/json
//     matched case-insensitively;
//   - invalid UTF-8 and escapes of lone UTF-16 surrogates, which
//     encoding/json replaced with U+FFFD, and -0.
func decodeState(data []byte) (*State, error) {
	// cjson takes input already in its canonical form (which TUF signs) as
	// it is, raw control characters in strings included; JSON has none.
	if t := bytes.Trim(data, " \t\r\n"); cjson.IsCanonical(t) && slices.ContainsFunc(t, func(c byte) bool { return c < ' ' }) {
		return nil, fmt.Errorf("%w: raw control character in a string", cjson.ErrSyntax)
	}
	var format []byte
	err := cjson.Members(data, func(key string, v []byte) error {
		if key == "format" && !isNull(v) {
			format = v
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if format == nil {
		return nil, errNoFormat
	}
	version, err := cjson.Int(format)
	if err != nil {
		return nil, fmt.Errorf("format: %w", err)
	}
	if version != formatVersion && version != 1 {
		return nil, fmt.Errorf("unknown format version %d", version)
	}
	s := NewState()
	reset := false
	err = members(bytes.TrimLeft(data, " \t\r\n"), func(name, v []byte) (err error) {
		switch string(name) {
		case "format":
		case "roles":
			err = members(v, func(role, v []byte) (err error) {
				s.Roles[string(role)], err = decodeRole(v)
				return err
			})
		case "timestamp_reset_root":
			reset = !isNull(v)
			s.TimestampResetRoot, err = jsonInt(v)
		case "fast_forward_root":
			s.FastForwardRoot, err = jsonInt(v)
		case "last_time":
			s.LastTime, err = jsonTime(v)
		case "installed":
			err = members(v, func(app, v []byte) (err error) {
				s.Installed[string(app)], err = decodeInstall(v)
				return err
			})
		case "failed":
			err = members(v, func(app, v []byte) (err error) {
				s.Failed[string(app)], err = jsonStrings(v)
				return err
			})
		case "audit_anchor":
			s.AuditAnchor, err = jsonString(v)
		case "logs":
			err = members(v, func(origin, v []byte) (err error) {
				s.Logs[string(origin)], err = decodeLog(v)
				return err
			})
		default:
			return errUnknownField
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if reset != (version == formatVersion) {
		return nil, fmt.Errorf("format %d: timestamp_reset_root is required in format %d only", version, formatVersion)
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	return s, nil
}

func decodeRole(v []byte) (r RoleRecord, err error) {
	err = members(v, func(name, v []byte) (err error) {
		switch string(name) {
		case "version":
			r.Version, err = jsonInt(v)
		case "sha256":
			r.SHA256, err = jsonString(v)
		case "length":
			r.Length, err = jsonInt(v)
		case "root":
			r.Root, err = jsonInt(v)
		default:
			return errUnknownField
		}
		return err
	})
	return r, err
}

func decodeInstall(v []byte) (in Install, err error) {
	err = members(v, func(name, v []byte) (err error) {
		switch string(name) {
		case "version":
			in.Version, err = jsonString(v)
		case "sha256":
			in.SHA256, err = jsonString(v)
		case "time":
			in.Time, err = jsonTime(v)
		default:
			return errUnknownField
		}
		return err
	})
	return in, err
}

func decodeLog(v []byte) (cp LogCheckpoint, err error) {
	err = members(v, func(name, v []byte) (err error) {
		switch string(name) {
		case "size":
			cp.Size, err = jsonInt(v)
		case "hash":
			cp.Hash, err = jsonString(v)
		case "note":
			cp.Note, err = jsonString(v)
		case "verified":
			cp.Verified, err = jsonTime(v)
		default:
			return errUnknownField
		}
		return err
	})
	return cp, err
}

// members calls fn for each member of v, a JSON object that cjson
// validated, or null (no members), with the member's decoded key. fn
// returns errUnknownField for a key it does not know. An error names the
// key.
func members(v []byte, fn func(key, v []byte) error) error {
	if isNull(v) {
		return nil
	}
	if v[0] != '{' {
		return errors.New("not an object")
	}
	return cjson.MembersValid(v, func(_ int, key, v []byte) error {
		if bytes.IndexByte(key, '\\') >= 0 {
			key = []byte(cjson.DecodeKey(key))
		}
		switch err := fn(key, v); {
		case err == errUnknownField:
			return fmt.Errorf("%w %q", errUnknownField, key)
		case err != nil:
			return fmt.Errorf("%q: %w", key, err)
		}
		return nil
	})
}

func isNull(v []byte) bool { return string(v) == "null" }

func jsonInt(v []byte) (int64, error) {
	if isNull(v) {
		return 0, nil
	}
	return cjson.Int(v)
}

func jsonString(v []byte) (string, error) {
	if isNull(v) {
		return "", nil
	}
	return cjson.String(v)
}

// jsonStrings decodes an array of strings; null is a nil slice.
func jsonStrings(v []byte) ([]string, error) {
	if isNull(v) {
		return nil, nil
	}
	if v[0] != '[' {
		return nil, errors.New("not an array")
	}
	out := []string{}
	err := cjson.ElementsValid(v, func(e []byte) error {
		s, err := jsonString(e)
		out = append(out, s)
		return err
	})
	return out, err
}

// jsonTime decodes a time as encoding/json did, with
// [time.Time.UnmarshalJSON], in UTC.
func jsonTime(v []byte) (time.Time, error) {
	var t time.Time
	err := t.UnmarshalJSON(v)
	return t.UTC(), err
}
