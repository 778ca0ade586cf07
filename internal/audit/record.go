package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Genesis is the prev value of the first record of a new log: 64 zeros.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// MaxFieldsSize is the largest encoded fields object Append accepts. The
// other parts of a record add less than 1 KiB, so no line is longer than
// maxLineSize, which bounds what Verify reads into memory per line.
const MaxFieldsSize = 256 << 10

// maxLineSize bounds a record's line, newline included.
const maxLineSize = MaxFieldsSize + 1024

// Event kinds for the trust decisions of a TUF client. Append accepts any
// kind of 1 to 64 characters from a-z, 0-9 and "-" (starting with a letter
// or digit) except [KindDrop].
const (
	KindRefresh      = "refresh"       // a refresh: versions accepted per role
	KindRootRotation = "root-rotation" // a new root: version and key IDs
	KindReject       = "reject"        // metadata or a target refused, with the reason
	KindDownload     = "download"      // a verified target: path, length, hashes, mirror
	KindInstall      = "install"       // an install or self-update and its outcome
	KindRevert       = "revert"        // a revert to a kept previous version
	KindTransparency = "transparency"  // a target checked against a transparency log: index, checkpoint, outcome, a split view's evidence
	KindAuditError   = "audit-error"   // records that could not be written earlier
	KindStateLost    = "state-lost"    // a start without trusted state beside cached metadata
	// KindDrop is written by the log itself when rotation deletes the
	// oldest file; its fields describe that file (see the package doc).
	KindDrop = "audit-drop"
)

// Record is one line of the log. Its JSON encoding, with the fields in this
// order, no spaces and a newline, is the line; see the package doc.
type Record struct {
	Seq    uint64          `json:"seq"`    // 1 for the first record of a log, then one more each
	Time   time.Time       `json:"time"`   // when it was appended, UTC
	Kind   string          `json:"kind"`   // event kind, such as [KindRefresh]
	Fields json.RawMessage `json:"fields"` // a JSON object with sorted keys
	Prev   string          `json:"prev"`   // SHA-256 (hex) of the previous line, or Genesis
}

// Head identifies a record of a log, usually the last one: its seq and
// the SHA-256 (hex) of its line, newline included. The zero Head stands
// for the point before the first record (a log without records).
type Head struct {
	Seq  uint64
	Hash string
}

// String returns h as "seq:hash", or "" for the zero Head.
func (h Head) String() string {
	if h == (Head{}) {
		return ""
	}
	return strconv.FormatUint(h.Seq, 10) + ":" + h.Hash
}

// Mark is what an [Anchor] keeps: the Head of the log and the whole line
// of that record, which [Log.Append] stores before it writes the line. A
// log matches its Mark when it ends at Head, or when it ends one record
// before and Line follows on from there (a crash before the line reached
// the log, or the line removed since: [Open] writes it back).
type Mark struct {
	Head Head
	// Line is the record at Head, newline included. It is "" in the zero
	// Mark and in the "seq:hash" anchors of earlier versions, which hold
	// only Head: with those, the log must end exactly at Head.
	Line string
}

// lineMark returns the Mark of line, the line of the record with seq.
func lineMark(seq uint64, line []byte) Mark {
	return Mark{Head: Head{Seq: seq, Hash: lineHash(line)}, Line: string(line)}
}

// String returns m's Line without its newline, or, for a Mark without a
// Line, its Head as "seq:hash" ("" for the zero Mark). [ParseMark] reads
// it back. It is the form to keep in a text field such as
// rollback.State.AuditAnchor.
func (m Mark) String() string {
	if m.Line != "" {
		return strings.TrimSuffix(m.Line, "\n")
	}
	return m.Head.String()
}

// ParseMark reads the form written by [Mark.String]. An invalid string is
// an error matching [ErrInvalid].
func ParseMark(s string) (Mark, error) {
	if strings.HasPrefix(s, "{") {
		line := []byte(s + "\n")
		r, err := parseRecord(line)
		if err != nil {
			return Mark{}, invalid(fmt.Errorf("anchor: %w", err))
		}
		return lineMark(r.Seq, line), nil
	}
	var m Mark
	if s != "" {
		seqText, hash, ok := strings.Cut(s, ":")
		if !ok {
			return Mark{}, invalid(fmt.Errorf("anchor %q is neither a record nor seq:hash", s))
		}
		seq, err := strconv.ParseUint(seqText, 10, 64)
		if err != nil || strconv.FormatUint(seq, 10) != seqText {
			return Mark{}, invalid(fmt.Errorf("anchor %q: bad seq", s))
		}
		m.Head = Head{Seq: seq, Hash: hash}
	}
	if err := m.check(); err != nil {
		return Mark{}, err
	}
	return m, nil
}

// check validates m as an anchor value.
func (m Mark) check() error {
	_, err := m.record()
	return err
}

