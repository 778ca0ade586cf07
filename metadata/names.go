package metadata

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// maxEncodedRoleName keeps "<version>.<encoded>.json" within the 255-byte
// file-name limit of common file systems.
const maxEncodedRoleName = 200

// EncodeRoleName maps a role name to a string that is safe as a file name on
// every supported OS and file system: bytes other than lowercase ASCII
// letters, digits, '-' and '_' become %XX (uppercase hex). The mapping is
// injective even on case-insensitive file systems ("A" and "a" differ) and
// [DecodeRoleName] reverses it. "." and ".." cannot come out of it, so no
// role name can act as a path, and neither can a Windows device name ("con"
// becomes "%63on").
func EncodeRoleName(role string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(role); i++ {
		c := role[i]
		if 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	if role == "" || b.Len() > maxEncodedRoleName {
		return "", fmt.Errorf("%w: %q encodes to %d bytes (1..%d allowed)", ErrRoleName, role, b.Len(), maxEncodedRoleName)
	}
	enc := b.String()
	// "con.json" is a device on Windows whatever follows the dot: escape
	// the first letter of a device name too.
	if isWindowsDeviceName(enc) {
		enc = fmt.Sprintf("%%%02X", enc[0]) + enc[1:]
	}
	return enc, nil
}

// DecodeRoleName reverses EncodeRoleName; it refuses any string that
// EncodeRoleName could not have produced.
func DecodeRoleName(enc string) (string, error) {
	role, err := url.PathUnescape(enc)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrRoleName, enc, err)
	}
	if again, err := EncodeRoleName(role); err != nil || again != enc {
		return "", fmt.Errorf("%w: %q is not an encoded role name", ErrRoleName, enc)
	}
	return role, nil
}

// RoleURLName escapes a role name for use as one URL path segment, so that
// names such as "../a" or "a/b" cannot change the path requested: every byte
// but ASCII letters, digits and "_.-~" becomes %XX (uppercase hex), the
// escaping other TUF clients use (Python's urllib.parse.quote(name, "")), so
// that repositories see the same file names from every client.
func RoleURLName(role string) string {
	var b strings.Builder
	for i := 0; i < len(role); i++ {
		c := role[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("_.-~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// LocalPath maps a target path to a file below dir, the one mapping by which
// target paths become local file names (docs/decisions.md). The target path's "/"
// separated segments become directories; it is refused with ErrUnsafePath if
// it could escape dir or means something else to some OS: empty, absolute,
// an empty, "." or ".." segment, a backslash, NUL or other control character,
// a ':' (drive letters, NTFS streams), invalid UTF-8, a segment ending in '.'
// or ' ' (Windows strips them), or a Windows device name (CON, NUL, COM1, ...,
// with any extension).
func LocalPath(dir, target string) (string, error) {
	if err := checkTargetPath(target); err != nil {
		return "", err
	}
	return filepath.Join(dir, filepath.FromSlash(target)), nil
}

func checkTargetPath(target string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: %q: %s", ErrUnsafePath, target, why)
	}
	if target == "" {
		return bad("empty")
	}
	if !utf8.ValidString(target) {
		return bad("not UTF-8")
	}
	if strings.HasPrefix(target, "/") {
		return bad("absolute")
	}
	for _, r := range target {
		switch {
		case r < 0x20 || r == 0x7f:
			return bad("control character")
		case r == '\\':
			return bad("backslash")
		case r == ':':
			return bad("colon")
		}
	}
	for _, seg := range strings.Split(target, "/") {
		switch {
		case seg == "":
			return bad("empty segment")
		case seg == "." || seg == "..":
			return bad("dot segment")
		case strings.HasSuffix(seg, ".") || strings.HasSuffix(seg, " "):
			return bad("segment ends in a dot or space")
		case isWindowsDeviceName(seg):
			return bad("Windows device name")
		}
	}
	return nil
}

func isWindowsDeviceName(seg string) bool {
	base, _, _ := strings.Cut(seg, ".")
	base = strings.ToUpper(strings.TrimRight(base, " "))
	switch base {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return true
	}
	for _, prefix := range []string{"COM", "LPT"} {
		if n, ok := strings.CutPrefix(base, prefix); ok && len(n) > 0 && strings.Contains("0123456789¹²³", n) && utf8.RuneCountInString(n) == 1 {
			return true
		}
	}
	return false
}
