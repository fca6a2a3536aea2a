package web

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/sqlite"
	"github.com/canonid/canonid/store/storetest"
)

func TestLoginFormShowsClientAndHint(t *testing.T) {
	e := newEnv(t, options{})
	e.request("r1", func(lr *LoginRequest) { lr.LoginHint = "alice@univ-test.fr" })
	b := e.browser()
	p := b.get("/login?request=r1")
	wantStatus(t, p, http.StatusOK)
	wantContains(t, p, `<html lang="fr">`, "Connectez-vous pour continuer vers Plateforme de formation.",
		`value="alice@univ-test.fr"`, `name="request" value="r1"`, `autocomplete="current-password"`,
		`<label for="identifier">`, `<label for="password">`)
	if b.cookie(csrfCookie) == "" {
		t.Error("no CSRF cookie set")
	}
	ck := setCookie(p.Response, csrfCookie)
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Secure {
		t.Errorf("CSRF cookie %+v: want HttpOnly, SameSite=Strict, not Secure over http", ck)
	}

	// A client without a name shows its id.
	e.request("r2", func(lr *LoginRequest) { lr.ClientName = "" })
	wantContains(t, b.get("/login?request=r2"), "continuer vers formation.")
}

func TestLoginSuccess(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, options{store: st})
		a := e.account("alice", "correct horse", identity.StatusActive)
		e.request("r1")
		b := e.browser()
		p := b.login("r1", "Alice", "correct horse")
		wantStatus(t, p, http.StatusSeeOther)
		if loc := p.Header.Get("Location"); loc != callbackURL("r1") {
			t.Errorf("Location %q, want %q", loc, callbackURL("r1"))
		}
		ck := setCookie(p.Response, DefaultCookieName)
		if ck == nil || ck.Value == "" {
			t.Fatalf("no session cookie in %v", p.Header["Set-Cookie"])
		}
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Secure || ck.MaxAge != 0 {
			t.Errorf("session cookie %+v: want HttpOnly, SameSite=Lax, Path=/, not Secure over http, no Max-Age", ck)
		}
		if got := e.reqs.Completed(); len(got) != 1 || got[0].accountID != a.ID || !slices.Equal(got[0].amr, []string{"pwd"}) {
			t.Errorf("completed %+v", got)
		}

		// The store keeps the hash of the cookie, not the cookie.
		s, ok := e.sessionOf(ck.Value)
		if !ok || s.AccountID != a.ID || !bytes.Equal(s.Hash, sessionHash(ck.Value)) || bytes.Contains(s.Hash, []byte(ck.Value)) {
			t.Fatalf("session %+v, %v", s, ok)
		}
		if !s.ExpiresAt.Equal(e.clock.Now().Add(DefaultSessionLifetime)) || !slices.Equal(s.AMR, []string{"pwd"}) {
			t.Errorf("session %+v", s)
		}
		evs := e.events(EventSessionCreated)
		if len(evs) != 1 || evs[0].AccountID != a.ID || evs[0].Actor != "account:"+a.ID {
			t.Fatalf("events %+v", evs)
		}
		if bytes.Contains(evs[0].Data, []byte(ck.Value)) || !bytes.Contains(evs[0].Data, []byte(s.ID)) {
			t.Errorf("event data %s", evs[0].Data)
		}

		// The login is the account's last one.
		err := st.View(t.Context(), func(tx store.Tx) error {
			got, err := tx.Accounts().Get(t.Context(), a.ID)
			if err == nil && !got.LastLoginAt.Equal(e.clock.Now()) {
				t.Errorf("last login %v, want %v", got.LastLoginAt, e.clock.Now())
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}

		// The provider's callback sees the session.
		wantContains(t, b.get(callbackURL("r1")), "session=true account="+a.ID)
	})
}

// TestSessionCookieNotStored looks for the cookie in the database files
// themselves.
func TestSessionCookieNotStored(t *testing.T) {
	dir := t.TempDir()
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "canonid.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, options{store: st})
	e.account("alice", "pw", identity.StatusActive)
	b := e.browser()
	wantStatus(t, b.login("", "alice", "pw"), http.StatusSeeOther)
	cookie := b.cookie(DefaultCookieName)
	if cookie == "" {
		t.Fatal("no session cookie")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte(cookie)) {
			t.Errorf("%s holds the session cookie", filepath.Base(f))
		}
	}
	if len(files) == 0 {
		t.Fatal("no database file")
	}
}

