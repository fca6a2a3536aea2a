package admin

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"mime/multipart"
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
	"go.yaml.in/yaml/v3"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/authn"
	"github.com/canonid/canonid/connectors"
	"github.com/canonid/canonid/connectors/csvimport"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/imports"
	"github.com/canonid/canonid/ingest"
	"github.com/canonid/canonid/mapping"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
	"github.com/canonid/canonid/web"
)

// testPassword is every test person's password.
const testPassword = "correct horse battery staple 42"

// adminLogin is the login listed as an admin.
const adminLogin = "sophie.support"

// site is canonid's server reduced to the login pages and the console,
// over SQLite on 127.0.0.1, with the real services: accounts, imports
// (one csv connector, "ars-occitanie"), a directory connector ("campus",
// an in-memory directory) and two propagation targets ("lms", "crm").
type site struct {
	t   *testing.T
	st  store.Store
	svc *accounts.Service
	h   *Handler
	srv *httptest.Server
	dir *fakeDir
	// now is the console's clock; nil is time.Now.
	now func() time.Time
}

// newSite starts the site with lists of pageSize rows a page.
func newSite(t *testing.T, pageSize int) *site {
	t.Helper()
	st := storetest.OpenSQLite(t)
	gin.SetMode(gin.ReleaseMode)
	engine := gin.New()
	srv := httptest.NewServer(engine)
	t.Cleanup(srv.Close)
	s := &site{t: t, st: st, srv: srv, dir: newFakeDir()}
	logger := slog.New(slog.DiscardHandler)

	pages, err := web.New(web.Config{PublicURL: srv.URL, Secret: []byte("0123456789abcdef0123456789abcdef")},
		web.Deps{Store: st, Auth: authn.New(st, nil, logger), Requests: noRequests{}, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	pages.Mount(engine)
	policies := accounts.DefaultConfig()
	s.svc = accounts.New(st, policies, logger)
	imp := imports.New(st, []imports.Connector{arsConnector(t)}, policies.Precedence, logger)
	spec, _ := mapping.Preset("supann")
	m, err := mapping.Compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	campus := Connector{Name: "campus", Interval: 15 * time.Minute, FullEvery: 24 * time.Hour,
		Open: func() (connectors.Connector, *ingest.Ingester, error) {
			in := ingest.New(st, ingest.Source{Name: "ldap:campus", Mapping: m, Config: ingest.Config{EmailVerified: &yes}, KeepName: true},
				policies.Precedence, logger)
			return s.dir, in, nil
		}}
	s.h, err = New(Config{Admins: []string{"  Sophie.Support ", "nobody.else"}, PageSize: pageSize, Location: time.UTC},
		Deps{Store: st, Accounts: s.svc, Policies: policies, Imports: imp, Connectors: []Connector{campus},
			Targets: []string{"lms", "crm"}, Pages: pages, Owner: "test:1", Logger: logger,
			Now: func() time.Time {
				if s.now != nil {
					return s.now()
				}
				return time.Now()
			}})
	if err != nil {
		t.Fatal(err)
	}
	s.h.Mount(engine)
	t.Cleanup(s.h.Close)

	s.update(func(ctx context.Context, tx store.Tx) error {
		o := identity.Org{ID: "univ-test", Name: "Université Test", Kind: "university"}
		if err := tx.Orgs().Put(ctx, &o); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: identity.EventOrgUpserted, Actor: "test", OrgID: o.ID})
	})
	return s
}

// arsConnector is the agency file connector of docs/imports.md.
func arsConnector(t testing.TB) imports.Connector {
	t.Helper()
	var spec mapping.Spec
	if err := yaml.Unmarshal([]byte(`{family_name: Nom, given_name: Prénom, birth_date: {from: ["Date de naissance"], required: true}, email: {from: [Mail], required: true}}`), &spec); err != nil {
		t.Fatal(err)
	}
	m, err := mapping.Compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	no := false
	cfg := ingest.Config{EmailVerified: &no, Correlate: []ingest.CorrelateRule{ingest.Rule(identity.LookupEmail), ingest.Rule(identity.LookupNameBirthDate)}}
	return imports.Connector{Name: "ars-occitanie", Mapping: m, Ingest: cfg, File: csvimport.Config{KeyColumns: []string{"Mail"}}}
}

func (s *site) update(fn func(ctx context.Context, tx store.Tx) error) {
	s.t.Helper()
	ctx := s.t.Context()
	if err := s.st.Update(ctx, func(tx store.Tx) error { return fn(ctx, tx) }); err != nil {
		s.t.Fatal(err)
	}
}

