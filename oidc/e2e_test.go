package oidc_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/gin-gonic/gin"
	"golang.org/x/oauth2"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/authn"
	"github.com/canonid/canonid/connectors/oidcup"
	"github.com/canonid/canonid/connectors/oidcup/oidcuptest"
	"github.com/canonid/canonid/flows/activation"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/notify"
	"github.com/canonid/canonid/oidc"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
	"github.com/canonid/canonid/web"
)

// stack is canonid's login as serve wires it: the login pages, the
// password check and the provider, on one server, with an upstream
// provider people may log in through.
type stack struct {
	t        *testing.T
	st       store.Store
	issuer   string
	rp       *gooidc.Provider
	browser  *http.Client
	upstream *oidcuptest.Provider
}

func newStack(t *testing.T, st store.Store) *stack { return newStackWith(t, st, nil) }

// newStackWith is newStack with the activation flow's resender on the
// login pages.
func newStackWith(t *testing.T, st store.Store, act web.ActivationResender) *stack {
	t.Helper()
	s := &stack{t: t, st: st}
	srv := httptest.NewUnstartedServer(nil)
	s.issuer = "http://" + srv.Listener.Addr().String()
	logger := slog.New(slog.DiscardHandler)

	callback := web.UpstreamCallbackURL(s.issuer, "campus-sso")
	s.upstream = oidcuptest.New(t, oidcuptest.Client{ID: "canonid", Secret: "upstream-secret", RedirectURI: callback})
	up, err := oidcup.New(ctx, oidcup.Config{Name: "campus-sso", Issuer: s.upstream.Issuer(), ClientID: "canonid", ClientSecret: "upstream-secret"}, callback, nil)
	if err != nil {
		t.Fatal(err)
	}

	var pages *web.Handler
	p, err := oidc.New(testConfig(), oidc.Deps{Store: st, Issuer: s.issuer, Logger: logger,
		Session:    func(r *http.Request) (store.Session, bool) { return pages.Session(r) },
		EndSession: func(w http.ResponseWriter, r *http.Request) { pages.EndSession(w, r) },
	})
	if err != nil {
		t.Fatal(err)
	}
	pages, err = web.New(web.Config{PublicURL: s.issuer, Secret: web.Secret(strings.Repeat("k", 32))}, web.Deps{
		Store: st, Auth: authn.New(st, nil, logger), Requests: p, Logger: logger,
		UpstreamConnectors: []web.UpstreamConnector{up}, Activation: act,
	})
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.TestMode)
	g := gin.New()
	pages.Mount(g)
	p.Mount(g)
	srv.Config.Handler = g
	srv.Start()
	t.Cleanup(srv.Close)
	if s.rp, err = gooidc.NewProvider(ctx, s.issuer); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	s.browser = &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return s
}

