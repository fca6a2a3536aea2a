package web

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"slices"
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
	m, ok := c.Lookup(lang, key)
	if !ok {
		return key
	}
	if len(args) == 0 {
		return m
	}
	return fmt.Sprintf(m, args...)
}

// Lookup returns the message of key in lang (French when lang is
// unknown), if the catalog has one.
func (c Catalog) Lookup(lang, key string) (string, bool) {
	msgs, ok := c[lang]
	if !ok {
		msgs = c["fr"]
	}
	m, ok := msgs[key]
	return m, ok
}