func (s *site) view(fn func(ctx context.Context, tx store.Tx) error) {
	s.t.Helper()
	ctx := s.t.Context()
	if err := s.st.View(ctx, func(tx store.Tx) error { return fn(ctx, tx) }); err != nil {
		s.t.Fatal(err)
	}
}

// person describes an account to create.
type person struct {
	login, given, family, birth string
	status                      identity.Status
	// source is the provenance of the names and the birth date, and of
	// the address; link, when set, is the external id of a link of that
	// source.
	source, link string
	email        string
	verified     bool
	org          string
	attrs        map[string][]string
}

// create creates an active account (unless p says otherwise) with the test
// password, its address, link and membership, and returns it.
func (s *site) create(p person) identity.Account {
	s.t.Helper()
	hash, err := authn.HashPassword(testPassword)
	if err != nil {
		s.t.Fatal(err)
	}
	if p.status == "" {
		p.status = identity.StatusActive
	}
	if p.source == "" {
		p.source = "admin"
	}
	var out identity.Account
	s.update(func(ctx context.Context, tx store.Tx) error {
		a := identity.Account{Status: p.status, Login: p.login, GivenName: p.given, FamilyName: p.family, BirthDate: p.birth,
			PasswordHash: hash, Attributes: maps.Clone(p.attrs), Provenance: map[string]string{}}
		for f, v := range map[string]string{"given_name": p.given, "family_name": p.family, "birth_date": p.birth} {
			if v != "" {
				a.Provenance[f] = p.source
			}
		}
		for f := range p.attrs {
			a.Provenance[f] = p.source
		}
		if err := tx.Accounts().Create(ctx, &a); err != nil {
			return err
		}
		if err := tx.Record(ctx, store.Event{Type: identity.EventAccountCreated, Actor: "test", AccountID: a.ID}); err != nil {
			return err
		}
		if p.email != "" {
			e := identity.Email{AccountID: a.ID, Address: p.email, Verified: p.verified, Primary: p.verified, Source: p.source}
			if err := tx.Emails().Add(ctx, &e); err != nil {
				return err
			}
		}
		if p.link != "" {
			l := identity.Link{Source: p.source, ExternalID: p.link, AccountID: a.ID, Status: identity.LinkActive}
			if err := tx.Links().Create(ctx, &l); err != nil {
				return err
			}
		}
		if p.org != "" {
			m := identity.Membership{OrgID: p.org, AccountID: a.ID, Role: identity.RoleMember, State: identity.MembershipValidated}
			if err := tx.Memberships().Put(ctx, &m); err != nil {
				return err
			}
			if err := tx.Record(ctx, store.Event{Type: identity.EventMembershipAdded, Actor: "test", AccountID: a.ID, OrgID: p.org}); err != nil {
				return err
			}
		}
		out = a
		return nil
	})
	return s.account(out.ID)
}

// account reads an account as stored.
func (s *site) account(id string) identity.Account {
	s.t.Helper()
	var a identity.Account
	s.view(func(ctx context.Context, tx store.Tx) error {
		var err error
		a, err = tx.Accounts().Get(ctx, id)
		return err
	})
	return a
}

// people creates the cast of the tests: the admin, a person who is not
// one, and Franck Cavel twice (the campus directory's account and the
// agency's), whom duplicate detection pairs.
func (s *site) people() (admin, user, franck, franck2 identity.Account) {
	s.t.Helper()
	admin = s.create(person{login: adminLogin, given: "Sophie", family: "Support", email: "sophie@support.example", verified: true})
	user = s.create(person{login: "paul.martin", given: "Paul", family: "Martin", email: "paul.martin@example.org", verified: true})
	franck = s.create(person{login: "franck.cavel", given: "Franck", family: "Cavel", birth: "1990-05-12", source: "ldap:campus",
		link: "uuid-franck", email: "franck.cavel@univ-test.fr", verified: true, org: "univ-test",
		attrs: map[string][]string{"affiliation": {"student"}}})
	franck2 = s.create(person{login: "franck.cavel3", given: "FRANCK", family: "CAVEL", birth: "1990-05-12", source: "csv:ars-occitanie",
		link: "franck.cavel@perso.example", email: "franck.cavel@perso.example", attrs: map[string][]string{"phone_pro": {"0467000000"}}})
	return admin, user, franck, franck2
}

// events returns the audit events of a type, newest first.
func (s *site) events(typ string) []store.AuditEntry {
	s.t.Helper()
	var out []store.AuditEntry
	s.view(func(ctx context.Context, tx store.Tx) error {
		var err error
		out, err = tx.Audit().List(ctx, store.AuditQuery{Type: typ})
		return err
	})
	return out
}

