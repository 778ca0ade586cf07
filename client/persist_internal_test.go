package client

import (
	"sync/atomic"

	"github.com/latchsec/latch/rollback"
)

// countingStore counts the saves of the trusted state; before each, it
// calls before (if set) with the save's number, counted from 0.
type countingStore struct {
	rollback.Store
	saves  atomic.Int64
	before func(n int64)
}

func (s *countingStore) Save(st *rollback.State) error {
	n := s.saves.Add(1) - 1
	if s.before != nil {
		s.before(n)
	}
	return s.Store.Save(st)
}

// Saves returns the number of saves so far and starts counting again.
func (s *countingStore) Saves() int64 { return s.saves.Swap(0) }

// countSaves wraps the store of c, which must not be in use.
func countSaves(c *Client) *countingStore {
	d := c.disk.(*stateDir)
	s := &countingStore{Store: d.store}
	d.store = s
	return s
}

// CountSaves is countSaves for the tests of package client_test.
var CountSaves = countSaves
