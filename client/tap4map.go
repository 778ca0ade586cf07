package client

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path"
	"strings"

	"github.com/latchsec/latch/internal/cjson"
	"github.com/latchsec/latch/metadata"
)

// ErrInvalidMap: a map file (TAP 4) that is not well formed or not
// consistent. See *MapError.
var ErrInvalidMap = errors.New("invalid map file")

// MapError reports what is wrong with a map file, and where: Field is a path
// into the document such as "mapping[1].threshold" or "repositories.vendor".
// It wraps ErrInvalidMap and, for JSON that does not parse (a duplicate key,
// say), the parser's error.
type MapError struct {
	Field  string
	Reason string
	Err    error // the JSON parser's error, nil otherwise
}

func (e *MapError) Error() string {
	s := ErrInvalidMap.Error()
	if e.Field != "" {
		s += ": " + e.Field
	}
	s += ": " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *MapError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrInvalidMap}
	}
	return []error{ErrInvalidMap, e.Err}
}

// Map is a map file (TAP 4): which repositories there are, and which of
// them must agree on which targets. Parse one with ParseMap, or build one;
// NewMulti checks it the same way.
type Map struct {
	// Repositories in the order of the file. Each repository's URLs are its
	// mirrors, in order of preference; each is the base of the repository's
	// "metadata/" and "targets/" directories.
	Repositories []MapRepository
	// Mapping is searched in order; see Multi.Target.
	Mapping []Mapping
}

// MapRepository is one repository of a map file.
type MapRepository struct {
	Name string
	URLs []string
}

// Mapping assigns target paths to repositories (TAP 4 "mapping" entry).
type Mapping struct {
	// Paths are patterns like the "paths" of a delegation: "*" and the
	// other wildcards of path.Match match within one path segment, never
	// across "/", so "*" matches "a.txt" but not "app/1.0/linux-amd64"
	// (use "app/*/*" for that).
	Paths []string
	// Repositories are the names of the repositories consulted, in
	// priority order; each at most once.
	Repositories []string
	// Threshold is how many of Repositories must list a target with the
	// same length and hashes: 1 to len(Repositories).
	Threshold int
	// Terminating ends the search when this mapping matches a path but its
	// repositories do not agree on it; otherwise the next mapping that
	// matches is tried.
	Terminating bool
}

// Matches reports whether the mapping is consulted for target path p.
func (m Mapping) Matches(p string) bool {
	return metadata.DelegatedRole{Paths: m.Paths}.Matches(p)
}

// MaxMapSize is the largest map file ParseMap accepts.
const MaxMapSize = 1 << 20

