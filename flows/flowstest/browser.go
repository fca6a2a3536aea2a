package flowstest

import (
	"bytes"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/canonid/canonid/web"
)

// Browser is an HTTP client of one server with a cookie jar, not
// following redirects.
type Browser struct {
	T      *testing.T
	URL    string // the server's, before every path
	Client *http.Client
	// Header is sent with every request.
	Header http.Header
}

// NewBrowser returns a browser of the server at base URL, failing t.
func NewBrowser(t *testing.T, base string) *Browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &Browser{T: t, URL: base, Header: http.Header{}, Client: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Page is a response with its body read.
type Page struct {
	Status int
	Header http.Header
	Body   string // as sent
}

// Text is the body with HTML entities decoded.
func (p Page) Text() string { return html.UnescapeString(p.Body) }

// Main is the text of the page's <main>: what differs between pages, not
// the language switch link (which reloads the page's own URL).
func (p Page) Main() string {
	i, j := strings.Index(p.Body, "<main>"), strings.Index(p.Body, "</main>")
	if i < 0 || j < i {
		return p.Body
	}
	return html.UnescapeString(p.Body[i:j])
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// CSRF returns the CSRF token of the page's forms.
func (p Page) CSRF(t *testing.T) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", p.Body)
	}
	return html.UnescapeString(m[1])
}

// Do sends a request with body of contentType ("": none) and the
// browser's headers and cookies.
func (b *Browser) Do(method, path, contentType string, body io.Reader) Page {
	b.T.Helper()
	req, err := http.NewRequest(method, b.URL+path, body)
	if err != nil {
		b.T.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range b.Header {
		req.Header[k] = v
	}
	resp, err := b.Client.Do(req)
	if err != nil {
		b.T.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		b.T.Fatal(err)
	}
	return Page{Status: resp.StatusCode, Header: resp.Header, Body: string(raw)}
}

// Get gets path.
func (b *Browser) Get(path string) Page { b.T.Helper(); return b.Do(http.MethodGet, path, "", nil) }

// Post posts form to path.
func (b *Browser) Post(path string, form url.Values) Page {
	b.T.Helper()
	return b.Do(http.MethodPost, path, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
}

// PostJSON posts body as JSON to path.
func (b *Browser) PostJSON(path string, body any) Page {
	b.T.Helper()
	data, err := json.Marshal(body)
	if err != nil {
		b.T.Fatal(err)
	}
	return b.Do(http.MethodPost, path, "application/json", bytes.NewReader(data))
}

// Login logs the browser in with the login page's form.
func (b *Browser) Login(login, password string) {
	b.T.Helper()
	form := b.Get(web.PathLogin)
	if form.Status != http.StatusOK {
		b.T.Fatalf("GET /login: %d", form.Status)
	}
	p := b.Post(web.PathLogin, url.Values{web.CSRFField: {form.CSRF(b.T)}, "identifier": {login}, "password": {password}})
	if p.Status != http.StatusSeeOther {
		b.T.Fatalf("login %s: %d\n%s", login, p.Status, p.Body)
	}
}

// WantStatus fails t unless p has status.
func WantStatus(t *testing.T, p Page, status int) {
	t.Helper()
	if p.Status != status {
		t.Fatalf("status %d, want %d\n%s", p.Status, status, p.Body)
	}
}

// WantContains reports each of subs that p's text lacks.
func WantContains(t *testing.T, p Page, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(p.Text(), s) {
			t.Errorf("page lacks %q:\n%s", s, p.Body)
		}
	}
}
