package web

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/connectors/oidcup"
	"github.com/canonid/canonid/connectors/oidcup/oidcuptest"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
)

// sso is the upstream connector of the tests; its links have the source
// ssoSource.
const (
	sso       = "campus-sso"
	ssoSource = "oidc:" + sso
	ssoLabel  = "Université Test"
	testRef   = "req-7f3a"
)

// ada is who logs in at the upstream provider, unless a test says
// otherwise.
var ada = oidcuptest.User{Subject: "u-ada", Email: "ada@univ-test.fr", EmailVerified: true, Name: "Ada Lovelace"}

// upEnv is a login server with one upstream connector, to the in-process
// provider of oidcuptest.
type upEnv struct {
	*env
	provider *oidcuptest.Provider
	conn     *oidcup.Connector
}

type upOptions struct {
	store       store.Store
	linkByEmail bool
}

func newUpstreamEnv(t *testing.T, o upOptions) *upEnv {
	t.Helper()
	e := &env{t: t, st: o.store, clock: newClock(),
		auth: &fakeAuth{accounts: map[string]fakeCred{}},
		reqs: &fakeRequests{requests: map[string]LoginRequest{}, gates: map[string]*GateError{}},
	}
	if e.st == nil {
		e.st = storetest.OpenSQLite(t)
	}
	gin.SetMode(gin.ReleaseMode)
	engine := gin.New()
	e.srv = httptest.NewServer(engine)
	t.Cleanup(e.srv.Close)

	callback := UpstreamCallbackURL(e.srv.URL, sso)
	p := oidcuptest.New(t, oidcuptest.Client{ID: "canonid", Secret: "s3cret", RedirectURI: callback},
		oidcuptest.WithClock(e.clock.Now))
	p.SetUser(ada)
	conn, err := oidcup.New(t.Context(), oidcup.Config{
		Name: sso, Issuer: p.Issuer(), ClientID: "canonid", ClientSecret: "s3cret",
		DisplayName: ssoLabel, LinkByVerifiedEmail: o.linkByEmail,
	}, callback, nil, oidcup.WithClock(e.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Config{PublicURL: e.srv.URL, Secret: testSecret}, Deps{
		Store: e.st, Auth: e.auth, Requests: e.reqs, Now: e.clock.Now,
		UpstreamConnectors: []UpstreamConnector{conn},
		RequestID:          func(context.Context) string { return testRef },
	})
	if err != nil {
		t.Fatal(err)
	}
	h.Mount(engine)
	engine.GET("/authorize/callback", func(c *gin.Context) {
		s, ok := h.Session(c.Request)
		c.String(http.StatusOK, "callback %s session=%v account=%s", c.Query("id"), ok, s.AccountID)
	})
	e.h = h
	return &upEnv{env: e, provider: p, conn: conn}
}

// start clicks the provider's button for request (none when empty) and
// returns the redirect to the provider.
func (u *upEnv) start(b *browser, request string) page {
	u.t.Helper()
	p := b.get(upstreamHref(upstreamPath(sso), request))
	wantStatus(u.t, p, http.StatusSeeOther)
	return p
}

// callbackOf lets the provider authorize the redirect of start and
// returns the path (and query) it sends the browser back to.
func (u *upEnv) callbackOf(start page) string {
	u.t.Helper()
	return u.provider.Authorize(u.t, start.Header.Get("Location")).RequestURI()
}

// upstreamLogin logs in through the provider as user, for request, and
// returns the page of the callback.
func (u *upEnv) upstreamLogin(b *browser, request string, user oidcuptest.User) page {
	u.t.Helper()
	u.provider.SetUser(user)
	return b.get(u.callbackOf(u.start(b, request)))
}

// link links the upstream subject sub to an account, as an earlier login
// would have.
func (u *upEnv) link(accountID, sub string) {
	u.t.Helper()
	ctx := u.t.Context()
	err := u.st.Update(ctx, func(tx store.Tx) error {
		l := identity.Link{Source: ssoSource, ExternalID: sub, AccountID: accountID, Status: identity.LinkActive,
			Attributes: map[string][]string{"iss": {u.provider.Issuer()}, "sub": {sub}}}
		if err := tx.Links().Create(ctx, &l); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: "test.linked", Actor: "test", AccountID: accountID})
	})
	if err != nil {
		u.t.Fatal(err)
	}
}

// verifiedEmail gives an account a verified address.
func (u *upEnv) verifiedEmail(accountID, address string) {
	u.t.Helper()
	ctx := u.t.Context()
	err := u.st.Update(ctx, func(tx store.Tx) error {
		e := identity.Email{Address: address, AccountID: accountID, Verified: true, Primary: true, Source: "self",
			VerifiedAt: u.clock.Now()}
		if err := tx.Emails().Add(ctx, &e); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: "test.email", Actor: "test", AccountID: accountID})
	})
	if err != nil {
		u.t.Fatal(err)
	}
}

