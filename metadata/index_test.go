package metadata

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/latchsec/latch/internal/cjson"
	"github.com/latchsec/latch/internal/targetindex"
)

// indexedTargets returns a signed targets document with delegations and
// escaped keys, opened.
func indexedTargets(t *testing.T) ([]byte, *Targets) {
	t.Helper()
	targets := map[string]any{}
	for _, p := range []string{"a", "b/c", "z\"q", "back\\slash", "ö", "app/1.0/linux-amd64"} {
		targets[p] = targetEntry("content of " + p)
	}
	targets["a"].(map[string]any)["custom"] = map[string]any{"version": "1.0", "nested": map[string]any{"x": 1}, "text": "é/<>"}
	delegations := map[string]any{
		"keys":  map[string]any{keyTargets.id: keyTargets.json()},
		"roles": []any{map[string]any{"name": "team", "keyids": []string{keyTargets.id}, "threshold": 1, "terminating": false, "paths": []string{"team/*"}}},
	}
	// As received canonical: json.Marshal in sign escapes "<" and ">".
	doc, err := cjson.Canonicalize(sign(t, testTargets(targets, delegations), keyTargets))
	if err != nil {
		t.Fatal(err)
	}
	tg, err := OpenTargets(doc, targetsKeys(t))
	if err != nil {
		t.Fatal(err)
	}
	return doc, tg
}

// pretty returns doc indented (what most repositories publish), opened.
func pretty(t *testing.T, doc []byte) ([]byte, *Targets) {
	t.Helper()
	var b bytes.Buffer
	if err := json.Indent(&b, doc, "", "  "); err != nil {
		t.Fatal(err)
	}
	tg, err := OpenTargets(b.Bytes(), targetsKeys(t))
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), tg
}

// bindingOf is the record a client would keep of doc.
func bindingOf(doc []byte, version int64) targetindex.Binding {
	return targetindex.Binding{Length: int64(len(doc)), SHA256: sha256.Sum256(doc), Version: version, Root: 1}
}

// indexOf is the index a client writes for doc, just opened as tg.
func indexOf(t testing.TB, doc []byte, tg *Targets) []byte {
	t.Helper()
	lay, slots, offsets, err := targetindex.Build(tg, doc)
	if err != nil {
		t.Fatal(err)
	}
	return targetindex.Encode(doc, nil, bindingOf(doc, tg.Version()), lay, slots, offsets)
}

// reopen reopens doc through idx as a client does, from memory.
func reopen(doc, idx []byte, b targetindex.Binding) (*Targets, error) {
	ix, err := targetindex.Open(bytes.NewReader(idx), bytes.NewReader(doc), b)
	if err != nil {
		return nil, err
	}
	re, err := targetindex.Reopen(ix, RoleTargets)
	if err != nil {
		return nil, err
	}
	return re.(*Targets), nil
}

// sameTargets checks that re answers every question as tg does.
func sameTargets(t *testing.T, re, tg *Targets) {
	t.Helper()
	if re.Version() != tg.Version() || !re.Expires().Equal(tg.Expires()) || re.Len() != tg.Len() || re.Name() != RoleTargets || re.SpecVersion() != tg.SpecVersion() {
		t.Errorf("reopened header %d %v %d, want %d %v %d", re.Version(), re.Expires(), re.Len(), tg.Version(), tg.Expires(), tg.Len())
	}
	if !slices.Equal(re.Signers(), tg.Signers()) {
		t.Errorf("reopened signers %v, want %v", re.Signers(), tg.Signers())
	}
	paths := collectPaths(t, tg)
	if got := collectPaths(t, re); !slices.Equal(got, paths) {
		t.Errorf("reopened paths %q, want %q", got, paths)
	}
	for _, p := range append(paths, "missing", "b", "", "z") {
		a, okA, errA := tg.Target(p)
		b, okB, errB := re.Target(p)
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if errA != nil || errB != nil || okA != okB || !bytes.Equal(ja, jb) {
			t.Errorf("Target(%q): reopened %s %v %v, want %s %v %v", p, jb, okB, errB, ja, okA, errA)
		}
	}
	if ch := re.Delegations().Children("team/x"); len(ch) != 1 || ch[0].Name != "team" {
		t.Errorf("reopened delegations: %+v", ch)
	}
	if re.Expired(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Error("reopened document expired")
	}
}

