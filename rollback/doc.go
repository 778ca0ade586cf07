// Package rollback keeps latch's forward-only trusted state: the one
// authority for what the client trusts.
//
// # What is recorded
//
// A [State] holds, for every trusted metadata file, its version and the
// SHA-256 and length of the exact bytes that were verified ([RoleRecord]);
// the root versions that allowed the last fast-forward resets; the latest
// trusted reference time; per application the release committed last
// ([Install]) and the hashes of releases that failed their health check;
// the audit log's anchor (its last record); and per transparency log the
// latest checkpoint verified ([LogCheckpoint]). Metadata files cached
// elsewhere are copies: one whose hash does not match its record is treated
// as absent.
//
// # Forward only
//
// Nothing in the state moves backwards. [State.Advance] refuses a role
// version lower than the trusted one, [State.CommitInstall] a release older
// (by semantic version) than the installed one, [State.AdvanceLog] a
// smaller log tree, and [State.AdvanceTime] ignores an earlier time; a
// refusal is a [*RollbackError] that names the subject and both versions
// and matches [ErrRollback]. An equal version is
// accepted: whether it means "no change" is the client's decision.
//
// The sanctioned exceptions are explicit. The recovery of spec 5.3.11
// follows the keys: after a root that rotated the timestamp keys,
// [State.ResetTimestamp] drops the timestamp record alone (the trusted
// snapshot still holds the targets and delegated versions down); after one
// that rotated the snapshot keys, [State.FastForward] drops every record
// but root's. Each records the root version that allowed it.
// [State.ForceInstallUnsafe] lowers an installed version for a revert that
// a person asked for.
//
// A [Store] does not rely on the State methods alone: [Store.Save] compares
// the new state with the stored one and refuses any regression the
// exceptions above do not allow, so a stale or hand-built State can't undo
// what was saved.
//
// # Crash safety
//
// [FileStore] keeps the state in one JSON file with a format version,
// replaced atomically: temporary file in the same directory, fsync, rename,
// fsync of the directory. A crash at any instant
// leaves the previous state or the new one. The client writes a metadata
// cache file first and then the record of its hash, so after a crash
// between the two the record still describes the previous file, and the
// new cache file, not matching, is fetched again.
//
// A state file that can't be read is reported as [ErrCorrupt] and never
// reset or overwritten: it is the anchor of rollback protection, and
// starting from nothing would accept any old version the network offers.
//
// An exclusive lock on a file in the state directory, held from
// [OpenFileStore] to [FileStore.Close], keeps two processes (or two stores
// in one process) from interleaving their updates; the loser gets a
// [*LockedError] (matching [ErrLocked]) at once that names the holder's
// process, or waits for the lock with [OpenFileStoreWait]. The lock uses
// flock on Unix systems and LockFileEx on Windows, and is released by the
// system if the process dies. Readers need no lock: [ReadFileState] returns
// the state as last saved, whoever holds the store.
//
// # Concurrency
//
// The stores are safe for concurrent use; a State is a plain value owned by
// one goroutine. Callers that load, change and save from several goroutines
// must serialise those steps themselves, or Save may refuse the later one.
package rollback
