package registration

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/canonid/canonid/flows/flowstest"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/web"
)

// pdf is the smallest content DetectContentType takes for a PDF.
var pdf = []byte("%PDF-1.4\n% diplôme\n")

// TestConsoleAccess: the console opens to validated org-admins of the org
// with an active account; anyone else is sent to log in or refused,
// learning nothing of the org.
func TestConsoleAccess(t *testing.T) {
	s := newSite(t, ConsolePageSize)
	s.person("claire", "Claire", "Moreau", "claire@cpts-x.example", "cpts-x", identity.RoleOrgAdmin, identity.MembershipValidated)
	s.person("yann", "Yann", "Other", "yann@cpts-y.example", "cpts-y", identity.RoleOrgAdmin, identity.MembershipValidated)
	s.person("paul", "Paul", "Pending", "paul@cpts-x.example", "cpts-x", identity.RoleOrgAdmin, identity.MembershipPending)
	s.person("nina", "Nina", "Nurse", "nina@cpts-x.example", "cpts-x", identity.RoleMember, identity.MembershipValidated)
	both := s.person("bea", "Béa", "Both", "bea@cpts.example", "cpts-x", identity.RoleOrgAdmin, identity.MembershipValidated)
	s.update(func(ctx context.Context, tx store.Tx) error {
		if err := tx.Memberships().Put(ctx, &identity.Membership{OrgID: "cpts-y", AccountID: both.ID,
			Role: identity.RoleOrgAdmin, State: identity.MembershipValidated}); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: identity.EventMembershipAdded, Actor: "test", AccountID: both.ID, OrgID: "cpts-y"})
	})
	marie := s.member("cpts-x", "marie.curie@example.org", "Marie", "Curie")
	list := ConsoleMembersPath("cpts-x")
	validate := list + "/" + marie.ID + "/validate"

	t.Run("not logged in", func(t *testing.T) {
		v := s.visitor()
		for _, path := range []string{PathConsole, list, list + "/" + marie.ID + "/documents/x"} {
			res := v.get(path)
			wantStatus(t, res, http.StatusSeeOther)
			// The login page, which comes back here.
			if loc := res.Header.Get("Location"); loc != web.LoginURL(path) {
				t.Errorf("GET %s redirects to %q, want the login page back to it", path, loc)
			}
		}
		// A POST with a valid token but no session does nothing; after
		// the login, the list.
		res := v.post(validate, url.Values{web.CSRFField: {v.csrf(v.get(web.PathLogin))}})
		wantStatus(t, res, http.StatusSeeOther)
		if loc := res.Header.Get("Location"); loc != web.LoginURL(list) {
			t.Errorf("POST without a session redirects to %q", loc)
		}
		if m := s.membership("cpts-x", marie.ID); m.State != identity.MembershipPending {
			t.Errorf("membership %s after a POST without session", m.State)
		}
	})

	forbidden := []struct{ who, path string }{
		{"nina", list},                          // a member, not an org-admin
		{"paul", list},                          // an org-admin not validated
		{"yann", list},                          // the org-admin of another org
		{"yann", ConsoleMembersPath("nowhere")}, // an unknown org looks the same
		{"marie.curie@example.org", list},       // the pending member herself
	}
	for _, c := range forbidden {
		t.Run(c.who+" "+c.path, func(t *testing.T) {
			v := s.visitor()
			v.login(c.who)
			res := v.get(c.path)
			wantStatus(t, res, http.StatusForbidden)
			wantIn(t, res, "Accès réservé")
			wantNotIn(t, res, "CPTS X", "Marie", "claire@cpts-x.example", "csrf_token")
			if c.who != "yann" {
				return
			}
			// Nor can it act or download there.
			res = v.post(validate, url.Values{web.CSRFField: {v.csrf(v.get(web.PathLogin))}})
			wantStatus(t, res, http.StatusForbidden)
			if m := s.membership("cpts-x", marie.ID); m.State != identity.MembershipPending {
				t.Errorf("membership %s after yann's POST", m.State)
			}
		})
	}

	t.Run("coordinator of two orgs", func(t *testing.T) {
		v := s.visitor()
		v.login("bea")
		res := v.get(PathConsole)
		wantStatus(t, res, http.StatusOK)
		wantIn(t, res, "Vos organisations", `href="`+list+`">CPTS X</a>`, `href="`+ConsoleMembersPath("cpts-y")+`">CPTS Y</a>`)
	})

	t.Run("coordinator", func(t *testing.T) {
		v := s.visitor()
		v.login("claire")
		res := v.get(PathConsole)
		wantStatus(t, res, http.StatusSeeOther)
		if loc := res.Header.Get("Location"); loc != list {
			t.Errorf("/console leads to %q, want %q", loc, list)
		}
		res = v.get(list)
		wantStatus(t, res, http.StatusOK)
		wantIn(t, res, "Membres de CPTS X", "Marie Curie", "marie.curie@example.org")
		for h, want := range map[string]string{
			"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
			"X-Content-Type-Options":  "nosniff",
			"Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'",
		} {
			if got := res.Header.Get(h); got != want {
				t.Errorf("%s: %q, want %q", h, got, want)
			}
		}
		if en := v.get(list + "?lang=en"); !strings.Contains(en.Body, "Members of CPTS X") || !strings.Contains(en.Body, "Waiting for validation") {
			t.Errorf("English list:\n%s", en.Body)
		}
	})
}