// linkOf returns the link of the upstream subject sub, ok false when none.
func (u *upEnv) linkOf(sub string) (identity.Link, bool) {
	u.t.Helper()
	ctx := u.t.Context()
	var l identity.Link
	err := u.st.View(ctx, func(tx store.Tx) error {
		var err error
		l, err = tx.Links().Get(ctx, ssoSource, sub)
		return err
	})
	if err != nil {
		if !strings.Contains(err.Error(), store.ErrNotFound.Error()) {
			u.t.Fatal(err)
		}
		return identity.Link{}, false
	}
	return l, true
}

// checkInvariants checks the store's identity invariants.
func (u *upEnv) checkInvariants() {
	u.t.Helper()
	ctx := u.t.Context()
	err := u.st.View(ctx, func(tx store.Tx) error {
		snap, err := tx.Snapshot(ctx)
		if err != nil {
			return err
		}
		return identity.CheckInvariants(snap)
	})
	if err != nil {
		u.t.Error(err)
	}
}

// jarCookie returns the browser's cookie of that name sent to path.
func jarCookie(b *browser, path, name string) string {
	u, _ := url.Parse(b.e.srv.URL + path)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// setJarCookie replaces the browser's cookie of that name and path.
func setJarCookie(b *browser, path, name, value string) {
	u, _ := url.Parse(b.e.srv.URL + path)
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: path}})
}

// tamper flips one bit of a base64url value's last full byte.
func tamper(v string) string {
	raw, err := b64.DecodeString(v)
	if err != nil || len(raw) == 0 {
		return v + "x"
	}
	raw[len(raw)/2] ^= 1
	return b64.EncodeToString(raw)
}

// wantLoggedIn checks that page p completed request as account, through
// the provider, and that the browser holds that account's session.
func (u *upEnv) wantLoggedIn(b *browser, p page, request, accountID string) {
	u.t.Helper()
	wantStatus(u.t, p, http.StatusSeeOther)
	if loc := p.Header.Get("Location"); loc != callbackURL(request) {
		u.t.Fatalf("Location %q, want %q", loc, callbackURL(request))
	}
	got := u.reqs.Completed()
	if len(got) == 0 {
		u.t.Fatal("no request completed")
	}
	last := got[len(got)-1]
	if last.requestID != request || last.accountID != accountID || !slices.Equal(last.amr, []string{amrFederated}) {
		u.t.Errorf("completed %+v, want %s by %s with amr [fed]", last, request, accountID)
	}
	if s, ok := u.sessionOf(b.cookie(DefaultCookieName)); !ok || s.AccountID != accountID {
		u.t.Errorf("session %+v, %v; want one of %s", s, ok, accountID)
	}
}

func TestUpstreamButtonsFromConnectors(t *testing.T) {
	u := newUpstreamEnv(t, upOptions{})
	u.request("r1")
	p := u.browser().get("/login?request=r1")
	wantContains(t, p, "Ou connectez-vous avec", `href="/login/upstream/campus-sso?request=r1"`, ssoLabel)
	wantNotContains(t, p, "link-notice")

	if got, want := UpstreamCallbackURL("https://id.univ-test.fr/", sso), "https://id.univ-test.fr/login/upstream/campus-sso/callback"; got != want {
		t.Errorf("UpstreamCallbackURL %q, want %q", got, want)
	}
	// Unknown providers.
	b := u.browser()
	wantStatus(t, b.get("/login/upstream/elsewhere"), http.StatusNotFound)
	wantContains(t, b.get("/login/upstream/elsewhere/callback"), "Fournisseur d'identité inconnu")
	// An unknown request stops before the provider.
	wantStatus(t, b.get("/login/upstream/campus-sso?request=gone"), http.StatusBadRequest)
}

func TestUpstreamConnectorsChecked(t *testing.T) {
	u := newUpstreamEnv(t, upOptions{})
	base := Deps{Store: u.st, Auth: u.auth, Requests: u.reqs}
	cfg := Config{PublicURL: u.srv.URL, Secret: testSecret}
	twice := base
	twice.UpstreamConnectors = []UpstreamConnector{u.conn, u.conn}
	if _, err := New(cfg, twice); err == nil || !strings.Contains(err.Error(), `"campus-sso" given twice`) {
		t.Errorf("New with a connector twice: %v", err)
	}
	nilConn := base
	nilConn.UpstreamConnectors = []UpstreamConnector{nil}
	if _, err := New(cfg, nilConn); err == nil {
		t.Error("New accepted a nil connector")
	}
	// Buttons given explicitly are kept as they are.
	explicit := base
	explicit.UpstreamConnectors = []UpstreamConnector{u.conn}
	explicit.Upstreams = []Upstream{}
	h, err := New(cfg, explicit)
	if err != nil || len(h.upstreams) != 0 {
		t.Errorf("New: %v, buttons %v", err, h.upstreams)
	}
	bad := cfg
	bad.CookieName = linkCookie
	if err := bad.Validate(); err == nil {
		t.Error("cookie_name may take the link cookie's name")
	}
}

