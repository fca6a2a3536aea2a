package registration

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/flows/flowstest"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/notify"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
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
		if !flowstest.SamePage(got, want) {
			t.Fatalf("op %d, value %q: token %q gets another page than an unknown one:\n%d %s\n--- unknown token:\n%d %s",
				op, value, token, got.Code, flowstest.FuzzMain(got.Body.String()), want.Code, flowstest.FuzzMain(want.Body.String()))
		}
	})
}

// registrationFuzz is the flow's pages over SQLite, with the login pages:
// the CSRF cookie and token of one browser, and the tokens of the links
// mailed.
type registrationFuzz struct {
	*flowstest.FuzzBrowser
	// live are the links that work; expired and used are links that did.
	live          []string
	expired, used string
}

func newRegistrationFuzz(f *testing.F) *registrationFuzz {
	f.Helper()
	st := storetest.OpenSQLite(f)
	clk := flowstest.NewClock()
	q, err := notify.NewQueue(mailConfig(notify.DriverLog))
	if err != nil {
		f.Fatal(err)
	}
	q.SetClock(clk.Now)
	mails := &flowstest.LinkRecorder{Queue: q}
	lots := Limit{Events: 1 << 30, Per: time.Second, Burst: 1 << 30} // the fuzzer tries a lot, from one address
	svc, err := New(st, mails, &fakeSMS{}, DirDocuments{Dir: f.TempDir()},
		Config{PublicURL: "http://canonid.test", Location: time.UTC, IPLimit: lots, AddressLimit: lots})
	if err != nil {
		f.Fatal(err)
	}
	svc.SetClock(clk.Now)
	pages := flowstest.NewPages(f, "http://canonid.test", st, &flowstest.Passwords{}, clk.Now, nil)
	noCaller := func(*http.Request) (store.APIToken, bool) { return store.APIToken{}, false }
	h, err := NewHandler(svc, pages, noCaller, flowstest.DiscardLogger())
	if err != nil {
		f.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	engine := gin.New()
	pages.Mount(engine)
	h.MountPages(engine)
	fx := &registrationFuzz{}

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
		return mails.LastToken(f)
	}
	fx.expired = register("anne@example.org")
	clk.Advance(DefaultLinkTTL + time.Minute)
	fx.used = register("bob@univ-test.fr")
	if _, err := svc.Confirm(f.Context(), fx.used, testPassword); err != nil {
		f.Fatal(err)
	}
	fx.live = []string{register("carol@example.org"), register("dave@example.org")}

	// One browser: its CSRF cookie and token.
	fx.FuzzBrowser = flowstest.NewFuzzBrowser(f, engine)
	return fx
}

// request sends what op says: value fills every field of the form posted
// (and is the org of GET /register).
func (fx *registrationFuzz) request(op uint8, token, value string) *httptest.ResponseRecorder {
	form := url.Values{fieldToken: {token}}
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
	if op%2 == fuzzPost {
		return fx.Post(path, form, op/8%2 == 0, false)
	}
	if path != PathRegister {
		path = PathConfirm
	}
	q := url.Values{fieldToken: {token}, fieldOrg: {value}}
	return fx.Get(path+"?"+q.Encode(), false)
}
