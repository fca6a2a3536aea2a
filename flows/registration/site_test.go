package registration

import (
	"context"
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

	"github.com/canonid/canonid/authn"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/notify"
	"github.com/canonid/canonid/notify/notifytest"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
	"github.com/canonid/canonid/web"
)

// site is canonid's server reduced to the pages of seed 003, over SQLite on
// 127.0.0.1: the real login pages (web, authn), the registration pages and
// the coordinators' console. Mail is queued in the store (the recorder
// also hands the tests what each call queued) and delivered, when a test
// ticks the dispatcher, over a real SMTP conversation.
type site struct {
	t    *testing.T
	st   store.Store
	svc  *Service
	rec  *recorder
	srv  *httptest.Server
	smtp *notifytest.Server
	mail *notify.Dispatcher
}

// newSite starts the site with lists of pageSize members a page.
func newSite(t *testing.T, pageSize int) *site {
	t.Helper()
	st := storetest.OpenSQLite(t)
	gin.SetMode(gin.ReleaseMode)
	engine := gin.New()
	srv := httptest.NewServer(engine)
	t.Cleanup(srv.Close)
	s := &site{t: t, st: st, srv: srv, smtp: notifytest.Start(t)}

	logger := slog.New(slog.DiscardHandler)
	mc := notify.Config{Driver: notify.DriverSMTP, From: "CPTS <noreply@cpts.example>", SiteName: "Inzee",
		Secret: "0123456789abcdef0123456789abcdef-test", Location: time.UTC,
		SMTP: notify.SMTPConfig{Host: "127.0.0.1", Port: s.smtp.Port, CAFile: s.smtp.CAFile}}
	q, err := notify.NewQueue(mc)
	if err != nil {
		t.Fatal(err)
	}
	drv, err := notify.NewDriver(mc, logger)
	if err != nil {
		t.Fatal(err)
	}
	if s.mail, err = notify.NewDispatcher(st, mc, drv, logger); err != nil {
		t.Fatal(err)
	}
	s.rec = &recorder{q: q}
	if s.svc, err = New(st, s.rec, nil, DirDocuments{Dir: t.TempDir()}, Config{PublicURL: srv.URL, Location: time.UTC}); err != nil {
		t.Fatal(err)
	}
	pages, err := web.New(web.Config{PublicURL: srv.URL, Secret: []byte("0123456789abcdef0123456789abcdef")},
		web.Deps{Store: st, Auth: authn.New(st, nil, logger), Requests: noRequests{}, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	pages.Mount(engine)
	h, err := NewHandler(s.svc, pages, func(*http.Request) (store.APIToken, bool) { return store.APIToken{}, false }, logger)
	if err != nil {
		t.Fatal(err)
	}
	h.MountPages(engine)
	h.mountConsole(engine, pages, pageSize)

	for _, o := range []identity.Org{{ID: "cpts-x", Name: "CPTS X", Kind: "cpts"}, {ID: "cpts-y", Name: "CPTS Y", Kind: "cpts"}} {
		s.update(func(ctx context.Context, tx store.Tx) error {
			if err := tx.Orgs().Put(ctx, &o); err != nil {
				return err
			}
			return tx.Record(ctx, store.Event{Type: identity.EventOrgUpserted, Actor: "test", OrgID: o.ID})
		})
	}
	return s
}

func (s *site) update(fn func(ctx context.Context, tx store.Tx) error) {
	s.t.Helper()
	ctx := s.t.Context()
	if err := s.st.Update(ctx, func(tx store.Tx) error { return fn(ctx, tx) }); err != nil {
		s.t.Fatal(err)
	}
}

// person creates an active account with a verified address, the test
// password and a membership of org with role and state.
func (s *site) person(login, given, family, address, org string, role identity.Role, state identity.MembershipState) identity.Account {
	s.t.Helper()
	hash, err := authn.HashPassword(testPassword)
	if err != nil {
		s.t.Fatal(err)
	}
	a := identity.Account{Status: identity.StatusActive, Login: login, GivenName: given, FamilyName: family,
		DisplayName: given + " " + family, PasswordHash: hash}
	s.update(func(ctx context.Context, tx store.Tx) error {
		a := a // the closure may run again
		if err := tx.Accounts().Create(ctx, &a); err != nil {
			return err
		}
		if err := tx.Record(ctx, store.Event{Type: identity.EventAccountCreated, Actor: "test", AccountID: a.ID}); err != nil {
			return err
		}
		e := identity.Email{AccountID: a.ID, Address: address, Verified: true, Primary: true, Source: "test"}
		if err := tx.Emails().Add(ctx, &e); err != nil {
			return err
		}
		m := identity.Membership{OrgID: org, AccountID: a.ID, Role: role, State: state}
		if err := tx.Memberships().Put(ctx, &m); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: identity.EventMembershipAdded, Actor: "test", AccountID: a.ID, OrgID: org})
	})
	var out identity.Account
	if err := s.st.View(s.t.Context(), func(tx store.Tx) error {
		var err error
		out, err = tx.Accounts().GetByLogin(s.t.Context(), login)
		return err
	}); err != nil {
		s.t.Fatal(err)
	}
	return out
}

