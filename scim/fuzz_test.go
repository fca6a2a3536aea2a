package scim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	scimerr "github.com/elimity-com/scim/errors"
	"github.com/google/uuid"
	"github.com/scim2/filter-parser/v2"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/server"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
)

// The fuzz targets of this file show that no client input makes the SCIM
// service fail: a filter is run or refused with 400 invalidFilter, a PATCH
// or POST body is applied or refused with a 4xx, and nothing answers 5xx
// or panics. Each target builds one server on SQLite before fuzzing and
// calls its handler directly, without a network round trip.

// filterSeeds are filters of every shape the service meets: those of the
// RFC, those of Entra ID and Okta, and broken ones.
var filterSeeds = []string{
	`userName eq "alice.martin@univ-test.fr"`,
	`userName Eq "ALICE.MARTIN"`,
	`externalId eq "8f2c-entra"`,
	`id eq "2819c223-7f76-453a-919d-413861904646"`,
	`emails[type eq "work"].value eq "Alice.Martin@univ-test.fr"`,
	`emails[type eq "work"].value pr`,
	`emails[type eq "home" and primary eq true].value co "@gmail"`,
	`emails[value sw "alice" and primary eq true]`,
	`emails.value ew "@univ-test.fr"`,
	`emails pr`,
	`emails.type ne "work"`,
	`emails.primary eq "True"`,
	`not (emails pr)`,
	`name.givenName co "lo" and name.familyName sw "Mart"`,
	`displayName eq "Alice Martin" or displayName pr`,
	`active eq "False"`,
	`active gt true`,
	`(userName sw "a" or userName sw "b") and not (emails.value co "gmail")`,
	`meta.lastModified gt "2000-01-01T00:00:00Z"`,
	`meta.lastModified ge "2026-01-31T12:00:00.123456789+02:00"`,
	`meta.created le "9999-12-31T23:59:59Z"`,
	`meta.created eq "0000-01-01T00:00:00Z"`,
	`meta.created co "2026"`,
	`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"`,
	`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "E-1042"`,
	`title eq "x"`,
	`userName eq 42`,
	`userName eq null`,
	`userName eq "50%_off\\"`,
	`userName eq "a\u0000b"`,
	`displayName eq "x[y].z eq 1"`,
	`userName eq`,
	`emails[`,
	`a[b[c]].d eq 1`,
	strings.Repeat(`not (`, 20) + `userName eq "a"` + strings.Repeat(`)`, 20),
	strings.Repeat(`userName eq "a" or `, 100) + `userName eq "b"`,
	// The largest filters allowed, each comparison two in the store.
	balanced(`meta.created ne "2026-01-31T12:00:00Z"`, maxCompares),
	balanced(`emails.value eq "a@b.c"`, maxCompares),
	"",
	"\xff\xfe",
}

// balanced joins n copies of leaf with or, in a balanced tree.
func balanced(leaf string, n int) string {
	if n == 1 {
		return leaf
	}
	return "(" + balanced(leaf, n/2) + ") or (" + balanced(leaf, n-n/2) + ")"
}

// FuzzFilter runs the translation of a client's filter into a store
// filter on any string: the Entra rewriting, the parser, the size bounds
// and userFilter never panic, and a filter that is refused is refused with
// the value-typed SCIM error of a 400 invalidFilter (anything else would
// be rendered as a 500).
func FuzzFilter(f *testing.F) {
	for _, s := range filterSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rewritten := rewriteFilter(s)
		e, err := filter.ParseFilter([]byte(strings.TrimSpace(rewritten)))
		if err != nil {
			return
		}
		if n, depth := size(e); n < 1 || depth < 1 {
			t.Fatalf("size(%q) = %d comparisons, depth %d", rewritten, n, depth)
		}
		sf, err := userFilter(e)
		if err != nil {
			// Not errors.As: the library renders a wrapped or pointer
			// ScimError as a 500.
			se, ok := err.(scimerr.ScimError)
			if !ok || se.Status != http.StatusBadRequest || se.ScimType != scimerr.ScimTypeInvalidFilter {
				t.Fatalf("userFilter(%q): %#v, want a 400 invalidFilter ScimError", rewritten, err)
			}
			return
		}
		if sf == nil {
			t.Fatalf("userFilter(%q): no filter and no error", rewritten)
		}
	})
}