func TestSameAnswerForUnknownIdentifierAndWrongPassword(t *testing.T) {
	e := newEnv(t, options{})
	e.account("alice", "pw", identity.StatusActive)
	e.request("r1")
	b := e.browser()
	unknown := b.login("r1", "ghost", "pw")
	wrong := b.login("r1", "alice", "not the password")
	wantStatus(t, unknown, http.StatusUnauthorized)
	wantStatus(t, wrong, http.StatusUnauthorized)
	wantContains(t, unknown, "Identifiant ou mot de passe incorrect.", `role="alert"`)
	if e.auth.Calls() != 2 {
		t.Errorf("Authenticate called %d times, want 2", e.auth.Calls())
	}
	// The bodies differ only by the (masked, fresh) CSRF token and the
	// identifier typed, which the form keeps.
	norm := func(p page, identifier string) string {
		s := csrfRE.ReplaceAllString(p.body, `name="csrf_token" value="TOKEN"`)
		return strings.ReplaceAll(s, `value="`+identifier+`"`, `value="IDENTIFIER"`)
	}
	if u, w := norm(unknown, "ghost"), norm(wrong, "alice"); u != w {
		t.Errorf("bodies differ:\n--- unknown identifier\n%s\n--- wrong password\n%s", u, w)
	}
	if setCookie(unknown.Response, DefaultCookieName) != nil || setCookie(wrong.Response, DefaultCookieName) != nil {
		t.Error("a failed login set a session cookie")
	}
}

func TestMissingFields(t *testing.T) {
	e := newEnv(t, options{})
	b := e.browser()
	p := b.login("", "alice", "")
	wantStatus(t, p, http.StatusBadRequest)
	wantContains(t, p, "Saisissez votre identifiant et votre mot de passe.")
	if e.auth.Calls() != 0 {
		t.Error("Authenticate called without a password")
	}
}

func TestCSRF(t *testing.T) {
	e := newEnv(t, options{})
	e.account("alice", "pw", identity.StatusActive)
	e.request("r1")
	b := e.browser()
	form := b.get("/login?request=r1")
	good := form.token(t)
	other := e.browser().get("/login?request=r1").token(t) // another browser's
	creds := url.Values{paramRequest: {"r1"}, paramIdentifier: {"alice"}, paramPassword: {"pw"}}
	with := func(tok string) url.Values {
		v := url.Values{}
		for k, vs := range creds {
			v[k] = vs
		}
		if tok != "" {
			v.Set(csrfField, tok)
		}
		return v
	}
	tampered := []byte(good)
	tampered[len(tampered)-1] ^= 1
	for _, tc := range []struct {
		name  string
		token string
	}{
		{"missing", ""},
		{"garbage", "not-a-token"},
		{"tampered", string(tampered)},
		{"another browser's", other},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.post(PathLogin, with(tc.token))
			wantStatus(t, p, http.StatusForbidden)
			wantContains(t, p, "Le formulaire a expiré", `href="/login?request=r1"`)
		})
	}
	// A browser without the cookie, with a token from a page.
	nocookie := e.browser()
	wantStatus(t, nocookie.post(PathLogin, with(good)), http.StatusForbidden)
	if e.auth.Calls() != 0 {
		t.Fatalf("Authenticate called %d times behind a bad CSRF token", e.auth.Calls())
	}
	// Each page masks the token afresh; any of them works.
	if again := b.get("/login?request=r1").token(t); again == good {
		t.Error("the token is not masked afresh")
	}
	wantStatus(t, b.post(PathLogin, with(good)), http.StatusSeeOther)
}

func TestOrigin(t *testing.T) {
	e := newEnv(t, options{})
	e.account("alice", "pw", identity.StatusActive)
	e.request("r1", func(lr *LoginRequest) { lr.Prompt = []string{"login"} })
	b := e.browser()
	for _, tc := range []struct {
		name    string
		headers []string
		status  int
	}{
		{"other origin", []string{"Origin", "https://evil.example"}, http.StatusForbidden},
		{"other port", []string{"Origin", e.srv.URL + "1"}, http.StatusForbidden},
		{"cross-site fetch", []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"same-site fetch", []string{"Sec-Fetch-Site", "same-site"}, http.StatusForbidden},
		// Browsers send "null" for a form of a no-referrer page.
		{"null", []string{"Origin", "null", "Sec-Fetch-Site", "same-origin"}, http.StatusSeeOther},
		{"same origin", []string{"Origin", e.srv.URL}, http.StatusSeeOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := e.auth.Calls()
			form := b.get("/login?request=r1")
			v := url.Values{csrfField: {form.token(t)}, paramRequest: {"r1"}, paramIdentifier: {"alice"}, paramPassword: {"pw"}}
			p := b.post(PathLogin, v, tc.headers...)
			wantStatus(t, p, tc.status)
			if tc.status == http.StatusForbidden && e.auth.Calls() != calls {
				t.Error("Authenticate called for a cross-origin POST")
			}
		})
	}
}

