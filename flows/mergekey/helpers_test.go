package mergekey

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/flows/flowstest"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
	"github.com/canonid/canonid/web"
)

// env is a server with the login pages, the self-service API (authenticated
// by a login session or by a fake access token "token-<account id>") and
// the merge key flow, over one store.
type env struct {
	*flowstest.Env
	accts *accounts.Service
	svc   *Service
	h     *Handler
	web   *web.Handler
}

func newEnv(t *testing.T, st store.Store, cfg Config) *env {
	t.Helper()
	e := &env{Env: flowstest.NewEnv(t, st)}
	e.accts = accounts.New(st, accounts.DefaultConfig(), flowstest.DiscardLogger())
	e.accts.SetClock(e.Clock.Now)
	var err error
	if e.svc, err = New(cfg, Deps{Store: st, Accounts: e.accts, Now: e.Clock.Now}); err != nil {
		t.Fatal(err)
	}
	e.web = e.Pages(nil)
	if e.h, err = NewHandler(e.svc, HandlerDeps{Pages: e.web, Logger: flowstest.DiscardLogger()}); err != nil {
		t.Fatal(err)
	}
	verify := func(_ context.Context, tok string) (string, error) {
		if id, ok := strings.CutPrefix(tok, "token-"); ok {
			return id, nil
		}
		return "", errors.New("bad token")
	}
	e.h.Mount(e.Engine.Group("/api/v1/me", e.web.RequireAccount(verify)), e.Engine)
	return e
}

// account creates an active account with a verified primary address and
// lets the login page accept login with password "pw".
func (e *env) account(login, given, family, birth, email string) identity.Account {
	e.T.Helper()
	a, err := e.accts.Create(e.T.Context(), accounts.NewAccount{Login: login, GivenName: given, FamilyName: family,
		BirthDate: birth, Emails: []accounts.NewEmail{{Address: email, Verified: true}}, Source: "self"}, "test")
	if err != nil {
		e.T.Fatal(err)
	}
	e.Passwords.Set(login, a.ID, "pw")
	return a
}

// events returns the audit entries of a type.
func (e *env) events(typ string) []store.AuditEntry {
	e.T.Helper()
	var out []store.AuditEntry
	err := e.Store.View(e.T.Context(), func(tx store.Tx) error {
		var err error
		out, err = tx.Audit().List(e.T.Context(), store.AuditQuery{Type: typ})
		return err
	})
	if err != nil {
		e.T.Fatal(err)
	}
	return out
}

// api calls the JSON API as an account (by its access token; "" sends
// none) and decodes the answer.
func (e *env) api(accountID, method, path string, body any) (int, map[string]any) {
	e.T.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.T.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.Server.URL+path, r)
	if err != nil {
		e.T.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if accountID != "" {
		req.Header.Set("Authorization", "Bearer token-"+accountID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.T.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		e.T.Fatalf("%s %s: %d, body not JSON: %v", method, path, resp.StatusCode, err)
	}
	return resp.StatusCode, out
}

// generate makes a key on the account over the API.
func (e *env) generate(accountID string) string {
	e.T.Helper()
	status, out := e.api(accountID, http.MethodPost, "/api/v1/me/merge-key", nil)
	if status != http.StatusCreated {
		e.T.Fatalf("generate: %d %v", status, out)
	}
	return out["key"].(string)
}

var (
	hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
	keyRE    = regexp.MustCompile(`<strong id="merge-key">([^<]*)</strong>`)
)

// formOf returns the hidden fields of the page's form posting to action
// (the first one).
func formOf(t *testing.T, p flowstest.Page, action string) url.Values {
	t.Helper()
	i := strings.Index(p.Body, `<form method="post" action="`+action+`">`)
	if i < 0 {
		t.Fatalf("no form to %s in the page:\n%s", action, p.Body)
	}
	rest := p.Body[i:]
	rest = rest[:strings.Index(rest, "</form>")]
	v := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(rest, -1) {
		v.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return v
}

// seedAccounts are the two accounts of seed 002: A (franck.cavel) is kept,
// B (franck.cavel3) is given up.
func (e *env) seedAccounts() (a, b identity.Account) {
	a = e.account("franck.cavel", "Franck", "CAVEL", "1978-06-01", "franck.cavel@laposte.net")
	b = e.account("franck.cavel3", "FRANCK", "CAVEL", "1984-10-17", "romain.gentef@opendigitaleducation.com")
	return a, b
}

// eachStore runs fn on a fresh env over each store.
func eachStore(t *testing.T, cfg Config, fn func(t *testing.T, e *env)) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) { fn(t, newEnv(t, st, cfg)) })
}

// accountsMerge is an administrator's merge request.
func accountsMerge(survivor, retired string) accounts.MergeRequest {
	return accounts.MergeRequest{SurvivorID: survivor, RetiredID: retired, Reason: identity.MergeByAdmin, Actor: "test"}
}
