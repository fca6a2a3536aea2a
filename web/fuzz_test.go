package web

import (
	"bytes"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
)

// fuzzHost is the public host of the login pages FuzzLogin drives.
const fuzzHost = "canonid.test"

// Operations of FuzzLogin, chosen by op%fuzzOps.
const (
	fuzzPostLogin = iota
	fuzzGetLogin
	fuzzPostActivation
	fuzzPostLogout
	fuzzGetPath // GET of the return URL as a path, with identifier as X-Forwarded-Prefix
	fuzzOps
)

// CSRF modes of FuzzLogin, chosen by op/fuzzOps%3: the browser's cookie
// with the token of its form, the cookie with the fuzzed token, or the
// fuzzed token without a cookie.
const (
	fuzzValidCSRF = iota
	fuzzForgedCSRF
	fuzzNoCookie
)

// fuzzLoggedIn, added to op, sends alice's session cookie too (op/30%2).
const fuzzLoggedIn = fuzzOps * 3

// returnParams are the names under which sites pass a return URL. The
// login pages follow next, to a path of this site only, and ignore the
// others; none may send the browser off the site.
var returnParams = []string{"next", "return_to", "returnTo", "redirect_uri", "return_url", "continue", "url"}

// FuzzLogin sends the login pages any form: POST /login, GET /login,
// POST /login/activation and POST /logout with fuzzed login, password,
// CSRF token, request id, activation ticket and return URL (passed under
// every usual name, in the query and in the form), and GETs any path (the
// return URL's) with any X-Forwarded-Prefix, from a browser with or
// without alice's login session. No answer is a 5xx or a panic; no
// redirection leaves the site; only a POST /login with the form's CSRF
// token opens a session; and a ticket that is not the one the
// pending-activation page gave is refused with the expired-form page,
// sending nothing.
func FuzzLogin(f *testing.F) {
	fx := newLoginFuzz(f)
	for _, s := range []struct {
		op                                                uint8
		identifier, password, csrf, request, next, ticket string
	}{
		{fuzzPostLogin, "alice", "pw", "", "r1", "https://evil.example/", ""},
		{fuzzPostLogin, " ALICE ", "pw", "", "", "//evil.example", ""},
		{fuzzPostLogin, "alice", "wrong", "", "r1", "/\\evil.example", ""},
		{fuzzPostLogin, "paul", "pw", "", "r1", "javascript:alert(1)", ""},
		{fuzzPostLogin, "paul", "pw", "", "", "/\t/evil.example", ""},
		{fuzzPostLogin, "alice", "pw", "", "unknown", "http://canonid.test@evil.example/", ""},
		{fuzzPostLogin, "", "", "", "", "", ""},
		{fuzzPostLogin, strings.Repeat("a", maxIdentifier+1), "pw", "", "r2", "", ""},
		{fuzzPostLogin + fuzzOps*fuzzForgedCSRF, "alice", "pw", "not-a-token", "r1", "https://evil.example/", ""},
		{fuzzPostLogin + fuzzOps*fuzzForgedCSRF, "alice", "pw", strings.Repeat("A", 86), "r1", "", ""},
		{fuzzPostLogin + fuzzOps*fuzzNoCookie, "alice", "pw", "", "r1", "", ""},
		{fuzzGetLogin, "en", "", "", "r1", "https://evil.example/", ""},
		{fuzzGetLogin, "xx", "", "", "r2", "//evil.example/%2e%2e", ""},
		{fuzzGetLogin, "", "", "", "../../etc/passwd", "", ""},
		{fuzzPostActivation, "", "", "", "", "https://evil.example/", fx.ticket},
		{fuzzPostActivation, "", "", "", "", "https://evil.example/", fx.tamper(fx.ticket)},
		{fuzzPostActivation, "", "", "", "", "", "x.y"},
		{fuzzPostActivation, "", "", "", "", "", "."},
		{fuzzPostActivation, "", "", "", "", "", fx.forgedTicket(fx.paul)},
		{fuzzPostActivation + fuzzOps*fuzzForgedCSRF, "", "", "x", "", "", fx.ticket},
		{fuzzPostLogout, "", "", "", "r1", "https://evil.example/", ""},
		{fuzzPostLogout + fuzzOps*fuzzNoCookie, "", "", "", "r1\r\nLocation: //evil.example", "", ""},
		{fuzzGetPath, "", "", "", "", "/login/", ""},
		{fuzzGetPath, "//evil.example", "", "", "", "/login/", ""},
		{fuzzGetPath, "", "", "", "", "//evil.example/login/", ""},
		{fuzzGetPath, "", "", "", "", "/\\evil.example/login/", ""},
		{fuzzGetPath, "", "", "", "", "/static/canonid.css/", ""},
		{fuzzGetPath, "", "", "", "", "/login/upstream/x/", ""},
		{fuzzGetLogin + fuzzLoggedIn, "", "", "", "", "/account?tab=emails", ""},
		{fuzzGetLogin + fuzzLoggedIn, "", "", "", "", "//evil.example", ""},
		{fuzzGetLogin + fuzzLoggedIn, "", "", "", "", "/\\evil.example", ""},
		{fuzzGetLogin + fuzzLoggedIn, "", "", "", "", "/\t/evil.example", ""},
		{fuzzGetLogin + fuzzLoggedIn, "", "", "", "", "/%2f/evil.example", ""},
		{fuzzGetLogin + fuzzLoggedIn, "", "", "", "", "/./..//evil.example", ""},
		{fuzzGetLogin + fuzzLoggedIn, "", "", "", "", "https://canonid.test/account", ""},
		{fuzzGetLogin + fuzzLoggedIn, "", "", "", "r1", "//evil.example", ""},
		{fuzzPostLogin + fuzzLoggedIn, "alice", "pw", "", "", "/..%2f..%2f/evil.example", ""},
		{fuzzPostLogout + fuzzLoggedIn, "", "", "", "", "//evil.example", ""},
	} {
		f.Add(s.op, s.identifier, s.password, s.csrf, s.request, s.next, s.ticket)
	}
	f.Fuzz(func(t *testing.T, op uint8, identifier, password, csrf, request, next, ticket string) {
		mode, loggedIn := op/fuzzOps%3, op/fuzzLoggedIn%2 == 1
		method, path := http.MethodPost, PathLogin
		switch op % fuzzOps {
		case fuzzGetLogin, fuzzGetPath:
			method = http.MethodGet
		case fuzzPostActivation:
			path = PathActivation
		case fuzzPostLogout:
			path = PathLogout
		}
		if op%fuzzOps == fuzzGetPath {
			path = "/" + strings.TrimPrefix(next, "/")
		}
		// send sends the request with this ticket.
		send := func(ticket string) *httptest.ResponseRecorder {
			query, form := url.Values{}, url.Values{}
			for _, p := range returnParams {
				form.Set(p, next)
				query.Set(p, next)
			}
			var body io.Reader
			if method == http.MethodPost {
				form.Set(paramIdentifier, identifier)
				form.Set(paramPassword, password)
				form.Set(paramRequest, request)
				form.Set(paramTicket, ticket)
				form.Set(csrfField, csrf)
				if mode == fuzzValidCSRF {
					form.Set(csrfField, fx.csrfToken)
				}
				body = strings.NewReader(form.Encode())
			} else if op%fuzzOps == fuzzGetLogin {
				query.Set(paramRequest, request)
				query.Set(langParam, identifier)
			}
			req := httptest.NewRequest(method, "http://"+fuzzHost+"/?"+query.Encode(), body)
			req.URL.Path = path
			if body != nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			if op%fuzzOps == fuzzGetPath {
				req.Header.Set("X-Forwarded-Prefix", identifier)
			}
			if mode != fuzzNoCookie {
				req.AddCookie(&http.Cookie{Name: csrfCookie, Value: fx.csrfCookie})
			}
			if loggedIn {
				req.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: fx.session})
			}
			rec := httptest.NewRecorder()
			fx.engine.ServeHTTP(rec, req)
			return rec
		}
		resends := fx.activation.count()
		rec := send(ticket)

		where := fmt.Sprintf("%s %s (op %d, CSRF mode %d, logged in %v)", method, path, op%fuzzOps, mode, loggedIn)
		if rec.Code >= 500 {
			t.Fatalf("%s: status %d\n%s", where, rec.Code, rec.Body)
		}
		if rec.Code >= 300 && rec.Code < 400 {
			loc := rec.Header().Get("Location")
			if loc == "" || offsite(loc) {
				t.Fatalf("%s: %d redirects off the site: Location %q", where, rec.Code, loc)
			}
		}
		opened := false
		for _, c := range rec.Result().Cookies() {
			opened = opened || c.Name == DefaultCookieName && c.Value != "" && c.MaxAge >= 0
		}
		if opened && (op%fuzzOps != fuzzPostLogin || mode != fuzzValidCSRF) {
			t.Fatalf("%s: a session was opened: %v", where, rec.Header()["Set-Cookie"])
		}
		if op%fuzzOps == fuzzPostActivation && mode == fuzzValidCSRF && !fx.genuineTicket(ticket) {
			if rec.Code != http.StatusForbidden || fx.activation.count() != resends {
				t.Fatalf("%s: forged ticket %q: status %d, %d resends (was %d)\n%s", where, ticket, rec.Code,
					fx.activation.count(), resends, rec.Body)
			}
			if unknown := send("unknown"); !bytes.Equal(fx.norm(rec.Body.Bytes()), fx.norm(unknown.Body.Bytes())) {
				t.Fatalf("%s: forged ticket %q: the page differs from an unknown ticket's:\n%s\n---\n%s", where, ticket, rec.Body, unknown.Body)
			}
		}
	})
}