// listEndpoints are the lists FuzzListFilter reads, by list%4: the users
// (the store runs their filter as SQL), the groups (filtered in memory),
// and the schemas and resource types (filtered by the library).
var listEndpoints = []string{"Users", "Groups", "Schemas", "ResourceTypes"}

// FuzzListFilter lists users (and groups, schemas, resource types) with
// any filter, sort, page and projection (attributes and
// excludedAttributes, given as one string split at "|"), by GET and by
// POST .search, on SQLite: the answer is 200 with a list or 400 with a
// SCIM error, never 5xx.
func FuzzListFilter(f *testing.F) {
	fx := newFuzzServer(f)
	fx.mustDo(f, http.MethodPost, "/scim/v2/Users", fuzzUser("e-alice", "alice.martin@univ-test.fr", "alice.martin@univ-test.fr"), http.StatusCreated)
	fx.mustDo(f, http.MethodPost, "/scim/v2/Users", fuzzUser("e-bob", "bob.durand", "Bob@Gmail.com"), http.StatusCreated)
	fx.mustDo(f, http.MethodPost, "/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Équipe Biologie"}`, http.StatusCreated)
	for i, s := range filterSeeds {
		f.Add(uint8(0), s, "", "", "", "2", "", i%2 == 1)
	}
	f.Add(uint8(0), `userName pr`, "meta.lastModified", "descending", "2", "1", "userName,name.givenName|emails", false)
	f.Add(uint8(0), `userName pr`, "name.familyName", "ascending", "3", "1", "", true)
	f.Add(uint8(0), `userName pr`, "id", "", "9223372036854775807", "9223372036854775807", "", false)
	f.Add(uint8(0), `userName pr`, "", "", "-1", "-5", "", true)
	f.Add(uint8(0), `userName sw "a"`, "title", "", "x", "", "", false)
	f.Add(uint8(0), `userName sw "a"`, "", "sideways", "", "y", "", true)
	f.Add(uint8(0), `userName co "%"`, "", "", "", "", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber|", false)
	f.Add(uint8(0), `userName sw "_"`, "", "", "", "", "|urn:canonid:params:scim:schemas:extension:2.0:Account,emails.value,name.", false)
	f.Add(uint8(0), `displayName ew "\\"`, "", "", "", "", "urn:|urn:ietf:params:scim:schemas:core:2.0:User:", false)
	for _, s := range []string{`displayName eq "équipe biologie"`, `members[value eq "x"]`, `members.value pr`, `id sw "equipe"`,
		`not (displayName co "Bio") or externalId pr`, `meta.lastModified gt "2000-01-01T00:00:00Z"`} {
		f.Add(uint8(1), s, "", "", "", "", "displayName|members", false)
	}
	for _, s := range []string{`name eq "User"`, `attributes[name eq "userName"]`, `attributes.multiValued eq true`, `id pr`,
		`schemaExtensions[required eq true]`, `endpoint eq "/Users"`, `name eq 1`, `description co "canonid"`} {
		f.Add(uint8(2), s, "", "", "", "", "", false)
		f.Add(uint8(3), s, "", "", "2", "1", "name", false)
	}
	f.Fuzz(func(t *testing.T, list uint8, flt, sortBy, sortOrder, startIndex, count, projection string, search bool) {
		ep := listEndpoints[list%4]
		attrs, excluded, _ := strings.Cut(projection, "|")
		var r fuzzResponse
		if search && (ep == "Users" || ep == "Groups") { // the only lists with .search
			req := map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"},
				"filter": flt, "sortBy": sortBy, "sortOrder": sortOrder,
				"attributes": strings.Split(attrs, ","), "excludedAttributes": strings.Split(excluded, ",")}
			if n, err := strconv.Atoi(startIndex); err == nil {
				req["startIndex"] = n
			}
			if n, err := strconv.Atoi(count); err == nil {
				req["count"] = n
			}
			body, err := json.Marshal(req)
			if err != nil {
				t.Fatal(err)
			}
			r = fx.do(http.MethodPost, "/scim/v2/"+ep+"/.search", string(body))
		} else {
			q := url.Values{"filter": {flt}, "sortBy": {sortBy}, "sortOrder": {sortOrder}, "startIndex": {startIndex},
				"count": {count}, "attributes": {attrs}, "excludedAttributes": {excluded}}
			r = fx.do(http.MethodGet, "/scim/v2/"+ep+"?"+q.Encode(), "")
		}
		r.check(t, is(http.StatusOK, http.StatusBadRequest))
		if r.status == http.StatusOK {
			if _, ok := r.body["totalResults"].(float64); !ok {
				t.Fatalf("200 without totalResults: %s", r.raw)
			}
		}
	})
}

// patchSeeds are PATCH bodies real clients send (see quirks_test.go and
// lifecycle_test.go), and broken ones.
var patchSeeds = []string{
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"X"}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		{"op":"Replace","value":{"name.familyName":"Martin-Durand","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"E-2000","displayName":"Alice M-D"}},
		{"op":"Replace","path":"active","value":"False"}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"2819c223"},
		{"op":"replace","value":{"active":"True"}}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		{"op":"replace","path":"emails[type eq \"work\"].value","value":"alice.martin@univ-test.fr"}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"id":"x","userName":"bob.durand","meta":{}}}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"emails","value":[{"value":"new@univ-test.fr","type":"work","primary":true}]}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"emails[value eq \"alice.martin@univ-test.fr\"]"}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"name.givenName"}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"externalId","value":"renamed"}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"userName","value":""}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"phoneNumbers[type eq \"work\"].value","value":"+33 6 12 34 56 78"}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Remove","path":"members","value":[{"value":"x"}]}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"urn:canonid:params:scim:schemas:extension:2.0:Account:status","value":"merged"}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"E-1","manager":{"value":"m"}}}}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"emails[type eq \"work\" and primary eq true].value","value":7}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"emails[type eq \"work\"]","value":[{"value":"a@b.c"}]}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"move","path":"userName"}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[null,1,"x",[]]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"operations":{"op":"add"}}`,
	`{"Operations":[{"op":"replace","path":"name","value":{"givenName":"A","familyName":{"x":1}}}]}`,
	`[]`,
	`null`,
	`{`,
	``,
}

