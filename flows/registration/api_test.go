package registration

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canonid/canonid/authn"
	"github.com/canonid/canonid/flows/flowstest"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/notify"
	"github.com/canonid/canonid/server"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
)

// apiTokens is the server's token verifier of the tests: bearer value ->
// API token.
type apiTokens map[string]store.APIToken

func (f apiTokens) VerifyAPIToken(_ context.Context, token string) (store.APIToken, error) {
	if t, ok := f[token]; ok {
		return t, nil
	}
	return store.APIToken{}, store.ErrNotFound
}

// smsLog is where the LogSMS driver of the tests writes.
type smsLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *smsLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

var loggedCodeRE = regexp.MustCompile(`code[^0-9"]*([0-9]{6})`)

// lastCode returns the code of the last SMS logged.
func (l *smsLog) lastCode(t *testing.T) string {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	m := loggedCodeRE.FindAllStringSubmatch(l.buf.String(), -1)
	if len(m) == 0 {
		t.Fatalf("no code in the SMS log:\n%s", l.buf.String())
	}
	return m[len(m)-1][1]
}

// apiEnv is canonid's server (server.New) with the flow's routes mounted as
// canonid serve does: the administrators' API on the bearer-token group,
// the person's API on a public group at /api/v1. Mails go over a real SMTP
// conversation, SMS through the log driver.
type apiEnv struct {
	*flowstest.Env
	svc  *Service
	srv  *server.Server
	api  *httptest.Server
	smtp *flowstest.Mail
	sms  *smsLog
}

func newAPIEnv(t *testing.T, st store.Store, tune func(*Config)) *apiEnv {
	t.Helper()
	// The routes are on canonid's server, not on a flowstest.NewEnv's.
	e := &apiEnv{Env: &flowstest.Env{T: t, Store: st, Clock: flowstest.NewClock()}, sms: &smsLog{}}
	mc := mailConfig(notify.DriverSMTP)
	mc.SMTP.Timeout = 5 * time.Second
	e.smtp = flowstest.StartMail(t, st, mc, e.Clock.Now)
	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().String()

	cfg := Config{PublicURL: base, Location: time.UTC}
	if tune != nil {
		tune(&cfg)
	}
	sms := LogSMS{Logger: slog.New(slog.NewTextHandler(e.sms, nil))}
	var err error
	if e.svc, err = New(st, e.smtp.Queue, sms, DirDocuments{Dir: t.TempDir()}, cfg); err != nil {
		t.Fatal(err)
	}
	e.svc.SetClock(e.Clock.Now)

	e.srv = server.New(server.DefaultConfig(), server.Deps{Logger: flowstest.DiscardLogger(), Tokens: apiTokens{
		"admin-x": {Name: "admin-x", Role: store.RoleOrgAdmin, OrgID: "cpts-x"},
	}})
	h, err := NewHandler(e.svc, fakePages{}, func(r *http.Request) (store.APIToken, bool) { return server.Caller(r.Context()) }, flowstest.DiscardLogger())
	if err != nil {
		t.Fatal(err)
	}
	h.MountAPI(e.srv.APIGroup())
	h.MountPublicAPI(e.srv.Engine().Group(server.APIPrefix))
	ts.Config.Handler = e.srv.Handler()
	ts.Start()
	t.Cleanup(ts.Close)
	e.api = ts

	o := identity.Org{ID: "cpts-x", Name: "CPTS X", Kind: "cpts"}
	if err := st.Update(t.Context(), func(tx store.Tx) error {
		o := o
		if err := tx.Orgs().Put(t.Context(), &o); err != nil {
			return err
		}
		return tx.Record(t.Context(), store.Event{Type: identity.EventOrgUpserted, Actor: "test", OrgID: o.ID})
	}); err != nil {
		t.Fatal(err)
	}
	return e
}

// eachAPIEnv runs fn on an apiEnv of each store.
func eachAPIEnv(t *testing.T, tune func(*Config), fn func(t *testing.T, e *apiEnv)) {
	flowstest.EachStore(t, func(t *testing.T, st store.Store) *apiEnv { return newAPIEnv(t, st, tune) }, fn)
}

