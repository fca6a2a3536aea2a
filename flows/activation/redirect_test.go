package activation

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/canonid/canonid/authn"
	"github.com/canonid/canonid/flows/flowstest"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/web"
)

// Addresses of the staff member of the tests.
const (
	staffRecovery      = "julie.dupont@perso.example"
	staffInstitutional = "julie.dupont@univ-test.example"
	staffForward       = "julie@ailleurs.example"
)

// toRedirect takes a staff member's link through the charter and the
// directory: it returns the page of the redirection step.
func (b *browser) toRedirect(link string) flowstest.Page {
	t := b.T
	t.Helper()
	token := flowstest.TokenOf(t, link)
	p := b.Get(flowstest.PathOf(t, link))
	flowstest.WantStatus(t, p, http.StatusOK)
	flowstest.WantContains(t, p, "Étape 1 sur 5")
	p = b.step(p, token, StepCharter, url.Values{fieldCharterVersion: {"2021-06"}, fieldAccept: {"1"}})
	flowstest.WantContains(t, p, "Étape 2 sur 5")
	p = b.step(p, token, StepDirectory, url.Values{fieldVisible: {"yes"}})
	flowstest.WantStatus(t, p, http.StatusOK)
	flowstest.WantContains(t, p, "Étape 3 sur 5", "Redirection de votre messagerie")
	return p
}

// choose posts the redirection step: redirect to address, keeping a copy
// or not.
func (b *browser) choose(p flowstest.Page, token, address string, keepCopy bool) flowstest.Page {
	b.T.Helper()
	f := url.Values{fieldRedirect: {"yes"}, fieldRedirectTo: {address}}
	if keepCopy {
		f.Set(fieldKeepCopy, "1")
	}
	return b.step(p, token, StepRedirect, f)
}