func TestUpstreamStart(t *testing.T) {
	u := newUpstreamEnv(t, upOptions{})
	hour := time.Hour
	u.request("r1")
	u.request("r2", func(lr *LoginRequest) { lr.Prompt = []string{"login"} })
	u.request("r3", func(lr *LoginRequest) { lr.MaxAge = &hour })
	u.request("r4", func(lr *LoginRequest) { lr.Prompt = []string{"select_account"} })
	b := u.browser()
	p := u.start(b, "r1")
	loc, err := url.Parse(p.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), u.provider.Issuer()+"/authorize?") {
		t.Fatalf("redirect to %q", p.Header.Get("Location"))
	}
	q := loc.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("state") == "" || q.Get("nonce") == "" || q.Has("prompt") ||
		q.Get("redirect_uri") != u.srv.URL+"/login/upstream/campus-sso/callback" {
		t.Errorf("authorization request %v", q)
	}
	ck := setCookie(p.Response, upstreamCookie)
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/login/upstream/campus-sso" ||
		ck.MaxAge != int(oidcup.PendingTTL/time.Second) || ck.Secure {
		t.Fatalf("start cookie %+v: want HttpOnly, SameSite=Lax, the connector's path, 10 minutes", ck)
	}
	// The cookie is opaque: neither the state nor the verifier shows.
	raw, err := b64.DecodeString(ck.Value)
	if err != nil || strings.Contains(string(raw), q.Get("state")) || strings.Contains(string(raw), `"r1"`) {
		t.Error("the start cookie shows its content")
	}
	for req, want := range map[string]string{"r2": "login", "r3": "login", "r4": "select_account"} {
		u.callbackOf(u.start(b, req))
		if got := u.provider.LastAuthorizeQuery().Get("prompt"); got != want {
			t.Errorf("%s: prompt %q, want %q", req, got, want)
		}
	}
}

func TestUpstreamLoginExistingLink(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		u := newUpstreamEnv(t, upOptions{store: st})
		a := u.account("alice", "pw", identity.StatusActive)
		u.link(a.ID, ada.Subject)
		u.request("r1")
		b := u.browser()
		p := u.upstreamLogin(b, "r1", ada)
		u.wantLoggedIn(b, p, "r1", a.ID)
		if ck := setCookie(p.Response, upstreamCookie); ck == nil || ck.MaxAge >= 0 || ck.Path != "/login/upstream/campus-sso" {
			t.Errorf("the start cookie is not cleared: %v", p.Header["Set-Cookie"])
		}
		if setCookie(p.Response, linkCookie) != nil {
			t.Error("a linked identity set the link cookie")
		}
		evs := u.events(EventSessionCreated)
		if len(evs) != 1 || evs[0].AccountID != a.ID || evs[0].RequestID != testRef {
			t.Fatalf("events %+v", evs)
		}
		var data struct {
			AMR      []string `json:"amr"`
			Upstream string   `json:"upstream"`
			ClientID string   `json:"client_id"`
		}
		if err := json.Unmarshal(evs[0].Data, &data); err != nil || !slices.Equal(data.AMR, []string{amrFederated}) ||
			data.Upstream != ssoSource || data.ClientID != "formation" {
			t.Errorf("session event data %s (%v)", evs[0].Data, err)
		}
		if n := len(u.events(identity.EventAccountLinked)); n != 0 {
			t.Errorf("%d link events for an existing link", n)
		}
		wantContains(t, b.get(callbackURL("r1")), "session=true account="+a.ID)

		// Without a request, the login page then shows who is logged in.
		b2 := u.browser()
		p = u.upstreamLogin(b2, "", ada)
		wantStatus(t, p, http.StatusSeeOther)
		if loc := p.Header.Get("Location"); loc != PathLogin {
			t.Errorf("Location %q", loc)
		}
		wantContains(t, b2.get(PathLogin), "Session ouverte", "Alice Martin (alice)")
	})
}