// call sends a request to the API route path (under /api/v1), with
// headers given as name, value pairs.
func (e *apiEnv) call(method, path string, body []byte, headers ...string) flowstest.Answer {
	e.T.Helper()
	return flowstest.CallAPI(e.T, method, e.api.URL+server.APIPrefix+path, body, headers...)
}

// post posts v as JSON to the API route path.
func (e *apiEnv) post(path string, v any) flowstest.Answer {
	e.T.Helper()
	return flowstest.PostAPI(e.T, e.api.URL+server.APIPrefix+path, v)
}

// upload posts a document with the link's token in its header.
func (e *apiEnv) upload(token, name string, content []byte) flowstest.Answer {
	e.T.Helper()
	return e.call(http.MethodPost, APIPathDocuments+"?"+url.Values{"name": {name}}.Encode(), content,
		HeaderLinkToken, token, "Content-Type", "application/pdf")
}

func wantAnswer(t *testing.T, a flowstest.Answer, status int, fields map[string]any) {
	t.Helper()
	if a.Status != status {
		t.Fatalf("status %d, want %d: %s", a.Status, status, a.Raw)
	}
	for k, v := range fields {
		if got := a.Body[k]; got != v {
			t.Fatalf("%s = %v, want %v: %s", k, got, v, a.Raw)
		}
	}
}

var mailLinkRE = regexp.MustCompile(`/register/confirm\?token=([A-Za-z0-9_-]+)`)

// mail sends the due mails over SMTP and returns the recipient and the
// body (quoted-printable soft breaks undone) of the next mail received.
func (e *apiEnv) mail() (to, body string) {
	e.T.Helper()
	m := e.smtp.Receive()
	return m.To[0], strings.NewReplacer("=\r\n", "", "=3D", "=").Replace(string(m.Data))
}

// link returns the recipient and the token of the link of the next mail.
func (e *apiEnv) link() (to, token string) {
	e.T.Helper()
	to, body := e.mail()
	m := mailLinkRE.FindStringSubmatch(body)
	if m == nil {
		e.T.Fatalf("no link in the mail to %s:\n%s", to, body)
	}
	return to, m[1]
}

// accountOf reads the account holding an address.
func (e *apiEnv) accountOf(address string) identity.Account {
	e.T.Helper()
	return accountHolding(e.T, e.Store, address)
}

// types returns the types of the account's events in the audit log and in
// the outbox, oldest first.
func (e *apiEnv) types(accountID string) (audit, outbox []string) {
	e.T.Helper()
	return e.AuditTypes(accountID), e.OutboxTypes(accountID)
}