// The seed's story for a member of staff: after the directory, the
// redirection step, its address filled with the recovery address; refused
// addresses say why; another address chosen, with a
// copy kept, gets a link over SMTP; the activation goes on; the link,
// followed from another browser, shows a form whose POST verifies the
// redirection; the activation ends with the redirection verified and its
// events recorded.
func TestRedirectStory(t *testing.T) {
	eachEnv(t, nil, func(t *testing.T, e *env) {
		e.Clock.Set(time.Date(2026, 3, 2, 9, 0, 0, 0, e.paris))
		a := e.pendingStaff("jdupont", "Julie", "Dupont", staffRecovery, staffInstitutional)
		_, link := e.link()
		token := flowstest.TokenOf(t, link)
		b := e.browser()
		p := b.toRedirect(link)
		if !strings.Contains(p.Body, `name="`+fieldRedirectTo+`" value="`+staffRecovery+`"`) ||
			!strings.Contains(p.Body, `name="`+fieldKeepCopy+`" value="1" checked`) {
			t.Fatalf("the step lacks the address (the recovery address by default) or the keep-copy box (checked by default):\n%s", p.Body)
		}
		flowstest.WantContains(t, p, "Votre adresse de secours, "+staffRecovery+", est proposée par défaut",
			"ne demande aucune confirmation", "Une autre adresse recevra un lien de confirmation",
			"ne peut pas être l'une de vos adresses institutionnelles")
		if strings.Contains(p.Text(), "ni votre adresse de secours") {
			t.Errorf("the step still refuses the recovery address:\n%s", p.Body)
		}

		// Refused answers: the form again, saying why, nothing done.
		for _, c := range []struct {
			name   string
			fields url.Values
			msg    string
		}{
			{"institutional address", url.Values{fieldRedirect: {"yes"}, fieldRedirectTo: {"Julie.Dupont@univ-test.example"}},
				"l'une de vos adresses institutionnelles"},
			{"not an address", url.Values{fieldRedirect: {"yes"}, fieldRedirectTo: {"julie at ailleurs"}}, "n'est pas une adresse e-mail valide"},
			{"no address", url.Values{fieldRedirect: {"yes"}, fieldRedirectTo: {"  "}}, "Saisissez l'adresse"},
			{"no answer", url.Values{fieldRedirectTo: {staffForward}}, "Choisissez l'une des deux réponses"},
		} {
			q := b.step(p, token, StepRedirect, c.fields)
			flowstest.WantStatus(t, q, http.StatusBadRequest)
			flowstest.WantContains(t, q, c.msg, "Étape 3 sur 5")
			if typed := strings.TrimSpace(c.fields.Get(fieldRedirectTo)); typed != "" && !strings.Contains(q.Text(), `value="`+typed+`"`) {
				t.Errorf("%s: the address typed is not filled in again:\n%s", c.name, q.Body)
			}
			p = q
		}
		if got := e.Account(a.ID); got.MailForward != nil || !got.Consents.MailForwardAnsweredAt.IsZero() {
			t.Fatalf("refused answers changed the account: %+v %+v", got.MailForward, got.Consents)
		}
		e.mail.None()

		// The redirection chosen, with a copy kept.
		chosenAt := e.Clock.Now()
		p = b.choose(p, token, "Julie@Ailleurs.example", true)
		flowstest.WantStatus(t, p, http.StatusOK)
		flowstest.WantContains(t, p, "Étape 4 sur 5", "Votre mot de passe")
		got := e.Account(a.ID)
		if f := got.MailForward; f == nil || f.Address != staffForward || !f.KeepCopy || !f.VerifiedAt.IsZero() ||
			!f.ChosenAt.Equal(chosenAt) || !got.Consents.MailForwardAnsweredAt.Equal(chosenAt) {
			t.Fatalf("after the choice: %+v, answered at %s", got.MailForward, got.Consents.MailForwardAnsweredAt)
		}
		var redirectTok store.OneTimeToken
		for _, tok := range e.Pending(a.ID) {
			if tok.Purpose == store.PurposeMailRedirect {
				redirectTok = tok
			}
		}
		if redirectTok.ID == "" || redirectTok.Data["address"] != staffForward || !redirectTok.ExpiresAt.Equal(chosenAt.Add(24*time.Hour)) {
			t.Fatalf("redirection token: %+v", redirectTok)
		}
		to, rlink := e.redirectLink()
		if to != staffForward {
			t.Fatalf("the redirection link went to %s", to)
		}
		if flowstest.TokenOf(t, rlink) == token || !bytes.Equal(redirectTok.Hash, tokenHash(flowstest.TokenOf(t, rlink))) {
			t.Fatal("the redirection link reuses the activation token, or its token is not stored hashed")
		}
		chosen := e.events(a.ID, EventRedirectChosen)
		if len(chosen) != 1 || chosen[0]["address"] != staffForward || chosen[0]["keep_copy"] != true ||
			chosen[0]["verified"] != false || chosen[0]["token_id"] != redirectTok.ID {
			t.Fatalf("%s events: %v", EventRedirectChosen, chosen)
		}

		// The activation goes on without waiting for the link.
		p = b.step(p, token, StepPassword, url.Values{fieldPassword: {goodPassword}, fieldPasswordAgain: {goodPassword}})
		flowstest.WantStatus(t, p, http.StatusOK)
		flowstest.WantContains(t, p, "Étape 5 sur 5", "redirigés vers julie@ailleurs.example, avec une copie",
			"dès que vous aurez ouvert le lien", "Modifier la redirection")

		// The link, from another browser, an hour later: GET shows what
		// it confirms and changes nothing.
		e.Clock.Advance(time.Hour)
		other := e.browser()
		for range 2 {
			q := other.Get(flowstest.PathOf(t, rlink))
			flowstest.WantStatus(t, q, http.StatusOK)
			flowstest.WantContains(t, q, "Confirmer la redirection", "jdupont", staffForward, "Une copie des mails restera")
			if !strings.Contains(q.Body, `method="post" action="`+PathRedirectConfirm+`"`) {
				t.Fatalf("the form does not POST to %s:\n%s", PathRedirectConfirm, q.Body)
			}
			if got := e.Account(a.ID); !got.MailForward.VerifiedAt.IsZero() {
				t.Fatal("GET verified the redirection")
			}
			// Without the CSRF token, nothing.
			q = other.Post(PathRedirectConfirm, url.Values{fieldToken: {flowstest.TokenOf(t, rlink)}})
			flowstest.WantStatus(t, q, http.StatusForbidden)
			if got := e.Account(a.ID); !got.MailForward.VerifiedAt.IsZero() {
				t.Fatal("a POST without CSRF token verified the redirection")
			}
		}
		q := other.Get(flowstest.PathOf(t, rlink))
		q = other.Post(PathRedirectConfirm, url.Values{web.CSRFField: {q.CSRF(t)}, fieldToken: {flowstest.TokenOf(t, rlink)}})
		flowstest.WantStatus(t, q, http.StatusOK)
		flowstest.WantContains(t, q, "Redirection confirmée", "jdupont", staffForward)
		verifiedAt := e.Clock.Now()
		got = e.Account(a.ID)
		if f := got.MailForward; f == nil || !f.VerifiedAt.Equal(verifiedAt) || f.Address != staffForward || !f.KeepCopy ||
			!f.ChosenAt.Equal(chosenAt) || got.Status != identity.StatusPendingActivation {
			t.Fatalf("after the link: %+v, status %s", got.MailForward, got.Status)
		}
		verified := e.events(a.ID, EventRedirectVerified)
		if len(verified) != 1 || verified[0]["address"] != staffForward || verified[0]["token_id"] != redirectTok.ID {
			t.Fatalf("%s events: %v", EventRedirectVerified, verified)
		}
		// The link is used: refused, from any browser.
		flowstest.WantStatus(t, other.Get(flowstest.PathOf(t, rlink)), http.StatusBadRequest)
		flowstest.WantStatus(t, e.browser().Get(flowstest.PathOf(t, rlink)), http.StatusBadRequest)

		// The activation ends; the confirmation page said it is verified.
		p = b.Get(flowstest.PathOf(t, link))
		flowstest.WantContains(t, p, "Étape 5 sur 5", "Vos mails sont redirigés vers julie@ailleurs.example, avec une copie")
		p = b.step(p, token, StepConfirm, nil)
		flowstest.WantStatus(t, p, http.StatusOK)
		flowstest.WantContains(t, p, "Votre compte est activé")
		if strings.Contains(p.Text(), "attend sa confirmation") {
			t.Error("the done page says the verified redirection awaits confirmation")
		}
		got = e.Account(a.ID)
		if got.Status != identity.StatusActive || got.MailForward == nil || !got.MailForward.VerifiedAt.Equal(verifiedAt) {
			t.Fatalf("after the activation: %s %+v", got.Status, got.MailForward)
		}
		if ok, err := authn.CheckPassword(got.PasswordHash, goodPassword); !ok || err != nil {
			t.Fatalf("password not set: %v %v", ok, err)
		}
		if to, _ := e.mail.Read(); to != staffRecovery {
			t.Fatalf("confirmation mail to %s", to)
		}
		e.mail.None()
		if toks := e.Pending(a.ID); len(toks) != 0 {
			t.Fatalf("pending tokens after activation: %+v", toks)
		}
		want := []string{EventCharterAccepted, EventDirectoryChosen, EventRedirectChosen, authn.EventPasswordSet,
			EventRedirectVerified, identity.EventAccountActivated}
		e.WantEvents(a.ID, want...)
	})
}