// register registers a person into org through the service and returns
// their link token.
func (s *site) register(org, address, given, family string) string {
	s.t.Helper()
	var got []notify.Message
	ctx := context.WithValue(s.t.Context(), txMessages{}, &got)
	if err := s.svc.Register(ctx, org, address, given, family, "", "fr"); err != nil {
		s.t.Fatal(err)
	}
	if len(got) != 1 {
		s.t.Fatalf("register %s: %d mails", address, len(got))
	}
	return tokenOf(s.t, got[0])
}

// member registers and confirms a person (address verified, password set,
// pending validation) and returns their account.
func (s *site) member(org, address, given, family string) identity.Account {
	s.t.Helper()
	if _, err := s.svc.Confirm(s.t.Context(), s.register(org, address, given, family), testPassword); err != nil {
		s.t.Fatal(err)
	}
	return s.account(address)
}

// account reads the account holding an address.
func (s *site) account(address string) identity.Account {
	s.t.Helper()
	var a identity.Account
	err := s.st.View(s.t.Context(), func(tx store.Tx) error {
		accs, err := tx.Accounts().List(s.t.Context(), store.AccountQuery{Text: address})
		if err == nil && len(accs) == 1 {
			a = accs[0]
		} else if err == nil {
			s.t.Fatalf("%d accounts hold %s", len(accs), address)
		}
		return err
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return a
}

func (s *site) membership(org, accountID string) identity.Membership {
	s.t.Helper()
	var m identity.Membership
	if err := s.st.View(s.t.Context(), func(tx store.Tx) error {
		var err error
		m, err = tx.Memberships().Get(s.t.Context(), org, accountID)
		return err
	}); err != nil {
		s.t.Fatal(err)
	}
	return m
}

// deliver sends the queued mails over SMTP and checks that want went out.
func (s *site) deliver(want int) {
	s.t.Helper()
	sent, failed, err := s.mail.Tick(s.t.Context())
	if err != nil || sent != want || failed != 0 {
		s.t.Fatalf("mail: sent %d, failed %d, %v; want %d sent", sent, failed, err, want)
	}
}

// lastMail returns the body of the last mail the SMTP server received
// (quoted-printable soft breaks undone) and checks its recipient.
func (s *site) lastMail(to string) string {
	s.t.Helper()
	mails := s.smtp.Received()
	if len(mails) == 0 {
		s.t.Fatal("no mail received")
	}
	m := mails[len(mails)-1]
	if len(m.To) != 1 || m.To[0] != to {
		s.t.Fatalf("last mail to %v, want %s", m.To, to)
	}
	return strings.NewReplacer("=\r\n", "", "=3D", "=").Replace(string(m.Data))
}

// visitor is a browser reduced to HTTP: its cookies, no redirects followed.
type visitor struct {
	t    *testing.T
	base string
	c    *http.Client
}

func (s *site) visitor() *visitor {
	jar, _ := cookiejar.New(nil)
	return &visitor{t: s.t, base: s.srv.URL, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// answer is an HTTP answer with its body.
type answer struct {
	*http.Response
	Body string
}

func (v *visitor) do(req *http.Request) answer {
	v.t.Helper()
	res, err := v.c.Do(req)
	if err != nil {
		v.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return answer{Response: res, Body: string(b)}
}

func (v *visitor) get(path string) answer {
	v.t.Helper()
	req, err := http.NewRequestWithContext(v.t.Context(), http.MethodGet, v.base+path, nil)
	if err != nil {
		v.t.Fatal(err)
	}
	return v.do(req)
}

// post posts form; headers are name, value pairs.
func (v *visitor) post(path string, form url.Values, headers ...string) answer {
	v.t.Helper()
	req, err := http.NewRequestWithContext(v.t.Context(), http.MethodPost, v.base+path, strings.NewReader(form.Encode()))
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
func (v *visitor) csrf(a answer) string {
	v.t.Helper()
	m := csrfRE.FindStringSubmatch(a.Body)
	if m == nil {
		v.t.Fatalf("no CSRF token in the page (%d):\n%s", a.StatusCode, a.Body)
	}
	return m[1]
}

// login logs in with the login page's form.
func (v *visitor) login(identifier string) {
	v.t.Helper()
	page := v.get(web.PathLogin)
	res := v.post(web.PathLogin, url.Values{web.CSRFField: {v.csrf(page)}, "identifier": {identifier}, "password": {testPassword}})
	if res.StatusCode != http.StatusSeeOther {
		v.t.Fatalf("login %s: %d\n%s", identifier, res.StatusCode, res.Body)
	}
}

func wantStatus(t *testing.T, a answer, status int) {
	t.Helper()
	if a.StatusCode != status {
		t.Fatalf("%s %s: %d, want %d\n%s", a.Request.Method, a.Request.URL.Path, a.StatusCode, status, a.Body)
	}
}

func wantIn(t *testing.T, a answer, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(a.Body, s) {
			t.Errorf("%s %s lacks %q:\n%s", a.Request.Method, a.Request.URL, s, a.Body)
		}
	}
}

func wantNotIn(t *testing.T, a answer, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if strings.Contains(a.Body, s) {
			t.Errorf("%s %s shows %q:\n%s", a.Request.Method, a.Request.URL, s, a.Body)
		}
	}
}