func TestUpstreamLoginMergedAccount(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		u := newUpstreamEnv(t, upOptions{store: st})
		retired := u.account("amartin", "pw", identity.StatusActive)
		survivor := u.account("alice", "pw2", identity.StatusActive)
		u.link(retired.ID, ada.Subject)
		svc := accounts.New(u.st, accounts.Config{}, slog.New(slog.DiscardHandler))
		if _, err := svc.Merge(t.Context(), accounts.MergeRequest{SurvivorID: survivor.ID, RetiredID: retired.ID, Actor: "test"}); err != nil {
			t.Fatal(err)
		}
		u.request("r1")
		b := u.browser()
		u.wantLoggedIn(b, u.upstreamLogin(b, "r1", ada), "r1", survivor.ID)
		u.checkInvariants()

		// A link left on the retired account (which the merge engine never
		// does) still leads to the survivor.
		u.link(retired.ID, "u-old")
		u.request("r2")
		b2 := u.browser()
		u.wantLoggedIn(b2, u.upstreamLogin(b2, "r2", oidcuptest.User{Subject: "u-old"}), "r2", survivor.ID)
	})
}

func TestUpstreamLinkByVerifiedEmail(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		u := newUpstreamEnv(t, upOptions{store: st, linkByEmail: true})
		a := u.account("alice", "pw", identity.StatusActive)
		u.verifiedEmail(a.ID, "ada@univ-test.fr")
		u.account("bob", "pw", identity.StatusActive)
		u.request("r1")
		b := u.browser()
		// The provider's spelling of the address does not matter.
		user := ada
		user.Email = "Ada@Univ-Test.fr"
		u.wantLoggedIn(b, u.upstreamLogin(b, "r1", user), "r1", a.ID)

		l, ok := u.linkOf(ada.Subject)
		if !ok || l.AccountID != a.ID || l.Status != identity.LinkActive ||
			!slices.Equal(l.Attributes["iss"], []string{u.provider.Issuer()}) || !slices.Equal(l.Attributes["email"], []string{"Ada@Univ-Test.fr"}) {
			t.Fatalf("link %+v, %v", l, ok)
		}
		evs := u.events(identity.EventAccountLinked)
		if len(evs) != 1 || evs[0].AccountID != a.ID || evs[0].Actor != "connector:oidc:campus-sso" || evs[0].RequestID != testRef {
			t.Fatalf("link events %+v", evs)
		}
		var d linkEventData
		if err := json.Unmarshal(evs[0].Data, &d); err != nil || d != (linkEventData{Source: ssoSource, ExternalID: ada.Subject,
			Name: u.provider.Issuer() + " " + ada.Subject, By: linkByEmail}) {
			t.Errorf("link event data %s (%v)", evs[0].Data, err)
		}
		u.checkInvariants()

		// The next login goes by the link.
		u.request("r2")
		u.wantLoggedIn(b, u.upstreamLogin(u.browser(), "r2", ada), "r2", a.ID)
		if n := len(u.events(identity.EventAccountLinked)); n != 1 {
			t.Errorf("%d link events, want 1", n)
		}

		// An address no account holds verified links nothing.
		u.request("r3")
		p := u.upstreamLogin(u.browser(), "r3", oidcuptest.User{Subject: "u-eve", Email: "eve@univ-test.fr", EmailVerified: true})
		wantStatus(t, p, http.StatusOK)
		wantContains(t, p, "link-notice")
	})
}

