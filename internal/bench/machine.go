package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
)

// machineInfo is where the benchmark ran, and what it ran (Commit, which
// String leaves out). Fields this system doesn't tell are empty.
type machineInfo struct {
	CPU        string `json:"cpu"`
	CPUs       int    `json:"cpus"`
	Memory     int64  `json:"memory_bytes"`
	OS         string `json:"os"` // GOOS/GOARCH and the kernel release
	Go         string `json:"go"`
	Commit     string `json:"commit"`     // of the working directory, "+changes" if it has uncommitted ones
	Filesystem string `json:"filesystem"` // of the directory the clients write to
}

func (m machineInfo) String() string {
	parts := []string{}
	if m.CPU != "" {
		parts = append(parts, m.CPU)
	}
	parts = append(parts, fmt.Sprintf("%d CPUs", m.CPUs))
	if m.Memory > 0 {
		parts = append(parts, fmt.Sprintf("%.0f GiB", float64(m.Memory)/(1<<30)))
	}
	parts = append(parts, m.OS)
	if m.Filesystem != "" {
		parts = append(parts, m.Filesystem)
	}
	parts = append(parts, m.Go)
	return strings.Join(parts, ", ")
}

// machine describes this machine, the checkout the benchmark runs from and
// the filesystem of dir.
func machine(dir string) machineInfo {
	m := machineInfo{CPUs: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version(), Commit: commit()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPU = procField(b, "model name")
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		kib, err := strconv.ParseInt(strings.TrimSuffix(procField(b, "MemTotal"), " kB"), 10, 64)
		if err == nil {
			m.Memory = kib << 10
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.OS += " " + strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/mounts"); err == nil {
		m.Filesystem = mountType(b, dir)
	}
	return m
}

// loadAverage is the system's load average over the last minute, from
// /proc/loadavg; ok is false where there is none.
func loadAverage() (float64, bool) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, false
	}
	l, err := strconv.ParseFloat(f[0], 64)
	return l, err == nil
}

// procField returns the value of the first "key: value" line of a /proc
// file with this key.
func procField(b []byte, key string) string {
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// mountType returns the filesystem type of the longest mount point of
// /proc/mounts that holds dir.
func mountType(mounts []byte, dir string) string {
	if d, err := filepath.EvalSymlinks(dir); err == nil {
		dir = d
	}
	best, typ := "", ""
	for _, l := range strings.Split(string(mounts), "\n") {
		f := strings.Fields(l)
		if len(f) < 3 {
			continue
		}
		mp := f[1]
		inside := mp == "/" || dir == mp || strings.HasPrefix(dir, mp+"/")
		if inside && len(mp) >= len(best) {
			best, typ = mp, f[2]
		}
	}
	return typ
}

// commit names the checkout the benchmark runs from: git's short hash, with
// "+changes" when tracked files differ from it. Without git it falls back on
// what the go command stamped into the binary, if anything.
func commit() string {
	out, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return stampedCommit()
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err != nil || len(bytes.TrimSpace(st)) > 0 {
		c += "+changes"
	}
	return c
}

func stampedCommit() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	c, changes := "unknown", ""
	for _, s := range info.Settings {
		switch {
		case s.Key == "vcs.revision":
			c = s.Value[:min(12, len(s.Value))]
		case s.Key == "vcs.modified" && s.Value == "true":
			changes = "+changes"
		}
	}
	return c + changes
}