// offsite reports whether a Location sends the browser to another site:
// an absolute URL of another host or scheme, or one a browser reads as
// such (scheme-relative //host, /\host, with tabs or line breaks, which
// browsers drop, anywhere).
func offsite(loc string) bool {
	clean := strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, loc)
	clean = strings.TrimLeft(clean, " \x00\x1f")
	if strings.HasPrefix(clean, "//") || strings.HasPrefix(clean, "/\\") || strings.HasPrefix(clean, "\\") {
		return true
	}
	u, err := url.Parse(clean)
	if err != nil {
		return true
	}
	if u.Scheme == "" && u.Host == "" {
		return false
	}
	return u.Scheme != "http" || u.Host != fuzzHost || u.User != nil
}

// loginFuzz is the login pages over SQLite, with fakes, for FuzzLogin:
// the CSRF cookie and token of one browser, and the activation ticket the
// pending-activation page gave it.
type loginFuzz struct {
	engine     *gin.Engine
	h          *Handler
	activation *countingActivation
	csrfCookie string
	csrfToken  string
	session    string // alice's session cookie
	paul       string // the account pending activation
	ticket     string
}

func newLoginFuzz(f *testing.F) *loginFuzz {
	f.Helper()
	st := storetest.OpenSQLite(f)
	clk := newClock()
	auth := &fakeAuth{accounts: map[string]fakeCred{}}
	reqs := &fakeRequests{requests: map[string]LoginRequest{}, gates: map[string]*GateError{}}
	fx := &loginFuzz{activation: &countingActivation{}}
	lots := Rate{Events: 1 << 30, Per: time.Second} // the fuzzer tries a lot, from one address
	h, err := New(Config{PublicURL: "http://" + fuzzHost, Secret: testSecret,
		LoginRate: lots, LoginBurst: 1 << 30, IdentifierRate: lots, IdentifierBurst: 1 << 30},
		Deps{Store: st, Auth: auth, Requests: reqs, Now: clk.Now, Activation: fx.activation})
	if err != nil {
		f.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	fx.engine, fx.h = gin.New(), h
	h.Mount(fx.engine)
	for login, status := range map[string]identity.Status{"alice": identity.StatusActive, "paul": identity.StatusPendingActivation} {
		a := identity.Account{ID: uuid.NewString(), Status: status, Login: login, GivenName: "Test", FamilyName: login}
		err := st.Update(f.Context(), func(tx store.Tx) error {
			if err := tx.Accounts().Create(f.Context(), &a); err != nil {
				return err
			}
			return tx.Record(f.Context(), store.Event{Type: "test.seeded", Actor: "test", AccountID: a.ID})
		})
		if err != nil {
			f.Fatal(err)
		}
		auth.accounts[login] = fakeCred{accountID: a.ID, password: "pw"}
		if status == identity.StatusPendingActivation {
			fx.paul = a.ID
			reqs.gates[a.ID] = &GateError{Gate: GatePendingActivation}
		}
	}
	reqs.add(LoginRequest{ID: "r1", ClientID: "formation", ClientName: "Plateforme de formation"})
	reqs.add(LoginRequest{ID: "r2", ClientID: "formation", Prompt: []string{"login"}, LoginHint: "alice"})

	// The browser's CSRF cookie and token, from the login form.
	rec := httptest.NewRecorder()
	fx.engine.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://"+fuzzHost+PathLogin, nil))
	for _, c := range rec.Result().Cookies() {
		if c.Name == csrfCookie {
			fx.csrfCookie = c.Value
		}
	}
	m := csrfRE.FindStringSubmatch(rec.Body.String())
	if fx.csrfCookie == "" || m == nil {
		f.Fatalf("no CSRF cookie or token in the login form:\n%s", rec.Body)
	}
	fx.csrfToken = html.UnescapeString(m[1])

	// paul's password gives the pending-activation page and its ticket.
	p := fx.post(PathLogin, url.Values{paramIdentifier: {"paul"}, paramPassword: {"pw"}, paramRequest: {"r1"}})
	tm := ticketRE.FindStringSubmatch(p.Body.String())
	if p.Code != http.StatusForbidden || tm == nil {
		f.Fatalf("paul's login: %d, no ticket:\n%s", p.Code, p.Body)
	}
	fx.ticket = html.UnescapeString(tm[1])

	alice := fx.post(PathLogin, url.Values{paramIdentifier: {"alice"}, paramPassword: {"pw"}})
	for _, c := range alice.Result().Cookies() {
		if c.Name == DefaultCookieName {
			fx.session = c.Value
		}
	}
	if alice.Code != http.StatusSeeOther || fx.session == "" {
		f.Fatalf("alice's login: %d\n%s", alice.Code, alice.Body)
	}
	return fx
}

// post sends a form with the browser's CSRF cookie and token.
func (fx *loginFuzz) post(path string, form url.Values) *httptest.ResponseRecorder {
	form.Set(csrfField, fx.csrfToken)
	req := httptest.NewRequest(http.MethodPost, "http://"+fuzzHost+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: csrfCookie, Value: fx.csrfCookie})
	rec := httptest.NewRecorder()
	fx.engine.ServeHTTP(rec, req)
	return rec
}

