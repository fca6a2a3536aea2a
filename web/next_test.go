package web

import (
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/connectors/oidcup/oidcuptest"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

func TestLocalPath(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"/account", true},
		{"/account/sessions?done=others&n=2", true},
		{"/console/orgs/cpts-x/members?page=2#list", true},
		{"/account/%2F%2Fevil.example", true}, // a path of this site, escaped
		{"", false},
		{"account", false},
		{"//evil.example/x", false},
		{"/\\evil.example", false},
		{"/a\\b", false},
		{"/\t/evil.example", false},
		{"/\n/evil.example", false},
		{"/ /evil.example", false},
		{"/x\x7f", false},
		{"https://evil.example/", false},
		{"http:/account", false},
		{"javascript:alert(1)", false},
		{"/" + strings.Repeat("a", maxNext), false},
	} {
		got := LocalPath(tc.in)
		if (got != "") != tc.want || got != "" && got != tc.in {
			t.Errorf("LocalPath(%q) = %q, want ok=%v", tc.in, got, tc.want)
		}
	}
	if got := WithNext("/login", "/console"); got != "/login?next=%2Fconsole" {
		t.Errorf("WithNext = %q", got)
	}
	if got := WithNext("/login?x=1", "//evil.example"); got != "/login?x=1" {
		t.Errorf("WithNext of another site = %q", got)
	}
}

// TestLoginReturnsToNext: the login page goes back to the local path it
// was given, before and after logging in, and to nowhere else.
func TestLoginReturnsToNext(t *testing.T) {
	e := newEnv(t, options{})
	e.account("alice", "pw", identity.StatusActive)

	b := e.browser()
	form := b.get(PathLogin + "?next=" + url.QueryEscape("/account?x=1"))
	wantStatus(t, form, http.StatusOK)
	wantContains(t, form, `<input type="hidden" name="next" value="/account?x=1">`,
		`href="/login?lang=en&next=%2Faccount%3Fx%3D1"`) // the language switch keeps it
	res := b.post(PathLogin, url.Values{csrfField: {form.token(t)}, paramIdentifier: {"alice"}, paramPassword: {"pw"},
		ParamNext: {"/account?x=1"}})
	wantStatus(t, res, http.StatusSeeOther)
	if loc := res.Header.Get("Location"); loc != "/account?x=1" {
		t.Errorf("after login: Location %q", loc)
	}
	// Logged in, the login page sends straight there.
	if res := b.get(PathLogin + "?next=/account"); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/account" {
		t.Errorf("with a session: %d %q", res.StatusCode, res.Header.Get("Location"))
	}

	for _, next := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example", "/\t/evil.example"} {
		b := e.browser()
		form := b.get(PathLogin + "?next=" + url.QueryEscape(next))
		wantNotContains(t, form, `name="next"`)
		res := b.post(PathLogin, url.Values{csrfField: {form.token(t)}, paramIdentifier: {"alice"}, paramPassword: {"pw"},
			ParamNext: {next}})
		if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || loc != PathLogin {
			t.Errorf("next %q: %d to %q, want the login page", next, res.StatusCode, loc)
		}
		if res := b.get(PathLogin + "?next=" + url.QueryEscape(next)); res.StatusCode != http.StatusOK {
			t.Errorf("next %q with a session: %d %q", next, res.StatusCode, res.Header.Get("Location"))
		}
	}

	// An authorization request wins: the browser goes on to the platform.
	e.request("r1")
	b = e.browser()
	form = b.get(PathLogin + "?request=r1&next=/account")
	wantNotContains(t, form, `name="next"`)
	res = b.post(PathLogin, url.Values{csrfField: {form.token(t)}, paramIdentifier: {"alice"}, paramPassword: {"pw"},
		paramRequest: {"r1"}, ParamNext: {"/account"}})
	if loc := res.Header.Get("Location"); loc != callbackURL("r1") {
		t.Errorf("with a request: Location %q", loc)
	}
}

