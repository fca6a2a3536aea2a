package activation

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/authn"
	"github.com/canonid/canonid/flows/flowstest"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/server"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
	"github.com/canonid/canonid/web"
)

// apiEnv is env with the flow's JSON API mounted, as canonid serve does,
// on a group of canonid's server (server.New) at /api/v1 that asks no
// bearer token.
type apiEnv struct {
	*env
	srv *server.Server
	api *httptest.Server
}

// noPages stands for the login pages: the API draws none.
type noPages struct{}

func (noPages) FlowLanguage(*gin.Context) string { return "fr" }
func (noPages) RenderFlow(c *gin.Context, status int, _ *web.FlowTemplate, _ web.FlowView) {
	c.Status(status)
}
func (noPages) CheckFlowPost(*gin.Context) bool { return false }

func newAPIEnv(t *testing.T, st store.Store, tune func(*Config)) *apiEnv {
	t.Helper()
	e := &apiEnv{env: newEnv(t, st, tune)}
	e.srv = server.New(server.DefaultConfig(), server.Deps{Logger: flowstest.DiscardLogger()})
	h, err := NewHandler(e.svc, noPages{}, flowstest.DiscardLogger())
	if err != nil {
		t.Fatal(err)
	}
	h.MountPublicAPI(e.srv.Engine().Group(server.APIPrefix))
	e.api = httptest.NewServer(e.srv.Handler())
	t.Cleanup(e.api.Close)
	return e
}

// eachAPIEnv runs fn on an apiEnv of each store.
func eachAPIEnv(t *testing.T, tune func(*Config), fn func(t *testing.T, e *apiEnv)) {
	flowstest.EachStore(t, func(t *testing.T, st store.Store) *apiEnv { return newAPIEnv(t, st, tune) }, fn)
}

// call posts body, of content type ct, to the API route path (under
// /api/v1).
func (e *apiEnv) call(path, ct string, body []byte) flowstest.Answer {
	e.T.Helper()
	var headers []string
	if ct != "" {
		headers = []string{"Content-Type", ct}
	}
	return flowstest.CallAPI(e.T, http.MethodPost, e.api.URL+server.APIPrefix+path, body, headers...)
}

// post posts v as JSON to the API route path.
func (e *apiEnv) post(path string, v any) flowstest.Answer {
	e.T.Helper()
	return flowstest.PostAPI(e.T, e.api.URL+server.APIPrefix+path, v)
}

func wantAnswer(t *testing.T, a flowstest.Answer, status int, fields map[string]any) {
	t.Helper()
	if a.Status != status {
		t.Fatalf("status %d, want %d: %s", a.Status, status, a.Raw)
	}
	for k, v := range fields {
		if got := a.Body[k]; !jsonEqual(got, v) {
			t.Fatalf("%s = %v, want %v: %s", k, got, v, a.Raw)
		}
	}
}

// jsonEqual compares a decoded JSON value with want, written in Go.
func jsonEqual(got, want any) bool {
	b, err := json.Marshal(want)
	if err != nil {
		return false
	}
	var w any
	if err := json.Unmarshal(b, &w); err != nil {
		return false
	}
	g, _ := json.Marshal(got)
	n, _ := json.Marshal(w)
	return bytes.Equal(g, n)
}

