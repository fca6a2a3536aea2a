package emailmerge

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/flows/flowstest"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/notify"
	"github.com/canonid/canonid/store"
)

// The seed's intern: a university account, and an account the regional
// health agency created with her personal address.
const (
	universityLogin = "camille.martin"
	universityMail  = "camille.martin@univ-test.example"
	personalMail    = "camille.martin82@perso.example"
)

func seedAccounts(e *env) (university, agency identity.Account) {
	university = e.account(universityLogin, "pw-"+universityLogin, accounts.NewAccount{
		GivenName: "Camille", FamilyName: "Martin",
		Emails: []accounts.NewEmail{{Address: universityMail, Verified: true}},
	}, "ldap:campus", "9b1f3c2e-campus")
	agency = e.account("", "", accounts.NewAccount{
		GivenName: "Camille", FamilyName: "MARTIN", BirthDate: "1998-04-12",
		Emails: []accounts.NewEmail{{Address: personalMail, Verified: true}},
	}, "csv:ars-occitanie", "ARS-2024-00042")
	return university, agency
}

// TestSeedStory is seed 000 end to end: the intern, logged in to her
// university account, adds the personal address the agency registered;
// the link goes out over SMTP; opening it shows a page and changes
// nothing; confirming shows the merge preview; confirming the merge merges
// the agency account into the university one, which now holds the address
// verified.
func TestSeedStory(t *testing.T) {
	eachEnv(t, nil, func(t *testing.T, e *env) {
		a, b := seedAccounts(e)
		br := e.loggedIn(universityLogin)

		status, body := br.api(http.MethodPost, "/api/v1/me/emails", map[string]string{"address": " Camille.Martin82@Perso.example "})
		if status != http.StatusAccepted || body["status"] != "pending" || len(body) != 1 {
			t.Fatalf("add: %d %v", status, body)
		}
		status, body = br.api(http.MethodGet, "/api/v1/me/emails", nil)
		if status != http.StatusOK || !hasEmail(body, personalMail, false) || !hasEmail(body, universityMail, true) {
			t.Fatalf("list: %d %v", status, body)
		}

		to, link := e.link()
		if to != personalMail {
			t.Fatalf("the link went to %s, want %s", to, personalMail)
		}
		if !strings.HasPrefix(link, e.Server.URL+PathConfirm+"?token=") {
			t.Fatalf("link %s", link)
		}
		if n := len(e.Pending(a.ID)); n != 1 {
			t.Fatalf("%d pending tokens, want 1", n)
		}

		// A mail scanner, then the person, open the link: a page, no change.
		e.browser().Get(flowstest.PathOf(t, link))
		e.Clock.Advance(3 * time.Minute)
		p := br.Get(flowstest.PathOf(t, link))
		flowstest.WantStatus(t, p, http.StatusOK)
		flowstest.WantContains(t, p, "Confirmez votre adresse e-mail", personalMail, `method="post"`, `action="`+PathConfirm+`"`)
		if n := len(e.Pending(a.ID)); n != 1 {
			t.Fatalf("after GET: %d pending tokens, want 1 (GET must not consume)", n)
		}
		if em, _ := e.email(a.ID, personalMail); em.Verified {
			t.Fatal("GET verified the address")
		}

		// Its form: the merge preview, still no change.
		token := flowstest.TokenOf(t, link)
		p = br.Post(PathConfirm, url.Values{"csrf_token": {p.CSRF(t)}, "token": {token}})
		flowstest.WantStatus(t, p, http.StatusOK)
		flowstest.WantContains(t, p, "Fusionner vos comptes", personalMail, "MARTIN", "1998-04-12", "ARS-2024-00042", "csv:ars-occitanie",
			`name="confirm_merge" value="1"`)
		if e.Account(b.ID).Status != identity.StatusActive || len(e.Pending(a.ID)) != 1 {
			t.Fatal("the preview changed something")
		}

		// Confirming the merge.
		e.Clock.Advance(time.Minute)
		p = br.Post(PathConfirm, url.Values{"csrf_token": {p.CSRF(t)}, "token": {token}, "confirm_merge": {"1"}})
		flowstest.WantStatus(t, p, http.StatusOK)
		flowstest.WantContains(t, p, "Comptes fusionnés", personalMail)

		retired := e.Account(b.ID)
		if retired.Status != identity.StatusMerged || retired.MergedInto != a.ID {
			t.Fatalf("agency account: %s, merged into %q", retired.Status, retired.MergedInto)
		}
		em, err := e.email(a.ID, personalMail)
		if err != nil || !em.Verified || em.Primary {
			t.Fatalf("address on the university account: %+v, %v", em, err)
		}
		if _, err := e.email(b.ID, personalMail); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the address is still on the agency account: %v", err)
		}
		d, err := e.acc.Get(t.Context(), b.ID) // the retired id resolves to the survivor
		if err != nil || d.Account.ID != a.ID || len(d.MergedFrom) != 1 || d.MergedFrom[0].ID != b.ID {
			t.Fatalf("Get(retired) = %s, merged from %v, %v", d.Account.ID, d.MergedFrom, err)
		}
		var merges []identity.MergeRecord
		if err := e.Store.View(t.Context(), func(tx store.Tx) error {
			merges, err = tx.Merges().ListByAccount(t.Context(), a.ID)
			return err
		}); err != nil || len(merges) != 1 || merges[0].Reason != identity.MergeByEmail || merges[0].Actor != "account:"+a.ID {
			t.Fatalf("merges: %+v, %v", merges, err)
		}
		if len(d.Links) != 2 {
			t.Fatalf("links of the survivor: %+v", d.Links)
		}
		types := e.AuditTypes(a.ID)
		for _, want := range []string{EventEmailAdded, notify.EventMailQueued, notify.EventMailSent, identity.EventAccountMerged, EventEmailVerified} {
			if !slices.Contains(types, want) {
				t.Errorf("audit of the survivor lacks %s: %v", want, types)
			}
		}
		if i, j := slices.Index(types, identity.EventAccountMerged), slices.Index(types, EventEmailVerified); i > j {
			t.Errorf("audit order: %v", types)
		}
		if len(e.Pending(a.ID)) != 0 {
			t.Error("the link is still pending after its use")
		}

		// The link is spent.
		p = br.Get(flowstest.PathOf(t, link))
		flowstest.WantStatus(t, p, http.StatusBadRequest)
		flowstest.WantContains(t, p, "Ce lien ne peut pas être utilisé")
	})
}