func TestRateLimitPerAddress(t *testing.T) {
	e := newEnv(t, options{})
	e.account("alice", "pw", identity.StatusActive)
	b := e.browser()
	form := b.get(PathLogin)
	// Successes do not count.
	for range 3 * DefaultLoginBurst {
		wantStatus(t, b.submit(form, "", "alice", "pw"), http.StatusSeeOther)
	}
	// Ten failures (on ten identifiers, below their own limit) empty the
	// address's bucket.
	for i := range DefaultLoginBurst {
		wantStatus(t, b.submit(form, "", "user"+string(rune('a'+i)), "x"), http.StatusUnauthorized)
	}
	calls := e.auth.Calls()
	p := b.submit(form, "", "alice", "pw")
	wantStatus(t, p, http.StatusTooManyRequests)
	if got := p.Header.Get("Retry-After"); got != "6" { // 10 a minute
		t.Errorf("Retry-After %q, want 6", got)
	}
	wantContains(t, p, "Trop de tentatives", "Réessayez dans une minute.")
	if e.auth.Calls() != calls {
		t.Error("Authenticate called while rate limited")
	}
	e.clock.Advance(6 * time.Second)
	wantStatus(t, b.submit(form, "", "alice", "pw"), http.StatusSeeOther)
}

func TestRateLimitPerIdentifier(t *testing.T) {
	// The address's own limit out of the way.
	e := newEnv(t, options{cfg: func(c *Config) { c.LoginBurst = 100 }})
	e.account("alice", "pw", identity.StatusActive)
	e.request("r1")
	b := e.browser()
	form := b.get("/login?request=r1")
	for range DefaultIdentifierBurst {
		wantStatus(t, b.submit(form, "r1", "alice", "wrong"), http.StatusUnauthorized)
	}
	// Another browser, another address would be just as limited: the
	// identifier is, normalised.
	p := b.submit(form, "r1", " ALICE ", "pw")
	wantStatus(t, p, http.StatusTooManyRequests)
	if got := p.Header.Get("Retry-After"); got != "180" { // 5 per 15 minutes
		t.Errorf("Retry-After %q, want 180", got)
	}
	wantContains(t, p, "Réessayez dans 3 minutes.")
	// Unknown identifiers are limited the same way.
	for range DefaultIdentifierBurst {
		wantStatus(t, b.submit(form, "r1", "ghost", "x"), http.StatusUnauthorized)
	}
	wantStatus(t, b.submit(form, "r1", "ghost", "x"), http.StatusTooManyRequests)

	e.clock.Advance(3 * time.Minute)
	wantStatus(t, b.submit(form, "r1", "alice", "pw"), http.StatusSeeOther)
}

func TestSingleSignOn(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, options{store: st})
		a := e.account("alice", "pw", identity.StatusActive)
		e.request("r1")
		e.request("r2")
		b := e.browser()
		wantStatus(t, b.login("r1", "alice", "pw"), http.StatusSeeOther)
		calls := e.auth.Calls()

		e.clock.Advance(10 * time.Minute)
		p := b.get("/login?request=r2")
		wantStatus(t, p, http.StatusSeeOther)
		if loc := p.Header.Get("Location"); loc != callbackURL("r2") {
			t.Errorf("Location %q", loc)
		}
		got := e.reqs.Completed()
		if len(got) != 2 || got[1].requestID != "r2" || got[1].accountID != a.ID || !slices.Equal(got[1].amr, []string{"pwd"}) {
			t.Errorf("completed %+v", got)
		} else if !got[1].authTime.Equal(got[0].authTime) {
			t.Errorf("single sign-on gave auth time %v, want the login's %v", got[1].authTime, got[0].authTime)
		}
		if e.auth.Calls() != calls {
			t.Error("single sign-on asked for the password")
		}
		if n := len(e.events(EventSessionCreated)); n != 1 {
			t.Errorf("%d sessions created, want 1", n)
		}
	})
}

