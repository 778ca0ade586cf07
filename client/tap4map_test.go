package client_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/internal/cjson"
)

const goodMap = `{
  "repositories": {
    "vendor": ["https://updates.vendor.example/", "https://mirror.vendor.example/tuf"],
    "org":    ["https://tuf.org.example/"]
  },
  "mapping": [
    {"paths": ["app/*/*"], "repositories": ["vendor", "org"], "threshold": 2, "terminating": true},
    {"paths": ["*"], "repositories": ["org"], "threshold": 1, "terminating": false}
  ]
}`

func TestParseMap(t *testing.T) {
	t.Parallel()
	m, err := client.ParseMap([]byte(goodMap))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Repositories) != 2 || m.Repositories[0].Name != "vendor" || len(m.Repositories[0].URLs) != 2 || m.Repositories[1].Name != "org" {
		t.Errorf("repositories %+v", m.Repositories)
	}
	want := []client.Mapping{
		{Paths: []string{"app/*/*"}, Repositories: []string{"vendor", "org"}, Threshold: 2, Terminating: true},
		{Paths: []string{"*"}, Repositories: []string{"org"}, Threshold: 1},
	}
	if !slices.EqualFunc(m.Mapping, want, func(a, b client.Mapping) bool {
		return slices.Equal(a.Paths, b.Paths) && slices.Equal(a.Repositories, b.Repositories) && a.Threshold == b.Threshold && a.Terminating == b.Terminating
	}) {
		t.Errorf("mapping %+v", m.Mapping)
	}
	if !m.Mapping[0].Matches("app/1.0/linux-amd64") || m.Mapping[1].Matches("app/1.0/linux-amd64") || !m.Mapping[1].Matches("x") {
		t.Error("Matches")
	}
}