// Only staff see the step: the affiliations of Config.StaffAffiliations
// (by default staff, employee, faculty; case and scope ignored). The
// others go from the directory to the password, in 4 steps, and cannot
// post the redirection.
func TestRedirectOnlyForStaff(t *testing.T) {
	for _, c := range []struct {
		name         string
		staff        []string // Config.StaffAffiliations
		affiliations []string
		want         bool
	}{
		{"staff", nil, []string{"staff"}, true},
		{"employee", nil, []string{"member", "Employee"}, true},
		{"scoped faculty", nil, []string{"faculty@univ-test.example"}, true},
		{"student", nil, []string{"student", "member"}, false},
		{"no affiliation", nil, nil, false},
		{"configured", []string{"personnel"}, []string{"PERSONNEL"}, true},
		{"staff not configured", []string{"personnel"}, []string{"staff"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			eachEnv(t, func(cfg *Config) { cfg.StaffAffiliations = c.staff }, func(t *testing.T, e *env) {
				a := e.pendingWith("jdupont", "Julie", "Dupont", staffRecovery, c.affiliations)
				_, link := e.link()
				token := flowstest.TokenOf(t, link)
				b := e.browser()
				p := b.Get(flowstest.PathOf(t, link))
				total := map[bool]string{true: "5", false: "4"}[c.want]
				flowstest.WantContains(t, p, "Étape 1 sur "+total)
				p = b.step(p, token, StepCharter, url.Values{fieldCharterVersion: {"2021-06"}, fieldAccept: {"1"}})
				p = b.step(p, token, StepDirectory, url.Values{fieldVisible: {"no"}})
				flowstest.WantStatus(t, p, http.StatusOK)
				if got := strings.Contains(p.Text(), "Redirection de votre messagerie"); got != c.want {
					t.Fatalf("redirection step shown: %v, want %v\n%s", got, c.want, p.Body)
				}
				if c.want {
					return
				}
				flowstest.WantContains(t, p, "Étape 3 sur 4", "Votre mot de passe")
				// Posting the step, or asking for its page, does nothing.
				q := b.choose(p, token, staffForward, true)
				flowstest.WantStatus(t, q, http.StatusConflict)
				flowstest.WantContains(t, q, "Étape 3 sur 4", "Votre mot de passe")
				q = b.step(q, token, StepRedirect, url.Values{fieldRedirect: {"no"}})
				flowstest.WantStatus(t, q, http.StatusConflict)
				q = b.Get(activateStepURL(token, StepRedirect))
				flowstest.WantContains(t, q, "Étape 3 sur 4", "Votre mot de passe")
				if _, err := e.svc.ChooseRedirect(t.Context(), token, staffForward, true, "fr"); !errors.Is(err, ErrStepOrder) {
					t.Fatalf("ChooseRedirect for a non-staff account: %v", err)
				}
				if _, err := e.svc.SkipRedirect(t.Context(), token); !errors.Is(err, ErrStepOrder) {
					t.Fatalf("SkipRedirect for a non-staff account: %v", err)
				}
				p = b.step(q, token, StepPassword, url.Values{fieldPassword: {goodPassword}, fieldPasswordAgain: {goodPassword}})
				flowstest.WantContains(t, p, "Étape 4 sur 4")
				if strings.Contains(p.Text(), "redirig") {
					t.Errorf("the confirmation of a non-staff account speaks of redirection:\n%s", p.Body)
				}
				flowstest.WantStatus(t, b.step(p, token, StepConfirm, nil), http.StatusOK)
				got := e.Account(a.ID)
				if got.Status != identity.StatusActive || got.MailForward != nil || !got.Consents.MailForwardAnsweredAt.IsZero() {
					t.Fatalf("account: %s %+v %+v", got.Status, got.MailForward, got.Consents)
				}
				if n := len(e.events(a.ID, EventRedirectChosen)) + len(e.events(a.ID, EventRedirectSkipped)); n != 0 {
					t.Fatalf("%d redirection events", n)
				}
			})
		})
	}
}

