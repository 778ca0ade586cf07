package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/latchsec/latch/client"
)

// ExampleClient_Resolve finds the newest release of myapp in a channel,
// by the release convention: targets myapp/<version>/<os>-<arch> whose
// signed custom data names the version and channels.
func ExampleClient_Resolve() {
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

	ctx := context.Background()
	if err := c.Refresh(ctx); err != nil {
		log.Fatal(err)
	}
	for _, channel := range []string{"stable", "beta"} {
		info, err := c.Resolve(ctx, client.Release{App: "myapp", Channel: channel, OS: "linux", Arch: "amd64"})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(channel+":", info.Version, info.Target.Path())
	}
	_, err = c.Resolve(ctx, client.Release{App: "myapp", OS: "windows", Arch: "arm64"})
	fmt.Println("windows-arm64:", errors.Is(err, client.ErrNoRelease))
	// Output:
	// stable: 1.4.2 myapp/1.4.2/linux-amd64
	// beta: 1.5.0-rc.1 myapp/1.5.0-rc.1/linux-amd64
	// windows-arm64: true
}

// ExampleClient_Apply updates an application's executable from 1.4.1 to
// the newest stable release. The health check here reads the new build;
// a real application runs it, with HealthCheckCommand.
func ExampleClient_Apply() {
	url, rootJSON, dir, done := exampleRepo()
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

	exe := exampleExecutable(dir)
	// First at every start: finish or undo an update a crash interrupted.
	if err := c.Recover("myapp", exe); err != nil {
		log.Fatal(err)
	}
	looksRight := client.HealthCheck(func(ctx context.Context, path string) error {
		b, err := os.ReadFile(path)
		if err == nil && !bytes.HasPrefix(b, []byte("myapp ")) {
			err = errors.New("not myapp")
		}
		return err
	})
	rel := client.Release{App: "myapp", OS: "linux", Arch: "amd64"} // channel stable
	res, err := c.Apply(context.Background(), rel, exe, looksRight, client.CurrentVersion("1.4.1"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("updated:", res.Updated, res.Previous, "->", res.Release.Version)
	b, err := os.ReadFile(exe)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print("the executable: ", string(b))

	res, err = c.Apply(context.Background(), rel, exe, looksRight)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("updated:", res.Updated, "(up to date)")
	// Output:
	// updated: true 1.4.1 -> 1.4.2
	// the executable: myapp 1.4.2
	// updated: false (up to date)
}