// ParseMap refuses every malformed or inconsistent map file with a
// *MapError naming the field.
func TestParseMapRefuses(t *testing.T) {
	t.Parallel()
	repos := `"repositories": {"a": ["https://a.example/"], "b": ["https://b.example/"]}`
	mapOf := func(mapping string) string { return `{` + repos + `, "mapping": [` + mapping + `]}` }
	entry := func(fields string) string { return mapOf(`{` + fields + `}`) }
	const paths, two, thr, term = `"paths": ["*"]`, `"repositories": ["a", "b"]`, `"threshold": 1`, `"terminating": true`
	join := func(s ...string) string { return strings.Join(s, ", ") }
	for _, tc := range []struct {
		name, doc, field string
		err              error // also wrapped, if not nil
	}{
		{"not JSON", `{`, "", cjson.ErrSyntax},
		{"not an object", `[]`, "", cjson.ErrSyntax},
		{"trailing data", mapOf(entry(join(paths, two, thr, term))) + "x", "", cjson.ErrSyntax},
		{"duplicate top-level key", `{` + repos + `, ` + repos + `, "mapping": []}`, "", cjson.ErrDuplicateKey},
		{"duplicate repository name", `{"repositories": {"a": ["https://a.example/"], "a": ["https://b.example/"]}, "mapping": []}`, "", cjson.ErrDuplicateKey},
		{"duplicate key in a mapping", entry(join(paths, two, thr, thr, term)), "", cjson.ErrDuplicateKey},
		{"unknown top-level key", `{` + repos + `, "mapping": [], "mappings": []}`, "mappings", nil},
		{"unknown mapping key", entry(join(paths, two, thr, term, `"treshold": 2`)), "mapping[0].treshold", nil},
		{"missing repositories", `{"mapping": []}`, "repositories", nil},
		{"missing mapping", `{` + repos + `}`, "mapping", nil},
		{"missing paths", entry(join(two, thr, term)), "mapping[0].paths", nil},
		{"missing threshold", entry(join(paths, two, term)), "mapping[0].threshold", nil},
		{"missing terminating", entry(join(paths, two, thr)), "mapping[0].terminating", nil},
		{"repositories not an object", `{"repositories": [], "mapping": []}`, "repositories", cjson.ErrSyntax},
		{"URLs not a list", `{"repositories": {"a": "https://a.example/"}, "mapping": []}`, "repositories.a", cjson.ErrSyntax},
		{"URL not a string", `{"repositories": {"a": [1]}, "mapping": []}`, "repositories.a[0]", cjson.ErrSyntax},
		{"no repository", `{"repositories": {}, "mapping": []}`, "repositories", nil},
		{"repository without URL", `{"repositories": {"a": []}, "mapping": []}`, "repositories.a", nil},
		{"empty repository name", `{"repositories": {"": ["https://a.example/"]}, "mapping": []}`, "repositories.", nil},
		{"relative URL", `{"repositories": {"a": ["a.example/"]}, "mapping": []}`, "repositories.a[0]", nil},
		{"URL with a query", `{"repositories": {"a": ["https://a.example/?x=1"]}, "mapping": []}`, "repositories.a[0]", nil},
		{"URL twice", `{"repositories": {"a": ["https://a.example/", "https://a.example"]}, "mapping": []}`, "repositories.a[1]", nil},
		{"no mapping", mapOf(``), "mapping", nil},
		{"no paths", entry(join(`"paths": []`, two, thr, term)), "mapping[0].paths", nil},
		{"absolute pattern", entry(join(`"paths": ["/django/*"]`, two, thr, term)), "mapping[0].paths[0]", nil},
		{"empty pattern", entry(join(`"paths": [""]`, two, thr, term)), "mapping[0].paths[0]", nil},
		{"malformed pattern", entry(join(`"paths": ["a/[x"]`, two, thr, term)), "mapping[0].paths[0]", nil},
		{"no repository in a mapping", entry(join(paths, `"repositories": []`, thr, term)), "mapping[0].repositories", nil},
		{"unknown repository", entry(join(paths, `"repositories": ["a", "c"]`, thr, term)), "mapping[0].repositories[1]", nil},
		{"repository twice in a mapping", entry(join(paths, `"repositories": ["a", "a"]`, thr, term)), "mapping[0].repositories[1]", nil},
		{"threshold 0", entry(join(paths, two, `"threshold": 0`, term)), "mapping[0].threshold", nil},
		{"threshold above the count", entry(join(paths, two, `"threshold": 3`, term)), "mapping[0].threshold", nil},
		{"negative threshold", entry(join(paths, two, `"threshold": -1`, term)), "mapping[0].threshold", nil},
		{"fractional threshold", entry(join(paths, two, `"threshold": 1.5`, term)), "", cjson.ErrNotCanonicalizable},
		{"threshold a string", entry(join(paths, two, `"threshold": "2"`, term)), "mapping[0].threshold", cjson.ErrSyntax},
		{"terminating a string", entry(join(paths, two, thr, `"terminating": "true"`)), "mapping[0].terminating", nil},
		{"second mapping bad", mapOf(`{` + join(paths, two, thr, term) + `}, {` + join(paths, two, `"threshold": 5`, term) + `}`), "mapping[1].threshold", nil},
		{"too large", `{"x": "` + strings.Repeat("a", client.MaxMapSize) + `"}`, "", nil},
	} {
		m, err := client.ParseMap([]byte(tc.doc))
		if m != nil || err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		if !errors.Is(err, client.ErrInvalidMap) {
			t.Errorf("%s: %v does not wrap ErrInvalidMap", tc.name, err)
		}
		var me *client.MapError
		if !errors.As(err, &me) || me.Field != tc.field {
			t.Errorf("%s: %v: want field %q", tc.name, err, tc.field)
		}
		if tc.err != nil && !errors.Is(err, tc.err) {
			t.Errorf("%s: %v does not wrap %v", tc.name, err, tc.err)
		}
	}
}

// FuzzParseMap: no panic, nil result on error, and an accepted map passes
// NewMulti's own check of it (ParseMap and the check agree).
func FuzzParseMap(f *testing.F) {
	f.Add([]byte(goodMap))
	f.Add([]byte(`{"repositories": {"a": ["https://a.example/"]}, "mapping": [{"paths": ["*"], "repositories": ["a"], "threshold": 1, "terminating": false}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := client.ParseMap(data)
		if (m == nil) == (err == nil) {
			t.Fatalf("ParseMap = %v, %v", m, err)
		}
		if err != nil {
			return
		}
		for _, mp := range m.Mapping {
			if mp.Threshold < 1 || mp.Threshold > len(mp.Repositories) {
				t.Fatalf("accepted threshold %d of %d", mp.Threshold, len(mp.Repositories))
			}
		}
	})
}
