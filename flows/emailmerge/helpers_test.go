package emailmerge

import (
	"bytes"
	"encoding/json"
	"io"
	"regexp"
	"testing"
	"time"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/flows/flowstest"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/notify"
	"github.com/canonid/canonid/store"
)

// env is canonid's server reduced to what the flow needs, over one store,
// sending its mails to a real SMTP server.
type env struct {
	*flowstest.Env
	mail *flowstest.Mail
	acc  *accounts.Service
	svc  *Service
}

func newEnv(t *testing.T, st store.Store, tune func(*Config)) *env {
	t.Helper()
	e := &env{Env: flowstest.NewEnv(t, st)}
	e.acc = accounts.New(st, accounts.DefaultConfig(), flowstest.DiscardLogger())
	e.acc.SetClock(e.Clock.Now)
	e.mail = flowstest.StartMail(t, st, notify.Config{
		Driver: notify.DriverSMTP, From: "Université de Test <noreply@univ-test.example>", SiteName: "Université de Test",
		Secret: "0123456789abcdef0123456789abcdef-test", Location: time.UTC,
		SMTP: notify.SMTPConfig{TLS: notify.TLSStartTLS, Timeout: 5 * time.Second},
	}, e.Clock.Now)

	cfg := Config{PublicURL: e.Server.URL, Location: time.UTC}
	if tune != nil {
		tune(&cfg)
	}
	var err error
	if e.svc, err = New(st, e.acc, e.mail.Queue, cfg); err != nil {
		t.Fatal(err)
	}
	e.svc.SetClock(e.Clock.Now)

	pages := e.Pages(nil)
	h, err := NewHandler(e.svc, pages, flowstest.DiscardLogger())
	if err != nil {
		t.Fatal(err)
	}
	h.MountAPI(e.Engine.Group("/api/v1/me", pages.RequireAccount(nil)))
	h.MountPages(e.Engine)
	return e
}

// account creates an active account with its verified addresses (the
// first primary), a link when source is set, and a password for login.
func (e *env) account(login, password string, n accounts.NewAccount, source, externalID string) identity.Account {
	e.T.Helper()
	n.Login = login
	a, err := e.acc.Create(e.T.Context(), n, "test")
	if err != nil {
		e.T.Fatal(err)
	}
	if source != "" {
		err := e.Store.Update(e.T.Context(), func(tx store.Tx) error {
			l := identity.Link{Source: source, ExternalID: externalID, AccountID: a.ID, Status: identity.LinkActive}
			if err := tx.Links().Create(e.T.Context(), &l); err != nil {
				return err
			}
			return tx.Record(e.T.Context(), store.Event{Type: identity.EventAccountLinked, Actor: "test", AccountID: a.ID})
		})
		if err != nil {
			e.T.Fatal(err)
		}
	}
	if login != "" {
		e.Passwords.Set(login, a.ID, password)
	}
	return a
}

// person is a plain account with one verified address.
func (e *env) person(login, address string) identity.Account {
	e.T.Helper()
	return e.account(login, "pw-"+login, accounts.NewAccount{GivenName: "Test", FamilyName: login,
		Emails: []accounts.NewEmail{{Address: address, Verified: true}}}, "", "")
}

var linkRE = regexp.MustCompile(`https?://[^\s"<>]+/account/email/confirm\?token=[A-Za-z0-9_%-]+`)

// link returns the recipient and the confirmation link of the next mail
// received.
func (e *env) link() (to, link string) {
	e.T.Helper()
	return e.mail.Link(linkRE)
}

// browser is flowstest's browser with the flow's JSON API.
type browser struct {
	*flowstest.Browser
}

func (e *env) browser() *browser { return &browser{e.Browser()} }

// api sends a JSON request and decodes the JSON answer into a map.
func (b *browser) api(method, path string, body any) (int, map[string]any) {
	b.T.Helper()
	var r io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			b.T.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	p := b.Do(method, path, "application/json", r)
	out := map[string]any{}
	if p.Body != "" {
		if err := json.Unmarshal([]byte(p.Body), &out); err != nil {
			b.T.Fatalf("%s %s: %d, not JSON: %s", method, path, p.Status, p.Body)
		}
	}
	return p.Status, out
}

// loggedIn returns a new browser logged in to login's account.
func (e *env) loggedIn(login string) *browser {
	e.T.Helper()
	b := e.browser()
	b.Login(login, "pw-"+login)
	return b
}

// email returns the account's row of an address.
func (e *env) email(accountID, address string) (identity.Email, error) {
	var out identity.Email
	err := e.Store.View(e.T.Context(), func(tx store.Tx) error {
		var err error
		out, err = tx.Emails().Get(e.T.Context(), accountID, address)
		return err
	})
	return out, err
}

// eachEnv runs fn on an env of each store.
func eachEnv(t *testing.T, tune func(*Config), fn func(t *testing.T, e *env)) {
	flowstest.EachStore(t, func(t *testing.T, st store.Store) *env { return newEnv(t, st, tune) }, fn)
}
