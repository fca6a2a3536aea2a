package account

import (
	"context"
	"crypto/sha256"
	"html"
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

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/authn"
	"github.com/canonid/canonid/flows/activation"
	"github.com/canonid/canonid/flows/emailmerge"
	"github.com/canonid/canonid/flows/mergekey"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/notify"
	"github.com/canonid/canonid/notify/notifytest"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
	"github.com/canonid/canonid/web"
)

// testPassword is the password of the people of the tests; it passes the
// policy.
const testPassword = "Correct-Horse-42"

// testCharter is the charter of the activation flow.
const testCharter = "Charte d'usage des ressources numériques : utilisez-les pour vos missions, protégez votre mot de passe."

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

// site is canonid's server reduced to the pages a person uses, over SQLite
// on 127.0.0.1: the real login pages (web, authn), My account, and the
// pages of the merge-by-e-mail, merge-by-key and activation flows. Mail is
// queued in the store and delivered, when a test ticks the dispatcher,
// over a real SMTP conversation.
type site struct {
	t     *testing.T
	st    store.Store
	srv   *httptest.Server
	smtp  *notifytest.Server
	disp  *notify.Dispatcher
	acc   *accounts.Service
	act   *activation.Service
	mk    *mergekey.Service
	pages *web.Handler
	// seen counts the mails already read.
	seen int
}

// siteOptions tune a site.
type siteOptions struct {
	// noEmails leaves the e-mail flow out (no mail configured).
	noEmails bool
}

