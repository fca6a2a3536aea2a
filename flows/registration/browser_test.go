package registration

import (
	"bytes"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/web"
	"github.com/canonid/canonid/web/browsertest"
)

// TestSeedStoryInBrowser is seed 003 from the first page to the last in a
// real browser (headless chromium): the member registers, follows the link
// of the mail the SMTP server received, chooses a password, is told at
// login to wait for validation; the coordinator logs in, sees her orange in
// the console, validates her, sees her green and writes to her; the member
// logs in. With CANONID_SCREENSHOTS=1 it refreshes docs/screenshots.
func TestSeedStoryInBrowser(t *testing.T) {
	s := newSite(t, ConsolePageSize)
	claire := s.person("claire.moreau", "Claire", "Moreau", "coordination@cpts-x.example", "cpts-x",
		identity.RoleOrgAdmin, identity.MembershipValidated)
	b := browsertest.New(t)
	base := s.Server.URL
	console := base + ConsoleMembersPath("cpts-x")
	const address = "marie.curie@example.org"

	// The member registers.
	if status := b.Navigate(base + PathRegister + "?org=cpts-x"); status != http.StatusOK {
		t.Fatalf("registration page: %d", status)
	}
	if got := b.Text("h1"); got != "Inscription auprès de CPTS X" {
		t.Errorf("registration page titled %q", got)
	}
	b.Fill("Adresse e-mail", address)
	b.Fill("Prénom", "Marie")
	b.Fill("Nom", "Curie")
	b.Fill("Téléphone (facultatif)", "06 12 34 56 78")
	b.Screenshot("registration")
	if status := b.Click("M'inscrire"); status != http.StatusOK {
		t.Fatalf("registering: %d\n%s", status, b.PageText())
	}
	if got := b.Text("h1"); got != "Vérifiez votre boîte aux lettres" {
		t.Errorf("after registering: %q", got)
	}

	// The link, from the mail as the SMTP server received it.
	s.mail.Deliver(1)
	m := regexp.MustCompile(`https?://[^\s"<>]+/register/confirm\?token=[A-Za-z0-9_-]+`).FindString(s.lastMail(address))
	if m == "" || !strings.HasPrefix(m, base) {
		t.Fatalf("no link to %s in the mail:\n%s", base, s.lastMail(address))
	}
	// A supporting document, sent with the link (no page form yet).
	u, _ := url.Parse(m)
	doc, err := s.svc.AddDocumentByLink(t.Context(), u.Query().Get("token"), "diplome-infirmier.pdf", bytes.NewReader(pdf))
	if err != nil {
		t.Fatal(err)
	}

	// The member opens it and chooses her password.
	if status := b.Navigate(m); status != http.StatusOK {
		t.Fatalf("link: %d\n%s", status, b.PageText())
	}
	if text := b.PageText(); !strings.Contains(text, address) || !strings.Contains(text, "CPTS X") {
		t.Errorf("confirmation page:\n%s", text)
	}
	b.Fill("Mot de passe", testPassword)
	b.Fill("Confirmez le mot de passe", testPassword)
	if status := b.Click("Confirmer mon adresse"); status != http.StatusOK {
		t.Fatalf("confirming: %d\n%s", status, b.PageText())
	}
	if text := b.PageText(); !strings.Contains(text, "Adresse confirmée") || !strings.Contains(text, "doit maintenant valider votre compte") {
		t.Errorf("after confirming:\n%s", text)
	}
	s.mail.Deliver(1) // registration_received
	marie := s.account(address)
	if marie.Status != identity.StatusPendingValidation {
		t.Fatalf("account %s after confirming", marie.Status)
	}

	// She tries to log in: she is told to wait for her coordinator.
	login := func(identifier string) {
		t.Helper()
		b.Navigate(base + web.PathLogin)
		b.Fill("Identifiant ou adresse électronique", identifier)
		b.Fill("Mot de passe", testPassword)
		if status := b.Click("Se connecter"); status != http.StatusOK {
			t.Fatalf("login %s: %d\n%s", identifier, status, b.PageText())
		}
	}
	logout := func() {
		t.Helper()
		b.Navigate(base + web.PathLogin)
		if status := b.Click("Fermer la session"); status != http.StatusOK {
			t.Fatalf("logout: %d", status)
		}
	}
	login(address)
	if text := b.PageText(); !strings.Contains(text, "doit encore valider votre compte") || strings.Contains(text, "Vous pouvez maintenant vous connecter") {
		t.Errorf("member's login before validation:\n%s", text)
	}
	b.Screenshot("login-pending-validation")
	// The console is not hers.
	if status := b.Navigate(console); status != http.StatusForbidden || strings.Contains(b.PageText(), "Claire") {
		t.Errorf("console for the member: %d\n%s", status, b.PageText())
	}
	logout()

	// The coordinator: the console sends her to log in first.
	b.Navigate(console)
	if u, _ := url.Parse(b.URL()); u.Path != web.PathLogin {
		t.Errorf("console without a session shows %s, want the login page", b.URL())
	}
	login("claire.moreau")
	if status := b.Navigate(console); status != http.StatusOK {
		t.Fatalf("console: %d\n%s", status, b.PageText())
	}
	row := "#member-" + marie.ID
	if got := b.Text(row + " .status"); got != "En attente de validation" {
		t.Errorf("member status %q, want orange's words", got)
	}
	if got := b.Attr(row+" .status", "class"); got != "status status-orange" {
		t.Errorf("member status class %q", got)
	}
	if got := b.Text(row + " .documents a"); got != "diplome-infirmier.pdf (1 Ko)" {
		t.Errorf("document link %q", got)
	}
	if got := b.Attr(row+" .documents a", "href"); got != ConsoleMembersPath("cpts-x")+"/"+marie.ID+"/documents/"+doc.ID {
		t.Errorf("document link to %q", got)
	}
	if text := b.Text(row); !strings.Contains(text, address) || !strings.Contains(text, "06 12 34 56 78") {
		t.Errorf("member row: %q", text)
	}
	b.Screenshot("console-pending")

	// Valider.
	if status := b.Click("Valider Marie Curie"); status != http.StatusOK {
		t.Fatalf("validating: %d\n%s", status, b.PageText())
	}
	if got := b.Text(".notice"); got != "Le compte de Marie Curie est validé." {
		t.Errorf("notice %q", got)
	}
	if got := b.Text(row + " .status"); got != "Validé" {
		t.Errorf("member status %q after validation", got)
	}
	if got := b.Attr(row+" .status", "class"); got != "status status-green" {
		t.Errorf("member status class %q after validation", got)
	}
	b.Screenshot("console-validated")
	if m := s.membership("cpts-x", marie.ID); m.ValidatedBy != "account:"+claire.ID {
		t.Errorf("validated by %q", m.ValidatedBy)
	}
	s.mail.Deliver(1) // member_validated
	if body := s.lastMail(address); !strings.Contains(body, base+"/login") {
		t.Errorf("member_validated mail:\n%s", body)
	}

	// She writes to her, from the same screen.
	b.Check("Sélectionner Marie Curie")
	b.Fill("Objet", "Bienvenue")
	b.Fill("Message", "Votre compte est validé : connectez-vous avec votre adresse.")
	if status := b.Click("Envoyer aux membres sélectionnés"); status != http.StatusOK {
		t.Fatalf("mail: %d\n%s", status, b.PageText())
	}
	if got := b.Text(".notice"); got != "Message envoyé. Destinataires : 1." {
		t.Errorf("notice %q", got)
	}
	s.mail.Deliver(1) // org_message
	if body := s.lastMail(address); !strings.Contains(body, "Bienvenue") {
		t.Errorf("org_message:\n%s", body)
	}
	logout()

	// The member logs in.
	login(address)
	if text := b.PageText(); !strings.Contains(text, "Vous pouvez maintenant vous connecter aux applications") || strings.Contains(text, "doit encore valider") {
		t.Errorf("member's login after validation:\n%s", text)
	}
}