// TestMaxAge: a session older than the client's max_age asks the password
// again; a younger one signs on.
func TestMaxAge(t *testing.T) {
	e := newEnv(t, options{})
	e.account("alice", "pw", identity.StatusActive)
	hour := time.Hour
	e.request("r1")
	e.request("r2", func(lr *LoginRequest) { lr.MaxAge = &hour })
	e.request("r3", func(lr *LoginRequest) { lr.MaxAge = &hour })
	b := e.browser()
	wantStatus(t, b.login("r1", "alice", "pw"), http.StatusSeeOther)
	e.clock.Advance(30 * time.Minute)
	wantStatus(t, b.get("/login?request=r2"), http.StatusSeeOther)
	e.clock.Advance(31 * time.Minute)
	wantContains(t, b.get("/login?request=r3"), `name="password"`)
}

func TestPromptLoginReplacesSession(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, options{store: st})
		e.account("alice", "pw", identity.StatusActive)
		bob := e.account("bob", "pw2", identity.StatusActive)
		e.request("r1")
		e.request("r2", func(lr *LoginRequest) { lr.Prompt = []string{"login", "consent"} })
		e.request("r3", func(lr *LoginRequest) { lr.Prompt = []string{"select_account"} })
		b := e.browser()
		wantStatus(t, b.login("r1", "alice", "pw"), http.StatusSeeOther)
		old := b.cookie(DefaultCookieName)

		wantContains(t, b.get("/login?request=r3"), `name="password"`)
		form := b.get("/login?request=r2")
		wantStatus(t, form, http.StatusOK)
		wantContains(t, form, `name="password"`)
		p := b.submit(form, "r2", "bob", "pw2")
		wantStatus(t, p, http.StatusSeeOther)
		now := b.cookie(DefaultCookieName)
		if now == "" || now == old {
			t.Fatal("the session cookie was not replaced")
		}
		if _, ok := e.sessionOf(old); ok {
			t.Error("the replaced session is still valid")
		}
		if s, ok := e.sessionOf(now); !ok || s.AccountID != bob.ID {
			t.Errorf("new session %+v, %v", s, ok)
		}
		evs := e.events(EventSessionRevoked)
		if len(evs) != 1 || !bytes.Contains(evs[0].Data, []byte(`"replaced"`)) {
			t.Errorf("revocation events %+v", evs)
		}
	})
}

func TestUnknownRequest(t *testing.T) {
	e := newEnv(t, options{})
	e.account("alice", "pw", identity.StatusActive)
	b := e.browser()
	p := b.get("/login?request=gone")
	wantStatus(t, p, http.StatusBadRequest)
	wantContains(t, p, "Cette demande de connexion n'est plus valable",
		"Retournez sur l'application depuis laquelle vous vous connectiez")
	wantNotContains(t, p, `name="password"`)

	// A request that expires while the form is open.
	e.request("r1")
	form := b.get("/login?request=r1")
	e.reqs.mu.Lock()
	delete(e.reqs.requests, "r1")
	e.reqs.mu.Unlock()
	wantStatus(t, b.submit(form, "r1", "alice", "pw"), http.StatusBadRequest)
	if e.auth.Calls() != 0 {
		t.Error("Authenticate called for an unknown request")
	}
}

