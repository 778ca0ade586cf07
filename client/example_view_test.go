package client_test

import (
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/latchsec/latch/client"
)

// ExampleOffline reads what a client verified earlier, without network and
// without the state directory's lock, as an application does at start-up
// beside its updater. Two days on, the view still answers and says which
// roles have expired since.
func ExampleOffline() {
	url, rootJSON, dir, done := exampleRepo()
	defer done()
	cfg := client.Config{
		TrustedRoot:  rootJSON,
		MetadataURLs: []string{url + "/metadata/"},
		TargetURLs:   []string{url + "/targets/"},
		StateDir:     dir,
	}
	// The updater refreshed, and still holds the state directory.
	c, err := client.New(cfg, client.WithClock(exampleNow))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Refresh(context.Background()); err != nil {
		log.Fatal(err)
	}

	for _, days := range []int{0, 2} {
		now := exampleNow().AddDate(0, 0, days)
		view, err := client.Offline(cfg, client.WithClock(func() time.Time { return now }))
		if err != nil {
			log.Fatal(err)
		}
		t, err := view.Target("app/1.0/linux-amd64")
		if err != nil {
			log.Fatal(err)
		}
		var stale []string
		for _, r := range view.Roles() {
			if r.Stale {
				stale = append(stale, r.Role)
			}
		}
		for _, r := range t.Chain() { // the targets roles the answer relied on
			fmt.Printf("day %d: %s, %d bytes, listed by %s v%d (stale %v); expired: [%s]\n",
				days, t.Path(), t.Length(), r.Role, r.Version, r.Stale, strings.Join(stale, " "))
		}
	}
	// Output:
	// day 0: app/1.0/linux-amd64, 19 bytes, listed by targets v2 (stale false); expired: []
	// day 2: app/1.0/linux-amd64, 19 bytes, listed by targets v2 (stale false); expired: [timestamp]
}

// ExampleClient_Status reports, without I/O, what the client trusts and
// how its mirrors did: for a dashboard or a health endpoint.
func ExampleClient_Status() {
	url, rootJSON, dir, done := exampleRepo()
	defer done()
	c, err := client.New(client.Config{
		TrustedRoot:  rootJSON,
		MetadataURLs: []string{url + "/metadata/"},
		TargetURLs:   []string{url + "/targets/"},
		StateDir:     dir,
	}, client.WithClock(exampleNow))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Refresh(context.Background()); err != nil {
		log.Fatal(err)
	}

	st := c.Status()
	for _, r := range st.Roles {
		fmt.Printf("%-9s v%d expires %s stale %v\n", r.Role, r.Version, r.Expires.Format(time.DateOnly), r.Stale)
	}
	fmt.Println("last refresh:", st.LastRefresh.Format(time.RFC3339), "error:", st.LastError)
	for _, m := range st.Mirrors {
		fmt.Println("mirror", strings.TrimPrefix(m.URL, url), "consecutive failures:", m.ConsecutiveFailures)
	}
	// Output:
	// root      v1 expires 2031-01-01 stale false
	// timestamp v2 expires 2030-01-02 stale false
	// snapshot  v2 expires 2030-01-08 stale false
	// targets   v2 expires 2031-01-01 stale false
	// last refresh: 2030-01-01T00:00:00Z error: <nil>
	// mirror /metadata/ consecutive failures: 0
	// mirror /targets/ consecutive failures: 0
}
