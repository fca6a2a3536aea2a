package registration

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/flows/flowstest"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
)

// TestPagesRender draws the pages in the real layout of the login pages.
func TestPagesRender(t *testing.T) {
	st := storetest.OpenSQLite(t)
	e := newEnv(t, st)
	link := tokenOf(t, e.register("cpts-x", "page@example.org", "Pa", "Ge")[0])

	engine := gin.New()
	srv := httptest.NewServer(engine)
	t.Cleanup(srv.Close)
	pages := flowstest.NewPages(t, srv.URL, st, &flowstest.Passwords{}, e.Clock.Now, nil)
	h, err := NewHandler(e.svc, pages, func(*http.Request) (store.APIToken, bool) { return store.APIToken{}, false }, flowstest.DiscardLogger())
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
