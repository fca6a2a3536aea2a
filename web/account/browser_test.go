package account

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/canonid/canonid/authn"
	"github.com/canonid/canonid/flows/activation"
	"github.com/canonid/canonid/flows/emailmerge"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/web"
	"github.com/canonid/canonid/web/browsertest"
)

// The end-to-end tests of seeds 000, 001 and 002 in a real browser
// (headless chromium, package web/browsertest), from the first page to the
// last, with the mails read from a real SMTP server. Without chromium they
// skip, unless CANONID_REQUIRE_INTEGRATION=1. With CANONID_SCREENSHOTS=1
// they refresh docs/screenshots/account.png, merge-key.png,
// merge-preview.png and activation-charter.png.

// pathOf is the path of a page's URL.
func pathOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Path
}

// logIn fills the login page the browser shows, and checks that it lands
// on want.
func logIn(t *testing.T, b *browsertest.Browser, login, want string) {
	t.Helper()
	if got := pathOf(t, b.URL()); got != web.PathLogin {
		t.Fatalf("at %s, want the login page", b.URL())
	}
	b.Fill("Identifiant ou adresse électronique", login)
	b.Fill("Mot de passe", testPassword)
	if status := b.Click("Se connecter"); status != http.StatusOK {
		t.Fatalf("login %s: %d\n%s", login, status, b.PageText())
	}
	if got := pathOf(t, b.URL()); got != want {
		t.Fatalf("after logging in as %s: at %s, want %s\n%s", login, b.URL(), want, b.PageText())
	}
}

// TestSeed000InBrowser is seed 000: logged in to her university account,
// the intern adds the personal address the agency registered; she follows
// the link of the mail, sees the merge preview and confirms; the agency
// account is merged into hers and shows under her merged users.
func TestSeed000InBrowser(t *testing.T) {
	s := newSite(t, siteOptions{})
	uni := s.create(university)
	ag := s.create(agency)
	b := browsertest.New(t)
	base := s.srv.URL

	// My account asks her to log in first, then comes back.
	b.Navigate(base + PathAccount)
	logIn(t, b, university.login, PathAccount)
	if got := b.Text("h1"); got != "Mon compte" {
		t.Errorf("page titled %q", got)
	}
	if text := b.Text("#suggestions"); !strings.Contains(text, "import ars-occitanie") || !strings.Contains(text, "c•••@perso.example") {
		t.Errorf("suggestion:\n%s", text)
	}

	// She adds the personal address.
	b.Fill("Ajouter une adresse électronique", agency.address)
	if status := b.Click("Ajouter l'adresse"); status != http.StatusOK {
		t.Fatalf("adding: %d\n%s", status, b.PageText())
	}
	if got := b.Text("#notice"); !strings.HasPrefix(got, "Adresse ajoutée") {
		t.Errorf("notice %q", got)
	}
	if text := b.Text("#email-list"); !strings.Contains(text, agency.address) || !strings.Contains(text, "En attente de vérification") {
		t.Errorf("addresses:\n%s", text)
	}
	b.Screenshot("account")

	// The link, from the mail as the SMTP server received it.
	link := s.link(agency.address, emailmerge.PathConfirm)
	if status := b.Navigate(link); status != http.StatusOK {
		t.Fatalf("link: %d\n%s", status, b.PageText())
	}
	if status := b.Click("Confirmer cette adresse"); status != http.StatusOK {
		t.Fatalf("confirming: %d\n%s", status, b.PageText())
	}
	if got := b.Text("h1"); got != "Fusionner vos comptes" {
		t.Fatalf("after confirming: %q\n%s", got, b.PageText())
	}
	if status := b.Click("Fusionner l'autre compte dans celui-ci"); status != http.StatusOK {
		t.Fatalf("merging: %d\n%s", status, b.PageText())
	}
	if got := b.Text("h1"); got != "Comptes fusionnés" {
		t.Errorf("after merging: %q", got)
	}

	// Back to My account: the agency account is a merged user, its
	// address hers, verified; nothing looks like her any more.
	if status := b.Follow("Mon compte"); status != http.StatusOK {
		t.Fatalf("My account: %d", status)
	}
	if text := b.Text("#merged-users"); !strings.Contains(text, "Camille MARTIN") || !strings.Contains(text, "par adresse électronique") {
		t.Errorf("merged users:\n%s", text)
	}
	if text := b.Text("#email-list"); !strings.Contains(text, agency.address) || strings.Contains(text, "En attente") {
		t.Errorf("addresses after the merge:\n%s", text)
	}
	if text := b.PageText(); strings.Contains(text, "Comptes qui vous ressemblent") {
		t.Errorf("the merged account is still suggested:\n%s", text)
	}
	if got := s.account(ag.ID); got.Status != identity.StatusMerged || got.MergedInto != uni.ID {
		t.Errorf("agency account %s, merged into %q", got.Status, got.MergedInto)
	}
}

