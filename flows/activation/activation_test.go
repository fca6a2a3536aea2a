package activation

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/canonid/canonid/authn"
	"github.com/canonid/canonid/connectors"
	"github.com/canonid/canonid/flows/flowstest"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/web"
)

const goodPassword = "Violette-Tramway-42!"

// step posts a step's form of page p and returns the next page.
func (b *browser) step(p flowstest.Page, token string, step Step, fields url.Values) flowstest.Page {
	b.T.Helper()
	form := url.Values{web.CSRFField: {p.CSRF(b.T)}, fieldToken: {token}, fieldStep: {string(step)}}
	for k, v := range fields {
		form[k] = v
	}
	return b.Post(PathActivate, form)
}

// The seed's story: HR creates the account, the mail reaches the recovery
// address over SMTP, the person follows the link and does the steps in
// order; the account is active, with its consents, its password and its
// events, and the link no longer works.
func TestSeedStory(t *testing.T) {
	eachEnv(t, nil, func(t *testing.T, e *env) {
		e.Clock.Set(time.Date(2026, 3, 2, 9, 0, 0, 0, e.paris))
		a := e.pendingAccount("jdupont", "Julie", "Dupont", "Julie.Dupont@Perso.example")

		to, text := e.mail.Read()
		if to != "julie.dupont@perso.example" || !strings.Contains(text, "jdupont") {
			t.Fatalf("mail to %s:\n%s", to, text)
		}
		link := linkRE.FindString(text)
		token := flowstest.TokenOf(t, link)
		toks := e.Pending(a.ID)
		if len(toks) != 1 || toks[0].Purpose != store.PurposeActivation {
			t.Fatalf("pending tokens %+v", toks)
		}
		if want := time.Date(2026, 3, 3, 23, 59, 59, 0, e.paris); !toks[0].ExpiresAt.Equal(want.Add(time.Second)) {
			t.Fatalf("token expires at %s, want the end of %s", toks[0].ExpiresAt, want)
		}
		if !strings.Contains(text, "23:59") {
			t.Errorf("the mail does not say until when:\n%s", text)
		}

		b := e.browser()
		p := b.Get(flowstest.PathOf(t, link))
		flowstest.WantStatus(t, p, http.StatusOK)
		flowstest.WantContains(t, p, testCharter, "Étape 1 sur 4", "2021-06")

		// Out of order: the directory before the charter.
		q := b.step(p, token, StepDirectory, url.Values{fieldVisible: {"yes"}})
		flowstest.WantStatus(t, q, http.StatusConflict)
		flowstest.WantContains(t, q, "Étape 1 sur 4")
		// The charter box not ticked.
		q = b.step(q, token, StepCharter, url.Values{fieldCharterVersion: {"2021-06"}})
		flowstest.WantStatus(t, q, http.StatusBadRequest)
		p = b.step(q, token, StepCharter, url.Values{fieldCharterVersion: {"2021-06"}, fieldAccept: {"1"}})
		flowstest.WantStatus(t, p, http.StatusOK)
		flowstest.WantContains(t, p, "Étape 2 sur 4")

		// Resumable: the link opens at the first step not done.
		flowstest.WantContains(t, b.Get(flowstest.PathOf(t, link)), "Étape 2 sur 4")

		p = b.step(p, token, StepDirectory, url.Values{fieldVisible: {"no"}})
		flowstest.WantStatus(t, p, http.StatusOK)
		flowstest.WantContains(t, p, "Étape 3 sur 4")

		for _, c := range []struct{ pw, again, msg string }{
			{"court", "court", "trop court"},
			{"Julie-Tramway-42!", "Julie-Tramway-42!", "ni votre identifiant"},
			{"x-JDUPONT-Tramway", "x-JDUPONT-Tramway", "ni votre identifiant"},
			{goodPassword, goodPassword + "x", "pas identiques"},
		} {
			q := b.step(p, token, StepPassword, url.Values{fieldPassword: {c.pw}, fieldPasswordAgain: {c.again}})
			flowstest.WantStatus(t, q, http.StatusBadRequest)
			flowstest.WantContains(t, q, c.msg, "Étape 3 sur 4")
			p = q
		}
		p = b.step(p, token, StepPassword, url.Values{fieldPassword: {goodPassword}, fieldPasswordAgain: {goodPassword}})
		flowstest.WantStatus(t, p, http.StatusOK)
		flowstest.WantContains(t, p, "Étape 4 sur 4", "jdupont", "Vous n'apparaîtrez pas")
		if got := e.Account(a.ID); got.Status != identity.StatusPendingActivation {
			t.Fatalf("status %s before the confirmation", got.Status)
		}

		p = b.step(p, token, StepConfirm, nil)
		flowstest.WantStatus(t, p, http.StatusOK)
		flowstest.WantContains(t, p, "Votre compte est activé")

		got := e.Account(a.ID)
		if got.Status != identity.StatusActive || got.Consents.CharterVersion != "2021-06" ||
			!got.Consents.CharterAcceptedAt.Equal(e.Clock.Now()) || got.Consents.DirectoryVisible == nil || *got.Consents.DirectoryVisible {
			t.Fatalf("account after activation: %+v", got)
		}
		if ok, err := authn.CheckPassword(got.PasswordHash, goodPassword); !ok || err != nil {
			t.Fatalf("password not set: %v %v", ok, err)
		}
		to, text = e.mail.Read()
		if to != "julie.dupont@perso.example" || !strings.Contains(text, "jdupont") {
			t.Fatalf("confirmation mail to %s:\n%s", to, text)
		}
		e.mail.None()
		if toks := e.Pending(a.ID); len(toks) != 0 {
			t.Fatalf("pending tokens after activation: %+v", toks)
		}
		types := e.AuditTypes(a.ID)
		for _, want := range []string{identity.EventAccountCreated, EventLinkSent, EventCharterAccepted,
			EventDirectoryChosen, authn.EventPasswordSet, identity.EventAccountActivated} {
			if !slices.Contains(types, want) {
				t.Errorf("no %s event in %v", want, types)
			}
		}
		if types[len(types)-1] != identity.EventAccountActivated && types[len(types)-2] != identity.EventAccountActivated {
			t.Errorf("account.activated is not among the last events: %v", types)
		}

		// The link is used: refused.
		q = b.Get(flowstest.PathOf(t, link))
		flowstest.WantStatus(t, q, http.StatusBadRequest)
		flowstest.WantContains(t, q, "invalide ou a expiré")
	})
}