// norm drops what differs between two renderings of a page: its fresh
// CSRF tokens.
func (fx *loginFuzz) norm(body []byte) []byte {
	return csrfRE.ReplaceAll(body, []byte(`name="csrf_token" value=""`))
}

// genuineTicket reports whether ticket is the one the page gave, in any
// of the spellings that decode to the same bytes.
func (fx *loginFuzz) genuineTicket(ticket string) bool {
	decode := func(s string) (payload, mac []byte, ok bool) {
		enc, sig, found := strings.Cut(s, ".")
		p, err1 := b64.DecodeString(enc)
		m, err2 := b64.DecodeString(sig)
		return p, m, found && err1 == nil && err2 == nil
	}
	p, m, ok := decode(ticket)
	wp, wm, _ := decode(fx.ticket)
	return ok && bytes.Equal(p, wp) && bytes.Equal(m, wm)
}

// tamper changes one character in the middle of s.
func (fx *loginFuzz) tamper(s string) string {
	b := []byte(s)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// forgedTicket is a ticket for account id, well formed and unexpired but
// signed with another key.
func (fx *loginFuzz) forgedTicket(id string) string {
	payload := id + ".9999999999"
	return b64.EncodeToString([]byte(payload)) + "." + b64.EncodeToString([]byte(strings.Repeat("k", 32)))
}

// countingActivation counts the activation links resent.
type countingActivation struct{ fakeActivation }

// count returns how many links were resent.
func (a *countingActivation) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.resends)
}