// TestSeed002InBrowser is seed 002: logged in to the account he no longer
// wants, the parent generates a merge key; he logs out, logs in to the
// account he keeps, pastes the key, sees the preview and confirms; the
// dropped login shows under "Utilisateurs fusionnés".
func TestSeed002InBrowser(t *testing.T) {
	s := newSite(t, siteOptions{})
	keep := s.create(person{login: "franck.cavel", given: "Franck", family: "CAVEL", birth: "1978-06-01",
		address: "franck.cavel@laposte.example", source: "ldap:ent", externalID: "ent-franck", password: true})
	drop := s.create(person{login: "franck.cavel3", given: "FRANCK", family: "CAVEL", birth: "1984-10-17",
		address: "romain.gentef@ode.example", source: "ldap:ent", externalID: "ent-franck3", password: true})
	b := browsertest.New(t)
	base := s.srv.URL

	// On the account to drop: a merge key.
	b.Navigate(base + PathAccount)
	logIn(t, b, "franck.cavel3", PathAccount)
	if status := b.Click("Générer une clé de fusion"); status != http.StatusOK {
		t.Fatalf("generating: %d\n%s", status, b.PageText())
	}
	key := b.Text("#merge-key")
	if len(key) != 24 {
		t.Fatalf("key %q", key)
	}
	b.Screenshot("merge-key")
	if status := b.Click("Fermer la session"); status != http.StatusOK {
		t.Fatalf("logout: %d", status)
	}

	// On the account to keep: paste it.
	b.Navigate(base + PathAccount)
	logIn(t, b, "franck.cavel", PathAccount)
	b.Fill("Clé de fusion de l'autre compte", strings.ToLower(key))
	if status := b.Click("Voir l'aperçu de la fusion"); status != http.StatusOK {
		t.Fatalf("preview: %d\n%s", status, b.PageText())
	}
	if got := b.Text("h1"); got != "Aperçu de la fusion" {
		t.Fatalf("preview titled %q\n%s", got, b.PageText())
	}
	if text := b.Text("#merge-preview"); !strings.Contains(text, "17/10/1984") && !strings.Contains(text, "1984-10-17") {
		t.Errorf("preview table:\n%s", text)
	}
	b.Screenshot("merge-preview")
	if got := s.account(drop.ID).Status; got == identity.StatusMerged {
		t.Fatal("merged by the preview")
	}
	if status := b.Click("Confirmer la fusion"); status != http.StatusOK {
		t.Fatalf("merge: %d\n%s", status, b.PageText())
	}
	if got := b.Text("h1"); got != "Comptes fusionnés" {
		t.Errorf("after the merge: %q", got)
	}

	// My account lists the dropped login.
	if status := b.Follow("Mon compte"); status != http.StatusOK {
		t.Fatalf("My account: %d", status)
	}
	if text := b.Text("#merged-users"); !strings.Contains(text, "franck.cavel3") || !strings.Contains(text, "par clé de fusion") {
		t.Errorf("merged users:\n%s", text)
	}
	if got := s.account(drop.ID); got.Status != identity.StatusMerged || got.MergedInto != keep.ID {
		t.Errorf("dropped account %s, merged into %q", got.Status, got.MergedInto)
	}
}

