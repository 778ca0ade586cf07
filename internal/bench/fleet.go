package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// fleet is opFleet: a.clients long-lived latch clients in this process, each
// on a state directory of its own (copies of one a cold refresh filled) and
// each refreshed once, untimed, so that it holds its connection as a
// long-lived client does; then a.rounds times, all of them refresh at once,
// each round timed with the server's counts. Every client holds a
// connection, its state directory's lock and its audit log open: about three
// file descriptors per client here and one in the server.
func fleet(ctx context.Context, a opArgs, res *opResult) error {
	if a.client != clientLatch {
		return fmt.Errorf("bench-op: the fleet is of latch clients, not %q", a.client)
	}
	template := a
	template.state = filepath.Join(a.state, "template")
	if err := refreshLookup(ctx, template); err != nil {
		return err
	}
	clients := make([]tufClient, 0, a.clients)
	defer func() {
		for _, c := range clients {
			c.close()
		}
	}()
	for i := range a.clients {
		b := a
		b.state = filepath.Join(a.state, fmt.Sprint(i))
		if err := copyDir(template.state, b.state); err != nil {
			return err
		}
		c, err := openClient(b)
		if err != nil {
			return err
		}
		clients = append(clients, c)
		if err := c.refresh(ctx); err != nil {
			return err
		}
	}
	for range a.rounds {
		start := make(chan struct{})
		errs := make([]error, len(clients))
		var wg sync.WaitGroup
		for i, c := range clients {
			wg.Go(func() {
				<-start
				errs[i] = c.refreshAgain(ctx)
			})
		}
		t := &timer{a: a}
		if err := t.begin(); err != nil {
			close(start)
			wg.Wait()
			return err
		}
		close(start)
		wg.Wait()
		var round opResult
		if err := t.end(&round); err != nil {
			return err
		}
		if err := errors.Join(errs...); err != nil {
			return err
		}
		res.Rounds = append(res.Rounds, round)
	}
	return nil
}

// copyDir copies the regular files and directories under src to dst.
func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(to, info.Mode().Perm())
		}
		if !info.Mode().IsRegular() {
			return fmt.Errorf("copying %s: not a regular file", path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, info.Mode().Perm())
	})
}
