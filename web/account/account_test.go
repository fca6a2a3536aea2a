package account

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/canonid/canonid/authn"
	"github.com/canonid/canonid/flows/emailmerge"
	"github.com/canonid/canonid/flows/mergekey"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/web"
)

// The people of seed 000: an intern's university account, and the account
// the regional health agency created with her personal address.
var (
	university = person{login: "camille.martin", given: "Camille", family: "Martin", birth: "1998-04-12",
		address: "camille.martin@univ-test.example", source: "ldap:campus", externalID: "9b1f3c2e-campus", password: true}
	agency = person{given: "Camille", family: "MARTIN", birth: "1998-04-12",
		address: "camille.martin82@perso.example", source: "csv:ars-occitanie", externalID: "ARS-2024-00042"}
)

// TestLoginFirst: without a session every page leads to the login page,
// which comes back to it; POSTs do nothing.
func TestLoginFirst(t *testing.T) {
	s := newSite(t, siteOptions{})
	a := s.create(university)
	v := s.visitor()
	for _, path := range []string{PathAccount, PathPassword, PathSessions} {
		wantRedirect(t, v.get(path), web.LoginURL(path))
	}
	res := v.form(web.PathLogin, PathEmails, "address", "x@perso.example")
	wantRedirect(t, res, web.LoginURL(PathAccount))
	if n := len(s.events(a.ID, emailmerge.EventEmailAdded)); n != 0 {
		t.Errorf("%d addresses added without a session", n)
	}

	// The login page brings the person back.
	login := v.get(web.LoginURL(PathSessions))
	res = v.post(web.PathLogin, url.Values{web.CSRFField: {v.csrf(login)}, "identifier": {university.login},
		"password": {testPassword}, web.ParamNext: {PathSessions}})
	wantRedirect(t, res, PathSessions)
	p := v.get(PathSessions)
	wantStatus(t, p, http.StatusOK)
	for k, want := range map[string]string{"Cache-Control": "no-store", "X-Frame-Options": "DENY",
		"Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"} {
		if got := p.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if csp := p.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
}

// TestOverview: the profile with its sources, the addresses, the linked
// identities, the account that looks like the person's (masked), the
// consents and the sessions, in French and in English.
func TestOverview(t *testing.T) {
	s := newSite(t, siteOptions{})
	s.create(university)
	other := s.create(agency)
	v := s.loggedIn(university.login)
	p := v.get(PathAccount)
	wantStatus(t, p, http.StatusOK)
	wantIn(t, p, "<h1>Mon compte</h1>", "Vous êtes connecté·e en tant que Camille Martin (camille.martin).",
		`<th scope="row">Date de naissance</th><td data-label="Valeur">12/04/1998</td><td data-label="Source"><span class="source">annuaire campus</span></td>`,
		`<span class="address">camille.martin@univ-test.example</span>`, "Principale", "Vérifiée",
		"<th scope=\"row\">annuaire campus</th><td class=\"contact\" data-label=\"Identifiant à la source\">9b1f3c2e-campus</td><td data-label=\"État\">Active</td>",
		`action="/account/merge-key"`, `action="/account/merge"`, `<label for="merge-key">Clé de fusion de l'autre compte</label>`,
		"Aucun compte n'a été fusionné dans le vôtre.",
		`id="suggestion-`+other.ID+`"`, "Un compte (source : import ars-occitanie)",
		"En commun : le nom, le prénom, la date de naissance.", "Ses adresses électroniques : c•••@perso.example.",
		"en indiquant la référence "+other.ID, `<a href="mailto:assistance@univ-test.example">Demander à l'assistance</a>`,
		"Vous n'avez pas accepté de charte informatique.", "Vous n'avez pas encore choisi",
		"Sessions ouvertes : 1.", `<a href="/account" aria-current="page">Mon compte</a>`)
	// Nothing of the other account beyond what helps to recognise it.
	wantNotIn(t, p, agency.address, agency.externalID)
	if strings.Contains(p.body, "<script") || strings.Contains(p.body, " style=") {
		t.Error("the page has a script or inline style")
	}

	en := v.get(PathAccount + "?lang=en")
	wantIn(t, en, `<html lang="en">`, "<h1>My account</h1>", "An account (source: import ars-occitanie)",
		"In common: the family name, the given name, the date of birth.", "Date of birth", "12 April 1998")
}

// TestEmails: add an address (its link mailed, pending with a bin), remove
// it, verify one and make it primary; what may not be done says why.
func TestEmails(t *testing.T) {
	s := newSite(t, siteOptions{})
	a := s.create(university)
	v := s.loggedIn(university.login)

	// A typo: refused at its field.
	res := v.form(PathAccount, PathEmails, "address", "not an address")
	wantStatus(t, res, http.StatusBadRequest)
	wantIn(t, res, "Cette adresse électronique n'est pas valide.", `aria-invalid="true"`, `value="not an address"`)

	// Added: pending, its link mailed, with a bin.
	wantRedirect(t, v.form(PathAccount, PathEmails, "address", "typo@perso.example"), PathAccount+"?done=email_added")
	p := v.get(PathAccount + "?done=email_added")
	wantIn(t, p, "Adresse ajoutée : un lien de vérification vient de lui être envoyé.", "typo@perso.example",
		"En attente de vérification", `aria-label="Supprimer l'adresse typo@perso.example"`, "valable 30 minutes")
	s.link("typo@perso.example", emailmerge.PathConfirm)
	// Not verified: not primary.
	res = v.form(PathAccount, PathEmailPrimary, "address", "typo@perso.example")
	wantStatus(t, res, http.StatusConflict)
	wantIn(t, res, "Seule une adresse vérifiée peut devenir l'adresse principale.")
	// Removed.
	wantRedirect(t, v.form(PathAccount, PathEmailDelete, "address", "typo@perso.example"), PathAccount+"?done=email_removed")
	wantNotIn(t, v.get(PathAccount), "typo@perso.example")

	// Another one, verified by its link, then primary.
	wantRedirect(t, v.form(PathAccount, PathEmails, "address", "camille@perso.example"), PathAccount+"?done=email_added")
	link := s.link("camille@perso.example", emailmerge.PathConfirm)
	u, _ := url.Parse(link)
	res = v.form(u.RequestURI(), emailmerge.PathConfirm, "token", u.Query().Get("token"))
	wantStatus(t, res, http.StatusOK)
	wantRedirect(t, v.form(PathAccount, PathEmailPrimary, "address", "camille@perso.example"), PathAccount+"?done=email_primary")
	p = v.get(PathAccount)
	if i, j := strings.Index(p.body, "camille@perso.example"), strings.Index(p.body, "Principale"); i < 0 || j < i {
		t.Errorf("the new primary address is not listed first as primary:\n%s", p.body)
	}
	// The directory's address stays: it is managed there.
	res = v.form(PathAccount, PathEmailDelete, "address", university.address)
	wantStatus(t, res, http.StatusConflict)
	wantIn(t, res, "gérée par sa source")
	wantIn(t, v.get(PathAccount), "Cette adresse est gérée par annuaire campus : elle ne peut pas être supprimée ici.")
	// The primary address stays.
	wantStatus(t, v.form(PathAccount, PathEmailDelete, "address", "camille@perso.example"), http.StatusConflict)
	// An address of nobody's.
	wantStatus(t, v.form(PathAccount, PathEmailDelete, "address", "nobody@perso.example"), http.StatusNotFound)

	for typ, want := range map[string]int{emailmerge.EventEmailAdded: 2, emailmerge.EventEmailRemoved: 1,
		emailmerge.EventEmailVerified: 1, emailmerge.EventEmailPrimarySet: 1} {
		if n := len(s.events(a.ID, typ)); n != want {
			t.Errorf("%d %s events, want %d", n, typ, want)
		}
	}
}

// TestNoEmailFlow: without mail, the addresses are listed, not changed.
func TestNoEmailFlow(t *testing.T) {
	s := newSite(t, siteOptions{noEmails: true})
	s.create(university)
	v := s.loggedIn(university.login)
	p := v.get(PathAccount)
	wantIn(t, p, university.address)
	wantNotIn(t, p, `action="/account/emails"`, "Supprimer l'adresse")
	wantStatus(t, v.form(PathAccount, PathEmails, "address", "x@perso.example"), http.StatusNotFound)
}

// TestDirectory: the public-directory consent changes, with its event;
// choosing the same again records nothing.
func TestDirectory(t *testing.T) {
	s := newSite(t, siteOptions{})
	a := s.create(university)
	v := s.loggedIn(university.login)
	wantStatus(t, v.form(PathAccount, PathDirectory), http.StatusBadRequest)
	wantRedirect(t, v.form(PathAccount, PathDirectory, "visible", "no"), PathAccount+"?done=directory")
	wantIn(t, v.get(PathAccount+"?done=directory"), "Votre choix pour l'annuaire public est enregistré.",
		"Vous n'apparaissez pas dans l'annuaire public.", `value="no" checked`)
	wantRedirect(t, v.form(PathAccount, PathDirectory, "visible", "yes"), PathAccount+"?done=directory")
	wantRedirect(t, v.form(PathAccount, PathDirectory, "visible", "yes"), PathAccount+"?done=directory")
	if got := s.account(a.ID).Consents.DirectoryVisible; got == nil || !*got {
		t.Errorf("directory consent %v", got)
	}
	evs := s.events(a.ID, EventDirectoryChanged)
	if len(evs) != 2 {
		t.Fatalf("%d directory events, want 2", len(evs))
	}
	var d struct {
		Visible bool  `json:"visible"`
		Before  *bool `json:"before"`
	}
	if err := json.Unmarshal(evs[0].Data, &d); err != nil || !d.Visible || d.Before == nil || *d.Before {
		t.Errorf("event data %s", evs[0].Data)
	}
}

// TestPassword: the current password is checked, the new one typed twice
// and checked against the policy; then it is the password, the other
// sessions end and the person is told by mail.
func TestPassword(t *testing.T) {
	s := newSite(t, siteOptions{})
	a := s.create(university)
	v := s.loggedIn(university.login)
	other := s.loggedIn(university.login)
	const newPassword = "Velo-Rouge-Montagne-7"

	for _, tc := range []struct {
		current, pw, again, want string
	}{
		{"wrong-password-1", newPassword, newPassword, "Le mot de passe actuel est incorrect."},
		{testPassword, newPassword, newPassword + "x", "Les deux nouveaux mots de passe ne sont pas identiques."},
		{testPassword, "short-1", "short-1", "Le mot de passe est trop court : au moins 12 caractères."},
		{testPassword, "Camille-Martin-2024", "Camille-Martin-2024", "ni votre identifiant ni vos nom et prénom"},
		{testPassword, testPassword, testPassword, "doit être différent de l'actuel"},
		{"", newPassword, newPassword, "Saisissez votre mot de passe actuel et le nouveau."},
	} {
		res := v.form(PathPassword, PathPassword, fieldCurrent, tc.current, fieldPassword, tc.pw, fieldPasswordAgain, tc.again)
		wantStatus(t, res, http.StatusBadRequest)
		wantIn(t, res, tc.want, `aria-invalid="true"`)
	}
	if s.account(a.ID).PasswordHash != a.PasswordHash {
		t.Fatal("a refused form changed the password")
	}

	res := v.form(PathPassword, PathPassword, fieldCurrent, testPassword, fieldPassword, newPassword, fieldPasswordAgain, newPassword)
	wantRedirect(t, res, PathAccount+"?done=password")
	if ok, err := authn.CheckPassword(s.account(a.ID).PasswordHash, newPassword); err != nil || !ok {
		t.Fatalf("the new password is not the account's: %v %v", ok, err)
	}
	// This browser stays logged in, the other is logged out.
	wantStatus(t, v.get(PathAccount), http.StatusOK)
	wantRedirect(t, other.get(PathAccount), web.LoginURL(PathAccount))
	// The notice, to the primary address.
	to, text := s.mail()
	if to != university.address || !strings.Contains(text, "Le mot de passe du compte camille.martin a été modifié") {
		t.Errorf("notice to %s:\n%s", to, text)
	}
	evs := s.events(a.ID, authn.EventPasswordSet)
	if len(evs) != 1 || !strings.Contains(string(evs[0].Data), `"reason":"changed"`) || evs[0].Actor != "account:"+a.ID {
		t.Errorf("password events %+v", evs)
	}
	if !slices.ContainsFunc(s.events(a.ID, web.EventSessionRevoked), func(e store.AuditEntry) bool {
		return strings.Contains(string(e.Data), web.RevokePasswordChanged)
	}) {
		t.Error("no session revoked for the password change")
	}
}

// TestPasswordLimit: wrong current passwords are limited per account.
func TestPasswordLimit(t *testing.T) {
	s := newSite(t, siteOptions{})
	s.create(university)
	v := s.loggedIn(university.login)
	for range passwordEvents {
		res := v.form(PathPassword, PathPassword, fieldCurrent, "wrong", fieldPassword, "Velo-Rouge-Montagne-7", fieldPasswordAgain, "Velo-Rouge-Montagne-7")
		wantStatus(t, res, http.StatusBadRequest)
	}
	res := v.form(PathPassword, PathPassword, fieldCurrent, testPassword, fieldPassword, "Velo-Rouge-Montagne-7", fieldPasswordAgain, "Velo-Rouge-Montagne-7")
	wantStatus(t, res, http.StatusTooManyRequests)
	if res.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
}

// TestNoPassword: an account without a password (it logs in through a
// provider) is not offered the form.
func TestNoPassword(t *testing.T) {
	s := newSite(t, siteOptions{})
	p := university
	p.login, p.password = "up.only", false
	a := s.create(p)
	v := s.visitor()
	s.session(v, a.ID) // as a login through a provider opens it
	res := v.get(PathPassword)
	wantStatus(t, res, http.StatusOK)
	wantIn(t, res, "Votre compte n'a pas de mot de passe ici")
	wantNotIn(t, res, `name="current_password"`)
	wantStatus(t, v.form(PathAccount, PathPassword, fieldCurrent, "x", fieldPassword, "Velo-Rouge-Montagne-7",
		fieldPasswordAgain, "Velo-Rouge-Montagne-7"), http.StatusConflict)
}

// TestSessions: the sessions of the account, this browser's first; one
// other ends, then all the others.
func TestSessions(t *testing.T) {
	s := newSite(t, siteOptions{})
	a := s.create(university)
	v := s.loggedIn(university.login)
	b := s.loggedIn(university.login)
	c := s.loggedIn(university.login)
	stranger := s.create(person{login: "someone", given: "Some", family: "One", address: "someone@univ-test.example",
		source: "ldap:campus", password: true})
	sv := s.loggedIn("someone")
	sv2 := s.loggedIn("someone")

	p := v.get(PathSessions)
	wantStatus(t, p, http.StatusOK)
	ids := regexp.MustCompile(`name="session" value="([^"]+)"`).FindAllStringSubmatch(p.body, -1)
	if len(ids) != 2 || strings.Count(p.body, "Ce navigateur") != 1 {
		t.Fatalf("sessions page:\n%s", p.body)
	}
	if i, j := strings.Index(p.body, "Ce navigateur"), strings.Index(p.body, `name="session"`); i > j {
		t.Error("this browser's session is not first")
	}
	// Another account's session cannot be named; nothing happens.
	theirs := regexp.MustCompile(`name="session" value="([^"]+)"`).FindStringSubmatch(sv.get(PathSessions).body)
	if theirs == nil {
		t.Fatal("no other session on the stranger's page")
	}
	wantRedirect(t, v.form(PathSessions, PathSessionRevoke, fieldSession, theirs[1]), PathSessions+"?done=gone")
	wantRedirect(t, v.form(PathSessions, PathSessionRevoke, fieldSession, "not-a-session"), PathSessions+"?done=gone")
	wantStatus(t, sv2.get(PathAccount), http.StatusOK)

	wantRedirect(t, v.form(PathSessions, PathSessionRevoke, fieldSession, ids[0][1]), PathSessions+"?done=revoked")
	loggedOut := 0
	for _, x := range []*visitor{b, c} {
		if x.get(PathAccount).StatusCode == http.StatusSeeOther {
			loggedOut++
		}
	}
	if loggedOut != 1 {
		t.Fatalf("%d sessions ended, want 1", loggedOut)
	}
	wantRedirect(t, v.form(PathSessions, PathSessionsRevokeOthers), PathSessions+"?done=others&n=1")
	wantIn(t, v.get(PathSessions+"?done=others&n=1"), "Sessions fermées : 1.")
	for _, x := range []*visitor{b, c} {
		wantRedirect(t, x.get(PathAccount), web.LoginURL(PathAccount))
	}
	wantStatus(t, v.get(PathAccount), http.StatusOK)
	wantStatus(t, sv.get(PathAccount), http.StatusOK)
	reasons := map[string]int{}
	for _, e := range s.events(a.ID, web.EventSessionRevoked) {
		var d struct{ Reason string }
		_ = json.Unmarshal(e.Data, &d)
		reasons[d.Reason]++
	}
	if reasons[web.RevokeSignedOut] != 1 || reasons[web.RevokeOthers] != 1 {
		t.Errorf("revocations %v", reasons)
	}
	if n := len(s.events(stranger.ID, web.EventSessionRevoked)); n != 0 {
		t.Errorf("%d of the stranger's sessions revoked", n)
	}
}

// TestForgedPosts: a POST from another site, or without this browser's
// CSRF token, is refused before anything is done, even with the session
// cookie.
func TestForgedPosts(t *testing.T) {
	s := newSite(t, siteOptions{})
	a := s.create(university)
	v := s.loggedIn(university.login)
	wantRedirect(t, v.form(PathAccount, PathEmails, "address", "keep@perso.example"), PathAccount+"?done=email_added")
	token := v.csrf(v.get(PathAccount))
	for _, tc := range []struct {
		name    string
		path    string
		form    url.Values
		headers []string
	}{
		{"password from another site", PathPassword, url.Values{web.CSRFField: {token}, fieldCurrent: {testPassword},
			fieldPassword: {"Velo-Rouge-Montagne-7"}, fieldPasswordAgain: {"Velo-Rouge-Montagne-7"}},
			[]string{"Origin", "https://evil.example"}},
		{"password without token", PathPassword, url.Values{fieldCurrent: {testPassword},
			fieldPassword: {"Velo-Rouge-Montagne-7"}, fieldPasswordAgain: {"Velo-Rouge-Montagne-7"}}, nil},
		{"delete cross-site fetch", PathEmailDelete, url.Values{web.CSRFField: {token}, "address": {"keep@perso.example"}},
			[]string{"Sec-Fetch-Site", "cross-site"}},
		{"delete forged token", PathEmailDelete, url.Values{web.CSRFField: {"AAAA" + token[4:]}, "address": {"keep@perso.example"}}, nil},
		{"revoke others without token", PathSessionsRevokeOthers, url.Values{}, nil},
		{"directory from another site", PathDirectory, url.Values{web.CSRFField: {token}, "visible": {"yes"}},
			[]string{"Origin", "http://127.0.0.1:1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := v.post(tc.path, tc.form, tc.headers...)
			wantStatus(t, res, http.StatusForbidden)
			wantIn(t, res, "Le formulaire a expiré", "Rien n'a été modifié.")
		})
	}
	after := s.account(a.ID)
	if after.PasswordHash != a.PasswordHash || after.Consents.DirectoryVisible != nil {
		t.Error("a forged POST changed the account")
	}
	wantIn(t, v.get(PathAccount), "keep@perso.example")
	for _, typ := range []string{authn.EventPasswordSet, emailmerge.EventEmailRemoved, web.EventSessionRevoked, EventDirectoryChanged} {
		if n := len(s.events(a.ID, typ)); n != 0 {
			t.Errorf("%d %s events after forged POSTs", n, typ)
		}
	}
}

// TestMergeKeySection: generating a key from My account shows it once on
// the merge key page; My account then says until when it works.
func TestMergeKeySection(t *testing.T) {
	s := newSite(t, siteOptions{})
	s.create(university)
	v := s.loggedIn(university.login)
	res := v.form(PathAccount, mergekey.PathKeyPage)
	wantStatus(t, res, http.StatusOK)
	if !regexp.MustCompile(`id="merge-key">[0-9A-Z]{4}(-[0-9A-Z]{4}){4}<`).MatchString(res.body) {
		t.Fatalf("no key shown:\n%s", res.body)
	}
	wantIn(t, v.get(PathAccount), `id="active-key"`, "Générer une nouvelle clé de fusion")
}

// TestCatalogs: both catalogs have the same keys, and every key the code
// and the templates use exists.
func TestCatalogs(t *testing.T) {
	cat, err := loadCatalogs(time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(slices.Sorted(maps.Keys(cat.Catalog["fr"])), slices.Sorted(maps.Keys(cat.Catalog["en"]))) {
		t.Fatal("the catalogs' keys differ")
	}
	fr := cat.get("fr")
	used := regexp.MustCompile(`\.T\(?"([a-z_.]*[a-z_])"`)
	files, _ := filepath.Glob("*.go")
	tmpls, _ := filepath.Glob("templates/*.html")
	n := 0
	for _, f := range append(files, tmpls...) {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range used.FindAllStringSubmatch(string(src), -1) {
			n++
			if !fr.Has(m[1]) {
				t.Errorf("%s uses %q, missing from the catalogs", f, m[1])
			}
		}
	}
	if n < 50 {
		t.Errorf("found only %d uses of messages: is the pattern still right?", n)
	}
	// Keys built at run time.
	for _, k := range []string{"merged.how.email", "merged.how.key", "merged.how.admin", "merged.how.rule",
		"done.email_added", "done.email_removed", "done.email_primary", "done.directory", "done.password",
		"done.revoked", "done.gone", "match.family_name", "match.given_name", "match.birth_date", "match.email",
		"source.ldap", "source.csv", "source.self"} {
		if !fr.Has(k) {
			t.Errorf("missing %q", k)
		}
	}
}

// TestSuggestionsNeedProof: an address typed and not verified makes no
// account look like the person's, so that the page never tells whether
// another account holds an address.
func TestSuggestionsNeedProof(t *testing.T) {
	s := newSite(t, siteOptions{})
	uni, ag := university, agency
	uni.birth, ag.birth = "", "" // the names alone are not enough
	s.create(uni)
	other := s.create(ag)
	v := s.loggedIn(uni.login)
	wantNotIn(t, v.get(PathAccount), "Comptes qui vous ressemblent")
	wantRedirect(t, v.form(PathAccount, PathEmails, "address", ag.address), PathAccount+"?done=email_added")
	rep, err := s.acc.Duplicates(t.Context(), s.find(uni.login, "").ID)
	if err != nil || len(rep.Suggestions) != 1 || rep.Suggestions[0].B.ID != other.ID && rep.Suggestions[0].A.ID != other.ID {
		t.Fatalf("the duplicate detection does not count the pending address: %+v, %v", rep, err)
	}
	p := v.get(PathAccount)
	wantNotIn(t, p, "Comptes qui vous ressemblent", other.ID)
}
