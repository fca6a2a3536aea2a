package push

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/propagate"
	"github.com/canonid/canonid/scim"
	"github.com/canonid/canonid/server"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
)

// pushClient is the token name the target uses on canonid's SCIM server;
// hrClient is another provisioning client of the same server.
const (
	pushClient = "push"
	hrClient   = "hr"
)

// env is canonid's own SCIM server, on a fresh SQLite store, as the
// downstream provider: the real thing, over HTTP on 127.0.0.1.
type env struct {
	t      *testing.T
	st     store.Store
	srv    *httptest.Server
	base   string            // the SCIM base URL
	tokens map[string]string // by client name

	mu sync.Mutex
	// requests are the requests the target made, as "METHOD /path".
	requests []string
	// noPatch makes /ServiceProviderConfig say PATCH is not supported,
	// and refuses PATCH; refusePatch refuses it only.
	noPatch, refusePatch bool
}

// newEnv starts the server with cfg (the push client vouches for the
// addresses it gives, as a platform fed by canonid does).
func newEnv(t *testing.T, cfg scim.Config) *env {
	t.Helper()
	yes := true
	cfg.Clients = append(cfg.Clients, scim.Client{Name: pushClient, EmailVerified: &yes})
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	st := storetest.OpenSQLite(t)
	srv := server.New(server.DefaultConfig(), server.Deps{Tokens: server.StoreTokens{Store: st}})
	e := &env{t: t, st: st, tokens: map[string]string{}}
	e.srv = httptest.NewServer(e.wrap(srv.Handler()))
	t.Cleanup(e.srv.Close)
	e.base = e.srv.URL + "/scim/v2"
	s, err := scim.New(cfg, scim.Deps{Store: st, Precedence: identity.DefaultPrecedence(), Caller: server.Caller, BaseURL: e.base})
	if err != nil {
		t.Fatal(err)
	}
	s.Mount(srv.SCIMGroup())
	e.token(pushClient)
	e.token(hrClient)
	return e
}

// fastConfig is the server's default configuration without its rate
// limit getting in the way.
func fastConfig() scim.Config {
	cfg := scim.DefaultConfig()
	cfg.Rate, cfg.Burst = 1e6, 1e6
	return cfg
}

// wrap records the target's requests and, with noPatch, plays a provider
// without PATCH.
func (e *env) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := strings.TrimPrefix(r.URL.Path, "/scim/v2")
		e.mu.Lock()
		noPatch, refusePatch := e.noPatch, e.refusePatch
		if r.Header.Get("User-Agent") == "canonid" {
			e.requests = append(e.requests, r.Method+" "+path)
		}
		e.mu.Unlock()
		switch {
		case noPatch && path == "/ServiceProviderConfig":
			w.Header().Set("Content-Type", "application/scim+json")
			_, _ = io.WriteString(w, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],`+
				`"patch":{"supported":false},"bulk":{"supported":false,"maxOperations":0,"maxPayloadSize":0},`+
				`"filter":{"supported":true,"maxResults":100},"changePassword":{"supported":false},`+
				`"sort":{"supported":false},"etag":{"supported":false},"authenticationSchemes":[]}`)
		case (noPatch || refusePatch) && r.Method == http.MethodPatch:
			w.Header().Set("Content-Type", "application/scim+json")
			w.WriteHeader(http.StatusNotImplemented)
			_, _ = io.WriteString(w, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"501","detail":"PATCH is not supported"}`)
		default:
			h.ServeHTTP(w, r)
		}
	})
}

// token creates an API token of role scim for a client.
func (e *env) token(name string) {
	e.t.Helper()
	tok, hash, err := server.GenerateAPIToken()
	if err != nil {
		e.t.Fatal(err)
	}
	err = e.st.Update(e.t.Context(), func(tx store.Tx) error {
		if err := tx.APITokens().Create(e.t.Context(), &store.APIToken{Name: name, Role: store.RoleSCIM, Hash: hash}); err != nil {
			return err
		}
		return tx.Record(e.t.Context(), store.Event{Type: "api_token.created", Actor: "test"})
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.tokens[name] = tok
}

// target is a Target on the server, as the push client.
func (e *env) target(mods ...func(*Config)) *Target {
	e.t.Helper()
	cfg := Config{Name: "downstream", URL: e.base, Token: e.tokens[pushClient]}
	for _, m := range mods {
		m(&cfg)
	}
	tg, err := New(cfg, e.srv.Client())
	if err != nil {
		e.t.Fatal(err)
	}
	return tg
}

// seen returns the target's requests since the last call.
func (e *env) seen() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.requests
	e.requests = nil
	return out
}

// call sends a request as client and decodes the JSON answer.
func (e *env) call(client, method, path, body string) (int, map[string]any) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.base+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.tokens[client])
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	var doc map[string]any
	if len(strings.TrimSpace(string(raw))) > 0 {
		if err := json.Unmarshal(raw, &doc); err != nil {
			e.t.Fatalf("%s %s: %d, not JSON: %s", method, path, res.StatusCode, raw)
		}
	}
	return res.StatusCode, doc
}

// user reads User id as the push client sees it; it fails the test unless
// the server answers 200.
func (e *env) user(id string) remoteUser {
	e.t.Helper()
	status, doc := e.call(pushClient, http.MethodGet, "/Users/"+url.PathEscape(id), "")
	if status != http.StatusOK {
		e.t.Fatalf("GET /Users/%s: %d %v", id, status, doc)
	}
	return remoteUser(doc)
}

// search lists the Users a filter selects, as the push client.
func (e *env) search(filter string) []remoteUser {
	e.t.Helper()
	status, doc := e.call(pushClient, http.MethodGet, "/Users?count=1000&filter="+url.QueryEscape(filter), "")
	if status != http.StatusOK {
		e.t.Fatalf("filter %s: %d %v", filter, status, doc)
	}
	list, _ := doc["Resources"].([]any)
	out := make([]remoteUser, 0, len(list))
	for _, x := range list {
		m, _ := x.(map[string]any)
		out = append(out, remoteUser(m))
	}
	return out
}

// remoteUser is a User as the server answers it.
type remoteUser map[string]any

func (u remoteUser) str(path string) string {
	var v any = map[string]any(u)
	for k := range strings.SplitSeq(path, ".") {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	s, _ := v.(string)
	return s
}

func (u remoteUser) active() bool { b, _ := u["active"].(bool); return b }

// emails lists the addresses, the primary one first, then the others in
// order.
func (u remoteUser) emails() []string {
	list, _ := u["emails"].([]any)
	var primary, others []string
	for _, x := range list {
		m, _ := x.(map[string]any)
		v, _ := m["value"].(string)
		if p, _ := m["primary"].(bool); p {
			primary = append(primary, v)
		} else {
			others = append(others, v)
		}
	}
	slices.Sort(others)
	return append(primary, others...)
}

// account is a canonical account as the dispatcher hands it to a target.
func account(id, login, given, family string, emails ...string) propagate.Account {
	a := propagate.Account{ID: id, State: propagate.StateActive, Login: login, GivenName: given, FamilyName: family}
	for i, e := range emails {
		a.Emails = append(a.Emails, propagate.Email{Address: e, Primary: i == 0})
	}
	return a
}
