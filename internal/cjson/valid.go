package cjson

// Walking JSON that this package has already validated.
//
// Canonicalize validates every byte of its input; Members and Elements
// validate their input too, so that walking a large document level by level
// validates the same bytes once per level. The functions below skip that:
// they take bytes that are already known to be valid (Canonicalize's result,
// an object or array Members or Elements accepted, or a value inside either)
// and only find the boundaries of members and elements. Given anything else
// their behaviour is undefined (they may panic): never pass them bytes that
// no validating function of this package accepted.

// MembersValid calls fn for each member of the validated JSON object obj, in
// document order, with the offset in obj of the key's opening quote (see
// MemberAt), the raw key (the bytes between its quotes, still escaped: see
// DecodeKey and KeyIs) and the value's bytes (capacity limited to their
// length). It stops at the first error from fn and returns it.
func MembersValid(obj []byte, fn func(off int, rawKey, value []byte) error) error {
	i := skipWS(obj, 1)
	if obj[i] == '}' {
		return nil
	}
	for {
		end := skipString(obj, i)
		key := obj[i+1 : end-1 : end-1]
		v := skipWS(obj, skipWS(obj, end)+1)
		vend := skipValue(obj, v)
		if err := fn(i, key, obj[v:vend:vend]); err != nil {
			return err
		}
		if i = skipWS(obj, vend); obj[i] == '}' {
			return nil
		}
		i = skipWS(obj, i+1)
	}
}

// ElementsValid calls fn for each element of the validated JSON array arr,
// in order. It stops at the first error from fn and returns it.
func ElementsValid(arr []byte, fn func(value []byte) error) error {
	i := skipWS(arr, 1)
	if arr[i] == ']' {
		return nil
	}
	for {
		end := skipValue(arr, i)
		if err := fn(arr[i:end:end]); err != nil {
			return err
		}
		if i = skipWS(arr, end); arr[i] == ']' {
			return nil
		}
		i = skipWS(arr, i+1)
	}
}

// DecodeKey decodes a raw key from MembersValid.
func DecodeKey(rawKey []byte) string { return decodeString(rawKey) }

// KeyIs reports whether a raw key from MembersValid is the key s. s must not
// need escaping (no '"', '\\' or control characters), which holds for the
// field names of a schema.
func KeyIs(rawKey []byte, s string) bool { return string(rawKey) == s }

// MemberAt returns the raw key and the value of the member of the validated
// object obj whose key's opening quote is at off (an offset MembersValid
// reported).
func MemberAt(obj []byte, off int) (rawKey, value []byte) {
	end := skipString(obj, off)
	v := skipWS(obj, skipWS(obj, end)+1)
	vend := skipValue(obj, v)
	return obj[off+1 : end-1 : end-1], obj[v:vend:vend]
}

// KeyAt returns the raw key of the member of the validated object obj whose
// key's opening quote is at off, without finding its value.
func KeyAt(obj []byte, off int) []byte {
	end := skipString(obj, off)
	return obj[off+1 : end-1 : end-1]
}

// ValueAt returns the offset in the validated JSON object obj of the value
// of its member key (compared decoded), skipping the values of the members
// before it but not its own; false if obj has no such member.
func ValueAt(obj []byte, key string) (int, bool) {
	i := skipWS(obj, 1)
	for obj[i] != '}' {
		end := skipString(obj, i)
		v := skipWS(obj, skipWS(obj, end)+1)
		if decodeString(obj[i+1:end-1]) == key {
			return v, true
		}
		if i = skipWS(obj, skipValue(obj, v)); obj[i] == '}' {
			break
		}
		i = skipWS(obj, i+1)
	}
	return 0, false
}

// ValueEnd returns the index after the validated JSON value that starts at
// b[i].
func ValueEnd(b []byte, i int) int { return skipValue(b, i) }