// Skipping the step: no redirection, no mail, the event recorded, and the
// activation completes.
func TestRedirectSkip(t *testing.T) {
	eachEnv(t, nil, func(t *testing.T, e *env) {
		a := e.pendingStaff("jdupont", "Julie", "Dupont", staffRecovery, staffInstitutional)
		_, link := e.link()
		token := flowstest.TokenOf(t, link)
		b := e.browser()
		p := b.toRedirect(link)
		p = b.step(p, token, StepRedirect, url.Values{fieldRedirect: {"no"}, fieldRedirectTo: {staffForward}, fieldKeepCopy: {"1"}})
		flowstest.WantStatus(t, p, http.StatusOK)
		flowstest.WantContains(t, p, "Étape 4 sur 5")
		got := e.Account(a.ID)
		if got.MailForward != nil || !got.Consents.MailForwardAnsweredAt.Equal(e.Clock.Now()) {
			t.Fatalf("after skipping: %+v %+v", got.MailForward, got.Consents)
		}
		if ev := e.events(a.ID, EventRedirectSkipped); len(ev) != 1 || ev[0]["cleared"] != nil {
			t.Fatalf("%s events: %v", EventRedirectSkipped, ev)
		}
		e.mail.None()
		p = b.step(p, token, StepPassword, url.Values{fieldPassword: {goodPassword}, fieldPasswordAgain: {goodPassword}})
		flowstest.WantContains(t, p, "Étape 5 sur 5", "Vos mails ne seront pas redirigés.")
		p = b.step(p, token, StepConfirm, nil)
		flowstest.WantStatus(t, p, http.StatusOK)
		flowstest.WantContains(t, p, "Votre compte est activé")
		if got := e.Account(a.ID); got.Status != identity.StatusActive || got.MailForward != nil {
			t.Fatalf("after the activation: %s %+v", got.Status, got.MailForward)
		}
	})
}

// A redirection link that is used, expired, superseded by another choice,
// forged, or whose redirection was removed is refused with one page that
// tells nothing of the account or the address; a POST of it too.
func TestRedirectInvalidLinksLookAlike(t *testing.T) {
	eachEnv(t, nil, func(t *testing.T, e *env) {
		e.Clock.Set(time.Date(2026, 3, 2, 9, 0, 0, 0, e.paris))
		ctx := t.Context()
		// start takes a staff member's link to the redirection step.
		start := func(login string) (identity.Account, string) {
			a := e.pendingStaff(login, "Julie", "Dupont", login+"@perso.example", login+"@univ-test.example")
			_, link := e.link()
			token := flowstest.TokenOf(t, link)
			if _, err := e.svc.AcceptCharter(ctx, token, "2021-06"); err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.ChooseDirectory(ctx, token, false); err != nil {
				t.Fatal(err)
			}
			return a, token
		}
		choose := func(token, address string) string {
			st, err := e.svc.ChooseRedirect(ctx, token, address, false, "fr")
			if err != nil || st.Step != StepPassword {
				t.Fatalf("choose %s: %+v %v", address, st.Step, err)
			}
			_, link := e.redirectLink()
			return flowstest.TokenOf(t, link)
		}

		_, usedTok := start("used")
		used := choose(usedTok, "used@ailleurs.example")
		if _, err := e.svc.VerifyRedirect(ctx, used); err != nil {
			t.Fatal(err)
		}
		_, expiredTok := start("expired")
		expired := choose(expiredTok, "expired@ailleurs.example")
		_, changedTok := start("changed")
		_, skippedTok := start("skipped")

		// A day later, less a second: the expired link still works.
		e.Clock.Advance(24*time.Hour - time.Second)
		if _, err := e.svc.InspectRedirect(ctx, expired); err != nil {
			t.Fatalf("a second before the end: %v", err)
		}
		superseded := choose(changedTok, "first@ailleurs.example")
		current := choose(changedTok, "second@ailleurs.example")
		removed := choose(skippedTok, "removed@ailleurs.example")
		if _, err := e.svc.SkipRedirect(ctx, skippedTok); err != nil {
			t.Fatal(err)
		}
		e.Clock.Advance(time.Second)

		b := e.browser()
		ref := b.Get(redirectConfirmURL("forged-token"))
		flowstest.WantStatus(t, ref, http.StatusBadRequest)
		flowstest.WantContains(t, ref, "invalide, a expiré ou a déjà servi")
		links := map[string]string{"used": used, "expired": expired, "superseded": superseded, "removed": removed, "empty": ""}
		for name, tok := range links {
			p := b.Get(redirectConfirmURL(tok))
			if p.Status != ref.Status || p.Main() != ref.Main() {
				t.Errorf("GET %s: %d %q, want %d %q", name, p.Status, p.Main(), ref.Status, ref.Main())
			}
			if strings.Contains(p.Main(), "@") {
				t.Errorf("GET %s reveals an address: %s", name, p.Main())
			}
		}
		form := b.Get(redirectConfirmURL(current)) // a valid page, for its CSRF token
		flowstest.WantStatus(t, form, http.StatusOK)
		for name, tok := range links {
			p := b.Post(PathRedirectConfirm, url.Values{web.CSRFField: {form.CSRF(t)}, fieldToken: {tok}})
			if p.Status != ref.Status || p.Main() != ref.Main() {
				t.Errorf("POST %s: %d %q, want %d %q", name, p.Status, p.Main(), ref.Status, ref.Main())
			}
		}
		for _, tok := range []string{expired, superseded, removed, strings.Repeat("a", 200)} {
			if _, err := e.svc.VerifyRedirect(ctx, tok); !errors.Is(err, ErrInvalidRedirectLink) {
				t.Errorf("VerifyRedirect: %v", err)
			}
		}
		// The current link still verifies.
		r, err := e.svc.VerifyRedirect(ctx, current)
		if err != nil || r.Forward.Address != "second@ailleurs.example" || r.Login != "changed" {
			t.Fatalf("the current link: %+v %v", r, err)
		}
	})
}