// opSeeds are single operations, as (op, path, value) with the value in
// JSON, that FuzzUsersPatch sends in a body of its own.
var opSeeds = [][3]string{
	{"replace", `emails[type eq "work"].value`, `"alice.martin@univ-test.fr"`},
	{"Add", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", `"2819c223"`},
	{"Replace", "", `{"active":"False","name.familyName":"Martin-Durand","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"E-2000"}`},
	{"remove", "name.givenName", ""},
	{"remove", `emails[value eq "x"]`, ""},
	{"add", `phoneNumbers[type eq "mobile"].value`, `"+33612345678"`},
	{"replace", "active", `"True"`},
	{"replace", "userName", `"bob.durand"`},
	{"add", "emails", `[{"value":"bob@gmail.com","primary":true}]`},
	{"replace", "name", `{"givenName":["x"]}`},
	{"remove", "members", `[{"value":"x"}]`},
}

// FuzzUsersPatch applies any PATCH body to a user just provisioned: the
// answer is 2xx or 4xx, never 5xx. The body is sent as it is when op,
// path and value are empty; otherwise the operation they make (value is
// JSON, or else a string) is appended to the body's Operations, so that
// the fuzzer also explores operations inside well-formed bodies.
func FuzzUsersPatch(f *testing.F) {
	fx := newFuzzServer(f)
	// Another user, whose login and address a PATCH may try to take.
	fx.mustDo(f, http.MethodPost, "/scim/v2/Users", fuzzUser("e-bob", "bob.durand", "bob@gmail.com"), http.StatusCreated)
	for _, s := range patchSeeds {
		f.Add(s, "", "", "")
	}
	for _, o := range opSeeds {
		f.Add("", o[0], o[1], o[2])
	}
	f.Fuzz(func(t *testing.T, body, op, path, value string) {
		// A fresh user per input, so that every input starts from the
		// same state; its names are random, so that no earlier PATCH can
		// have taken them.
		u := uuid.NewString()
		created := fx.do(http.MethodPost, "/scim/v2/Users", fuzzUser("e-"+u, "user-"+u, "user-"+u+"@univ-test.fr"))
		created.check(t, is(http.StatusCreated))
		id, _ := created.body["id"].(string)
		fx.do(http.MethodPatch, "/scim/v2/Users/"+id, patchRequest(body, op, path, value)).check(t, notServerError)
	})
}

// patchRequest is the PATCH body of FuzzUsersPatch.
func patchRequest(body, op, path, value string) string {
	if op == "" && path == "" && value == "" {
		return body
	}
	o := map[string]any{"op": op}
	if path != "" {
		o["path"] = path
	}
	if value != "" {
		var v any
		if err := json.Unmarshal([]byte(value), &v); err != nil {
			v = value
		}
		o["value"] = v
	}
	var req map[string]any
	if err := json.Unmarshal([]byte(body), &req); err != nil || req == nil {
		req = map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}}
	}
	ops, _ := req["Operations"].([]any)
	req["Operations"] = append(ops, o)
	b, err := json.Marshal(req)
	if err != nil {
		return body
	}
	return string(b)
}