func hasEmail(body map[string]any, address string, verified bool) bool {
	list, _ := body["emails"].([]any)
	for _, x := range list {
		m, _ := x.(map[string]any)
		if m["address"] == address && m["verified"] == verified {
			return true
		}
	}
	return false
}

// TestVerifyUnheldAddress: an address nobody holds becomes a verified
// secondary address (JSON API).
func TestVerifyUnheldAddress(t *testing.T) {
	eachEnv(t, nil, func(t *testing.T, e *env) {
		a := e.person("alice", "alice@univ-test.example")
		br := e.loggedIn("alice")
		if status, _ := br.api(http.MethodPost, "/api/v1/me/emails", map[string]string{"address": "alice@perso.example"}); status != http.StatusAccepted {
			t.Fatalf("add: %d", status)
		}
		_, link := e.link()
		status, body := br.api(http.MethodPost, "/api/v1/me/emails/confirm", map[string]any{"token": flowstest.TokenOf(t, link)})
		if status != http.StatusOK || body["result"] != "verified" || body["address"] != "alice@perso.example" {
			t.Fatalf("confirm: %d %v", status, body)
		}
		em, err := e.email(a.ID, "alice@perso.example")
		if err != nil || !em.Verified || em.Primary || em.Source != SourceSelf {
			t.Fatalf("address: %+v, %v", em, err)
		}
		if p, _ := e.email(a.ID, "alice@univ-test.example"); !p.Primary {
			t.Error("the primary address changed")
		}
		// Adding it again: refused, it is verified here already.
		if status, body := br.api(http.MethodPost, "/api/v1/me/emails", map[string]string{"address": "ALICE@perso.example"}); status != http.StatusConflict {
			t.Fatalf("add a verified address again: %d %v", status, body)
		}
		if status, _ := br.api(http.MethodPost, "/api/v1/me/emails", map[string]string{"address": "alice@univ-test.example"}); status != http.StatusConflict {
			t.Fatalf("add the primary address: %d", status)
		}
		if status, _ := br.api(http.MethodPost, "/api/v1/me/emails", map[string]string{"address": "not an address"}); status != http.StatusBadRequest {
			t.Fatalf("add an invalid address: %d", status)
		}
	})
}

