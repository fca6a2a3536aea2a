package emailmerge

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/notify"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
	"github.com/canonid/canonid/web"
)

// Modes of FuzzConfirmPage, chosen by op: GET or POST (op%2), with
// alice's login session or none (op/2%2), with the form's CSRF token or a
// wrong one (op/4%2).
const (
	fuzzPost     = 1
	fuzzNoLogin  = 2
	fuzzBadCSRF  = 4
	unknownToken = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
)

// FuzzConfirmPage opens and posts the page of a mailed link with any
// token: the answer is never a 5xx or a panic, and unless the token is one
// of alice's own pending links, it is the very page an unknown token gets
// (same status, same text): bob's link, alice's expired one, a prefix, a
// longer or a re-cased token tell nothing more.
func FuzzConfirmPage(f *testing.F) {
	fx := newConfirmFuzz(f)
	for _, tok := range []string{
		"", " ", unknownToken, fx.bobs, fx.expired, fx.aliceVerify + " ", " " + fx.aliceMerge,
		fx.aliceVerify[:len(fx.aliceVerify)-1], fx.aliceMerge + "A", strings.ToUpper(fx.aliceVerify), strings.ToLower(fx.aliceMerge),
		strings.Repeat("A", 128), strings.Repeat("A", 129), "%00", "\x00", "é", "../../login", "token=x&token=y",
	} {
		for op := range uint8(8) {
			f.Add(op, tok, "1")
		}
	}
	f.Add(uint8(fuzzPost), fx.bobs, "0")
	f.Add(uint8(fuzzPost), fx.bobs, "true")
	f.Fuzz(func(t *testing.T, op uint8, token, confirmMerge string) {
		if op&fuzzNoLogin == 0 && (token == fx.aliceVerify || token == fx.aliceMerge) {
			t.Skip("one of alice's own links: it may act")
		}
		got := fx.confirm(op, token, confirmMerge)
		if got.Code >= 500 {
			t.Fatalf("op %d, token %q: status %d\n%s", op, token, got.Code, got.Body)
		}
		want := fx.confirm(op, unknownToken, confirmMerge)
		if got.Code != want.Code || fuzzMain(got.Body.String()) != fuzzMain(want.Body.String()) {
			t.Fatalf("op %d: token %q gets another page than an unknown one:\n%d %s\n--- unknown token:\n%d %s",
				op, token, got.Code, fuzzMain(got.Body.String()), want.Code, fuzzMain(want.Body.String()))
		}
	})
}

// confirmFuzz is the flow's page over SQLite, with the login pages: the
// CSRF cookie and token of one browser, alice's login session in it, and
// the tokens of the links mailed.
type confirmFuzz struct {
	engine     *gin.Engine
	csrfCookie string
	csrfToken  string
	session    string // alice's session cookie
	// aliceVerify verifies an address only alice gave; aliceMerge one
	// carol holds (a merge); expired is alice's, expired; bobs is bob's.
	aliceVerify, aliceMerge, expired, bobs string
}