// A document reopened through its index answers as the one opened, for
// canonical bytes and for indented ones (read as received, canonicalised
// entry by entry).
func TestReopenTargets(t *testing.T) {
	doc, tg := indexedTargets(t)
	pdoc, ptg := pretty(t, doc)
	for name, c := range map[string]struct {
		doc []byte
		tg  *Targets
	}{"canonical": {doc, tg}, "pretty": {pdoc, ptg}} {
		t.Run(name, func(t *testing.T) {
			if lay, _, _, err := targetindex.Build(c.tg, c.doc); err != nil || lay.Canonical != (name == "canonical") {
				t.Fatalf("layout %+v, %v", lay, err)
			}
			re, err := reopen(c.doc, indexOf(t, c.doc, c.tg), bindingOf(c.doc, c.tg.Version()))
			if err != nil {
				t.Fatal(err)
			}
			sameTargets(t, re, tg)
		})
	}
}

// A large document too, whose lookups go through the hash table and whose
// chunks are read only as lookups need them.
func TestReopenTargetsLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 targets: skipped with -short")
	}
	for _, indent := range []bool{false, true} {
		doc := bigTargets(t, 100_000, indent)
		tg, err := OpenTargets(doc, targetsKeys(t))
		if err != nil {
			t.Fatal(err)
		}
		re, err := reopen(doc, indexOf(t, doc, tg), bindingOf(doc, 1))
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range []int{0, 1, 54_321, 99_999} {
			p := fmt.Sprintf("pkg/%06d/file.bin", i)
			a, _, _ := tg.Target(p)
			b, ok, err := re.Target(p)
			if !ok || err != nil || b.Length != a.Length || !bytes.Equal(a.Hashes["sha256"], b.Hashes["sha256"]) {
				t.Errorf("indent %v: Target(%q) = %+v, %v, %v", indent, p, b, ok, err)
			}
		}
		if _, ok, err := re.Target("pkg/100000/file.bin"); ok || err != nil {
			t.Errorf("indent %v: a missing target: %v, %v", indent, ok, err)
		}
	}
}

