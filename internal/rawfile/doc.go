// Package rawfile opens and reads the small files of a client's state
// directory with as few system calls as the platform allows.
//
// On Unix, os.Open and os.ReadFile first try to register a file with the
// network poller: for a regular file that costs four fcntl calls and an
// epoll_ctl that fails, beside the open, fstat, reads and close that do the
// work. A warm start opens about eight such files; on a virtual machine,
// where a system call is dear, the difference is measurable: `go test -run
// '^$' -bench ReadFile ./internal/rawfile` reads a small file both ways.
// Elsewhere the functions are those of package os.
//
// The files are the client's own: errors are *fs.PathError values, as from
// package os, so errors.Is(err, fs.ErrNotExist) works as before. ReadFile
// takes the most bytes its caller can use, and refuses a larger file
// without reading it into memory.
package rawfile