// A link sent on 28 March 2026 in Paris works until 23:59:59 of the next
// day, the day of the change to summer time (CEST), and not a second
// later.
func TestDeadlineAcrossDST(t *testing.T) {
	eachEnv(t, nil, func(t *testing.T, e *env) {
		e.Clock.Set(time.Date(2026, 3, 28, 10, 0, 0, 0, e.paris))
		a := e.pendingAccount("mmartin", "Marc", "Martin", "marc@perso.example")
		_, link := e.link()
		token := flowstest.TokenOf(t, link)
		deadline := time.Date(2026, 3, 29, 23, 59, 59, 0, e.paris)
		if _, off := deadline.Zone(); off != 2*3600 {
			t.Fatalf("deadline %s is not in CEST", deadline)
		}
		if want := time.Date(2026, 3, 29, 21, 59, 59, 0, time.UTC); !deadline.Equal(want) {
			t.Fatalf("deadline %s, want %s", deadline, want)
		}
		e.Clock.Set(deadline)
		st, err := e.svc.Inspect(t.Context(), token)
		if err != nil || !st.Deadline.Equal(deadline) || st.Account.ID != a.ID {
			t.Fatalf("at the deadline: %+v, %v", st, err)
		}
		b := e.browser()
		flowstest.WantStatus(t, b.Get(flowstest.PathOf(t, link)), http.StatusOK)
		e.Clock.Set(deadline.Add(time.Second))
		if _, err := e.svc.Inspect(t.Context(), token); !errors.Is(err, ErrInvalidLink) {
			t.Fatalf("a second after the deadline: %v", err)
		}
		flowstest.WantStatus(t, b.Get(flowstest.PathOf(t, link)), http.StatusBadRequest)
	})
}

