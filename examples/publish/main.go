// Command publish makes and maintains a TUF repository that latch clients
// (and any other TUF 1.0 client) update from. It is written to be read: each
// command is one short function in commands.go, built on go-tuf's metadata
// API (github.com/theupdateframework/go-tuf/v2/metadata), which creates,
// signs and serialises the four top-level roles.
//
// Usage:
//
//	publish init -dir REPO [-keys KEYDIR] [-online-keys KEYDIR] [-root-keys 3 -root-threshold 2]
//	publish add -dir REPO -keys KEYDIR -app NAME -version SEMVER -os OS -arch ARCH -file BINARY [-channels stable,beta]
//	publish refresh-timestamp -dir REPO -keys KEYDIR
//	publish renew -dir REPO -keys KEYDIR -role root|targets|snapshot|timestamp
//	publish rotate-key -dir REPO -keys KEYDIR -role root|targets|snapshot|timestamp [-old KEYID]
//	publish approve -dir REPO -keys KEYDIR -vendor-root FILE -vendor-url URL -target PATH [-file FILE] [-vendor-state DIR]
//	publish log-init -dir REPO [-keys KEYDIR] -origin ORIGIN [-repository NAME] [-log DIR]
//
// Every command also takes -root-expiry, -targets-expiry, -snapshot-expiry
// and -timestamp-expiry (defaults 365d, 90d, 7d and 1d; a number with the
// suffix d, or a Go duration such as 36h): the lifetime given to a role when
// the command signs it. -keys may be repeated, so that offline keys can stay
// on their own medium (see "Keys"); without it, the commands after init read
// the two directories init writes, keys and online-keys.
//
// # The repository
//
// REPO is what you serve, as static files, from any web server or bucket:
//
//	REPO/metadata/1.root.json      root, one file per version, kept forever
//	REPO/metadata/N.targets.json   which releases exist, with length, hashes, custom data
//	REPO/metadata/N.snapshot.json  which targets metadata is current
//	REPO/metadata/timestamp.json   which snapshot is current; the only file rewritten
//	REPO/targets/myapp/1.4.2/<sha256>.linux-amd64   release files, named by content
//
// Clients are configured with REPO/metadata/ as a metadata URL and
// REPO/targets/ as a target URL, and ship 1.root.json inside the application
// (for example with //go:embed) as their trust anchor.
//
// The repository uses consistent snapshots (spec §6.2): every file except
// timestamp.json has a name that changes with its content (a version number
// for metadata, the sha256 for release files), and nothing is ever
// overwritten or deleted. Each command writes its files in the order clients
// read them backwards: release file, targets, snapshot, root (when it
// changes), and timestamp.json last, with an atomic rename. A client that
// fetched the previous timestamp.json a moment ago still finds every file it
// refers to, and one that fetches the new one finds everything it needs: a
// mirror, CDN or rsync copy that publishes in the same order is never
// half-updated. A command that stops half-way (a crash, a full disk) leaves
// files that verify and that the next command builds on; when the snapshot
// no longer lists the newest targets, the error says to run renew -role
// snapshot.
//
// # Commands
//
// init generates the keys (ed25519; -root-keys root keys of which
// -root-threshold must sign, and one key each for targets, snapshot and
// timestamp), writes the root and targets keys into -keys (default "keys")
// and the snapshot and timestamp keys into -online-keys (default
// "online-keys"; neither may be inside REPO, nor may they be the same), and
// writes version 1 of root, targets (no releases yet), snapshot and
// timestamp.
//
// add publishes one release file as the target <app>/<version>/<os>-<arch>,
// with the file name's extension appended when it is .tar.gz, .zip or .exe
// (myapp/1.4.2/windows-amd64.exe). Its signed custom data is
// {"version": "1.4.2", "channels": ["stable"]}, which a client uses to pick
// releases by channel and to refuse downgrades. add copies the file to
// REPO/targets/<app>/<version>/<sha256>.<os>-<arch>[.ext], then signs a new
// version of targets, of snapshot (listing targets.json's version, length
// and sha256) and of timestamp (listing snapshot.json's the same way). A
// released target is never replaced: publish a new version instead.
//
// Listing length and hashes in snapshot and timestamp is optional in the
// spec; publish always does. A client checks the bytes it downloads against
// them before it parses them or checks a signature (spec §5.5.2, §5.6.2): a
// mirror that serves an old, validly signed targets.json beside a new
// snapshot (a mix-and-match attack), or a corrupted or endless file, fails
// with a hash or length mismatch at once, and the client reads no more than
// the listed length. With versions alone, the old targets.json would be
// parsed and its signatures checked before its version gave it away. And an
// attacker who holds the targets key alone cannot get a different
// targets.json with the listed version accepted: its bytes are pinned by
// the snapshot key too.
//
// refresh-timestamp signs a new timestamp with a new version and expiry and
// nothing else: what a cron job on the update server runs, more often than
// the timestamp lifetime (say every 6 hours for 1 day). Clients refuse
// expired metadata, so a repository that nobody touches stops working when
// its timestamp expires: that is what defeats freeze attacks, where a mirror
// keeps serving yesterday's view.
//
// renew signs a new version of one role with a new expiry, and of every role
// above it (targets, then snapshot, then timestamp): run it for snapshot more
// often than the snapshot lifetime when no release has renewed it, for
// targets and root before theirs run out. Every command warns on standard
// error when a role it leaves in place expires before the new timestamp does.
//
// rotate-key replaces one key of a role (-old KEYID, which may be left out
// when the role has one key) with a newly generated one. The new key is
// listed in root version N+1, which is signed by a threshold of the root
// keys of version N and by a threshold of its own root keys (spec §5.3.4),
// and has exactly the version N+1 (spec §5.3.5); a client walks the root
// versions one by one, so it follows any number of rotations from the root
// it shipped with. The rotated role is then signed again with its new key
// (and with its old one, when at hand, so that it verifies under both roots
// while the rotation is being written), with the roles above it. The old
// private key is no longer trusted by anyone once root N+1 is published:
// destroy it.
//
// approve is for an organisation that runs a repository of its own to
// approve another party's releases (a vendor's): its machines use a map
// file (TAP 4, see package client's Multi) that needs both repositories to
// list a release with the same length and hashes, so they install only
// what the vendor signed and the organisation approved, and a stolen key
// of either party alone installs nothing. approve refreshes the vendor's
// repository at -vendor-url (the base of its metadata/ and targets/) with
// latch, from the vendor's root -vendor-root, keeping what it trusted in
// -vendor-state (so that a later approve refuses a rolled-back vendor
// repository); looks -target up there; with -file, refuses unless that
// file (the copy your team vetted) is the vendor's release byte for byte;
// downloads it, verified; and signs a new version of targets (with
// snapshot and timestamp) that lists the target with the vendor's length,
// hashes and custom data, with the file under targets/ for clients that
// fetch it from here. Approving a target listed already with the same
// information changes nothing; one listed with other information is
// refused.
//
// # Keys
//
// Each role has its own keys, and a threshold of them must sign its metadata.
// What a stolen key allows decides where it lives:
//
//   - root signs which keys are trusted for every role: whoever holds a
//     threshold of root keys owns every client. Keep them offline (hardware
//     tokens, or encrypted media held by different people), with a threshold
//     above one (3 keys, any 2 sign: one lost key is no outage, one stolen
//     key is no compromise). Bring them together only to rotate keys or to
//     renew root, about once a year.
//   - targets says which files are releases: keep it offline too, or on the
//     build system that makes releases, never on the update server.
//   - snapshot and timestamp only vouch for freshness and consistency, and
//     must be re-signed often and automatically: they live online, on the
//     server that runs refresh-timestamp. A stolen timestamp key allows
//     freeze and fast-forward attacks (below), never a forged release.
//
// init splits the keys accordingly: root and targets into -keys, to be kept
// offline; snapshot and timestamp into -online-keys, for the update server.
// publish reads every *.pem file in each -keys directory and signs each role
// with the keys root lists for it, by key ID, so keys can be split across
// directories: a cron job gets only the online directory
// (-keys /etc/publish/online), a release adds the targets key
// (-keys /etc/publish/online -keys /media/offline), a rotation the root keys.
// A -keys directory that does not exist is an error, not an empty set. A
// new key is written to the directory of the key it replaces. Private keys
// are PKCS #8 PEM files with mode 0600 in a 0700 directory; publish refuses
// key files that others can read. A key directory inside REPO would publish
// the keys, and is refused.
//
// # Fast-forward recovery
//
// Clients never accept a timestamp, snapshot or targets version lower than
// one they trusted (rollback protection). An attacker who steals the
// timestamp key can exploit that: a timestamp signed with version 2^62 sends
// every client that sees it so far forward that it refuses every honest
// timestamp afterwards. The way out is to rotate the key: when a new root
// lists different timestamp or snapshot keys, clients discard their trusted
// timestamp and snapshot and the version floors that came with them (spec
// §5.3.11), and accept the next honest version whatever number it has.
// publish numbers on from the honest repository (a restored backup, say), so
// recovery is: restore REPO, then rotate-key -role timestamp (and -role
// snapshot when the snapshot key was stolen, which also recovers the
// targets version floor). Rotate the targets key when it was stolen; for
// root keys, see above.
//
// # Release transparency
//
// A stolen targets key (or a compromised build) can sign a release for one
// chosen victim that nobody else ever sees. A transparency log makes that
// visible: publish appends every release to an append-only log, clients
// configured with the log install only releases the log proves it holds, and
// a monitor (tufclient log monitor) reports any entry of the log the
// repository did not sign. A thief must then log the release, where the
// monitor sees it, or be refused.
//
// log-init generates the log's Ed25519 note key, tlog.key in the first
// -keys directory (by default keys, beside the targets key), in the
// "PRIVATE+KEY+..." text form that Tessera's tools read, and creates an
// empty log in REPO/log (or -log DIR), written with Tessera's POSIX driver
// (github.com/transparency-dev/tessera): static files in the C2SP tlog-tiles
// layout (checkpoint, tile/<L>/<N>, tile/entries/<N>), served like the rest
// of REPO. Its checkpoints (C2SP tlog-checkpoint) name the log by -origin
// and are signed with the log key; log-init prints the verifier key that
// clients are configured with. Tessera's cloud drivers (GCP, AWS) write the
// same layout when one machine is not enough.
//
// From then on add, before it writes anything, appends one entry for the
// release and waits for a signed checkpoint that includes it, and the
// release's signed custom data names the entry's index:
// {"version": "1.4.2", "channels": ["stable"], "tlog": {"index": 41}}.
// An entry (format version 1) is five lines of text:
//
//	latch-release/v1
//	repository <-repository NAME, default the origin>
//	target myapp/1.4.2/linux-amd64
//	length 9637568
//	sha256 <64 lowercase hex digits>
//
// add needs the log key in one of its -keys directories; it refuses to
// publish without it. The log key signs only the log: keep it with the
// targets key (both sign every release), not on the server that runs
// refresh-timestamp. A release whose entry was logged but whose metadata was
// not written (a crash, a full disk) stays in the log: the monitor reports
// that entry until you publish it or explain it.
//
// # Testing
//
// The hidden flag -now RFC3339 replaces the clock, so that tests produce a
// repository consistent with their fixed reference time.
package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
)

func main() {
	err := run(os.Args[1:], &env{stdout: os.Stdout, stderr: os.Stderr, rand: rand.Reader})
	switch {
	case err == nil:
	case errors.Is(err, errHelp):
		os.Exit(0)
	case errors.Is(err, ErrUsage):
		fmt.Fprintf(os.Stderr, "publish: %v\n(run publish -h for help)\n", err)
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "publish: %v\n", err)
		os.Exit(1)
	}
}

// env is what a command may touch besides the file system.
type env struct {
	stdout io.Writer // one line per file written
	stderr io.Writer // usage and warnings
	rand   io.Reader // entropy for new keys
}

func (e *env) printf(format string, args ...any) { fmt.Fprintf(e.stdout, format+"\n", args...) }

func (e *env) warnf(format string, args ...any) {
	fmt.Fprintf(e.stderr, "publish: warning: "+format+"\n", args...)
}