// The seed's story through the JSON API: a health professional registers,
// reads the link in the mail, verifies their phone with the code of the
// SMS, sends a supporting document, chooses a password; their account
// waits for validation, a coordinator validates it, and it is active.
func TestAPIRegistrationStory(t *testing.T) {
	eachAPIEnv(t, nil, func(t *testing.T, e *apiEnv) {
		reg := e.post(APIPathRegister, map[string]any{"org": "cpts-x", "email": " Marie.Curie@Example.ORG ", "given_name": "Marie",
			"family_name": "Curie", "phone": "06 12 34 56 78", "locale": "fr"})
		wantAnswer(t, reg, http.StatusAccepted, map[string]any{"status": "accepted"})
		to, token := e.link()
		if to != "marie.curie@example.org" {
			t.Fatalf("the link went to %s", to)
		}
		a := e.accountOf("marie.curie@example.org")
		if a.Status != identity.StatusPendingValidation || a.Phone != "06 12 34 56 78" {
			t.Fatalf("account: %+v", a)
		}

		// What the link is for; asking twice acts on nothing.
		for range 2 {
			wantAnswer(t, e.post(APIPathInspect, map[string]any{"token": token}), http.StatusOK, map[string]any{
				"address": "marie.curie@example.org", "org_id": "cpts-x", "org_name": "CPTS X", "phone": "06 12 34 56 78",
				"phone_verified": false, "phone_verification": true, "documents_available": true,
				"expires_at": e.Clock.Now().Add(30 * time.Minute).Format(time.RFC3339)})
		}

		// The phone: a code by SMS (the log driver), a wrong one, the
		// right one.
		wantAnswer(t, e.post(APIPathPhoneVerify, map[string]any{"token": token, "code": "123456"}), http.StatusConflict, nil)
		wantAnswer(t, e.post(APIPathPhoneSend, map[string]any{"token": token}), http.StatusAccepted, map[string]any{"status": "sent"})
		code := e.sms.lastCode(t)
		wrong := "000000"
		if code == wrong {
			wrong = "111111"
		}
		r := e.post(APIPathPhoneVerify, map[string]any{"token": token, "code": wrong})
		if r.Status != http.StatusUnprocessableEntity || !strings.HasPrefix(r.ErrorText(), "code: ") {
			t.Fatalf("wrong code: %d %s", r.Status, r.Raw)
		}
		wantAnswer(t, e.post(APIPathPhoneVerify, map[string]any{"token": token, "code": code}), http.StatusOK,
			map[string]any{"phone_verified": true, "phone_verification": false})

		// A document: recognised by its content, whatever it is called.
		doc := e.upload(token, "../diplôme.pdf", pdfFile)
		wantAnswer(t, doc, http.StatusCreated, map[string]any{"name": "diplôme.pdf", "content_type": "application/pdf",
			"added_by": "account:" + a.ID, "size": float64(len(pdfFile))})
		wantAnswer(t, e.upload(token, "page.pdf", []byte("<html><script>alert(1)</script></html>")), http.StatusUnsupportedMediaType, nil)
		wantAnswer(t, e.upload(token, "big.pdf", append(append([]byte{}, pdfFile...), make([]byte, MaxDocumentBytes)...)),
			http.StatusRequestEntityTooLarge, nil)

		// The password: the policy, then the confirmation.
		r = e.post(APIPathConfirm, map[string]any{"token": token, "password": "court"})
		wantAnswer(t, r, http.StatusUnprocessableEntity, map[string]any{"rule": string(authn.RuleTooShort)})
		if !strings.HasPrefix(r.ErrorText(), "password: ") || r.Body["password_policy"] == nil {
			t.Fatalf("refused password: %s", r.Raw)
		}
		e.smtp.None()
		forged := e.post(APIPathInspect, map[string]any{"token": "forged"})
		wantAnswer(t, e.post(APIPathConfirm, map[string]any{"token": token, "password": testPassword}), http.StatusOK,
			map[string]any{"status": "pending_validation", "address": "marie.curie@example.org", "org_id": "cpts-x", "org_name": "CPTS X"})
		if to, body := e.mail(); to != "marie.curie@example.org" || !strings.Contains(body, "CPTS X") {
			t.Fatalf("registration_received to %s:\n%s", to, body)
		}
		a = e.accountOf("marie.curie@example.org")
		if ok, err := authn.CheckPassword(a.PasswordHash, testPassword); a.Status != identity.StatusPendingValidation || !ok || err != nil {
			t.Fatalf("after confirm: %s, password %v %v", a.Status, ok, err)
		}
		// The link is used: the answer of a forged one, everywhere.
		for _, r := range []flowstest.Answer{
			e.post(APIPathInspect, map[string]any{"token": token}),
			e.post(APIPathConfirm, map[string]any{"token": token, "password": testPassword}),
			e.upload(token, "x.pdf", pdfFile),
		} {
			if r.Status != http.StatusNotFound || r.Raw != forged.Raw {
				t.Errorf("used link: %d %s, want %d %s", r.Status, r.Raw, forged.Status, forged.Raw)
			}
		}

		// The coordinator validates (bearer token): active, told by mail.
		if r := e.call(http.MethodPost, "/orgs/cpts-x/members/"+a.ID+"/validate", nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("validate without a token: %d %s", r.Status, r.Raw)
		}
		wantAnswer(t, e.call(http.MethodPost, "/orgs/cpts-x/members/"+a.ID+"/validate", nil, "Authorization", "Bearer admin-x"),
			http.StatusOK, map[string]any{"status": StatusGreen, "phone_verified": true})
		if to, _ := e.mail(); to != "marie.curie@example.org" {
			t.Fatalf("member_validated to %s", to)
		}
		e.smtp.None()
		if a = e.accountOf("marie.curie@example.org"); a.Status != identity.StatusActive {
			t.Fatalf("after validation: %s", a.Status)
		}

		want := []string{identity.EventAccountCreated, identity.EventMembershipAdded, EventSubmitted, EventPhoneCodeSent,
			EventPhoneCodeFailed, EventPhoneVerified, EventDocumentAdded, authn.EventPasswordSet, EventEmailVerified,
			identity.EventMembershipValid, identity.EventAccountActivated}
		e.WantEvents(a.ID, want...)
		audit, outbox := e.types(a.ID)
		for name, types := range map[string][]string{"audit": audit, "outbox": outbox} {
			if !slices.Contains(types, notify.EventMailQueued) {
				t.Errorf("%s events %v lack %s", name, types, notify.EventMailQueued)
			}
		}
	})
}

