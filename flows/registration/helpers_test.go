package registration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canonid/canonid/flows/flowstest"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/notify"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/web"
)

// mailConfig is the tests' notify configuration with driver: mail from
// the CPTS, dates in UTC.
func mailConfig(driver string) notify.Config {
	return notify.Config{Driver: driver, From: "CPTS <noreply@cpts.example>", SiteName: "Inzee",
		Secret: "0123456789abcdef0123456789abcdef-test", Location: time.UTC}
}

// recorder is notify's queue that also appends each message it queues to
// the list the context carries (env.mails).
type recorder struct {
	q *notify.Queue
}

type txMessages struct{}

func (r *recorder) Enqueue(ctx context.Context, tx store.Tx, m notify.Message) error {
	if err := r.q.Enqueue(ctx, tx, m); err != nil {
		return err
	}
	if p, ok := ctx.Value(txMessages{}).(*[]notify.Message); ok {
		*p = append(*p, m)
	}
	return nil
}

// fakeSMS keeps the messages sent.
type fakeSMS struct {
	mu   sync.Mutex
	sent [][2]string // to, text
}

func (f *fakeSMS) SendSMS(_ context.Context, to, text string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, [2]string{to, text})
	return nil
}

// lastCode returns the code of the last SMS.
func (f *fakeSMS) lastCode(t *testing.T) string {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.sent) == 0 {
		t.Fatal("no SMS sent")
	}
	m := codeRE.FindString(f.sent[len(f.sent)-1][1])
	if m == "" {
		t.Fatalf("no code in %q", f.sent[len(f.sent)-1][1])
	}
	return m
}

var codeRE = regexp.MustCompile(`[0-9]{6}`)

// fakePages draws a flow page as JSON: its title and data.
type fakePages struct{}

func (fakePages) FlowLanguage(c *gin.Context) string {
	if c.Query("lang") == "en" {
		return "en"
	}
	return "fr"
}

func (fakePages) RenderFlow(c *gin.Context, status int, _ *web.FlowTemplate, v web.FlowView) {
	c.JSON(status, gin.H{"title": v.Title, "data": v.Data})
}

func (fakePages) CheckFlowPost(c *gin.Context) bool { return c.GetHeader("X-Test-CSRF") != "bad" }

type callerKey struct{}

// env is canonid's server reduced to what the flow needs, over one store.
type env struct {
	*flowstest.Env
	svc *Service
	rec *recorder
	sms *fakeSMS
	// tokens are the API tokens the tests use, by bearer value.
	tokens map[string]store.APIToken
}