// The seed's story through the JSON API: the link read from the mail, the
// steps in order, a step out of order and refused answers saying why, the
// confirmation; the account is active with its consents, its password and
// its events, and the link no longer works.
func TestAPIStory(t *testing.T) {
	eachAPIEnv(t, nil, func(t *testing.T, e *apiEnv) {
		e.Clock.Set(time.Date(2026, 3, 2, 9, 0, 0, 0, e.paris))
		a := e.pendingAccount("jdupont", "Julie", "Dupont", "Julie.Dupont@Perso.example")
		to, link := e.link()
		if to != "julie.dupont@perso.example" {
			t.Fatalf("the link went to %s", to)
		}
		token := flowstest.TokenOf(t, link)

		wantAnswer(t, e.post(APIPathState, map[string]any{"token": token}), http.StatusOK, map[string]any{
			"login": "jdupont", "step": StepCharter, "steps": []Step{StepCharter, StepDirectory, StepPassword, StepConfirm},
			"deadline": "2026-03-03T23:59:59+01:00", "staff": false,
			"charter": map[string]string{"version": "2021-06", "text": testCharter}})

		// Out of order: 409 naming the current step.
		for _, c := range []struct {
			path string
			body map[string]any
		}{
			{APIPathDirectory, map[string]any{"token": token, "visible": true}},
			{APIPathRedirect, map[string]any{"token": token, "skip": true}},
			{APIPathPassword, map[string]any{"token": token, "password": goodPassword}},
			{APIPathConfirm, map[string]any{"token": token}},
		} {
			r := e.post(c.path, c.body)
			wantAnswer(t, r, http.StatusConflict, map[string]any{"step": StepCharter})
			if !strings.Contains(r.ErrorText(), "not the current step") {
				t.Errorf("%s out of order: %s", c.path, r.Raw)
			}
		}
		// Refused answers: 400 naming the field; an older charter 409.
		for _, c := range []struct {
			path   string
			body   map[string]any
			status int
			msg    string
		}{
			{APIPathCharter, map[string]any{"token": token}, http.StatusBadRequest, "accept"},
			{APIPathCharter, map[string]any{"token": token, "accept": true, "version": "1999"}, http.StatusConflict, "charter changed"},
			{APIPathCharter, map[string]any{"token": token, "accept": true, "extra": 1}, http.StatusBadRequest, "unknown field"},
			{APIPathConfirm, map[string]any{"token": token, "locale": "de"}, http.StatusBadRequest, "locale"},
		} {
			r := e.post(c.path, c.body)
			if r.Status != c.status || !strings.Contains(r.ErrorText(), c.msg) {
				t.Errorf("%s %v: %d %s, want %d with %q", c.path, c.body, r.Status, r.Raw, c.status, c.msg)
			}
		}
		if r := e.call(APIPathCharter, "text/plain", []byte(`{"token":"`+token+`","accept":true}`)); r.Status != http.StatusUnsupportedMediaType {
			t.Errorf("text/plain: %d %s", r.Status, r.Raw)
		}
		if got := e.Account(a.ID); !got.Consents.CharterAcceptedAt.IsZero() {
			t.Fatalf("a refused answer accepted the charter: %+v", got.Consents)
		}

		st := e.post(APIPathCharter, map[string]any{"token": token, "accept": true, "version": "2021-06"})
		wantAnswer(t, st, http.StatusOK, map[string]any{"step": StepDirectory})
		if _, ok := st.Body["charter"]; ok {
			t.Errorf("the charter is shown after its step: %s", st.Raw)
		}
		// Resumable: the state is the first step not done.
		wantAnswer(t, e.post(APIPathState, map[string]any{"token": token}), http.StatusOK, map[string]any{"step": StepDirectory})
		wantAnswer(t, e.post(APIPathDirectory, map[string]any{"token": token}), http.StatusBadRequest, nil)
		wantAnswer(t, e.post(APIPathDirectory, map[string]any{"token": token, "visible": false}), http.StatusOK, map[string]any{
			"step": StepPassword, "directory_visible": false, "password_policy": map[string]int{"min_length": 12, "min_classes": 0}})

		// The password policy: 422 with the rule.
		for _, c := range []struct{ pw, rule string }{
			{"court", string(authn.RuleTooShort)},
			{"aaaaaaaaaaaaaa", string(authn.RuleRepeated)},
			{"Julie-Tramway-42!", "personal"},
			{"x-JDUPONT-Tramway", "personal"},
		} {
			r := e.post(APIPathPassword, map[string]any{"token": token, "password": c.pw})
			wantAnswer(t, r, http.StatusUnprocessableEntity, map[string]any{"rule": c.rule})
			if !strings.HasPrefix(r.ErrorText(), "password: ") || r.Body["password_policy"] == nil {
				t.Errorf("%q: %s", c.pw, r.Raw)
			}
		}
		if got := e.Account(a.ID); got.PasswordHash != "" {
			t.Fatal("a refused password was stored")
		}
		wantAnswer(t, e.post(APIPathPassword, map[string]any{"token": token, "password": goodPassword}), http.StatusOK,
			map[string]any{"step": StepConfirm, "login": "jdupont"})
		if got := e.Account(a.ID); got.Status != identity.StatusPendingActivation {
			t.Fatalf("status %s before the confirmation", got.Status)
		}

		forged := e.post(APIPathState, map[string]any{"token": "forged-token"})
		wantAnswer(t, e.post(APIPathConfirm, map[string]any{"token": token, "locale": "en"}), http.StatusOK,
			map[string]any{"login": "jdupont", "status": "active"})

		got := e.Account(a.ID)
		if got.Status != identity.StatusActive || got.Consents.CharterVersion != "2021-06" ||
			got.Consents.DirectoryVisible == nil || *got.Consents.DirectoryVisible {
			t.Fatalf("account after activation: %+v", got)
		}
		if ok, err := authn.CheckPassword(got.PasswordHash, goodPassword); !ok || err != nil {
			t.Fatalf("password not set: %v %v", ok, err)
		}
		to, text := e.mail.Read()
		if to != "julie.dupont@perso.example" || !strings.Contains(text, "jdupont") {
			t.Fatalf("confirmation mail to %s:\n%s", to, text)
		}
		e.mail.None()

		// The link is used: the answer of a forged one.
		for _, path := range []string{APIPathState, APIPathConfirm} {
			r := e.post(path, map[string]any{"token": token})
			if r.Status != http.StatusNotFound || r.Raw != forged.Raw {
				t.Errorf("%s with the used link: %d %s, want %d %s", path, r.Status, r.Raw, forged.Status, forged.Raw)
			}
		}

		want := []string{EventLinkSent, EventCharterAccepted, EventDirectoryChosen, authn.EventPasswordSet, identity.EventAccountActivated}
		e.WantEvents(a.ID, want...)
		if ev := e.events(a.ID, identity.EventAccountActivated); len(ev) != 1 || ev[0]["directory_visible"] != false {
			t.Errorf("%s: %v", identity.EventAccountActivated, ev)
		}
	})
}

