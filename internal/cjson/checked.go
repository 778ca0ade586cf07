package cjson

// Reading members at offsets that were not validated.
//
// MemberAt and KeyAt trust their offset. A caller that learns offsets from
// somewhere it can't vouch for (an index kept on disk beside the bytes it
// points into) uses the functions below: they check what they read and
// never read outside the slice they are given.

// MemberChecked returns the raw key and the value of the object member
// whose key's opening quote is at b[off], as MemberAt does, checking the
// key string and the value as it reads them: by the rules of the canonical
// form when canonical is set (raw control characters allowed in strings),
// else by those of Canonicalize. The member must end within b; what follows
// it is not looked at. Anything else is an *Error wrapping ErrSyntax (or
// the sentinel of the rule broken).
func MemberChecked(b []byte, off int, canonical bool) (rawKey, value []byte, err error) {
	end, err := stringEnd(b, off, canonical)
	if err != nil {
		return nil, nil, err
	}
	var v, vend int
	if canonical {
		if end >= len(b) || b[end] != ':' {
			return nil, nil, errorf(end, ErrSyntax, "no colon after an object key")
		}
		v = end + 1
		if vend = canonValue(b, v, 0); vend < 0 {
			return nil, nil, errorf(v, ErrSyntax, "value not in canonical form")
		}
	} else {
		i := skipWS(b, end)
		if i >= len(b) || b[i] != ':' {
			return nil, nil, errorf(i, ErrSyntax, "no colon after an object key")
		}
		v = skipWS(b, i+1)
		p := parser{src: b}
		if vend, err = p.value(v, 0); err != nil {
			return nil, nil, err
		}
	}
	return b[off+1 : end-1 : end-1], b[v:vend:vend], nil
}

// KeyChecked is MemberChecked for the key alone.
func KeyChecked(b []byte, off int, canonical bool) (rawKey []byte, err error) {
	end, err := stringEnd(b, off, canonical)
	if err != nil {
		return nil, err
	}
	return b[off+1 : end-1 : end-1], nil
}

// stringEnd checks the string that starts at b[off] and returns the index
// after its closing quote.
func stringEnd(b []byte, off int, canonical bool) (int, error) {
	if off < 0 || off >= len(b) || b[off] != '"' {
		return 0, errorf(off, ErrSyntax, "no string at offset %d", off)
	}
	if canonical {
		end, _ := canonString(b, off)
		if end < 0 {
			return 0, errorf(off, ErrSyntax, "string not in canonical form")
		}
		return end, nil
	}
	p := parser{src: b}
	end, _, err := p.scanString(off)
	return end, err
}
