package accounts_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/server"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/sqlite"
)

// tokens is a fake verifier: token string -> API token.
type tokens map[string]store.APIToken

func (f tokens) VerifyAPIToken(_ context.Context, token string) (store.APIToken, error) {
	if t, ok := f[token]; ok {
		return t, nil
	}
	return store.APIToken{}, store.ErrNotFound
}

type api struct {
	t   *testing.T
	h   http.Handler
	st  store.Store
	srv *server.Server
}

func newAPI(t *testing.T) *api {
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "canonid.db"), discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	migrate(t, st)
	srv := server.New(server.DefaultConfig(), server.Deps{Logger: discard(), Tokens: tokens{
		"support": {Name: "support", Role: store.RoleSupport},
		"coord":   {Name: "coord", Role: store.RoleOrgAdmin, OrgID: "univ-test"},
		"lms":     {Name: "lms", Role: store.RoleSCIM},
	}})
	svc := accounts.New(st, accounts.Config{Precedence: identity.DefaultPrecedence()}, discard())
	accounts.NewHandler(svc, func(r *http.Request) (store.APIToken, bool) { return server.Caller(r.Context()) }).Mount(srv.APIGroup())
	return &api{t: t, h: srv.Handler(), st: st, srv: srv}
}

// do sends a request and decodes the JSON answer into a map.
func (a *api) do(token, method, path, body string) (int, map[string]any) {
	a.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		a.t.Fatalf("%s %s: answer is not JSON: %q", method, path, rec.Body.String())
	}
	return rec.Code, out
}

func (a *api) create(body string) string {
	a.t.Helper()
	code, out := a.do("support", "POST", "/api/v1/accounts", body)
	if code != http.StatusCreated {
		a.t.Fatalf("create: %d %v", code, out)
	}
	return out["id"].(string)
}

