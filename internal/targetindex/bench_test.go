package targetindex

import (
	"bytes"
	"crypto/sha256"
	"math/rand/v2"
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

// BenchmarkReadFirst times 4,096 reads of 200 bytes at random offsets on
// an index just opened (as lookups after a warm start read entries), most
// of them the first of their chunks, and BenchmarkReadRepeat the same reads
// once their chunks were checked. ns/op is per read; run with
// -benchtime=4096x for one index per run.
func BenchmarkReadFirst(b *testing.B) { benchRead(b, false) }

func BenchmarkReadRepeat(b *testing.B) { benchRead(b, true) }

func benchRead(b *testing.B, repeat bool) {
	data, idx, bind := benchIndex(b)
	// 4,096 reads at random offsets, the same whatever the chunk size.
	r := rand.New(rand.NewChaCha8([32]byte{1}))
	offs := make([]int64, 4096)
	for i := range offs {
		offs[i] = r.Int64N(int64(len(data)) - 200)
	}
	open := func() *Index {
		ix, err := Open(bytes.NewReader(idx), bytes.NewReader(data), bind)
		if err != nil {
			b.Fatal(err)
		}
		return ix
	}
	ix := open()
	if repeat {
		for _, off := range offs {
			if _, err := ix.Data.Bytes(off, 200); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%len(offs) == 0 && i > 0 && !repeat {
			b.StopTimer()
			ix = open()
			b.StartTimer()
		}
		if _, err := ix.Data.Bytes(offs[i%len(offs)], 200); err != nil {
			b.Fatal(err)
		}
	}
}
