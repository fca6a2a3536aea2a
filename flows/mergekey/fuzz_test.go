package mergekey

import (
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/store/storetest"
	"github.com/canonid/canonid/web"
)

// Modes of FuzzMergePage, chosen by op: with alice's login session or
// none (op%2), with the form's CSRF token or a wrong one (op/2%2).
const (
	fuzzNoLogin = 1
	fuzzBadCSRF = 2
	unknownKey  = "0000-0000-0000-0000-0000"
)

// FuzzMergePage posts the merge page with any key, confirmation and
// versions: the answer is never a 5xx or a panic, and unless the key is a
// live one (bob's, carol's newest, or alice's own, in any spelling
// normaliseKey reads the same), the page is the very one an unknown key
// gets (same status, same text): carol's replaced key, dave's expired one
// or a near miss tell nothing more. An empty key is asked for again.
func FuzzMergePage(f *testing.F) {
	fx := newMergeFuzz(f)
	near := func(k string) []string {
		return []string{k[:19], k + "0", k[:19] + "U", formatKey(k[1:] + k[:1])}
	}
	keys := []string{unknownKey, fx.replaced, fx.expired, "", "   ", "not a key", strings.Repeat("0", 129), "\x00", "ÉÉÉÉ-ÉÉÉÉ"}
	for _, k := range fx.live {
		keys = append(keys, near(k)...)
	}
	for _, k := range keys {
		for op := range uint8(4) {
			f.Add(op, k, "", "", "")
			f.Add(op, k, "1", "1", "1")
		}
	}
	f.Add(uint8(0), fx.replaced, "1", "-1", "99999999999999999999")
	f.Fuzz(func(t *testing.T, op uint8, key, confirm, survivorVersion, retiredVersion string) {
		loggedIn := op&fuzzNoLogin == 0
		if n, ok := normaliseKey(key); loggedIn && ok && slices.Contains(fx.live, n) {
			t.Skip("a live key: it may merge")
		}
		form := url.Values{fieldKey: {key}, fieldConfirm: {confirm}, fieldSurvivorVersion: {survivorVersion}, fieldRetiredVersion: {retiredVersion}}
		got := fx.post(form, op&fuzzBadCSRF == 0, loggedIn)
		if got.Code >= 500 {
			t.Fatalf("op %d, key %q: status %d\n%s", op, key, got.Code, got.Body)
		}
		if strings.TrimSpace(key) == "" {
			if loggedIn && op&fuzzBadCSRF == 0 && got.Code != http.StatusBadRequest {
				t.Fatalf("empty key %q: status %d, want 400\n%s", key, got.Code, got.Body)
			}
			return
		}
		form.Set(fieldKey, unknownKey)
		want := fx.post(form, op&fuzzBadCSRF == 0, loggedIn)
		if got.Code != want.Code || fuzzMain(got.Body.String()) != fuzzMain(want.Body.String()) {
			t.Fatalf("op %d: key %q gets another page than an unknown one:\n%d %s\n--- unknown key:\n%d %s",
				op, key, got.Code, fuzzMain(got.Body.String()), want.Code, fuzzMain(want.Body.String()))
		}
	})
}

// mergeFuzz is the flow's pages over SQLite, with the login pages: the
// CSRF cookie and token of one browser, alice's login session in it, and
// the keys of the other accounts.
type mergeFuzz struct {
	engine     *gin.Engine
	csrfCookie string
	csrfToken  string
	session    string // alice's session cookie
	// live are the keys that work, normalised: bob's, carol's newest and
	// alice's own; replaced is carol's first, expired dave's.
	live              []string
	replaced, expired string
}