// TestSeed001InBrowser is seed 001: HR created the account of a member of
// staff; from the link mailed to the recovery address, the person accepts
// the charter, declines the public directory, redirects their mail (and
// confirms the redirection from the link mailed there), chooses a password
// and activates the account; logged in, My account shows their consents.
func TestSeed001InBrowser(t *testing.T) {
	s := newSite(t, siteOptions{})
	const recovery, redirect = "jean.dupont@perso.example", "jean.dupont@mail.example"
	a := s.create(person{login: "jdupont", given: "Jean", family: "Dupont", address: "jean.dupont@univ-test.example",
		source: "scim:hr", status: identity.StatusPendingActivation,
		attrs: map[string][]string{identity.FieldRecoveryEmail: {recovery}, identity.FieldAffiliation: {"member", "employee"}}})
	s.update(func(ctx context.Context, tx store.Tx) error { return s.act.Start(ctx, tx, a.ID, "fr") })
	b := browsertest.New(t)
	base := s.srv.URL

	// Step 2 of the seed: the mail to the recovery address.
	link := s.link(recovery, activation.PathActivate)
	if status := b.Navigate(link); status != http.StatusOK {
		t.Fatalf("link: %d\n%s", status, b.PageText())
	}
	// Step 3: the charter.
	if got := b.Text("h1"); got != "Charte informatique" {
		t.Fatalf("first step %q\n%s", got, b.PageText())
	}
	if text := b.PageText(); !strings.Contains(text, "Étape 1 sur 5") || !strings.Contains(text, testCharter) {
		t.Errorf("charter step:\n%s", text)
	}
	b.Screenshot("activation-charter")
	b.Check("J'ai lu la charte informatique et je l'accepte")
	next := func(want string) {
		t.Helper()
		if status := b.Click("Suivant"); status != http.StatusOK {
			t.Fatalf("next: %d\n%s", status, b.PageText())
		}
		if got := b.Text("h1"); got != want {
			t.Fatalf("step %q, want %q\n%s", got, want, b.PageText())
		}
	}
	next("Annuaire public")
	// Step 4: the public directory.
	b.Check("Non, je ne veux pas apparaître dans l'annuaire public")
	next("Redirection de votre messagerie")
	// Step 5-1: the redirection, keeping a copy (ticked by default).
	b.Check("Oui, je veux rediriger mes mails vers l'adresse suivante")
	b.Fill("Adresse de redirection", redirect)
	b.Check("Conserver une copie des mails dans ma boîte institutionnelle")
	next("Votre mot de passe")
	// Step 7: the password.
	b.Fill("Nouveau mot de passe", testPassword)
	b.Fill("Confirmez le mot de passe", testPassword)
	next("Confirmation")
	// Step 8: the confirmation.
	if status := b.Click("Activer mon compte"); status != http.StatusOK {
		t.Fatalf("activating: %d\n%s", status, b.PageText())
	}
	if got := b.Text("h1"); got != "Votre compte est activé" {
		t.Fatalf("last step %q\n%s", got, b.PageText())
	}
	if got := s.account(a.ID).Status; got != identity.StatusActive {
		t.Fatalf("account %s", got)
	}

	// Step 6: the link mailed to the redirection address.
	rlink := s.link(redirect, activation.PathRedirectConfirm)
	if status := b.Navigate(rlink); status != http.StatusOK {
		t.Fatalf("redirection link: %d\n%s", status, b.PageText())
	}
	if status := b.Click("Confirmer la redirection"); status != http.StatusOK {
		t.Fatalf("confirming the redirection: %d\n%s", status, b.PageText())
	}
	if got := b.Text("h1"); got != "Redirection confirmée" {
		t.Errorf("redirection: %q", got)
	}
	// The confirmation of the activation, to the recovery address.
	if to, text := s.mail(); to != recovery || !strings.Contains(text, "jdupont") {
		t.Errorf("confirmation mail to %s:\n%s", to, text)
	}

	// Logged in, My account shows the consents.
	b.Navigate(base + PathAccount)
	logIn(t, b, "jdupont", PathAccount)
	if got := b.Text("#charter"); !strings.HasPrefix(got, "Version 2021-06 acceptée le") {
		t.Errorf("charter: %q", got)
	}
	if got := b.Text("#directory"); got != "Vous n'apparaissez pas dans l'annuaire public." {
		t.Errorf("directory: %q", got)
	}
	if got := b.Text("#mail-forward"); !strings.Contains(got, redirect) || !strings.Contains(got, "avec une copie") {
		t.Errorf("mail redirection: %q", got)
	}
}

// TestForgedPostInBrowser: a page of another origin whose forms post to the
// account pages, in the browser of a person logged in (the browser sends
// the session cookie along: both sites are on 127.0.0.1), is refused: the
// password and the addresses stay as they are.
func TestForgedPostInBrowser(t *testing.T) {
	s := newSite(t, siteOptions{})
	a := s.create(university)
	b := browsertest.New(t)
	base := s.srv.URL
	b.Navigate(base + PathAccount)
	logIn(t, b, university.login, PathAccount)

	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="fr"><head><title>Cadeau</title></head><body>
<form method="post" action="%[1]s">
<input type="hidden" name="current_password" value="%[2]s">
<input type="hidden" name="password" value="Velo-Rouge-Montagne-7">
<input type="hidden" name="password_again" value="Velo-Rouge-Montagne-7">
<button type="submit">Gagner un cadeau</button>
</form>
<form method="post" action="%[3]s">
<input type="hidden" name="address" value="%[4]s">
<button type="submit">Gagner un autre cadeau</button>
</form>
</body></html>`, html.EscapeString(base+PathPassword), testPassword, html.EscapeString(base+PathEmailDelete), university.address)
	}))
	t.Cleanup(evil.Close)

	for _, button := range []string{"Gagner un cadeau", "Gagner un autre cadeau"} {
		b.Navigate(evil.URL)
		if status := b.Click(button); status != http.StatusForbidden {
			t.Errorf("%s: status %d\n%s", button, status, b.PageText())
		}
		if got := b.Text("h1"); got != "Le formulaire a expiré" {
			t.Errorf("%s: page %q", button, got)
		}
	}
	after := s.account(a.ID)
	if ok, err := authn.CheckPassword(after.PasswordHash, testPassword); err != nil || !ok {
		t.Error("the forged form changed the password")
	}
	if n := len(s.events(a.ID, authn.EventPasswordSet)) + len(s.events(a.ID, emailmerge.EventEmailRemoved)); n != 0 {
		t.Errorf("%d events after the forged forms", n)
	}
	// Still logged in, the address still there.
	b.Navigate(base + PathAccount)
	if text := b.Text("#email-list"); !strings.Contains(text, university.address) {
		t.Errorf("addresses:\n%s", text)
	}
}
