package web

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/internal/clocktest"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
)

// testSecret is the CSRF key of the tests.
var testSecret = []byte("0123456789abcdef0123456789abcdef")

func newClock() *clocktest.Clock { return clocktest.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)) }

// fakeAuth knows identifiers and passwords; unknown identifiers and wrong
// passwords both give ErrInvalidCredentials.
type fakeAuth struct {
	mu       sync.Mutex
	accounts map[string]fakeCred // by identifier
	calls    int
}

type fakeCred struct {
	accountID, password string
}

func (f *fakeAuth) Authenticate(_ context.Context, identifier, password string) (string, []string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	c, ok := f.accounts[identity.NormalizeLogin(identifier)]
	if !ok || c.password != password {
		return "", nil, ErrInvalidCredentials
	}
	return c.accountID, []string{"pwd"}, nil
}

func (f *fakeAuth) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// fakeRequests holds pending requests; Complete gates the accounts listed
// in gates and otherwise returns the provider's callback.
type fakeRequests struct {
	mu        sync.Mutex
	requests  map[string]LoginRequest
	gates     map[string]*GateError // by account id
	completed []completion
}

type completion struct {
	requestID, accountID string
	authTime             time.Time
	amr                  []string
}

func (f *fakeRequests) add(lr LoginRequest) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests[lr.ID] = lr
}

func (f *fakeRequests) Describe(_ context.Context, id string) (LoginRequest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	lr, ok := f.requests[id]
	if !ok {
		return LoginRequest{}, fmt.Errorf("auth request %s: %w", id, store.ErrNotFound)
	}
	return lr, nil
}

func (f *fakeRequests) Complete(_ context.Context, id, accountID string, authTime time.Time, amr []string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.requests[id]; !ok {
		return "", fmt.Errorf("auth request %s: %w", id, store.ErrNotFound)
	}
	if g, ok := f.gates[accountID]; ok {
		g := *g
		g.AccountID = accountID
		return "", &g
	}
	f.completed = append(f.completed, completion{id, accountID, authTime, amr})
	return callbackURL(id), nil
}

func (f *fakeRequests) Fail(_ context.Context, id, code, _ string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.requests[id]; !ok {
		return "", fmt.Errorf("auth request %s: %w", id, store.ErrNotFound)
	}
	delete(f.requests, id)
	return "https://client.example/cb?error=" + code, nil
}

func (f *fakeRequests) Completed() []completion {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.completed)
}

func callbackURL(id string) string { return "/authorize/callback?id=" + id }

// fakeActivation records resends.
type fakeActivation struct {
	mu      sync.Mutex
	resends []string
}

func (f *fakeActivation) Resend(_ context.Context, accountID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resends = append(f.resends, accountID)
	return nil
}

// env is one login server over a store, with fakes and a clock.
type env struct {
	engine *gin.Engine // routes may be added before the first request
	t      *testing.T
	st     store.Store
	h      *Handler
	srv    *httptest.Server
	clock  *clocktest.Clock
	auth   *fakeAuth
	reqs   *fakeRequests
}

// options tune an env.
type options struct {
	store      store.Store
	activation ActivationResender
	upstreams  []Upstream
	cfg        func(*Config)
	deps       func(*Deps)
}

func newEnv(t *testing.T, o options) *env {
	t.Helper()
	e := &env{t: t, st: o.store, clock: newClock(),
		auth: &fakeAuth{accounts: map[string]fakeCred{}},
		reqs: &fakeRequests{requests: map[string]LoginRequest{}, gates: map[string]*GateError{}},
	}
	if e.st == nil {
		e.st = storetest.OpenSQLite(t)
	}
	gin.SetMode(gin.ReleaseMode)
	engine := gin.New()
	e.srv = httptest.NewServer(engine)
	t.Cleanup(e.srv.Close)
	cfg := Config{PublicURL: e.srv.URL, Secret: testSecret}
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	deps := Deps{
		Store: e.st, Auth: e.auth, Requests: e.reqs, Now: e.clock.Now,
		Activation: o.activation, Upstreams: o.upstreams,
	}
	if o.deps != nil {
		o.deps(&deps)
	}
	h, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	h.Mount(engine)
	// The provider's callback, where Complete sends the browser: it
	// shows whether the login page's session is valid.
	engine.GET("/authorize/callback", func(c *gin.Context) {
		s, ok := h.Session(c.Request)
		c.String(http.StatusOK, "callback %s session=%v account=%s", c.Query("id"), ok, s.AccountID)
	})
	e.h = h
	e.engine = engine
	return e
}

