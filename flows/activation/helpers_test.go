package activation

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/canonid/canonid/flows/flowstest"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/notify"
	"github.com/canonid/canonid/store"
)

// testCharter is the charter of the tests' configuration.
const testCharter = "Charte informatique de l'Université de Test : vous protégez votre mot de passe."

// env is canonid's server reduced to what the flow needs, over one store,
// sending its mails to a real SMTP server.
type env struct {
	*flowstest.Env
	mail  *flowstest.Mail
	svc   *Service
	paris *time.Location
}

func newEnv(t *testing.T, st store.Store, tune func(*Config)) *env {
	t.Helper()
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{Env: flowstest.NewEnv(t, st), paris: paris}
	e.mail = flowstest.StartMail(t, st, notify.Config{
		Driver: notify.DriverSMTP, From: "Université de Test <noreply@univ-test.example>", SiteName: "Université de Test",
		Secret: "0123456789abcdef0123456789abcdef-test", Location: paris,
		SMTP: notify.SMTPConfig{TLS: notify.TLSStartTLS, Timeout: 5 * time.Second},
	}, e.Clock.Now)

	cfg := Config{PublicURL: e.Server.URL, TimeZone: "Europe/Paris", CharterVersion: "2021-06", CharterText: testCharter}
	if tune != nil {
		tune(&cfg)
	}
	if e.svc, err = New(st, e.mail.Queue, cfg); err != nil {
		t.Fatal(err)
	}
	e.svc.SetClock(e.Clock.Now)

	h, err := NewHandler(e.svc, e.Pages(e.svc), flowstest.DiscardLogger())
	if err != nil {
		t.Fatal(err)
	}
	h.MountPages(e.Engine)
	return e
}

// pendingAccount creates an account pending activation, as HR would, and
// starts its activation in the same transaction.
func (e *env) pendingAccount(login, given, family, recovery string) identity.Account {
	e.T.Helper()
	return e.pendingWith(login, given, family, recovery, nil)
}

// pendingStaff is pendingAccount for a member of staff (affiliation
// employee) whose directory gave the institutional address institutional.
func (e *env) pendingStaff(login, given, family, recovery, institutional string) identity.Account {
	e.T.Helper()
	return e.pendingWith(login, given, family, recovery, []string{"member", "employee"},
		identity.Email{Address: institutional, Verified: true, Primary: true, Source: "ldap:campus"})
}

// pendingWith is pendingAccount with these affiliations and addresses.
func (e *env) pendingWith(login, given, family, recovery string, affiliations []string, emails ...identity.Email) identity.Account {
	e.T.Helper()
	a := identity.Account{Status: identity.StatusPendingActivation, Login: login, GivenName: given, FamilyName: family,
		Attributes: map[string][]string{identity.FieldRecoveryEmail: {recovery}},
		Provenance: map[string]string{identity.FieldGivenName: "scim:hr", identity.FieldFamilyName: "scim:hr"}}
	if affiliations != nil {
		a.Attributes[identity.FieldAffiliation] = affiliations
	}
	err := e.Store.Update(e.T.Context(), func(tx store.Tx) error {
		if err := tx.Accounts().Create(e.T.Context(), &a); err != nil {
			return err
		}
		for _, m := range emails {
			m.AccountID = a.ID
			if err := tx.Emails().Add(e.T.Context(), &m); err != nil {
				return err
			}
		}
		if err := tx.Record(e.T.Context(), store.Event{Type: identity.EventAccountCreated, Actor: "scim:hr", AccountID: a.ID,
			Data: map[string]string{"login": a.Login}}); err != nil {
			return err
		}
		return e.svc.Start(e.T.Context(), tx, a.ID, "fr")
	})
	if err != nil {
		e.T.Fatal(err)
	}
	return a
}

var linkRE = regexp.MustCompile(`https?://[^\s"<>]+/account/activate\?token=[A-Za-z0-9_%-]+`)

// redirectLinkRE matches the links mailed to a redirection address.
var redirectLinkRE = regexp.MustCompile(`https?://[^\s"<>]+/account/mail-redirect/confirm\?token=[A-Za-z0-9_%-]+`)

// link returns the recipient and the activation link of the next mail
// received.
func (e *env) link() (to, link string) {
	e.T.Helper()
	return e.mail.Link(linkRE)
}

// redirectLink returns the recipient and the redirection link of the next
// mail received.
func (e *env) redirectLink() (to, link string) {
	e.T.Helper()
	return e.mail.Link(redirectLinkRE)
}

// browser is flowstest's browser with the flow's steps.
type browser struct {
	*flowstest.Browser
}

func (e *env) browser() *browser { return &browser{e.Browser()} }

// events returns the account's audit entries of type typ, oldest first,
// with their data decoded.
func (e *env) events(accountID, typ string) []map[string]any {
	e.T.Helper()
	var out []map[string]any
	if err := e.Store.View(e.T.Context(), func(tx store.Tx) error {
		entries, err := tx.Audit().List(e.T.Context(), store.AuditQuery{AccountID: accountID, Type: typ, Limit: 1000})
		for i := len(entries) - 1; i >= 0; i-- {
			var d map[string]any
			if err := json.Unmarshal(entries[i].Data, &d); err != nil {
				return err
			}
			out = append(out, d)
		}
		return err
	}); err != nil {
		e.T.Fatal(err)
	}
	return out
}

// eachEnv runs fn on an env of each store.
func eachEnv(t *testing.T, tune func(*Config), fn func(t *testing.T, e *env)) {
	flowstest.EachStore(t, func(t *testing.T, st store.Store) *env { return newEnv(t, st, tune) }, fn)
}
