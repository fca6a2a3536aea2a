package registration

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/notify"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
	"github.com/canonid/canonid/web"
)

// Requests of FuzzConfirmPage, chosen by op: GET or POST (op%2) of the
// confirmation page, the phone forms (send, verify) or the registration
// form (op/2%4), with the form's CSRF token or a wrong one (op/8%2).
const fuzzPost = 1

// Forms of FuzzConfirmPage, op/2%4.
const (
	fuzzConfirm = iota
	fuzzPhoneSend
	fuzzPhoneVerify
	fuzzRegister
)

const unknownToken = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"

// FuzzConfirmPage opens and posts the page of a mailed link and its phone
// forms with any token, password and code, and the registration form with
// any values: the answer is never a 5xx or a panic, and unless the token
// is a live one, the link's pages are the very ones an unknown token gets
// (same status, same text): an expired, used or mistyped link tells
// nothing more.
func FuzzConfirmPage(f *testing.F) {
	fx := newRegistrationFuzz(f)
	tokens := []string{"", unknownToken, fx.expired, fx.used, "%00", "\x00", strings.Repeat("A", 128), strings.Repeat("A", 129)}
	for _, tok := range fx.live {
		tokens = append(tokens, tok[1:], tok+"A", strings.ToUpper(tok), tok+" ")
	}
	values := []string{"", testPassword, "123456", "000000", "x", strings.Repeat("é", 600)}
	for i, tok := range tokens {
		for op := range uint8(16) {
			f.Add(op, tok, values[(i+int(op))%len(values)])
		}
	}
	for _, v := range []string{"cpts-x", "new.person@example.org", "bob@univ-test.fr", "not an address", "+33 6 12 34 56 78", ""} {
		f.Add(uint8(2*fuzzRegister+fuzzPost), "", v)
		f.Add(uint8(2*fuzzRegister), "", v)
	}
	f.Fuzz(func(t *testing.T, op uint8, token, value string) {
		if slices.Contains(fx.live, token) {
			t.Skip("a live link: it may act")
		}
		got := fx.request(op, token, value)
		if got.Code >= 500 {
			t.Fatalf("op %d, token %q, value %q: status %d\n%s", op, token, value, got.Code, got.Body)
		}
		if op/2%4 == fuzzRegister {
			return
		}
		want := fx.request(op, unknownToken, value)
		if got.Code != want.Code || fuzzMain(got.Body.String()) != fuzzMain(want.Body.String()) {
			t.Fatalf("op %d, value %q: token %q gets another page than an unknown one:\n%d %s\n--- unknown token:\n%d %s",
				op, value, token, got.Code, fuzzMain(got.Body.String()), want.Code, fuzzMain(want.Body.String()))
		}
	})
}

// registrationFuzz is the flow's pages over SQLite, with the login pages:
// the CSRF cookie and token of one browser, and the tokens of the links
// mailed.
type registrationFuzz struct {
	engine     *gin.Engine
	csrfCookie string
	csrfToken  string
	// live are the links that work; expired and used are links that did.
	live          []string
	expired, used string
}

