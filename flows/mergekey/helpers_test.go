package mergekey

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
	"github.com/canonid/canonid/web"
)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeAuth accepts login/password pairs.
type fakeAuth struct {
	mu  sync.Mutex
	ids map[string][2]string // login -> account id, password
}

func (f *fakeAuth) Authenticate(_ context.Context, identifier, password string) (string, []string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.ids[identity.NormalizeLogin(identifier)]
	if !ok || c[1] != password {
		return "", nil, web.ErrInvalidCredentials
	}
	return c[0], []string{"pwd"}, nil
}

// noRequests is an OpenID provider without pending requests: the tests
// log in on the login page without one.
type noRequests struct{}

func (noRequests) Describe(context.Context, string) (web.LoginRequest, error) {
	return web.LoginRequest{}, store.ErrNotFound
}

func (noRequests) Complete(context.Context, string, string, time.Time, []string) (string, error) {
	return "", store.ErrNotFound
}

func (noRequests) Fail(context.Context, string, string, string) (string, error) {
	return "", store.ErrNotFound
}

// env is a server with the login pages, the self-service API (authenticated
// by a login session or by a fake access token "token-<account id>") and
// the merge key flow, over one store.
type env struct {
	t     *testing.T
	st    store.Store
	clock *clock
	accts *accounts.Service
	svc   *Service
	h     *Handler
	web   *web.Handler
	srv   *httptest.Server
	auth  *fakeAuth
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newEnv(t *testing.T, st store.Store, cfg Config) *env {
	t.Helper()
	e := &env{t: t, st: st, clock: &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)},
		auth: &fakeAuth{ids: map[string][2]string{}}}
	e.accts = accounts.New(st, accounts.DefaultConfig(), discard())
	e.accts.SetClock(e.clock.Now)
	var err error
	if e.svc, err = New(cfg, Deps{Store: st, Accounts: e.accts, Now: e.clock.Now}); err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	engine := gin.New()
	e.srv = httptest.NewServer(engine)
	t.Cleanup(e.srv.Close)
	e.web, err = web.New(web.Config{PublicURL: e.srv.URL, Secret: []byte("0123456789abcdef0123456789abcdef")},
		web.Deps{Store: st, Auth: e.auth, Requests: noRequests{}, Now: e.clock.Now, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	e.web.Mount(engine)
	if e.h, err = NewHandler(e.svc, HandlerDeps{Pages: e.web, Logger: discard()}); err != nil {
		t.Fatal(err)
	}
	verify := func(_ context.Context, tok string) (string, error) {
		if id, ok := strings.CutPrefix(tok, "token-"); ok {
			return id, nil
		}
		return "", errors.New("bad token")
	}
	e.h.Mount(engine.Group("/api/v1/me", e.web.RequireAccount(verify)), engine)
	return e
}

// account creates an active account with a verified primary address and
// lets the login page accept login with password "pw".
func (e *env) account(login, given, family, birth, email string) identity.Account {
	e.t.Helper()
	a, err := e.accts.Create(e.t.Context(), accounts.NewAccount{Login: login, GivenName: given, FamilyName: family,
		BirthDate: birth, Emails: []accounts.NewEmail{{Address: email, Verified: true}}, Source: "self"}, "test")
	if err != nil {
		e.t.Fatal(err)
	}
	e.auth.mu.Lock()
	e.auth.ids[login] = [2]string{a.ID, "pw"}
	e.auth.mu.Unlock()
	return a
}

// get reads an account from the store.
func (e *env) get(id string) identity.Account {
	e.t.Helper()
	var a identity.Account
	err := e.st.View(e.t.Context(), func(tx store.Tx) error {
		var err error
		a, err = tx.Accounts().Get(e.t.Context(), id)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// events returns the audit entries of a type.
func (e *env) events(typ string) []store.AuditEntry {
	e.t.Helper()
	var out []store.AuditEntry
	err := e.st.View(e.t.Context(), func(tx store.Tx) error {
		var err error
		out, err = tx.Audit().List(e.t.Context(), store.AuditQuery{Type: typ})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// api calls the JSON API as an account (by its access token; "" sends
// none) and decodes the answer.
func (e *env) api(accountID, method, path string, body any) (int, map[string]any) {
	e.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, r)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if accountID != "" {
		req.Header.Set("Authorization", "Bearer token-"+accountID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		e.t.Fatalf("%s %s: %d, body not JSON: %v", method, path, resp.StatusCode, err)
	}
	return resp.StatusCode, out
}

// generate makes a key on the account over the API.
func (e *env) generate(accountID string) string {
	e.t.Helper()
	status, out := e.api(accountID, http.MethodPost, "/api/v1/me/merge-key", nil)
	if status != http.StatusCreated {
		e.t.Fatalf("generate: %d %v", status, out)
	}
	return out["key"].(string)
}

// browser is an HTTP client with cookies that does not follow redirects.
type browser struct {
	e *env
	c *http.Client
}

func (e *env) browser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &browser{e: e, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// page is a response with its body.
type page struct {
	status int
	header http.Header
	body   string // as sent
	text   string // HTML entities decoded
}

func (b *browser) do(req *http.Request) page {
	b.e.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.e.t.Fatal(err)
	}
	return page{resp.StatusCode, resp.Header, string(body), html.UnescapeString(string(body))}
}

func (b *browser) get(path string) page {
	b.e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.e.srv.URL+path, nil)
	if err != nil {
		b.e.t.Fatal(err)
	}
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) page {
	b.e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.e.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// postJSON calls the JSON API with the browser's session cookie.
func (b *browser) postJSON(path string, body any) page {
	b.e.t.Helper()
	data, err := json.Marshal(body)
	if err != nil {
		b.e.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, b.e.srv.URL+path, bytes.NewReader(data))
	if err != nil {
		b.e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return b.do(req)
}

var (
	csrfRE   = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)
	hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
	keyRE    = regexp.MustCompile(`<strong id="merge-key">([^<]*)</strong>`)
)

// csrf returns the CSRF token of a page's forms.
func (p page) csrf(t *testing.T) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", p.body)
	}
	return html.UnescapeString(m[1])
}

// form returns the hidden fields of the page's form posting to action
// (the first one).
func (p page) form(t *testing.T, action string) url.Values {
	t.Helper()
	i := strings.Index(p.body, `<form method="post" action="`+action+`">`)
	if i < 0 {
		t.Fatalf("no form to %s in the page:\n%s", action, p.body)
	}
	rest := p.body[i:]
	rest = rest[:strings.Index(rest, "</form>")]
	v := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(rest, -1) {
		v.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return v
}

// login logs the browser in on the login page.
func (b *browser) login(login string) {
	b.e.t.Helper()
	form := b.get(web.PathLogin)
	p := b.post(web.PathLogin, url.Values{web.CSRFField: {form.csrf(b.e.t)}, "identifier": {login}, "password": {"pw"}})
	if p.status != http.StatusSeeOther {
		b.e.t.Fatalf("login %s: %d\n%s", login, p.status, p.body)
	}
}

func wantStatus(t *testing.T, p page, status int) {
	t.Helper()
	if p.status != status {
		t.Fatalf("status %d, want %d\n%s", p.status, status, p.body)
	}
}

func wantContains(t *testing.T, p page, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(p.text, s) {
			t.Errorf("page lacks %q:\n%s", s, p.body)
		}
	}
}

// seedAccounts are the two accounts of seed 002: A (franck.cavel) is kept,
// B (franck.cavel3) is given up.
func (e *env) seedAccounts() (a, b identity.Account) {
	a = e.account("franck.cavel", "Franck", "CAVEL", "1978-06-01", "franck.cavel@laposte.net")
	b = e.account("franck.cavel3", "FRANCK", "CAVEL", "1984-10-17", "romain.gentef@opendigitaleducation.com")
	return a, b
}

// eachStore runs fn on a fresh env over each store.
func eachStore(t *testing.T, cfg Config, fn func(t *testing.T, e *env)) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) { fn(t, newEnv(t, st, cfg)) })
}

// accountsMerge is an administrator's merge request.
func accountsMerge(survivor, retired string) accounts.MergeRequest {
	return accounts.MergeRequest{SurvivorID: survivor, RetiredID: retired, Reason: identity.MergeByAdmin, Actor: "test"}
}