// addMembership gives an account a membership.
func (e *env) addMembership(accountID string, role identity.Role, state identity.MembershipState) {
	e.t.Helper()
	err := e.st.Update(e.t.Context(), func(tx store.Tx) error {
		if err := tx.Orgs().Put(e.t.Context(), &identity.Org{ID: "cpts-x", Name: "CPTS X"}); err != nil {
			return err
		}
		if err := tx.Memberships().Put(e.t.Context(), &identity.Membership{OrgID: "cpts-x", AccountID: accountID, Role: role, State: state}); err != nil {
			return err
		}
		return tx.Record(e.t.Context(), store.Event{Type: "test.seeded", Actor: "test", AccountID: accountID})
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// TestLoggedInLinks: without a destination, the logged-in page leads to
// My account, and to the console for coordinators only.
func TestLoggedInLinks(t *testing.T) {
	e := newEnv(t, options{deps: func(d *Deps) { d.AccountPath, d.ConsolePath = "/account", "/console" }})
	claire := e.account("claire", "pw", identity.StatusActive)
	e.addMembership(claire.ID, identity.RoleOrgAdmin, identity.MembershipValidated)
	nina := e.account("nina", "pw", identity.StatusActive)
	e.addMembership(nina.ID, identity.RoleMember, identity.MembershipValidated)

	b := e.browser()
	b.login("", "claire", "pw")
	wantContains(t, b.get(PathLogin), `<a href="/account">Mon compte</a>`, `<a href="/console">Console de coordination</a>`)
	b = e.browser()
	b.login("", "nina", "pw")
	p := b.get(PathLogin)
	wantContains(t, p, `<a href="/account">Mon compte</a>`)
	wantNotContains(t, p, "/console")

	// Without the paths, no links.
	plain := newEnv(t, options{})
	plain.account("claire", "pw", identity.StatusActive)
	b = plain.browser()
	b.login("", "claire", "pw")
	wantNotContains(t, b.get(PathLogin), "Mon compte")

	if _, err := New(Config{PublicURL: "http://x.example", Secret: testSecret},
		Deps{Store: e.st, Auth: e.auth, Requests: e.reqs, AccountPath: "https://evil.example/"}); err == nil {
		t.Error("an account path of another site was accepted")
	}
}

// TestFlowHeaderAccountLink: a flow page shows the link to My account in
// its header when a session is open, marked current on the account page.
func TestFlowHeaderAccountLink(t *testing.T) {
	e := newEnv(t, options{deps: func(d *Deps) { d.AccountPath = "/account" }})
	e.account("alice", "pw", identity.StatusActive)
	ft, err := ParseFlowTemplate(fstest.MapFS{"c.html": {Data: []byte(`{{define "content"}}<h1>{{.Title}}</h1>{{end}}`)}},
		template.FuncMap{}, "c.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/flow", "/account"} {
		e.engine.GET(path, func(c *gin.Context) { e.h.RenderFlow(c, http.StatusOK, ft, FlowView{Title: "Flow"}) })
	}
	b := e.browser()
	wantNotContains(t, b.get("/flow"), `class="account-nav"`)
	b.login("", "alice", "pw")
	wantContains(t, b.get("/flow"), `<nav class="account-nav" aria-label="Votre compte">`, `<a href="/account">Mon compte</a>`)
	wantContains(t, b.get("/account"), `<a href="/account" aria-current="page">Mon compte</a>`)
}

// TestSelfServiceSessions: an account's open sessions are listed from its
// events; one or all the others end, each with its event; another
// account's session cannot be named.
func TestSelfServiceSessions(t *testing.T) {
	e := newEnv(t, options{})
	alice := e.account("alice", "pw", identity.StatusActive)
	e.account("bob", "pw", identity.StatusActive)
	ctx := t.Context()

	browsers := []*browser{e.browser(), e.browser(), e.browser()}
	for _, b := range browsers {
		b.login("", "alice", "pw")
		e.clock.Advance(1)
	}
	bb := e.browser()
	bb.login("", "bob", "pw")
	// One logged out: not listed.
	logout := browsers[2].get(PathLogin)
	browsers[2].post(PathLogout, url.Values{csrfField: {logout.token(t)}})

	list, err := e.h.ListSessions(ctx, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	current := func(b *browser) string {
		s, ok := e.sessionOf(b.cookie(DefaultCookieName))
		if !ok {
			return ""
		}
		return s.ID
	}
	if len(list) != 2 || list[0].ID != current(browsers[1]) || list[1].ID != current(browsers[0]) {
		t.Fatalf("sessions %+v", list)
	}
	if !list[0].ExpiresAt.Equal(list[0].CreatedAt.Add(DefaultSessionLifetime)) || list[0].AMR[0] != "pwd" {
		t.Errorf("session %+v", list[0])
	}

	// Bob's session is not Alice's to end.
	if err := e.h.RevokeSession(ctx, alice.ID, current(bb), RevokeSignedOut); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another account's session: %v", err)
	}
	if err := e.h.RevokeSession(ctx, alice.ID, list[1].ID, RevokeSignedOut); err != nil {
		t.Fatal(err)
	}
	if current(browsers[0]) != "" {
		t.Error("the session ended is still valid")
	}
	if err := e.h.RevokeSession(ctx, alice.ID, list[1].ID, RevokeSignedOut); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ending it again: %v", err)
	}

	// A third browser, then all but browsers[1].
	b3 := e.browser()
	b3.login("", "alice", "pw")
	var n int
	err = e.st.Update(ctx, func(tx store.Tx) error {
		var err error
		n, err = e.h.RevokeOtherSessions(ctx, tx, alice.ID, current(browsers[1]), RevokeOthers)
		return err
	})
	if err != nil || n != 1 {
		t.Fatalf("RevokeOtherSessions: %d, %v", n, err)
	}
	if current(b3) != "" || current(browsers[1]) == "" || current(bb) == "" {
		t.Error("wrong sessions ended")
	}
	reasons := map[string]int{}
	for _, ev := range e.events(EventSessionRevoked) {
		var d struct{ Reason string }
		_ = json.Unmarshal(ev.Data, &d)
		reasons[d.Reason]++
	}
	if reasons[RevokeSignedOut] != 1 || reasons[RevokeOthers] != 1 || reasons[revokeLogout] != 1 {
		t.Errorf("revocation events %v", reasons)
	}

	// Past their lifetime, sessions are no longer listed.
	e.clock.Advance(DefaultSessionLifetime)
	if list, err := e.h.ListSessions(ctx, alice.ID); err != nil || len(list) != 0 {
		t.Errorf("after the lifetime: %v, %v", list, err)
	}
}

// TestCheckPassword: the current password is checked with the login
// form's authenticator, for the account itself.
func TestCheckPassword(t *testing.T) {
	e := newEnv(t, options{})
	alice := e.account("alice", "pw", identity.StatusActive)
	bob := e.account("bob", "pw-bob", identity.StatusActive)
	ctx := context.Background()
	if err := e.h.CheckPassword(ctx, alice.ID, "pw"); err != nil {
		t.Errorf("right password: %v", err)
	}
	if err := e.h.CheckPassword(ctx, alice.ID, "pw-bob"); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("wrong password: %v", err)
	}
	// A login that leads to another account is not this account's.
	e.auth.mu.Lock()
	e.auth.accounts["alice"] = fakeCred{accountID: bob.ID, password: "pw"}
	e.auth.mu.Unlock()
	if err := e.h.CheckPassword(ctx, alice.ID, "pw"); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("password of another account: %v", err)
	}
}