func newSite(t *testing.T, o siteOptions) *site {
	t.Helper()
	st := storetest.OpenSQLite(t)
	gin.SetMode(gin.ReleaseMode)
	engine := gin.New()
	srv := httptest.NewServer(engine)
	t.Cleanup(srv.Close)
	s := &site{t: t, st: st, srv: srv, smtp: notifytest.Start(t)}
	logger := slog.New(slog.DiscardHandler)
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}

	mc := notify.Config{Driver: notify.DriverSMTP, From: "Université de Test <noreply@univ-test.example>", SiteName: "Université de Test",
		Secret: "0123456789abcdef0123456789abcdef-test", Location: paris,
		SMTP: notify.SMTPConfig{Host: "127.0.0.1", Port: s.smtp.Port, TLS: notify.TLSStartTLS, CAFile: s.smtp.CAFile, Timeout: 5 * time.Second}}
	q, err := notify.NewQueue(mc)
	if err != nil {
		t.Fatal(err)
	}
	drv, err := notify.NewDriver(mc, logger)
	if err != nil {
		t.Fatal(err)
	}
	if s.disp, err = notify.NewDispatcher(st, mc, drv, logger); err != nil {
		t.Fatal(err)
	}

	s.acc = accounts.New(st, accounts.DefaultConfig(), logger)
	if s.act, err = activation.New(st, q, activation.Config{PublicURL: srv.URL, TimeZone: "Europe/Paris",
		CharterVersion: "2021-06", CharterText: testCharter}); err != nil {
		t.Fatal(err)
	}
	if s.pages, err = web.New(web.Config{PublicURL: srv.URL, Secret: []byte("0123456789abcdef0123456789abcdef"),
		HelpURL: "mailto:assistance@univ-test.example"},
		web.Deps{Store: st, Auth: authn.New(st, nil, logger), Requests: noRequests{}, Logger: logger,
			Activation: s.act, AccountPath: PathAccount}); err != nil {
		t.Fatal(err)
	}
	s.pages.Mount(engine)

	if s.mk, err = mergekey.New(mergekey.Config{Location: paris}, mergekey.Deps{Store: st, Accounts: s.acc}); err != nil {
		t.Fatal(err)
	}
	mkh, err := mergekey.NewHandler(s.mk, mergekey.HandlerDeps{Pages: s.pages, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	mkh.Mount(nil, engine)
	ah, err := activation.NewHandler(s.act, s.pages, logger)
	if err != nil {
		t.Fatal(err)
	}
	ah.MountPages(engine)

	deps := Deps{Store: st, Pages: s.pages, Accounts: s.acc, MergeKeys: s.mk, Mail: q, Location: paris, Logger: logger}
	if !o.noEmails {
		em, err := emailmerge.New(st, s.acc, q, emailmerge.Config{PublicURL: srv.URL, Location: paris})
		if err != nil {
			t.Fatal(err)
		}
		emh, err := emailmerge.NewHandler(em, s.pages, logger)
		if err != nil {
			t.Fatal(err)
		}
		emh.MountPages(engine)
		deps.Emails = em
	}
	h, err := New(deps)
	if err != nil {
		t.Fatal(err)
	}
	h.Mount(engine)
	return s
}

// person is an account to create.
type person struct {
	login, given, family, birth string
	// address is verified and primary.
	address string
	// source is where the names and the address come from, and the source
	// of a link to externalID when it names a connector ("ldap:campus").
	source, externalID string
	// password: the test password is set when true.
	password bool
	status   identity.Status
	attrs    map[string][]string
}

// create creates the account with its address and link, as a sync or an
// import would.
func (s *site) create(p person) identity.Account {
	s.t.Helper()
	a := identity.Account{Status: p.status, Login: p.login, GivenName: p.given, FamilyName: p.family, BirthDate: p.birth,
		Attributes: p.attrs, Provenance: map[string]string{}}
	if a.Status == "" {
		a.Status = identity.StatusActive
	}
	for f, v := range map[string]string{identity.FieldLogin: p.login, identity.FieldGivenName: p.given,
		identity.FieldFamilyName: p.family, identity.FieldBirthDate: p.birth} {
		if v != "" {
			a.Provenance[f] = p.source
		}
	}
	if p.password {
		hash, err := authn.HashPassword(testPassword)
		if err != nil {
			s.t.Fatal(err)
		}
		a.PasswordHash = hash
	}
	s.update(func(ctx context.Context, tx store.Tx) error {
		a := a // the closure may run again
		if err := tx.Accounts().Create(ctx, &a); err != nil {
			return err
		}
		if p.address != "" {
			if err := tx.Emails().Add(ctx, &identity.Email{AccountID: a.ID, Address: p.address, Verified: true, Primary: true,
				Source: p.source, VerifiedAt: time.Now()}); err != nil {
				return err
			}
		}
		if p.externalID != "" {
			if err := tx.Links().Create(ctx, &identity.Link{Source: p.source, ExternalID: p.externalID, AccountID: a.ID,
				Status: identity.LinkActive}); err != nil {
				return err
			}
		}
		return tx.Record(ctx, store.Event{Type: identity.EventAccountCreated, Actor: "test", AccountID: a.ID,
			Data: map[string]string{"login": a.Login}})
	})
	return s.find(p.login, p.address)
}

// find reads the account of a login, or of an address.
func (s *site) find(login, address string) identity.Account {
	s.t.Helper()
	var a identity.Account
	err := s.st.View(s.t.Context(), func(tx store.Tx) error {
		if login != "" {
			var err error
			a, err = tx.Accounts().GetByLogin(s.t.Context(), login)
			return err
		}
		e, err := tx.Emails().FindVerified(s.t.Context(), address)
		if err != nil {
			return err
		}
		a, err = tx.Accounts().Get(s.t.Context(), e.AccountID)
		return err
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return a
}

// account reads an account by id.
func (s *site) account(id string) identity.Account {
	s.t.Helper()
	var a identity.Account
	if err := s.st.View(s.t.Context(), func(tx store.Tx) error {
		var err error
		a, err = tx.Accounts().Get(s.t.Context(), id)
		return err
	}); err != nil {
		s.t.Fatal(err)
	}
	return a
}

func (s *site) update(fn func(ctx context.Context, tx store.Tx) error) {
	s.t.Helper()
	ctx := s.t.Context()
	if err := s.st.Update(ctx, func(tx store.Tx) error { return fn(ctx, tx) }); err != nil {
		s.t.Fatal(err)
	}
}

// events returns the account's audit entries of a type, newest first.
func (s *site) events(accountID, typ string) []store.AuditEntry {
	s.t.Helper()
	var out []store.AuditEntry
	if err := s.st.View(s.t.Context(), func(tx store.Tx) error {
		var err error
		out, err = tx.Audit().List(s.t.Context(), store.AuditQuery{AccountID: accountID, Type: typ, Limit: 1000})
		return err
	}); err != nil {
		s.t.Fatal(err)
	}
	return out
}

// mail delivers the due mails over SMTP and returns the recipient and the
// text of the next mail received, in order.
func (s *site) mail() (to, text string) {
	s.t.Helper()
	if _, failed, err := s.disp.Tick(s.t.Context()); err != nil || failed != 0 {
		s.t.Fatalf("mail: %d failed, %v", failed, err)
	}
	got := s.smtp.Received()
	if len(got) <= s.seen {
		s.t.Fatalf("the SMTP server has %d mails, all read", len(got))
	}
	m := got[s.seen]
	s.seen++
	if len(m.To) != 1 {
		s.t.Fatalf("mail to %v", m.To)
	}
	return m.To[0], m.Text(s.t)
}

// link returns the link the next mail received holds, checking its
// recipient and that it leads to this site's path.
func (s *site) link(to, path string) string {
	s.t.Helper()
	got, text := s.mail()
	if got != to {
		s.t.Fatalf("mail to %s, want %s:\n%s", got, to, text)
	}
	re := regexp.MustCompile(regexp.QuoteMeta(s.srv.URL+path) + `\?token=[A-Za-z0-9_%-]+`)
	link := re.FindString(text)
	if link == "" {
		s.t.Fatalf("no link to %s in the mail to %s:\n%s", path, to, text)
	}
	return link
}

// --- a browser reduced to HTTP -------------------------------------------

// visitor is a browser reduced to HTTP: its cookies, no redirects
// followed.
type visitor struct {
	t      *testing.T
	s      *site
	c      *http.Client
	header http.Header
}

func (s *site) visitor() *visitor {
	jar, _ := cookiejar.New(nil)
	return &visitor{t: s.t, s: s, header: http.Header{}, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// page is an answer with its body.
type page struct {
	*http.Response
	body string
}

// text is the body with its entities decoded.
func (p page) text() string { return html.UnescapeString(p.body) }

func (v *visitor) do(req *http.Request) page {
	v.t.Helper()
	for k, vs := range v.header {
		req.Header[k] = vs
	}
	res, err := v.c.Do(req)
	if err != nil {
		v.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return page{Response: res, body: string(b)}
}

func (v *visitor) get(path string) page {
	v.t.Helper()
	req, err := http.NewRequestWithContext(v.t.Context(), http.MethodGet, v.s.srv.URL+path, nil)
	if err != nil {
		v.t.Fatal(err)
	}
	return v.do(req)
}

// post posts form; headers are name, value pairs.
func (v *visitor) post(path string, form url.Values, headers ...string) page {
	v.t.Helper()
	req, err := http.NewRequestWithContext(v.t.Context(), http.MethodPost, v.s.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		v.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return v.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrf returns the CSRF token of a page's forms.
func (v *visitor) csrf(p page) string {
	v.t.Helper()
	m := csrfRE.FindStringSubmatch(p.body)
	if m == nil {
		v.t.Fatalf("no CSRF token in the page (%d):\n%s", p.StatusCode, p.body)
	}
	return html.UnescapeString(m[1])
}

// form posts to path with the CSRF token of the page at from, and the
// fields given as name, value pairs.
func (v *visitor) form(from, path string, fields ...string) page {
	v.t.Helper()
	f := url.Values{web.CSRFField: {v.csrf(v.get(from))}}
	for i := 0; i+1 < len(fields); i += 2 {
		f.Add(fields[i], fields[i+1])
	}
	return v.post(path, f)
}

// login logs in with the login page's form and the test password.
func (v *visitor) login(identifier string) {
	v.t.Helper()
	res := v.form(web.PathLogin, web.PathLogin, "identifier", identifier, "password", testPassword)
	if res.StatusCode != http.StatusSeeOther {
		v.t.Fatalf("login %s: %d\n%s", identifier, res.StatusCode, res.body)
	}
}

// session opens a session of the account in v's cookie jar without a
// password, as a login through an upstream provider does.
func (s *site) session(v *visitor, accountID string) {
	s.t.Helper()
	cookie := "test-session-" + accountID
	sum := sha256.Sum256([]byte(cookie))
	now := time.Now()
	s.update(func(ctx context.Context, tx store.Tx) error {
		ss := store.Session{Hash: sum[:], AccountID: accountID, AMR: []string{"fed"}, AuthTime: now, CreatedAt: now,
			LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := tx.Sessions().Create(ctx, &ss); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: web.EventSessionCreated, Actor: "test", AccountID: accountID,
			Data: map[string]any{"session_id": ss.ID, "amr": ss.AMR, "upstream": "oidc:campus-sso"}})
	})
	u, _ := url.Parse(s.srv.URL)
	v.c.Jar.SetCookies(u, []*http.Cookie{{Name: web.DefaultCookieName, Value: cookie, Path: "/"}})
}

// loggedIn is a visitor logged in as identifier.
func (s *site) loggedIn(identifier string) *visitor {
	v := s.visitor()
	v.login(identifier)
	return v
}

func wantStatus(t *testing.T, p page, status int) {
	t.Helper()
	if p.StatusCode != status {
		t.Fatalf("%s %s: %d, want %d\n%s", p.Request.Method, p.Request.URL, p.StatusCode, status, p.body)
	}
}

func wantIn(t *testing.T, p page, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(p.text(), s) {
			t.Errorf("%s %s lacks %q:\n%s", p.Request.Method, p.Request.URL, s, p.body)
		}
	}
}

func wantNotIn(t *testing.T, p page, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if strings.Contains(p.text(), s) {
			t.Errorf("%s %s shows %q:\n%s", p.Request.Method, p.Request.URL, s, p.body)
		}
	}
}

// wantRedirect checks a 303 to location.
func wantRedirect(t *testing.T, p page, location string) {
	t.Helper()
	if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != location {
		t.Fatalf("%s %s: %d to %q, want 303 to %q\n%s", p.Request.Method, p.Request.URL, p.StatusCode,
			p.Header.Get("Location"), location, p.body)
	}
}