// TestMergeByAPI: the same merge through the JSON API.
func TestMergeByAPI(t *testing.T) {
	eachEnv(t, nil, func(t *testing.T, e *env) {
		a, b := seedAccounts(e)
		br := e.loggedIn(universityLogin)
		br.api(http.MethodPost, "/api/v1/me/emails", map[string]string{"address": personalMail})
		_, link := e.link()
		token := flowstest.TokenOf(t, link)

		status, body := br.api(http.MethodPost, "/api/v1/me/emails/confirm", map[string]any{"token": token})
		if status != http.StatusOK || body["result"] != "merge_required" {
			t.Fatalf("confirm: %d %v", status, body)
		}
		preview, _ := body["preview"].(map[string]any)
		if preview["survivor_id"] != a.ID || preview["retired_id"] != b.ID {
			t.Fatalf("preview: %v", preview)
		}
		status, body = br.api(http.MethodPost, "/api/v1/me/emails/confirm", map[string]any{"token": token, "confirm_merge": true})
		if status != http.StatusOK || body["result"] != "merged" || body["merge_id"] == "" || body["merged_account"] != b.ID {
			t.Fatalf("confirm merge: %d %v", status, body)
		}
		if r := e.Account(b.ID); r.MergedInto != a.ID {
			t.Fatalf("not merged: %+v", r)
		}
		// Undoing gives the agency account its address back, verified.
		if _, err := e.acc.Undo(t.Context(), body["merge_id"].(string), "test"); err != nil {
			t.Fatalf("undo: %v", err)
		}
		if em, err := e.email(b.ID, personalMail); err != nil || !em.Verified {
			t.Fatalf("after undo: %+v, %v", em, err)
		}
	})
}

// TestExpiry: a link works for 30 minutes: at 29:59, not at 30:00.
func TestExpiry(t *testing.T) {
	eachEnv(t, nil, func(t *testing.T, e *env) {
		a := e.person("alice", "alice@univ-test.example")
		br := e.loggedIn("alice")

		br.api(http.MethodPost, "/api/v1/me/emails", map[string]string{"address": "one@perso.example"})
		_, one := e.link()
		br.api(http.MethodPost, "/api/v1/me/emails", map[string]string{"address": "two@perso.example"})
		_, two := e.link()

		e.Clock.Advance(30*time.Minute - time.Second)
		flowstest.WantStatus(t, br.Get(flowstest.PathOf(t, one)), http.StatusOK)
		if status, body := br.api(http.MethodPost, "/api/v1/me/emails/confirm", map[string]any{"token": flowstest.TokenOf(t, one)}); status != http.StatusOK || body["result"] != "verified" {
			t.Fatalf("at 29:59: %d %v", status, body)
		}
		e.Clock.Advance(time.Second)
		flowstest.WantStatus(t, br.Get(flowstest.PathOf(t, two)), http.StatusBadRequest)
		status, body := br.api(http.MethodPost, "/api/v1/me/emails/confirm", map[string]any{"token": flowstest.TokenOf(t, two)})
		if status != http.StatusBadRequest || body["error"] != ErrInvalidLink.Error() {
			t.Fatalf("at 30:00: %d %v", status, body)
		}
		if em, _ := e.email(a.ID, "two@perso.example"); em.Verified {
			t.Fatal("an expired link verified its address")
		}
		// The service says the same.
		if _, err := e.svc.Confirm(t.Context(), a.ID, flowstest.TokenOf(t, two), false); !errors.Is(err, ErrInvalidLink) {
			t.Fatalf("Confirm at 30:00: %v", err)
		}
	})
}

