package admin

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/web"
	"github.com/canonid/canonid/web/browsertest"
)

// TestAdminInBrowser is the support's round in a real browser (headless
// chromium): the admin opens the console and is sent to log in, finds an
// account and opens it, goes to the duplicates queue, previews the merge
// of the pair and confirms it, then undoes it from the merges page; last,
// the propagation page with its refused changes. With CANONID_SCREENSHOTS=1
// it refreshes docs/screenshots/admin-*.png.
func TestAdminInBrowser(t *testing.T) {
	s := newSite(t, 50)
	_, user, franck, franck2 := s.people()
	s.deadLetters("lms", franck.ID, user.ID)
	b := browsertest.New(t)
	base := s.srv.URL

	// The console sends to the login page, which leads back.
	b.Navigate(base + PathAccounts)
	if u, _ := url.Parse(b.URL()); u.Path != web.PathLogin || u.Query().Get(web.ParamNext) != PathAccounts {
		t.Fatalf("the console without a session shows %s", b.URL())
	}
	b.Fill("Identifiant ou adresse électronique", adminLogin)
	b.Fill("Mot de passe", testPassword)
	if status := b.Click("Se connecter"); status != http.StatusOK {
		t.Fatalf("login: %d\n%s", status, b.PageText())
	}
	if got := b.Text("h1"); got != "Rechercher un compte" {
		t.Fatalf("after the login: %q at %s", got, b.URL())
	}

	// Find the agency's account and open it.
	b.Fill("Rechercher", "perso.example")
	if status := b.Click("Rechercher"); status != http.StatusOK {
		t.Fatalf("search: %d", status)
	}
	if got := b.Text("#accounts tbody th"); got != "FRANCK CAVEL" {
		t.Errorf("search result %q", got)
	}
	if status := b.Follow("FRANCK CAVEL"); status != http.StatusOK {
		t.Fatalf("account: %d", status)
	}
	if got := b.Text("h1"); got != "Compte de FRANCK CAVEL" {
		t.Errorf("account page %q", got)
	}
	if got := b.Text("#field-given_name"); !strings.Contains(got, "FRANCK") || !strings.Contains(got, "csv:ars-occitanie") {
		t.Errorf("given name row %q", got)
	}
	b.Screenshot("admin-account")

	// The duplicates queue: the pair, its score and evidence.
	if status := b.Follow("Doublons"); status != http.StatusOK {
		t.Fatalf("duplicates: %d", status)
	}
	pair := "#pair-" + pairID(franck.ID, franck2.ID)
	if got := b.Text(pair + " .score"); got != "85 %" {
		t.Errorf("score %q", got)
	}
	if got := b.Text(pair + " .matches"); !strings.Contains(got, "Date de naissance") {
		t.Errorf("evidence %q", got)
	}
	b.Screenshot("admin-duplicates")

	// The preview, then the merge.
	if status := b.Follow("Fusionner FRANCK CAVEL dans Franck Cavel : voir l'aperçu"); status != http.StatusOK {
		t.Fatalf("preview: %d\n%s", status, b.PageText())
	}
	if got := b.Text("h1"); got != "Fusionner FRANCK CAVEL dans Franck Cavel" {
		t.Errorf("preview %q", got)
	}
	if got := b.Text(".preview td.kept"); !strings.Contains(got, "Franck") || !strings.Contains(got, "ldap:campus") {
		t.Errorf("first value kept %q", got)
	}
	b.Screenshot("admin-merge-preview")
	if status := b.Click("Confirmer la fusion"); status != http.StatusOK {
		t.Fatalf("merge: %d\n%s", status, b.PageText())
	}
	if got := b.Text(".notice"); got != "Fusion effectuée : FRANCK CAVEL est fusionné dans Franck Cavel." {
		t.Errorf("notice %q", got)
	}
	if got := s.account(franck2.ID); got.Status != identity.StatusMerged || got.MergedInto != franck.ID {
		t.Fatalf("after the merge: %s into %q", got.Status, got.MergedInto)
	}

	// Undo, from the merges page.
	if status := b.Click("Annuler la fusion de FRANCK CAVEL dans Franck Cavel"); status != http.StatusOK {
		t.Fatalf("undo: %d\n%s", status, b.PageText())
	}
	if got := b.Text(".notice"); got != "Fusion annulée : FRANCK CAVEL est de nouveau distinct de Franck Cavel." {
		t.Errorf("notice %q", got)
	}
	if got := s.account(franck2.ID); got.Status != identity.StatusActive {
		t.Fatalf("after the undo: %s", got.Status)
	}

	// The propagation targets and their refused changes.
	if status := b.Follow("Propagation"); status != http.StatusOK {
		t.Fatalf("propagation: %d", status)
	}
	if got := b.Text("#target-lms"); !strings.Contains(got, "En erreur") || !strings.Contains(got, "userName is invalid") {
		t.Errorf("target row %q", got)
	}
	b.Screenshot("admin-propagation")
	if status := b.Click("Tout réessayer"); status != http.StatusOK {
		t.Fatalf("retry: %d", status)
	}
	if got := b.Text(".notice"); got != "Nouvelle tentative demandée. Changements refusés concernés : 2." {
		t.Errorf("notice %q", got)
	}
}
