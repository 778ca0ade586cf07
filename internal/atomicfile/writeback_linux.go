package atomicfile

import "golang.org/x/sys/unix"

// StartWriteback asks the kernel to start writing bytes [off, off+n) of the
// file to disk now, without waiting (sync_file_range with
// SYNC_FILE_RANGE_WRITE). A large streamed file that does this as it goes
// has little left for the fsync in Commit, which then no longer stalls for
// the whole file. It promises nothing about durability: Commit's fsync
// does.
func (f *File) StartWriteback(off, n int64) error {
	return unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