func TestUpstreamProveFlow(t *testing.T) {
	for _, tc := range []struct {
		name        string
		linkByEmail bool
		verified    bool
	}{
		{"option off", false, true},
		{"email not verified", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.EachStore(t, func(t *testing.T, st store.Store) {
				u := newUpstreamEnv(t, upOptions{store: st, linkByEmail: tc.linkByEmail})
				a := u.account("alice", "pw", identity.StatusActive)
				u.verifiedEmail(a.ID, "ada@univ-test.fr")
				u.request("r1")
				u.request("r2")
				b := u.browser()
				// An older session in the browser is not enough to link.
				wantStatus(t, b.login("", "alice", "pw"), http.StatusSeeOther)
				user := ada
				user.EmailVerified = tc.verified
				p := u.upstreamLogin(b, "r1", user)
				wantStatus(t, p, http.StatusOK)
				wantContains(t, p, `name="password"`, `name="request" value="r1"`, `role="status"`,
					"Connectez-vous à votre compte canonid pour y lier votre identité Université Test (ada@univ-test.fr).",
					"Si vous n'avez pas encore de compte ici", "Se connecter avec Université Test n'en crée pas.",
					`action="/login/link/cancel"`, "Ne pas lier cette identité")
				if _, ok := u.linkOf(ada.Subject); ok {
					t.Fatal("linked before the password login")
				}
				if len(u.reqs.Completed()) != 0 {
					t.Fatal("completed before the password login")
				}
				ck := setCookie(p.Response, linkCookie)
				if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" ||
					ck.MaxAge != int(linkTTL/time.Second) || strings.Contains(ck.Value, ada.Subject) {
					t.Fatalf("link cookie %+v", ck)
				}
				// The form stays while the identity waits, instead of single
				// sign-on, and speaks English when asked.
				again := b.get("/login?request=r2&lang=en")
				wantStatus(t, again, http.StatusOK)
				wantContains(t, again, "Log in to your canonid account to link your Université Test identity (ada@univ-test.fr).")

				in := b.submit(p, "r1", "alice", "pw")
				wantStatus(t, in, http.StatusSeeOther)
				if loc := in.Header.Get("Location"); loc != callbackURL("r1") {
					t.Fatalf("Location %q", loc)
				}
				if ck := setCookie(in.Response, linkCookie); ck == nil || ck.MaxAge >= 0 {
					t.Errorf("link cookie not cleared: %v", in.Header["Set-Cookie"])
				}
				got := u.reqs.Completed()
				if len(got) != 1 || got[0].accountID != a.ID || !slices.Equal(got[0].amr, []string{"pwd"}) {
					t.Errorf("completed %+v", got)
				}
				l, ok := u.linkOf(ada.Subject)
				if !ok || l.AccountID != a.ID || !slices.Equal(l.Attributes["sub"], []string{ada.Subject}) {
					t.Fatalf("link %+v, %v", l, ok)
				}
				evs := u.events(identity.EventAccountLinked)
				if len(evs) != 1 || evs[0].Actor != "account:"+a.ID || evs[0].AccountID != a.ID {
					t.Fatalf("link events %+v", evs)
				}
				var d linkEventData
				if err := json.Unmarshal(evs[0].Data, &d); err != nil || d.By != linkByPassword || d.Source != ssoSource || d.ExternalID != ada.Subject {
					t.Errorf("link event data %s (%v)", evs[0].Data, err)
				}
				u.checkInvariants()

				// The next login through the provider goes straight through.
				u.request("r3")
				b2 := u.browser()
				u.wantLoggedIn(b2, u.upstreamLogin(b2, "r3", user), "r3", a.ID)
				if n := len(u.events(identity.EventAccountLinked)); n != 1 {
					t.Errorf("%d link events, want 1", n)
				}
			})
		})
	}
}

func TestUpstreamProveFlowEnglishAndNoClaims(t *testing.T) {
	u := newUpstreamEnv(t, upOptions{})
	u.account("alice", "pw", identity.StatusActive)
	b := u.browser()
	b.header.Set("Accept-Language", "en")
	// Without address or name, the banner names the subject.
	p := u.upstreamLogin(b, "", oidcuptest.User{Subject: "u-anon"})
	wantStatus(t, p, http.StatusOK)
	wantContains(t, p, "Log in to your canonid account to link your Université Test identity (u-anon).",
		"If you have no account here yet, you cannot log in with Université Test", "Do not link this identity")
	wantStatus(t, b.submit(p, "", "alice", "pw"), http.StatusSeeOther)
	if _, ok := u.linkOf("u-anon"); !ok {
		t.Error("not linked")
	}
}

func TestUpstreamLinkCancel(t *testing.T) {
	u := newUpstreamEnv(t, upOptions{})
	u.account("alice", "pw", identity.StatusActive)
	u.request("r1")
	b := u.browser()
	p := u.upstreamLogin(b, "r1", ada)
	wantContains(t, p, "link-notice")
	// Without the CSRF token, nothing happens.
	wantStatus(t, b.post(PathLinkCancel, url.Values{paramRequest: {"r1"}}), http.StatusForbidden)
	out := b.post(PathLinkCancel, url.Values{csrfField: {p.token(t)}, paramRequest: {"r1"}})
	wantStatus(t, out, http.StatusSeeOther)
	if loc := out.Header.Get("Location"); loc != "/login?request=r1" {
		t.Errorf("Location %q", loc)
	}
	if b.cookie(linkCookie) != "" {
		t.Error("the link cookie survived the cancel")
	}
	form := b.get("/login?request=r1")
	wantNotContains(t, form, "link-notice")
	wantStatus(t, b.submit(form, "r1", "alice", "pw"), http.StatusSeeOther)
	if _, ok := u.linkOf(ada.Subject); ok {
		t.Error("linked after the cancel")
	}

	// A logout drops it too.
	p = u.upstreamLogin(b, "r1", ada)
	wantContains(t, p, "link-notice")
	wantStatus(t, b.post(PathLogout, url.Values{csrfField: {p.token(t)}}), http.StatusOK)
	if b.cookie(linkCookie) != "" {
		t.Error("the link cookie survived the logout")
	}
}

