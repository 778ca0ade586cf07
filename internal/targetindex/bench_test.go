package targetindex

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// benchIndex is 16 MiB of random bytes (about a 100,000-target
// targets.json) and their index, with a lookup table of 1 MiB.
func benchIndex(b *testing.B) ([]byte, []byte, Binding) {
	b.Helper()
	data := make([]byte, 16<<20)
	rand.NewChaCha8([32]byte{}).Read(data)
	bind := Binding{Length: int64(len(data)), SHA256: sha256.Sum256(data), Version: 1, Root: 1}
	slots := make([]uint32, 1<<18)
	lay := Layout{SignedLen: int64(len(data)), TargetsOff: 1, TargetsLen: int64(len(data)) - 2, Canonical: true, Entries: 1 << 17, Slots: 1 << 18}
	return data, Encode(data, nil, bind, lay, slots, make([]uint32, 1<<17)), bind
}

// BenchmarkOpen times what a warm start does first: read and check the
// header of the index.
func BenchmarkOpen(b *testing.B) {
	data, idx, bind := benchIndex(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Open(bytes.NewReader(idx), bytes.NewReader(data), bind); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadFirst times reads of 200 bytes at random offsets on an
// index just opened, as lookups after a warm start read entries: 4,096 of
// them (most the first of their chunks) or 65,536 (which read most of the
// file). BenchmarkReadRepeat times the 4,096 once their chunks were checked.
// The files are read as a client reads them, each read a system call.
// ns/read is per read; an op is every read of one index.
func BenchmarkReadFirst(b *testing.B) {
	for _, n := range []int{4096, 65536} {
		b.Run(fmt.Sprint(n), func(b *testing.B) { benchRead(b, n, false) })
	}
}

func BenchmarkReadRepeat(b *testing.B) { benchRead(b, 4096, true) }

func benchRead(b *testing.B, n int, repeat bool) {
	data, idx, bind := benchIndex(b)
	// Reads at random offsets, the same whatever the chunk size.
	r := rand.New(rand.NewChaCha8([32]byte{1}))
	offs := make([]int64, n)
	for i := range offs {
		offs[i] = r.Int64N(int64(len(data)) - 200)
	}
	dir := b.TempDir()
	dataPath, idxPath := filepath.Join(dir, "targets.json"), filepath.Join(dir, "targets.index")
	if err := os.WriteFile(dataPath, data, 0o600); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(idxPath, idx, 0o600); err != nil {
		b.Fatal(err)
	}
	open := func() *Index {
		df, err := OpenFile(dataPath)
		if err != nil {
			b.Fatal(err)
		}
		xf, err := OpenFile(idxPath)
		if err != nil {
			b.Fatal(err)
		}
		ix, err := Open(xf, df, bind)
		if err != nil {
			b.Fatal(err)
		}
		return ix
	}
	read := func(ix *Index) {
		for _, off := range offs {
			if _, err := ix.Data.Bytes(off, 200); err != nil {
				b.Fatal(err)
			}
		}
	}
	ix := open()
	if repeat {
		read(ix)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if !repeat {
			b.StopTimer()
			ix = open()
			b.StartTimer()
		}
		read(ix)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/read")
}
