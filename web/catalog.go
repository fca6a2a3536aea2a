package web

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"time"
)

// Catalog holds a page package's messages by language ("fr", "en") and
// key: fmt formats. The flows and consoles that draw pages of their own
// each embed one.
type Catalog map[string]map[string]string

// LoadCatalog reads locales/fr.json and locales/en.json of fsys; both must
// have the same keys. name prefixes the errors (the package's name).
func LoadCatalog(fsys fs.FS, name string) (Catalog, error) {
	c := Catalog{}
	for _, lang := range []string{"fr", "en"} {
		b, err := fs.ReadFile(fsys, "locales/"+lang+".json")
		if err != nil {
			return nil, fmt.Errorf("%s: catalog %s: %w", name, lang, err)
		}
		var msgs map[string]string
		if err := json.Unmarshal(b, &msgs); err != nil {
			return nil, fmt.Errorf("%s: catalog %s: %w", name, lang, err)
		}
		c[lang] = msgs
	}
	if fr, en := slices.Sorted(maps.Keys(c["fr"])), slices.Sorted(maps.Keys(c["en"])); !slices.Equal(fr, en) {
		return nil, fmt.Errorf("%s: the fr and en catalogs have different keys", name)
	}
	return c, nil
}

// T returns the message of key in lang (French when lang is unknown),
// formatted with args. A missing key shows as itself.
func (c Catalog) T(lang, key string, args ...any) string {
	return c.Messages(lang, time.UTC).T(key, args...)
}

// Lookup returns the message of key in lang (French when lang is
// unknown), if the catalog has one.
func (c Catalog) Lookup(lang, key string) (string, bool) {
	m, ok := c.Messages(lang, time.UTC).m[key]
	return m, ok
}

// Messages returns the messages of lang (French when the catalog has not
// got it), writing times in loc: what the pages of a package that shows
// times read as .T and .When.
func (c Catalog) Messages(lang string, loc *time.Location) Messages {
	if _, ok := c[lang]; !ok {
		lang = "fr"
	}
	return Messages{Tag: lang, m: c[lang], loc: loc}
}

// Messages is one language of a Catalog, with the time zone of the pages.
type Messages struct {
	// Tag is the language ("fr", "en").
	Tag string
	m   map[string]string
	loc *time.Location
}

// T returns the message of key, formatted with args when given. A missing
// key shows as itself (each package's tests check that the keys it uses
// exist).
func (m Messages) T(key string, args ...any) string {
	s, ok := m.m[key]
	if !ok {
		return key
	}
	if len(args) == 0 {
		return s
	}
	return fmt.Sprintf(s, args...)
}

// Has reports whether the catalog has key.
func (m Messages) Has(key string) bool {
	_, ok := m.m[key]
	return ok
}

// Location is the pages' time zone.
func (m Messages) Location() *time.Location { return m.loc }

// TimeLayoutKey is the message that holds a language's time layout, in the
// catalogs of the packages whose pages call When.
const TimeLayoutKey = "time.layout"

// When writes t in the pages' zone and the language's layout (the message
// TimeLayoutKey).
func (m Messages) When(t time.Time) string { return t.In(m.loc).Format(m.T(TimeLayoutKey)) }
