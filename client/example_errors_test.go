package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
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