// A member of staff through the JSON API: the redirection step, refused
// addresses saying why, another address chosen gets its link over SMTP,
// the activation goes on, the redirection link is confirmed through the
// API, and the activation ends with the redirection verified.
func TestAPIRedirectStory(t *testing.T) {
	eachAPIEnv(t, nil, func(t *testing.T, e *apiEnv) {
		a := e.pendingStaff("jdupont", "Julie", "Dupont", staffRecovery, staffInstitutional)
		_, link := e.link()
		token := flowstest.TokenOf(t, link)
		wantAnswer(t, e.post(APIPathState, map[string]any{"token": token}), http.StatusOK, map[string]any{
			"staff": true, "steps": []Step{StepCharter, StepDirectory, StepRedirect, StepPassword, StepConfirm}})
		wantAnswer(t, e.post(APIPathCharter, map[string]any{"token": token, "accept": true}), http.StatusOK,
			map[string]any{"step": StepDirectory})
		wantAnswer(t, e.post(APIPathDirectory, map[string]any{"token": token, "visible": true}), http.StatusOK,
			map[string]any{"step": StepRedirect, "recovery_address": staffRecovery})

		for _, c := range []struct {
			body   map[string]any
			status int
			msg    string
		}{
			{map[string]any{"token": token, "address": "Julie.Dupont@univ-test.example"}, http.StatusUnprocessableEntity, "institutional"},
			{map[string]any{"token": token, "address": "julie at ailleurs"}, http.StatusBadRequest, "not a valid e-mail address"},
			{map[string]any{"token": token, "address": "  "}, http.StatusBadRequest, "address: required"},
			{map[string]any{"token": token, "skip": true, "address": staffForward}, http.StatusBadRequest, "not both"},
		} {
			r := e.post(APIPathRedirect, c.body)
			if r.Status != c.status || !strings.Contains(r.ErrorText(), c.msg) {
				t.Errorf("%v: %d %s, want %d with %q", c.body, r.Status, r.Raw, c.status, c.msg)
			}
		}
		if got := e.Account(a.ID); got.MailForward != nil || !got.Consents.MailForwardAnsweredAt.IsZero() {
			t.Fatalf("refused answers changed the account: %+v", got.MailForward)
		}
		e.mail.None()

		wantAnswer(t, e.post(APIPathRedirect, map[string]any{"token": token, "address": "Julie@Ailleurs.example"}), http.StatusOK,
			map[string]any{"step": StepPassword, "can_change_redirect": true,
				"redirect": map[string]any{"address": staffForward, "keep_copy": true, "verified": false}})
		to, rlink := e.redirectLink()
		if to != staffForward {
			t.Fatalf("the redirection link went to %s", to)
		}
		rtoken := flowstest.TokenOf(t, rlink)
		wantAnswer(t, e.post(APIPathPassword, map[string]any{"token": token, "password": goodPassword}), http.StatusOK,
			map[string]any{"step": StepConfirm})

		// The redirection link: the activation's token is not one.
		forged := e.post(APIPathRedirectVerify, map[string]any{"token": "forged"})
		if forged.Status != http.StatusNotFound || !strings.Contains(forged.ErrorText(), "redirection link") {
			t.Fatalf("forged redirection link: %s", forged.Raw)
		}
		if r := e.post(APIPathRedirectVerify, map[string]any{"token": token}); r.Status != forged.Status || r.Raw != forged.Raw {
			t.Errorf("the activation token as a redirection link: %s", r.Raw)
		}
		wantAnswer(t, e.post(APIPathRedirectVerify, map[string]any{"token": rtoken}), http.StatusOK, map[string]any{
			"login": "jdupont", "redirect": map[string]any{"address": staffForward, "keep_copy": true, "verified": true}})
		if r := e.post(APIPathRedirectVerify, map[string]any{"token": rtoken}); r.Status != forged.Status || r.Raw != forged.Raw {
			t.Errorf("the redirection link used: %s", r.Raw)
		}

		wantAnswer(t, e.post(APIPathState, map[string]any{"token": token}), http.StatusOK, map[string]any{
			"step": StepConfirm, "redirect": map[string]any{"address": staffForward, "keep_copy": true, "verified": true}})
		wantAnswer(t, e.post(APIPathConfirm, map[string]any{"token": token}), http.StatusOK, map[string]any{
			"status": "active", "redirect": map[string]any{"address": staffForward, "keep_copy": true, "verified": true}})
		if to, _ := e.mail.Read(); to != staffRecovery {
			t.Fatalf("confirmation mail to %s", to)
		}
		e.mail.None()

		want := []string{EventCharterAccepted, EventDirectoryChosen, EventRedirectChosen, authn.EventPasswordSet,
			EventRedirectVerified, identity.EventAccountActivated}
		e.WantEvents(a.ID, want...)
		if ev := e.events(a.ID, EventRedirectChosen); len(ev) != 1 || ev[0]["address"] != staffForward || ev[0]["verified"] != false {
			t.Errorf("%s: %v", EventRedirectChosen, ev)
		}
	})
}