// The link may be followed after the activation ended: the account is
// active, the redirection pending until then; the done page reminded it.
func TestRedirectVerifiedAfterActivation(t *testing.T) {
	eachEnv(t, nil, func(t *testing.T, e *env) {
		a := e.pendingStaff("jdupont", "Julie", "Dupont", staffRecovery, staffInstitutional)
		_, link := e.link()
		token := flowstest.TokenOf(t, link)
		b := e.browser()
		p := b.choose(b.toRedirect(link), token, staffForward, false)
		_, rlink := e.redirectLink()
		p = b.step(p, token, StepPassword, url.Values{fieldPassword: {goodPassword}, fieldPasswordAgain: {goodPassword}})
		flowstest.WantContains(t, p, "redirigés vers julie@ailleurs.example, sans copie")
		p = b.step(p, token, StepConfirm, nil)
		flowstest.WantStatus(t, p, http.StatusOK)
		flowstest.WantContains(t, p, "Votre compte est activé", "La redirection de vos mails vers julie@ailleurs.example attend sa confirmation")
		e.mail.Read() // the confirmation of the activation
		if got := e.Account(a.ID); got.Status != identity.StatusActive || got.MailForward == nil || !got.MailForward.VerifiedAt.IsZero() {
			t.Fatalf("after the activation: %s %+v", got.Status, got.MailForward)
		}

		e.Clock.Advance(20 * time.Hour)
		other := e.browser()
		q := other.Get(flowstest.PathOf(t, rlink))
		flowstest.WantStatus(t, q, http.StatusOK)
		flowstest.WantContains(t, q, "Aucune copie des mails ne restera")
		q = other.Post(PathRedirectConfirm, url.Values{web.CSRFField: {q.CSRF(t)}, fieldToken: {flowstest.TokenOf(t, rlink)}})
		flowstest.WantStatus(t, q, http.StatusOK)
		flowstest.WantContains(t, q, "Redirection confirmée")
		got := e.Account(a.ID)
		if got.MailForward == nil || !got.MailForward.VerifiedAt.Equal(e.Clock.Now()) || got.MailForward.KeepCopy {
			t.Fatalf("after the link: %+v", got.MailForward)
		}
		if ev := e.events(a.ID, EventRedirectVerified); len(ev) != 1 || ev[0]["keep_copy"] != false {
			t.Fatalf("%s events: %v", EventRedirectVerified, ev)
		}
		e.mail.None()
	})
}