// TestRefusalsLookAlike: a used, forged, expired link, another account's
// link and the link of a deleted address are refused with one answer, on
// the page and in the API.
func TestRefusalsLookAlike(t *testing.T) {
	tune := func(c *Config) {
		c.AccountLimit = Limit{Events: 100, Per: time.Minute, Burst: 100}
		c.IPLimit = c.AccountLimit
	}
	eachEnv(t, tune, func(t *testing.T, e *env) {
		e.person("alice", "alice@univ-test.example")
		e.person("bob", "bob@univ-test.example")
		alice, bob := e.loggedIn("alice"), e.loggedIn("bob")

		add := func(br *browser, addr string) string {
			br.api(http.MethodPost, "/api/v1/me/emails", map[string]string{"address": addr})
			_, link := e.link()
			return flowstest.TokenOf(t, link)
		}
		expired := add(alice, "expired@perso.example")
		e.Clock.Advance(31 * time.Minute)
		used := add(alice, "used@perso.example")
		if status, _ := alice.api(http.MethodPost, "/api/v1/me/emails/confirm", map[string]any{"token": used}); status != http.StatusOK {
			t.Fatal("first use refused")
		}
		deleted := add(alice, "deleted@perso.example")
		if status, _ := alice.api(http.MethodDelete, "/api/v1/me/emails/deleted@perso.example", nil); status != http.StatusNoContent {
			t.Fatal("delete refused")
		}
		bobs := add(bob, "bob@perso.example")
		forged := strings.Repeat("A", 43)

		var pages []string
		var answers []string
		for _, c := range []struct{ name, token string }{
			{"used", used}, {"forged", forged}, {"expired", expired}, {"another account's", bobs}, {"deleted address", deleted}, {"empty", ""},
		} {
			p := alice.Get(PathConfirm + "?token=" + url.QueryEscape(c.token))
			if p.Status != http.StatusBadRequest {
				t.Errorf("%s: GET %d", c.name, p.Status)
			}
			pages = append(pages, p.Main())
			status, body := alice.api(http.MethodPost, "/api/v1/me/emails/confirm", map[string]any{"token": c.token})
			answers = append(answers, http.StatusText(status)+" "+body["error"].(string))
			form := alice.Get("/login") // a page with a form, for its CSRF token
			p = alice.Post(PathConfirm, url.Values{"csrf_token": {form.CSRF(t)}, "token": {c.token}})
			if p.Status != http.StatusBadRequest {
				t.Errorf("%s: POST %d", c.name, p.Status)
			}
			pages = append(pages, p.Main())
		}
		for i := range pages {
			if pages[i] != pages[0] {
				t.Errorf("page %d differs:\n%s\nvs\n%s", i, pages[i], pages[0])
			}
		}
		for i := range answers {
			if answers[i] != answers[0] {
				t.Errorf("answer %d differs: %s vs %s", i, answers[i], answers[0])
			}
		}
		if !strings.Contains(pages[0], "Ce lien ne peut pas être utilisé") || answers[0] != "Bad Request "+ErrInvalidLink.Error() {
			t.Errorf("refusal: %s / %s", pages[0], answers[0])
		}
		// Bob's link was not spent by Alice's tries.
		if status, body := bob.api(http.MethodPost, "/api/v1/me/emails/confirm", map[string]any{"token": bobs}); status != http.StatusOK || body["result"] != "verified" {
			t.Fatalf("bob's own link: %d %v", status, body)
		}
	})
}

