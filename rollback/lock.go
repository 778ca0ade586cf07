package rollback

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The lock file holds one record, written by the holder right after it took
// the lock and blanked when it releases it: a newline, then
// "pid=<pid> program=<name>" padded with spaces to holderSize-1 bytes, the
// last a newline. The record always has the same length, so writing it
// never needs a truncate, and the first byte stays apart: on Windows the
// lock covers it, and another process can't read a locked range.
const holderSize = 128

// holder is who recorded itself in a lock file.
type holder struct {
	pid     int
	program string
}

// record returns h as the lock file's content; the zero holder is a blank
// record.
func (h holder) record() []byte {
	b := bytes.Repeat([]byte{' '}, holderSize)
	b[0], b[holderSize-1] = '\n', '\n'
	if h.pid > 0 {
		copy(b[1:holderSize-1], fmt.Sprintf("pid=%d program=%s", h.pid, h.program))
	}
	return b
}

// self is this process as a lock file records it.
func self() holder {
	var prog string
	if len(os.Args) > 0 {
		prog = programName(filepath.Base(os.Args[0]))
	}
	return holder{pid: os.Getpid(), program: prog}
}

// programName keeps the letters, digits and ".+_-" of name, at most 64 of
// them: the record is one line of bounded length, and what is read back
// from it is printed in error messages.
func programName(name string) string {
	name = strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', strings.ContainsRune(".+_-", r):
			return r
		}
		return -1
	}, name)
	return name[:min(len(name), 64)]
}

// readHolder returns the holder recorded in f, the zero holder if there is
// no valid record.
func readHolder(f *os.File) holder {
	b := make([]byte, holderSize-1)
	n, _ := f.ReadAt(b, 1) // a short or failed read leaves no valid record
	var h holder
	for _, field := range strings.Fields(string(b[:n])) {
		k, v, _ := strings.Cut(field, "=")
		switch k {
		case "pid":
			if pid, err := strconv.Atoi(v); err == nil && pid > 0 {
				h.pid = pid
			}
		case "program":
			h.program = programName(v)
		}
	}
	if h.pid == 0 {
		return holder{}
	}
	return h
}

// OpenFileStoreWait is [OpenFileStore], except that while another store
// holds dir it waits for the lock, checking again with growing pauses of up
// to a quarter of a second, until it is released or ctx is done. Then the
// error wraps both [ErrLocked] (a [*LockedError] naming the holder) and
// ctx's error.
func OpenFileStoreWait(ctx context.Context, dir string) (*FileStore, error) {
	pause := 10 * time.Millisecond
	for {
		f, err := OpenFileStore(dir)
		if !errors.Is(err, ErrLocked) {
			return f, err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w; stopped waiting: %w", err, context.Cause(ctx))
		case <-t.C:
		}
		pause = min(2*pause, 250*time.Millisecond)
	}
}