func TestDeadline(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	s := &Service{loc: paris}
	for _, c := range []struct {
		name string
		now  time.Time
		days int
		want time.Time
	}{
		{"next day, spring DST", time.Date(2026, 3, 28, 10, 0, 0, 0, paris), 1, time.Date(2026, 3, 29, 21, 59, 59, 0, time.UTC)},
		{"next day, autumn DST", time.Date(2026, 10, 24, 10, 0, 0, 0, paris), 1, time.Date(2026, 10, 25, 22, 59, 59, 0, time.UTC)},
		{"just after midnight in Paris, still the day before in UTC", time.Date(2026, 3, 27, 23, 30, 0, 0, time.UTC), 1, time.Date(2026, 3, 29, 21, 59, 59, 0, time.UTC)},
		{"same day", time.Date(2026, 3, 29, 1, 0, 0, 0, paris), 0, time.Date(2026, 3, 29, 21, 59, 59, 0, time.UTC)},
		{"end of month", time.Date(2026, 12, 31, 8, 0, 0, 0, paris), 1, time.Date(2027, 1, 1, 22, 59, 59, 0, time.UTC)},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := s.Deadline(c.now, c.days); !got.Equal(c.want) {
				t.Fatalf("Deadline(%s, %d) = %s, want %s", c.now, c.days, got, c.want)
			}
		})
	}
}

// Asking again by login sends a link valid until 23:59:59 the same day and
// voids the old one; an unknown login, or an account already active, gets
// the same answer and no mail.
func TestResend(t *testing.T) {
	eachEnv(t, nil, func(t *testing.T, e *env) {
		e.Clock.Set(time.Date(2026, 3, 2, 9, 0, 0, 0, e.paris))
		a := e.pendingAccount("jdupont", "Julie", "Dupont", "julie.dupont@perso.example")
		_, first := e.link()
		active := e.pendingAccount("pactif", "Paul", "Actif", "paul@perso.example")
		e.link()
		if err := e.Store.Update(t.Context(), func(tx store.Tx) error {
			acc, err := tx.Accounts().Get(t.Context(), active.ID)
			if err != nil {
				return err
			}
			acc.Status = identity.StatusActive
			if err := tx.Accounts().Update(t.Context(), &acc); err != nil {
				return err
			}
			return tx.Record(t.Context(), store.Event{Type: identity.EventAccountActivated, Actor: "test", AccountID: acc.ID})
		}); err != nil {
			t.Fatal(err)
		}

		e.Clock.Set(time.Date(2026, 3, 4, 15, 0, 0, 0, e.paris)) // the first link has expired
		b := e.browser()
		flowstest.WantStatus(t, b.Get(flowstest.PathOf(t, first)), http.StatusBadRequest)

		resend := func(login string) flowstest.Page {
			form := b.Get(PathResend)
			flowstest.WantStatus(t, form, http.StatusOK)
			return b.Post(PathResend, url.Values{web.CSRFField: {form.CSRF(t)}, fieldLogin: {login}})
		}
		known := resend("JDupont")
		flowstest.WantStatus(t, known, http.StatusOK)
		_, second := e.link()
		toks := e.Pending(a.ID)
		if want := time.Date(2026, 3, 4, 23, 59, 59, 0, e.paris); len(toks) != 1 || !toks[0].ExpiresAt.Equal(want.Add(time.Second)) {
			t.Fatalf("tokens after resend: %+v", toks)
		}
		for _, login := range []string{"inconnu", "pactif"} {
			p := resend(login)
			if p.Status != known.Status || p.Main() != known.Main() {
				t.Fatalf("%s: %d %q, the known login: %d %q", login, p.Status, p.Main(), known.Status, known.Main())
			}
		}
		e.mail.None()

		// A resend by the gate page (web.ActivationResender) voids the
		// second link.
		if err := e.svc.Resend(t.Context(), a.ID); err != nil {
			t.Fatal(err)
		}
		_, third := e.link()
		if err := e.svc.Resend(t.Context(), active.ID); err != nil {
			t.Fatal(err)
		}
		e.mail.None()
		flowstest.WantStatus(t, b.Get(flowstest.PathOf(t, second)), http.StatusBadRequest)
		flowstest.WantStatus(t, b.Get(flowstest.PathOf(t, third)), http.StatusOK)
		e.Clock.Set(time.Date(2026, 3, 4, 23, 59, 59, 0, e.paris))
		flowstest.WantStatus(t, b.Get(flowstest.PathOf(t, third)), http.StatusOK)
		e.Clock.Advance(time.Second)
		flowstest.WantStatus(t, b.Get(flowstest.PathOf(t, third)), http.StatusBadRequest)
	})
}