func TestGatePages(t *testing.T) {
	for _, tc := range []struct {
		name       string
		gate       GateError
		activation bool
		want       []string
		dont       []string
	}{
		{name: "pending activation, no resender", gate: GateError{Gate: GatePendingActivation},
			want: []string{"Votre compte n'est pas encore activé", "demandez à l'administrateur de votre compte"},
			dont: []string{PathActivation, "Renvoyer"}},
		{name: "pending activation, resender", gate: GateError{Gate: GatePendingActivation}, activation: true,
			want: []string{"Votre compte n'est pas encore activé", `action="/login/activation"`, "Renvoyer le lien d'activation"},
			dont: []string{"demandez à l'administrateur"}},
		{name: "pending validation", gate: GateError{Gate: GatePendingValidation},
			want: []string{"Votre compte attend d'être validé", "coordinatrice de votre organisation doit encore valider votre compte"}},
		{name: "suspended", gate: GateError{Gate: GateSuspended},
			want: []string{"Votre compte est suspendu", "Contactez l'assistance"}},
		{name: "org required", gate: GateError{Gate: GateOrgRequired, OrgName: "CPTS Sud"},
			want: []string{"Accès réservé aux membres de CPTS Sud", "Plateforme de formation n'est accessible qu'aux membres validés de CPTS Sud"}},
		{name: "org required, unnamed", gate: GateError{Gate: GateOrgRequired},
			want: []string{"Accès réservé", "membres validés d'une organisation"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := options{}
			act := &fakeActivation{}
			if tc.activation {
				o.activation = act
			}
			e := newEnv(t, o)
			a := e.account("alice", "pw", identity.StatusActive)
			g := tc.gate
			e.reqs.gates[a.ID] = &g
			e.request("r1")
			b := e.browser()
			p := b.login("r1", "alice", "pw")
			wantStatus(t, p, http.StatusForbidden)
			wantContains(t, p, tc.want...)
			wantNotContains(t, p, tc.dont...)
			wantNotContains(t, p, `name="password"`)

			// SSO meets the same gate.
			e.request("r2")
			p2 := b.get("/login?request=r2")
			wantStatus(t, p2, http.StatusForbidden)
			wantContains(t, p2, tc.want...)

			if tc.activation {
				m := ticketRE.FindStringSubmatch(p.body)
				if m == nil {
					t.Fatal("no ticket")
				}
				v := url.Values{csrfField: {p.token(t)}, paramTicket: {m[1]}}
				sent := b.post(PathActivation, v)
				wantStatus(t, sent, http.StatusOK)
				wantContains(t, sent, "Lien d'activation envoyé")
				if !slices.Equal(act.resends, []string{a.ID}) {
					t.Errorf("resends %v", act.resends)
				}
				// The ticket is bound to this browser.
				other := e.browser()
				op := other.get(PathLogin)
				v = url.Values{csrfField: {op.token(t)}, paramTicket: {m[1]}}
				wantStatus(t, other.post(PathActivation, v), http.StatusForbidden)
				// And it expires.
				e.clock.Advance(activationTTL)
				v = url.Values{csrfField: {p.token(t)}, paramTicket: {m[1]}}
				wantStatus(t, b.post(PathActivation, v), http.StatusForbidden)
				if len(act.resends) != 1 {
					t.Errorf("resends %v", act.resends)
				}
			} else {
				// Without a resender there is no route to post to.
				wantStatus(t, b.post(PathActivation, url.Values{csrfField: {p.token(t)}}), http.StatusNotFound)
			}

			// Another account can be used: the logout leads back to the
			// request.
			wantContains(t, p, "Se connecter avec un autre compte")
			out := b.post(PathLogout, url.Values{csrfField: {p.token(t)}, paramRequest: {"r2"}})
			wantStatus(t, out, http.StatusOK)
			wantContains(t, out, `href="/login?request=r2"`)
			wantContains(t, b.get("/login?request=r2"), `name="password"`)
		})
	}
}

func TestSuspendedAccountGetsNoSession(t *testing.T) {
	e := newEnv(t, options{})
	e.account("alice", "pw", identity.StatusSuspended)
	e.request("r1")
	b := e.browser()
	p := b.login("r1", "alice", "pw")
	wantStatus(t, p, http.StatusForbidden)
	wantContains(t, p, "Votre compte est suspendu")
	if b.cookie(DefaultCookieName) != "" || len(e.reqs.Completed()) != 0 || len(e.events(EventSessionCreated)) != 0 {
		t.Error("a suspended account got a session")
	}
}

func TestLoginWithoutRequest(t *testing.T) {
	e := newEnv(t, options{})
	e.account("alice", "pw", identity.StatusActive)
	b := e.browser()
	form := b.get(PathLogin)
	wantContains(t, form, "Connectez-vous à votre compte.")
	wantNotContains(t, form, `name="request"`)
	p := b.submit(form, "", "alice", "pw")
	wantStatus(t, p, http.StatusSeeOther)
	if loc := p.Header.Get("Location"); loc != PathLogin {
		t.Errorf("Location %q", loc)
	}
	in := b.get(PathLogin)
	wantStatus(t, in, http.StatusOK)
	wantContains(t, in, "Session ouverte", "Vous avez ouvert une session en tant que Alice Martin (alice).",
		`action="/logout"`, "Fermer la session")
	wantNotContains(t, in, `name="password"`)

	// A pending validation account is told why applications refuse it.
	e.account("bob", "pw", identity.StatusPendingValidation)
	b2 := e.browser()
	b2.login("", "bob", "pw")
	wantContains(t, b2.get(PathLogin), "Session ouverte", "doit encore valider votre compte")
}

