package verify_test

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"io"
	"testing"

	"github.com/latchsec/latch/verify"
)

var (
	hashData   = bytes.Repeat([]byte("latch target bytes "), 1000)
	hashLen    = int64(len(hashData))
	sha256Good = func() []byte { s := sha256.Sum256(hashData); return s[:] }()
	sha512Good = func() []byte { s := sha512.Sum512(hashData); return s[:] }()
	sha256Bad  = func() []byte { s := sha256.Sum256([]byte("other")); return s[:] }()
	sha512Bad  = func() []byte { s := sha512.Sum512([]byte("other")); return s[:] }()
)

func newHashWriter(t *testing.T, length int64, hashes map[string][]byte) *verify.HashWriter {
	t.Helper()
	w, err := verify.NewHashWriter(length, hashes)
	if err != nil {
		t.Fatalf("NewHashWriter: %v", err)
	}
	return w
}

// writeChunks writes data in chunks of n bytes and fails on any error.
func writeChunks(t *testing.T, w io.Writer, data []byte, n int) {
	t.Helper()
	for len(data) > 0 {
		c := data[:min(n, len(data))]
		if m, err := w.Write(c); err != nil || m != len(c) {
			t.Fatalf("Write = %d, %v; want %d, nil", m, err, len(c))
		}
		data = data[len(c):]
	}
}

func TestHashWriterExact(t *testing.T) {
	for _, hashes := range []map[string][]byte{
		{"sha256": sha256Good},
		{"sha512": sha512Good},
		{"sha256": sha256Good, "sha512": sha512Good},
		{"sha256": sha256Good, "md5": {1, 2, 3}, "blake2b-256": nil},
	} {
		w := newHashWriter(t, hashLen, hashes)
		writeChunks(t, w, hashData, 777)
		if w.Written() != hashLen {
			t.Fatalf("Written = %d, want %d", w.Written(), hashLen)
		}
		if err := w.Verify(); err != nil {
			t.Fatalf("Verify with %d hashes: %v", len(hashes), err)
		}
	}
}

func TestHashWriterEmpty(t *testing.T) {
	empty := sha256.Sum256(nil)
	w := newHashWriter(t, 0, map[string][]byte{"sha256": empty[:]})
	if err := w.Verify(); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if n, err := w.Write([]byte{0}); n != 0 || !errors.Is(err, verify.ErrLengthMismatch) {
		t.Fatalf("Write past length 0 = %d, %v", n, err)
	}
}

func TestHashWriterShort(t *testing.T) {
	w := newHashWriter(t, hashLen, map[string][]byte{"sha256": sha256Good})
	writeChunks(t, w, hashData[:hashLen-1], 4096)
	err := w.Verify()
	var le *verify.LengthError
	if !errors.As(err, &le) || !errors.Is(err, verify.ErrLengthMismatch) {
		t.Fatalf("Verify = %v, want a *LengthError", err)
	}
	if le.Want != hashLen || le.Got != hashLen-1 {
		t.Errorf("LengthError = %+v, want Want %d Got %d", le, hashLen, hashLen-1)
	}
}

// The correct data followed by extra bytes fails although the first length
// bytes hash correctly, and the extra bytes are never hashed.
func TestHashWriterLong(t *testing.T) {
	w := newHashWriter(t, hashLen, map[string][]byte{"sha256": sha256Good})
	writeChunks(t, w, hashData[:hashLen-10], 1000)

	n, err := w.Write(append(hashData[hashLen-10:], "evil"...))
	var le *verify.LengthError
	if !errors.As(err, &le) || !errors.Is(err, verify.ErrLengthMismatch) {
		t.Fatalf("crossing Write = %d, %v; want a *LengthError", n, err)
	}
	if n != 10 || w.Written() != hashLen {
		t.Fatalf("crossing Write = %d, Written = %d; want 10, %d", n, w.Written(), hashLen)
	}
	if le.Want != hashLen || le.Got != hashLen+4 {
		t.Errorf("LengthError = %+v, want Want %d Got %d", le, hashLen, hashLen+4)
	}

	n, err = w.Write([]byte("more"))
	if n != 0 || !errors.Is(err, verify.ErrLengthMismatch) {
		t.Fatalf("Write after the limit = %d, %v", n, err)
	}
	if w.Written() != hashLen {
		t.Fatalf("Written = %d after the limit", w.Written())
	}
	err = w.Verify()
	if !errors.As(err, &le) || le.Got != hashLen+8 {
		t.Fatalf("Verify = %v, want a *LengthError with Got %d", err, hashLen+8)
	}
}

