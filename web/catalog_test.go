package web

import (
	"strings"
	"testing"
	"testing/fstest"
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