func newEnv(t *testing.T, st store.Store) *env {
	t.Helper()
	e := &env{Env: flowstest.NewEnv(t, st), sms: &fakeSMS{}, tokens: map[string]store.APIToken{
		"support":  {Name: "support", Role: store.RoleSupport},
		"admin-x":  {Name: "admin-x", Role: store.RoleOrgAdmin, OrgID: "cpts-x"},
		"admin-y":  {Name: "admin-y", Role: store.RoleOrgAdmin, OrgID: "cpts-y"},
		"scim-hr":  {Name: "scim-hr", Role: store.RoleSCIM},
		"admin-no": {Name: "admin-no", Role: store.RoleOrgAdmin},
	}}
	engine := e.Engine

	q, err := notify.NewQueue(mailConfig(notify.DriverLog))
	if err != nil {
		t.Fatal(err)
	}
	q.SetClock(e.Clock.Now)
	e.rec = &recorder{q: q}
	if e.svc, err = New(st, e.rec, e.sms, DirDocuments{Dir: t.TempDir()}, Config{PublicURL: e.Server.URL, Location: time.UTC}); err != nil {
		t.Fatal(err)
	}
	e.svc.SetClock(e.Clock.Now)
	caller := func(r *http.Request) (store.APIToken, bool) {
		tok, ok := r.Context().Value(callerKey{}).(store.APIToken)
		return tok, ok
	}
	h, err := NewHandler(e.svc, fakePages{}, caller, flowstest.DiscardLogger())
	if err != nil {
		t.Fatal(err)
	}
	h.MountPages(engine)
	api := engine.Group("/api/v1", func(c *gin.Context) {
		tok, ok := e.tokens[strings.TrimPrefix(c.GetHeader("Authorization"), "Bearer ")]
		if !ok {
			c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "invalid or revoked token"})
			return
		}
		c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), callerKey{}, tok))
	})
	h.MountAPI(api)

	for _, o := range []identity.Org{{ID: "cpts-x", Name: "CPTS X", Kind: "cpts"}, {ID: "cpts-y", Name: "CPTS Y", Kind: "cpts"}} {
		err := st.Update(t.Context(), func(tx store.Tx) error {
			if err := tx.Orgs().Put(t.Context(), &o); err != nil {
				return err
			}
			return tx.Record(t.Context(), store.Event{Type: identity.EventOrgUpserted, Actor: "test", OrgID: o.ID})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// mails runs fn and returns the mails it queued (of its committed
// transaction: the service is called with a context that collects them).
func (e *env) mails(fn func(ctx context.Context) error) ([]notify.Message, error) {
	var got []notify.Message
	ctx := context.WithValue(e.T.Context(), txMessages{}, &got)
	err := fn(ctx)
	return got, err
}

// register registers and returns the mails queued.
func (e *env) register(org, email, given, family string) []notify.Message {
	e.T.Helper()
	got, err := e.mails(func(ctx context.Context) error {
		return e.svc.Register(ctx, org, email, given, family, "+33 6 12 34 56 78", "fr")
	})
	if err != nil {
		e.T.Fatalf("Register %s: %v", email, err)
	}
	return got
}

// tokenOf returns the token of a mailed link.
func tokenOf(t *testing.T, m notify.Message) string {
	t.Helper()
	u, err := url.Parse(m.Data["link"])
	if err != nil || u.Path != PathConfirm {
		t.Fatalf("link %q: %v", m.Data["link"], err)
	}
	return u.Query().Get("token")
}

// accountOf reads the account holding an address (verified or pending).
func (e *env) accountOf(address string) identity.Account {
	e.T.Helper()
	return accountHolding(e.T, e.Store, address)
}

func (e *env) membership(org, accountID string) identity.Membership {
	e.T.Helper()
	return membershipOf(e.T, e.Store, org, accountID)
}

// accountHolding reads the account holding an address (verified or
// pending): there must be one.
func accountHolding(t *testing.T, st store.Store, address string) identity.Account {
	t.Helper()
	var a identity.Account
	err := st.View(t.Context(), func(tx store.Tx) error {
		accs, err := tx.Accounts().List(t.Context(), store.AccountQuery{Text: address})
		if err != nil {
			return err
		}
		if len(accs) != 1 {
			return fmt.Errorf("%d accounts hold %s", len(accs), address)
		}
		a = accs[0]
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// membershipOf reads an account's membership of org.
func membershipOf(t *testing.T, st store.Store, org, accountID string) identity.Membership {
	t.Helper()
	var m identity.Membership
	err := st.View(t.Context(), func(tx store.Tx) error {
		var err error
		m, err = tx.Memberships().Get(t.Context(), org, accountID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// response is an HTTP answer, its body decoded as JSON.
type response struct {
	Status int
	Body   map[string]any
	Raw    string
}

func (e *env) do(method, path, token string, body any, form url.Values) response {
	e.T.Helper()
	var r io.Reader
	ct := ""
	switch {
	case body != nil:
		b, _ := json.Marshal(body)
		r, ct = bytes.NewReader(b), "application/json"
	case form != nil:
		r, ct = strings.NewReader(form.Encode()), "application/x-www-form-urlencoded"
	}
	req, err := http.NewRequestWithContext(e.T.Context(), method, e.Server.URL+path, r)
	if err != nil {
		e.T.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.T.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := response{Status: res.StatusCode, Raw: string(raw)}
	_ = json.Unmarshal(raw, &out.Body)
	return out
}