// TestAddLooksTheSame: adding an address answers the same whether or not
// another account holds it; the difference shows only once the link is
// followed.
func TestAddLooksTheSame(t *testing.T) {
	eachEnv(t, nil, func(t *testing.T, e *env) {
		a := e.person("alice", "alice@univ-test.example")
		e.person("bob", "bob@perso.example")
		br := e.loggedIn("alice")

		var pages []flowstest.Page
		var events [][]string
		for _, addr := range []string{"bob@perso.example", "nobody@perso.example"} {
			before := len(e.AuditTypes(a.ID))
			pages = append(pages, br.Do(http.MethodPost, "/api/v1/me/emails", "application/json",
				strings.NewReader(`{"address":"`+addr+`"}`)))
			events = append(events, e.AuditTypes(a.ID)[before:])
		}
		if pages[0].Status != pages[1].Status || pages[0].Body != pages[1].Body || pages[0].Status != http.StatusAccepted {
			t.Fatalf("answers differ: %d %s / %d %s", pages[0].Status, pages[0].Body, pages[1].Status, pages[1].Body)
		}
		for _, h := range []string{"Content-Type", "Content-Length", "Retry-After"} {
			if pages[0].Header.Get(h) != pages[1].Header.Get(h) {
				t.Errorf("header %s differs", h)
			}
		}
		if !slices.Equal(events[0], events[1]) {
			t.Errorf("events differ: %v / %v", events[0], events[1])
		}
		// Both links went out; they differ once followed.
		_, held := e.link()
		_, free := e.link()
		if p := br.Post(PathConfirm, url.Values{"csrf_token": {br.Get(flowstest.PathOf(t, held)).CSRF(t)}, "token": {flowstest.TokenOf(t, held)}}); !strings.Contains(p.Text(), "Fusionner vos comptes") {
			t.Fatalf("held address: %s", p.Body)
		}
		if p := br.Post(PathConfirm, url.Values{"csrf_token": {br.Get(flowstest.PathOf(t, free)).CSRF(t)}, "token": {flowstest.TokenOf(t, free)}}); !strings.Contains(p.Text(), "Adresse confirmée") {
			t.Fatalf("free address: %s", p.Body)
		}
	})
}

// TestDeletePending: a pending address can be deleted; a verified one
// cannot, here.
func TestDeletePending(t *testing.T) {
	eachEnv(t, nil, func(t *testing.T, e *env) {
		a := e.person("alice", "alice@univ-test.example")
		br := e.loggedIn("alice")
		br.api(http.MethodPost, "/api/v1/me/emails", map[string]string{"address": "typo@perso.example"})
		_, link := e.link()

		if status, body := br.api(http.MethodDelete, "/api/v1/me/emails/Typo@perso.example", nil); status != http.StatusNoContent {
			t.Fatalf("delete: %d %v", status, body)
		}
		if _, err := e.email(a.ID, "typo@perso.example"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("still there: %v", err)
		}
		if status, _ := br.api(http.MethodDelete, "/api/v1/me/emails/typo@perso.example", nil); status != http.StatusNotFound {
			t.Fatalf("delete again: %d", status)
		}
		if status, _ := br.api(http.MethodDelete, "/api/v1/me/emails/alice@univ-test.example", nil); status != http.StatusConflict {
			t.Fatalf("delete a verified address: %d", status)
		}
		flowstest.WantStatus(t, br.Get(flowstest.PathOf(t, link)), http.StatusBadRequest)
		if !slices.Contains(e.AuditTypes(a.ID), EventEmailRemoved) {
			t.Error("no email.removed event")
		}
	})
}