// Registering answers 202 and the same body whether the address is new,
// waits for a registration into the same org, or belongs to an account;
// malformed requests say which field is wrong.
func TestAPIRegisterSameAnswer(t *testing.T) {
	eachAPIEnv(t, nil, func(t *testing.T, e *apiEnv) {
		register := func(email string) flowstest.Answer {
			return e.post(APIPathRegister, map[string]any{"org": "cpts-x", "email": email, "given_name": "Paul", "family_name": "Martin"})
		}
		first := register("paul@example.org")
		wantAnswer(t, first, http.StatusAccepted, nil)
		_, token := e.link()
		wantAnswer(t, e.post(APIPathConfirm, map[string]any{"token": token, "password": testPassword}), http.StatusOK, nil)
		e.mail() // registration_received

		for _, email := range []string{"paul@example.org", "new@example.org", "new@example.org"} {
			if r := register(email); r.Status != first.Status || r.Raw != first.Raw {
				t.Errorf("%s: %d %s, want %d %s", email, r.Status, r.Raw, first.Status, first.Raw)
			}
		}
		// The new address gets its link, then a new one (voiding the
		// first); the known one nothing.
		_, newFirst := e.link()
		if to, newSecond := e.link(); to != "new@example.org" || newSecond == newFirst {
			t.Fatalf("second link to %s", to)
		}
		e.smtp.None()
		wantAnswer(t, e.post(APIPathInspect, map[string]any{"token": newFirst}), http.StatusNotFound, nil)
		known := e.accountOf("paul@example.org")
		if audit, _ := e.types(known.ID); !slices.Contains(audit, EventAddressKnown) {
			t.Errorf("no %s in %v", EventAddressKnown, audit)
		}

		for _, c := range []struct {
			body   map[string]any
			status int
			msg    string
		}{
			{map[string]any{"org": "cpts-x", "email": "not an address", "given_name": "", "family_name": "M"}, http.StatusBadRequest, "email"},
			{map[string]any{"org": "cpts-x", "email": "a@example.org", "given_name": "", "family_name": "M"}, http.StatusBadRequest, "given_name"},
			{map[string]any{"org": "cpts-x", "email": "a@example.org", "given_name": "A", "family_name": "M", "phone": "call me"}, http.StatusBadRequest, "phone"},
			{map[string]any{"org": "cpts-x", "email": "a@example.org", "given_name": "A", "family_name": "M", "locale": "de"}, http.StatusBadRequest, "locale"},
			{map[string]any{"org": "nope", "email": "a@example.org", "given_name": "A", "family_name": "M"}, http.StatusNotFound, "unknown organisation"},
			{map[string]any{"org": "cpts-x", "mail": "a@example.org"}, http.StatusBadRequest, "unknown field"},
		} {
			r := e.post(APIPathRegister, c.body)
			if r.Status != c.status || !strings.Contains(r.ErrorText(), c.msg) {
				t.Errorf("%v: %d %s, want %d with %q", c.body, r.Status, r.Raw, c.status, c.msg)
			}
		}
		body := []byte(`{"org":"cpts-x","email":"form@example.org","given_name":"F","family_name":"F"}`)
		if r := e.call(http.MethodPost, APIPathRegister, body, "Content-Type", "text/plain"); r.Status != http.StatusUnsupportedMediaType {
			t.Errorf("text/plain: %d %s", r.Status, r.Raw)
		}
		e.smtp.None()
	})
}

