package metadata

import (
	"fmt"

	"github.com/latchsec/latch/internal/cacheopen"
)

func init() { cacheopen.Reopen = reopenCached }

// reopenCached is cacheopen.Reopen: data, the root, timestamp or snapshot a
// client verified and cached, decoded as its Open function does, the
// signature check left out (the client calls it only for bytes its trusted
// state records as verified under the root it trusts now). A root reopened
// this way has no Signers.
func reopenCached(role string, data []byte) (any, error) {
	var doc interface{ Version() int64 }
	env, err := splitEnvelope(data)
	if err == nil {
		switch role {
		case RoleRoot:
			var r *Root
			r, err = decodeRoot(env, data)
			if r != nil {
				doc = r
			}
		case RoleTimestamp:
			t := &Timestamp{}
			doc, err = t, env.decodeInto(role, &t.header, t.decodeBody)
		case RoleSnapshot:
			s := &Snapshot{}
			doc, err = s, env.decodeInto(role, &s.header, s.decodeBody)
		default:
			return nil, fmt.Errorf("metadata: no cached %q to reopen", role)
		}
	}
	if err != nil {
		v := int64(0)
		if doc != nil {
			v = doc.Version()
		}
		return nil, &Error{Role: role, Version: v, Err: fmt.Errorf("reopening from the cache: %w", err)}
	}
	return doc, nil
}

// decodeInto decodes "signed" into h and, if that succeeds, what follows
// the header with body.
func (env *envelope) decodeInto(role string, h *header, body func(object) error) error {
	o, hh, err := env.decode(role)
	*h = hh
	if err != nil {
		return err
	}
	return body(o)
}