// TestRateLimit: failed redemptions are limited per account and per client
// address; successful ones do not count.
func TestRateLimit(t *testing.T) {
	tune := func(c *Config) {
		c.AccountLimit = Limit{Events: 1, Per: time.Hour, Burst: 3}
		c.IPLimit = Limit{Events: 1, Per: time.Hour, Burst: 5}
	}
	eachEnv(t, tune, func(t *testing.T, e *env) {
		e.person("alice", "alice@univ-test.example")
		e.person("bob", "bob@univ-test.example")
		alice, bob := e.loggedIn("alice"), e.loggedIn("bob")
		forged := map[string]any{"token": strings.Repeat("B", 43)}

		// Successes give their tokens back.
		for i := range 4 {
			addr := "a" + string(rune('0'+i)) + "@perso.example"
			alice.api(http.MethodPost, "/api/v1/me/emails", map[string]string{"address": addr})
			_, link := e.link()
			flowstest.WantStatus(t, alice.Get(flowstest.PathOf(t, link)), http.StatusOK)
			if status, _ := alice.api(http.MethodPost, "/api/v1/me/emails/confirm", map[string]any{"token": flowstest.TokenOf(t, link)}); status != http.StatusOK {
				t.Fatalf("success %d: %d", i, status)
			}
		}
		// Per account: 3 failures, then 429.
		for i := range 3 {
			if status, _ := alice.api(http.MethodPost, "/api/v1/me/emails/confirm", forged); status != http.StatusBadRequest {
				t.Fatalf("failure %d: %d", i, status)
			}
		}
		p := alice.Do(http.MethodPost, "/api/v1/me/emails/confirm", "application/json", strings.NewReader(`{"token":"x"}`))
		if p.Status != http.StatusTooManyRequests || p.Header.Get("Retry-After") == "" {
			t.Fatalf("4th failure: %d %v", p.Status, p.Header)
		}
		flowstest.WantStatus(t, alice.Get(PathConfirm+"?token=x"), http.StatusTooManyRequests)
		// Per address: bob, from the same address, has 2 left of 5.
		for i := range 2 {
			if status, _ := bob.api(http.MethodPost, "/api/v1/me/emails/confirm", forged); status != http.StatusBadRequest {
				t.Fatalf("bob's failure %d: %d", i, status)
			}
		}
		if status, _ := bob.api(http.MethodPost, "/api/v1/me/emails/confirm", forged); status != http.StatusTooManyRequests {
			t.Fatalf("bob after the address's 5 failures: %d", status)
		}
		// From another address (a trusted proxy's X-Forwarded-For), bob
		// may try again.
		bob.Header.Set("X-Forwarded-For", "192.0.2.7")
		if status, _ := bob.api(http.MethodPost, "/api/v1/me/emails/confirm", forged); status != http.StatusBadRequest {
			t.Fatalf("bob from another address: %d", status)
		}
		// An hour later, one token is back.
		e.Clock.Advance(time.Hour)
		if status, _ := alice.api(http.MethodPost, "/api/v1/me/emails/confirm", forged); status != http.StatusBadRequest {
			t.Fatalf("an hour later: %d", status)
		}
	})
}

// TestSendLimit: adding addresses sends mails: limited per account.
func TestSendLimit(t *testing.T) {
	tune := func(c *Config) { c.SendLimit = Limit{Events: 1, Per: time.Hour, Burst: 2} }
	eachEnv(t, tune, func(t *testing.T, e *env) {
		e.person("alice", "alice@univ-test.example")
		br := e.loggedIn("alice")
		for i, want := range []int{http.StatusAccepted, http.StatusAccepted, http.StatusTooManyRequests} {
			if status, _ := br.api(http.MethodPost, "/api/v1/me/emails", map[string]string{"address": "x@perso.example"}); status != want {
				t.Fatalf("add %d: %d, want %d", i, status, want)
			}
		}
	})
}

