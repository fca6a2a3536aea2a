package activation

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

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// --- the environment: store, service, SMTP, pages --------------------------

// fakeAuth refuses every password: the tests do not log in.
type fakeAuth struct{}

func (fakeAuth) Authenticate(context.Context, string, string) (string, []string, error) {
	return "", nil, web.ErrInvalidCredentials
}

// noRequests: no OpenID requests.
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

// testCharter is the charter of the tests' configuration.
const testCharter = "Charte informatique de l'Université de Test : vous protégez votre mot de passe."

// env is canonid's server reduced to what the flow needs, over one store,
// sending its mails to a real SMTP server.
type env struct {
	t     *testing.T
	st    store.Store
	clock *clock
	svc   *Service
	disp  *notify.Dispatcher
	smtp  *notifytest.Server
	srv   *httptest.Server
	paris *time.Location
	// seen counts the mails already read by mail().
	seen int
}

func newEnv(t *testing.T, st store.Store, tune func(*Config)) *env {
	t.Helper()
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, st: st, clock: newClock(), smtp: notifytest.Start(t), paris: paris}
	gin.SetMode(gin.ReleaseMode)
	engine := gin.New()
	e.srv = httptest.NewServer(engine)
	t.Cleanup(e.srv.Close)

	mcfg := notify.Config{
		Driver: notify.DriverSMTP, From: "Université de Test <noreply@univ-test.example>", SiteName: "Université de Test",
		Secret: "0123456789abcdef0123456789abcdef-test", Location: paris,
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

	cfg := Config{PublicURL: e.srv.URL, TimeZone: "Europe/Paris", CharterVersion: "2021-06", CharterText: testCharter}
	if tune != nil {
		tune(&cfg)
	}
	if e.svc, err = New(st, q, cfg); err != nil {
		t.Fatal(err)
	}
	e.svc.SetClock(e.clock.Now)

	pages, err := web.New(web.Config{PublicURL: e.srv.URL, Secret: []byte("0123456789abcdef0123456789abcdef")},
		web.Deps{Store: st, Auth: fakeAuth{}, Requests: noRequests{}, Now: e.clock.Now, Logger: discardLog(), Activation: e.svc})
	if err != nil {
		t.Fatal(err)
	}
	pages.Mount(engine)
	h, err := NewHandler(e.svc, pages, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	h.MountPages(engine)
	return e
}

// pendingAccount creates an account pending activation, as HR would, and
// starts its activation in the same transaction.
func (e *env) pendingAccount(login, given, family, recovery string) identity.Account {
	e.t.Helper()
	return e.pendingWith(login, given, family, recovery, nil)
}

// pendingStaff is pendingAccount for a member of staff (affiliation
// employee) whose directory gave the institutional address institutional.
func (e *env) pendingStaff(login, given, family, recovery, institutional string) identity.Account {
	e.t.Helper()
	return e.pendingWith(login, given, family, recovery, []string{"member", "employee"},
		identity.Email{Address: institutional, Verified: true, Primary: true, Source: "ldap:campus"})
}

// pendingWith is pendingAccount with these affiliations and addresses.
func (e *env) pendingWith(login, given, family, recovery string, affiliations []string, emails ...identity.Email) identity.Account {
	e.t.Helper()
	a := identity.Account{Status: identity.StatusPendingActivation, Login: login, GivenName: given, FamilyName: family,
		Attributes: map[string][]string{identity.FieldRecoveryEmail: {recovery}},
		Provenance: map[string]string{identity.FieldGivenName: "scim:hr", identity.FieldFamilyName: "scim:hr"}}
	if affiliations != nil {
		a.Attributes[identity.FieldAffiliation] = affiliations
	}
	err := e.st.Update(e.t.Context(), func(tx store.Tx) error {
		if err := tx.Accounts().Create(e.t.Context(), &a); err != nil {
			return err
		}
		for _, m := range emails {
			m.AccountID = a.ID
			if err := tx.Emails().Add(e.t.Context(), &m); err != nil {
				return err
			}
		}
		if err := tx.Record(e.t.Context(), store.Event{Type: identity.EventAccountCreated, Actor: "scim:hr", AccountID: a.ID,
			Data: map[string]string{"login": a.Login}}); err != nil {
			return err
		}
		return e.svc.Start(e.t.Context(), tx, a.ID, "fr")
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

var linkRE = regexp.MustCompile(`https?://[^\s"<>]+/account/activate\?token=[A-Za-z0-9_%-]+`)

// redirectLinkRE matches the links mailed to a redirection address.
var redirectLinkRE = regexp.MustCompile(`https?://[^\s"<>]+/account/mail-redirect/confirm\?token=[A-Za-z0-9_%-]+`)

// redirectLink returns the recipient and the redirection link of the next
// mail received.
func (e *env) redirectLink() (to, link string) {
	e.t.Helper()
	to, text := e.mail()
	link = redirectLinkRE.FindString(text)
	if link == "" {
		e.t.Fatalf("no redirection link in the mail to %s:\n%s", to, text)
	}
	return to, link
}

// mail sends the due mails over SMTP and returns the recipient and the
// text of the next mail received, in order.
func (e *env) mail() (to, text string) {
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
	return m.To[0], mailText(e.t, m.Data)
}

// link returns the recipient and the link of the next mail received.
func (e *env) link() (to, link string) {
	e.t.Helper()
	to, text := e.mail()
	link = linkRE.FindString(text)
	if link == "" {
		e.t.Fatalf("no link in the mail:\n%s", text)
	}
	return to, link
}

// noMail checks that no mail is due or received beyond those read.
func (e *env) noMail() {
	e.t.Helper()
	if _, _, err := e.disp.Tick(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
	if got := e.smtp.Received(); len(got) != e.seen {
		e.t.Fatalf("%d unexpected mails", len(got)-e.seen)
	}
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

// events returns the account's audit entries of type typ, oldest first,
// with their data decoded.
func (e *env) events(accountID, typ string) []map[string]any {
	e.t.Helper()
	var out []map[string]any
	if err := e.st.View(e.t.Context(), func(tx store.Tx) error {
		entries, err := tx.Audit().List(e.t.Context(), store.AuditQuery{AccountID: accountID, Type: typ, Limit: 1000})
		for i := len(entries) - 1; i >= 0; i-- {
			var d map[string]any
			if err := json.Unmarshal(entries[i].Data, &d); err != nil {
				return err
			}
			out = append(out, d)
		}
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// outboxTypes returns the types of the account's events in the outbox, in
// order.
func (e *env) outboxTypes(accountID string) []string {
	e.t.Helper()
	var out []string
	for seq := int64(0); ; {
		evs, err := e.st.Outbox().After(e.t.Context(), seq, 500)
		if err != nil {
			e.t.Fatal(err)
		}
		if len(evs) == 0 {
			return out
		}
		for _, ev := range evs {
			if ev.AccountID == accountID {
				out = append(out, ev.Type)
			}
			seq = ev.Seq
		}
	}
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