func TestUpstreamLinkTakenMeanwhile(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		u := newUpstreamEnv(t, upOptions{store: st})
		alice := u.account("alice", "pw", identity.StatusActive)
		bob := u.account("bob", "pw2", identity.StatusActive)
		u.request("r1")
		b := u.browser()
		p := u.upstreamLogin(b, "r1", ada)
		wantContains(t, p, "link-notice")
		// Linked to bob while the form is open.
		u.link(bob.ID, ada.Subject)

		refused := b.submit(p, "r1", "alice", "pw")
		wantStatus(t, refused, http.StatusConflict)
		wantContains(t, refused, "Cette identité est liée à un autre compte", "Votre identité Université Test est déjà liée à un autre compte",
			`href="/login?request=r1"`)
		wantNotContains(t, refused, alice.ID, bob.ID)
		if b.cookie(DefaultCookieName) != "" || len(u.reqs.Completed()) != 0 || len(u.events(EventSessionCreated)) != 0 {
			t.Error("a refused link opened a session")
		}
		if b.cookie(linkCookie) != "" {
			t.Error("the link cookie survived the refusal")
		}
		if l, _ := u.linkOf(ada.Subject); l.AccountID != bob.ID {
			t.Errorf("link now %+v", l)
		}
		if n := len(u.events(identity.EventAccountLinked)); n != 0 {
			t.Errorf("%d link events", n)
		}
		// And the upstream login is bob's.
		u.wantLoggedIn(b, u.upstreamLogin(b, "r1", ada), "r1", bob.ID)
	})
}

// TestUpstreamLinkToSameAccountTwice: an identity linked meanwhile to the
// very account logging in is fine.
func TestUpstreamLinkToSameAccountTwice(t *testing.T) {
	u := newUpstreamEnv(t, upOptions{})
	a := u.account("alice", "pw", identity.StatusActive)
	u.request("r1")
	b := u.browser()
	p := u.upstreamLogin(b, "r1", ada)
	u.link(a.ID, ada.Subject)
	wantStatus(t, b.submit(p, "r1", "alice", "pw"), http.StatusSeeOther)
	if n := len(u.events(identity.EventAccountLinked)); n != 0 {
		t.Errorf("%d link events for a link that exists", n)
	}
}

func TestUpstreamLinkCookieTampered(t *testing.T) {
	u := newUpstreamEnv(t, upOptions{})
	u.account("alice", "pw", identity.StatusActive)
	u.request("r1")
	b := u.browser()
	p := u.upstreamLogin(b, "r1", ada)
	good := b.cookie(linkCookie)
	if good == "" {
		t.Fatal("no link cookie")
	}
	for name, value := range map[string]string{
		"tampered": tamper(good),
		"garbage":  "not-a-sealed-value",
		// The start cookie's value, sealed for another cookie.
		"another cookie's": func() string {
			u.start(b, "r1")
			return jarCookie(b, "/login/upstream/campus-sso/callback", upstreamCookie)
		}(),
	} {
		t.Run(name, func(t *testing.T) {
			setJarCookie(b, "/", linkCookie, value)
			wantNotContains(t, b.get("/login?request=r1"), "link-notice")
		})
	}
	setJarCookie(b, "/", linkCookie, tamper(good))
	wantStatus(t, b.submit(p, "r1", "alice", "pw"), http.StatusSeeOther)
	if _, ok := u.linkOf(ada.Subject); ok {
		t.Error("a tampered cookie linked an identity")
	}
	// Expired: ten minutes after the upstream login.
	b2 := u.browser()
	p = u.upstreamLogin(b2, "r1", ada)
	u.clock.Advance(linkTTL)
	wantNotContains(t, b2.get("/login?request=r1"), "link-notice")
	wantStatus(t, b2.submit(p, "r1", "alice", "pw"), http.StatusSeeOther)
	if _, ok := u.linkOf(ada.Subject); ok {
		t.Error("an expired cookie linked an identity")
	}
	if len(u.events(identity.EventAccountLinked)) != 0 || len(u.events(EventSessionCreated)) != 2 {
		t.Error("unexpected events")
	}
}