// postSeeds are User bodies real clients send, and broken ones.
var postSeeds = []string{
	`{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "urn:example:unknown:2.0:User"],
  "externalId": "8f2c-entra",
  "userName": "Alice.Martin@univ-test.fr",
  "active": "True",
  "displayName": "Alice Martin",
  "meta": {"resourceType": "User"},
  "roles": [{"primary": "True", "type": "WindowsAzureActiveDirectoryRole", "value": "Student"}],
  "emails": [{"primary": true, "type": "work", "value": "alice.martin@univ-test.fr"}],
  "name": {"givenName": "Alice", "familyName": "Martin", "formatted": "Alice Martin"},
  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "E-1042", "department": "Biology", "manager": {"value": "x"}},
  "urn:example:unknown:2.0:User": {"whatever": 1}
}`,
	fuzzUser("e-chloe", "chloe", "chloe@univ-test.fr"),
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bob.durand"}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x","active":false,"phoneNumbers":[{"value":"06 12 34 56 78","type":"mobile"}]}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x","emails":[{"value":"not an address"}]}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x","emails":[{"value":"a@b.c","primary":true},{"value":"A@B.C","primary":true}]}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"externalId":" ","userName":" "}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x","id":"forced","groups":[{"value":"g"}]}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x","name":"flat"}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":["a","b"]}`,
	`{"schemas":[],"userName":"x"}`,
	`{"userName":"x"}`,
	`[]`,
	`{`,
	``,
}

// FuzzUsersPost provisions a user from any body: the answer is 2xx or
// 4xx, never 5xx.
func FuzzUsersPost(f *testing.F) {
	fx := newFuzzServer(f)
	fx.mustDo(f, http.MethodPost, "/scim/v2/Users", fuzzUser("e-bob", "bob.durand", "bob@gmail.com"), http.StatusCreated)
	for _, s := range postSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		fx.do(http.MethodPost, "/scim/v2/Users", body).check(t, notServerError)
	})
}

// fuzzUser is the body of a plain user.
func fuzzUser(externalID, userName, email string) string {
	return fmt.Sprintf(`{"schemas":[%q],"externalId":%q,"userName":%q,"name":{"givenName":"Test","familyName":"User"},"emails":[{"value":%q,"type":"work","primary":true}]}`,
		UserSchema, externalID, userName, email)
}