// deadLetters records dead letters of a target, as the dispatcher does.
func (s *site) deadLetters(target string, accountIDs ...string) {
	s.t.Helper()
	now := time.Now()
	s.update(func(ctx context.Context, tx store.Tx) error {
		if _, ok, err := tx.Propagation().Lease(ctx, target, "test", now, now.Add(time.Minute)); err != nil || !ok {
			return err
		}
		p := store.PropagationProgress{Target: target, Owner: "test", Now: now, LastError: "HTTP 400: userName is invalid"}
		for _, id := range accountIDs {
			p.Dead = append(p.Dead, store.DeadLetter{Target: target, AccountID: id, EventType: identity.EventAccountUpdated,
				Attempts: 5, LastError: "HTTP 400: userName is invalid"})
		}
		if err := tx.Propagation().Commit(ctx, p); err != nil {
			return err
		}
		return tx.Propagation().Release(ctx, target, "test")
	})
}

// wait waits for the sync of a connector started from the console to end.
func (s *site) wait(connector string) {
	s.t.Helper()
	s.h.mu.Lock()
	j := s.h.jobs[connector]
	s.h.mu.Unlock()
	if j == nil {
		s.t.Fatalf("no sync of %s started", connector)
	}
	<-j.done
}

// noRequests: the tests log in without an OpenID client.
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

// fakeDir is an in-memory directory. With block set, List waits, once it
// has read its entries, until block is closed, after closing reached.
type fakeDir struct {
	mu      sync.Mutex
	entries map[string]connectors.Entry
	block   chan struct{}
	reached chan struct{}
}

func newFakeDir() *fakeDir { return &fakeDir{entries: map[string]connectors.Entry{}} }

func (d *fakeDir) Name() string { return "campus" }

// put adds or replaces an entry: a SupAnn person.
func (d *fakeDir) put(uuid, uid, given, sn, mail string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.entries[uuid] = connectors.Entry{ExternalID: uuid, Name: "uid=" + uid + ",ou=people,dc=univ-test,dc=fr",
		Attributes: map[string][]string{"uid": {uid}, "givenName": {given}, "sn": {sn}, "mail": {mail}}, ModifiedAt: time.Now()}
}

func (d *fakeDir) List(ctx context.Context, fn func(connectors.Entry) error) error {
	d.mu.Lock()
	var es []connectors.Entry
	for _, id := range slices.Sorted(maps.Keys(d.entries)) {
		es = append(es, d.entries[id])
	}
	block, reached := d.block, d.reached
	d.mu.Unlock()
	for _, e := range es {
		if err := fn(e); err != nil {
			return err
		}
	}
	if block != nil {
		close(reached)
		select {
		case <-block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

var _ connectors.Lister = (*fakeDir)(nil)

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

func (v *visitor) get(path string, headers ...string) answer {
	v.t.Helper()
	req, err := http.NewRequestWithContext(v.t.Context(), http.MethodGet, v.base+path, nil)
	if err != nil {
		v.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
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

// upload posts a multipart form with a file.
func (v *visitor) upload(path string, fields url.Values, name, content string) answer {
	v.t.Helper()
	var body strings.Builder
	w := multipart.NewWriter(&body)
	for k, vs := range fields {
		for _, val := range vs {
			if err := w.WriteField(k, val); err != nil {
				v.t.Fatal(err)
			}
		}
	}
	fw, err := w.CreateFormFile("file", name)
	if err != nil {
		v.t.Fatal(err)
	}
	if _, err := io.WriteString(fw, content); err != nil {
		v.t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		v.t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(v.t.Context(), http.MethodPost, v.base+path, strings.NewReader(body.String()))
	if err != nil {
		v.t.Fatal(err)
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
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

// token returns a CSRF token of this browser, from a console page.
func (v *visitor) token() string {
	v.t.Helper()
	return v.csrf(v.get(PathAccounts))
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
		t.Fatalf("%s %s: %d, want %d\n%s", a.Request.Method, a.Request.URL, a.StatusCode, status, a.Body)
	}
}

// wantRedirect checks a 303 to a path (and query, when want has one).
func wantRedirect(t *testing.T, a answer, want string) {
	t.Helper()
	wantStatus(t, a, http.StatusSeeOther)
	if got := a.Header.Get("Location"); got != want {
		t.Fatalf("%s %s: redirect to %q, want %q", a.Request.Method, a.Request.URL, got, want)
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