// account creates an account in the store and lets fakeAuth accept
// identifier with password for it.
func (e *env) account(login, password string, status identity.Status) identity.Account {
	e.t.Helper()
	a := identity.Account{ID: uuid.NewString(), Status: status, Login: login,
		GivenName: "Alice", FamilyName: "Martin"}
	err := e.st.Update(e.t.Context(), func(tx store.Tx) error {
		if err := tx.Accounts().Create(e.t.Context(), &a); err != nil {
			return err
		}
		return tx.Record(e.t.Context(), store.Event{Type: "test.seeded", Actor: "test", AccountID: a.ID})
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.auth.mu.Lock()
	e.auth.accounts[login] = fakeCred{accountID: a.ID, password: password}
	e.auth.mu.Unlock()
	return a
}

// request adds a pending request of the "formation" client.
func (e *env) request(id string, mod ...func(*LoginRequest)) LoginRequest {
	lr := LoginRequest{ID: id, ClientID: "formation", ClientName: "Plateforme de formation"}
	for _, m := range mod {
		m(&lr)
	}
	e.reqs.add(lr)
	return lr
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects.
type browser struct {
	e      *env
	c      *http.Client
	header http.Header // sent with every request
}

func (e *env) browser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &browser{e: e, header: http.Header{}, c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// page is a response with its body read.
type page struct {
	*http.Response
	body string // as sent
	text string // with HTML entities decoded, for wantContains
}

func (b *browser) do(req *http.Request) page {
	b.e.t.Helper()
	for k, v := range b.header {
		req.Header[k] = v
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.e.t.Fatal(err)
	}
	return page{resp, string(body), html.UnescapeString(string(body))}
}

func (b *browser) get(path string) page {
	b.e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.e.srv.URL+path, nil)
	if err != nil {
		b.e.t.Fatal(err)
	}
	return b.do(req)
}

// post sends a form, with the headers given as "Name", "value" pairs.
func (b *browser) post(path string, form url.Values, headers ...string) page {
	b.e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.e.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(req)
}

var (
	csrfRE   = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)
	ticketRE = regexp.MustCompile(`name="ticket" value="([^"]*)"`)
)

// token returns the CSRF token of a page's forms.
func (p page) token(t *testing.T) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", p.body)
	}
	return html.UnescapeString(m[1])
}

// login opens the login page of request (none when empty) and submits
// identifier and password.
func (b *browser) login(request, identifier, password string) page {
	b.e.t.Helper()
	path := PathLogin
	if request != "" {
		path += "?request=" + url.QueryEscape(request)
	}
	form := b.get(path)
	if form.StatusCode != http.StatusOK {
		b.e.t.Fatalf("GET %s: %d\n%s", path, form.StatusCode, form.body)
	}
	return b.submit(form, request, identifier, password)
}

// submit posts the login form of page p.
func (b *browser) submit(p page, request, identifier, password string) page {
	b.e.t.Helper()
	v := url.Values{csrfField: {p.token(b.e.t)}, paramIdentifier: {identifier}, paramPassword: {password}}
	if request != "" {
		v.Set(paramRequest, request)
	}
	return b.post(PathLogin, v)
}

// cookie returns the browser's cookie of that name for the server, "" if
// none.
func (b *browser) cookie(name string) string {
	u, _ := url.Parse(b.e.srv.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// sessionOf reports whether the handler sees a valid session for this
// cookie value.
func (e *env) sessionOf(cookie string) (store.Session, bool) {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: cookie})
	return e.h.Session(req)
}

// setCookie finds a Set-Cookie of the response by name.
func setCookie(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func wantStatus(t *testing.T, p page, status int) {
	t.Helper()
	if p.StatusCode != status {
		t.Fatalf("status %d, want %d\n%s", p.StatusCode, status, p.body)
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

func wantNotContains(t *testing.T, p page, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if strings.Contains(p.text, s) {
			t.Errorf("page has %q:\n%s", s, p.body)
		}
	}
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