// TestWhoIsLoggedIn: the link acts only for the account that asked for it,
// logged in; another account's session sees the refusal, and nothing is
// spent.
func TestWhoIsLoggedIn(t *testing.T) {
	eachEnv(t, nil, func(t *testing.T, e *env) {
		a, _ := seedAccounts(e)
		e.person("mallory", "mallory@univ-test.example")
		br := e.loggedIn(universityLogin)
		br.api(http.MethodPost, "/api/v1/me/emails", map[string]string{"address": personalMail})
		_, link := e.link()
		token := flowstest.TokenOf(t, link)

		// Another browser, not logged in: a page asking to log in first.
		anon := e.browser()
		p := anon.Get(flowstest.PathOf(t, link))
		flowstest.WantStatus(t, p, http.StatusOK)
		flowstest.WantContains(t, p, "Connectez-vous d'abord", `href="/login"`)
		if strings.Contains(p.Body, `name="token"`) {
			t.Error("the login page offers the confirmation form")
		}
		form := anon.Get("/login")
		flowstest.WantStatus(t, anon.Post(PathConfirm, url.Values{"csrf_token": {form.CSRF(t)}, "token": {token}, "confirm_merge": {"1"}}), http.StatusOK)

		// Another account, logged in: refused, as a forged link.
		m := e.loggedIn("mallory")
		p = m.Get(flowstest.PathOf(t, link))
		flowstest.WantStatus(t, p, http.StatusBadRequest)
		flowstest.WantContains(t, p, "Ce lien ne peut pas être utilisé")
		flowstest.WantStatus(t, m.Post(PathConfirm, url.Values{"csrf_token": {m.Get("/login").CSRF(t)}, "token": {token}, "confirm_merge": {"1"}}), http.StatusBadRequest)
		if status, body := m.api(http.MethodPost, "/api/v1/me/emails/confirm", map[string]any{"token": token, "confirm_merge": true}); status != http.StatusBadRequest {
			t.Fatalf("mallory's API confirm: %d %v", status, body)
		}
		if n := len(e.Pending(a.ID)); n != 1 {
			t.Fatalf("%d pending tokens, want 1: the link was spent", n)
		}

		// The person, once logged in in that browser, goes on.
		anon.Login(universityLogin, "pw-"+universityLogin)
		p = anon.Get(flowstest.PathOf(t, link))
		flowstest.WantStatus(t, p, http.StatusOK)
		p = anon.Post(PathConfirm, url.Values{"csrf_token": {p.CSRF(t)}, "token": {token}, "confirm_merge": {"1"}})
		flowstest.WantStatus(t, p, http.StatusOK)
		flowstest.WantContains(t, p, "Comptes fusionnés")
	})
}

// TestFormNeedsCSRF: the confirmation form acts only with its CSRF token,
// from canonid's own pages.
func TestFormNeedsCSRF(t *testing.T) {
	eachEnv(t, nil, func(t *testing.T, e *env) {
		a := e.person("alice", "alice@univ-test.example")
		br := e.loggedIn("alice")
		br.api(http.MethodPost, "/api/v1/me/emails", map[string]string{"address": "alice@perso.example"})
		_, link := e.link()
		p := br.Get(flowstest.PathOf(t, link))
		flowstest.WantStatus(t, br.Post(PathConfirm, url.Values{"token": {flowstest.TokenOf(t, link)}}), http.StatusForbidden)
		br.Header.Set("Origin", "https://evil.example")
		flowstest.WantStatus(t, br.Post(PathConfirm, url.Values{"csrf_token": {p.CSRF(t)}, "token": {flowstest.TokenOf(t, link)}}), http.StatusForbidden)
		br.Header.Del("Origin")
		if len(e.Pending(a.ID)) != 1 {
			t.Fatal("a refused form spent the link")
		}
		p = br.Post(PathConfirm, url.Values{"csrf_token": {p.CSRF(t)}, "token": {flowstest.TokenOf(t, link)}})
		flowstest.WantStatus(t, p, http.StatusOK)
		flowstest.WantContains(t, p, "Adresse confirmée")
	})
}

