package emailmerge

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/flows/flowstest"
	"github.com/canonid/canonid/notify"
	"github.com/canonid/canonid/store/storetest"
)

// Modes of FuzzConfirmPage, chosen by op: GET or POST (op%2), with
// alice's login session or none (op/2%2), with the form's CSRF token or a
// wrong one (op/4%2).
const (
	fuzzPost     = 1
	fuzzNoLogin  = 2
	fuzzBadCSRF  = 4
	unknownToken = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
)

// FuzzConfirmPage opens and posts the page of a mailed link with any
// token: the answer is never a 5xx or a panic, and unless the token is one
// of alice's own pending links, it is the very page an unknown token gets
// (same status, same text): bob's link, alice's expired one, a prefix, a
// longer or a re-cased token tell nothing more.
func FuzzConfirmPage(f *testing.F) {
	fx := newConfirmFuzz(f)
	for _, tok := range []string{
		"", " ", unknownToken, fx.bobs, fx.expired, fx.aliceVerify + " ", " " + fx.aliceMerge,
		fx.aliceVerify[:len(fx.aliceVerify)-1], fx.aliceMerge + "A", strings.ToUpper(fx.aliceVerify), strings.ToLower(fx.aliceMerge),
		strings.Repeat("A", 128), strings.Repeat("A", 129), "%00", "\x00", "é", "../../login", "token=x&token=y",
	} {
		for op := range uint8(8) {
			f.Add(op, tok, "1")
		}
	}
	f.Add(uint8(fuzzPost), fx.bobs, "0")
	f.Add(uint8(fuzzPost), fx.bobs, "true")
	f.Fuzz(func(t *testing.T, op uint8, token, confirmMerge string) {
		if op&fuzzNoLogin == 0 && (token == fx.aliceVerify || token == fx.aliceMerge) {
			t.Skip("one of alice's own links: it may act")
		}
		got := fx.confirm(op, token, confirmMerge)
		if got.Code >= 500 {
			t.Fatalf("op %d, token %q: status %d\n%s", op, token, got.Code, got.Body)
		}
		want := fx.confirm(op, unknownToken, confirmMerge)
		if !flowstest.SamePage(got, want) {
			t.Fatalf("op %d: token %q gets another page than an unknown one:\n%d %s\n--- unknown token:\n%d %s",
				op, token, got.Code, flowstest.FuzzMain(got.Body.String()), want.Code, flowstest.FuzzMain(want.Body.String()))
		}
	})
}

// confirmFuzz is the flow's page over SQLite, with the login pages: the
// CSRF cookie and token of one browser, alice's login session in it, and
// the tokens of the links mailed.
type confirmFuzz struct {
	*flowstest.FuzzBrowser
	// aliceVerify verifies an address only alice gave; aliceMerge one
	// carol holds (a merge); expired is alice's, expired; bobs is bob's.
	aliceVerify, aliceMerge, expired, bobs string
}

func newConfirmFuzz(f *testing.F) *confirmFuzz {
	f.Helper()
	st := storetest.OpenSQLite(f)
	clk := flowstest.NewClock()
	acc := accounts.New(st, accounts.DefaultConfig(), flowstest.DiscardLogger())
	acc.SetClock(clk.Now)
	q, err := notify.NewQueue(notify.Config{Driver: notify.DriverLog, From: "Université de Test <noreply@univ-test.example>",
		SiteName: "Université de Test", Secret: "0123456789abcdef0123456789abcdef-test", Location: time.UTC})
	if err != nil {
		f.Fatal(err)
	}
	q.SetClock(clk.Now)
	mails := &flowstest.LinkRecorder{Queue: q}
	lots := Limit{Events: 1 << 30, Per: time.Second, Burst: 1 << 30} // the fuzzer tries a lot, from one address
	svc, err := New(st, acc, mails, Config{PublicURL: "http://canonid.test", Location: time.UTC,
		IPLimit: lots, AccountLimit: lots, SendLimit: lots})
	if err != nil {
		f.Fatal(err)
	}
	svc.SetClock(clk.Now)
	auth := &flowstest.Passwords{}
	pages := flowstest.NewPages(f, "http://canonid.test", st, auth, clk.Now, nil)
	h, err := NewHandler(svc, pages, flowstest.DiscardLogger())
	if err != nil {
		f.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	engine := gin.New()
	pages.Mount(engine)
	h.MountPages(engine)
	fx := &confirmFuzz{}

	ids := map[string]string{}
	for _, login := range []string{"alice", "bob", "carol"} {
		a, err := acc.Create(f.Context(), accounts.NewAccount{Login: login, GivenName: "Test", FamilyName: login,
			Emails: []accounts.NewEmail{{Address: login + "@univ-test.fr", Verified: true}}}, "test")
		if err != nil {
			f.Fatal(err)
		}
		ids[login] = a.ID
		auth.Set(login, a.ID, "pw")
	}
	add := func(login, address string) string {
		f.Helper()
		if _, err := svc.AddAddress(f.Context(), ids[login], address, "fr"); err != nil {
			f.Fatal(err)
		}
		return mails.LastToken(f)
	}
	fx.expired = add("alice", "alice.old@example.org")
	clk.Advance(DefaultLinkTTL + time.Minute)
	fx.aliceVerify = add("alice", "alice.new@example.org")
	fx.aliceMerge = add("alice", "carol@univ-test.fr")
	fx.bobs = add("bob", "bob.new@example.org")

	// One browser: its CSRF cookie and token, then alice's session.
	fx.FuzzBrowser = flowstest.NewFuzzBrowser(f, engine)
	fx.Login(f, "alice", "pw")
	return fx
}

// confirm opens (GET) or posts the page of a link with token, as op says.
func (fx *confirmFuzz) confirm(op uint8, token, confirmMerge string) *httptest.ResponseRecorder {
	loggedIn := op&fuzzNoLogin == 0
	if op&fuzzPost == 0 {
		return fx.Get(PathConfirm+"?"+url.Values{fieldToken: {token}}.Encode(), loggedIn)
	}
	return fx.Post(PathConfirm, url.Values{fieldToken: {token}, fieldConfirmMerge: {confirmMerge}}, op&fuzzBadCSRF == 0, loggedIn)
}
