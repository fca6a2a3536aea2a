package web

import (
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/canonid/canonid/identity"
)

func TestLanguage(t *testing.T) {
	e := newEnv(t, options{})
	e.request("plain")
	e.request("en", func(lr *LoginRequest) { lr.UILocales = []string{"en-GB", "fr"} })
	e.request("de", func(lr *LoginRequest) { lr.UILocales = []string{"de"} })
	for _, tc := range []struct {
		name, path, accept, want string
	}{
		{"default", "/login?request=plain", "", "fr"},
		{"accept-language", "/login?request=plain", "en-US,en;q=0.9,fr;q=0.5", "en"},
		{"accept-language unsupported", "/login?request=plain", "de-DE,de;q=0.9", "fr"},
		{"accept-language garbage", "/login?request=plain", ";;;", "fr"},
		{"ui_locales over accept-language", "/login?request=en", "fr-FR", "en"},
		{"unsupported ui_locales, accept-language", "/login?request=de", "en", "en"},
		{"switch link over ui_locales", "/login?request=en&lang=fr", "en", "fr"},
		{"unknown lang parameter", "/login?request=plain&lang=xx", "en", "en"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := e.browser()
			if tc.accept != "" {
				b.header.Set("Accept-Language", tc.accept)
			}
			p := b.get(tc.path)
			wantStatus(t, p, http.StatusOK)
			wantContains(t, p, `<html lang="`+tc.want+`">`)
			if tc.want == "en" {
				wantContains(t, p, "Log in to continue to", `<label for="identifier">Login or e-mail address</label>`,
					`lang="fr" hreflang="fr">Français</a>`)
			} else {
				wantContains(t, p, "Connectez-vous", `lang="en" hreflang="en">English</a>`)
			}
		})
	}
}

func TestLanguageSwitchIsKept(t *testing.T) {
	e := newEnv(t, options{})
	e.account("alice", "pw", identity.StatusActive)
	e.request("r1")
	b := e.browser()
	p := b.get("/login?request=r1")
	wantContains(t, p, `href="/login?lang=en&request=r1"`)
	en := b.get("/login?lang=en&request=r1")
	wantContains(t, en, `<html lang="en">`, `href="/login?lang=fr&request=r1"`)
	if ck := setCookie(en.Response, langCookie); ck == nil || ck.Value != "en" {
		t.Fatalf("language cookie %+v", ck)
	}
	// Kept for the next pages, including the error of a failed login.
	wantContains(t, b.get("/login?request=r1"), `<html lang="en">`)
	wantContains(t, b.login("r1", "alice", "wrong"), `<html lang="en">`, "Incorrect login or password.")
	wantContains(t, b.get("/login?request=gone"), "This login request is no longer valid")
}

// TestCatalogs: both catalogs have the same keys, and every key the code
// and the templates use exists.
func TestCatalogs(t *testing.T) {
	cat, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	fr, en := cat.byTag["fr"], cat.byTag["en"]
	frKeys, enKeys := slices.Sorted(maps.Keys(fr.msgs)), slices.Sorted(maps.Keys(en.msgs))
	if !slices.Equal(frKeys, enKeys) {
		t.Errorf("catalog keys differ:\nfr %v\nen %v", frKeys, enKeys)
	}
	used := regexp.MustCompile(`\bT "([a-z_.]+)"|\.T\("([a-z_.]+)"`)
	files, _ := filepath.Glob("*.go")
	tmpls, _ := filepath.Glob("templates/*.html")
	n := 0
	for _, f := range append(files, tmpls...) {
		if filepath.Ext(f) == ".go" && len(f) > 8 && f[len(f)-8:] == "_test.go" {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range used.FindAllStringSubmatch(string(src), -1) {
			key := m[1] + m[2]
			n++
			if _, ok := fr.msgs[key]; !ok {
				t.Errorf("%s uses %q, missing from the catalogs", f, key)
			}
		}
	}
	if n < 20 {
		t.Errorf("found only %d uses of messages: is the pattern still right?", n)
	}
}
