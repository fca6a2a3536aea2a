package oidc_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/gin-gonic/gin"
	"golang.org/x/oauth2"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/internal/clocktest"
	"github.com/canonid/canonid/oidc"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/web"
)

var ctx = context.Background()

const (
	lmsSecret     = "lms-secret-0123456789abcdef0123456789"
	machineSecret = "machine-secret-0123456789abcdef012345"
	lmsRedirect   = "https://lms.example/callback"
	lmsLoggedOut  = "https://lms.example/bye"
	spaRedirect   = "http://127.0.0.1/spa/callback"
)

// env is canonid's provider on an httptest server, with a stand-in login
// page that logs in env.who.
type env struct {
	t        *testing.T
	st       store.Store
	p        *oidc.Provider
	srv      *httptest.Server
	issuer   string
	clock    *clocktest.Clock
	rp       *gooidc.Provider
	mu       sync.Mutex
	who      string // the account the stand-in login page logs in
	gateErr  error  // what the last Complete returned
	browser  *http.Client
	sessions map[string]string // session cookie -> account
}

func testConfig() oidc.Config {
	cfg := oidc.DefaultConfig()
	cfg.Keys.Secret = "test-secret-0123456789abcdef0123456789"
	cfg.Keys.Algorithm = "ES256" // quick to generate
	cfg.Clients = []oidc.ClientConfig{
		{ID: "lms", Name: "LMS", Secret: lmsSecret, RedirectURIs: []string{lmsRedirect}, PostLogoutRedirectURIs: []string{lmsLoggedOut}},
		{ID: "spa", Public: true, RedirectURIs: []string{spaRedirect}},
		{ID: "cpts-app", Secret: lmsSecret, RedirectURIs: []string{lmsRedirect}, RequireOrg: "cpts-sud"},
		{ID: "machine", Secret: machineSecret, GrantTypes: []string{"client_credentials"}, Scopes: []string{"openid"}},
		{ID: "jwt-app", Secret: lmsSecret, RedirectURIs: []string{lmsRedirect}, AccessTokenFormat: "jwt"},
	}
	return cfg
}

