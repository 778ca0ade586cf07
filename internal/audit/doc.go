// Package audit keeps latch's audit log: an append-only, tamper-evident
// record of trust decisions (refreshes, root rotations, rejections,
// downloads, installs, reverts) that an incident responder can check with
// standard tools.
//
// # Format
//
// A log is a directory of text files: audit.log (the current file), then
// audit.1.log (the one before it), audit.2.log, and so on, the highest
// number being the oldest. Each line is one record, a JSON object with
// exactly these members in this order, no spaces, and a newline:
//
//	{"seq":1,"time":"2025-01-02T03:04:05Z","kind":"refresh","fields":{"root":5,"timestamp":812},"prev":"0000…0000"}
//
// where
//
//   - seq: 1 for the first record of the log, one more for each record
//     after it, across files;
//   - time: when it was appended, RFC 3339 in UTC with up to nine
//     fractional digits (from the clock in [Options]);
//   - kind: the event kind ([KindRefresh], [KindDownload], ...);
//   - fields: a JSON object describing the event, keys sorted at every
//     level, so the same event always gives the same bytes;
//   - prev: the SHA-256, in lowercase hex, of the previous record's line,
//     newline included; [Genesis] (64 zeros) for the first record.
//
// The chain carries across files: the first record of audit.log chains
// from the last line of audit.1.log.
//
// # Anchor
//
// A chain alone shows edits, deletions and reordering, but not records cut
// from the end, records added at the end, or a chain rewritten with new
// hashes. So a [Mark] of the log is kept by an [Anchor] outside the log
// (the client keeps it in its trusted state, which those who can write
// the audit directory can't change): the seq, hash and whole line of the
// last record. [Log.Append] stores the new record's Mark, then writes and
// fsyncs the record. A log then matches its anchor in exactly two ways: it
// ends at the anchored record, or just before it (a crash before the
// record reached the log, or the record removed since), and then [Open]
// writes the anchored line back. A crash during the write may leave an
// incomplete last line, which Open cuts off when the records before it
// agree with the anchor. Anything else is reported, never repaired: no
// record can be added, removed or changed, and no audit-drop record
// (below) forged, without changing the anchor.
//
// # Rotation
//
// When a record would take audit.log beyond [Options.MaxBytes], the files
// are renamed one place older and a new audit.log is started. The oldest
// rotated file is deleted once the others hold (MaxFiles-1)*MaxBytes
// bytes, and only from a log that verifies against its anchor. Deleting
// it is itself recorded first, in an "audit-drop" record in audit.log
// whose fields name the file and its first and last record:
//
//	{"file":"audit.8.log","first_seq":9001,"last_hash":"…","last_seq":10342}
//
// so the oldest remaining file must start right after a recorded deletion
// ([Verify] checks this), and deleting a file any other way is detected.
//
// # Verifying
//
// [Verify] and [VerifyAnchored] check a whole directory and report the first
// broken link as a [*BrokenError] whose [Reason] tells an edit, a deletion,
// a reordering, a malformed line, truncation, records added at the end and
// a rewritten chain apart;
// [VerifyFile] checks a single file. By hand, with jq and sha256sum, for a
// file whose lines are all complete:
//
//	n=$(wc -l < audit.log)
//	for i in $(seq 2 "$n"); do
//	  want=$(sed -n "${i}p" audit.log | jq -r .prev)
//	  got=$(sed -n "$((i-1))p" audit.log | sha256sum | cut -d' ' -f1)
//	  [ "$want" = "$got" ] || echo "broken link before line $i"
//	done
//	tail -n 1 audit.log   # the record the anchor holds (audit_anchor in the trusted state)
//
// and check that each seq is one more than the one before
// (jq -s '[.[].seq] | . as $s | [range(1; length) | select($s[.] != $s[.-1] + 1)]').
//
// # Durability and concurrency
//
// Every record is fsynced before Append returns (see the note on ordering
// in [Log.Append]): a trust decision that was acted on is on disk. A [Log]
// is safe for concurrent use; only one Log may have a directory open at a
// time, which the caller ensures (the client holds its state lock).
package audit