// TestInspect: Inspect tells what the link will do without spending it.
func TestInspect(t *testing.T) {
	eachEnv(t, nil, func(t *testing.T, e *env) {
		a, b := seedAccounts(e)
		if _, err := e.svc.AddAddress(t.Context(), a.ID, personalMail, "en"); err != nil {
			t.Fatal(err)
		}
		_, link := e.link()
		token := flowstest.TokenOf(t, link)
		for range 2 {
			r, err := e.svc.Inspect(t.Context(), a.ID, token)
			if err != nil || r.Outcome != OutcomeMergeRequired || r.Holder.ID != b.ID || r.Preview.RetiredID != b.ID ||
				!r.ExpiresAt.Equal(e.Clock.Now().Add(DefaultLinkTTL)) {
				t.Fatalf("Inspect = %+v, %v", r, err)
			}
		}
		if _, err := e.svc.Inspect(t.Context(), b.ID, token); !errors.Is(err, ErrInvalidLink) {
			t.Fatalf("Inspect by the other account: %v", err)
		}
		r, err := e.svc.Confirm(t.Context(), a.ID, token, false)
		if err != nil || r.Outcome != OutcomeMergeRequired {
			t.Fatalf("Confirm without confirmMerge = %+v, %v", r, err)
		}
		if len(e.Pending(a.ID)) != 1 {
			t.Fatal("Confirm without confirmMerge spent the link")
		}
	})
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want []string
	}{
		{Config{PublicURL: "https://id.example"}, nil},
		{Config{}, []string{"public_url"}},
		{Config{PublicURL: "https://id.example", LinkTTL: -time.Minute, SendLimit: Limit{Events: 1}}, []string{"link_ttl", "send_limit"}},
	} {
		err := c.cfg.Validate()
		if (err == nil) != (c.want == nil) {
			t.Errorf("%+v: %v", c.cfg, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%+v: %v lacks %s", c.cfg, err, w)
			}
		}
	}
}

// TestConcurrentConfirm: a link confirmed several times at once merges
// once; the others are refused as a used link.
func TestConcurrentConfirm(t *testing.T) {
	eachEnv(t, nil, func(t *testing.T, e *env) {
		a, b := seedAccounts(e)
		if _, err := e.svc.AddAddress(t.Context(), a.ID, personalMail, ""); err != nil {
			t.Fatal(err)
		}
		_, link := e.link()
		token := flowstest.TokenOf(t, link)
		const n = 6
		errs := make(chan error, n)
		results := make(chan Result, n)
		for range n {
			go func() {
				r, err := e.svc.Confirm(t.Context(), a.ID, token, true)
				results <- r
				errs <- err
			}()
		}
		merged := 0
		for range n {
			r, err := <-results, <-errs
			switch {
			case err == nil && r.Outcome == OutcomeMerged:
				merged++
			case errors.Is(err, ErrInvalidLink):
			default:
				t.Errorf("Confirm = %+v, %v", r, err)
			}
		}
		if merged != 1 {
			t.Fatalf("%d merges, want 1", merged)
		}
		if r := e.Account(b.ID); r.MergedInto != a.ID {
			t.Fatalf("agency account: %+v", r)
		}
	})
}

// TestLanguage: the pages follow the language switch and Accept-Language;
// the mail follows the API request's.
func TestLanguage(t *testing.T) {
	eachEnv(t, nil, func(t *testing.T, e *env) {
		e.person("alice", "alice@univ-test.example")
		br := e.loggedIn("alice")
		br.Header.Set("Accept-Language", "en-GB,en;q=0.9")
		br.api(http.MethodPost, "/api/v1/me/emails", map[string]string{"address": "alice@perso.example"})
		_, link := e.link()
		if text := e.mail.Server.Received()[0].Text(t); !strings.Contains(text, "To confirm that this e-mail address is yours") {
			t.Errorf("the mail is not in English:\n%s", text)
		}
		p := br.Get(flowstest.PathOf(t, link))
		flowstest.WantContains(t, p, "Confirm your e-mail address", `lang="en"`, "?lang=fr&token=")
		p = br.Get(flowstest.PathOf(t, link) + "&lang=fr")
		flowstest.WantContains(t, p, "Confirmez votre adresse e-mail", `lang="fr"`)
	})
}