func TestAPI(t *testing.T) {
	a := newAPI(t)
	franck := a.create(`{"login":"franck.cavel","given_name":"Franck","family_name":"CAVEL","birth_date":"1978-06-01",
		"emails":[{"address":"franck.cavel@laposte.example","verified":true}]}`)
	franck3 := a.create(`{"login":"franck.cavel3","given_name":"FRANCK","family_name":"CAVEL","birth_date":"1984-10-17",
		"emails":[{"address":"romain.gentef@ode.example","verified":true}]}`)

	code, out := a.do("support", "GET", "/api/v1/accounts/"+franck, "")
	if code != 200 || out["login"] != "franck.cavel" || out["merged_into"] != nil || len(out["emails"].([]any)) != 1 {
		t.Fatalf("get: %d %v", code, out)
	}
	code, out = a.do("support", "GET", "/api/v1/accounts?q=romain.gentef&limit=10", "")
	if code != 200 || len(out["accounts"].([]any)) != 1 || out["next_cursor"] != nil {
		t.Fatalf("search: %d %v", code, out)
	}
	code, out = a.do("support", "GET", "/api/v1/accounts?limit=1", "")
	if code != 200 || len(out["accounts"].([]any)) != 1 || out["next_cursor"] == nil {
		t.Fatalf("paging: %d %v", code, out)
	}

	code, out = a.do("support", "GET", "/api/v1/accounts/"+franck+"/merge-preview?retired_id="+franck3, "")
	if code != 200 || len(out["fields"].([]any)) == 0 || out["retired_id"] != franck3 {
		t.Fatalf("preview: %d %v", code, out)
	}
	code, out = a.do("support", "POST", "/api/v1/accounts/"+franck+"/merge", `{"retired_id":"`+franck3+`"}`)
	if code != 200 || out["merge_id"] == "" {
		t.Fatalf("merge: %d %v", code, out)
	}
	mergeID := out["merge_id"].(string)
	code, out = a.do("support", "GET", "/api/v1/accounts/"+franck, "")
	merged := out["merged_from"].([]any)
	if code != 200 || len(merged) != 1 || merged[0].(map[string]any)["login"] != "franck.cavel3" {
		t.Fatalf("merged users: %d %v", code, out)
	}
	code, out = a.do("support", "GET", "/api/v1/accounts/"+franck3, "")
	if code != 200 || out["id"] != franck || out["requested_id"] != franck3 {
		t.Fatalf("a retired id resolves to the survivor: %d %v", code, out)
	}
	code, out = a.do("support", "POST", "/api/v1/merges/"+mergeID+"/undo", "")
	if code != 200 || out["undone_at"] == nil {
		t.Fatalf("undo: %d %v", code, out)
	}

	// Bad requests answer 4xx with a message.
	for _, tc := range []struct {
		name, token, method, path, body string
		code                            int
		msg                             string
	}{
		{"self merge", "support", "POST", "/api/v1/accounts/" + franck + "/merge", `{"retired_id":"` + franck + `"}`, 400, "into itself"},
		{"unknown survivor", "support", "POST", "/api/v1/accounts/nope/merge", `{"retired_id":"` + franck + `"}`, 404, "not found"},
		{"unknown retired", "support", "POST", "/api/v1/accounts/" + franck + "/merge", `{"retired_id":"nope"}`, 404, "not found"},
		{"missing retired", "support", "POST", "/api/v1/accounts/" + franck + "/merge", `{}`, 400, "retired_id"},
		{"stale version", "support", "POST", "/api/v1/accounts/" + franck + "/merge", `{"retired_id":"` + franck3 + `","survivor_version":99}`, 409, "version"},
		{"undo twice", "support", "POST", "/api/v1/merges/" + mergeID + "/undo", ``, 409, "already undone"},
		{"undo unknown", "support", "POST", "/api/v1/merges/nope/undo", ``, 404, "not found"},
		{"unknown field", "support", "POST", "/api/v1/accounts", `{"logn":"x","given_name":"X"}`, 400, "unknown field"},
		{"bad account", "support", "POST", "/api/v1/accounts", `{"birth_date":"01/06/1978","emails":[{"address":"nope"}]}`, 400, "birth_date"},
		{"taken login", "support", "POST", "/api/v1/accounts", `{"login":"FRANCK.CAVEL","given_name":"X"}`, 409, "login"},
		{"taken verified address", "support", "POST", "/api/v1/accounts", `{"given_name":"X","emails":[{"address":"franck.cavel@laposte.example","verified":true}]}`, 409, "verified e-mail"},
		{"password not yet", "support", "POST", "/api/v1/accounts", `{"given_name":"X","password":"secret"}`, 400, "password"},
		{"org admin cannot merge", "coord", "POST", "/api/v1/accounts/" + franck + "/merge", `{"retired_id":"` + franck3 + `"}`, 403, "support"},
		{"org admin sees only its org", "coord", "GET", "/api/v1/accounts/" + franck, ``, 404, "not found"},
		{"scim token refused", "lms", "GET", "/api/v1/accounts", ``, 403, "may not use"},
		{"bad limit", "support", "GET", "/api/v1/accounts?limit=0", ``, 400, "limit"},
		{"dismiss self", "support", "POST", "/api/v1/duplicates/dismiss", `{"account_a":"` + franck + `","account_b":"` + franck + `"}`, 400, "two different"},
		{"dismiss unknown", "support", "POST", "/api/v1/duplicates/dismiss", `{"account_a":"` + franck + `","account_b":"nope"}`, 404, "not found"},
		{"org admin cannot list duplicates", "coord", "GET", "/api/v1/duplicates", ``, 403, "support"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := a.do(tc.token, tc.method, tc.path, tc.body)
			msg, _ := out["error"].(string)
			if code != tc.code || !strings.Contains(msg, tc.msg) {
				t.Fatalf("%s %s: %d %q, want %d with %q", tc.method, tc.path, code, msg, tc.code, tc.msg)
			}
		})
	}
	// Duplicates: the two Franck CAVEL accounts are candidates (same
	// folded name) but their birth dates differ, as in seed 002.
	code, out = a.do("support", "GET", "/api/v1/duplicates", "")
	if code != 200 || out["pairs_scored"].(float64) != 1 {
		t.Fatalf("duplicates: %d %v", code, out)
	}
	code, out = a.do("support", "POST", "/api/v1/duplicates/dismiss", `{"account_a":"`+franck+`","account_b":"`+franck3+`"}`)
	if code != 200 || out["decision"] != "not_duplicate" {
		t.Fatalf("dismiss: %d %v", code, out)
	}
	// Org admins list only their org's members.
	code, out = a.do("coord", "GET", "/api/v1/accounts", "")
	if code != 200 || len(out["accounts"].([]any)) != 0 {
		t.Fatalf("org admin listing: %d %v", code, out)
	}
}

// TestOpenAPIDescribesEveryRoute keeps /api/v1/openapi.json and the mounted
// routes in step.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	a := newAPI(t)
	req := httptest.NewRequest("GET", "/api/v1/openapi.json", nil) // public: no token
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &doc) != nil {
		t.Fatalf("openapi.json: %d %s", rec.Code, rec.Body.String())
	}
	routes := 0
	for _, r := range a.srv.Engine().Routes() {
		path, ok := strings.CutPrefix(r.Path, "/api/v1")
		if !ok || path == "/openapi.json" {
			continue
		}
		routes++
		var parts []string
		for _, seg := range strings.Split(path, "/") {
			if name, ok := strings.CutPrefix(seg, ":"); ok {
				seg = "{" + name + "}"
			}
			parts = append(parts, seg)
		}
		p := strings.Join(parts, "/")
		if _, ok := doc.Paths[p][strings.ToLower(r.Method)]; !ok {
			t.Errorf("%s %s is served but not described in openapi.json (as %s)", r.Method, r.Path, p)
		}
	}
	if routes < 6 {
		t.Fatalf("found %d API routes, want at least 6", routes)
	}
}