func TestUpstreamCallbackRefused(t *testing.T) {
	u := newUpstreamEnv(t, upOptions{})
	a := u.account("alice", "pw", identity.StatusActive)
	u.link(a.ID, ada.Subject)
	u.request("r1")
	restart := []string{"Recommencez la connexion", "Cette connexion via Université Test a expiré, ou n'a pas été commencée dans ce navigateur.",
		"Revenir à la page de connexion"}

	t.Run("no start cookie", func(t *testing.T) {
		cb := u.callbackOf(u.start(u.browser(), "r1"))
		p := u.browser().get(cb) // another browser
		wantStatus(t, p, http.StatusBadRequest)
		wantContains(t, p, restart...)
	})
	t.Run("forged state", func(t *testing.T) {
		b := u.browser()
		cb, _ := url.Parse(u.callbackOf(u.start(b, "r1")))
		q := cb.Query()
		q.Set("state", "forged")
		cb.RawQuery = q.Encode()
		p := b.get(cb.String())
		wantStatus(t, p, http.StatusBadRequest)
		wantContains(t, p, restart...)
		wantContains(t, p, `href="/login?request=r1"`, `href="/login/upstream/campus-sso?request=r1"`)
	})
	t.Run("tampered start cookie", func(t *testing.T) {
		b := u.browser()
		cb := u.callbackOf(u.start(b, "r1"))
		path := "/login/upstream/campus-sso"
		setJarCookie(b, path, upstreamCookie, tamper(jarCookie(b, path+"/callback", upstreamCookie)))
		wantStatus(t, b.get(cb), http.StatusBadRequest)
	})
	t.Run("replayed callback", func(t *testing.T) {
		b := u.browser()
		cb := u.callbackOf(u.start(b, "r1"))
		wantStatus(t, b.get(cb), http.StatusSeeOther)
		wantStatus(t, b.get(cb), http.StatusBadRequest)
	})
	t.Run("too late", func(t *testing.T) {
		b := u.browser()
		cb := u.callbackOf(u.start(b, "r1"))
		u.clock.Advance(oidcup.PendingTTL + time.Second)
		wantStatus(t, b.get(cb), http.StatusBadRequest)
	})
	t.Run("no code", func(t *testing.T) {
		b := u.browser()
		u.start(b, "r1")
		wantStatus(t, b.get("/login/upstream/campus-sso/callback"), http.StatusBadRequest)
	})
	if n := len(u.reqs.Completed()); n != 1 { // the replayed callback's first use
		t.Errorf("%d requests completed, want 1", n)
	}
}

func TestUpstreamProviderErrors(t *testing.T) {
	u := newUpstreamEnv(t, upOptions{})
	a := u.account("alice", "pw", identity.StatusActive)
	u.link(a.ID, ada.Subject)
	u.request("r1")

	u.provider.SetAuthorizeError("access_denied", `<script>alert("x")</script> the user cancelled`)
	p := u.upstreamLogin(u.browser(), "r1", ada)
	wantStatus(t, p, http.StatusForbidden)
	wantContains(t, p, "Université Test ne vous a pas connecté", "Sa réponse : access_denied.",
		`Son explication : <script>alert("x")</script> the user cancelled`, `href="/login?request=r1"`)
	if strings.Contains(p.body, "<script>") || !strings.Contains(p.body, "&lt;script&gt;") {
		t.Errorf("the provider's text is not escaped:\n%s", p.body)
	}
	u.provider.SetAuthorizeError("", "")

	for _, f := range []oidcuptest.Fault{oidcuptest.WrongAudience, oidcuptest.BadNonce, oidcuptest.WrongKey, oidcuptest.UserinfoSubject} {
		t.Run(f.String(), func(t *testing.T) {
			u.provider.SetFault(f)
			defer u.provider.SetFault(oidcuptest.NoFault)
			b := u.browser()
			p := u.upstreamLogin(b, "r1", ada)
			wantStatus(t, p, http.StatusBadGateway)
			wantContains(t, p, "La connexion via Université Test a échoué", "référence "+testRef)
			if b.cookie(DefaultCookieName) != "" {
				t.Error("a failed login opened a session")
			}
		})
	}
	// A token endpoint refusal is a failure too, not the person's doing.
	b := u.browser()
	cb := u.callbackOf(u.start(b, "r1"))
	other := u.browser()
	cb2 := u.callbackOf(u.start(other, "r1"))
	code, _ := url.Parse(cb2)
	mixed, _ := url.Parse(cb)
	q := mixed.Query()
	q.Set("code", code.Query().Get("code")) // another login's code: its PKCE verifier differs
	mixed.RawQuery = q.Encode()
	p = b.get(mixed.String())
	wantStatus(t, p, http.StatusBadGateway)
	wantContains(t, p, "référence "+testRef)
	if len(u.reqs.Completed()) != 0 {
		t.Error("a failed login completed the request")
	}
}