// Steps are refused out of order, the charter is asked again when its
// version changes, and nothing is done without a valid link.
func TestStepOrder(t *testing.T) {
	eachEnv(t, nil, func(t *testing.T, e *env) {
		a := e.pendingAccount("jdupont", "Julie", "Dupont", "julie.dupont@perso.example")
		_, link := e.link()
		token := flowstest.TokenOf(t, link)
		ctx := t.Context()
		if _, err := e.svc.ChooseDirectory(ctx, token, true); !errors.Is(err, ErrStepOrder) {
			t.Fatalf("directory first: %v", err)
		}
		if _, err := e.svc.SetPassword(ctx, token, goodPassword); !errors.Is(err, ErrStepOrder) {
			t.Fatalf("password first: %v", err)
		}
		if _, err := e.svc.Confirm(ctx, token, "fr"); !errors.Is(err, ErrStepOrder) {
			t.Fatalf("confirm first: %v", err)
		}
		if _, err := e.svc.AcceptCharter(ctx, token, "1999"); !errors.Is(err, ErrCharterVersion) {
			t.Fatalf("old charter: %v", err)
		}
		st, err := e.svc.AcceptCharter(ctx, token, "2021-06")
		if err != nil || st.Step != StepDirectory {
			t.Fatalf("charter: %+v %v", st, err)
		}
		if _, err := e.svc.AcceptCharter(ctx, token, "2021-06"); !errors.Is(err, ErrStepOrder) {
			t.Fatalf("charter twice: %v", err)
		}
		if _, err := e.svc.SetPassword(ctx, token, goodPassword); !errors.Is(err, ErrStepOrder) {
			t.Fatalf("password before the directory: %v", err)
		}
		if st, err = e.svc.ChooseDirectory(ctx, token, true); err != nil || st.Step != StepPassword {
			t.Fatalf("directory: %+v %v", st, err)
		}
		if _, err := e.svc.Confirm(ctx, token, "fr"); !errors.Is(err, ErrStepOrder) {
			t.Fatalf("confirm before the password: %v", err)
		}

		// A new charter version asks again.
		cfg := e.svc.Config()
		cfg.CharterVersion = "2026-01"
		s2, err := New(e.Store, e.svc.mail, cfg)
		if err != nil {
			t.Fatal(err)
		}
		s2.SetClock(e.Clock.Now)
		if st, err := s2.Inspect(ctx, token); err != nil || st.Step != StepCharter {
			t.Fatalf("new charter version: %+v %v", st, err)
		}

		// No change without a valid token.
		for _, tok := range []string{"", "forged", strings.Repeat("a", 200)} {
			if _, err := e.svc.AcceptCharter(ctx, tok, "2021-06"); !errors.Is(err, ErrInvalidLink) {
				t.Fatalf("token %q: %v", tok, err)
			}
		}
		if got := e.Account(a.ID); got.Status != identity.StatusPendingActivation || got.PasswordHash != "" {
			t.Fatalf("account: %+v", got)
		}
	})
}