func TestHashWriterMismatch(t *testing.T) {
	tests := []struct {
		name    string
		hashes  map[string][]byte
		wantAlg string
		wantGot []byte
	}{
		{"sha256 wrong", map[string][]byte{"sha256": sha256Bad}, "sha256", sha256Good},
		{"sha512 wrong", map[string][]byte{"sha512": sha512Bad}, "sha512", sha512Good},
		{"sha256 right, sha512 wrong", map[string][]byte{"sha256": sha256Good, "sha512": sha512Bad}, "sha512", sha512Good},
		{"sha256 wrong, sha512 right", map[string][]byte{"sha256": sha256Bad, "sha512": sha512Good}, "sha256", sha256Good},
		{"unknown ignored, sha256 wrong", map[string][]byte{"md5": {1}, "sha256": sha256Bad}, "sha256", sha256Good},
		{"truncated digest", map[string][]byte{"sha256": sha256Good[:16]}, "sha256", sha256Good},
		{"empty digest", map[string][]byte{"sha512": {}}, "sha512", sha512Good},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newHashWriter(t, hashLen, tt.hashes)
			writeChunks(t, w, hashData, 1<<20)
			err := w.Verify()
			var he *verify.HashError
			if !errors.As(err, &he) || !errors.Is(err, verify.ErrHashMismatch) {
				t.Fatalf("Verify = %v, want a *HashError", err)
			}
			if he.Algorithm != tt.wantAlg || !bytes.Equal(he.Got, tt.wantGot) || !bytes.Equal(he.Want, tt.hashes[tt.wantAlg]) {
				t.Errorf("HashError = %s %x want %x; want algorithm %s got %x", he.Algorithm, he.Got, he.Want, tt.wantAlg, tt.wantGot)
			}
		})
	}
}

func TestNewHashWriterRefuses(t *testing.T) {
	for _, hashes := range []map[string][]byte{
		nil,
		{},
		{"md5": {1}},
		{"SHA256": sha256Good, "sha-256": sha256Good, "blake2b": {1}},
	} {
		w, err := verify.NewHashWriter(hashLen, hashes)
		if w != nil || !errors.Is(err, verify.ErrNoSupportedHash) {
			t.Errorf("NewHashWriter(%v) = %v, %v; want ErrNoSupportedHash", hashes, w, err)
		}
	}
	w, err := verify.NewHashWriter(-1, map[string][]byte{"sha256": sha256Good})
	if w != nil || !errors.Is(err, verify.ErrInvalidLength) {
		t.Errorf("NewHashWriter(-1) = %v, %v; want ErrInvalidLength", w, err)
	}
}

// The expected digests are copied: the caller's map may change afterwards.
func TestHashWriterCopiesDigests(t *testing.T) {
	want := bytes.Clone(sha256Good)
	w := newHashWriter(t, hashLen, map[string][]byte{"sha256": want})
	want[0] ^= 1
	writeChunks(t, w, hashData, 1<<20)
	if err := w.Verify(); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

// A broken transfer resumes from Written with the same writer.
func TestHashWriterResume(t *testing.T) {
	w := newHashWriter(t, hashLen, map[string][]byte{"sha256": sha256Good, "sha512": sha512Good})
	var dst bytes.Buffer
	tee := w.Tee(&dst)
	writeChunks(t, tee, hashData[:5000], 1500)
	if err := w.Verify(); !errors.Is(err, verify.ErrLengthMismatch) {
		t.Fatalf("Verify mid-transfer = %v, want ErrLengthMismatch", err)
	}
	if _, err := io.Copy(tee, bytes.NewReader(hashData[w.Written():])); err != nil {
		t.Fatalf("resumed copy: %v", err)
	}
	if err := w.Verify(); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !bytes.Equal(dst.Bytes(), hashData) {
		t.Fatal("destination differs from the data")
	}
}

func TestTeeStopsAtLength(t *testing.T) {
	w := newHashWriter(t, hashLen, map[string][]byte{"sha256": sha256Good})
	var dst bytes.Buffer
	n, err := io.Copy(w.Tee(&dst), bytes.NewReader(append(bytes.Clone(hashData), "trailing attack bytes"...)))
	if !errors.Is(err, verify.ErrLengthMismatch) {
		t.Fatalf("io.Copy = %d, %v; want ErrLengthMismatch", n, err)
	}
	if !bytes.Equal(dst.Bytes(), hashData) {
		t.Fatalf("destination got %d bytes, want exactly the first %d", dst.Len(), hashLen)
	}
	if err := w.Verify(); !errors.Is(err, verify.ErrLengthMismatch) {
		t.Fatalf("Verify = %v, want ErrLengthMismatch", err)
	}
}

// faultyWriter accepts up to room bytes, then fails with err (or, with a nil
// err, reports a short write); report overrides the count it returns.
type faultyWriter struct {
	bytes.Buffer
	room   int
	err    error
	report *int
}

func (f *faultyWriter) Write(p []byte) (int, error) {
	n := min(len(p), f.room)
	f.room -= n
	f.Buffer.Write(p[:n])
	if f.report != nil {
		return *f.report, f.err
	}
	if n < len(p) {
		return n, f.err
	}
	return n, nil
}

// When the destination fails, the writer has hashed exactly what the
// destination took, so a resume from Written lines up with the file.
func TestTeeDestinationFails(t *testing.T) {
	diskFull := errors.New("disk full")
	for _, tt := range []struct {
		name string
		err  error
		want error
	}{
		{"error", diskFull, diskFull},
		{"short write", nil, io.ErrShortWrite},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newHashWriter(t, hashLen, map[string][]byte{"sha256": sha256Good})
			dst := &faultyWriter{room: 3000, err: tt.err}
			n, err := w.Tee(dst).Write(hashData[:4096])
			if n != 3000 || !errors.Is(err, tt.want) {
				t.Fatalf("Write = %d, %v; want 3000, %v", n, err, tt.want)
			}
			if w.Written() != int64(dst.Len()) {
				t.Fatalf("Written = %d, destination holds %d", w.Written(), dst.Len())
			}
			writeChunks(t, w.Tee(&dst.Buffer), hashData[w.Written():], 1<<16)
			if err := w.Verify(); err != nil {
				t.Fatalf("Verify after resume: %v", err)
			}
		})
	}
	t.Run("writer breaks the contract", func(t *testing.T) {
		w := newHashWriter(t, hashLen, map[string][]byte{"sha256": sha256Good})
		for _, report := range []int{-1, 5000} {
			dst := &faultyWriter{room: 4096, report: &report}
			n, err := w.Tee(dst).Write(hashData[:4096])
			if n != 0 || !errors.Is(err, io.ErrShortWrite) || w.Written() != 0 {
				t.Fatalf("Write reporting %d = %d, %v, Written %d; want 0, ErrShortWrite, 0", report, n, err, w.Written())
			}
		}
	})
}

