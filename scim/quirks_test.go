package scim_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/canonid/canonid/scim"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
)

const (
	userURN = "urn:ietf:params:scim:schemas:core:2.0:User"
	entURN  = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	accURN  = "urn:canonid:params:scim:schemas:extension:2.0:Account"
	errURN  = "urn:ietf:params:scim:api:messages:2.0:Error"
)

// An Entra ID user creation, with what Entra sends that is not plain RFC
// 7643: "True" for a boolean, roles, and an extension with a string
// manager.
const entraCreate = `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "urn:example:unknown:2.0:User"],
  "externalId": "8f2c-entra",
  "userName": "Alice.Martin@univ-test.fr",
  "active": "True",
  "displayName": "Alice Martin",
  "meta": {"resourceType": "User"},
  "roles": [{"primary": "True", "type": "WindowsAzureActiveDirectoryRole", "value": "Student"}],
  "emails": [{"primary": true, "type": "work", "value": "alice.martin@univ-test.fr"}],
  "name": {"givenName": "Alice", "familyName": "Martin", "formatted": "Alice Martin"},
  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "E-1042", "department": "Biology"},
  "urn:example:unknown:2.0:User": {"whatever": 1}
}`

// step is one request of a quirk and what its answer must hold.
type step struct {
	name    string
	client  string // token name; "" sends none
	method  string
	path    string // {id} and {group} are replaced by the ids created earlier
	body    string
	headers []string
	status  int
	// want maps body paths (slash-separated) to the expected value's
	// string form; "<absent>" for a missing value.
	want map[string]string
	// wantHeader maps header names to a substring of their value.
	wantHeader map[string]string
}

