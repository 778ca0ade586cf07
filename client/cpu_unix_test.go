//go:build unix

package client_test

import (
	"syscall"
	"testing"
	"time"
)

// reportCPU starts measuring the CPU time this process uses; the function
// it returns reports it per iteration as cpu-ns/op. On a machine shared with
// other work the wall time per op swings with the load; CPU time much less.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() {
		b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
