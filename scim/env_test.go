package scim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/scim"
	"github.com/canonid/canonid/server"
	"github.com/canonid/canonid/store"
)

var ctx = context.Background()

const base = "http://canonid.test/scim/v2"

// env is a canonid HTTP server with SCIM mounted, on a store.
type env struct {
	t    testing.TB
	st   store.Store
	srv  *httptest.Server
	scim *scim.Server
	// tokens by client name
	tokens map[string]string
}

func newEnv(t testing.TB, st store.Store, cfg scim.Config) *env {
	t.Helper()
	srv := server.New(server.DefaultConfig(), server.Deps{Tokens: server.StoreTokens{Store: st}})
	s, err := scim.New(cfg, scim.Deps{Store: st, Precedence: identity.DefaultPrecedence(), Caller: server.Caller, BaseURL: base})
	if err != nil {
		t.Fatal(err)
	}
	s.Mount(srv.SCIMGroup())
	e := &env{t: t, st: st, srv: httptest.NewServer(srv.Handler()), scim: s, tokens: map[string]string{}}
	t.Cleanup(e.srv.Close)
	e.token("hr", store.RoleSCIM)
	return e
}

// token creates an API token for a client.
func (e *env) token(name string, role store.APIRole) string {
	e.t.Helper()
	tok, hash, err := server.GenerateAPIToken()
	if err != nil {
		e.t.Fatal(err)
	}
	err = e.st.Update(ctx, func(tx store.Tx) error {
		at := store.APIToken{Name: name, Role: role, Hash: hash}
		if role == store.RoleOrgAdmin {
			at.OrgID = "cpts-sud"
			if err := tx.Orgs().Put(ctx, &identity.Org{ID: "cpts-sud", Name: "CPTS Sud", Kind: "cpts"}); err != nil {
				return err
			}
		}
		if err := tx.APITokens().Create(ctx, &at); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: "api_token.created", Actor: "test"})
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.tokens[name] = tok
	return tok
}

// response is an HTTP answer with its JSON body decoded.
type response struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

// do sends a request as client (its token; "" for none).
func (e *env) do(client, method, path, body string, headers ...string) response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if client != "" {
		req.Header.Set("Authorization", "Bearer "+e.tokens[client])
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := response{status: res.StatusCode, header: res.Header, raw: string(raw)}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			e.t.Fatalf("%s %s: %d, body is not a JSON object: %s", method, path, res.StatusCode, raw)
		}
	}
	return r
}

// must checks the status of a response.
func (r response) must(t testing.TB, status int) response {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	return r
}

// get follows a slash-separated path into the body ("emails/0/value").
func (r response) get(path string) any {
	var v any = r.body
	for _, k := range strings.Split(path, "/") {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i := 0
			for _, c := range k {
				i = i*10 + int(c-'0')
			}
			if i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func (r response) str(path string) string {
	s, _ := r.get(path).(string)
	return s
}
