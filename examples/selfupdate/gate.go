package main

import (
	"os"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/metadata"
)

// openMulti opens the client of the repositories of o's map file, each
// with its trusted root from o.roots/<name>.root.json. A real application
// embeds the map and the roots, as it does a single root.
func openMulti(o options, opts ...client.Option) (updater, error) {
	data, err := os.ReadFile(o.mapFile)
	if err != nil {
		return nil, err
	}
	m, err := client.ParseMap(data)
	if err != nil {
		return nil, err
	}
	roots := map[string][]byte{}
	for _, r := range m.Repositories {
		p, err := metadata.LocalPath(o.roots, r.Name+".root.json")
		if err != nil {
			return nil, err
		}
		if roots[r.Name], err = os.ReadFile(p); err != nil {
			return nil, err
		}
	}
	mc, err := client.NewMulti(client.MultiConfig{Map: m, TrustedRoots: roots, StateDir: o.stateDir}, opts...)
	if err != nil {
		return nil, err
	}
	return mc, nil
}