// A link that is forged, expired, voided, empty or too long gets one
// answer on every route.
func TestAPIRegistrationInvalidLinks(t *testing.T) {
	tune := func(c *Config) { c.IPLimit = Limit{Events: 1000, Per: time.Minute, Burst: 1000} }
	eachAPIEnv(t, tune, func(t *testing.T, e *apiEnv) {
		register := func() string {
			wantAnswer(t, e.post(APIPathRegister, map[string]any{"org": "cpts-x", "email": "eva@example.org",
				"given_name": "Eva", "family_name": "Expirée", "phone": "+33 6 12 34 56 78"}), http.StatusAccepted, nil)
			_, token := e.link()
			return token
		}
		voided := register()
		expired := register()
		ref := e.post(APIPathInspect, map[string]any{"token": "forged"})
		if ref.Status != http.StatusNotFound || ref.ErrorText() != ErrInvalidLink.Error() {
			t.Fatalf("forged: %d %s", ref.Status, ref.Raw)
		}
		lookAlike := func(name, tok string) {
			t.Helper()
			for path, r := range map[string]flowstest.Answer{
				APIPathInspect:     e.post(APIPathInspect, map[string]any{"token": tok}),
				APIPathPhoneSend:   e.post(APIPathPhoneSend, map[string]any{"token": tok}),
				APIPathPhoneVerify: e.post(APIPathPhoneVerify, map[string]any{"token": tok, "code": "123456"}),
				APIPathConfirm:     e.post(APIPathConfirm, map[string]any{"token": tok, "password": testPassword}),
				APIPathDocuments:   e.upload(tok, "x.pdf", pdfFile),
			} {
				if r.Status != ref.Status || r.Raw != ref.Raw {
					t.Errorf("%s link on %s: %d %s, want %d %s", name, path, r.Status, r.Raw, ref.Status, ref.Raw)
				}
			}
		}
		lookAlike("voided", voided)
		lookAlike("empty", "")
		lookAlike("too long", strings.Repeat("a", 200))
		wantAnswer(t, e.post(APIPathInspect, map[string]any{"token": expired}), http.StatusOK, nil)
		e.Clock.Advance(30 * time.Minute)
		lookAlike("expired", expired)
		e.smtp.None()
	})
}

// The limits of the pages: registrations per address given, failed link
// redemptions per client address (successful ones give their token back).
func TestAPIRegistrationRateLimits(t *testing.T) {
	tune := func(c *Config) { c.IPLimit = Limit{Events: 1, Per: 10 * time.Minute, Burst: 5} }
	eachAPIEnv(t, tune, func(t *testing.T, e *apiEnv) {
		var token string
		for i := range 4 {
			r := e.post(APIPathRegister, map[string]any{"org": "cpts-x", "email": "lim@example.org", "given_name": "L", "family_name": "L"})
			if i < 3 {
				wantAnswer(t, r, http.StatusAccepted, nil)
				_, token = e.link()
			} else if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
				t.Fatalf("4th registration of an address: %d %s", r.Status, r.Raw)
			}
		}
		e.smtp.None()
		// 4 registrations took 4 of the 5 tokens of the address.
		for range 3 {
			wantAnswer(t, e.post(APIPathInspect, map[string]any{"token": token}), http.StatusOK, nil)
		}
		wantAnswer(t, e.post(APIPathInspect, map[string]any{"token": "forged"}), http.StatusNotFound, nil)
		for _, tok := range []string{"forged", token} {
			r := e.post(APIPathInspect, map[string]any{"token": tok})
			if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
				t.Fatalf("over ip_limit: %d %s", r.Status, r.Raw)
			}
		}
		e.Clock.Advance(10 * time.Minute)
		wantAnswer(t, e.post(APIPathInspect, map[string]any{"token": token}), http.StatusOK, nil)
	})
}

// The person's routes are public (no bearer token, unlike the rest of
// /api/v1) and server/openapi.json describes each of them as such.
func TestAPIRegistrationPublicAndDescribed(t *testing.T) {
	e := newAPIEnv(t, storetest.OpenSQLite(t), nil)
	routes := flowstest.WantPublicRoutes(t, e.api.URL, e.srv.Engine(), APIPathRegister, func(path string) (int, string) {
		a := e.post(path, map[string]any{})
		return a.Status, a.Raw
	})
	if routes != 6 {
		t.Fatalf("%d registration routes, want 6", routes)
	}
}
