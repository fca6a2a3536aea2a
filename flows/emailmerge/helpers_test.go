package emailmerge

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/notify"
	"github.com/canonid/canonid/notify/notifytest"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
	"github.com/canonid/canonid/web"
)

// clock is the tests' clock: it moves when told to.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)} }

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

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// --- the environment: store, services, SMTP, pages, API --------------------

// fakeAuth accepts one password per login.
type fakeAuth struct {
	mu       sync.Mutex
	accounts map[string][2]string // login -> account id, password
}

func (f *fakeAuth) Authenticate(_ context.Context, identifier, password string) (string, []string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.accounts[identity.NormalizeLogin(identifier)]
	if !ok || c[1] != password {
		return "", nil, web.ErrInvalidCredentials
	}
	return c[0], []string{"pwd"}, nil
}

// noRequests: the tests log in without an OpenID request.
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

// env is canonid's server reduced to what the flow needs, over one store,
// sending its mails to a real SMTP server.
type env struct {
	t     *testing.T
	st    store.Store
	clock *clock
	acc   *accounts.Service
	svc   *Service
	disp  *notify.Dispatcher
	smtp  *notifytest.Server
	srv   *httptest.Server
	auth  *fakeAuth
	// seen counts the mails already read by link().
	seen int
}

func newEnv(t *testing.T, st store.Store, tune func(*Config)) *env {
	t.Helper()
	e := &env{t: t, st: st, clock: newClock(), smtp: notifytest.Start(t), auth: &fakeAuth{accounts: map[string][2]string{}}}
	gin.SetMode(gin.ReleaseMode)
	engine := gin.New()
	e.srv = httptest.NewServer(engine)
	t.Cleanup(e.srv.Close)

	e.acc = accounts.New(st, accounts.DefaultConfig(), discardLog())
	e.acc.SetClock(e.clock.Now)
	mcfg := notify.Config{
		Driver: notify.DriverSMTP, From: "Université de Test <noreply@univ-test.example>", SiteName: "Université de Test",
		Secret: "0123456789abcdef0123456789abcdef-test", Location: time.UTC,
		SMTP: notify.SMTPConfig{Host: "127.0.0.1", Port: e.smtp.Port, TLS: notify.TLSStartTLS, CAFile: e.smtp.CAFile, Timeout: 5 * time.Second},
	}
	q, err := notify.NewQueue(mcfg)
	if err != nil {
		t.Fatal(err)
	}
	q.SetClock(e.clock.Now)
	driver, err := notify.NewDriver(mcfg, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	if e.disp, err = notify.NewDispatcher(st, mcfg, driver, discardLog()); err != nil {
		t.Fatal(err)
	}
	e.disp.SetClock(e.clock.Now)

	cfg := Config{PublicURL: e.srv.URL, Location: time.UTC}
	if tune != nil {
		tune(&cfg)
	}
	if e.svc, err = New(st, e.acc, q, cfg); err != nil {
		t.Fatal(err)
	}
	e.svc.SetClock(e.clock.Now)

	pages, err := web.New(web.Config{PublicURL: e.srv.URL, Secret: []byte("0123456789abcdef0123456789abcdef")},
		web.Deps{Store: st, Auth: e.auth, Requests: noRequests{}, Now: e.clock.Now, Logger: discardLog()})
	if err != nil {
		t.Fatal(err)
	}
	pages.Mount(engine)
	h, err := NewHandler(e.svc, pages, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	h.MountAPI(engine.Group("/api/v1/me", pages.RequireAccount(nil)))
	h.MountPages(engine)
	return e
}

// account creates an active account with its verified addresses (the
// first primary), a link when source is set, and a password for login.
func (e *env) account(login, password string, n accounts.NewAccount, source, externalID string) identity.Account {
	e.t.Helper()
	n.Login = login
	a, err := e.acc.Create(e.t.Context(), n, "test")
	if err != nil {
		e.t.Fatal(err)
	}
	if source != "" {
		err := e.st.Update(e.t.Context(), func(tx store.Tx) error {
			l := identity.Link{Source: source, ExternalID: externalID, AccountID: a.ID, Status: identity.LinkActive}
			if err := tx.Links().Create(e.t.Context(), &l); err != nil {
				return err
			}
			return tx.Record(e.t.Context(), store.Event{Type: identity.EventAccountLinked, Actor: "test", AccountID: a.ID})
		})
		if err != nil {
			e.t.Fatal(err)
		}
	}
	if login != "" {
		e.auth.mu.Lock()
		e.auth.accounts[login] = [2]string{a.ID, password}
		e.auth.mu.Unlock()
	}
	return a
}

// person is a plain account with one verified address.
func (e *env) person(login, address string) identity.Account {
	e.t.Helper()
	return e.account(login, "pw-"+login, accounts.NewAccount{GivenName: "Test", FamilyName: login,
		Emails: []accounts.NewEmail{{Address: address, Verified: true}}}, "", "")
}

var linkRE = regexp.MustCompile(`https?://[^\s"<>]+/account/email/confirm\?token=[A-Za-z0-9_%-]+`)

// link sends the due mails over SMTP and returns the recipient and the
// link of the next mail received, in order.
func (e *env) link() (to, link string) {
	e.t.Helper()
	sent, failed, err := e.disp.Tick(e.t.Context())
	if err != nil || failed != 0 {
		e.t.Fatalf("Tick: %d sent, %d failed, %v", sent, failed, err)
	}
	got := e.smtp.Received()
	if len(got) <= e.seen {
		e.t.Fatalf("the SMTP server has %d mails, all read", len(got))
	}
	m := got[e.seen]
	e.seen++
	if !m.TLS || len(m.To) != 1 {
		e.t.Fatalf("envelope: TLS %v, to %v", m.TLS, m.To)
	}
	text := mailText(e.t, m.Data)
	link = linkRE.FindString(text)
	if link == "" {
		e.t.Fatalf("no link in the mail:\n%s", text)
	}
	return m.To[0], link
}

// mailText returns the decoded text/plain part of a received message.
func mailText(t *testing.T, raw []byte) string {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("not an RFC 5322 message: %v", err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		t.Fatalf("Content-Type %q: %v", msg.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		b, err := io.ReadAll(part)
		if err != nil {
			t.Fatal(err)
		}
		if ct == "text/plain" {
			return string(b)
		}
	}
	t.Fatal("no text/plain part")
	return ""
}

// pathOf returns the path and query of a mailed link, for the browser.
func pathOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.RequestURI()
}

// tokenOf returns the token of a mailed link.
func tokenOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("token")
}

// browser is an HTTP client with a cookie jar, not following redirects.
type browser struct {
	e      *env
	c      *http.Client
	header http.Header
}

func (e *env) browser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &browser{e: e, header: http.Header{}, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// page is a response with its body read.
type page struct {
	status int
	header http.Header
	body   string
}

// text is the body with HTML entities decoded.
func (p page) text() string { return html.UnescapeString(p.body) }

// main is the text of the page's <main>: what differs between pages, not
// the language switch link (which reloads the page's own URL).
func (p page) main() string {
	i, j := strings.Index(p.body, "<main>"), strings.Index(p.body, "</main>")
	if i < 0 || j < i {
		return p.body
	}
	return html.UnescapeString(p.body[i:j])
}

func (b *browser) do(method, path, contentType string, body io.Reader) page {
	b.e.t.Helper()
	req, err := http.NewRequest(method, b.e.srv.URL+path, body)
	if err != nil {
		b.e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range b.header {
		req.Header[k] = v
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		b.e.t.Fatal(err)
	}
	return page{status: resp.StatusCode, header: resp.Header, body: string(raw)}
}

func (b *browser) get(path string) page { b.e.t.Helper(); return b.do(http.MethodGet, path, "", nil) }

func (b *browser) post(path string, form url.Values) page {
	b.e.t.Helper()
	return b.do(http.MethodPost, path, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
}

// api sends a JSON request and decodes the JSON answer into a map.
func (b *browser) api(method, path string, body any) (int, map[string]any) {
	b.e.t.Helper()
	var r io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			b.e.t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	p := b.do(method, path, "application/json", r)
	out := map[string]any{}
	if p.body != "" {
		if err := json.Unmarshal([]byte(p.body), &out); err != nil {
			b.e.t.Fatalf("%s %s: %d, not JSON: %s", method, path, p.status, p.body)
		}
	}
	return p.status, out
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)

// csrf returns the CSRF token of a page's forms.
func (p page) csrf(t *testing.T) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", p.body)
	}
	return html.UnescapeString(m[1])
}

// login logs the browser in to login's account.
func (b *browser) login(login string) {
	b.e.t.Helper()
	form := b.get(web.PathLogin)
	if form.status != http.StatusOK {
		b.e.t.Fatalf("GET /login: %d", form.status)
	}
	p := b.post(web.PathLogin, url.Values{web.CSRFField: {form.csrf(b.e.t)}, "identifier": {login}, "password": {"pw-" + login}})
	if p.status != http.StatusSeeOther {
		b.e.t.Fatalf("login %s: %d\n%s", login, p.status, p.body)
	}
}

// loggedIn returns a new browser logged in to login's account.
func (e *env) loggedIn(login string) *browser {
	e.t.Helper()
	b := e.browser()
	b.login(login)
	return b
}

// pending returns the account's pending one-time tokens.
func (e *env) pending(accountID string) []store.OneTimeToken {
	e.t.Helper()
	var out []store.OneTimeToken
	if err := e.st.View(e.t.Context(), func(tx store.Tx) error {
		var err error
		out, err = tx.Tokens().ListPending(e.t.Context(), accountID, e.clock.Now())
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// email returns the account's row of an address.
func (e *env) email(accountID, address string) (identity.Email, error) {
	var out identity.Email
	err := e.st.View(e.t.Context(), func(tx store.Tx) error {
		var err error
		out, err = tx.Emails().Get(e.t.Context(), accountID, address)
		return err
	})
	return out, err
}

// accountOf reads an account.
func (e *env) accountOf(id string) identity.Account {
	e.t.Helper()
	var a identity.Account
	if err := e.st.View(e.t.Context(), func(tx store.Tx) error {
		var err error
		a, err = tx.Accounts().Get(e.t.Context(), id)
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	return a
}

// auditTypes returns the types of the account's audit entries, oldest
// first.
func (e *env) auditTypes(accountID string) []string {
	e.t.Helper()
	var out []string
	if err := e.st.View(e.t.Context(), func(tx store.Tx) error {
		entries, err := tx.Audit().List(e.t.Context(), store.AuditQuery{AccountID: accountID, Limit: 1000})
		for i := len(entries) - 1; i >= 0; i-- {
			out = append(out, entries[i].Type)
		}
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// eachEnv runs fn on an env of each store.
func eachEnv(t *testing.T, tune func(*Config), fn func(t *testing.T, e *env)) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, tune)
		fn(t, e)
		storetest.CheckInvariants(t, st)
	})
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
		if !strings.Contains(p.text(), s) {
			t.Errorf("page lacks %q:\n%s", s, p.body)
		}
	}
}