// Skipping the redirection, then changing the answer before the
// confirmation; an account that is not staff cannot answer it.
func TestAPIRedirectSkip(t *testing.T) {
	eachAPIEnv(t, nil, func(t *testing.T, e *apiEnv) {
		a := e.pendingStaff("jdupont", "Julie", "Dupont", staffRecovery, staffInstitutional)
		_, link := e.link()
		token := flowstest.TokenOf(t, link)
		e.post(APIPathCharter, map[string]any{"token": token, "accept": true})
		e.post(APIPathDirectory, map[string]any{"token": token, "visible": true})
		wantAnswer(t, e.post(APIPathRedirect, map[string]any{"token": token, "skip": true}), http.StatusOK,
			map[string]any{"step": StepPassword, "redirect_skipped": true, "can_change_redirect": true})
		// The recovery address: verified at once, no mail.
		wantAnswer(t, e.post(APIPathRedirect, map[string]any{"token": token, "address": staffRecovery, "keep_copy": false}),
			http.StatusOK, map[string]any{"step": StepPassword,
				"redirect": map[string]any{"address": staffRecovery, "keep_copy": false, "verified": true}})
		e.mail.None()
		if ev := e.events(a.ID, EventRedirectSkipped); len(ev) != 1 {
			t.Errorf("%s: %v", EventRedirectSkipped, ev)
		}

		e.pendingAccount("pmartin", "Paul", "Martin", "paul@perso.example")
		_, other := e.link()
		student := flowstest.TokenOf(t, other)
		e.post(APIPathCharter, map[string]any{"token": student, "accept": true})
		e.post(APIPathDirectory, map[string]any{"token": student, "visible": true})
		wantAnswer(t, e.post(APIPathRedirect, map[string]any{"token": student, "skip": true}), http.StatusConflict,
			map[string]any{"step": StepPassword})
		wantAnswer(t, e.post(APIPathRedirect, map[string]any{"token": student, "address": "paul@ailleurs.example"}),
			http.StatusConflict, map[string]any{"step": StepPassword})
		e.mail.None()
	})
}

