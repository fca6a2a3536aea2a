package flowstest

import (
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/canonid/canonid/web"
)

// csrfCookie is the name of the login pages' CSRF cookie.
const csrfCookie = "canonid_csrf"

// fuzzURL is where the fuzz targets' requests go: they call the handler,
// with no server.
const fuzzURL = "http://canonid.test"

// FuzzBrowser is one browser of a fuzz target, which calls the pages'
// handler directly: the CSRF cookie and token its first visit to the login
// page got and, once it logged in, its session cookie.
type FuzzBrowser struct {
	h                              http.Handler
	csrfCookie, csrfToken, session string
}

// NewFuzzBrowser gets the login page from h, as a new browser does, and
// keeps the CSRF cookie it sets and the token of its form.
func NewFuzzBrowser(tb testing.TB, h http.Handler) *FuzzBrowser {
	tb.Helper()
	b := &FuzzBrowser{h: h}
	rec := b.serve(httptest.NewRequest(http.MethodGet, fuzzURL+web.PathLogin, nil))
	b.csrfCookie = cookieOf(rec, csrfCookie)
	m := csrfRE.FindStringSubmatch(rec.Body.String())
	if b.csrfCookie == "" || m == nil {
		tb.Fatalf("no CSRF cookie or token in the login form:\n%s", rec.Body)
	}
	b.csrfToken = html.UnescapeString(m[1])
	return b
}

// Login logs in with the login page's form: the requests sent loggedIn
// then carry the session.
func (b *FuzzBrowser) Login(tb testing.TB, login, password string) {
	tb.Helper()
	rec := b.Post(web.PathLogin, url.Values{"identifier": {login}, "password": {password}}, true, false)
	if b.session = cookieOf(rec, web.DefaultCookieName); rec.Code != http.StatusSeeOther || b.session == "" {
		tb.Fatalf("%s's login: %d\n%s", login, rec.Code, rec.Body)
	}
}

// Get gets target (a path and query) with the browser's CSRF cookie and,
// when loggedIn, its session.
func (b *FuzzBrowser) Get(target string, loggedIn bool) *httptest.ResponseRecorder {
	return b.send(httptest.NewRequest(http.MethodGet, fuzzURL+target, nil), loggedIn)
}

// Post posts form to path as Get gets, its CSRF field set to the browser's
// token when csrf, to a wrong one otherwise.
func (b *FuzzBrowser) Post(path string, form url.Values, csrf, loggedIn bool) *httptest.ResponseRecorder {
	form.Set(web.CSRFField, "wrong")
	if csrf {
		form.Set(web.CSRFField, b.csrfToken)
	}
	req := httptest.NewRequest(http.MethodPost, fuzzURL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.send(req, loggedIn)
}

// send sends req with the browser's cookies.
func (b *FuzzBrowser) send(req *http.Request, loggedIn bool) *httptest.ResponseRecorder {
	req.AddCookie(&http.Cookie{Name: csrfCookie, Value: b.csrfCookie})
	if loggedIn && b.session != "" {
		req.AddCookie(&http.Cookie{Name: web.DefaultCookieName, Value: b.session})
	}
	return b.serve(req)
}

func (b *FuzzBrowser) serve(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	b.h.ServeHTTP(rec, req)
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

// SamePage tells whether two answers are the same page to the person:
// the same status and the same FuzzMain.
func SamePage(a, b *httptest.ResponseRecorder) bool {
	return a.Code == b.Code && FuzzMain(a.Body.String()) == FuzzMain(b.Body.String())
}

// attrRE matches the attributes that carry a page's token or key back
// (links and form values) and its fresh CSRF token.
var attrRE = regexp.MustCompile(`\b(href|value|action)="[^"]*"`)

// FuzzMain is what a page says: its <main>, with the values of links and
// form fields dropped, for the fuzz targets to compare two pages.
func FuzzMain(body string) string {
	i, j := strings.Index(body, "<main>"), strings.Index(body, "</main>")
	if i < 0 || j < i {
		return body
	}
	return attrRE.ReplaceAllString(body[i:j], `$1=""`)
}