func newMergeFuzz(f *testing.F) *mergeFuzz {
	f.Helper()
	st := storetest.OpenSQLite(f)
	clk := &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	accts := accounts.New(st, accounts.DefaultConfig(), discard())
	accts.SetClock(clk.Now)
	lots := Limit{Events: 1 << 30, Per: time.Second, Burst: 1 << 30} // the fuzzer tries a lot, from one address
	svc, err := New(Config{IPLimit: lots, AccountLimit: lots}, Deps{Store: st, Accounts: accts, Now: clk.Now})
	if err != nil {
		f.Fatal(err)
	}
	auth := &fakeAuth{ids: map[string][2]string{}}
	pages, err := web.New(web.Config{PublicURL: "http://canonid.test", Secret: []byte("0123456789abcdef0123456789abcdef")},
		web.Deps{Store: st, Auth: auth, Requests: noRequests{}, Now: clk.Now, Logger: discard()})
	if err != nil {
		f.Fatal(err)
	}
	h, err := NewHandler(svc, HandlerDeps{Pages: pages, Logger: discard()})
	if err != nil {
		f.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	fx := &mergeFuzz{engine: gin.New()}
	pages.Mount(fx.engine)
	h.Mount(nil, fx.engine)

	ids := map[string]string{}
	for _, login := range []string{"alice", "bob", "carol", "dave"} {
		a, err := accts.Create(f.Context(), accounts.NewAccount{Login: login, GivenName: "Test", FamilyName: login,
			Emails: []accounts.NewEmail{{Address: login + "@univ-test.fr", Verified: true}}, Source: "self"}, "test")
		if err != nil {
			f.Fatal(err)
		}
		ids[login] = a.ID
		auth.ids[login] = [2]string{a.ID, "pw"}
	}
	generate := func(login string) string {
		f.Helper()
		k, _, err := svc.Generate(f.Context(), ids[login])
		if err != nil {
			f.Fatal(err)
		}
		n, ok := normaliseKey(k)
		if !ok {
			f.Fatalf("generated key %q does not read back", k)
		}
		return n
	}
	fx.expired = formatKey(generate("dave"))
	clk.Advance(DefaultTTL + time.Minute)
	fx.replaced = formatKey(generate("carol"))
	fx.live = []string{generate("bob"), generate("carol"), generate("alice")}

	// One browser: its CSRF cookie and token, then alice's session.
	rec := fx.serve(httptest.NewRequest(http.MethodGet, "http://canonid.test"+web.PathLogin, nil))
	fx.csrfCookie = cookieOf(rec, "canonid_csrf")
	m := csrfRE.FindStringSubmatch(rec.Body.String())
	if fx.csrfCookie == "" || m == nil {
		f.Fatalf("no CSRF cookie or token in the login form:\n%s", rec.Body)
	}
	fx.csrfToken = html.UnescapeString(m[1])
	rec = fx.postTo(web.PathLogin, url.Values{"identifier": {"alice"}, "password": {"pw"}}, true, false)
	if fx.session = cookieOf(rec, web.DefaultCookieName); rec.Code != http.StatusSeeOther || fx.session == "" {
		f.Fatalf("alice's login: %d\n%s", rec.Code, rec.Body)
	}
	return fx
}

// post sends the merge page's form.
func (fx *mergeFuzz) post(form url.Values, csrf, loggedIn bool) *httptest.ResponseRecorder {
	return fx.postTo(PathMergePage, form, csrf, loggedIn)
}

// postTo sends a form from the browser, with its CSRF token or a wrong
// one, and alice's session or none.
func (fx *mergeFuzz) postTo(path string, form url.Values, csrf, loggedIn bool) *httptest.ResponseRecorder {
	form.Set(web.CSRFField, "wrong")
	if csrf {
		form.Set(web.CSRFField, fx.csrfToken)
	}
	req := httptest.NewRequest(http.MethodPost, "http://canonid.test"+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: "canonid_csrf", Value: fx.csrfCookie})
	if loggedIn && fx.session != "" {
		req.AddCookie(&http.Cookie{Name: web.DefaultCookieName, Value: fx.session})
	}
	return fx.serve(req)
}

// serve runs a request through the pages.
func (fx *mergeFuzz) serve(req *http.Request) *httptest.ResponseRecorder {
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

// attrRE matches the attributes that carry a page's key back (links and
// form values) and its fresh CSRF token.
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