// An index that doesn't name the recorded bytes, or fails its checksum, is
// refused when it is opened; the client then verifies the cache in full.
func TestReopenTargetsRefuses(t *testing.T) {
	doc, tg := indexedTargets(t)
	b := bindingOf(doc, tg.Version())
	idx := indexOf(t, doc, tg)
	changed := bytes.Clone(doc)
	changed = append(changed, ' ')
	cases := map[string]struct {
		doc, idx []byte
		b        targetindex.Binding
	}{
		"other digest":  {doc, idx, targetindex.Binding{Length: b.Length, SHA256: sha256.Sum256(nil), Version: b.Version, Root: b.Root}},
		"other version": {doc, idx, targetindex.Binding{Length: b.Length, SHA256: b.SHA256, Version: b.Version + 1, Root: b.Root}},
		"other root":    {doc, idx, targetindex.Binding{Length: b.Length, SHA256: b.SHA256, Version: b.Version, Root: 2}},
		"longer bytes":  {changed, idx, b},
		"empty index":   {doc, nil, b},
		"truncated":     {doc, idx[:len(idx)-1], b},
	}
	header := len(idx) - len(idx)/2 // every byte of a small index's header and sums
	for i := 0; i < header; i += 5 {
		bad := bytes.Clone(idx)
		bad[i] ^= 0x40
		cases[fmt.Sprintf("flipped byte %d", i)] = struct {
			doc, idx []byte
			b        targetindex.Binding
		}{doc, bad, b}
	}
	for name, c := range cases {
		re, err := reopen(c.doc, c.idx, c.b)
		if err == nil {
			// A flipped byte in the lookup tables is found when a lookup
			// reads its chunk.
			err = lookupAll(re, tg)
		}
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// lookupAll looks every path of want up in re and returns the first error.
func lookupAll(re, want *Targets) error {
	for p := range want.Paths() {
		if _, _, err := re.Target(p); err != nil {
			return err
		}
	}
	for _, err := range re.Paths() {
		if err != nil {
			return err
		}
	}
	return nil
}

// A changed byte in the cached file is found when a lookup first reads its
// chunk, and the lookup fails with ErrCacheCorrupt: it never answers from
// bytes that were not verified. Other lookups still work.
func TestReopenedChunkCorrupted(t *testing.T) {
	doc := bigTargets(t, 2000, true)
	tg, err := OpenTargets(doc, targetsKeys(t))
	if err != nil {
		t.Fatal(err)
	}
	idx := indexOf(t, doc, tg)
	bad := bytes.Clone(doc)
	at := bytes.Index(bad, []byte(`"pkg/001500/file.bin"`))
	at += bytes.Index(bad[at:], []byte(`"sha256": "`)) + len(`"sha256": "`)
	bad[at] ^= 1 // another hex digit: the entry stays well-formed
	re, err := reopen(bad, idx, bindingOf(doc, 1))
	if err != nil {
		t.Fatal(err)
	}
	if tf, ok, err := re.Target("pkg/000003/file.bin"); !ok || err != nil || tf.Length != 3 {
		t.Errorf("an intact entry: %+v, %v, %v", tf, ok, err)
	}
	tf, ok, err := re.Target("pkg/001500/file.bin")
	var me *Error
	if ok || tf.Hashes != nil || !errors.Is(err, ErrCacheCorrupt) || !errors.As(err, &me) || me.Role != RoleTargets {
		t.Errorf("the corrupted entry: %+v, %v, %v; want ErrCacheCorrupt", tf, ok, err)
	}
	n := 0
	for _, err := range re.Paths() {
		if err != nil {
			if !errors.Is(err, ErrCacheCorrupt) {
				t.Errorf("Paths: %v", err)
			}
			break
		}
		n++
	}
	if n >= 2000 {
		t.Error("Paths went through the corrupted chunk")
	}
}

// forgedIndex is idx for doc with its lookup tables replaced, every
// checksum made to match: what only someone who can write the state
// directory could make.
func forgedIndex(t testing.TB, doc []byte, tg *Targets, slots, offsets []uint32) []byte {
	t.Helper()
	lay, _, _, err := targetindex.Build(tg, doc)
	if err != nil {
		t.Fatal(err)
	}
	lay.Entries, lay.Slots = int64(len(offsets)), int64(len(slots))
	return targetindex.Encode(doc, nil, bindingOf(doc, tg.Version()), lay, slots, offsets)
}

// Even a forged index, with every checksum right, can't make a lookup
// panic: offsets that point at nested keys, inside strings or outside the
// document are errors (ErrCacheCorrupt).
func TestForgedIndexNeverPanics(t *testing.T) {
	doc, tg := indexedTargets(t)
	lay, _, _, err := targetindex.Build(tg, doc)
	if err != nil {
		t.Fatal(err)
	}
	obj := doc[lay.SignedOff+lay.TargetsOff : lay.SignedOff+lay.TargetsOff+lay.TargetsLen]
	// Every quote of the targets object: keys of nested objects ("hashes",
	// "sha256"), the closing quotes of strings.
	var offsets []uint32
	for i, c := range obj {
		if c == '"' {
			offsets = append(offsets, uint32(i))
		}
	}
	offsets = append(offsets, uint32(len(obj)-1), uint32(len(obj)), 1<<31)
	slots := make([]uint32, 1<<bitLen(len(offsets)*2))
	for i := range slots {
		slots[i] = uint32(i%(len(offsets)+2)) | 0xffff0000
	}
	for name, idx := range map[string][]byte{
		"every quote":        forgedIndex(t, doc, tg, slots, offsets),
		"slots only":         forgedIndex(t, doc, tg, slots, offsets[:1]),
		"offsets out of doc": forgedIndex(t, doc, tg, []uint32{1, 2, 3, 4}, []uint32{1 << 30, 1 << 31}),
	} {
		re, err := reopen(doc, idx, bindingOf(doc, tg.Version()))
		if err != nil {
			continue
		}
		probe(t, name, re, []string{"hashes", "sha256", "length", "a", "custom", "version"})
	}
}

// bitLen is the bit length of n.
func bitLen(n int) int {
	b := 0
	for ; n > 0; n >>= 1 {
		b++
	}
	return b
}

// probe looks up paths and every path re lists, checking that each answer
// is a found entry, a miss or an ErrCacheCorrupt error (never a panic).
func probe(t *testing.T, name string, re *Targets, paths []string) {
	t.Helper()
	n := 0
	for p, err := range re.Paths() {
		if err != nil {
			if !errors.Is(err, ErrCacheCorrupt) {
				t.Fatalf("%s: Paths: %v", name, err)
			}
			break
		}
		paths = append(paths, p)
		if n++; n == 64 {
			break
		}
	}
	for _, p := range paths {
		tf, ok, err := re.Target(p)
		switch {
		case err != nil:
			if ok || tf.Hashes != nil || !errors.Is(err, ErrCacheCorrupt) {
				t.Fatalf("%s: Target(%q) = %+v, %v, %v", name, p, tf, ok, err)
			}
		case ok:
			if tf.Path != p || tf.Length < 0 || len(tf.Hashes) == 0 {
				t.Fatalf("%s: Target(%q) = %+v", name, p, tf)
			}
		}
	}
}

// FuzzReopenTargets: no cached bytes and no index, even one whose every
// checksum matches, makes reopening or a lookup panic; what comes back is
// an entry, a miss, or an error. Seeded with every targets vector, as
// received and indented, and its real index.
func FuzzReopenTargets(f *testing.F) {
	set := newVectorSet(f)
	n := 0
	for _, name := range vectorNames(f) {
		v := readVector(f, name)
		if v.headers["expect"] != "ok" || v.headers["role"] == RoleRoot || v.headers["role"] == RoleTimestamp || v.headers["role"] == RoleSnapshot {
			continue
		}
		var indented bytes.Buffer
		if err := json.Indent(&indented, v.body, "", " "); err != nil {
			f.Fatal(err)
		}
		for _, body := range [][]byte{v.body, indented.Bytes()} {
			v.body = body
			doc, err := set.open(v)
			tg, ok := doc.(*Targets)
			if err != nil || !ok {
				f.Fatalf("%s: %v", name, err)
			}
			lay, slots, offsets, err := targetindex.Build(tg, body)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(body, layoutBytes(lay), u32Bytes(slots), u32Bytes(offsets), "a")
			n++
		}
	}
	if n == 0 {
		f.Fatal("no seeds: no targets vector in testdata")
	}
	f.Fuzz(func(t *testing.T, doc, layout, slots, offsets []byte, path string) {
		lay := bytesLayout(layout)
		s, o := bytesU32(slots), bytesU32(offsets)
		// A table of a power of two of slots, as the header requires, so
		// that lookups run.
		for len(s)&(len(s)-1) != 0 {
			s = s[:len(s)-1]
		}
		o = o[:min(len(o), len(s))]
		lay.Slots, lay.Entries = int64(len(s)), int64(len(o))
		b := bindingOf(doc, 1)
		idx := targetindex.Encode(doc, nil, b, lay, s, o)
		re, err := reopen(doc, idx, b)
		if err != nil {
			if re != nil {
				t.Fatal("a document came back with an error")
			}
			return
		}
		probe(t, "fuzz", re, []string{path, "a", ""})
		if d := re.Delegations(); d != nil {
			d.Children(path)
		}
	})
}

// layoutBytes and bytesLayout turn a Layout's numbers into fuzzer input.
func layoutBytes(l targetindex.Layout) []byte {
	canonical := int64(0)
	if l.Canonical {
		canonical = 1
	}
	var b []byte
	for _, v := range []int64{l.SignedOff, l.SignedLen, l.TargetsOff, l.TargetsLen, canonical} {
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	return b
}

func bytesLayout(b []byte) targetindex.Layout {
	var v [5]int64
	for i := range v {
		if len(b) >= 8 {
			v[i] = int64(binary.LittleEndian.Uint64(b) >> 2)
			b = b[8:]
		}
	}
	return targetindex.Layout{SignedOff: v[0], SignedLen: v[1], TargetsOff: v[2], TargetsLen: v[3], Canonical: v[4]&1 == 1}
}

func u32Bytes(s []uint32) []byte {
	var b []byte
	for _, v := range s {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return b
}

func bytesU32(b []byte) []uint32 {
	out := make([]uint32, 0, len(b)/4)
	for ; len(b) >= 4; b = b[4:] {
		out = append(out, binary.LittleEndian.Uint32(b))
	}
	return out
}

// Keys out of order as received (the signature covers the sorted canonical
// form) are indexed in sorted order all the same.
func TestReopenUnsortedKeys(t *testing.T) {
	doc, tg := indexedTargets(t)
	lay, _, _, err := targetindex.Build(tg, doc)
	if err != nil {
		t.Fatal(err)
	}
	start := lay.SignedOff + lay.TargetsOff
	obj := doc[start : start+lay.TargetsLen]
	var members [][]byte
	_ = cjson.MembersValid(obj, func(off int, k, v []byte) error {
		members = append(members, obj[off:off+len(k)+3+len(v)])
		return nil
	})
	slices.Reverse(members)
	unsorted := slices.Concat(doc[:start], []byte("{ "), bytes.Join(members, []byte(", ")), []byte("}"), doc[start+lay.TargetsLen:])
	utg, err := OpenTargets(unsorted, targetsKeys(t))
	if err != nil {
		t.Fatal(err)
	}
	re, err := reopen(unsorted, indexOf(t, unsorted, utg), bindingOf(unsorted, utg.Version()))
	if err != nil {
		t.Fatal(err)
	}
	sameTargets(t, re, tg)
}

// A lookup reads an entry from the rest of its key's chunk first: an entry
// that runs into the next chunk still reads and checks that chunk, so a
// change there, after the key, fails the lookup (ErrCacheCorrupt), while
// the entry just before, whose chunk is intact, is still found.
func TestReopenedEntryOverChunks(t *testing.T) {
	doc := bigTargets(t, 200, false)
	tg, err := OpenTargets(doc, targetsKeys(t))
	if err != nil {
		t.Fatal(err)
	}
	idx := indexOf(t, doc, tg)
	// The first entry whose key starts in one chunk and whose sha256 ends
	// in the next.
	var key, prev string
	var at int
	for i := range 200 {
		k := fmt.Sprintf("pkg/%06d/file.bin", i)
		start := bytes.Index(doc, []byte(`"`+k+`"`))
		end := start + bytes.Index(doc[start:], []byte(`"},"length"`))
		if start/targetindex.ChunkSize != end/targetindex.ChunkSize && end%targetindex.ChunkSize > 0 {
			key, at = k, end-1
			break
		}
		prev = k
	}
	if key == "" || prev == "" {
		t.Fatal("no entry over two chunks")
	}
	bad := bytes.Clone(doc)
	bad[at] ^= 1 // the last hex digit of its sha256, in the next chunk
	re, err := reopen(bad, idx, bindingOf(doc, 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := re.Target(prev); !ok || err != nil {
		t.Errorf("the entry before, in an intact chunk: %v, %v", ok, err)
	}
	if tf, ok, err := re.Target(key); ok || tf.Hashes != nil || !errors.Is(err, ErrCacheCorrupt) {
		t.Errorf("the entry over the changed chunk: %+v, %v, %v; want ErrCacheCorrupt", tf, ok, err)
	}
}