// TestConsoleListAndValidate: the list shows each member's status in
// colour and in words, their contact, dates and documents; "Valider"
// validates by the coordinator's account and the member turns green.
func TestConsoleListAndValidate(t *testing.T) {
	s := newSite(t, ConsolePageSize)
	claire := s.person("claire", "Claire", "Moreau", "claire@cpts-x.example", "cpts-x", identity.RoleOrgAdmin, identity.MembershipValidated)
	marieLink := s.register("cpts-x", "marie.curie@example.org", "Marie", "Curie")
	doc, err := s.svc.AddDocumentByLink(t.Context(), marieLink, "diplôme.pdf", bytes.NewReader(pdf))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.svc.Confirm(t.Context(), marieLink, testPassword); err != nil {
		t.Fatal(err)
	}
	marie := s.account("marie.curie@example.org")
	s.register("cpts-x", "pierre@example.org", "Pierre", "Waiting") // address not confirmed yet
	pierre := s.account("pierre@example.org")
	other := s.member("cpts-y", "olga@example.org", "Olga", "Elsewhere")

	v := s.visitor()
	v.login("claire")
	list := ConsoleMembersPath("cpts-x")
	res := v.get(list)
	wantStatus(t, res, http.StatusOK)
	wantIn(t, res,
		"Membres : 3. En attente de validation : 2.",
		`<span class="status status-orange">En attente de validation</span>`,
		`<span class="status status-green">Validé</span>`, // Claire
		`<span class="role">Coordination</span>`,
		"pierre@example.org</span> <span class=\"note\">(non confirmée)</span>",
		`action="`+list+"/"+marie.ID+`/validate"`,
		`aria-label="Valider Marie Curie"`,
		`href="`+list+"/"+marie.ID+"/documents/"+doc.ID+`"`, "diplôme.pdf (1 Ko)",
		`<label class="visually-hidden" for="select-`+marie.ID+`">Sélectionner Marie Curie</label>`,
		`href="`+list+`">Actualiser la liste</a>`,
		`form="mail-form"`, `id="mail-form"`,
	)
	wantNotIn(t, res, "Olga", `aria-label="Valider Claire Moreau"`)

	// The document, as an attachment nothing runs.
	got := v.get(list + "/" + marie.ID + "/documents/" + doc.ID)
	wantStatus(t, got, http.StatusOK)
	if got.Body != string(pdf) || got.Header.Get("Content-Type") != "application/pdf" ||
		!strings.HasPrefix(got.Header.Get("Content-Disposition"), "attachment;") ||
		got.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(got.Header.Get("Content-Security-Policy"), "sandbox") {
		t.Errorf("document: %v %q", got.Header, got.Body)
	}
	// A member of another org, or a document of another member: 404.
	wantStatus(t, v.get(list+"/"+other.ID+"/documents/"+doc.ID), http.StatusNotFound)
	wantStatus(t, v.get(list+"/"+pierre.ID+"/documents/"+doc.ID), http.StatusNotFound)

	// Valider.
	token := v.csrf(res)
	res = v.post(list+"/"+marie.ID+"/validate", url.Values{web.CSRFField: {token}, fieldPage: {"1"}})
	wantStatus(t, res, http.StatusSeeOther)
	if loc := res.Header.Get("Location"); loc != list+"?validated="+marie.ID {
		t.Errorf("validate leads to %q", loc)
	}
	m := s.membership("cpts-x", marie.ID)
	if m.State != identity.MembershipValidated || m.ValidatedBy != "account:"+claire.ID {
		t.Errorf("membership after Valider: %+v", m)
	}
	if a := s.account("marie.curie@example.org"); a.Status != identity.StatusActive {
		t.Errorf("account %s after Valider", a.Status)
	}
	res = v.get(res.Header.Get("Location"))
	wantStatus(t, res, http.StatusOK)
	wantIn(t, res, `<div class="notice" role="status"><p>Le compte de Marie Curie est validé.</p></div>`,
		"Membres : 3. En attente de validation : 1.")
	wantNotIn(t, res, `aria-label="Valider Marie Curie"`)
	s.mail.Deliver(6) // email_verification × 3, registration_received × 2, member_validated
	if body := s.lastMail("marie.curie@example.org"); !strings.Contains(body, "/login") {
		t.Errorf("member_validated mail:\n%s", body)
	}

	// Again: nothing changes, the list says so.
	res = v.post(list+"/"+marie.ID+"/validate", url.Values{web.CSRFField: {token}})
	wantStatus(t, res, http.StatusSeeOther)
	wantIn(t, v.get(res.Header.Get("Location")), "Le compte de Marie Curie était déjà validé.")

	// Pierre validated before confirming his address stays orange, in
	// other words.
	res = v.post(list+"/"+pierre.ID+"/validate", url.Values{web.CSRFField: {token}})
	wantStatus(t, res, http.StatusSeeOther)
	wantIn(t, v.get(list), `<span class="status status-orange">Validé, adresse e-mail à confirmer</span>`)

	// Olga is not a member of CPTS X: 404, her membership untouched.
	res = v.post(list+"/"+other.ID+"/validate", url.Values{web.CSRFField: {token}})
	wantStatus(t, res, http.StatusNotFound)
	if m := s.membership("cpts-y", other.ID); m.State != identity.MembershipPending {
		t.Errorf("olga's membership %s", m.State)
	}
}

