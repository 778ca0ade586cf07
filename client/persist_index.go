package client

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/latchsec/latch/internal/atomicfile"
	"github.com/latchsec/latch/internal/targetindex"
	"github.com/latchsec/latch/metadata"
	"github.com/latchsec/latch/rollback"
)

// indexPath is where the index of the cached top-level targets metadata is
// kept in the state directory dir (package internal/targetindex): beside
// the trusted state.
func indexPath(dir string) string {
	return filepath.Join(dir, stateSubdir, "targets.index")
}

// binding is what an index of the bytes rec records must name.
func binding(rec rollback.RoleRecord) (targetindex.Binding, bool) {
	d, err := hex.DecodeString(rec.SHA256)
	if err != nil || len(d) != sha256.Size {
		return targetindex.Binding{}, false
	}
	return targetindex.Binding{Length: rec.Length, SHA256: [sha256.Size]byte(d), Version: rec.Version, Root: rec.Root}, true
}

// writeIndex keeps the index of t, just verified from data and persisted,
// beside the trusted state, so that the next start reads only what it uses
// of the cache (reopenTargets). It is derived data: a failure costs speed,
// not safety, and is only logged.
//
// It is called right after keep recorded the bytes: the record's SHA-256 is
// theirs, and hashing them again would cost as much as the index saves. It
// may be written before that record is saved: an index that names another
// record than the saved one is ignored. A start that verified the cache in
// full, the index being unusable, writes it too.
func (d *stateDir) writeIndex(t *metadata.Targets, data, chunks []byte) {
	if d.unlocked != nil {
		return // an Offline view doesn't hold the state directory: it writes nothing
	}
	rec, _ := d.record(metadata.RoleTargets)
	b, ok := binding(rec)
	if !ok || rec.Version != t.Version() || rec.Length != int64(len(data)) {
		return
	}
	lay, slots, offsets, err := targetindex.Build(t, data)
	if err == nil {
		// Derived data whose every byte is checked before use: a crash that
		// loses or tears it costs one full verification, less than fsyncs.
		err = atomicfile.WriteFileUnsynced(indexPath(d.dir), targetindex.Encode(data, chunks, b, lay, slots, offsets), 0o600)
	}
	if err != nil {
		d.log.Warn("targets index not written; the next start verifies the cache in full", "err", err)
	}
}

// cachedTargets is top-level targets metadata reopened from the cache
// through its index: read, chunk by chunk, as lookups need it.
type cachedTargets struct {
	rec rollback.RoleRecord
	ix  *targetindex.Index
	// broken: a lookup found a chunk that no longer matches; the next
	// Refresh fetches the document again.
	broken atomic.Bool
}

// reopenTargets reopens the cached top-level targets metadata through its
// index, without a second signature check, if the trusted state records
// that the keys of root (the version of the current root) verified exactly
// those bytes and the index names that record (docs/decisions.md, "The
// local disk"). No error and no document means the index doesn't apply
// (another root). It only reads.
func (d *stateDir) reopenTargets(rec rollback.RoleRecord, root int64) (*metadata.Targets, *cachedTargets, error) {
	b, ok := binding(rec)
	if rec.Root == 0 || rec.Root != root || !ok {
		return nil, nil, nil
	}
	idx, err := targetindex.OpenFile(indexPath(d.dir))
	if err != nil {
		return nil, nil, err
	}
	var data targetindex.File
	if d.unlocked != nil {
		// An offline view read the file whole, beside the trusted state.
		cached, ok := d.unlocked[metadata.RoleTargets]
		if !ok {
			return nil, nil, nil
		}
		data = bytes.NewReader(cached)
	} else {
		p, err := d.cachePath(metadata.RoleTargets)
		if err != nil {
			return nil, nil, err
		}
		if data, err = targetindex.OpenFile(p); err != nil {
			return nil, nil, err
		}
	}
	ix, err := targetindex.Open(idx, data, b)
	if err != nil {
		return nil, nil, err
	}
	doc, err := targetindex.Reopen(ix, metadata.RoleTargets)
	if err != nil {
		return nil, nil, err
	}
	t := doc.(*metadata.Targets)
	if t.Version() != rec.Version {
		return nil, nil, fmt.Errorf("index names targets v%d, the document is v%d", rec.Version, t.Version())
	}
	return t, &cachedTargets{rec: rec, ix: ix}, nil
}

// staged is the cache file of a large document, hashed and written to a
// hidden temporary file beside the cache on the other cores while the
// document is verified: once it is, keeping it is a rename. Nothing
// reads the temporary file, and a document that fails a check has it
// removed (the cache file itself only ever holds verified bytes).
type staged struct {
	path   string
	done   chan struct{} // closed when the fields below are set
	sum    [sha256.Size]byte
	chunks []byte // the chunk hashes of the targets index, for top-level targets
	file   *atomicfile.File
	err    error
}

// stageMin is the size from which staging saves more than it costs.
const stageMin = 1 << 20

// stage starts staging data as the cache file of role; nil for a small
// document.
func (d *stateDir) stage(role string, data []byte) *staged {
	p, err := d.cachePath(role)
	if len(data) < stageMin || err != nil {
		return nil
	}
	st := &staged{path: p, done: make(chan struct{})}
	var wg sync.WaitGroup
	wg.Go(func() {
		f, err := atomicfile.CreateTemp(filepath.Dir(p), filepath.Base(p)+"-*")
		if err == nil {
			if _, err = f.Write(data); err == nil {
				if err = f.Chmod(0o644); err == nil {
					err = f.Sync()
				}
			}
			if err != nil {
				err = errors.Join(err, f.Abort())
			}
		}
		st.file, st.err = f, err
	})
	wg.Go(func() {
		if role == metadata.RoleTargets {
			st.chunks = targetindex.ChunkSums(data)
		}
		st.sum = sha256.Sum256(data)
	})
	go func() {
		wg.Wait()
		close(st.done)
	}()
	return st
}

// commit renames the staged file into place.
func (st *staged) commit() error { return st.file.Commit(st.path) }

// abort removes the staged file; nil does nothing.
func (st *staged) abort() {
	if st == nil {
		return
	}
	<-st.done
	if st.err == nil {
		_ = st.file.Abort() // nothing reads the temporary file, whatever becomes of it
	}
}