// A forged, used or expired link, or a POST of one, answers the same page.
func TestInvalidLinksLookAlike(t *testing.T) {
	eachEnv(t, nil, func(t *testing.T, e *env) {
		e.Clock.Set(time.Date(2026, 3, 2, 9, 0, 0, 0, e.paris))
		e.pendingAccount("used", "Ulysse", "Usé", "used@perso.example")
		_, usedLink := e.link()
		e.pendingAccount("expired", "Eva", "Expirée", "expired@perso.example")
		_, expiredLink := e.link()
		used := flowstest.TokenOf(t, usedLink)
		ctx := t.Context()
		if _, err := e.svc.AcceptCharter(ctx, used, "2021-06"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.ChooseDirectory(ctx, used, false); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.SetPassword(ctx, used, goodPassword); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Confirm(ctx, used, "en"); err != nil {
			t.Fatal(err)
		}
		e.mail.Read()
		e.Clock.Set(time.Date(2026, 3, 4, 0, 0, 0, 0, e.paris))

		b := e.browser()
		ref := b.Get(activateURL("forged-token"))
		flowstest.WantStatus(t, ref, http.StatusBadRequest)
		for _, path := range []string{flowstest.PathOf(t, usedLink), flowstest.PathOf(t, expiredLink), PathActivate} {
			p := b.Get(path)
			if p.Status != ref.Status || p.Main() != ref.Main() {
				t.Errorf("GET %s: %d %q, want %d %q", path, p.Status, p.Main(), ref.Status, ref.Main())
			}
		}
		form := b.Get(PathResend)
		for _, tok := range []string{"forged-token", used, flowstest.TokenOf(t, expiredLink)} {
			p := b.step(form, tok, StepCharter, url.Values{fieldCharterVersion: {"2021-06"}, fieldAccept: {"1"}})
			if p.Status != ref.Status || p.Main() != ref.Main() {
				t.Errorf("POST %s: %d %q, want %d %q", tok, p.Status, p.Main(), ref.Status, ref.Main())
			}
		}
	})
}

// A POST without the CSRF token does nothing.
func TestCSRF(t *testing.T) {
	eachEnv(t, nil, func(t *testing.T, e *env) {
		a := e.pendingAccount("jdupont", "Julie", "Dupont", "julie.dupont@perso.example")
		_, link := e.link()
		b := e.browser()
		en := b.Get(flowstest.PathOf(t, link) + "&lang=en")
		flowstest.WantStatus(t, en, http.StatusOK)
		flowstest.WantContains(t, en, "Step 1 of 4", "IT charter")
		p := b.Post(PathActivate, url.Values{fieldToken: {flowstest.TokenOf(t, link)}, fieldStep: {string(StepCharter)},
			fieldCharterVersion: {"2021-06"}, fieldAccept: {"1"}})
		flowstest.WantStatus(t, p, http.StatusForbidden)
		p = b.Post(PathResend, url.Values{fieldLogin: {"jdupont"}})
		flowstest.WantStatus(t, p, http.StatusForbidden)
		if got := e.Account(a.ID); !got.Consents.CharterAcceptedAt.IsZero() {
			t.Fatalf("charter accepted without CSRF token: %+v", got.Consents)
		}
		e.mail.None()
	})
}

func TestCheckPassword(t *testing.T) {
	a := identity.Account{Login: "jdupont", GivenName: "Élodie-Marie", FamilyName: "Le Goff"}
	for _, c := range []struct {
		pw       string
		personal bool
		policy   authn.PolicyRule
	}{
		{pw: goodPassword},
		{pw: "short", policy: authn.RuleTooShort},
		{pw: "aaaaaaaaaaaaaa", policy: authn.RuleRepeated},
		{pw: "xx-JDupont-2026!", personal: true},
		{pw: "elodie-tramway-42", personal: true},
		{pw: "Tramway-LEGOFF-42", personal: true},
		{pw: "tramway-goff-2026", personal: true},
		{pw: "Tramway-le-42-abc"}, // "le" is too short to count
	} {
		err := CheckPassword(a, c.pw)
		var pe *PasswordError
		switch {
		case c.personal || c.policy != "":
			if !errors.As(err, &pe) || pe.Personal != c.personal || (c.policy != "" && (pe.Policy == nil || pe.Policy.Rule != c.policy)) {
				t.Errorf("%q: %v", c.pw, err)
			}
		case err != nil:
			t.Errorf("%q: %v", c.pw, err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	err := Config{TimeZone: "Mars/Olympus", CharterURL: "ftp://x", IPLimit: Limit{Events: -1},
		StaffAffiliations: []string{"staff", " "}, RedirectLinkTTL: -time.Hour, RedirectLimit: Limit{Events: 1}}.Validate()
	for _, key := range []string{"public_url", "timezone", "charter_version", "charter_text", "charter_url", "ip_limit",
		"staff_affiliations[1]", "redirect_link_ttl", "redirect_limit"} {
		if err == nil || !strings.Contains(err.Error(), key+":") {
			t.Errorf("no %s problem in %v", key, err)
		}
	}
}

// Start refuses an account that is not pending activation or has no
// recovery address.
func TestStartRefuses(t *testing.T) {
	eachEnv(t, nil, func(t *testing.T, e *env) {
		a := identity.Account{Status: identity.StatusPendingActivation, Login: "norecovery", GivenName: "N", FamilyName: "R"}
		b := identity.Account{Status: identity.StatusActive, Login: "active", GivenName: "A", FamilyName: "B",
			Attributes: map[string][]string{identity.FieldRecoveryEmail: {"a@perso.example"}}}
		err := e.Store.Update(t.Context(), func(tx store.Tx) error {
			for _, acc := range []*identity.Account{&a, &b} {
				if err := tx.Accounts().Create(t.Context(), acc); err != nil {
					return err
				}
			}
			if err := e.svc.Start(t.Context(), tx, a.ID, "fr"); !errors.Is(err, ErrNoRecoveryAddress) {
				t.Errorf("no recovery address: %v", err)
			}
			if err := e.svc.Start(t.Context(), tx, b.ID, "fr"); !errors.Is(err, ErrNotPending) {
				t.Errorf("active: %v", err)
			}
			return tx.Record(t.Context(), store.Event{Type: identity.EventAccountCreated, Actor: "test", AccountID: a.ID})
		})
		if err != nil {
			t.Fatal(err)
		}
		e.mail.None()
	})
}

// A password hash the account came with (an import, an administrator) is
// not the person's choice: the password step is still asked.
func TestPasswordSetBySomeoneElse(t *testing.T) {
	eachEnv(t, nil, func(t *testing.T, e *env) {
		a := e.pendingAccount("jdupont", "Julie", "Dupont", "julie.dupont@perso.example")
		_, link := e.link()
		token := flowstest.TokenOf(t, link)
		ctx := t.Context()
		if err := authn.SetPassword(ctx, e.Store, a.ID, "Initial-Password-2026", "admin:hr"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.AcceptCharter(ctx, token, "2021-06"); err != nil {
			t.Fatal(err)
		}
		st, err := e.svc.ChooseDirectory(ctx, token, true)
		if err != nil || st.Step != StepPassword {
			t.Fatalf("after the directory: %+v %v", st.Step, err)
		}
		if _, err := e.svc.Confirm(ctx, token, "fr"); !errors.Is(err, ErrStepOrder) {
			t.Fatalf("confirm with the imported password: %v", err)
		}
		if st, err = e.svc.SetPassword(ctx, token, goodPassword); err != nil || st.Step != StepConfirm {
			t.Fatalf("password: %+v %v", st.Step, err)
		}
		if acc, err := e.svc.Confirm(ctx, token, "fr"); err != nil || acc.Status != identity.StatusActive {
			t.Fatalf("confirm: %+v %v", acc, err)
		}
	})
}

// Two confirmations racing activate once: the token is consumed once.
func TestConfirmRace(t *testing.T) {
	eachEnv(t, nil, func(t *testing.T, e *env) {
		a := e.pendingAccount("jdupont", "Julie", "Dupont", "julie.dupont@perso.example")
		_, link := e.link()
		token := flowstest.TokenOf(t, link)
		ctx := t.Context()
		if _, err := e.svc.AcceptCharter(ctx, token, "2021-06"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.ChooseDirectory(ctx, token, true); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.SetPassword(ctx, token, goodPassword); err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 2)
		for range 2 {
			go func() { _, err := e.svc.Confirm(ctx, token, "fr"); errs <- err }()
		}
		ok := 0
		for range 2 {
			switch err := <-errs; {
			case err == nil:
				ok++
			case !errors.Is(err, ErrInvalidLink):
				t.Errorf("confirm: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d confirmations succeeded", ok)
		}
		n := 0
		for _, typ := range e.AuditTypes(a.ID) {
			if typ == identity.EventAccountActivated {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d account.activated events", n)
		}
	})
}

// Resend requests are limited per login given, whether it exists or not.
func TestResendRateLimit(t *testing.T) {
	eachEnv(t, nil, func(t *testing.T, e *env) {
		b := e.browser()
		for _, login := range []string{"inconnu", "jdupont"} {
			for i := range 4 {
				form := b.Get(PathResend)
				p := b.Post(PathResend, url.Values{web.CSRFField: {form.CSRF(t)}, fieldLogin: {login}})
				want := http.StatusOK
				if i == 3 {
					want = http.StatusTooManyRequests
				}
				flowstest.WantStatus(t, p, want)
				if want == http.StatusTooManyRequests && p.Header.Get("Retry-After") == "" {
					t.Error("no Retry-After")
				}
			}
		}
		e.mail.None()
	})
}

// fakeDirectory records the passwords set through it.
type fakeDirectory struct{ set map[string]string }

func (d *fakeDirectory) ChangePassword(_ context.Context, externalID, old, pw string) error {
	if old != "" {
		return errors.New("want an administrative change")
	}
	d.set[externalID] = pw
	return nil
}

// TestDirectoryPassword: an account linked to a directory that sets
// passwords gets its password there (no local hash), and the step counts.
func TestDirectoryPassword(t *testing.T) {
	eachEnv(t, nil, func(t *testing.T, e *env) {
		a := e.pendingAccount("jdupont", "Julie", "Dupont", "julie.dupont@perso.example")
		ctx := t.Context()
		err := e.Store.Update(ctx, func(tx store.Tx) error {
			l := identity.Link{Source: "ldap:campus", ExternalID: "uuid-jd", AccountID: a.ID, Status: identity.LinkActive}
			if err := tx.Links().Create(ctx, &l); err != nil {
				return err
			}
			return tx.Record(ctx, store.Event{Type: identity.EventAccountLinked, Actor: "test", AccountID: a.ID})
		})
		if err != nil {
			t.Fatal(err)
		}
		dir := &fakeDirectory{set: map[string]string{}}
		e.svc.SetDirectories(map[string]connectors.PasswordChanger{"ldap:campus": dir})
		_, link := e.link()
		token := flowstest.TokenOf(t, link)
		if _, err := e.svc.AcceptCharter(ctx, token, "2021-06"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.ChooseDirectory(ctx, token, false); err != nil {
			t.Fatal(err)
		}
		st, err := e.svc.SetPassword(ctx, token, goodPassword)
		if err != nil || st.Step != StepConfirm {
			t.Fatalf("password: %+v %v", st.Step, err)
		}
		if dir.set["uuid-jd"] != goodPassword {
			t.Errorf("directory got %v", dir.set)
		}
		acc, err := e.svc.Confirm(ctx, token, "fr")
		if err != nil || acc.Status != identity.StatusActive || acc.PasswordHash != "" {
			t.Fatalf("confirm: status %s, local hash %q, %v", acc.Status, acc.PasswordHash, err)
		}
	})
}