// TestUpstreamLoginReturnsToNext: a login through an upstream provider
// keeps the return path in its sealed cookie, and goes back there; the
// form shown to link an unknown identity carries it too.
func TestUpstreamLoginReturnsToNext(t *testing.T) {
	u := newUpstreamEnv(t, upOptions{})
	a := u.account("alice", "pw", identity.StatusActive)
	u.link(a.ID, ada.Subject)

	b := u.browser()
	login := b.get(PathLogin + "?next=/account")
	wantContains(t, login, `href="/login/upstream/campus-sso?next=%2Faccount"`)
	start := b.get(upstreamPath(sso) + "?next=/account")
	wantStatus(t, start, http.StatusSeeOther)
	p := b.get(u.callbackOf(start))
	if loc := p.Header.Get("Location"); p.StatusCode != http.StatusSeeOther || loc != "/account" {
		t.Errorf("after the upstream login: %d %q", p.StatusCode, loc)
	}

	// An identity linked to no account: the form to link it keeps the
	// return path, and so does its password login.
	b = u.browser()
	u.provider.SetUser(oidcuptest.User{Subject: "u-new", Email: "new@univ-test.fr", Name: "New"})
	p = b.get(u.callbackOf(b.get(upstreamPath(sso) + "?next=/account")))
	wantContains(t, p, `<input type="hidden" name="next" value="/account">`)
	res := b.post(PathLogin, url.Values{csrfField: {p.token(t)}, paramIdentifier: {"alice"}, paramPassword: {"pw"}, ParamNext: {"/account"}})
	if loc := res.Header.Get("Location"); loc != "/account" {
		t.Errorf("after linking: %d %q", res.StatusCode, loc)
	}
}

// TestHelpURLValidated: help_url is an http(s) page or a mailto: address.
func TestHelpURLValidated(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"", true},
		{"https://assistance.univ-test.example/merge", true},
		{"mailto:assistance@univ-test.example", true},
		{"javascript:alert(1)", false},
		{"/help", false},
		{"mailto:", false},
	} {
		err := Config{PublicURL: "https://canonid.example", Secret: testSecret, HelpURL: tc.url}.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("help_url %q: %v", tc.url, err)
		}
	}
}
