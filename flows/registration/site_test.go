package registration

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/canonid/canonid/authn"
	"github.com/canonid/canonid/flows/flowstest"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/notify"
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
	*flowstest.Env
	svc  *Service
	rec  *recorder
	mail *flowstest.Mail
}

// newSite starts the site with lists of pageSize members a page.
func newSite(t *testing.T, pageSize int) *site {
	t.Helper()
	st := storetest.OpenSQLite(t)
	s := &site{Env: flowstest.NewEnv(t, st)}
	engine, srv := s.Engine, s.Server

	logger := flowstest.DiscardLogger()
	s.mail = flowstest.StartMail(t, st, mailConfig(notify.DriverSMTP), nil)
	s.rec = &recorder{q: s.mail.Queue}
	var err error
	if s.svc, err = New(st, s.rec, nil, DirDocuments{Dir: t.TempDir()}, Config{PublicURL: srv.URL, Location: time.UTC}); err != nil {
		t.Fatal(err)
	}
	// The real login pages: passwords checked by authn, the real clock.
	pages := flowstest.NewPages(t, srv.URL, st, authn.New(st, nil, logger), nil, nil)
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
	s.T.Helper()
	ctx := s.T.Context()
	if err := s.Store.Update(ctx, func(tx store.Tx) error { return fn(ctx, tx) }); err != nil {
		s.T.Fatal(err)
	}
}

// person creates an active account with a verified address, the test
// password and a membership of org with role and state.
func (s *site) person(login, given, family, address, org string, role identity.Role, state identity.MembershipState) identity.Account {
	s.T.Helper()
	hash, err := authn.HashPassword(testPassword)
	if err != nil {
		s.T.Fatal(err)
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
	if err := s.Store.View(s.T.Context(), func(tx store.Tx) error {
		var err error
		out, err = tx.Accounts().GetByLogin(s.T.Context(), login)
		return err
	}); err != nil {
		s.T.Fatal(err)
	}
	return out
}

// register registers a person into org through the service and returns
// their link token.
func (s *site) register(org, address, given, family string) string {
	s.T.Helper()
	var got []notify.Message
	ctx := context.WithValue(s.T.Context(), txMessages{}, &got)
	if err := s.svc.Register(ctx, org, address, given, family, "", "fr"); err != nil {
		s.T.Fatal(err)
	}
	if len(got) != 1 {
		s.T.Fatalf("register %s: %d mails", address, len(got))
	}
	return tokenOf(s.T, got[0])
}

// member registers and confirms a person (address verified, password set,
// pending validation) and returns their account.
func (s *site) member(org, address, given, family string) identity.Account {
	s.T.Helper()
	if _, err := s.svc.Confirm(s.T.Context(), s.register(org, address, given, family), testPassword); err != nil {
		s.T.Fatal(err)
	}
	return s.account(address)
}

// account reads the account holding an address.
func (s *site) account(address string) identity.Account {
	s.T.Helper()
	return accountHolding(s.T, s.Store, address)
}

func (s *site) membership(org, accountID string) identity.Membership {
	s.T.Helper()
	return membershipOf(s.T, s.Store, org, accountID)
}

// lastMail returns the body of the last mail the SMTP server received
// (quoted-printable soft breaks undone) and checks its recipient.
func (s *site) lastMail(to string) string {
	s.T.Helper()
	mails := s.mail.Server.Received()
	if len(mails) == 0 {
		s.T.Fatal("no mail received")
	}
	m := mails[len(mails)-1]
	if len(m.To) != 1 || m.To[0] != to {
		s.T.Fatalf("last mail to %v, want %s", m.To, to)
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
	return &visitor{t: s.T, base: s.Server.URL, c: &http.Client{Jar: jar,
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