func TestLogout(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, options{store: st})
		a := e.account("alice", "pw", identity.StatusActive)
		e.request("r1")
		b := e.browser()
		b.login("", "alice", "pw")
		cookie := b.cookie(DefaultCookieName)
		in := b.get(PathLogin)

		// Without the token, nothing happens.
		wantStatus(t, b.post(PathLogout, url.Values{}), http.StatusForbidden)
		if _, ok := e.sessionOf(cookie); !ok {
			t.Fatal("a logout without CSRF token ended the session")
		}

		p := b.post(PathLogout, url.Values{csrfField: {in.token(t)}})
		wantStatus(t, p, http.StatusOK)
		wantContains(t, p, "Session fermée", `href="/login"`)
		if ck := setCookie(p.Response, DefaultCookieName); ck == nil || ck.MaxAge >= 0 {
			t.Errorf("session cookie not cleared: %v", p.Header["Set-Cookie"])
		}
		if b.cookie(DefaultCookieName) != "" {
			t.Error("the browser kept its session cookie")
		}
		if _, ok := e.sessionOf(cookie); ok {
			t.Error("the old cookie still works")
		}
		evs := e.events(EventSessionRevoked)
		if len(evs) != 1 || evs[0].AccountID != a.ID || evs[0].Actor != "account:"+a.ID || !bytes.Contains(evs[0].Data, []byte(`"logout"`)) {
			t.Errorf("events %+v", evs)
		}
		// The next login asks for the password again.
		wantContains(t, b.get("/login?request=r1"), `name="password"`)
	})
}

func TestEndSession(t *testing.T) {
	e := newEnv(t, options{})
	e.account("alice", "pw", identity.StatusActive)
	b := e.browser()
	b.login("", "alice", "pw")
	cookie := b.cookie(DefaultCookieName)

	req, _ := http.NewRequest(http.MethodGet, "/end_session", nil)
	req.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: cookie})
	w := httptest.NewRecorder()
	e.h.EndSession(w, req)
	if w.Body.Len() != 0 {
		t.Errorf("EndSession wrote %q", w.Body.String())
	}
	if ck := setCookie(w.Result(), DefaultCookieName); ck == nil || ck.MaxAge >= 0 {
		t.Error("EndSession did not clear the cookie")
	}
	if _, ok := e.sessionOf(cookie); ok {
		t.Error("the session survived EndSession")
	}
	if evs := e.events(EventSessionRevoked); len(evs) != 1 || !bytes.Contains(evs[0].Data, []byte(`"end_session"`)) {
		t.Errorf("events %+v", evs)
	}
	// Without a session it does nothing.
	e.h.EndSession(httptest.NewRecorder(), req)
}

func TestUpstreamButtons(t *testing.T) {
	e := newEnv(t, options{upstreams: []Upstream{
		{Name: "campus", Label: "Université de Montpellier", StartURL: "/login/upstream/campus"},
	}})
	e.request("r1")
	p := e.browser().get("/login?request=r1")
	wantContains(t, p, "Ou connectez-vous avec", `href="/login/upstream/campus?request=r1"`, "Université de Montpellier")
	wantNotContains(t, e.browser().get(PathLogin), "?request=")
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t, options{})
	e.account("alice", "pw", identity.StatusActive)
	e.request("r1")
	b := e.browser()
	pages := map[string]page{
		"form":         b.get("/login?request=r1"),
		"failed login": b.login("r1", "alice", "wrong"),
		"bad request":  b.get("/login?request=nope"),
		"bad csrf":     b.post(PathLogin, url.Values{}),
		"logout":       b.post(PathLogout, url.Values{csrfField: {b.get(PathLogin).token(t)}}),
		"login":        b.login("r1", "alice", "pw"),
	}
	for name, p := range pages {
		for h, want := range map[string]string{
			"Cache-Control":          "no-store",
			"X-Frame-Options":        "DENY",
			"Referrer-Policy":        "no-referrer",
			"X-Content-Type-Options": "nosniff",
		} {
			if got := p.Header.Get(h); got != want {
				t.Errorf("%s: %s %q, want %q", name, h, got, want)
			}
		}
		csp := p.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("%s: CSP %q", name, csp)
		}
	}
	// The style sheet the CSP allows is served.
	css := b.get(PathCSS)
	if css.StatusCode != http.StatusOK || !strings.HasPrefix(css.Header.Get("Content-Type"), "text/css") {
		t.Errorf("style sheet: %d %s", css.StatusCode, css.Header.Get("Content-Type"))
	}
	// No script anywhere.
	if regexp.MustCompile(`(?i)<script|\son[a-z]+=`).MatchString(pages["form"].body) {
		t.Error("the login page has script")
	}
}