// A link that is forged, used, expired, voided by a newer one, empty or too
// long gets one answer on every route, the same as a forged one.
func TestAPIInvalidLinksLookAlike(t *testing.T) {
	tune := func(c *Config) { c.IPLimit = Limit{Events: 1000, Per: time.Minute, Burst: 1000} }
	eachAPIEnv(t, tune, func(t *testing.T, e *apiEnv) {
		e.Clock.Set(time.Date(2026, 3, 2, 9, 0, 0, 0, e.paris))
		e.pendingAccount("used", "Ulysse", "Usé", "used@perso.example")
		_, usedLink := e.link()
		used := flowstest.TokenOf(t, usedLink)
		e.post(APIPathCharter, map[string]any{"token": used, "accept": true})
		e.post(APIPathDirectory, map[string]any{"token": used, "visible": true})
		e.post(APIPathPassword, map[string]any{"token": used, "password": goodPassword})
		wantAnswer(t, e.post(APIPathConfirm, map[string]any{"token": used}), http.StatusOK, nil)
		e.mail.Read()
		e.pendingAccount("voided", "Victor", "Voidé", "voided@perso.example")
		_, voidedLink := e.link()
		wantAnswer(t, e.post(APIPathResend, map[string]any{"login": "voided"}), http.StatusAccepted, nil)
		e.link()
		e.pendingAccount("expired", "Eva", "Expirée", "expired@perso.example")
		_, expiredLink := e.link()

		ref := e.post(APIPathState, map[string]any{"token": "forged-token"})
		if ref.Status != http.StatusNotFound || ref.ErrorText() != ErrInvalidLink.Error() {
			t.Fatalf("forged: %d %s", ref.Status, ref.Raw)
		}
		lookAlike := func(name, tok string) {
			t.Helper()
			for _, c := range []struct {
				path string
				body map[string]any
			}{
				{APIPathState, map[string]any{"token": tok}},
				{APIPathCharter, map[string]any{"token": tok, "accept": true}},
				{APIPathDirectory, map[string]any{"token": tok, "visible": true}},
				{APIPathRedirect, map[string]any{"token": tok, "skip": true}},
				{APIPathRedirect, map[string]any{"token": tok, "address": "x@ailleurs.example"}},
				{APIPathPassword, map[string]any{"token": tok, "password": goodPassword}},
				{APIPathConfirm, map[string]any{"token": tok}},
			} {
				if r := e.post(c.path, c.body); r.Status != ref.Status || r.Raw != ref.Raw {
					t.Errorf("%s link on %s: %d %s, want %d %s", name, c.path, r.Status, r.Raw, ref.Status, ref.Raw)
				}
			}
		}
		lookAlike("used", used)
		lookAlike("voided", flowstest.TokenOf(t, voidedLink))
		lookAlike("empty", "")
		lookAlike("too long", strings.Repeat("a", 200))
		expired := flowstest.TokenOf(t, expiredLink)
		wantAnswer(t, e.post(APIPathState, map[string]any{"token": expired}), http.StatusOK, nil)
		e.Clock.Set(time.Date(2026, 3, 4, 0, 0, 0, 0, e.paris))
		lookAlike("expired", expired)
		e.mail.None()
	})
}