// Until the activation is confirmed, the redirection may be answered again
// from the confirmation page: another address (a new link, the old one
// void), the verified address again (no link, still verified), or none.
func TestRedirectChange(t *testing.T) {
	eachEnv(t, nil, func(t *testing.T, e *env) {
		a := e.pendingStaff("jdupont", "Julie", "Dupont", staffRecovery, staffInstitutional)
		_, link := e.link()
		token := flowstest.TokenOf(t, link)
		b := e.browser()
		p := b.choose(b.toRedirect(link), token, "juli@typo.example", true)
		_, typo := e.redirectLink()
		p = b.step(p, token, StepPassword, url.Values{fieldPassword: {goodPassword}, fieldPasswordAgain: {goodPassword}})
		flowstest.WantContains(t, p, "Étape 5 sur 5", "Modifier la redirection")
		change := activateStepURL(token, StepRedirect)
		if !strings.Contains(p.Text(), `href="`+change+`"`) {
			t.Fatalf("no link to %s:\n%s", change, p.Body)
		}

		// The form comes back filled with the choice, not the recovery
		// address, which a refused address leaves as it is.
		p = b.Get(change)
		flowstest.WantStatus(t, p, http.StatusOK)
		flowstest.WantContains(t, p, "Étape 3 sur 5", "Redirection de votre messagerie", `value="juli@typo.example"`, "Garder ma réponse actuelle")
		if strings.Contains(p.Body, `value="`+staffRecovery+`"`) {
			t.Errorf("the form of a redirection chosen is filled with the recovery address:\n%s", p.Body)
		}
		q := b.choose(p, token, staffInstitutional, true)
		flowstest.WantStatus(t, q, http.StatusBadRequest)
		flowstest.WantContains(t, q, "Étape 3 sur 5", "l'une de vos adresses institutionnelles")
		if got := e.Account(a.ID); got.MailForward == nil || got.MailForward.Address != "juli@typo.example" {
			t.Fatalf("a refused change changed the redirection: %+v", got.MailForward)
		}

		// Another address: a new link, the old one void.
		p = b.choose(q, token, staffForward, true)
		flowstest.WantStatus(t, p, http.StatusOK)
		flowstest.WantContains(t, p, "Étape 5 sur 5", "redirigés vers julie@ailleurs.example")
		to, rlink := e.redirectLink()
		if to != staffForward {
			t.Fatalf("new link to %s", to)
		}
		flowstest.WantStatus(t, e.browser().Get(flowstest.PathOf(t, typo)), http.StatusBadRequest)
		if ev := e.events(a.ID, EventRedirectChosen); len(ev) != 2 || ev[1]["again"] != true || ev[1]["voided"] != float64(1) {
			t.Fatalf("%s events: %v", EventRedirectChosen, ev)
		}
		if _, err := e.svc.VerifyRedirect(t.Context(), flowstest.TokenOf(t, rlink)); err != nil {
			t.Fatal(err)
		}
		verifiedAt := e.Clock.Now()

		// The verified address again, without a copy: no link, still
		// verified.
		e.Clock.Advance(time.Minute)
		p = b.choose(b.Get(change), token, staffForward, false)
		flowstest.WantContains(t, p, "Vos mails sont redirigés vers julie@ailleurs.example, sans copie")
		e.mail.None()
		if got := e.Account(a.ID); got.MailForward == nil || !got.MailForward.VerifiedAt.Equal(verifiedAt) || got.MailForward.KeepCopy {
			t.Fatalf("the verified address chosen again: %+v", got.MailForward)
		}

		// No redirection after all: removed.
		p = b.step(b.Get(change), token, StepRedirect, url.Values{fieldRedirect: {"no"}})
		flowstest.WantContains(t, p, "Étape 5 sur 5", "Vos mails ne seront pas redirigés.")
		if ev := e.events(a.ID, EventRedirectSkipped); len(ev) != 1 || ev[0]["cleared"] != staffForward {
			t.Fatalf("%s events: %v", EventRedirectSkipped, ev)
		}
		p = b.step(p, token, StepConfirm, nil)
		flowstest.WantStatus(t, p, http.StatusOK)
		if got := e.Account(a.ID); got.Status != identity.StatusActive || got.MailForward != nil {
			t.Fatalf("after the activation: %s %+v", got.Status, got.MailForward)
		}
		// Once active, the step cannot be answered again: the link is used.
		if _, err := e.svc.ChooseRedirect(t.Context(), token, staffForward, true, "fr"); !errors.Is(err, ErrInvalidLink) {
			t.Fatalf("after the activation: %v", err)
		}
	})
}

// redirectTokens returns the account's pending redirection links.
func (e *env) redirectTokens(accountID string) []store.OneTimeToken {
	e.T.Helper()
	var out []store.OneTimeToken
	for _, tok := range e.Pending(accountID) {
		if tok.Purpose == store.PurposeMailRedirect {
			out = append(out, tok)
		}
	}
	return out
}

