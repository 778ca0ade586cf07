//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package main

import (
	"bytes"
	"os"
	"runtime"
	"strconv"
	"syscall"
)

// maxRSS is the peak resident set size of a finished child in bytes
// (getrusage ru_maxrss: KiB on Linux and the BSDs, bytes on macOS).
func maxRSS(ps *os.ProcessState) int64 {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return int64(ru.Maxrss)
	}
	return int64(ru.Maxrss) << 10
}

// selfPeakRSS is this process's own peak RSS in bytes (VmHWM; Linux only,
// else 0). A child's ru_maxrss is never below it: until exec the child runs
// in its parent's memory.
func selfPeakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(l, []byte("VmHWM:")); ok {
			kib, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(v), []byte("kB")))), 10, 64)
			if err != nil {
				return 0
			}
			return kib << 10
		}
	}
	return 0
}

// flushDisk writes the data of earlier children to disk before the next
// starts: a child that wrote a large cache without fsync (go-tuf does)
// leaves the kernel writing it back for seconds, and the child measured
// then would pay for it.
func flushDisk() { syscall.Sync() }
