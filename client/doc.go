// Package client is the TUF client of latch: it refreshes trusted metadata
// from untrusted mirrors exactly as the TUF specification's client workflow
// (section 5) prescribes, looks targets up through delegations, and delivers
// verified files.
//
// # Trust model
//
// The signed metadata is the only authority. The application ships a root
// (Config.TrustedRoot); every other document must be signed by a threshold
// of the keys its delegator assigns, be the version its referrer lists, be
// no older than what was trusted before and not be expired. Mirrors, the
// network, DNS and HTTPS are untrusted: a mirror that fails, times out (see
// WithMetadataTimeouts) or serves bytes that fail a check is skipped, and the
// next one tried. Verification can't be switched off.
//
// What the client trusted is persisted in Config.StateDir: the metadata
// cache (<role>.json, exactly the bytes received) and, in its "state"
// subdirectory, the forward-only record of every trusted version and hash
// (package rollback) with a lock that keeps two processes apart. A cache file
// that does not match its record is ignored; a deleted cache can't lower the
// versions the client accepts. A deleted state can't be told from a first
// run, except by the cache beside it: the client then starts over from the
// embedded root and reports it (Status.TrustedStateLost, the log and the
// audit log).
//
// Every trust decision is appended to a hash-chained audit log in the state
// directory, whose last record the trusted state holds: [VerifyAudit]
// checks the log against it, beside a running client, and reports the
// first broken link as an [*AuditError]. The latest trusted time guards
// against a clock set back ([*ClockError]); after a clock that was wrong in
// the future, a person resets it with [Client.ResetTrustedTimeUnsafe],
// which the audit log records.
//
// A root becomes trusted one way, whether Refresh fetched it or a newer
// build of the application embeds it (the newer of the embedded and the
// cached root is the starting point). When it rotates keys, recovery from
// fast-forward attacks follows them (spec §5.3.11): new timestamp keys
// discard the trusted timestamp, new snapshot keys the trusted timestamp and
// snapshot and every version floor they set; the trusted snapshot that a
// timestamp-key rotation keeps still holds targets and delegated roles at
// their versions. And nothing signed under keys that a new root or
// delegator document dropped is used again, by this client or the next
// process, until it verifies with the current keys.
//
// # Workflow
//
//	c, err := client.New(client.Config{
//		TrustedRoot:  rootJSON, // embedded in the application
//		MetadataURLs: []string{"https://updates.example.com/metadata/"},
//		TargetURLs:   []string{"https://updates.example.com/targets/"},
//		StateDir:     "/var/lib/myapp/tuf",
//	})
//	defer c.Close()
//	err = c.Refresh(ctx)                          // spec §5.3-5.6
//	t, err := c.Target(ctx, "myapp/1.4.2/linux-amd64") // §5.6.7, delegations
//	err = c.DownloadFile(ctx, t, "/var/lib/myapp/new") // appears only once verified
//
// Each Refresh reads the clock once (spec §5.1) and uses that reference time
// for every expiry check. Lookups check expiry again at their own time.
//
// # Self-update
//
// Releases follow one convention: a target <app>/<version>/<os>-<arch>[.ext]
// whose signed custom data carries "version" and "channels". [Client.Resolve]
// finds the newest release of an app for a platform and channel, optionally
// within a pin; [Client.Apply] refreshes, resolves, refuses anything older
// than the installed version (the floor, kept in the trusted state),
// downloads and verifies beside the executable, swaps atomically, runs a
// health check, rolls back if it fails and only then commits the floor.
// [Client.Recover] finishes or undoes an update a crash interrupted, and
// [Client.RevertUnsafe] goes back to a kept build on a person's decision.
//
//	res, err := c.Apply(ctx, client.Release{App: "myapp"}, exe,
//		client.HealthCheckCommand(30*time.Second, "--version"))
//
// For start-up without network, [Offline] returns a read-only [View] of the
// last verified state that reports stale roles instead of failing.
//
// # Release transparency
//
// TUF bounds what one stolen key can do, but a stolen targets key (or a
// compromised build) can still sign a release for one chosen victim that
// nobody else sees. With [Config.TransparencyLog] the application names a
// public append-only log (C2SP tlog-tiles) where the vendor records every
// release, and [Client.DownloadFile] and [Client.Apply] deliver a covered
// target only once the log proves, under a checkpoint signed by the log key
// (and by enough witnesses), that it holds exactly that release. The latest
// verified checkpoint is part of the trusted state: a smaller one
// ([ErrLogRollback]) or one that does not extend it ([ErrSplitView], with
// both signed checkpoints in a [*LogConflictError] and in the audit log) is
// refused. A thief must then put the release in the log, where the vendor's
// monitor ([Client.MonitorLog]) sees it, or be refused. The policy is the application's, never
// the repository's: no signed metadata can switch it off.
//
// # Several processes
//
// One Client at a time holds a state directory: a second [New] fails with
// an error matching [ErrLocked] that names the holder's process ID, and
// [Open] waits for the lock until its context is done. [Offline] needs no
// lock and writes nothing, so it works beside a holder in any process. The
// documentation of Open shows the patterns for command-line tools invoked
// concurrently and for a daemon with a command-line tool beside it.
//
// # Errors
//
// Every error a caller may match is exported, here or in packages metadata,
// verify, rollback, mirror and install, and each sentinel has one meaning
// (see the list of variables). Failures wrap a sentinel (ErrExpired,
// ErrRollback, ErrThreshold, ErrHashMismatch, ErrVersionMismatch,
// ErrNotFound, ErrUnknownTarget, ErrTooLarge, ...) in a typed error with
// the evidence: *ExpiredError, *rollback.RollbackError,
// *verify.ThresholdError, *VersionError, *metadata.Error,
// *UnknownTargetError, *StaleError, *PinError, *StatusError. Release
// transparency adds ErrNotLogged, ErrWrongLogEntry, ErrInvalidLogProof,
// ErrLogSignature, ErrLogOrigin, ErrLogWitness, ErrLogRollback and
// ErrSplitView.
//
// Each operation has one typed error on top. A failed Refresh is a
// *RefreshError naming the role whose update failed; a failed lookup or
// download a *TargetError naming the path. Their Err is the cause: a
// *MirrorError, listing each mirror's reason, when no mirror served what
// passed every check; otherwise what failed apart from the mirrors. A fault
// on this machine (a destination directory that does not exist, a full
// disk) and the end of the context are never blamed on a mirror: they name
// none, and count as no mirror's failure in Status. Status reports the last
// refresh's error with the type of its cause.
//
// Where a failure is mostly a misconfiguration, the message says what to
// check: a repository whose keys the trusted root does not know (set up
// again, or another repository at the URL), no timestamp.json at a metadata
// URL, plain http to a host that is not loopback (WithPlainHTTPUnsafe).
//
// "Not listed" and "not served" are two answers. ErrUnknownTarget means a
// complete search of the verified targets roles found no role that lists
// the path: the one answer that means "there is no such target". ErrNotFound
// means a mirror (or the Fetcher) said it has no such file, which a mirror
// can say of any file, a delegated role the search needs included; treat it
// as a failure to retry, never as "no update".
//
// A caller's Fetcher reports what a mirror did with the same sentinels and
// types as the default transport (ErrNotFound, ErrRangeIgnored,
// ErrTooLarge, ErrSlowRetrieval, ...), and the client reacts to them alike:
// see Fetcher.
//
// # Multiple repositories
//
// [Multi] is a client of several repositories with independent roots of
// trust that trusts a target only when enough of them agree on it (TAP 4):
// a map file ([ParseMap]) lists the repositories and, for target path
// patterns, which of them must list a target with matching length and
// hashes. Each repository is a full Client with its own state; lookups,
// downloads, [Multi.Resolve] and [Multi.Apply] go through the map, and a
// failure is a *ConsensusError with every repository's answer.
//
// # Compatibility
//
// latch is v0: the API may change until it settles, and changes are noted
// in the README.
package client
