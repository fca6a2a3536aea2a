package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
)

func TestSessionIdleExpiry(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, options{store: st})
		e.account("alice", "pw", identity.StatusActive)
		e.request("r1")
		b := e.browser()
		b.login("", "alice", "pw")
		cookie := b.cookie(DefaultCookieName)
		start := e.clock.Now()

		// Used within a minute: valid, not touched.
		e.clock.Advance(30 * time.Second)
		if s, ok := e.sessionOf(cookie); !ok || !s.LastSeenAt.Equal(start) {
			t.Fatalf("after 30s: %+v, %v (want LastSeenAt untouched)", s, ok)
		}
		// Used after a minute: touched.
		e.clock.Advance(time.Minute)
		if s, ok := e.sessionOf(cookie); !ok || !s.LastSeenAt.Equal(e.clock.Now()) {
			t.Fatalf("after 90s: %+v, %v (want LastSeenAt now)", s, ok)
		}
		// Each use pushes the idle limit.
		e.clock.Advance(DefaultSessionIdle - time.Second)
		if _, ok := e.sessionOf(cookie); !ok {
			t.Fatal("session ended before its idle time")
		}
		// Unused for the idle time: ended, and SSO asks for the password.
		e.clock.Advance(DefaultSessionIdle)
		if _, ok := e.sessionOf(cookie); ok {
			t.Fatal("session survived its idle time")
		}
		p := b.get("/login?request=r1")
		wantStatus(t, p, http.StatusOK)
		wantContains(t, p, `name="password"`)
	})
}

func TestSessionAbsoluteExpiry(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, options{store: st})
		e.account("alice", "pw", identity.StatusActive)
		e.request("r1")
		b := e.browser()
		b.login("", "alice", "pw")
		cookie := b.cookie(DefaultCookieName)

		// Used every hour, it still ends 12 hours after the login.
		for range int(DefaultSessionLifetime/time.Hour) - 1 {
			e.clock.Advance(time.Hour)
			if _, ok := e.sessionOf(cookie); !ok {
				t.Fatalf("session ended early, at %s", e.clock.Now())
			}
		}
		e.clock.Advance(time.Hour)
		if _, ok := e.sessionOf(cookie); ok {
			t.Fatal("session survived its lifetime")
		}
		wantContains(t, b.get("/login?request=r1"), `name="password"`)
	})
}

func TestSessionLifetimeConfig(t *testing.T) {
	e := newEnv(t, options{cfg: func(c *Config) {
		c.SessionLifetime = time.Hour
		c.SessionIdle = 10 * time.Minute
		c.CookieName = "sso"
	}})
	e.account("alice", "pw", identity.StatusActive)
	b := e.browser()
	p := b.login("", "alice", "pw")
	if setCookie(p.Response, "sso") == nil {
		t.Fatalf("no sso cookie: %v", p.Header["Set-Cookie"])
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(&http.Cookie{Name: "sso", Value: b.cookie("sso")})
	e.clock.Advance(9 * time.Minute)
	if _, ok := e.h.Session(req); !ok {
		t.Fatal("session ended before its idle time")
	}
	e.clock.Advance(10 * time.Minute)
	if _, ok := e.h.Session(req); ok {
		t.Fatal("session survived its idle time")
	}
}

func TestSessionUnknownCookie(t *testing.T) {
	e := newEnv(t, options{})
	for _, v := range []string{"", "garbage", strings.Repeat("A", 43)} {
		if _, ok := e.sessionOf(v); ok {
			t.Errorf("cookie %q gives a session", v)
		}
	}
}

// TestSecureCookies: over https every cookie is Secure.
func TestSecureCookies(t *testing.T) {
	e := newEnv(t, options{cfg: func(c *Config) { c.PublicURL = "https://login.univ-test.fr" }})
	e.account("alice", "pw", identity.StatusActive)

	engine := e.srv.Config.Handler
	get := httptest.NewRecorder()
	engine.ServeHTTP(get, httptest.NewRequest(http.MethodGet, "/login?lang=en", nil))
	res := get.Result()
	for _, name := range []string{csrfCookie, langCookie} {
		if ck := setCookie(res, name); ck == nil || !ck.Secure {
			t.Errorf("%s: %+v, want Secure", name, ck)
		}
	}
	body := get.Body.String()
	tok := csrfRE.FindStringSubmatch(body)
	if tok == nil {
		t.Fatal("no token")
	}
	form := url.Values{csrfField: {tok[1]}, paramIdentifier: {"alice"}, paramPassword: {"pw"}}
	req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://login.univ-test.fr")
	req.AddCookie(setCookie(res, csrfCookie))
	post := httptest.NewRecorder()
	engine.ServeHTTP(post, req)
	if post.Code != http.StatusSeeOther {
		t.Fatalf("POST: %d %s", post.Code, post.Body)
	}
	if ck := setCookie(post.Result(), DefaultCookieName); ck == nil || !ck.Secure || !ck.HttpOnly {
		t.Errorf("session cookie %+v, want Secure and HttpOnly", ck)
	}
}