// The recovery address, which the form offers, is accepted verified at
// once (the person proved they control it by following the activation
// link mailed there): no link, no token, no mail over SMTP. Chosen after
// another address, it voids that address's pending link.
func TestRedirectRecovery(t *testing.T) {
	eachEnv(t, nil, func(t *testing.T, e *env) {
		e.Clock.Set(time.Date(2026, 3, 2, 9, 0, 0, 0, e.paris))
		a := e.pendingStaff("jdupont", "Julie", "Dupont", "Julie.Dupont@Perso.example", staffInstitutional)
		_, link := e.link()
		token := flowstest.TokenOf(t, link)
		b := e.browser()
		p := b.toRedirect(link)
		en := e.browser().Get(flowstest.PathOf(t, link) + "&lang=en")
		flowstest.WantContains(t, en, "Step 3 of 5", `value="`+staffRecovery+`"`, "Your recovery address, "+staffRecovery+", is offered by default",
			"needs no confirmation", "Another address will receive a confirmation link")

		// The form as it comes, the recovery address filled in.
		chosenAt := e.Clock.Now()
		p = b.choose(p, token, staffRecovery, true)
		flowstest.WantStatus(t, p, http.StatusOK)
		flowstest.WantContains(t, p, "Étape 4 sur 5", "Votre mot de passe")
		e.mail.None()
		if toks := e.redirectTokens(a.ID); len(toks) != 0 {
			t.Fatalf("redirection tokens for the recovery address: %+v", toks)
		}
		got := e.Account(a.ID)
		if f := got.MailForward; f == nil || f.Address != staffRecovery || !f.KeepCopy || !f.ChosenAt.Equal(chosenAt) ||
			!f.VerifiedAt.Equal(chosenAt) || !got.Consents.MailForwardAnsweredAt.Equal(chosenAt) {
			t.Fatalf("the recovery address chosen: %+v, answered at %s", got.MailForward, got.Consents.MailForwardAnsweredAt)
		}
		ev := e.events(a.ID, EventRedirectChosen)
		if len(ev) != 1 || ev[0]["address"] != staffRecovery || ev[0]["verified"] != true || ev[0]["recovery"] != true ||
			ev[0]["again"] != false || ev[0]["voided"] != float64(0) || ev[0]["token_id"] != nil {
			t.Fatalf("%s events: %v", EventRedirectChosen, ev)
		}

		// Another address: pending, its link mailed.
		change := activateStepURL(token, StepRedirect)
		p = b.Get(change)
		flowstest.WantContains(t, p, `value="`+staffRecovery+`"`, "Garder ma réponse actuelle")
		p = b.choose(p, token, staffForward, false)
		flowstest.WantStatus(t, p, http.StatusOK)
		to, rlink := e.redirectLink()
		if to != staffForward {
			t.Fatalf("link to %s", to)
		}
		if got := e.Account(a.ID); got.MailForward == nil || got.MailForward.Address != staffForward || !got.MailForward.VerifiedAt.IsZero() {
			t.Fatalf("another address chosen: %+v", got.MailForward)
		}
		if ev := e.events(a.ID, EventRedirectChosen); len(ev) != 2 || ev[1]["recovery"] != false || ev[1]["verified"] != false {
			t.Fatalf("%s events: %v", EventRedirectChosen, ev)
		}

		// The recovery address again, typed otherwise: verified at once,
		// the pending link voided, no mail.
		e.Clock.Advance(time.Minute)
		chosenAt = e.Clock.Now()
		p = b.choose(b.Get(change), token, " Julie.Dupont@PERSO.example ", true)
		flowstest.WantStatus(t, p, http.StatusOK)
		e.mail.None()
		if toks := e.redirectTokens(a.ID); len(toks) != 0 {
			t.Fatalf("redirection tokens after the recovery address: %+v", toks)
		}
		got = e.Account(a.ID)
		if f := got.MailForward; f == nil || f.Address != staffRecovery || !f.KeepCopy || !f.VerifiedAt.Equal(chosenAt) {
			t.Fatalf("the recovery address chosen again: %+v", got.MailForward)
		}
		if ev := e.events(a.ID, EventRedirectChosen); len(ev) != 3 || ev[2]["recovery"] != true || ev[2]["verified"] != true ||
			ev[2]["again"] != true || ev[2]["voided"] != float64(1) || ev[2]["token_id"] != nil {
			t.Fatalf("%s events: %v", EventRedirectChosen, ev)
		}
		flowstest.WantStatus(t, e.browser().Get(flowstest.PathOf(t, rlink)), http.StatusBadRequest)
		if _, err := e.svc.VerifyRedirect(t.Context(), flowstest.TokenOf(t, rlink)); !errors.Is(err, ErrInvalidRedirectLink) {
			t.Fatalf("the voided link: %v", err)
		}

		// The activation ends with the redirection verified.
		p = b.step(p, token, StepPassword, url.Values{fieldPassword: {goodPassword}, fieldPasswordAgain: {goodPassword}})
		flowstest.WantContains(t, p, "Étape 5 sur 5", "Vos mails sont redirigés vers "+staffRecovery+", avec une copie")
		p = b.step(p, token, StepConfirm, nil)
		flowstest.WantStatus(t, p, http.StatusOK)
		flowstest.WantContains(t, p, "Votre compte est activé")
		if strings.Contains(p.Text(), "attend sa confirmation") {
			t.Error("the done page says the recovery address awaits confirmation")
		}
		activated := e.events(a.ID, identity.EventAccountActivated)
		if len(activated) != 1 {
			t.Fatalf("%s events: %v", identity.EventAccountActivated, activated)
		}
		if mf, _ := activated[0]["mail_forward"].(map[string]any); mf["address"] != staffRecovery || mf["verified"] != true {
			t.Fatalf("%s mail_forward: %v", identity.EventAccountActivated, activated[0]["mail_forward"])
		}
		if to, _ := e.mail.Read(); to != staffRecovery {
			t.Fatalf("confirmation mail to %s", to)
		}
		e.mail.None()
		if n := len(e.events(a.ID, EventRedirectVerified)); n != 0 {
			t.Fatalf("%d %s events without a link", n, EventRedirectVerified)
		}
	})
}