func TestCheckBytes(t *testing.T) {
	tests := []struct {
		name   string
		length int64
		hashes map[string][]byte
		want   error
	}{
		{"length and hashes", hashLen, map[string][]byte{"sha256": sha256Good, "sha512": sha512Good}, nil},
		{"one hash", hashLen, map[string][]byte{"sha512": sha512Good}, nil},
		// Fail closed: nothing to check against is never a match.
		{"no hashes", hashLen, nil, verify.ErrNoSupportedHash},
		{"empty hashes", hashLen, map[string][]byte{}, verify.ErrNoSupportedHash},
		{"no length", -1, map[string][]byte{"sha512": sha512Good}, verify.ErrInvalidLength},
		{"nothing given", -1, nil, verify.ErrInvalidLength},
		{"unknown ignored", hashLen, map[string][]byte{"sha256": sha256Good, "sha3-256": {1}}, nil},
		{"short length", hashLen - 1, map[string][]byte{"sha256": sha256Good}, verify.ErrLengthMismatch},
		{"long length", hashLen + 1, map[string][]byte{"sha256": sha256Good}, verify.ErrLengthMismatch},
		{"length before hash", 0, map[string][]byte{"sha256": sha256Bad}, verify.ErrLengthMismatch},
		{"hash mismatch", hashLen, map[string][]byte{"sha256": sha256Good, "sha512": sha512Bad}, verify.ErrHashMismatch},
		{"only unknown", hashLen, map[string][]byte{"md5": {1}}, verify.ErrNoSupportedHash},
		{"only unknown, long length", hashLen + 1, map[string][]byte{"md5": {1}}, verify.ErrNoSupportedHash},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := verify.CheckBytes(hashData, tt.length, tt.hashes)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("CheckBytes = %v, want %v", err, tt.want)
			}
			var le *verify.LengthError
			if errors.As(err, &le) && (le.Want != tt.length || le.Got != hashLen) {
				t.Errorf("LengthError = %+v", le)
			}
			var he *verify.HashError
			if errors.As(err, &he) && he.Algorithm == "" {
				t.Errorf("HashError without algorithm: %+v", he)
			}
		})
	}
}

func BenchmarkHashWriter(b *testing.B) {
	chunk := bytes.Repeat([]byte{0x5a}, 1<<20)
	sum := sha256.Sum256(chunk)
	b.SetBytes(int64(len(chunk)))
	for b.Loop() {
		w, err := verify.NewHashWriter(int64(len(chunk)), map[string][]byte{"sha256": sum[:]})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := w.Write(chunk); err != nil {
			b.Fatal(err)
		}
		if err := w.Verify(); err != nil {
			b.Fatal(err)
		}
	}
}
