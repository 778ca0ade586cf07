package cjson

// Escape returns canonical bytes (from Canonicalize) as RFC 8259 JSON: each
// raw control character inside a string is written as a JSON escape (\b,
// \f, \n, \r, \t or \u00XX, as encoding/json writes them). Canonicalize
// maps the result back to canonical exactly. Without control characters the
// canonical form is already JSON and is returned as it is.
func Escape(canonical []byte) []byte {
	n := 0
	for _, c := range canonical {
		if c < 0x20 {
			n++
		}
	}
	if n == 0 {
		return canonical
	}
	const hex = "0123456789abcdef"
	out := make([]byte, 0, len(canonical)+5*n)
	// Outside strings canonical JSON has no control characters, so every
	// one found is inside a string and no string state is needed.
	for _, c := range canonical {
		if c >= 0x20 {
			out = append(out, c)
			continue
		}
		switch c {
		case '\b':
			out = append(out, '\\', 'b')
		case '\f':
			out = append(out, '\\', 'f')
		case '\n':
			out = append(out, '\\', 'n')
		case '\r':
			out = append(out, '\\', 'r')
		case '\t':
			out = append(out, '\\', 't')
		default:
			out = append(out, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
	}
	return out
}