// A recovery address that is also one of the account's institutional
// addresses is refused: the mail would come back to the mailbox it leaves.
func TestRedirectRecoveryInstitutional(t *testing.T) {
	eachEnv(t, nil, func(t *testing.T, e *env) {
		ctx := t.Context()
		a := e.pendingStaff("jdupont", "Julie", "Dupont", staffInstitutional, staffInstitutional)
		_, link := e.link()
		token := flowstest.TokenOf(t, link)
		if _, err := e.svc.AcceptCharter(ctx, token, "2021-06"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.ChooseDirectory(ctx, token, false); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.ChooseRedirect(ctx, token, staffInstitutional, true, "fr"); !errors.Is(err, ErrRedirectOwn) {
			t.Fatalf("ChooseRedirect: %v, want ErrRedirectOwn", err)
		}
		if got := e.Account(a.ID); got.MailForward != nil || !got.Consents.MailForwardAnsweredAt.IsZero() {
			t.Fatalf("a refused address changed the account: %+v %+v", got.MailForward, got.Consents)
		}
		e.mail.None()
	})
}

// The step's POST needs the CSRF token, like the others.
func TestRedirectCSRF(t *testing.T) {
	eachEnv(t, nil, func(t *testing.T, e *env) {
		a := e.pendingStaff("jdupont", "Julie", "Dupont", staffRecovery, staffInstitutional)
		_, link := e.link()
		token := flowstest.TokenOf(t, link)
		b := e.browser()
		b.toRedirect(link)
		for _, f := range []url.Values{
			{fieldRedirect: {"yes"}, fieldRedirectTo: {staffForward}, fieldKeepCopy: {"1"}},
			{fieldRedirect: {"no"}},
		} {
			form := url.Values{fieldToken: {token}, fieldStep: {string(StepRedirect)}, web.CSRFField: {"forged"}}
			for k, v := range f {
				form[k] = v
			}
			flowstest.WantStatus(t, b.Post(PathActivate, form), http.StatusForbidden)
		}
		if got := e.Account(a.ID); got.MailForward != nil || !got.Consents.MailForwardAnsweredAt.IsZero() {
			t.Fatalf("changed without CSRF token: %+v %+v", got.MailForward, got.Consents)
		}
		e.mail.None()
	})
}

// Each choice of an address other than the recovery one mails a link to
// it: limited per account.
func TestRedirectRateLimit(t *testing.T) {
	tune := func(c *Config) { c.RedirectLimit = Limit{Events: 2, Per: time.Hour, Burst: 2} }
	eachEnv(t, tune, func(t *testing.T, e *env) {
		e.pendingStaff("jdupont", "Julie", "Dupont", staffRecovery, staffInstitutional)
		_, link := e.link()
		token := flowstest.TokenOf(t, link)
		b := e.browser()
		p := b.toRedirect(link)
		// A refused address mails nothing and counts for nothing; nor
		// does the recovery address, verified without a link, chosen
		// again and again.
		p = b.choose(p, token, staffInstitutional, true)
		flowstest.WantStatus(t, p, http.StatusBadRequest)
		for range 3 {
			flowstest.WantStatus(t, b.choose(b.Get(activateStepURL(token, StepRedirect)), token, staffRecovery, true), http.StatusOK)
		}
		e.mail.None()
		for i, addr := range []string{"one@ailleurs.example", "two@ailleurs.example", "three@ailleurs.example"} {
			q := b.choose(b.Get(activateStepURL(token, StepRedirect)), token, addr, true)
			if i < 2 {
				flowstest.WantStatus(t, q, http.StatusOK)
				if to, _ := e.redirectLink(); to != addr {
					t.Fatalf("link to %s, want %s", to, addr)
				}
				continue
			}
			flowstest.WantStatus(t, q, http.StatusTooManyRequests)
			if q.Header.Get("Retry-After") == "" {
				t.Error("no Retry-After")
			}
		}
		e.mail.None()
	})
}

// The redirection step comes after the directory and before the password,
// and its links and the activation links are not interchangeable.
func TestRedirectStepOrder(t *testing.T) {
	eachEnv(t, nil, func(t *testing.T, e *env) {
		a := e.pendingStaff("jdupont", "Julie", "Dupont", staffRecovery, staffInstitutional)
		_, link := e.link()
		token := flowstest.TokenOf(t, link)
		ctx := t.Context()
		order := func(step string, err error) {
			t.Helper()
			if !errors.Is(err, ErrStepOrder) {
				t.Fatalf("%s: %v, want ErrStepOrder", step, err)
			}
		}
		_, err := e.svc.ChooseRedirect(ctx, token, staffForward, true, "fr")
		order("redirection before the charter", err)
		if _, err := e.svc.AcceptCharter(ctx, token, "2021-06"); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.SkipRedirect(ctx, token)
		order("redirection before the directory", err)
		st, err := e.svc.ChooseDirectory(ctx, token, true)
		if err != nil || st.Step != StepRedirect || !st.Staff() || st.CanChangeRedirect() ||
			!slices.Equal(st.Steps, []Step{StepCharter, StepDirectory, StepRedirect, StepPassword, StepConfirm}) {
			t.Fatalf("after the directory: %+v %v", st, err)
		}
		_, err = e.svc.SetPassword(ctx, token, goodPassword)
		order("password before the redirection", err)
		_, err = e.svc.Confirm(ctx, token, "fr")
		order("confirmation before the redirection", err)
		e.mail.None()

		if st, err = e.svc.ChooseRedirect(ctx, token, staffForward, false, "en"); err != nil || st.Step != StepPassword || !st.CanChangeRedirect() {
			t.Fatalf("redirection: %+v %v", st, err)
		}
		_, rlink := e.redirectLink()
		rtoken := flowstest.TokenOf(t, rlink)
		if _, err := e.svc.InspectRedirect(ctx, token); !errors.Is(err, ErrInvalidRedirectLink) {
			t.Errorf("the activation token as a redirection link: %v", err)
		}
		if _, err := e.svc.Inspect(ctx, rtoken); !errors.Is(err, ErrInvalidLink) {
			t.Errorf("the redirection token as an activation link: %v", err)
		}
		if _, err := e.svc.AcceptCharter(ctx, rtoken, "2021-06"); !errors.Is(err, ErrInvalidLink) {
			t.Errorf("the redirection token as an activation link: %v", err)
		}
		if got := e.Account(a.ID); got.MailForward == nil || !got.MailForward.VerifiedAt.IsZero() {
			t.Fatalf("redirection: %+v", got.MailForward)
		}
	})
}
