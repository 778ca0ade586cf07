package client_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/latchsec/latch/client"
)

// ExampleRefreshError matches a failed refresh: one *RefreshError names the
// role, errors.Is tells the kind of failure and errors.As reads its
// evidence. Here the repository stopped publishing: two days on, its
// timestamp has expired.
func ExampleRefreshError() {
	url, rootJSON, dir, done := exampleRepo()
	defer done()
	twoDaysOn := func() time.Time { return time.Date(2030, 1, 3, 0, 0, 0, 0, time.UTC) }
	c, err := client.New(client.Config{TrustedRoot: rootJSON, MetadataURLs: []string{url + "/metadata/"}, StateDir: dir},
		client.WithClock(twoDaysOn))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	err = c.Refresh(context.Background())
	var re *client.RefreshError
	var ee *client.ExpiredError
	switch {
	case errors.As(err, &re) && errors.Is(err, client.ErrExpired) && errors.As(err, &ee):
		fmt.Printf("refreshing %s: %s v%d expired at %s\n", re.Role, ee.Role, ee.Version, ee.Expires.Format(time.DateOnly))
	case errors.Is(err, client.ErrNotFound):
		fmt.Println("a mirror lacks a file: retry later; this is not \"no update\"")
	}
	st := c.Status()
	fmt.Println("status:", st.LastErrorType)
	// Output:
	// refreshing timestamp: timestamp v2 expired at 2030-01-02
	// status: *client.ExpiredError
}

// ExampleTargetError matches a failed download: one *TargetError names the
// target, errors.Is tells a tampered file (ErrHashMismatch) from a target
// no role lists (ErrUnknownTarget), and errors.As finds the mirrors that
// served it. Here the only target mirror alters what it serves; nothing
// reaches the destination.
func ExampleTargetError() {
	url, rootJSON, dir, done := exampleTamperedRepo()
	defer done()
	c, err := client.New(client.Config{
		TrustedRoot:  rootJSON,
		MetadataURLs: []string{url + "/metadata/"},
		TargetURLs:   []string{url + "/targets/"},
		StateDir:     filepath.Join(dir, "state"),
	}, client.WithClock(exampleNow))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Refresh(ctx); err != nil {
		log.Fatal(err)
	}

	t, err := c.Target(ctx, "app/1.0/linux-amd64")
	if err != nil {
		log.Fatal(err)
	}
	dest := filepath.Join(dir, "app")
	err = c.DownloadFile(ctx, t, dest)
	var te *client.TargetError
	var me *client.MirrorError
	if errors.As(err, &te) && errors.Is(err, client.ErrHashMismatch) && errors.As(err, &me) {
		_, statErr := os.Stat(dest)
		fmt.Printf("%s: hash mismatch from %d mirror; nothing at dest: %v\n", te.Path, len(me.Mirrors), errors.Is(statErr, fs.ErrNotExist))
	}

	_, err = c.Target(ctx, "app/2.0/linux-amd64")
	fmt.Println("app/2.0 listed by no role:", errors.Is(err, client.ErrUnknownTarget))
	// Output:
	// app/1.0/linux-amd64: hash mismatch from 1 mirror; nothing at dest: true
	// app/2.0 listed by no role: true
}
