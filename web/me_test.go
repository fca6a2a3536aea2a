package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/identity"
)

// TestRequireAccount: a self-service endpoint knows its caller by the
// session cookie or by an access token, and refuses anyone else.
func TestRequireAccount(t *testing.T) {
	e := newEnv(t, options{})
	a := e.account("alice", "pw", identity.StatusActive)
	tokens := func(_ context.Context, tok string) (string, error) {
		if tok == "good" {
			return "from-token", nil
		}
		return "", errors.New("bad token")
	}
	me := e.engine.Group("/api/v1/me", e.h.RequireAccount(tokens))
	whoami := func(c *gin.Context) {
		id, _ := Me(c)
		c.String(http.StatusOK, "me=%s", id)
	}
	me.GET("", whoami)
	me.POST("", whoami)

	b := e.browser()
	if p := b.get("/api/v1/me"); p.StatusCode != http.StatusUnauthorized || p.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("no session: %d", p.StatusCode)
	}
	e.request("r1")
	wantStatus(t, b.login("r1", "alice", "pw"), http.StatusSeeOther)
	wantContains(t, b.get("/api/v1/me"), "me="+a.ID)
	wantContains(t, b.post("/api/v1/me", url.Values{}), "me="+a.ID)
	if p := b.post("/api/v1/me", url.Values{}, "Origin", "https://evil.example"); p.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin POST with the session: %d, want 403", p.StatusCode)
	}
	if p := b.post("/api/v1/me", url.Values{}, "Sec-Fetch-Site", "cross-site"); p.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site fetch with the session: %d, want 403", p.StatusCode)
	}

	anon := e.browser()
	for _, c := range []struct {
		auth   string
		status int
		want   string
	}{
		{"Bearer good", http.StatusOK, "me=from-token"},
		{"Bearer bad", http.StatusUnauthorized, ""},
		{"Basic Zm9vOmJhcg==", http.StatusUnauthorized, ""},
	} {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/api/v1/me", nil)
		req.Header.Set("Authorization", c.auth)
		p := anon.do(req)
		if p.StatusCode != c.status {
			t.Errorf("%s: %d, want %d", c.auth, p.StatusCode, c.status)
		} else if c.want != "" {
			wantContains(t, p, c.want)
		}
	}
}