func TestUpstreamGates(t *testing.T) {
	u := newUpstreamEnv(t, upOptions{})
	suspended := u.account("alice", "pw", identity.StatusSuspended)
	u.link(suspended.ID, ada.Subject)
	u.request("r1")
	b := u.browser()
	p := u.upstreamLogin(b, "r1", ada)
	wantStatus(t, p, http.StatusForbidden)
	wantContains(t, p, "Votre compte est suspendu")
	if b.cookie(DefaultCookieName) != "" {
		t.Error("a suspended account got a session")
	}

	bob := u.account("bob", "pw", identity.StatusActive)
	u.link(bob.ID, "u-bob")
	u.reqs.gates[bob.ID] = &GateError{Gate: GateOrgRequired, OrgName: "CPTS Sud"}
	p = u.upstreamLogin(b, "r1", oidcuptest.User{Subject: "u-bob"})
	wantStatus(t, p, http.StatusForbidden)
	wantContains(t, p, "Accès réservé aux membres de CPTS Sud", "Se connecter avec un autre compte")

	// A suspended account proving its password links nothing.
	p = u.upstreamLogin(b, "r1", oidcuptest.User{Subject: "u-new"})
	wantStatus(t, b.submit(p, "r1", "alice", "pw"), http.StatusForbidden)
	if _, ok := u.linkOf("u-new"); ok {
		t.Error("linked to a suspended account")
	}
}

func TestUpstreamCallbackRateLimit(t *testing.T) {
	u := newUpstreamEnv(t, upOptions{})
	a := u.account("alice", "pw", identity.StatusActive)
	u.link(a.ID, ada.Subject)
	b := u.browser()
	// Successes do not count.
	for range DefaultLoginBurst + 1 {
		wantStatus(t, u.upstreamLogin(b, "", ada), http.StatusSeeOther)
	}
	for range DefaultLoginBurst {
		wantStatus(t, b.get("/login/upstream/campus-sso/callback?code=x&state=y"), http.StatusBadRequest)
	}
	p := b.get("/login/upstream/campus-sso/callback?code=x&state=y")
	wantStatus(t, p, http.StatusTooManyRequests)
	if p.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	// Failed password logins and failed callbacks share the address's
	// bucket.
	wantStatus(t, b.login("", "alice", "pw"), http.StatusTooManyRequests)
}

func TestSeal(t *testing.T) {
	u := newUpstreamEnv(t, upOptions{})
	h := u.h
	type payload struct{ A, B string }
	v, err := h.seal("one", u.clock.Now().Add(time.Minute), payload{"x", "y"})
	if err != nil {
		t.Fatal(err)
	}
	var got payload
	if !h.unseal("one", v, &got) || got != (payload{"x", "y"}) {
		t.Fatalf("unseal: %+v", got)
	}
	if h.unseal("two", v, &got) {
		t.Error("a value opened under another cookie's name")
	}
	if h.unseal("one", tamper(v), &got) {
		t.Error("a tampered value opened")
	}
	other, err := New(Config{PublicURL: u.srv.URL, Secret: []byte("another secret of thirty-two bytes!")}, Deps{Store: u.st, Auth: u.auth, Requests: u.reqs, Now: u.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if other.unseal("one", v, &got) {
		t.Error("a value opened under another secret")
	}
	u.clock.Advance(time.Minute)
	if h.unseal("one", v, &got) {
		t.Error("an expired value opened")
	}
	if v2, _ := h.seal("one", u.clock.Now().Add(time.Minute), payload{"x", "y"}); v2 == v {
		t.Error("the same value sealed twice gives the same bytes")
	}
}

// TestUpstreamIssuerChanged: a link made with another issuer is not this
// provider's person.
func TestUpstreamIssuerChanged(t *testing.T) {
	u := newUpstreamEnv(t, upOptions{})
	a := u.account("alice", "pw", identity.StatusActive)
	ctx := t.Context()
	err := u.st.Update(ctx, func(tx store.Tx) error {
		l := identity.Link{Source: ssoSource, ExternalID: ada.Subject, AccountID: a.ID,
			Attributes: map[string][]string{"iss": {"https://old-sso.univ-test.fr"}, "sub": {ada.Subject}}}
		if err := tx.Links().Create(ctx, &l); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: "test.linked", Actor: "test", AccountID: a.ID})
	})
	if err != nil {
		t.Fatal(err)
	}
	b := u.browser()
	p := u.upstreamLogin(b, "", ada)
	wantStatus(t, p, http.StatusBadGateway)
	if b.cookie(DefaultCookieName) != "" {
		t.Error("logged in across issuers")
	}
}

// TestUpstreamLoginDropsStaleIdentity: logging in through the provider as
// a linked identity drops one left waiting by an earlier try.
func TestUpstreamLoginDropsStaleIdentity(t *testing.T) {
	u := newUpstreamEnv(t, upOptions{})
	a := u.account("alice", "pw", identity.StatusActive)
	u.link(a.ID, "u-alice")
	b := u.browser()
	wantContains(t, u.upstreamLogin(b, "", ada), "link-notice")
	p := u.upstreamLogin(b, "", oidcuptest.User{Subject: "u-alice"})
	wantStatus(t, p, http.StatusSeeOther)
	if b.cookie(linkCookie) != "" {
		t.Error("the stale identity still waits")
	}
	wantContains(t, b.get(PathLogin), "Session ouverte")
}