func newEnv(t *testing.T, st store.Store, cfg oidc.Config) *env {
	t.Helper()
	e := &env{t: t, st: st, clock: clocktest.New(time.Now()), sessions: map[string]string{}}
	e.srv = httptest.NewUnstartedServer(nil)
	e.issuer = "http://" + e.srv.Listener.Addr().String()
	p, err := oidc.New(cfg, oidc.Deps{
		Store: st, Issuer: e.issuer, Now: e.clock.Now,
		Session: func(r *http.Request) (store.Session, bool) {
			c, err := r.Cookie("test_session")
			if err != nil {
				return store.Session{}, false
			}
			e.mu.Lock()
			defer e.mu.Unlock()
			acc, ok := e.sessions[c.Value]
			return store.Session{AccountID: acc}, ok
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.p = p
	gin.SetMode(gin.TestMode)
	g := gin.New()
	p.Mount(g)
	g.GET("/login", e.login)
	e.srv.Config.Handler = g
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	jar, _ := cookiejar.New(nil)
	e.browser = &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if e.rp, err = gooidc.NewProvider(ctx, e.issuer); err != nil {
		t.Fatal(err)
	}
	return e
}

// login stands in for package web: it logs in e.who, gives the browser a
// session cookie and completes the request.
func (e *env) login(c *gin.Context) {
	e.mu.Lock()
	who := e.who
	cookie := randomString()
	e.sessions[cookie] = who
	e.mu.Unlock()
	c.SetCookie("test_session", cookie, 0, "/", "", false, true)
	next, err := e.p.Complete(c.Request.Context(), c.Query("request"), who, e.clock.Now(), []string{"pwd"})
	e.mu.Lock()
	e.gateErr = err
	e.mu.Unlock()
	if err != nil {
		c.String(http.StatusForbidden, err.Error())
		return
	}
	c.Redirect(http.StatusSeeOther, next)
}

func randomString() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (e *env) oauth(clientID, secret, redirect string, scopes ...string) *oauth2.Config {
	return &oauth2.Config{ClientID: clientID, ClientSecret: secret, Endpoint: e.rp.Endpoint(), RedirectURL: redirect,
		Scopes: append([]string{gooidc.ScopeOpenID}, scopes...)}
}

// flow is one authorization code flow's parameters.
type flow struct {
	state, nonce, verifier string
}

func newFlow() flow {
	return flow{state: randomString(), nonce: randomString(), verifier: oauth2.GenerateVerifier()}
}

// authorize runs the browser part of the code flow as account who and
// returns the redirect to the client (with code or error).
func (e *env) authorize(conf *oauth2.Config, who string, f flow, opts ...oauth2.AuthCodeOption) *url.URL {
	e.t.Helper()
	e.mu.Lock()
	e.who = who
	e.mu.Unlock()
	opts = append(opts, gooidc.Nonce(f.nonce))
	if f.verifier != "" {
		opts = append(opts, oauth2.S256ChallengeOption(f.verifier))
	}
	next := conf.AuthCodeURL(f.state, opts...)
	for range 5 {
		res, err := e.browser.Get(next)
		if err != nil {
			e.t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode/100 != 3 {
			e.t.Fatalf("GET %s: %d", next, res.StatusCode)
		}
		loc, err := res.Location()
		if err != nil {
			e.t.Fatal(err)
		}
		if !strings.HasPrefix(loc.String(), e.issuer) {
			return loc
		}
		next = loc.String()
	}
	e.t.Fatal("too many redirects")
	return nil
}

// code runs the browser part and returns the code, checking the state.
func (e *env) code(conf *oauth2.Config, who string, f flow) string {
	e.t.Helper()
	loc := e.authorize(conf, who, f)
	q := loc.Query()
	if q.Get("error") != "" {
		e.t.Fatalf("authorization error %s: %s", q.Get("error"), q.Get("error_description"))
	}
	if q.Get("state") != f.state {
		e.t.Fatalf("state %q, want %q", q.Get("state"), f.state)
	}
	return q.Get("code")
}

// tokens runs the whole code flow and verifies the ID token.
func (e *env) tokens(conf *oauth2.Config, who string) (*oauth2.Token, *gooidc.IDToken) {
	e.t.Helper()
	f := newFlow()
	tok, err := conf.Exchange(ctx, e.code(conf, who, f), oauth2.VerifierOption(f.verifier))
	if err != nil {
		e.t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := e.rp.Verifier(&gooidc.Config{ClientID: conf.ClientID}).Verify(ctx, raw)
	if err != nil {
		e.t.Fatal(err)
	}
	if idt.Nonce != f.nonce {
		e.t.Fatalf("nonce %q, want %q", idt.Nonce, f.nonce)
	}
	return tok, idt
}

// refresh exchanges a refresh token.
func (e *env) refresh(conf *oauth2.Config, rt string) (*oauth2.Token, error) {
	return conf.TokenSource(ctx, &oauth2.Token{RefreshToken: rt, Expiry: time.Unix(1, 0)}).Token()
}

// post sends a form authenticated as a client and decodes the JSON answer.
func (e *env) post(path, clientID, secret string, form url.Values) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.issuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	raw, _ := io.ReadAll(res.Body)
	json.Unmarshal(raw, &body)
	return res.StatusCode, body
}

func (e *env) introspect(token string) map[string]any {
	e.t.Helper()
	status, body := e.post(oidc.PathIntrospect, "lms", lmsSecret, url.Values{"token": {token}})
	if status != http.StatusOK {
		e.t.Fatalf("introspect: %d %v", status, body)
	}
	return body
}

// account creates an account with a verified primary address.
func account(t *testing.T, st store.Store, id, login, email string, status identity.Status, orgs ...string) {
	t.Helper()
	err := st.Update(ctx, func(tx store.Tx) error {
		a := identity.Account{ID: id, Status: status, Login: login, GivenName: strings.ToUpper(login[:1]) + login[1:], FamilyName: "Test"}
		if err := tx.Accounts().Create(ctx, &a); err != nil {
			return err
		}
		if err := tx.Emails().Add(ctx, &identity.Email{Address: email, AccountID: id, Verified: true, Primary: true, Source: "admin"}); err != nil {
			return err
		}
		for _, o := range orgs {
			if err := tx.Orgs().Put(ctx, &identity.Org{ID: o, Name: "CPTS Sud", Kind: "cpts"}); err != nil {
				return err
			}
			if err := tx.Memberships().Put(ctx, &identity.Membership{OrgID: o, AccountID: id, Role: identity.RoleMember, State: identity.MembershipValidated}); err != nil {
				return err
			}
		}
		return tx.Record(ctx, store.Event{Type: identity.EventAccountCreated, Actor: "test", AccountID: id})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func gate(err error) web.Gate {
	var g *web.GateError
	if errors.As(err, &g) {
		return g.Gate
	}
	return ""
}

// isOAuthError tells whether err is an OAuth error answer with this code.
func isOAuthError(err error, code string) bool {
	var re *oauth2.RetrieveError
	return errors.As(err, &re) && re.ErrorCode == code
}

func countEvents(t *testing.T, st store.Store, typ string) int {
	t.Helper()
	n := 0
	err := st.View(ctx, func(tx store.Tx) error {
		evs, err := tx.Audit().List(ctx, store.AuditQuery{Type: typ, Limit: 1000})
		n = len(evs)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func setStatus(t *testing.T, st store.Store, id string, s identity.Status) {
	t.Helper()
	err := st.Update(ctx, func(tx store.Tx) error {
		a, err := tx.Accounts().Get(ctx, id)
		if err != nil {
			return err
		}
		a.Status = s
		if err := tx.Accounts().Update(ctx, &a); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: identity.EventAccountUpdated, Actor: "test", AccountID: id})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// kidOf reads the kid of a JWS header.
func kidOf(t *testing.T, raw string) string {
	t.Helper()
	head, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Kid string `json:"kid"`
	}
	json.Unmarshal(b, &h)
	return h.Kid
}

// jwks lists the kids the JWKS publishes.
func jwks(t *testing.T, e *env) []string {
	t.Helper()
	res, err := http.Get(e.issuer + oidc.PathKeys)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	json.NewDecoder(res.Body).Decode(&set)
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.Kid)
	}
	return out
}
