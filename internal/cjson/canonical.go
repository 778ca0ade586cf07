package cjson

import "bytes"

// isCanonical reports whether b is exactly one value in canonical form.
func isCanonical(b []byte) bool {
	return canonValue(b, 0, 0) == len(b)
}

// canonValue checks the canonical value starting at b[i], nested in depth
// containers, and returns the index after it, or -1.
func canonValue(b []byte, i, depth int) int {
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; c {
	case '"':
		end, _ := canonString(b, i)
		return end
	case '{':
		return canonObject(b, i, depth+1)
	case '[':
		return canonArray(b, i, depth+1)
	case 't':
		return canonLiteral(b, i, "true")
	case 'f':
		return canonLiteral(b, i, "false")
	case 'n':
		return canonLiteral(b, i, "null")
	case '0':
		return i + 1
	case '-':
		// "-0" is not canonical; "-01" is not JSON.
		if i+1 >= len(b) || b[i+1] < '1' || b[i+1] > '9' {
			return -1
		}
		return skipDigits(b, i+2)
	default:
		if c >= '1' && c <= '9' {
			return skipDigits(b, i+1)
		}
		return -1
	}
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}

func canonLiteral(b []byte, i int, lit string) int {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// canonString checks the canonical string starting at b[i] and returns the
// index after its closing quote (or -1) and whether it contains escapes.
func canonString(b []byte, i int) (int, bool) {
	esc := false
	j := i + 1
	for {
		j = nextSpecial(b, j, ctlAllowed)
		if j >= len(b) {
			return -1, false
		}
		switch c := b[j]; {
		case c == '"':
			return j + 1, esc
		case c == '\\':
			if j+1 >= len(b) || (b[j+1] != '"' && b[j+1] != '\\') {
				return -1, false
			}
			esc = true
			j += 2
		default:
			n := validRuneAt(b, j)
			if n == 0 {
				return -1, false
			}
			j += n
		}
	}
}

func canonObject(b []byte, i, depth int) int {
	if depth > MaxDepth {
		return -1
	}
	i++
	if i < len(b) && b[i] == '}' {
		return i + 1
	}
	var prev []byte
	prevEsc := false
	for n := 0; ; n++ {
		if i >= len(b) || b[i] != '"' {
			return -1
		}
		end, esc := canonString(b, i)
		if end < 0 {
			return -1
		}
		key := b[i+1 : end-1]
		if n > 0 && !canonKeyLess(prev, prevEsc, key, esc) {
			return -1
		}
		prev, prevEsc = key, esc
		if end >= len(b) || b[end] != ':' {
			return -1
		}
		if i = canonValue(b, end+1, depth); i < 0 || i >= len(b) {
			return -1
		}
		switch b[i] {
		case ',':
			i++
		case '}':
			return i + 1
		default:
			return -1
		}
	}
}

func canonArray(b []byte, i, depth int) int {
	if depth > MaxDepth {
		return -1
	}
	i++
	if i < len(b) && b[i] == ']' {
		return i + 1
	}
	for {
		if i = canonValue(b, i, depth); i < 0 || i >= len(b) {
			return -1
		}
		switch b[i] {
		case ',':
			i++
		case ']':
			return i + 1
		default:
			return -1
		}
	}
}

// canonKeyLess reports whether canonical key contents a sort strictly before
// b once their escapes (only \\ and \") are decoded.
func canonKeyLess(a []byte, aEsc bool, b []byte, bEsc bool) bool {
	if !aEsc && !bEsc {
		return bytes.Compare(a, b) < 0
	}
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		ca, cb := a[i], b[j]
		if ca == '\\' {
			i++
			ca = a[i]
		}
		if cb == '\\' {
			j++
			cb = b[j]
		}
		if ca != cb {
			return ca < cb
		}
		i++
		j++
	}
	return i == len(a) && j < len(b)
}
