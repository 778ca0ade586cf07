// Command harness runs the README's Go blocks that are not whole programs.
// TestReadmeGo (readme_test.go in the repository's root) writes each such
// block, as written but for its placeholders, as the body of a function
// beside this file, and builds them together; the first argument names the
// block to run, the flags give it the inputs the README names around it.
// It is not part of the module's packages: testdata is left out of ./...
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/latchsec/latch/client"
)

func main() {
	root := flag.String("root", "", "the trusted root `file`")
	metadataURL := flag.String("metadata-url", "", "metadata URL, for a Config the block gets")
	targetsURL := flag.String("targets-url", "", "targets URL, for a Config the block gets")
	stateDir := flag.String("state", "", "state directory, for a Config the block gets")
	mapFile := flag.String("map", "", "the map `file`")
	vendorRoot := flag.String("vendor-root", "", "the vendor's root `file`")
	orgRoot := flag.String("org-root", "", "the organisation's root `file`")
	exe := flag.String("exe", "", "the executable to update")
	dest := flag.String("dest", "", "where to download")
	covered := flag.String("covered", "", "target paths the transparency policy covers: a logged one, then one not logged")
	flag.Parse()
	cfg := client.Config{
		TrustedRoot:  read(*root),
		MetadataURLs: []string{*metadataURL},
		TargetURLs:   []string{*targetsURL},
		StateDir:     *stateDir,
	}
	ctx := context.Background()
	var err error
	switch flag.Arg(0) {
	case "usingTheClient":
		err = usingTheClient(ctx, read(*root))
	case "openWithDeadline":
		err = openWithDeadline(ctx, cfg)
	case "multipleRepositories":
		err = multipleRepositories(ctx, read(*mapFile), read(*vendorRoot), read(*orgRoot), *exe, *dest)
	case "releaseTransparency":
		if err = releaseTransparency(&cfg); err == nil {
			err = downloadCovered(ctx, cfg, *dest, filepath.SplitList(*covered))
		}
	default:
		err = fmt.Errorf("no block %q", flag.Arg(0))
	}
	if err != nil {
		log.Fatal(err)
	}
}

func read(name string) []byte {
	if name == "" {
		return nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		log.Fatal(err)
	}
	return b
}

// downloadCovered shows that the policy cfg carries is in force: the logged
// target downloads, the other is refused because the log lacks it.
func downloadCovered(ctx context.Context, cfg client.Config, dest string, paths []string) error {
	if len(paths) != 2 {
		return fmt.Errorf("want a logged and an unlogged target, got %q", paths)
	}
	c, err := client.New(cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Refresh(ctx); err != nil {
		return err
	}
	for _, p := range paths {
		t, err := c.Target(ctx, p)
		if err != nil {
			return err
		}
		err = c.DownloadFile(ctx, t, dest)
		fmt.Printf("%s: downloaded %v, not logged %v\n", p, err == nil, errors.Is(err, client.ErrNotLogged))
	}
	return nil
}
