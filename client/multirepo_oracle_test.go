package client_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/theupdateframework/go-tuf/v2/metadata/multirepo"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/internal/simulator"
)

// TestMultiOracleGoTUF compares Multi.Target with go-tuf's multirepo
// package on generated maps over generated repositories: for every map and
// target path, both trust the same target (length and sha256) agreed by the
// same repositories, or both refuse.
//
// The generator stays where the two are meant to agree; the differences,
// each for a written reason, are tested elsewhere:
//   - URLs: go-tuf reads each map URL as the metadata URL itself (targets
//     below it in targets/); latch follows TAP 4 and its reference
//     implementation, where the URL is the base of metadata/ and targets/.
//     Each side gets the same map with its own reading of the URLs.
//   - go-tuf's Refresh stops at the first repository that fails, and its
//     lookups skip repositories that fail; latch reports every repository
//     (TestMultiTwoOfThreeOneDown). Here every repository refreshes.
//   - go-tuf counts a repository listed twice in a mapping once; latch
//     refuses such a map (TestParseMapRefuses).
//   - Patterns: go-tuf uses filepath.Match on the whole path, latch the
//     delegation rule (segment by segment): the same for the patterns
//     generated here. A pattern with a leading "/" matches nothing in
//     go-tuf and is refused by latch.
//   - Listings with different algorithm sets: go-tuf compares a listing
//     with the first of each group only and may put one repository in two
//     groups; latch groups by the combined hashes (TestMultiHashAlgorithms).
//     The simulator lists sha256 only, so both group alike here.
func TestMultiOracleGoTUF(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(4, 13))
	names := []string{"a", "b", "c"}
	paths := []string{"t0.bin", "t1.bin", "t2.bin", "t1.txt", "d/x.bin", "d/y.txt"}
	patterns := []string{"*", "*.bin", "t1*", "t[0-1].bin", "d/*", "*/*.txt", "d/x.bin"}
	var trusted, refused, multi int
	for world := range 3 {
		repos := newRepos(t, simulator.Options{ConsistentSnapshot: world == 1}, names...)
		roots := map[string][]byte{}
		for _, n := range names {
			for _, p := range paths {
				// Absent, the common content, or a content of its own.
				switch rng.IntN(4) {
				case 0:
				case 1:
					repos[n].AddTarget(p, []byte("content of "+n+" "+p), nil)
				default:
					repos[n].AddTarget(p, []byte("content of "+p), nil)
				}
			}
			repos[n].Publish()
			roots[n] = repos[n].TrustedRoot()
		}
		for m := range 8 {
			mp := &client.Map{}
			for _, n := range names {
				mp.Repositories = append(mp.Repositories, client.MapRepository{Name: n, URLs: []string{repoBase(repos[n])}})
			}
			for range 1 + rng.IntN(3) {
				listed := slices.Clone(names)
				rng.Shuffle(len(listed), func(i, j int) { listed[i], listed[j] = listed[j], listed[i] })
				listed = listed[:1+rng.IntN(len(listed))]
				var ps []string
				for _, i := range rng.Perm(len(patterns))[:1+rng.IntN(2)] {
					ps = append(ps, patterns[i])
				}
				mp.Mapping = append(mp.Mapping, mapping(ps, 1+rng.IntN(len(listed)), rng.IntN(2) == 0, listed...))
			}
			t.Run(fmt.Sprintf("world%d/map%d", world, m), func(t *testing.T) {
				for _, a := range compareWithGoTUF(t, mp, roots, repos, paths) {
					switch {
					case a == nil:
						refused++
					case len(a.Repositories()) > 1:
						multi++
						fallthrough
					default:
						trusted++
					}
				}
			})
		}
	}
	// The generator must keep producing both answers, agreements of
	// several repositories among them.
	t.Logf("%d trusted (%d by several), %d refused", trusted, multi, refused)
	if trusted < 20 || refused < 20 || multi < 10 {
		t.Errorf("%d lookups trusted (%d by several repositories), %d refused: the generator lost its spread", trusted, multi, refused)
	}
}

// compareWithGoTUF looks every path up with latch and with go-tuf over the
// same map and repositories, and returns latch's answers (nil: refused).
func compareWithGoTUF(t *testing.T, mp *client.Map, roots map[string][]byte, repos map[string]*simulator.Repo, paths []string) []*client.AgreedTarget {
	t.Helper()
	mc, err := client.NewMulti(client.MultiConfig{Map: mp, TrustedRoots: roots, StateDir: t.TempDir()},
		client.WithClock(repos["a"].Now), client.WithFetcher(fastFetcher()))
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	if err := mc.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}

	// The same map for go-tuf, whose URLs are metadata URLs.
	type goMapping struct {
		Paths        []string `json:"paths"`
		Repositories []string `json:"repositories"`
		Threshold    int      `json:"threshold"`
		Terminating  bool     `json:"terminating"`
	}
	doc := struct {
		Repositories map[string][]string `json:"repositories"`
		Mapping      []goMapping         `json:"mapping"`
	}{Repositories: map[string][]string{}}
	for _, r := range mp.Repositories {
		meta, _ := repos[r.Name].Serve()
		doc.Repositories[r.Name] = []string{meta}
	}
	for _, m := range mp.Mapping {
		doc.Mapping = append(doc.Mapping, goMapping(m))
	}
	mapJSON, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := multirepo.NewConfig(mapJSON, roots)
	if err != nil {
		t.Fatal(err)
	}
	cfg.LocalMetadataDir, cfg.LocalTargetsDir = t.TempDir(), t.TempDir()
	oracle, err := multirepo.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := oracle.Refresh(); err != nil {
		t.Fatal(err)
	}

	var out []*client.AgreedTarget
	for _, p := range paths {
		a, err := mc.Target(context.Background(), p)
		out = append(out, a)
		info, agreed, oerr := oracle.GetTargetInfo(p)
		switch {
		case err != nil && oerr != nil:
		case err != nil:
			t.Errorf("%s: latch refuses (%v); go-tuf trusts %d bytes agreed by %v (map %s)", p, err, info.Length, agreed, mapJSON)
		case oerr != nil:
			t.Errorf("%s: latch trusts it (agreed by %v); go-tuf refuses (%v) (map %s)", p, a.Repositories(), oerr, mapJSON)
		case a.Length() != info.Length || hex.EncodeToString(a.Hashes()["sha256"]) != hex.EncodeToString(info.Hashes["sha256"]) ||
			!slices.Equal(a.Repositories(), agreed):
			t.Errorf("%s: latch trusts %d bytes agreed by %v; go-tuf %d bytes agreed by %v (map %s)", p, a.Length(), a.Repositories(), info.Length, agreed, mapJSON)
		}
	}
	return out
}
