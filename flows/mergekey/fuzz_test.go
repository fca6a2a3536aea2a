package mergekey

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/flows/flowstest"
	"github.com/canonid/canonid/store/storetest"
)

// Modes of FuzzMergePage, chosen by op: with alice's login session or
// none (op%2), with the form's CSRF token or a wrong one (op/2%2).
const (
	fuzzNoLogin = 1
	fuzzBadCSRF = 2
	unknownKey  = "0000-0000-0000-0000-0000"
)

// FuzzMergePage posts the merge page with any key, confirmation and
// versions: the answer is never a 5xx or a panic, and unless the key is a
// live one (bob's, carol's newest, or alice's own, in any spelling
// normaliseKey reads the same), the page is the very one an unknown key
// gets (same status, same text): carol's replaced key, dave's expired one
// or a near miss tell nothing more. An empty key is asked for again.
func FuzzMergePage(f *testing.F) {
	fx := newMergeFuzz(f)
	near := func(k string) []string {
		return []string{k[:19], k + "0", k[:19] + "U", formatKey(k[1:] + k[:1])}
	}
	keys := []string{unknownKey, fx.replaced, fx.expired, "", "   ", "not a key", strings.Repeat("0", 129), "\x00", "ÉÉÉÉ-ÉÉÉÉ"}
	for _, k := range fx.live {
		keys = append(keys, near(k)...)
	}
	for _, k := range keys {
		for op := range uint8(4) {
			f.Add(op, k, "", "", "")
			f.Add(op, k, "1", "1", "1")
		}
	}
	f.Add(uint8(0), fx.replaced, "1", "-1", "99999999999999999999")
	f.Fuzz(func(t *testing.T, op uint8, key, confirm, survivorVersion, retiredVersion string) {
		loggedIn := op&fuzzNoLogin == 0
		if n, ok := normaliseKey(key); loggedIn && ok && slices.Contains(fx.live, n) {
			t.Skip("a live key: it may merge")
		}
		form := url.Values{fieldKey: {key}, fieldConfirm: {confirm}, fieldSurvivorVersion: {survivorVersion}, fieldRetiredVersion: {retiredVersion}}
		got := fx.post(form, op&fuzzBadCSRF == 0, loggedIn)
		if got.Code >= 500 {
			t.Fatalf("op %d, key %q: status %d\n%s", op, key, got.Code, got.Body)
		}
		if strings.TrimSpace(key) == "" {
			if loggedIn && op&fuzzBadCSRF == 0 && got.Code != http.StatusBadRequest {
				t.Fatalf("empty key %q: status %d, want 400\n%s", key, got.Code, got.Body)
			}
			return
		}
		form.Set(fieldKey, unknownKey)
		want := fx.post(form, op&fuzzBadCSRF == 0, loggedIn)
		if !flowstest.SamePage(got, want) {
			t.Fatalf("op %d: key %q gets another page than an unknown one:\n%d %s\n--- unknown key:\n%d %s",
				op, key, got.Code, flowstest.FuzzMain(got.Body.String()), want.Code, flowstest.FuzzMain(want.Body.String()))
		}
	})
}

// mergeFuzz is the flow's pages over SQLite, with the login pages: the
// CSRF cookie and token of one browser, alice's login session in it, and
// the keys of the other accounts.
type mergeFuzz struct {
	*flowstest.FuzzBrowser
	// live are the keys that work, normalised: bob's, carol's newest and
	// alice's own; replaced is carol's first, expired dave's.
	live              []string
	replaced, expired string
}

func newMergeFuzz(f *testing.F) *mergeFuzz {
	f.Helper()
	st := storetest.OpenSQLite(f)
	clk := flowstest.NewClock()
	accts := accounts.New(st, accounts.DefaultConfig(), flowstest.DiscardLogger())
	accts.SetClock(clk.Now)
	lots := Limit{Events: 1 << 30, Per: time.Second, Burst: 1 << 30} // the fuzzer tries a lot, from one address
	svc, err := New(Config{IPLimit: lots, AccountLimit: lots}, Deps{Store: st, Accounts: accts, Now: clk.Now})
	if err != nil {
		f.Fatal(err)
	}
	auth := &flowstest.Passwords{}
	pages := flowstest.NewPages(f, "http://canonid.test", st, auth, clk.Now, nil)
	h, err := NewHandler(svc, HandlerDeps{Pages: pages, Logger: flowstest.DiscardLogger()})
	if err != nil {
		f.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	engine := gin.New()
	pages.Mount(engine)
	h.Mount(nil, engine)
	fx := &mergeFuzz{}

	ids := map[string]string{}
	for _, login := range []string{"alice", "bob", "carol", "dave"} {
		a, err := accts.Create(f.Context(), accounts.NewAccount{Login: login, GivenName: "Test", FamilyName: login,
			Emails: []accounts.NewEmail{{Address: login + "@univ-test.fr", Verified: true}}, Source: "self"}, "test")
		if err != nil {
			f.Fatal(err)
		}
		ids[login] = a.ID
		auth.Set(login, a.ID, "pw")
	}
	generate := func(login string) string {
		f.Helper()
		k, _, err := svc.Generate(f.Context(), ids[login])
		if err != nil {
			f.Fatal(err)
		}
		n, ok := normaliseKey(k)
		if !ok {
			f.Fatalf("generated key %q does not read back", k)
		}
		return n
	}
	fx.expired = formatKey(generate("dave"))
	clk.Advance(DefaultTTL + time.Minute)
	fx.replaced = formatKey(generate("carol"))
	fx.live = []string{generate("bob"), generate("carol"), generate("alice")}

	// One browser: its CSRF cookie and token, then alice's session.
	fx.FuzzBrowser = flowstest.NewFuzzBrowser(f, engine)
	fx.Login(f, "alice", "pw")
	return fx
}

// post sends the merge page's form.
func (fx *mergeFuzz) post(form url.Values, csrf, loggedIn bool) *httptest.ResponseRecorder {
	return fx.Post(PathMergePage, form, csrf, loggedIn)
}