func newConfirmFuzz(f *testing.F) *confirmFuzz {
	f.Helper()
	st := storetest.OpenSQLite(f)
	clk := newClock()
	acc := accounts.New(st, accounts.DefaultConfig(), discardLog())
	acc.SetClock(clk.Now)
	q, err := notify.NewQueue(notify.Config{Driver: notify.DriverLog, From: "Université de Test <noreply@univ-test.example>",
		SiteName: "Université de Test", Secret: "0123456789abcdef0123456789abcdef-test", Location: time.UTC})
	if err != nil {
		f.Fatal(err)
	}
	q.SetClock(clk.Now)
	mails := &linkRecorder{q: q}
	lots := Limit{Events: 1 << 30, Per: time.Second, Burst: 1 << 30} // the fuzzer tries a lot, from one address
	svc, err := New(st, acc, mails, Config{PublicURL: "http://canonid.test", Location: time.UTC,
		IPLimit: lots, AccountLimit: lots, SendLimit: lots})
	if err != nil {
		f.Fatal(err)
	}
	svc.SetClock(clk.Now)
	auth := &fakeAuth{accounts: map[string][2]string{}}
	pages, err := web.New(web.Config{PublicURL: "http://canonid.test", Secret: []byte("0123456789abcdef0123456789abcdef")},
		web.Deps{Store: st, Auth: auth, Requests: noRequests{}, Now: clk.Now, Logger: discardLog()})
	if err != nil {
		f.Fatal(err)
	}
	h, err := NewHandler(svc, pages, discardLog())
	if err != nil {
		f.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	fx := &confirmFuzz{engine: gin.New()}
	pages.Mount(fx.engine)
	h.MountPages(fx.engine)

	ids := map[string]string{}
	for _, login := range []string{"alice", "bob", "carol"} {
		a, err := acc.Create(f.Context(), accounts.NewAccount{Login: login, GivenName: "Test", FamilyName: login,
			Emails: []accounts.NewEmail{{Address: login + "@univ-test.fr", Verified: true}}}, "test")
		if err != nil {
			f.Fatal(err)
		}
		ids[login] = a.ID
		auth.accounts[login] = [2]string{a.ID, "pw"}
	}
	add := func(login, address string) string {
		f.Helper()
		if _, err := svc.AddAddress(f.Context(), ids[login], address, "fr"); err != nil {
			f.Fatal(err)
		}
		return mails.lastToken(f)
	}
	fx.expired = add("alice", "alice.old@example.org")
	clk.Advance(DefaultLinkTTL + time.Minute)
	fx.aliceVerify = add("alice", "alice.new@example.org")
	fx.aliceMerge = add("alice", "carol@univ-test.fr")
	fx.bobs = add("bob", "bob.new@example.org")

	// One browser: its CSRF cookie and token, then alice's session.
	rec := fx.serve(httptest.NewRequest(http.MethodGet, "http://canonid.test"+web.PathLogin, nil))
	fx.csrfCookie = cookieOf(rec, "canonid_csrf")
	m := csrfRE.FindStringSubmatch(rec.Body.String())
	if fx.csrfCookie == "" || m == nil {
		f.Fatalf("no CSRF cookie or token in the login form:\n%s", rec.Body)
	}
	fx.csrfToken = html.UnescapeString(m[1])
	rec = fx.post(web.PathLogin, url.Values{"identifier": {"alice"}, "password": {"pw"}}, true, false)
	if fx.session = cookieOf(rec, web.DefaultCookieName); rec.Code != http.StatusSeeOther || fx.session == "" {
		f.Fatalf("alice's login: %d\n%s", rec.Code, rec.Body)
	}
	return fx
}

// confirm opens (GET) or posts the page of a link with token, as op says.
func (fx *confirmFuzz) confirm(op uint8, token, confirmMerge string) *httptest.ResponseRecorder {
	loggedIn := op&fuzzNoLogin == 0
	if op&fuzzPost == 0 {
		req := httptest.NewRequest(http.MethodGet, "http://canonid.test"+PathConfirm+"?"+url.Values{fieldToken: {token}}.Encode(), nil)
		fx.addCookies(req, loggedIn)
		return fx.serve(req)
	}
	return fx.post(PathConfirm, url.Values{fieldToken: {token}, fieldConfirmMerge: {confirmMerge}}, op&fuzzBadCSRF == 0, loggedIn)
}

// post sends a form from the browser, with its CSRF token or a wrong one.
func (fx *confirmFuzz) post(path string, form url.Values, csrf, loggedIn bool) *httptest.ResponseRecorder {
	form.Set(web.CSRFField, "wrong")
	if csrf {
		form.Set(web.CSRFField, fx.csrfToken)
	}
	req := httptest.NewRequest(http.MethodPost, "http://canonid.test"+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	fx.addCookies(req, loggedIn)
	return fx.serve(req)
}

// addCookies gives the request the browser's cookies: CSRF, and alice's
// session when loggedIn.
func (fx *confirmFuzz) addCookies(req *http.Request, loggedIn bool) {
	req.AddCookie(&http.Cookie{Name: "canonid_csrf", Value: fx.csrfCookie})
	if loggedIn && fx.session != "" {
		req.AddCookie(&http.Cookie{Name: web.DefaultCookieName, Value: fx.session})
	}
}

// serve runs a request through the pages.
func (fx *confirmFuzz) serve(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	fx.engine.ServeHTTP(rec, req)
	return rec
}

// cookieOf returns the value a response sets for cookie name, "" if none.
func cookieOf(rec *httptest.ResponseRecorder, name string) string {
	for _, c := range rec.Result().Cookies() {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// attrRE matches the attributes that carry a page's token back (links
// and form values) and its fresh CSRF token.
var attrRE = regexp.MustCompile(`\b(href|value|action)="[^"]*"`)

// fuzzMain is what a page says: its <main>, with the values of links and
// form fields dropped.
func fuzzMain(body string) string {
	i, j := strings.Index(body, "<main>"), strings.Index(body, "</main>")
	if i < 0 || j < i {
		return body
	}
	return attrRE.ReplaceAllString(body[i:j], `$1=""`)
}

// linkRecorder is notify's queue that keeps the links it queues.
type linkRecorder struct {
	q     *notify.Queue
	mu    sync.Mutex
	links []string
}

func (r *linkRecorder) Enqueue(ctx context.Context, tx store.Tx, m notify.Message) error {
	if err := r.q.Enqueue(ctx, tx, m); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.links = append(r.links, m.Data["link"])
	return nil
}

// lastToken returns the token of the last link queued.
func (r *linkRecorder) lastToken(f *testing.F) string {
	f.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.links) == 0 {
		f.Fatal("no link queued")
	}
	u, err := url.Parse(r.links[len(r.links)-1])
	if err != nil || u.Query().Get(fieldToken) == "" {
		f.Fatalf("no token in link %q", r.links[len(r.links)-1])
	}
	return u.Query().Get(fieldToken)
}