func newRegistrationFuzz(f *testing.F) *registrationFuzz {
	f.Helper()
	st := storetest.OpenSQLite(f)
	clk := newClock()
	q, err := notify.NewQueue(notify.Config{Driver: notify.DriverLog, From: "CPTS <noreply@cpts.example>", SiteName: "Inzee",
		Secret: "0123456789abcdef0123456789abcdef-test", Location: time.UTC})
	if err != nil {
		f.Fatal(err)
	}
	q.SetClock(clk.Now)
	mails := &linkRecorder{q: q}
	lots := Limit{Events: 1 << 30, Per: time.Second, Burst: 1 << 30} // the fuzzer tries a lot, from one address
	svc, err := New(st, mails, &fakeSMS{}, DirDocuments{Dir: f.TempDir()},
		Config{PublicURL: "http://canonid.test", Location: time.UTC, IPLimit: lots, AddressLimit: lots})
	if err != nil {
		f.Fatal(err)
	}
	svc.SetClock(clk.Now)
	pages, err := web.New(web.Config{PublicURL: "http://canonid.test", Secret: []byte("0123456789abcdef0123456789abcdef")},
		web.Deps{Store: st, Auth: noAuth{}, Requests: noRequests{}, Now: clk.Now, Logger: discardLog()})
	if err != nil {
		f.Fatal(err)
	}
	noCaller := func(*http.Request) (store.APIToken, bool) { return store.APIToken{}, false }
	h, err := NewHandler(svc, pages, noCaller, discardLog())
	if err != nil {
		f.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	fx := &registrationFuzz{engine: gin.New()}
	pages.Mount(fx.engine)
	h.MountPages(fx.engine)

	err = st.Update(f.Context(), func(tx store.Tx) error {
		o := identity.Org{ID: "cpts-x", Name: "CPTS X", Kind: "cpts"}
		if err := tx.Orgs().Put(f.Context(), &o); err != nil {
			return err
		}
		return tx.Record(f.Context(), store.Event{Type: identity.EventOrgUpserted, Actor: "test", OrgID: o.ID})
	})
	if err != nil {
		f.Fatal(err)
	}
	register := func(email string) string {
		f.Helper()
		if err := svc.Register(f.Context(), "cpts-x", email, "Test", "Person", "+33 6 12 34 56 78", "fr"); err != nil {
			f.Fatal(err)
		}
		return mails.lastToken(f)
	}
	fx.expired = register("anne@example.org")
	clk.Advance(DefaultLinkTTL + time.Minute)
	fx.used = register("bob@univ-test.fr")
	if _, err := svc.Confirm(f.Context(), fx.used, testPassword); err != nil {
		f.Fatal(err)
	}
	fx.live = []string{register("carol@example.org"), register("dave@example.org")}

	// One browser: its CSRF cookie and token.
	rec := fx.serve(httptest.NewRequest(http.MethodGet, "http://canonid.test"+web.PathLogin, nil))
	for _, c := range rec.Result().Cookies() {
		if c.Name == "canonid_csrf" {
			fx.csrfCookie = c.Value
		}
	}
	m := csrfRE.FindStringSubmatch(rec.Body.String())
	if fx.csrfCookie == "" || m == nil {
		f.Fatalf("no CSRF cookie or token in the login form:\n%s", rec.Body)
	}
	fx.csrfToken = html.UnescapeString(m[1])
	return fx
}

// request sends what op says: value fills every field of the form posted
// (and is the org of GET /register).
func (fx *registrationFuzz) request(op uint8, token, value string) *httptest.ResponseRecorder {
	form := url.Values{fieldToken: {token}, web.CSRFField: {fx.csrfToken}}
	path := PathConfirm
	switch op / 2 % 4 {
	case fuzzPhoneSend:
		path = PathPhone
		form.Set("action", "send")
	case fuzzPhoneVerify:
		path = PathPhone
		form.Set("action", "verify")
	case fuzzRegister:
		path = PathRegister
		form.Del(fieldToken)
	}
	for _, k := range []string{fieldPassword, fieldPasswordAgain, "code", fieldOrg, fieldEmail, fieldGivenName, fieldFamilyName, fieldPhone} {
		form.Set(k, value)
	}
	if op/2%4 == fuzzRegister {
		form.Set(fieldOrg, "cpts-x")
	}
	if op/8%2 == 1 {
		form.Set(web.CSRFField, "wrong")
	}
	var req *http.Request
	if op%2 == fuzzPost {
		req = httptest.NewRequest(http.MethodPost, "http://canonid.test"+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		if path != PathRegister {
			path = PathConfirm
		}
		q := url.Values{fieldToken: {token}, fieldOrg: {value}}
		req = httptest.NewRequest(http.MethodGet, "http://canonid.test"+path+"?"+q.Encode(), nil)
	}
	req.AddCookie(&http.Cookie{Name: "canonid_csrf", Value: fx.csrfCookie})
	return fx.serve(req)
}

// serve runs a request through the pages.
func (fx *registrationFuzz) serve(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	fx.engine.ServeHTTP(rec, req)
	return rec
}

// attrRE matches the attributes that carry a page's token back (links
// and form values) and its fresh CSRF token.
var attrRE = regexp.MustCompile(`\b(href|value|action)="[^"]*"`)

// fuzzMain is what a page says: its <main>, with the values of links and
// form fields dropped.
func fuzzMain(body string) string {
	i, j := strings.Index(body, "<main>"), strings.Index(body, "</main>")
	if i < 0 || j < i {
		return body
	}
	return attrRE.ReplaceAllString(body[i:j], `$1=""`)
}

// linkRecorder is notify's queue that keeps the links it queues.
type linkRecorder struct {
	q     *notify.Queue
	mu    sync.Mutex
	links []string
}

func (r *linkRecorder) Enqueue(ctx context.Context, tx store.Tx, m notify.Message) error {
	if err := r.q.Enqueue(ctx, tx, m); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.links = append(r.links, m.Data["link"])
	return nil
}

// lastToken returns the token of the last link queued.
func (r *linkRecorder) lastToken(f *testing.F) string {
	f.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.links) == 0 {
		f.Fatal("no link queued")
	}
	u, err := url.Parse(r.links[len(r.links)-1])
	if err != nil || u.Query().Get(fieldToken) == "" {
		f.Fatalf("no token in link %q", r.links[len(r.links)-1])
	}
	return u.Query().Get(fieldToken)
}
