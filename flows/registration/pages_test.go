package registration

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
	"github.com/canonid/canonid/web"
)

// noAuth: the pages tested need no login.
type noAuth struct{}

func (noAuth) Authenticate(context.Context, string, string) (string, []string, error) {
	return "", nil, web.ErrInvalidCredentials
}

type noRequests struct{}

func (noRequests) Describe(context.Context, string) (web.LoginRequest, error) {
	return web.LoginRequest{}, store.ErrNotFound
}
func (noRequests) Complete(context.Context, string, string, time.Time, []string) (string, error) {
	return "", store.ErrNotFound
}
func (noRequests) Fail(context.Context, string, string, string) (string, error) {
	return "", store.ErrNotFound
}

// TestPagesRender draws the pages in the real layout of the login pages.
func TestPagesRender(t *testing.T) {
	st := storetest.OpenSQLite(t)
	e := newEnv(t, st)
	link := tokenOf(t, e.register("cpts-x", "page@example.org", "Pa", "Ge")[0])

	engine := gin.New()
	srv := httptest.NewServer(engine)
	t.Cleanup(srv.Close)
	pages, err := web.New(web.Config{PublicURL: srv.URL, Secret: []byte("0123456789abcdef0123456789abcdef")},
		web.Deps{Store: st, Auth: noAuth{}, Requests: noRequests{}, Now: e.clock.Now, Logger: discardLog()})
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(e.svc, pages, func(*http.Request) (store.APIToken, bool) { return store.APIToken{}, false }, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	h.MountPages(engine)
	for _, c := range []struct {
		path   string
		status int
		want   []string
	}{
		{PathRegister + "?org=cpts-x", 200, []string{"CPTS X", `name="email"`, `name="given_name"`, `name="csrf_token"`}},
		{PathRegister + "?org=cpts-x&lang=en", 200, []string{"Register with CPTS X"}},
		{confirmURL(link), 200, []string{"page@example.org", `name="password"`, `action="/register/phone"`, `name="code"`}},
		{confirmURL("forged"), 400, []string{"Ce lien ne peut pas être utilisé"}},
	} {
		res, err := http.Get(srv.URL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != c.status {
			t.Errorf("%s: %d, want %d\n%s", c.path, res.StatusCode, c.status, b)
		}
		for _, w := range c.want {
			if !strings.Contains(string(b), w) {
				t.Errorf("%s lacks %q:\n%s", c.path, w, b)
			}
		}
	}
}