// ParseMap parses and checks a map file in TAP 4's format:
//
//	{
//	  "repositories": {"vendor": ["https://updates.vendor.example/"],
//	                   "org":    ["https://tuf.org.example/"]},
//	  "mapping": [
//	    {"paths": ["app/*/*"], "repositories": ["vendor", "org"],
//	     "threshold": 2, "terminating": true}
//	  ]
//	}
//
// Parsing is strict: every key listed above is required and no other is
// allowed, a key may not appear twice in an object, repository names are
// unique and non-empty, every repository has at least one http(s) URL,
// every mapping has at least one path pattern and one repository, names
// only repositories listed under "repositories", each once, and has a
// threshold between 1 and the number of its repositories. A pattern that no
// target path could match (a leading "/", a malformed pattern) is refused
// too: a mapping that silently never matches would hand its paths to the
// mappings after it. Any failure is a *MapError.
//
// The map file is part of the application's configuration, like its trusted
// roots: embed it or read it from a local file the application protects.
// It may also be distributed as a target of a repository the configuration
// already trusts (see Multi); never take one from an unverified source.
func ParseMap(data []byte) (*Map, error) {
	if len(data) > MaxMapSize {
		return nil, &MapError{Reason: fmt.Sprintf("%d bytes, more than the %d allowed", len(data), MaxMapSize)}
	}
	m := &Map{}
	err := members(data, "", map[string]func(string, []byte) error{
		"repositories": func(field string, v []byte) error {
			return cjson.Members(v, func(name string, urls []byte) error {
				f := field + "." + name
				u, err := stringList(urls, f)
				m.Repositories = append(m.Repositories, MapRepository{Name: name, URLs: u})
				return err
			})
		},
		"mapping": func(field string, v []byte) error {
			i := 0
			return cjson.Elements(v, func(e []byte) error {
				mp, err := parseMapping(e, fmt.Sprintf("%s[%d]", field, i))
				m.Mapping = append(m.Mapping, mp)
				i++
				return err
			})
		},
	})
	if err != nil {
		return nil, err
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	return m, nil
}

func parseMapping(data []byte, field string) (Mapping, error) {
	var m Mapping
	err := members(data, field, map[string]func(string, []byte) error{
		"paths": func(f string, v []byte) (err error) {
			m.Paths, err = stringList(v, f)
			return err
		},
		"repositories": func(f string, v []byte) (err error) {
			m.Repositories, err = stringList(v, f)
			return err
		},
		"threshold": func(f string, v []byte) error {
			n, err := cjson.Int(v)
			if err != nil {
				return &MapError{Field: f, Reason: "not an integer", Err: err}
			}
			if n < 0 || n > math.MaxInt32 {
				return &MapError{Field: f, Reason: fmt.Sprintf("%d: want 1 or more", n)}
			}
			m.Threshold = int(n) // checked against the repositories in Map.check
			return nil
		},
		"terminating": func(f string, v []byte) error {
			switch string(v) {
			case "true":
				m.Terminating = true
			case "false":
			default:
				return &MapError{Field: f, Reason: "not a boolean"}
			}
			return nil
		},
	})
	return m, err
}

// members walks the JSON object data, which must have exactly the keys of
// fields, and calls each key's function with its field path and value.
func members(data []byte, field string, fields map[string]func(string, []byte) error) error {
	seen := make(map[string]bool, len(fields))
	err := cjson.Members(data, func(key string, v []byte) error {
		f := key
		if field != "" {
			f = field + "." + key
		}
		fn, ok := fields[key]
		if !ok {
			return &MapError{Field: f, Reason: "unknown key"}
		}
		seen[key] = true
		if err := fn(f, v); err != nil {
			var me *MapError
			if errors.As(err, &me) {
				return err
			}
			return &MapError{Field: f, Reason: "malformed", Err: err}
		}
		return nil
	})
	if err != nil {
		var me *MapError
		if errors.As(err, &me) {
			return err
		}
		return &MapError{Field: field, Reason: "not a well-formed JSON object", Err: err}
	}
	for key := range fields {
		if !seen[key] {
			f := key
			if field != "" {
				f = field + "." + key
			}
			return &MapError{Field: f, Reason: "missing"}
		}
	}
	return nil
}

// stringList decodes a JSON array of strings.
func stringList(data []byte, field string) ([]string, error) {
	var out []string
	err := cjson.Elements(data, func(v []byte) error {
		s, err := cjson.String(v)
		if err != nil {
			return &MapError{Field: fmt.Sprintf("%s[%d]", field, len(out)), Reason: "not a string", Err: err}
		}
		out = append(out, s)
		return nil
	})
	var me *MapError
	if err != nil && !errors.As(err, &me) {
		return nil, &MapError{Field: field, Reason: "not an array of strings", Err: err}
	}
	return out, err
}

// check applies the rules ParseMap documents after the JSON ones.
func (m *Map) check() error {
	if len(m.Repositories) == 0 {
		return &MapError{Field: "repositories", Reason: "no repository"}
	}
	names := make(map[string]bool, len(m.Repositories))
	for _, r := range m.Repositories {
		f := "repositories." + r.Name
		if names[r.Name] {
			return &MapError{Field: f, Reason: "repository listed twice"}
		}
		names[r.Name] = true
		if _, err := metadata.EncodeRoleName(r.Name); err != nil {
			return &MapError{Field: f, Reason: "unusable repository name", Err: err}
		}
		if len(r.URLs) == 0 {
			return &MapError{Field: f, Reason: "no URL"}
		}
		seen := make(map[string]bool, len(r.URLs))
		for i, u := range r.URLs {
			b, err := baseURL(u)
			if err != nil {
				return &MapError{Field: fmt.Sprintf("%s[%d]", f, i), Reason: err.Error()}
			}
			if seen[b] {
				return &MapError{Field: fmt.Sprintf("%s[%d]", f, i), Reason: fmt.Sprintf("URL %q listed twice", u)}
			}
			seen[b] = true
		}
	}
	if len(m.Mapping) == 0 {
		return &MapError{Field: "mapping", Reason: "no mapping"}
	}
	for i, mp := range m.Mapping {
		f := fmt.Sprintf("mapping[%d]", i)
		if len(mp.Paths) == 0 {
			return &MapError{Field: f + ".paths", Reason: "no path pattern"}
		}
		for j, p := range mp.Paths {
			if err := checkPattern(p); err != nil {
				return &MapError{Field: fmt.Sprintf("%s.paths[%d]", f, j), Reason: err.Error()}
			}
		}
		if len(mp.Repositories) == 0 {
			return &MapError{Field: f + ".repositories", Reason: "no repository"}
		}
		listed := make(map[string]bool, len(mp.Repositories))
		for j, name := range mp.Repositories {
			rf := fmt.Sprintf("%s.repositories[%d]", f, j)
			switch {
			case !names[name]:
				return &MapError{Field: rf, Reason: fmt.Sprintf("unknown repository %q", name)}
			case listed[name]:
				return &MapError{Field: rf, Reason: fmt.Sprintf("repository %q listed twice", name)}
			}
			listed[name] = true
		}
		if mp.Threshold < 1 || mp.Threshold > len(mp.Repositories) {
			return &MapError{Field: f + ".threshold", Reason: fmt.Sprintf("%d: want 1 to %d, the number of repositories listed", mp.Threshold, len(mp.Repositories))}
		}
	}
	return nil
}

// MapFromTarget reads the map file that c's repository lists as target
// path, verified like any target, and parses it (ParseMap).
//
// Use it when the map is distributed by a repository the application
// already trusts (c's root is embedded in it), as go-tuf's multi-repository
// example does; the other repositories' roots can come the same way
// (Client.ReadTarget). The map is then only as trustworthy as that
// repository: whoever holds its targets keys decides which repositories
// must agree on what, and could lower a threshold to its own repository
// alone. For a gate whose point is that no single party decides, such as
// an organisation approving a vendor's releases, embed the map instead.
func MapFromTarget(ctx context.Context, c *Client, path string) (*Map, error) {
	t, err := c.Target(ctx, path)
	if err != nil {
		return nil, err
	}
	b, err := c.ReadTarget(ctx, t, MaxMapSize)
	if err != nil {
		return nil, err
	}
	return ParseMap(b)
}

// checkPattern refuses a pattern that no target path can match.
func checkPattern(p string) error {
	if p == "" || strings.HasPrefix(p, "/") {
		return fmt.Errorf("pattern %q can match no target path (target paths are relative, without a leading /)", p)
	}
	for seg := range strings.SplitSeq(p, "/") {
		if _, err := path.Match(seg, ""); err != nil {
			return fmt.Errorf("pattern %q: %v", p, err)
		}
	}
	return nil
}

// repository returns the repository named name.
func (m *Map) repository(name string) (MapRepository, bool) {
	for _, r := range m.Repositories {
		if r.Name == name {
			return r, true
		}
	}
	return MapRepository{}, false
}