// fuzzServer is canonid's HTTP server with SCIM mounted, on SQLite, and
// the token of its one client. Its log is kept, to show with a failure.
type fuzzServer struct {
	h     http.Handler
	token string
	log   *syncBuffer
}

func newFuzzServer(f *testing.F) *fuzzServer {
	f.Helper()
	st := storetest.OpenSQLite(f)
	buf := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(buf, nil))
	srv := server.New(server.DefaultConfig(), server.Deps{Tokens: server.StoreTokens{Store: st}, Logger: logger})
	cfg := DefaultConfig()
	cfg.Rate, cfg.Burst = 1e9, 1e9 // the fuzzer is one very busy client
	s, err := New(cfg, Deps{Store: st, Precedence: identity.DefaultPrecedence(), Caller: server.Caller,
		BaseURL: "http://canonid.test/scim/v2", Logger: logger})
	if err != nil {
		f.Fatal(err)
	}
	s.Mount(srv.SCIMGroup())
	tok, hash, err := server.GenerateAPIToken()
	if err != nil {
		f.Fatal(err)
	}
	err = st.Update(f.Context(), func(tx store.Tx) error {
		if err := tx.APITokens().Create(f.Context(), &store.APIToken{Name: "hr", Role: store.RoleSCIM, Hash: hash}); err != nil {
			return err
		}
		return tx.Record(f.Context(), store.Event{Type: "api_token.created", Actor: "test"})
	})
	if err != nil {
		f.Fatal(err)
	}
	return &fuzzServer{h: srv.Handler(), token: tok, log: buf}
}

// fuzzResponse is an answer with its JSON body decoded, and the server's
// log while it was made.
type fuzzResponse struct {
	method, path string
	status       int
	raw          string
	body         map[string]any
	log          string
}

// do sends a request as the client.
func (fx *fuzzServer) do(method, path, body string) fuzzResponse {
	req := httptest.NewRequest(method, "http://canonid.test"+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+fx.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	rec := httptest.NewRecorder()
	fx.log.Reset()
	fx.h.ServeHTTP(rec, req)
	r := fuzzResponse{method: method, path: path, status: rec.Code, raw: rec.Body.String(), log: fx.log.String()}
	_ = json.Unmarshal(rec.Body.Bytes(), &r.body)
	return r
}

// mustDo sends a request of the setup and checks its status.
func (fx *fuzzServer) mustDo(f *testing.F, method, path, body string, status int) {
	f.Helper()
	if r := fx.do(method, path, body); r.status != status {
		f.Fatalf("%s %s: %d, want %d: %s", method, path, r.status, status, r.raw)
	}
}

// check fails t unless ok accepts the status, and unless a body, when
// there is one, is a JSON object (an error one with the SCIM error
// schema).
func (r fuzzResponse) check(t *testing.T, ok func(status int) bool) {
	t.Helper()
	if !ok(r.status) {
		t.Fatalf("%s %s: status %d\nbody: %s\nlog: %s", r.method, r.path, r.status, r.raw, r.log)
	}
	if len(bytes.TrimSpace([]byte(r.raw))) > 0 && r.body == nil {
		t.Fatalf("%s %s: %d, body is not a JSON object: %s", r.method, r.path, r.status, r.raw)
	}
	if r.status >= 400 {
		if s, _ := r.body["schemas"].([]any); len(s) != 1 || s[0] != "urn:ietf:params:scim:api:messages:2.0:Error" {
			t.Fatalf("%s %s: %d without a SCIM error body: %s", r.method, r.path, r.status, r.raw)
		}
	}
}

// is accepts the statuses given.
func is(statuses ...int) func(int) bool {
	return func(s int) bool { return slices.Contains(statuses, s) }
}

// notServerError accepts a success or a client error: 2xx or 4xx.
func notServerError(s int) bool { return s >= 200 && s < 300 || s >= 400 && s < 500 }

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func (b *syncBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b.Reset()
}
