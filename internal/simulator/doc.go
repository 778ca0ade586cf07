// Package simulator is an in-process TUF repository for tests: it builds,
// signs and serves metadata and targets with go-tuf/v2's metadata API, and
// tampers with what it serves on request.
//
// # Model
//
// A [Repo] holds the editable metadata of every role, deterministic ed25519
// keys (derived from Options.Seed, so runs are reproducible), and every
// version of every file it ever published. Edits (AddTarget, Delegate,
// AddKey, SetExpires, the escape hatches Root/Timestamp/Snapshot/Targets...)
// stay in memory until [Repo.Publish], which bumps the version of each
// changed role, signs it, and updates snapshot and timestamp as the spec's
// repository operations say. Root changes are signed by the new and the
// previous root keys, so rotation chains verify (spec 5.3.4);
// [Repo.Sign] overrides the signing keys once for attack tests. A Repo
// belongs to one test: no globals, safe with t.Parallel.
//
// Metadata is served as compact canonical JSON of the whole envelope, or
// with Options.Pretty indented one space per level like python-tuf.
// Signatures always cover the canonical form of "signed".
//
// # Serving
//
// [Repo.Serve] starts the default [Server] (httptest on 127.0.0.1, closed by
// t.Cleanup) and returns its metadata and targets URLs; [Repo.NewServer]
// starts further servers over the same published files, each with its own
// fault table and request log, to act as mirrors. File names on the wire:
//
//	                     metadata                            targets
//	consistent_snapshot  timestamp.json, <v>.<role>.json     targets/<dir>/<sha256>.<base>
//	otherwise            <role>.json, <v>.root.json          targets/<path>
//
// Every published version stays served under its versioned name, so old
// versions can be fetched and replayed. Faults ([Fault]) are keyed by these
// names (as [Server.Requests] logs them) and change only what is sent: a
// status, replaced or mutated bytes ([FlipBit]), an older version, slow,
// stalled, endless, cut or mislabelled bodies; Range requests are honoured.
// A delegated role whose name starts with "targets/" shares fault names
// with target files.
//
// # Example
//
//	func TestUpdate(t *testing.T) {
//		t.Parallel()
//		repo := simulator.New(t, simulator.Options{ConsistentSnapshot: true})
//		repo.AddTarget("app/1.0/app.bin", []byte("v1"), map[string]any{"version": "1.0"})
//		repo.Delegate("targets", "plugins", simulator.DelegationOpts{Paths: []string{"plugins/*"}})
//		repo.AddDelegatedTarget("plugins", "plugins/x.so", []byte("x"), nil)
//		repo.Publish()
//		metadataURL, targetsURL := repo.Serve()
//		// A client embeds repo.TrustedRoot(), uses repo.Now() as its clock and
//		// refreshes from metadataURL and targetsURL.
//
//		// Rotate the timestamp key: root v2 and a new timestamp.
//		repo.AddKey("timestamp")
//		repo.RemoveKey("timestamp", 0)
//		repo.Publish()
//
//		// Replay the first timestamp: a client must report a rollback.
//		repo.SetFault("timestamp.json", simulator.Fault{OldVersion: 1})
//
//		// Break the target once; the retry gets the real bytes.
//		repo.SetFault(repo.TargetName("app/1.0/app.bin"), simulator.Fault{Mutate: simulator.FlipBit, Times: 1})
//	}
package simulator