// record validates m as an anchor value and returns the record of its
// Line, the zero Record if it has none.
func (m Mark) record() (Record, error) {
	if h := m.Head; h != (Head{}) && (h.Seq == 0 || !validHash(h.Hash)) {
		return Record{}, invalid(fmt.Errorf("anchor %q: seq must be at least 1 and hash 64 lowercase hex digits", m.Head))
	}
	if m.Line == "" {
		return Record{}, nil
	}
	r, err := parseRecord([]byte(m.Line))
	if err != nil {
		return Record{}, invalid(fmt.Errorf("anchor: %w", err))
	}
	if lineMark(r.Seq, []byte(m.Line)) != m {
		return Record{}, invalid(fmt.Errorf("anchor %q: the line is not that of the record named", m.Head))
	}
	return r, nil
}

// follows reports whether the log ending at h lacks only m's record: m has
// a Line, and it is the record after h.
func (m Mark) follows(h Head) bool {
	if m.Line == "" || m.Head.Seq != h.Seq+1 {
		return false
	}
	r, err := parseRecord([]byte(m.Line))
	return err == nil && r.Prev == h.next()
}

// next is the prev value of the record that follows h.
func (h Head) next() string {
	if h == (Head{}) {
		return Genesis
	}
	return h.Hash
}

// lineHash is the SHA-256 (hex) of a line, newline included.
func lineHash(line []byte) string {
	sum := sha256.Sum256(line)
	return hex.EncodeToString(sum[:])
}

func validHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func validKind(k string) bool {
	if len(k) == 0 || len(k) > 64 || k[0] == '-' {
		return false
	}
	for _, c := range []byte(k) {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// canonicalFields encodes fields as a compact JSON object with sorted keys
// (at every level), numbers kept as written. nil and JSON null become {}.
func canonicalFields(fields any) (json.RawMessage, error) {
	if fields == nil {
		return json.RawMessage("{}"), nil
	}
	b, err := json.Marshal(fields)
	if err != nil {
		return nil, invalid(fmt.Errorf("fields: %w", err))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, invalid(fmt.Errorf("fields: %w", err))
	}
	if v == nil {
		return json.RawMessage("{}"), nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, invalid(errors.New("fields must be a JSON object"))
	}
	out, err := json.Marshal(m)
	if err != nil {
		return nil, invalid(fmt.Errorf("fields: %w", err))
	}
	if len(out) > MaxFieldsSize {
		return nil, invalid(fmt.Errorf("fields take %d bytes, more than %d", len(out), MaxFieldsSize))
	}
	return out, nil
}

// encodeRecord returns the line of r, newline included.
func encodeRecord(r Record) ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("audit: encode record: %w", err)
	}
	return append(b, '\n'), nil
}

// parseRecord reads line, newline included, and accepts it only if it is
// exactly what Append writes for a valid record (fields included).
func parseRecord(line []byte) (Record, error) {
	if r, ok := scanRecord(line); ok {
		return r, nil
	}
	return decodeRecord(line)
}

// decodeRecord is parseRecord by definition: it decodes line with
// encoding/json, checks the record and accepts it only if encoding it again
// gives line. scanRecord finds the same far faster for a line in that form;
// this gives the reason for one that is not.
func decodeRecord(line []byte) (Record, error) {
	body := bytes.TrimSuffix(line, []byte("\n"))
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var r Record
	if err := dec.Decode(&r); err != nil {
		return Record{}, fmt.Errorf("not a record: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Record{}, errors.New("not a record: data after the object")
	}
	switch {
	case r.Seq == 0:
		return Record{}, errors.New("seq must be at least 1")
	case !validKind(r.Kind):
		return Record{}, fmt.Errorf("bad kind %q", r.Kind)
	case !validHash(r.Prev):
		return Record{}, errors.New("prev is not 64 lowercase hex digits")
	case r.Time.Location() != time.UTC:
		return Record{}, errors.New("time is not UTC")
	case len(r.Fields) == 0 || r.Fields[0] != '{':
		return Record{}, errors.New("fields is not an object")
	}
	again, err := encodeRecord(r)
	if err != nil {
		return Record{}, err
	}
	fields, err := canonicalFields(r.Fields)
	if err != nil {
		return Record{}, err
	}
	if !bytes.Equal(again, line) || !bytes.Equal(fields, r.Fields) {
		return Record{}, errors.New("not in canonical form (field order, spacing or escaping differs from what Append writes)")
	}
	return r, nil
}

// dropFields are the fields of a [KindDrop] record: the file deleted and
// its first and last record.
type dropFields struct {
	File     string `json:"file"`
	FirstSeq uint64 `json:"first_seq"`
	LastSeq  uint64 `json:"last_seq"`
	LastHash string `json:"last_hash"`
}

// parseDrop reads the fields of a KindDrop record.
func parseDrop(fields json.RawMessage) (dropFields, bool) {
	var d dropFields
	if err := json.Unmarshal(fields, &d); err != nil || d.LastSeq == 0 || !validHash(d.LastHash) {
		return dropFields{}, false
	}
	return d, true
}
