package mergekey

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store/storetest"
	"github.com/canonid/canonid/web"
)

// TestPages is seed 002 in the browser: B generates a key on
// /account/merge-key; A pastes it on /account/merge, sees the preview,
// confirms, and finds B's login under "Utilisateurs fusionnés".
func TestPages(t *testing.T) {
	eachStore(t, Config{}, func(t *testing.T, e *env) {
		a, b := e.seedAccounts()

		// Not logged in: the pages ask to log in.
		anon := e.browser()
		for _, path := range []string{PathKeyPage, PathMergePage} {
			p := anon.get(path)
			wantStatus(t, p, http.StatusUnauthorized)
			wantContains(t, p, "Connectez-vous d'abord", `href="`+web.PathLogin+`"`)
		}

		// On B: the button, then the key, shown once.
		bb := e.browser()
		bb.login("franck.cavel3")
		p := bb.get(PathKeyPage)
		wantStatus(t, p, http.StatusOK)
		wantContains(t, p, `<html lang="fr">`, "Clé de fusion", "Générer une clé de fusion")
		if p.header.Get("Cache-Control") != "no-store" || p.header.Get("Content-Security-Policy") == "" {
			t.Errorf("page headers %v", p.header)
		}
		// Without its CSRF token, the form is refused.
		wantStatus(t, bb.post(PathKeyPage, url.Values{}), http.StatusForbidden)
		p = bb.post(PathKeyPage, url.Values{web.CSRFField: {p.csrf(t)}})
		wantStatus(t, p, http.StatusOK)
		m := keyRE.FindStringSubmatch(p.body)
		if m == nil || !keyFormat.MatchString(m[1]) {
			t.Fatalf("no key on the page:\n%s", p.body)
		}
		key := m[1]
		wantContains(t, p, "elle ne sera plus affichée", "valable jusqu'au 03/03/2026 à 10:00") // 24 h later, Paris time
		// The page shows it once: back on the page, only its expiry.
		p = bb.get(PathKeyPage)
		wantContains(t, p, "valable jusqu'au 03/03/2026 à 10:00", "Générer une nouvelle clé de fusion")
		if strings.Contains(p.body, key) {
			t.Fatal("the key is shown again")
		}

		// On A: paste, with a typo the form forgives (lower case, no
		// dashes), and a wrong key first.
		ab := e.browser()
		ab.login("franck.cavel")
		p = ab.get(PathMergePage)
		wantStatus(t, p, http.StatusOK)
		wantContains(t, p, "Fusionner des utilisateurs", "Utilisateurs fusionnés", "Aucun compte n'a été fusionné")
		p = ab.post(PathMergePage, url.Values{web.CSRFField: {p.csrf(t)}, "key": {formatKey(newKey())}})
		wantStatus(t, p, http.StatusBadRequest)
		wantContains(t, p, "Cette clé de fusion n'est pas valable")
		p = ab.post(PathMergePage, url.Values{web.CSRFField: {p.csrf(t)}, "key": {strings.ToLower(strings.ReplaceAll(key, "-", ""))}})
		wantStatus(t, p, http.StatusOK)
		wantContains(t, p, "Aperçu de la fusion", "Le compte franck.cavel3 sera fusionné dans le compte franck.cavel",
			"romain.gentef@opendigitaleducation.com", "Date de naissance", "1984-10-17", "1978-06-01", "Confirmer la fusion")
		if got := e.get(b.ID); got.Status != identity.StatusActive {
			t.Fatalf("the preview merged B: %s", got.Status)
		}

		// Confirm.
		confirm := p.form(t, PathMergePage)
		if confirm.Get("confirm") != "1" || confirm.Get(web.CSRFField) == "" {
			t.Fatalf("confirm form %v", confirm)
		}
		p = ab.post(PathMergePage, confirm)
		wantStatus(t, p, http.StatusOK)
		wantContains(t, p, "Comptes fusionnés", "Le compte franck.cavel3 a été fusionné dans ce compte", "franck.cavel3")
		if got := e.get(b.ID); got.Status != identity.StatusMerged || got.MergedInto != a.ID {
			t.Fatalf("B: %s into %q", got.Status, got.MergedInto)
		}
		// Confirming again (a reload) is refused as a used key.
		wantStatus(t, ab.post(PathMergePage, confirm), http.StatusBadRequest)

		// A's page lists B's login, in English too.
		p = ab.get(PathMergePage + "?lang=en")
		wantContains(t, p, `<html lang="en">`, "Merged users", "franck.cavel3", "FRANCK CAVEL")
		if !regexp.MustCompile(`<ul id="merged-users">\s*<li><strong>franck.cavel3</strong>`).MatchString(p.body) {
			t.Errorf("merged users list:\n%s", p.body)
		}
		// B's session is over.
		wantStatus(t, bb.get(PathKeyPage), http.StatusUnauthorized)
		storetest.CheckInvariants(t, e.st)
	})
}

// TestCatalogs: both catalogs have the same keys (loadCatalogs checks) and
// every key the templates and the code use.
func TestCatalogs(t *testing.T) {
	cat, err := loadCatalogs(nil)
	if err != nil {
		t.Fatal(err)
	}
	used := regexp.MustCompile(`\bT "([a-z_.]+)"|\.T\("([a-z_.]+)"`)
	files, _ := filepath.Glob("templates/*.html")
	files = append(files, "pages.go")
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range used.FindAllStringSubmatch(string(b), -1) {
			key := m[1] + m[2]
			n++
			for _, tag := range languages {
				if _, ok := cat[tag].m[key]; !ok {
					t.Errorf("%s: key %q missing from catalog %s", f, key, tag)
				}
			}
		}
	}
	if n < 30 {
		t.Fatalf("found only %d message uses: the pattern is wrong", n)
	}
}
