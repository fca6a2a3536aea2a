package web

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestCatalog(t *testing.T) {
	fsys := fstest.MapFS{
		"locales/fr.json": {Data: []byte(`{"hello": "Bonjour %s", "bye": "Au revoir"}`)},
		"locales/en.json": {Data: []byte(`{"hello": "Hello %s", "bye": "Bye"}`)},
	}
	c, err := LoadCatalog(fsys, "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ lang, key, want string }{
		{"en", "hello", "Hello Ana"}, {"fr", "hello", "Bonjour Ana"}, {"de", "hello", "Bonjour Ana"}, {"en", "nope", "nope"},
	} {
		if got := c.T(tc.lang, tc.key, "Ana"); got != tc.want {
			t.Errorf("T(%s, %s) = %q, want %q", tc.lang, tc.key, got, tc.want)
		}
	}
	if got := c.T("en", "bye"); got != "Bye" {
		t.Errorf("T without args = %q", got)
	}
	if _, ok := c.Lookup("en", "nope"); ok {
		t.Error("Lookup found a missing key")
	}

	fsys["locales/en.json"] = &fstest.MapFile{Data: []byte(`{"hello": "Hello %s"}`)}
	if _, err := LoadCatalog(fsys, "test"); err == nil || !strings.Contains(err.Error(), "different keys") {
		t.Errorf("catalogs with different keys: %v", err)
	}
	fsys["locales/en.json"] = &fstest.MapFile{Data: []byte(`{`)}
	if _, err := LoadCatalog(fsys, "test"); err == nil || !strings.Contains(err.Error(), "test: catalog en") {
		t.Errorf("a malformed catalog: %v", err)
	}
}

// TestMessages: one language of a catalog, French when the catalog has
// not got it, writing times in the pages' zone and the language's layout.
func TestMessages(t *testing.T) {
	c := Catalog{
		"fr": {"hello": "Bonjour %s", TimeLayoutKey: "02/01/2006 à 15:04"},
		"en": {"hello": "Hello %s", TimeLayoutKey: "2 Jan 2006, 15:04"},
	}
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 5, 9, 30, 0, 0, time.UTC)
	for _, tc := range []struct{ lang, tag, hello, when string }{
		{"fr", "fr", "Bonjour Ana", "05/12/2026 à 10:30"},
		{"en", "en", "Hello Ana", "5 Dec 2026, 10:30"},
		{"de", "fr", "Bonjour Ana", "05/12/2026 à 10:30"},
	} {
		m := c.Messages(tc.lang, paris)
		if m.Tag != tc.tag || m.T("hello", "Ana") != tc.hello || m.When(at) != tc.when || m.Location() != paris {
			t.Errorf("Messages(%s) = %s: %q, %q", tc.lang, m.Tag, m.T("hello", "Ana"), m.When(at))
		}
		if !m.Has("hello") || m.Has("nope") || m.T("nope") != "nope" || m.T("hello") != c[tc.tag]["hello"] {
			t.Errorf("Messages(%s): Has or T of a missing key, or T without args", tc.lang)
		}
	}
}
