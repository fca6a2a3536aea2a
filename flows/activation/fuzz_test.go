package activation

import (
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

// Requests of FuzzLinkPages, chosen by op: GET or POST (op%2), of the
// activation link's page, the redirection link's page or the resend form
// (op/2%3), with the form's CSRF token or a wrong one (op/6%2).
const fuzzPost = 1

// Pages of FuzzLinkPages, op/2%3.
const (
	fuzzActivate = iota
	fuzzRedirect
	fuzzResend
)

const (
	unknownToken = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
	unknownLogin = "nobody.here"
)

// FuzzLinkPages opens and posts the pages of the mailed links, at any
// step with any field, and the resend form with any login: the answer is
// never a 5xx or a panic; unless the token is a live one, the page is the
// very one an unknown token gets (same status, same text): a replaced,
// expired or mistyped link tells nothing more; and the resend form answers
// the same whatever the login (pending, active, unknown).
func FuzzLinkPages(f *testing.F) {
	fx := newLinkFuzz(f)
	tokens := []string{"", unknownToken, fx.replaced, fx.expired, "%00", "\x00", strings.Repeat("A", 128), strings.Repeat("A", 129)}
	for _, tok := range fx.live {
		tokens = append(tokens, tok[1:], tok+"A", strings.ToUpper(tok), " "+tok)
	}
	steps := []Step{"", StepCharter, StepDirectory, StepRedirect, StepPassword, StepConfirm, "../admin"}
	for i, tok := range tokens {
		for op := range uint8(12) {
			f.Add(op, tok, string(steps[(i+int(op))%len(steps)]), "1")
		}
	}
	for _, login := range []string{"paul", "ALICE", "rita", unknownLogin, "", " ", strings.Repeat("x", 400)} {
		f.Add(uint8(2*fuzzResend+fuzzPost), "", "", login)
	}
	f.Add(uint8(fuzzPost), unknownToken, string(StepRedirect), "yes")
	f.Add(uint8(fuzzPost), fx.replaced, string(StepPassword), "Correct-Horse-Battery-9")
	f.Fuzz(func(t *testing.T, op uint8, token, step, value string) {
		if slices.Contains(fx.live, token) {
			t.Skip("a live link: it may act")
		}
		got := fx.request(op, token, step, value)
		if got.Code >= 500 {
			t.Fatalf("op %d, token %q, step %q, value %q: status %d\n%s", op, token, step, value, got.Code, got.Body)
		}
		want := fx.request(op, unknownToken, step, value)
		if op/2%3 == fuzzResend {
			if identity.NormalizeLogin(value) == "" {
				return // no login: the form again
			}
			want = fx.request(op, token, step, unknownLogin)
		}
		if !flowstest.SamePage(got, want) {
			t.Fatalf("op %d, step %q, value %q: token %q gets another page than an unknown one:\n%d %s\n--- unknown:\n%d %s",
				op, step, value, token, got.Code, flowstest.FuzzMain(got.Body.String()), want.Code, flowstest.FuzzMain(want.Body.String()))
		}
	})
}

// linkFuzz is the flow's pages over SQLite, with the login pages: the
// CSRF cookie and token of one browser, and the tokens of the links
// mailed.
type linkFuzz struct {
	*flowstest.FuzzBrowser
	// live are the links that work: paul's newest activation link,
	// rita's, and the link that confirms rita's redirection; replaced is
	// paul's first link, expired anne's.
	live              []string
	replaced, expired string
}

func newLinkFuzz(f *testing.F) *linkFuzz {
	f.Helper()
	st := storetest.OpenSQLite(f)
	clk := flowstest.NewClock()
	q, err := notify.NewQueue(notify.Config{Driver: notify.DriverLog, From: "Université de Test <noreply@univ-test.example>",
		SiteName: "Université de Test", Secret: "0123456789abcdef0123456789abcdef-test", Location: time.UTC})
	if err != nil {
		f.Fatal(err)
	}
	q.SetClock(clk.Now)
	mails := &flowstest.LinkRecorder{Queue: q}
	lots := Limit{Events: 1 << 30, Per: time.Second, Burst: 1 << 30} // the fuzzer tries a lot, from one address
	svc, err := New(st, mails, Config{PublicURL: "http://canonid.test", TimeZone: "Europe/Paris", CharterVersion: "2021-06",
		CharterText: testCharter, IPLimit: lots, LoginLimit: lots, RedirectLimit: lots})
	if err != nil {
		f.Fatal(err)
	}
	svc.SetClock(clk.Now)
	pages := flowstest.NewPages(f, "http://canonid.test", st, &flowstest.Passwords{}, clk.Now, svc)
	h, err := NewHandler(svc, pages, flowstest.DiscardLogger())
	if err != nil {
		f.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	engine := gin.New()
	pages.Mount(engine)
	h.MountPages(engine)
	fx := &linkFuzz{}

	pending := func(login string, status identity.Status, affiliations []string, emails ...identity.Email) string {
		f.Helper()
		a := identity.Account{Status: status, Login: login, GivenName: "Test", FamilyName: login,
			Attributes: map[string][]string{identity.FieldRecoveryEmail: {login + ".perso@example.org"}}}
		if affiliations != nil {
			a.Attributes[identity.FieldAffiliation] = affiliations
		}
		err := st.Update(f.Context(), func(tx store.Tx) error {
			if err := tx.Accounts().Create(f.Context(), &a); err != nil {
				return err
			}
			for _, m := range emails {
				m.AccountID = a.ID
				if err := tx.Emails().Add(f.Context(), &m); err != nil {
					return err
				}
			}
			if err := tx.Record(f.Context(), store.Event{Type: identity.EventAccountCreated, Actor: "test", AccountID: a.ID}); err != nil {
				return err
			}
			if status != identity.StatusPendingActivation {
				return nil
			}
			return svc.Start(f.Context(), tx, a.ID, "fr")
		})
		if err != nil {
			f.Fatal(err)
		}
		return a.ID
	}
	pending("anne", identity.StatusPendingActivation, nil)
	fx.expired = mails.LastToken(f)
	clk.Advance(72 * time.Hour)
	pending("alice", identity.StatusActive, nil)
	paul := pending("paul", identity.StatusPendingActivation, nil)
	fx.replaced = mails.LastToken(f)
	if err := svc.Resend(f.Context(), paul); err != nil {
		f.Fatal(err)
	}
	fx.live = append(fx.live, mails.LastToken(f))
	pending("rita", identity.StatusPendingActivation, []string{"member", "employee"},
		identity.Email{Address: "rita@univ-test.fr", Verified: true, Primary: true, Source: "ldap:campus"})
	rita := mails.LastToken(f)
	if _, err := svc.AcceptCharter(f.Context(), rita, "2021-06"); err != nil {
		f.Fatal(err)
	}
	if _, err := svc.ChooseDirectory(f.Context(), rita, true); err != nil {
		f.Fatal(err)
	}
	if _, err := svc.ChooseRedirect(f.Context(), rita, "rita.new@example.org", true, "fr"); err != nil {
		f.Fatal(err)
	}
	fx.live = append(fx.live, rita, mails.LastToken(f))

	// One browser: its CSRF cookie and token.
	fx.FuzzBrowser = flowstest.NewFuzzBrowser(f, engine)
	return fx
}

// request sends what op says: value fills every field of the form posted
// (the login of the resend form).
func (fx *linkFuzz) request(op uint8, token, step, value string) *httptest.ResponseRecorder {
	path := []string{PathActivate, PathRedirectConfirm, PathResend}[op/2%3]
	if op%2 != fuzzPost {
		q := url.Values{fieldToken: {token}, fieldStep: {step}}
		return fx.Get(path+"?"+q.Encode(), false)
	}
	form := url.Values{fieldToken: {token}, fieldStep: {step}}
	for _, k := range []string{fieldCharterVersion, fieldAccept, fieldVisible, fieldPassword, fieldPasswordAgain,
		fieldLogin, fieldRedirect, fieldRedirectTo, fieldKeepCopy} {
		form.Set(k, value)
	}
	return fx.Post(path, form, op/6%2 == 0, false)
}
