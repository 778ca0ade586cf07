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
			doc = t
			var o object
			if o, t.header, err = env.decode(role); err == nil {
				err = t.decodeBody(o)
			}
		case RoleSnapshot:
			s := &Snapshot{}
			doc = s
			var o object
			if o, s.header, err = env.decode(role); err == nil {
				err = s.decodeBody(o)
			}
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
