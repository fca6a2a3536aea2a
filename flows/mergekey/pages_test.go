package mergekey

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/canonid/canonid/flows/flowstest"
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
		anon := e.Browser()
		for _, path := range []string{PathKeyPage, PathMergePage} {
			p := anon.Get(path)
			flowstest.WantStatus(t, p, http.StatusUnauthorized)
			flowstest.WantContains(t, p, "Connectez-vous d'abord", `href="`+web.PathLogin+`"`)
		}

		// On B: the button, then the key, shown once.
		bb := e.Browser()
		bb.Login("franck.cavel3", "pw")
		p := bb.Get(PathKeyPage)
		flowstest.WantStatus(t, p, http.StatusOK)
		flowstest.WantContains(t, p, `<html lang="fr">`, "Clé de fusion", "Générer une clé de fusion")
		if p.Header.Get("Cache-Control") != "no-store" || p.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("page headers %v", p.Header)
		}
		// Without its CSRF token, the form is refused.
		flowstest.WantStatus(t, bb.Post(PathKeyPage, url.Values{}), http.StatusForbidden)
		p = bb.Post(PathKeyPage, url.Values{web.CSRFField: {p.CSRF(t)}})
		flowstest.WantStatus(t, p, http.StatusOK)
		m := keyRE.FindStringSubmatch(p.Body)
		if m == nil || !keyFormat.MatchString(m[1]) {
			t.Fatalf("no key on the page:\n%s", p.Body)
		}
		key := m[1]
		flowstest.WantContains(t, p, "elle ne sera plus affichée", "valable jusqu'au 03/03/2026 à 10:00") // 24 h later, Paris time
		// The page shows it once: back on the page, only its expiry.
		p = bb.Get(PathKeyPage)
		flowstest.WantContains(t, p, "valable jusqu'au 03/03/2026 à 10:00", "Générer une nouvelle clé de fusion")
		if strings.Contains(p.Body, key) {
			t.Fatal("the key is shown again")
		}

		// On A: paste, with a typo the form forgives (lower case, no
		// dashes), and a wrong key first.
		ab := e.Browser()
		ab.Login("franck.cavel", "pw")
		p = ab.Get(PathMergePage)
		flowstest.WantStatus(t, p, http.StatusOK)
		flowstest.WantContains(t, p, "Fusionner des utilisateurs", "Utilisateurs fusionnés", "Aucun compte n'a été fusionné")
		p = ab.Post(PathMergePage, url.Values{web.CSRFField: {p.CSRF(t)}, "key": {formatKey(newKey())}})
		flowstest.WantStatus(t, p, http.StatusBadRequest)
		flowstest.WantContains(t, p, "Cette clé de fusion n'est pas valable")
		p = ab.Post(PathMergePage, url.Values{web.CSRFField: {p.CSRF(t)}, "key": {strings.ToLower(strings.ReplaceAll(key, "-", ""))}})
		flowstest.WantStatus(t, p, http.StatusOK)
		flowstest.WantContains(t, p, "Aperçu de la fusion", "Le compte franck.cavel3 sera fusionné dans le compte franck.cavel",
			"romain.gentef@opendigitaleducation.com", "Date de naissance", "1984-10-17", "1978-06-01", "Confirmer la fusion")
		if got := e.Account(b.ID); got.Status != identity.StatusActive {
			t.Fatalf("the preview merged B: %s", got.Status)
		}

		// Confirm.
		confirm := formOf(t, p, PathMergePage)
		if confirm.Get("confirm") != "1" || confirm.Get(web.CSRFField) == "" {
			t.Fatalf("confirm form %v", confirm)
		}
		p = ab.Post(PathMergePage, confirm)
		flowstest.WantStatus(t, p, http.StatusOK)
		flowstest.WantContains(t, p, "Comptes fusionnés", "Le compte franck.cavel3 a été fusionné dans ce compte", "franck.cavel3")
		if got := e.Account(b.ID); got.Status != identity.StatusMerged || got.MergedInto != a.ID {
			t.Fatalf("B: %s into %q", got.Status, got.MergedInto)
		}
		// Confirming again (a reload) is refused as a used key.
		flowstest.WantStatus(t, ab.Post(PathMergePage, confirm), http.StatusBadRequest)

		// A's page lists B's login, in English too.
		p = ab.Get(PathMergePage + "?lang=en")
		flowstest.WantContains(t, p, `<html lang="en">`, "Merged users", "franck.cavel3", "FRANCK CAVEL")
		if !regexp.MustCompile(`<ul id="merged-users">\s*<li><strong>franck.cavel3</strong>`).MatchString(p.Body) {
			t.Errorf("merged users list:\n%s", p.Body)
		}
		// B's session is over.
		flowstest.WantStatus(t, bb.Get(PathKeyPage), http.StatusUnauthorized)
		storetest.CheckInvariants(t, e.Store)
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
				if !cat.get(tag).Has(key) {
					t.Errorf("%s: key %q missing from catalog %s", f, key, tag)
				}
			}
		}
	}
	if n < 30 {
		t.Fatalf("found only %d message uses: the pattern is wrong", n)
	}
}