// get fetches a page without following redirects.
func (s *stack) get(u string) (*http.Response, string) {
	s.t.Helper()
	res, err := s.browser.Get(u)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

var csrfToken = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// follow follows redirects inside canonid (and through the upstream
// provider) until one leaves for the client, and returns it.
func (s *stack) follow(res *http.Response) *url.URL {
	s.t.Helper()
	for range 10 {
		loc, err := res.Location()
		if err != nil {
			s.t.Fatalf("answer %d without a redirect", res.StatusCode)
		}
		if !strings.HasPrefix(loc.String(), s.issuer) && !strings.HasPrefix(loc.String(), s.upstream.Issuer()) {
			return loc
		}
		res, _ = s.get(loc.String())
	}
	s.t.Fatal("too many redirects")
	return nil
}

// passwordLogin runs a code flow, logging in with the form.
func (s *stack) passwordLogin(conf *oauth2.Config, identifier, password string) *gooidc.IDToken {
	s.t.Helper()
	f := newFlow()
	res, _ := s.get(conf.AuthCodeURL(f.state, gooidc.Nonce(f.nonce), oauth2.S256ChallengeOption(f.verifier)))
	login, err := res.Location()
	if err != nil {
		s.t.Fatalf("authorize answered %d", res.StatusCode)
	}
	res, body := s.get(login.String())
	m := csrfToken.FindStringSubmatch(body)
	if m == nil {
		s.t.Fatalf("no login form (%d): %s", res.StatusCode, body)
	}
	form := url.Values{"csrf_token": {m[1]}, "request": {login.Query().Get("request")}, "identifier": {identifier}, "password": {password}}
	res, err = s.browser.PostForm(s.issuer+web.PathLogin, form)
	if err != nil {
		s.t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		s.t.Fatalf("login as %s: %d", identifier, res.StatusCode)
	}
	return s.exchange(conf, f, s.follow(res))
}

func (s *stack) exchange(conf *oauth2.Config, f flow, back *url.URL) *gooidc.IDToken {
	s.t.Helper()
	if back.Query().Get("error") != "" || back.Query().Get("state") != f.state {
		s.t.Fatalf("back at the client with %s", back)
	}
	tok, err := conf.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(f.verifier))
	if err != nil {
		s.t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := s.rp.Verifier(&gooidc.Config{ClientID: conf.ClientID}).Verify(ctx, raw)
	if err != nil {
		s.t.Fatal(err)
	}
	return idt
}

func withPassword(t *testing.T, st store.Store, id, pw string) {
	t.Helper()
	if err := authn.SetPassword(ctx, st, id, pw, "test"); err != nil {
		t.Fatal(err)
	}
}

// TestLoginAfterMerge: logging in with the address (or login) of a merged
// account gives the survivor's sub; the single sign-on that follows too.
func TestLoginAfterMerge(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		s := newStack(t, st)
		account(t, st, "camille", "camille.martin", "camille.martin@univ-test.fr", identity.StatusActive)
		account(t, st, "camille-ars", "cam.martin97", "cam.martin97@mail.example", identity.StatusActive)
		withPassword(t, st, "camille", "correct horse battery")
		withPassword(t, st, "camille-ars", "another long password")
		lms := &oauth2.Config{ClientID: "lms", ClientSecret: lmsSecret, Endpoint: s.rp.Endpoint(), RedirectURL: lmsRedirect, Scopes: []string{"openid", "email"}}

		if idt := s.passwordLogin(lms, "cam.martin97@mail.example", "another long password"); idt.Subject != "camille-ars" {
			t.Fatalf("before the merge: sub %q", idt.Subject)
		}
		svc := accounts.New(st, accounts.DefaultConfig(), slog.New(slog.DiscardHandler))
		if _, err := svc.Merge(ctx, accounts.MergeRequest{SurvivorID: "camille", RetiredID: "camille-ars", Actor: "test"}); err != nil {
			t.Fatal(err)
		}
		// The merge ended the retired account's session: the browser
		// logs in again, with the agency address, and the survivor's
		// password.
		s.browser.Jar, _ = cookiejar.New(nil)
		idt := s.passwordLogin(lms, "cam.martin97@mail.example", "correct horse battery")
		var c claims
		idt.Claims(&c)
		if c.Sub != "camille" || len(c.MergedSubs) != 1 || c.MergedSubs[0] != "camille-ars" {
			t.Errorf("after the merge: %+v", c)
		}
		// So does the retired login.
		s.browser.Jar, _ = cookiejar.New(nil)
		if idt := s.passwordLogin(lms, "CAM.MARTIN97", "correct horse battery"); idt.Subject != "camille" {
			t.Errorf("retired login: sub %q", idt.Subject)
		}
		// Single sign-on for the next platform, same sub.
		f := newFlow()
		res, _ := s.get(lms.AuthCodeURL(f.state, gooidc.Nonce(f.nonce), oauth2.S256ChallengeOption(f.verifier)))
		if idt := s.exchange(lms, f, s.follow(res)); idt.Subject != "camille" {
			t.Errorf("single sign-on: sub %q", idt.Subject)
		}
		storetest.CheckInvariants(t, st)
	})
}