func TestQuirks(t *testing.T) {
	st := storetest.OpenSQLite(t)
	cfg := scim.DefaultConfig()
	e := newEnv(t, st, cfg)
	e.token("campus-admin", store.RoleOrgAdmin)

	created := e.do("hr", "POST", "/scim/v2/Users", entraCreate).must(t, http.StatusCreated)
	id := created.str("id")
	group := e.do("hr", "POST", "/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Équipe Biologie","members":[{"value":"`+id+`"}]}`).
		must(t, http.StatusCreated)
	gid := group.str("id")
	if gid != "equipe-biologie" {
		t.Fatalf("group id %q, want equipe-biologie", gid)
	}

	steps := []step{
		{name: "created: values as stored", client: "hr", method: "GET", path: "/scim/v2/Users/{id}", status: 200, want: map[string]string{
			"userName": "alice.martin@univ-test.fr", "active": "true", "externalId": "8f2c-entra", "name/givenName": "Alice",
			"emails/0/value": "alice.martin@univ-test.fr", "emails/0/type": "work", entURN + "/employeeNumber": "E-1042",
			accURN + "/status": "active", accURN + "/linkedIdentities/0/source": "scim:hr",
			"meta/location": base + "/Users/{id}", "meta/resourceType": "User", "meta/version": `W/"1"`}},
		{name: "random-id probe", client: "hr", method: "GET", path: "/scim/v2/Users/2819c223-7f76-453a-919d-413861904646", status: 404,
			want: map[string]string{"schemas/0": errURN, "status": "404"}},
		{name: "no token", method: "GET", path: "/scim/v2/Users", status: 401, want: map[string]string{"schemas/0": errURN, "status": "401"},
			wantHeader: map[string]string{"WWW-Authenticate": "Bearer"}},
		{name: "org-admin token", client: "campus-admin", method: "GET", path: "/scim/v2/Users", status: 403, want: map[string]string{"schemas/0": errURN, "status": "403"}},
		{name: "taken userName", client: "hr", method: "POST", path: "/scim/v2/Users",
			body: `{"schemas":["` + userURN + `"],"externalId":"other","userName":"ALICE.MARTIN@univ-test.fr"}`, status: 409,
			want: map[string]string{"scimType": "uniqueness", "schemas/0": errURN}},
		{name: "taken externalId", client: "hr", method: "POST", path: "/scim/v2/Users",
			body: `{"schemas":["` + userURN + `"],"externalId":"8f2c-entra","userName":"someone.else"}`, status: 409,
			want: map[string]string{"scimType": "uniqueness"}},
		{name: "Entra email filter", client: "hr", method: "GET", path: "/scim/v2/Users?filter=" + q(`emails[type eq "work"].value eq "Alice.Martin@univ-test.fr"`), status: 200,
			want: map[string]string{"totalResults": "1", "Resources/0/id": "{id}"}},
		{name: "Entra email filter, no match", client: "hr", method: "GET", path: "/scim/v2/Users?filter=" + q(`emails[type eq "home"].value eq "alice.martin@univ-test.fr"`), status: 200,
			want: map[string]string{"totalResults": "0", "Resources": "[]"}},
		{name: "userName filter is case-insensitive", client: "hr", method: "GET", path: "/scim/v2/Users?filter=" + q(`userName eq "ALICE.MARTIN@UNIV-TEST.FR"`), status: 200,
			want: map[string]string{"totalResults": "1"}},
		{name: "filter on externalId and meta", client: "hr", method: "GET", path: "/scim/v2/Users?filter=" + q(`externalId eq "8f2c-entra" and meta.lastModified gt "2000-01-01T00:00:00Z"`), status: 200,
			want: map[string]string{"totalResults": "1"}},
		{name: "bad filter", client: "hr", method: "GET", path: "/scim/v2/Users?filter=" + q(`userName eq`), status: 400, want: map[string]string{"scimType": "invalidFilter"}},
		{name: "unsupported filter attribute", client: "hr", method: "GET", path: "/scim/v2/Users?filter=" + q(`title eq "x"`), status: 400, want: map[string]string{"scimType": "invalidFilter"}},
		{name: "lower-case path", client: "hr", method: "GET", path: "/scim/v2/users/{id}", status: 200, want: map[string]string{"id": "{id}"}},
		{name: "upper-case discovery path", client: "hr", method: "GET", path: "/scim/v2/SERVICEPROVIDERCONFIG", status: 200,
			want: map[string]string{"patch/supported": "true", "filter/supported": "true", "filter/maxResults": "100", "etag/supported": "true", "sort/supported": "true",
				"bulk/supported": "false", "authenticationSchemes/0/type": "oauthbearertoken"}},
		{name: "POST on ServiceProviderConfig", client: "hr", method: "POST", path: "/scim/v2/ServiceProviderConfig", body: `{}`, status: 405,
			want: map[string]string{"schemas/0": errURN}, wantHeader: map[string]string{"Allow": "GET"}},
		{name: "POST on Schemas", client: "hr", method: "POST", path: "/scim/v2/Schemas", body: `{}`, status: 405},
		{name: "POST on ResourceTypes", client: "hr", method: "POST", path: "/scim/v2/ResourceTypes", body: `{}`, status: 405},
		{name: "schemas list the extensions", client: "hr", method: "GET", path: "/scim/v2/Schemas/" + accURN, status: 200, want: map[string]string{"id": accURN}},
		{name: "resource type, any case", client: "hr", method: "GET", path: "/scim/v2/resourcetypes/user", status: 200, want: map[string]string{"endpoint": "/Users"}},
		{name: "unknown endpoint", client: "hr", method: "GET", path: "/scim/v2/Devices", status: 404, want: map[string]string{"schemas/0": errURN}},
		{name: "PUT on a collection", client: "hr", method: "PUT", path: "/scim/v2/Users", body: `{}`, status: 405},
		{name: "projection: attributes", client: "hr", method: "GET", path: "/scim/v2/Users/{id}?attributes=userName,name.givenName," + entURN + ":employeeNumber", status: 200,
			want: map[string]string{"id": "{id}", "userName": "alice.martin@univ-test.fr", "name/givenName": "Alice", "name/familyName": "<absent>",
				"emails": "<absent>", entURN + "/employeeNumber": "E-1042", accURN: "<absent>"}},
		{name: "projection: excludedAttributes", client: "hr", method: "GET", path: "/scim/v2/Users?excludedAttributes=emails," + accURN, status: 200,
			want: map[string]string{"Resources/0/emails": "<absent>", "Resources/0/" + accURN: "<absent>", "Resources/0/userName": "alice.martin@univ-test.fr"}},
		{name: "If-None-Match", client: "hr", method: "GET", path: "/scim/v2/Users/{id}", headers: []string{"If-None-Match", `W/"1"`}, status: 304},
		{name: "If-Match mismatch", client: "hr", method: "PATCH", path: "/scim/v2/Users/{id}", headers: []string{"If-Match", `W/"99"`},
			body:   `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"X"}]}`,
			status: 412, want: map[string]string{"schemas/0": errURN, "status": "412"}},
		{name: "capitalised ops, no-path replace with dotted and URN keys, False string", client: "hr", method: "PATCH", path: "/scim/v2/Users/{id}",
			headers: []string{"If-Match", `W/"1"`},
			body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
				{"op":"Replace","value":{"name.familyName":"Martin-Durand","` + entURN + `:employeeNumber":"E-2000","displayName":"Alice M-D"}},
				{"op":"Replace","path":"active","value":"False"}]}`,
			status: 200, want: map[string]string{"name/familyName": "Martin-Durand", entURN + "/employeeNumber": "E-2000", "displayName": "Alice M-D",
				"active": "false", accURN + "/status": "suspended", accURN + "/linkedIdentities/0/status": "gone"}},
		{name: "manager as a plain string, and reactivation", client: "hr", method: "PATCH", path: "/scim/v2/Users/{id}",
			body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
				{"op":"Add","path":"` + entURN + `:manager","value":"{id}"},
				{"op":"replace","value":{"active":"True"}}]}`,
			status: 200, want: map[string]string{"active": "true", accURN + "/status": "active"}},
		{name: "Entra address replace", client: "hr", method: "PATCH", path: "/scim/v2/Users/{id}",
			body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
				{"op":"replace","path":"emails[type eq \"work\"].value","value":"alice.martin@univ-test.fr"}]}`,
			status: 200, want: map[string]string{"emails/0/value": "alice.martin@univ-test.fr"}},
		{name: "group without members", client: "hr", method: "GET", path: "/scim/v2/Groups?excludedAttributes=members", status: 200,
			want: map[string]string{"totalResults": "2", "Resources/0/id": "cpts-sud", "Resources/1/id": "{group}", "Resources/1/displayName": "Équipe Biologie", "Resources/1/members": "<absent>"}},
		{name: "group filter", client: "hr", method: "GET", path: "/scim/v2/Groups?filter=" + q(`displayName eq "équipe biologie"`), status: 200,
			want: map[string]string{"totalResults": "1", "Resources/0/members/0/value": "{id}"}},
		{name: "user shows its group", client: "hr", method: "GET", path: "/scim/v2/Users/{id}?attributes=groups", status: 200,
			want: map[string]string{"groups/0/value": "{group}"}},
		{name: "remove member with a value array", client: "hr", method: "PATCH", path: "/scim/v2/Groups/{group}",
			body:   `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Remove","path":"members","value":[{"value":"{id}"}]}]}`,
			status: 200, want: map[string]string{"members": "<absent>"}},
		{name: "add member back", client: "hr", method: "PATCH", path: "/scim/v2/Groups/{group}",
			body:   `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"{id}"}]}]}`,
			status: 200, want: map[string]string{"members/0/value": "{id}"}},
		{name: "Okta group rename with id in the value", client: "hr", method: "PATCH", path: "/scim/v2/Groups/{group}",
			body:   `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"id":"{group}","displayName":"Biologie"}}]}`,
			status: 200, want: map[string]string{"displayName": "Biologie", "id": "{group}"}},
		{name: "delete a group", client: "hr", method: "DELETE", path: "/scim/v2/Groups/{group}", status: 403, want: map[string]string{"schemas/0": errURN}},
		{name: "bulk", client: "hr", method: "POST", path: "/scim/v2/Bulk", body: `{}`, status: 501},
		{name: ".search", client: "hr", method: "POST", path: "/scim/v2/Users/.search",
			body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"userName sw \"alice\"","count":1}`, status: 200,
			want: map[string]string{"totalResults": "1", "itemsPerPage": "1"}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			sub := strings.NewReplacer("{id}", id, "{group}", gid)
			var headers []string
			for _, h := range s.headers {
				headers = append(headers, sub.Replace(h))
			}
			r := e.do(s.client, s.method, sub.Replace(s.path), sub.Replace(s.body), headers...)
			if r.status != s.status {
				t.Fatalf("status %d, want %d: %s", r.status, s.status, r.raw)
			}
			if r.status >= 400 && r.header.Get("Content-Type") != "application/scim+json" {
				t.Errorf("error Content-Type %q", r.header.Get("Content-Type"))
			}
			for path, want := range s.want {
				got := r.get(path)
				want = sub.Replace(want)
				if want == "<absent>" {
					if got != nil {
						t.Errorf("%s = %v, want it absent", path, got)
					}
					continue
				}
				if g := show(got); g != want {
					t.Errorf("%s = %s, want %s\n%s", path, g, want, r.raw)
				}
			}
			for h, want := range s.wantHeader {
				if !strings.Contains(r.header.Get(h), want) {
					t.Errorf("header %s = %q, want it to contain %q", h, r.header.Get(h), want)
				}
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	cfg := scim.DefaultConfig()
	cfg.Rate, cfg.Burst = 0.001, 3
	e := newEnv(t, storetest.OpenSQLite(t), cfg)
	for i := range 3 {
		e.do("hr", "GET", "/scim/v2/ServiceProviderConfig", "").must(t, 200)
		_ = i
	}
	r := e.do("hr", "GET", "/scim/v2/Users", "").must(t, http.StatusTooManyRequests)
	if r.str("schemas/0") != errURN || r.header.Get("Retry-After") == "" {
		t.Fatalf("429 without a SCIM body or Retry-After: %v %s", r.header, r.raw)
	}
	// Another client has its own bucket.
	e.token("lms", store.RoleSCIM)
	e.do("lms", "GET", "/scim/v2/Users", "").must(t, 200)
}
