package verify

import "slices"

// Signature is one entry of a metadata envelope's "signatures" list. Sig is
// the raw signature (the caller decodes the hex).
type Signature struct {
	KeyID string
	Sig   []byte
}

// Threshold checks that at least threshold distinct keys authorised for the
// role name signed message, and returns the key IDs that counted, sorted.
//
// keyIDs are the key IDs the delegator authorises for the role and keys maps
// key IDs to parsed keys (nil for keys that did not parse; they are skipped).
// A signature counts only if its key ID is in keyIDs, keys holds a key for it
// and the signature verifies. Key IDs are opaque: they are looked up, never
// recomputed. Each distinct public key (see [PublicKey.Equal]) counts at most
// once, however many key IDs or signatures point at it.
//
// A threshold below 1 gives a *[ThresholdError] wrapping
// [ErrInvalidThreshold]; too few valid signatures give one wrapping
// [ErrThreshold] that lists the signers and the rejected key IDs.
func Threshold(name string, threshold int, keyIDs []string, keys map[string]*PublicKey, message []byte, sigs []Signature) ([]string, error) {
	if threshold < 1 {
		return nil, &ThresholdError{Role: name, Threshold: threshold, Err: ErrInvalidThreshold}
	}
	authorised := make(map[string]bool, len(keyIDs))
	for _, id := range keyIDs {
		authorised[id] = true
	}
	type attempt struct{ keyID, sig string }
	var (
		d        = &digests{message: message}
		counted  = make(map[string]bool) // PublicKey.id of keys that counted
		tried    = make(map[attempt]bool)
		signers  []string
		rejected []string
	)
	for _, s := range sigs {
		key := keys[s.KeyID]
		if !authorised[s.KeyID] || key == nil {
			rejected = append(rejected, s.KeyID)
			continue
		}
		if counted[key.id] {
			continue
		}
		a := attempt{s.KeyID, string(s.Sig)}
		if tried[a] {
			continue
		}
		tried[a] = true
		if key.verify(d, s.Sig) != nil {
			rejected = append(rejected, s.KeyID)
			continue
		}
		counted[key.id] = true
		signers = append(signers, s.KeyID)
	}
	slices.Sort(signers)
	if len(signers) >= threshold {
		return signers, nil
	}
	// A key ID whose first signature failed may have counted with a later one.
	rejected = slices.DeleteFunc(rejected, func(id string) bool {
		_, found := slices.BinarySearch(signers, id)
		return found
	})
	slices.Sort(rejected)
	return nil, &ThresholdError{
		Role:      name,
		Threshold: threshold,
		Valid:     len(signers),
		Signers:   signers,
		Rejected:  slices.Compact(rejected),
		Err:       ErrThreshold,
	}
}