// TestConsoleMail: the coordinator writes to the members ticked in the
// list; what cannot be sent comes back with what was typed.
func TestConsoleMail(t *testing.T) {
	s := newSite(t, ConsolePageSize)
	claire := s.person("claire", "Claire", "Moreau", "claire@cpts-x.example", "cpts-x", identity.RoleOrgAdmin, identity.MembershipValidated)
	marie := s.member("cpts-x", "marie.curie@example.org", "Marie", "Curie")
	s.register("cpts-x", "pierre@example.org", "Pierre", "Waiting")
	pierre := s.account("pierre@example.org")
	other := s.member("cpts-y", "olga@example.org", "Olga", "Elsewhere")
	s.mail.Deliver(5) // the registrations' mails

	v := s.visitor()
	v.login("claire")
	list := ConsoleMembersPath("cpts-x")
	mail := PathConsole + "/orgs/cpts-x/mail"
	token := v.csrf(v.get(list))

	for _, c := range []struct {
		name string
		form url.Values
		want string
	}{
		{"nobody ticked", url.Values{fieldSubject: {"Bienvenue"}, fieldBody: {"Connectez-vous."}}, "cochez au moins un membre"},
		{"no subject", url.Values{fieldAccount: {marie.ID}, fieldSubject: {" "}, fieldBody: {"Connectez-vous."}}, "saisissez son objet et son texte"},
		{"another org's member", url.Values{fieldAccount: {marie.ID, other.ID}, fieldSubject: {"Bienvenue"}, fieldBody: {"Connectez-vous."}},
			"ne fait plus partie de l&#39;organisation"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.form.Set(web.CSRFField, token)
			res := v.post(mail, c.form)
			wantStatus(t, res, http.StatusBadRequest)
			wantIn(t, res, `role="alert"`, c.want)
			if subject := c.form.Get(fieldSubject); strings.TrimSpace(subject) != "" {
				wantIn(t, res, `value="`+subject+`"`, ">Connectez-vous.</textarea>")
			}
			if c.form.Has(fieldAccount) {
				wantIn(t, res, `value="`+marie.ID+`" form="mail-form" checked>`)
			}
		})
	}
	if sent, _, _ := s.mail.Dispatcher.Tick(t.Context()); sent != 0 {
		t.Fatalf("%d mails sent by refused messages", sent)
	}

	res := v.post(mail, url.Values{web.CSRFField: {token}, fieldAccount: {marie.ID, pierre.ID},
		fieldSubject: {"Bienvenue"}, fieldBody: {"Votre compte est prêt : connectez-vous."}})
	wantStatus(t, res, http.StatusSeeOther)
	res = v.get(res.Header.Get("Location"))
	wantIn(t, res, "Message envoyé. Destinataires : 1.", "Membres sans adresse e-mail confirmée, à qui rien n&#39;a été envoyé : 1.")
	s.mail.Deliver(1)
	if body := s.lastMail("marie.curie@example.org"); !strings.Contains(body, "Votre compte est pr") {
		t.Errorf("org_message:\n%s", body)
	}
	var actor string
	if err := s.Store.View(t.Context(), func(tx store.Tx) error {
		evs, err := tx.Audit().List(t.Context(), store.AuditQuery{Type: EventOrgMessage, Limit: 1})
		if len(evs) == 1 {
			actor = evs[0].Actor
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if actor != "account:"+claire.ID {
		t.Errorf("org.message_sent by %q", actor)
	}
}

// TestConsolePages: long lists come in pages; a page out of range shows
// the nearest one.
func TestConsolePages(t *testing.T) {
	s := newSite(t, 2)
	// One registration a second, after Claire's membership: the list's
	// order is the registrations'.
	c := flowstest.NewClock()
	c.Set(time.Now().Add(time.Minute))
	s.svc.SetClock(func() time.Time { c.Advance(time.Second); return c.Now() })
	s.person("claire", "Claire", "Moreau", "claire@cpts-x.example", "cpts-x", identity.RoleOrgAdmin, identity.MembershipValidated)
	for _, n := range []string{"a", "b", "c", "d"} {
		s.member("cpts-x", n+"@example.org", "Membre", strings.ToUpper(n))
	}
	v := s.visitor()
	v.login("claire")
	list := ConsoleMembersPath("cpts-x")
	rows := func(a answer) int { return strings.Count(a.Body, `<tr id="member-`) }

	for _, c := range []struct {
		query          string
		caption        string
		rows           int
		prev, next     string
		shows, notShow string
	}{
		{"", "page 1 sur 3", 2, "", list + "?page=2", "Claire Moreau", "Membre B"},
		{"?page=2", "page 2 sur 3", 2, list, list + "?page=3", "Membre C", "Membre A"},
		{"?page=3", "page 3 sur 3", 1, list + "?page=2", "", "Membre D", "Claire Moreau"},
		{"?page=99", "page 3 sur 3", 1, list + "?page=2", "", "Membre D", "Membre C"},
		{"?page=abc", "page 1 sur 3", 2, "", list + "?page=2", "Membre A", "Membre D"},
	} {
		res := v.get(list + c.query)
		wantStatus(t, res, http.StatusOK)
		wantIn(t, res, "Membres de CPTS X, "+c.caption, c.shows)
		wantNotIn(t, res, c.notShow)
		if n := rows(res); n != c.rows {
			t.Errorf("%s: %d rows, want %d", c.query, n, c.rows)
		}
		for rel, href := range map[string]string{"prev": c.prev, "next": c.next} {
			link := `<a href="` + href + `" rel="` + rel + `">`
			if has := strings.Contains(res.Body, `rel="`+rel+`"`); has != (href != "") || (href != "" && !strings.Contains(res.Body, link)) {
				t.Errorf("%s: %s link, want %q", c.query, rel, href)
			}
		}
	}
	// The page is kept through an action.
	m := s.account("d@example.org")
	res := v.post(list+"/"+m.ID+"/validate", url.Values{web.CSRFField: {v.csrf(v.get(list + "?page=3"))}, fieldPage: {"3"}})
	if loc := res.Header.Get("Location"); loc != list+"?page=3&validated="+m.ID {
		t.Errorf("validate on page 3 leads to %q", loc)
	}
}

// TestConsoleForgedPosts: a cross-site POST to the console's actions is
// refused before anything is done: without the CSRF token, with the token
// of another browser, from another Origin, or a cross-site fetch.
func TestConsoleForgedPosts(t *testing.T) {
	s := newSite(t, ConsolePageSize)
	s.person("claire", "Claire", "Moreau", "claire@cpts-x.example", "cpts-x", identity.RoleOrgAdmin, identity.MembershipValidated)
	marie := s.member("cpts-x", "marie.curie@example.org", "Marie", "Curie")
	s.mail.Deliver(2)
	list := ConsoleMembersPath("cpts-x")
	validate := list + "/" + marie.ID + "/validate"
	mail := PathConsole + "/orgs/cpts-x/mail"

	victim := s.visitor()
	victim.login("claire")
	token := victim.csrf(victim.get(list))
	attacker := s.visitor() // another browser: its own CSRF cookie and token
	attacker.login("claire")
	foreign := attacker.csrf(attacker.get(list))

	for _, c := range []struct {
		name    string
		form    url.Values
		headers []string
	}{
		{"no token", url.Values{}, nil},
		{"forged token", url.Values{web.CSRFField: {strings.Repeat("A", 86)}}, nil},
		{"another session's token", url.Values{web.CSRFField: {foreign}}, nil},
		{"another origin", url.Values{web.CSRFField: {token}}, []string{"Origin", "https://evil.example"}},
		{"cross-site fetch", url.Values{web.CSRFField: {token}}, []string{"Sec-Fetch-Site", "cross-site"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := victim.post(validate, c.form, c.headers...)
			wantStatus(t, res, http.StatusForbidden)
			wantIn(t, res, "Le formulaire a expiré")
			if m := s.membership("cpts-x", marie.ID); m.State != identity.MembershipPending {
				t.Fatalf("membership %s after a forged POST", m.State)
			}
			form := url.Values{fieldAccount: {marie.ID}, fieldSubject: {"Hameçon"}, fieldBody: {"Cliquez ici."}}
			for k, vs := range c.form {
				form[k] = vs
			}
			wantStatus(t, victim.post(mail, form, c.headers...), http.StatusForbidden)
			if sent, _, _ := s.mail.Dispatcher.Tick(t.Context()); sent != 0 {
				t.Fatalf("a forged POST sent %d mails", sent)
			}
		})
	}

	// The same POST from the console itself acts.
	res := victim.post(validate, url.Values{web.CSRFField: {token}}, "Origin", s.Server.URL, "Sec-Fetch-Site", "same-origin")
	wantStatus(t, res, http.StatusSeeOther)
	if m := s.membership("cpts-x", marie.ID); m.State != identity.MembershipValidated {
		t.Errorf("membership %s after the console's POST", m.State)
	}
}