// Asking again by login answers 202 and the same body whether the login is
// pending, unknown or already active; only the pending account gets a
// mail, and its older link stops working. Requests are limited per login.
func TestAPIResend(t *testing.T) {
	eachAPIEnv(t, nil, func(t *testing.T, e *apiEnv) {
		e.pendingAccount("jdupont", "Julie", "Dupont", "julie.dupont@perso.example")
		_, first := e.link()
		active := e.pendingAccount("pactif", "Paul", "Actif", "paul@perso.example")
		_, activeLink := e.link()
		e.post(APIPathCharter, map[string]any{"token": flowstest.TokenOf(t, activeLink), "accept": true})
		e.post(APIPathDirectory, map[string]any{"token": flowstest.TokenOf(t, activeLink), "visible": true})
		e.post(APIPathPassword, map[string]any{"token": flowstest.TokenOf(t, activeLink), "password": goodPassword})
		e.post(APIPathConfirm, map[string]any{"token": flowstest.TokenOf(t, activeLink)})
		e.mail.Read()
		if got := e.Account(active.ID); got.Status != identity.StatusActive {
			t.Fatalf("pactif: %s", got.Status)
		}

		known := e.post(APIPathResend, map[string]any{"login": "JDupont", "locale": "en"})
		wantAnswer(t, known, http.StatusAccepted, nil)
		to, second := e.link()
		if to != "julie.dupont@perso.example" {
			t.Fatalf("the new link went to %s", to)
		}
		for _, login := range []string{"inconnu", "pactif"} {
			if r := e.post(APIPathResend, map[string]any{"login": login}); r.Status != known.Status || r.Raw != known.Raw {
				t.Errorf("%s: %d %s, the pending login: %d %s", login, r.Status, r.Raw, known.Status, known.Raw)
			}
		}
		e.mail.None()
		wantAnswer(t, e.post(APIPathState, map[string]any{"token": flowstest.TokenOf(t, first)}), http.StatusNotFound, nil)
		wantAnswer(t, e.post(APIPathState, map[string]any{"token": flowstest.TokenOf(t, second)}), http.StatusOK, map[string]any{"step": StepCharter})

		wantAnswer(t, e.post(APIPathResend, map[string]any{"login": " "}), http.StatusBadRequest, nil)
		if r := e.call(APIPathResend, "application/x-www-form-urlencoded", []byte("login=jdupont")); r.Status != http.StatusUnsupportedMediaType {
			t.Errorf("a form: %d %s", r.Status, r.Raw)
		}
		// login_limit: 3 an hour per login given, known or not.
		for i := range 3 {
			r := e.post(APIPathResend, map[string]any{"login": "inconnu"})
			if i < 2 {
				wantAnswer(t, r, http.StatusAccepted, nil)
			} else if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
				t.Fatalf("4th request for a login: %d %s, Retry-After %q", r.Status, r.Raw, r.Header.Get("Retry-After"))
			}
		}
		e.mail.None()
	})
}

// Failed link redemptions are limited per client address (ip_limit): the
// successful ones give their token back; the choices of a redirection that
// mail a link are limited per account (redirect_limit).
func TestAPIRateLimits(t *testing.T) {
	tune := func(c *Config) {
		c.IPLimit = Limit{Events: 1, Per: time.Hour, Burst: 3}
		c.RedirectLimit = Limit{Events: 1, Per: time.Hour, Burst: 1}
	}
	eachAPIEnv(t, tune, func(t *testing.T, e *apiEnv) {
		e.pendingStaff("jdupont", "Julie", "Dupont", staffRecovery, staffInstitutional)
		_, link := e.link()
		token := flowstest.TokenOf(t, link)
		for range 5 {
			wantAnswer(t, e.post(APIPathState, map[string]any{"token": token}), http.StatusOK, nil)
		}
		for range 3 {
			wantAnswer(t, e.post(APIPathState, map[string]any{"token": "forged"}), http.StatusNotFound, nil)
		}
		for _, tok := range []string{"forged", token} {
			r := e.post(APIPathState, map[string]any{"token": tok})
			if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
				t.Fatalf("over ip_limit: %d %s", r.Status, r.Raw)
			}
		}
		e.Clock.Advance(time.Hour)
		wantAnswer(t, e.post(APIPathCharter, map[string]any{"token": token, "accept": true}), http.StatusOK, nil)
		wantAnswer(t, e.post(APIPathDirectory, map[string]any{"token": token, "visible": true}), http.StatusOK, nil)

		wantAnswer(t, e.post(APIPathRedirect, map[string]any{"token": token, "address": staffForward}), http.StatusOK, nil)
		e.redirectLink()
		r := e.post(APIPathRedirect, map[string]any{"token": token, "address": "autre@ailleurs.example"})
		if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
			t.Fatalf("over redirect_limit: %d %s", r.Status, r.Raw)
		}
		e.mail.None()
	})
}

// The routes are public (no bearer token, unlike the rest of /api/v1) and
// server/openapi.json describes each of them as such.
func TestAPIPublicAndDescribed(t *testing.T) {
	e := newAPIEnv(t, storetest.OpenSQLite(t), nil)
	res, err := http.Get(e.api.URL + server.APIPrefix + "/token")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /api/v1/token without a token: %d", res.StatusCode)
	}
	routes := flowstest.WantPublicRoutes(t, e.api.URL, e.srv.Engine(), "/activation/", func(path string) (int, string) {
		a := e.post(path, map[string]any{})
		return a.Status, a.Raw
	})
	if routes != 8 {
		t.Fatalf("%d activation routes, want 8", routes)
	}
}