// TestUpstreamLogin: a person logs in through the campus SSO; the first
// time they prove their canonid account with its password, which links the
// upstream identity; afterwards the SSO alone gives the same sub.
func TestUpstreamLogin(t *testing.T) {
	st := storetest.OpenSQLite(t)
	s := newStack(t, st)
	account(t, st, "alice", "alice", "alice@univ-test.fr", identity.StatusActive)
	withPassword(t, st, "alice", "correct horse battery")
	s.upstream.SetUser(oidcuptest.User{Subject: "u-4242", Email: "alice@univ-test.fr", EmailVerified: true, GivenName: "Alice"})
	lms := &oauth2.Config{ClientID: "lms", ClientSecret: lmsSecret, Endpoint: s.rp.Endpoint(), RedirectURL: lmsRedirect, Scopes: []string{"openid"}}

	// First time: authorize → login page → the SSO button → the upstream
	// → back to canonid, which asks to prove the account.
	f := newFlow()
	res, _ := s.get(lms.AuthCodeURL(f.state, gooidc.Nonce(f.nonce), oauth2.S256ChallengeOption(f.verifier)))
	login, _ := res.Location()
	request := login.Query().Get("request")
	res, _ = s.get(s.issuer + web.PathUpstream + "/campus-sso?request=" + url.QueryEscape(request))
	for range 5 {
		loc, err := res.Location()
		if err != nil {
			break
		}
		res, _ = s.get(loc.String())
	}
	_, body := s.get(login.String())
	m := csrfToken.FindStringSubmatch(body)
	if m == nil || !strings.Contains(body, "campus-sso") && !strings.Contains(strings.ToLower(body), "lier") && !strings.Contains(strings.ToLower(body), "link") {
		t.Fatalf("no link banner on the login form: %s", body)
	}
	res, err := s.browser.PostForm(s.issuer+web.PathLogin, url.Values{"csrf_token": {m[1]}, "request": {request},
		"identifier": {"alice"}, "password": {"correct horse battery"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if idt := s.exchange(lms, f, s.follow(res)); idt.Subject != "alice" {
		t.Fatalf("first upstream login: sub %q", idt.Subject)
	}
	var link identity.Link
	err = st.View(ctx, func(tx store.Tx) error {
		link, err = tx.Links().Get(ctx, "oidc:campus-sso", "u-4242")
		return err
	})
	if err != nil || link.AccountID != "alice" {
		t.Fatalf("link after proof: %+v, %v", link, err)
	}

	// Next time, in a new browser: the SSO alone.
	s.browser.Jar, _ = cookiejar.New(nil)
	f = newFlow()
	res, _ = s.get(lms.AuthCodeURL(f.state, gooidc.Nonce(f.nonce), oauth2.S256ChallengeOption(f.verifier)))
	login, _ = res.Location()
	res, _ = s.get(s.issuer + web.PathUpstream + "/campus-sso?request=" + url.QueryEscape(login.Query().Get("request")))
	if idt := s.exchange(lms, f, s.follow(res)); idt.Subject != "alice" {
		t.Errorf("second upstream login: sub %q", idt.Subject)
	}
	storetest.CheckInvariants(t, st)
}

// TestPromptNone: without a session the client gets login_required (and
// its state) and no page; with one, a code.
func TestPromptNone(t *testing.T) {
	st := storetest.OpenSQLite(t)
	s := newStack(t, st)
	account(t, st, "alice", "alice", "alice@univ-test.fr", identity.StatusActive)
	withPassword(t, st, "alice", "correct horse battery")
	lms := &oauth2.Config{ClientID: "lms", ClientSecret: lmsSecret, Endpoint: s.rp.Endpoint(), RedirectURL: lmsRedirect, Scopes: []string{"openid"}}
	none := oauth2.SetAuthURLParam("prompt", "none")

	f := newFlow()
	res, _ := s.get(lms.AuthCodeURL(f.state, gooidc.Nonce(f.nonce), oauth2.S256ChallengeOption(f.verifier), none))
	back := s.follow(res)
	if q := back.Query(); !strings.HasPrefix(back.String(), lmsRedirect) || q.Get("error") != "login_required" || q.Get("state") != f.state {
		t.Errorf("prompt=none without a session: back at %s", back)
	}

	s.passwordLogin(lms, "alice", "correct horse battery")
	f = newFlow()
	res, _ = s.get(lms.AuthCodeURL(f.state, gooidc.Nonce(f.nonce), oauth2.S256ChallengeOption(f.verifier), none))
	if idt := s.exchange(lms, f, s.follow(res)); idt.Subject != "alice" {
		t.Errorf("prompt=none with a session: sub %q", idt.Subject)
	}
}

// TestPendingActivationResend: an account created pending activation logs
// in for a platform; the page says it is not activated and its button
// sends the activation link again (queued in the mail queue).
func TestPendingActivationResend(t *testing.T) {
	st := storetest.OpenSQLite(t)
	queue, err := notify.NewQueue(notify.Config{Driver: notify.DriverLog, From: "canonid <noreply@univ-test.fr>", Secret: strings.Repeat("m", 32)})
	if err != nil {
		t.Fatal(err)
	}
	act, err := activation.New(st, queue, activation.Config{PublicURL: "http://127.0.0.1", CharterVersion: "1", CharterText: "Charte."})
	if err != nil {
		t.Fatal(err)
	}
	s := newStackWith(t, st, act)
	account(t, st, "julie", "jdupont", "julie.dupont@univ-test.fr", identity.StatusPendingActivation)
	err = st.Update(ctx, func(tx store.Tx) error {
		a, err := tx.Accounts().Get(ctx, "julie")
		if err != nil {
			return err
		}
		a.Attributes = map[string][]string{identity.FieldRecoveryEmail: {"julie.dupont@perso.example"}}
		if err := tx.Accounts().Update(ctx, &a); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: identity.EventAccountUpdated, Actor: "test", AccountID: "julie"})
	})
	if err != nil {
		t.Fatal(err)
	}
	withPassword(t, st, "julie", "correct horse battery")
	lms := &oauth2.Config{ClientID: "lms", ClientSecret: lmsSecret, Endpoint: s.rp.Endpoint(), RedirectURL: lmsRedirect, Scopes: []string{"openid"}}

	f := newFlow()
	res, _ := s.get(lms.AuthCodeURL(f.state, gooidc.Nonce(f.nonce), oauth2.S256ChallengeOption(f.verifier)))
	login, _ := res.Location()
	_, body := s.get(login.String())
	m := csrfToken.FindStringSubmatch(body)
	res, err = s.browser.PostForm(s.issuer+web.PathLogin, url.Values{"csrf_token": {m[1]}, "request": {login.Query().Get("request")},
		"identifier": {"jdupont"}, "password": {"correct horse battery"}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	ticket := regexp.MustCompile(`name="ticket" value="([^"]+)"`).FindStringSubmatch(string(page))
	csrf := csrfToken.FindStringSubmatch(string(page))
	if res.StatusCode != http.StatusForbidden || ticket == nil || csrf == nil {
		t.Fatalf("login of a pending account: %d, no resend form:\n%s", res.StatusCode, page)
	}
	res, err = s.browser.PostForm(s.issuer+web.PathActivation, url.Values{"csrf_token": {csrf[1]}, "ticket": {ticket[1]}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("resend: %d", res.StatusCode)
	}
	var due []store.QueuedMail
	err = st.View(ctx, func(tx store.Tx) error {
		due, err = tx.Mails().Due(ctx, time.Now().Add(time.Hour), 10)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 1 || due[0].Template != notify.TemplateActivationResend || due[0].AccountID != "julie" || due[0].Recipient != "julie.dupont@perso.example" {
		t.Errorf("queued mails: %+v", due)
	}
}
