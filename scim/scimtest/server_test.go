package scimtest

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestStart(t *testing.T) {
	s := Start(t, Options{Token: "t0k"})
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "http" || u.Hostname() != "127.0.0.1" || u.Path != BasePath || s.Token != "t0k" || s.Client == nil {
		t.Errorf("URL %s, token %q, client %v", s.URL, s.Token, s.Client)
	}
	if r := Start(t, Options{}); len(r.Token) < 16 {
		t.Errorf("made-up token %q", r.Token)
	}
	// Outside the base path: a SCIM 404.
	call(t, s, http.MethodGet, strings.TrimSuffix(s.URL, BasePath)+"/Users", "").want(t, http.StatusNotFound, "")
	call(t, s, http.MethodGet, "/Groups", "").want(t, http.StatusNotFound, "")
}

func TestCreateGet(t *testing.T) {
	s := Start(t, Options{})
	body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
		"userName":"jdupont","externalId":"acc-1","name":{"givenName":"Jean","familyName":"Dupont"},"displayName":"Jean Dupont",
		"emails":[{"value":"jean@univ-test.fr","type":"work","primary":true},{"value":"jd@perso.example","type":"home"}],
		"phoneNumbers":[{"value":"+33 1 00","type":"work"}],"password":"secret",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"E1"}}`
	a := call(t, s, http.MethodPost, "/Users", body).want(t, http.StatusCreated, "")
	id := a.str("id")
	loc := s.URL + "/Users/" + id
	if a.header.Get("Location") != loc || a.doc["meta"].(map[string]any)["location"] != loc {
		t.Errorf("Location %q, meta %v; want %s", a.header.Get("Location"), a.doc["meta"], loc)
	}
	if a.doc["active"] != true || a.doc["password"] != nil || a.header.Get("Content-Type") != "application/scim+json" {
		t.Errorf("created: %v (%s)", a.doc, a.header.Get("Content-Type"))
	}
	want := User{ID: id, UserName: "jdupont", ExternalID: "acc-1", Active: true,
		Emails: []string{"jean@univ-test.fr", "jd@perso.example"}, PrimaryEmail: "jean@univ-test.fr",
		GivenName: "Jean", FamilyName: "Dupont", DisplayName: "Jean Dupont", PhoneNumbers: []string{"+33 1 00"}, EmployeeNumber: "E1"}
	sameUser(t, user(t, s, id), want)
	if got := s.Users(); len(got) != 1 {
		t.Errorf("Users() = %+v", got)
	}
	if u, ok := s.UserByExternalID("acc-1"); !ok || u.ID != id {
		t.Errorf("UserByExternalID(acc-1) = %+v, %v", u, ok)
	}
	if _, ok := s.UserByExternalID("ACC-1"); ok {
		t.Error("externalId matched in another case")
	}

	g := call(t, s, http.MethodGet, "/Users/"+id, "").want(t, http.StatusOK, "")
	if g.str("userName") != "jdupont" || g.str("externalId") != "acc-1" || g.str("id") != id {
		t.Errorf("GET: %v", g.doc)
	}
	ext, _ := g.doc[EnterpriseURN].(map[string]any)
	if ext["employeeNumber"] != "E1" {
		t.Errorf("enterprise extension: %v", g.doc)
	}

	// Without active: active, as applications make it.
	id2 := create(t, s, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"other"}`)
	if !user(t, s, id2).Active {
		t.Error("a User created without active is inactive")
	}
	if id2 == id {
		t.Error("same id twice")
	}

	call(t, s, http.MethodPost, "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"displayName":"no userName"}`).
		want(t, http.StatusBadRequest, "")
	call(t, s, http.MethodPost, "/Users", `{not json`).want(t, http.StatusBadRequest, "invalidSyntax")
	call(t, s, http.MethodGet, "/Users/nope", "").want(t, http.StatusNotFound, "")
	if n := len(s.Users()); n != 2 {
		t.Errorf("%d Users after refused creations, want 2", n)
	}
}

// TestUniqueness: userName in any case, and addresses unless allowed, are
// unique across Users, on POST, PUT and PATCH.
func TestUniqueness(t *testing.T) {
	s := Start(t, Options{})
	first := create(t, s, userBody("jdupont", "acc-1", "jean@univ-test.fr"))
	other := create(t, s, userBody("other", "acc-2", "other@univ-test.fr"))
	for _, c := range []struct {
		name, method, path, body string
		status                   int
	}{
		{"POST same userName in another case", http.MethodPost, "/Users", userBody("JDupont", "", "new@univ-test.fr"), http.StatusConflict},
		{"POST same address in another case", http.MethodPost, "/Users", userBody("new", "", "JEAN@univ-test.fr"), http.StatusConflict},
		{"PUT taking the userName", http.MethodPut, "/Users/" + other, userBody("jdupont", "acc-2", "other@univ-test.fr"), http.StatusConflict},
		{"PUT taking the address", http.MethodPut, "/Users/" + other, userBody("other", "acc-2", "other@univ-test.fr", "jean@univ-test.fr"), http.StatusConflict},
		{"PATCH taking the userName", http.MethodPatch, "/Users/" + other, patch(`{"op":"replace","path":"userName","value":"JDUPONT"}`), http.StatusConflict},
		{"PATCH adding the address", http.MethodPatch, "/Users/" + other, patch(`{"op":"add","path":"emails","value":[{"value":"jean@univ-test.fr"}]}`), http.StatusConflict},
		{"PATCH without path taking the userName", http.MethodPatch, "/Users/" + other, patch(`{"op":"replace","value":{"userName":"jdupont"}}`), http.StatusConflict},
		{"PUT keeping its own values", http.MethodPut, "/Users/" + first, userBody("JDupont", "acc-1", "Jean@univ-test.fr"), http.StatusOK},
		{"PATCH to its own userName in another case", http.MethodPatch, "/Users/" + first, patch(`{"op":"replace","path":"userName","value":"jdupont"}`), http.StatusOK},
	} {
		t.Run(c.name, func(t *testing.T) {
			typ := ""
			if c.status == http.StatusConflict {
				typ = "uniqueness"
			}
			call(t, s, c.method, c.path, c.body).want(t, c.status, typ)
		})
	}
	if u := user(t, s, other); u.UserName != "other" || !slices.Equal(u.Emails, []string{"other@univ-test.fr"}) {
		t.Errorf("a refused write changed the User: %+v", u)
	}

	s.SetEmailUniqueness(false)
	create(t, s, userBody("jean2", "", "jean@univ-test.fr"))
	s.SetEmailUniqueness(true)
	call(t, s, http.MethodPost, "/Users", userBody("jean3", "", "jean@univ-test.fr")).want(t, http.StatusConflict, "uniqueness")

	lax := Start(t, Options{AllowDuplicateEmails: true})
	create(t, lax, userBody("a", "", "shared@example.org"))
	create(t, lax, userBody("b", "", "shared@example.org"))
	call(t, lax, http.MethodPost, "/Users", userBody("A", "", "x@example.org")).want(t, http.StatusConflict, "uniqueness")
}

// TestConcurrentCreates: of clients racing for one userName, one wins.
func TestConcurrentCreates(t *testing.T) {
	s := Start(t, Options{})
	const n = 8
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL+"/Users",
				strings.NewReader(userBody("racer", "", fmt.Sprintf("r%d@example.org", i))))
			if err != nil {
				statuses <- 0
				return
			}
			req.Header.Set("Authorization", "Bearer "+s.Token)
			res, err := s.Client.Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			res.Body.Close()
			statuses <- res.StatusCode
		})
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for st := range statuses {
		count[st]++
	}
	if count[http.StatusCreated] != 1 || count[http.StatusConflict] != n-1 {
		t.Errorf("statuses %v, want one 201 and %d 409", count, n-1)
	}
}

func TestFilter(t *testing.T) {
	s := Start(t, Options{})
	anne := s.Seed(User{UserName: "anne", ExternalID: "acc-a", Active: true, GivenName: "Anne",
		Emails: []string{"anne@univ-test.fr", "anne@perso.example"}})
	bruno := s.Seed(User{UserName: "bruno", ExternalID: "acc-b", Emails: []string{"bruno@univ-test.fr"}, EmployeeNumber: "E2"})
	chloe := s.Seed(User{UserName: "chloe", ExternalID: "ACC-C", Active: true, DisplayName: "Chloé Martin"})
	for _, c := range []struct {
		filter string
		want   []string
	}{
		{`userName eq "ANNE"`, []string{anne.ID}},
		{`USERNAME EQ "bruno"`, []string{bruno.ID}},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bruno"`, []string{bruno.ID}},
		{`userName eq "nobody"`, nil},
		{`externalId eq "acc-a"`, []string{anne.ID}},
		{`externalId eq "acc-c"`, nil}, // case-exact
		{`id eq "` + chloe.ID + `"`, []string{chloe.ID}},
		{`emails.value eq "Anne@Perso.Example"`, []string{anne.ID}},
		{`emails eq "bruno@univ-test.fr"`, []string{bruno.ID}},
		{`emails[value eq "anne@univ-test.fr"]`, []string{anne.ID}},
		{`emails[type eq "work" and value eq "bruno@univ-test.fr"]`, []string{bruno.ID}},
		{`active eq true`, []string{anne.ID, chloe.ID}},
		{`active eq false`, []string{bruno.ID}},
		{`active eq true and userName eq "chloe"`, []string{chloe.ID}},
		{`userName eq "anne" or userName eq "bruno"`, []string{anne.ID, bruno.ID}},
		{`not (active eq true)`, []string{bruno.ID}},
		{`name.givenName eq "anne"`, []string{anne.ID}},
		{`displayName eq "chloé martin"`, []string{chloe.ID}},
	} {
		t.Run(c.filter, func(t *testing.T) {
			a := call(t, s, http.MethodGet, "/Users?filter="+url.QueryEscape(c.filter), "").want(t, http.StatusOK, "")
			got := a.list(t)
			if !slices.Equal(got, append([]string{}, c.want...)) || a.doc["totalResults"] != float64(len(c.want)) {
				t.Errorf("ids %v (totalResults %v), want %v", got, a.doc["totalResults"], c.want)
			}
		})
	}
	for _, f := range []string{
		`userName sw "a"`, // operator not supported
		`userName ne "a"`, // operator not supported
		`title eq "x"`,    // attribute not supported
		`nope eq "x"`,     // not in the schema
		`userName eq`,     // not a filter
		`active eq "yes"`, // not a boolean
		`phoneNumbers[value eq "1"]`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "E2"`,
	} {
		t.Run("unsupported "+f, func(t *testing.T) {
			call(t, s, http.MethodGet, "/Users?filter="+url.QueryEscape(f), "").want(t, http.StatusBadRequest, "invalidFilter")
		})
	}

	nf := Start(t, Options{NoFilter: true})
	nf.Seed(User{UserName: "anne"})
	call(t, nf, http.MethodGet, "/Users?filter="+url.QueryEscape(`userName eq "anne"`), "").want(t, http.StatusBadRequest, "invalidFilter")
	if ids := call(t, nf, http.MethodGet, "/Users", "").want(t, http.StatusOK, "").list(t); len(ids) != 1 {
		t.Errorf("list without filter: %v", ids)
	}
	spc := call(t, nf, http.MethodGet, "/ServiceProviderConfig", "").want(t, http.StatusOK, "")
	if f, _ := spc.doc["filter"].(map[string]any); f["supported"] != false {
		t.Errorf("NoFilter: ServiceProviderConfig says %v", spc.doc["filter"])
	}
}

func TestPaging(t *testing.T) {
	s := Start(t, Options{})
	var ids []string
	for i := range 5 {
		ids = append(ids, create(t, s, userBody(fmt.Sprintf("u%d", i+1), "", fmt.Sprintf("u%d@example.org", i+1))))
	}
	for _, c := range []struct {
		query      string
		want       []string
		startIndex float64
	}{
		{"", ids, 1},
		{"startIndex=2&count=2", ids[1:3], 2},
		{"startIndex=5&count=10", ids[4:], 5},
		{"startIndex=9", nil, 9},
		{"count=0", nil, 1},
		{"startIndex=0&count=1", ids[:1], 1},
		{"count=-3", nil, 1},
		{"filter=" + url.QueryEscape(`userName eq "u3" or userName eq "u4"`) + "&startIndex=2&count=5", ids[3:4], 2},
	} {
		t.Run(c.query, func(t *testing.T) {
			a := call(t, s, http.MethodGet, "/Users?"+c.query, "").want(t, http.StatusOK, "")
			got := a.list(t)
			total := 5.0
			if strings.Contains(c.query, "filter") {
				total = 2
			}
			if !slices.Equal(got, append([]string{}, c.want...)) || a.doc["totalResults"] != total ||
				a.doc["itemsPerPage"] != float64(len(c.want)) || a.doc["startIndex"] != c.startIndex {
				t.Errorf("got %v totalResults %v itemsPerPage %v startIndex %v; want %v", got, a.doc["totalResults"], a.doc["itemsPerPage"], a.doc["startIndex"], c.want)
			}
		})
	}
	call(t, s, http.MethodGet, "/Users?count=abc", "").want(t, http.StatusBadRequest, "")

	small := Start(t, Options{MaxResults: 2})
	for i := range 3 {
		create(t, small, userBody(fmt.Sprintf("s%d", i), ""))
	}
	a := call(t, small, http.MethodGet, "/Users?count=10", "").want(t, http.StatusOK, "")
	if got := a.list(t); len(got) != 2 || a.doc["totalResults"] != 3.0 {
		t.Errorf("MaxResults 2: %d resources of %v", len(got), a.doc["totalResults"])
	}
	spc := call(t, small, http.MethodGet, "/ServiceProviderConfig", "").want(t, http.StatusOK, "")
	if f, _ := spc.doc["filter"].(map[string]any); f["maxResults"] != 2.0 || f["supported"] != true {
		t.Errorf("ServiceProviderConfig filter %v", spc.doc["filter"])
	}
}

// patch is a PatchOp message of operations (JSON objects).
func patch(ops ...string) string {
	return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + strings.Join(ops, ",") + `]}`
}

func TestPatch(t *testing.T) {
	const base = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"jdupont","externalId":"acc-1",
		"name":{"givenName":"Jean","familyName":"Dupont"},"displayName":"Jean Dupont","active":true,
		"emails":[{"value":"jean@univ-test.fr","type":"work","primary":true},{"value":"jd@perso.example","type":"home"}],
		"phoneNumbers":[{"value":"+33 1","type":"work"}]}`
	before := User{UserName: "jdupont", ExternalID: "acc-1", Active: true,
		Emails: []string{"jean@univ-test.fr", "jd@perso.example"}, PrimaryEmail: "jean@univ-test.fr",
		GivenName: "Jean", FamilyName: "Dupont", DisplayName: "Jean Dupont", PhoneNumbers: []string{"+33 1"}}
	for _, c := range []struct {
		name   string
		ops    []string
		change func(u *User) // nil: refused with status and typ, unchanged
		status int
		typ    string
	}{
		{name: "replace active", ops: []string{`{"op":"replace","path":"active","value":false}`},
			change: func(u *User) { u.Active = false }},
		{name: "replace active as Entra ID sends it", ops: []string{`{"op":"Replace","path":"active","value":"False"}`},
			change: func(u *User) { u.Active = false }},
		{name: "replace userName", ops: []string{`{"op":"replace","path":"userName","value":"jean.dupont"}`},
			change: func(u *User) { u.UserName = "jean.dupont" }},
		{name: "replace externalId", ops: []string{`{"op":"replace","path":"externalId","value":"acc-2"}`},
			change: func(u *User) { u.ExternalID = "acc-2" }},
		{name: "replace and remove displayName", ops: []string{`{"op":"replace","path":"displayName","value":"JD"}`, `{"op":"remove","path":"displayName"}`},
			change: func(u *User) { u.DisplayName = "" }},
		{name: "sub-attributes", ops: []string{`{"op":"replace","path":"name.givenName","value":"Jeanne"}`, `{"op":"remove","path":"name.familyName"}`},
			change: func(u *User) { u.GivenName, u.FamilyName = "Jeanne", "" }},
		{name: "add name merges", ops: []string{`{"op":"add","path":"name","value":{"givenName":"J"}}`},
			change: func(u *User) { u.GivenName = "J" }},
		{name: "replace emails", ops: []string{`{"op":"replace","path":"emails","value":[{"value":"new@univ-test.fr","type":"work","primary":true}]}`},
			change: func(u *User) { u.Emails, u.PrimaryEmail = []string{"new@univ-test.fr"}, "new@univ-test.fr" }},
		{name: "add a primary email", ops: []string{`{"op":"add","path":"emails","value":[{"value":"third@univ-test.fr","type":"work","primary":true}]}`},
			change: func(u *User) {
				u.Emails, u.PrimaryEmail = append(u.Emails, "third@univ-test.fr"), "third@univ-test.fr"
			}},
		{name: "add an email held", ops: []string{`{"op":"add","path":"emails","value":{"value":"JD@perso.example","type":"home"}}`},
			change: func(u *User) { u.Emails = []string{"jean@univ-test.fr", "JD@perso.example"} }},
		{name: "remove emails", ops: []string{`{"op":"remove","path":"emails"}`},
			change: func(u *User) { u.Emails, u.PrimaryEmail = nil, "" }},
		{name: "remove emails by value", ops: []string{`{"op":"remove","path":"emails","value":[{"value":"jd@perso.example"}]}`},
			change: func(u *User) { u.Emails = u.Emails[:1] }},
		{name: "replace a filtered value", ops: []string{`{"op":"replace","path":"emails[type eq \"work\"].value","value":"jean.dupont@univ-test.fr"}`},
			change: func(u *User) {
				u.Emails, u.PrimaryEmail = []string{"jean.dupont@univ-test.fr", "jd@perso.example"}, "jean.dupont@univ-test.fr"
			}},
		{name: "replace a filtered primary", ops: []string{`{"op":"replace","path":"emails[value eq \"jd@perso.example\"].primary","value":true}`},
			change: func(u *User) { u.PrimaryEmail = "jd@perso.example" }},
		{name: "replace filtered values whole", ops: []string{`{"op":"replace","path":"emails[type eq \"home\"]","value":{"value":"h@perso.example","type":"home"}}`},
			change: func(u *User) { u.Emails = []string{"jean@univ-test.fr", "h@perso.example"} }},
		{name: "replace a filtered value that is missing adds it", ops: []string{`{"op":"replace","path":"emails[type eq \"other\"].value","value":"o@example.org"}`},
			change: func(u *User) { u.Emails = append(u.Emails, "o@example.org") }},
		{name: "remove filtered values", ops: []string{`{"op":"remove","path":"emails[value eq \"JD@perso.example\"]"}`},
			change: func(u *User) { u.Emails = u.Emails[:1] }},
		{name: "remove filtered values that are missing", ops: []string{`{"op":"remove","path":"emails[value eq \"none@example.org\"]"}`},
			change: func(u *User) {}},
		{name: "replace without path", ops: []string{`{"op":"replace","value":{"displayName":"JD","name.givenName":"J","active":false}}`},
			change: func(u *User) { u.DisplayName, u.GivenName, u.Active = "JD", "J", false }},
		{name: "add without path", ops: []string{`{"op":"add","value":{"emails":[{"value":"x@example.org"}],"phoneNumbers":[{"value":"+33 2"}]}}`},
			change: func(u *User) {
				u.Emails, u.PhoneNumbers = append(u.Emails, "x@example.org"), append(u.PhoneNumbers, "+33 2")
			}},
		{name: "enterprise extension", ops: []string{`{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","value":"E9"}`},
			change: func(u *User) { u.EmployeeNumber = "E9" }},
		{name: "remove without path", ops: []string{`{"op":"remove"}`}, status: http.StatusBadRequest},
		{name: "unknown attribute", ops: []string{`{"op":"replace","path":"nickName2","value":"x"}`}, status: http.StatusBadRequest, typ: "invalidPath"},
		{name: "remove userName", ops: []string{`{"op":"remove","path":"userName"}`}, status: http.StatusBadRequest},
		{name: "replace id", ops: []string{`{"op":"replace","path":"id","value":"x"}`}, status: http.StatusBadRequest, typ: "mutability"},
		{name: "two primaries", ops: []string{`{"op":"replace","path":"emails","value":[{"value":"a@example.org","primary":true},{"value":"b@example.org","primary":true}]}`},
			status: http.StatusBadRequest, typ: "invalidValue"},
		{name: "no match without equalities", ops: []string{`{"op":"replace","path":"emails[value co \"nomatch\"].value","value":"x@example.org"}`},
			status: http.StatusBadRequest, typ: "noTarget"},
		{name: "not a boolean", ops: []string{`{"op":"replace","path":"active","value":"maybe"}`}, status: http.StatusBadRequest},
		{name: "a bad operation after good ones", ops: []string{`{"op":"replace","path":"active","value":false}`, `{"op":"remove","path":"userName"}`},
			status: http.StatusBadRequest},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := Start(t, Options{})
			id := create(t, s, base)
			want := before
			want.ID = id
			a := call(t, s, http.MethodPatch, "/Users/"+id, patch(c.ops...))
			if c.change == nil {
				a.want(t, c.status, c.typ)
			} else {
				a.want(t, http.StatusOK, "")
				if a.str("id") != id {
					t.Errorf("PATCH answered %v", a.doc)
				}
				c.change(&want)
			}
			sameUser(t, user(t, s, id), want)
		})
	}

	s := Start(t, Options{})
	call(t, s, http.MethodPatch, "/Users/nope", patch(`{"op":"replace","path":"active","value":false}`)).want(t, http.StatusNotFound, "")
	id := create(t, s, base)
	call(t, s, http.MethodPatch, "/Users/"+id, `{"schemas":["urn:x"],"Operations":[{"op":"remove","path":"displayName"}]}`).
		want(t, http.StatusBadRequest, "")
}

func TestPut(t *testing.T) {
	s := Start(t, Options{})
	id := create(t, s, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"jdupont","displayName":"JD",
		"emails":[{"value":"jean@univ-test.fr","primary":true}],"phoneNumbers":[{"value":"+33 1"}],"active":true}`)
	// As scim/push sends it: with the id, and without what is unset.
	a := call(t, s, http.MethodPut, "/Users/"+id, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"other-id",
		"userName":"jean.dupont","externalId":"acc-1","name":{"givenName":"Jean"},"active":"False"}`).want(t, http.StatusOK, "")
	if a.str("id") != id {
		t.Errorf("PUT answered id %q", a.str("id"))
	}
	sameUser(t, user(t, s, id), User{ID: id, UserName: "jean.dupont", ExternalID: "acc-1", GivenName: "Jean"})
	if v := a.header.Get("ETag"); v == "" {
		t.Error("no ETag")
	}
	call(t, s, http.MethodPut, "/Users/nope", userBody("x", "")).want(t, http.StatusNotFound, "")
	call(t, s, http.MethodPut, "/Users/"+id, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]}`).want(t, http.StatusBadRequest, "")
}

func TestDelete(t *testing.T) {
	s := Start(t, Options{})
	id := create(t, s, userBody("jdupont", "acc-1", "jean@univ-test.fr"))
	keep := create(t, s, userBody("other", "acc-2"))
	if a := call(t, s, http.MethodDelete, "/Users/"+id, ""); a.status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %v", a.status, a.doc)
	}
	call(t, s, http.MethodGet, "/Users/"+id, "").want(t, http.StatusNotFound, "")
	call(t, s, http.MethodDelete, "/Users/"+id, "").want(t, http.StatusNotFound, "")
	if us := s.Users(); len(us) != 1 || us[0].ID != keep {
		t.Errorf("Users() = %+v", us)
	}
	// Its userName and address are free again.
	create(t, s, userBody("jdupont", "acc-3", "jean@univ-test.fr"))
}

func TestAuth(t *testing.T) {
	s := Start(t, Options{Token: "s3cret"})
	for _, auth := range []string{"", "Bearer wrong", "Bearer", "Basic czNjcmV0", "s3cret", "Bearer s3cret2"} {
		for _, path := range []string{"/Users", "/ServiceProviderConfig", "/Schemas"} {
			a := callAuth(t, s, auth, http.MethodGet, path, "").want(t, http.StatusUnauthorized, "")
			if !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%q %s: WWW-Authenticate %q", auth, path, a.header.Get("WWW-Authenticate"))
			}
		}
	}
	callAuth(t, s, "", http.MethodPost, "/Users", userBody("x", "")).want(t, http.StatusUnauthorized, "")
	if len(s.Users()) != 0 {
		t.Error("an unauthenticated POST created a User")
	}
	callAuth(t, s, "bearer s3cret", http.MethodGet, "/Users", "").want(t, http.StatusOK, "")
}

func TestDiscovery(t *testing.T) {
	s := Start(t, Options{})
	spc := call(t, s, http.MethodGet, "/ServiceProviderConfig", "").want(t, http.StatusOK, "")
	if p, _ := spc.doc["patch"].(map[string]any); p["supported"] != true {
		t.Errorf("patch %v", spc.doc["patch"])
	}
	if schemes, _ := spc.doc["authenticationSchemes"].([]any); len(schemes) != 1 || schemes[0].(map[string]any)["type"] != "oauthbearertoken" {
		t.Errorf("authenticationSchemes %v", spc.doc["authenticationSchemes"])
	}
	var ids []string
	for _, x := range call(t, s, http.MethodGet, "/Schemas", "").want(t, http.StatusOK, "").doc["Resources"].([]any) {
		ids = append(ids, x.(map[string]any)["id"].(string))
	}
	if !slices.Equal(ids, []string{userURN, EnterpriseURN}) {
		t.Errorf("schemas %v", ids)
	}
	rt := call(t, s, http.MethodGet, "/ResourceTypes/User", "").want(t, http.StatusOK, "")
	if rt.doc["endpoint"] != "/Users" || rt.doc["schema"] != userURN {
		t.Errorf("resource type %v", rt.doc)
	}
	call(t, s, http.MethodGet, "/Schemas/"+userURN, "").want(t, http.StatusOK, "")

	np := Start(t, Options{NoPatch: true})
	spc = call(t, np, http.MethodGet, "/ServiceProviderConfig", "").want(t, http.StatusOK, "")
	if p, _ := spc.doc["patch"].(map[string]any); p["supported"] != false {
		t.Errorf("NoPatch: patch %v", spc.doc["patch"])
	}
	id := create(t, np, userBody("x", ""))
	call(t, np, http.MethodPatch, "/Users/"+id, patch(`{"op":"replace","path":"active","value":false}`)).want(t, http.StatusNotImplemented, "")
	if !user(t, np, id).Active {
		t.Error("a refused PATCH changed the User")
	}
}

func TestFaults(t *testing.T) {
	s := Start(t, Options{})
	s.Fail(0, http.StatusInternalServerError, "") // nothing
	s.Fail(2, http.StatusInternalServerError, "")
	call(t, s, http.MethodGet, "/Users", "").want(t, http.StatusInternalServerError, "")
	call(t, s, http.MethodPost, "/Users", userBody("x", "")).want(t, http.StatusInternalServerError, "")
	call(t, s, http.MethodGet, "/Users", "").want(t, http.StatusOK, "")
	if len(s.Users()) != 0 {
		t.Error("a failed POST created a User")
	}

	// Queued in order, with Retry-After when given.
	s.Fail(1, http.StatusTooManyRequests, "7")
	date := "Wed, 21 Oct 2015 07:28:00 GMT"
	s.Fail(1, http.StatusServiceUnavailable, date)
	a := call(t, s, http.MethodGet, "/Users", "").want(t, http.StatusTooManyRequests, "")
	if a.header.Get("Retry-After") != "7" {
		t.Errorf("Retry-After %q, want 7", a.header.Get("Retry-After"))
	}
	a = call(t, s, http.MethodGet, "/ServiceProviderConfig", "").want(t, http.StatusServiceUnavailable, "")
	if a.header.Get("Retry-After") != date {
		t.Errorf("Retry-After %q, want %s", a.header.Get("Retry-After"), date)
	}
	a = call(t, s, http.MethodGet, "/Users", "").want(t, http.StatusOK, "")
	if a.header.Get("Retry-After") != "" {
		t.Errorf("Retry-After %q on a success", a.header.Get("Retry-After"))
	}

	// Down: 503 for everything; queued faults wait.
	s.SetDown(true)
	s.Fail(1, http.StatusBadGateway, "")
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete} {
		call(t, s, m, "/Users", "").want(t, http.StatusServiceUnavailable, "")
	}
	s.SetDown(false)
	call(t, s, http.MethodGet, "/Users", "").want(t, http.StatusBadGateway, "")
	call(t, s, http.MethodGet, "/Users", "").want(t, http.StatusOK, "")

	// Every request counts, whatever its answer.
	if s.Requests() != 12 || s.RequestsByMethod("GET") != 8 || s.RequestsByMethod("post") != 2 ||
		s.RequestsByMethod(http.MethodPatch) != 1 || s.RequestsByMethod(http.MethodDelete) != 1 {
		t.Errorf("requests %d: GET %d POST %d PATCH %d DELETE %d", s.Requests(), s.RequestsByMethod("GET"),
			s.RequestsByMethod("POST"), s.RequestsByMethod("PATCH"), s.RequestsByMethod("DELETE"))
	}
}

func TestDelay(t *testing.T) {
	s := Start(t, Options{})
	s.Delay(time.Hour)
	impatient := &http.Client{Transport: s.Client.Transport, Timeout: 100 * time.Millisecond}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL+"/Users", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.Token)
	_, err = impatient.Do(req)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("delayed request: %v, want a client timeout", err)
	}
	// The handler stops waiting when the client gives up.
	await(t, s.gaveUp, "the delayed request did not end with its client")
	// A request with a body too, and it writes nothing.
	req, err = http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL+"/Users", strings.NewReader(userBody("slow", "")))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.Token)
	if _, err = impatient.Do(req); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("delayed POST: %v, want a client timeout", err)
	}
	await(t, s.gaveUp, "the delayed POST did not end with its client")
	if len(s.Users()) != 0 {
		t.Error("an abandoned POST created a User")
	}

	s.Delay(time.Millisecond)
	call(t, s, http.MethodGet, "/Users", "").want(t, http.StatusOK, "")
	s.Delay(0)
	call(t, s, http.MethodGet, "/Users", "").want(t, http.StatusOK, "")

	// A request still delayed when the test ends is answered 503, and
	// the server closes.
	ctx := t.Context()
	done := make(chan error, 1)
	t.Run("ends", func(t *testing.T) {
		inner := Start(t, Options{})
		inner.Delay(time.Hour)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, inner.URL+"/Users", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+inner.Token)
		client := inner.Client
		go func() {
			res, err := client.Do(req)
			if err == nil {
				res.Body.Close()
				if res.StatusCode != http.StatusServiceUnavailable {
					err = fmt.Errorf("status %d", res.StatusCode)
				}
			}
			done <- err
		}()
		await(t, inner.delaying, "the request was not delayed")
	})
	if err := <-done; err != nil {
		t.Errorf("request delayed past the end of its test: %v", err)
	}
}

func TestChanged(t *testing.T) {
	s := Start(t, Options{})
	ch := s.Changed()
	if signalled(ch) {
		t.Fatal("signalled before any write")
	}
	id := create(t, s, userBody("jdupont", "acc-1", "jean@univ-test.fr"))
	if !signalled(ch) {
		t.Error("no signal after POST")
	}
	for _, c := range []struct {
		name, method, path, body string
		changed                  bool
	}{
		{"GET", http.MethodGet, "/Users/" + id, "", false},
		{"list", http.MethodGet, "/Users", "", false},
		{"refused POST", http.MethodPost, "/Users", userBody("JDUPONT", ""), false},
		{"refused PATCH", http.MethodPatch, "/Users/" + id, patch(`{"op":"remove","path":"userName"}`), false},
		{"PATCH", http.MethodPatch, "/Users/" + id, patch(`{"op":"replace","path":"active","value":false}`), true},
		{"PUT", http.MethodPut, "/Users/" + id, userBody("jdupont", "acc-1"), true},
		{"DELETE", http.MethodDelete, "/Users/" + id, "", true},
		{"DELETE unknown", http.MethodDelete, "/Users/" + id, "", false},
	} {
		call(t, s, c.method, c.path, c.body)
		if got := signalled(ch); got != c.changed {
			t.Errorf("%s: signalled %v, want %v", c.name, got, c.changed)
		}
	}
	// Coalesced: two writes, one signal.
	create(t, s, userBody("a", ""))
	create(t, s, userBody("b", ""))
	if !signalled(ch) || signalled(ch) {
		t.Error("two writes did not make exactly one pending signal")
	}
	// A failed write signals nothing.
	s.Fail(1, http.StatusInternalServerError, "")
	call(t, s, http.MethodPost, "/Users", userBody("c", "")).want(t, http.StatusInternalServerError, "")
	if signalled(ch) {
		t.Error("signalled after a failed write")
	}

	// A test waits for a write made elsewhere.
	errc := make(chan error, 1)
	go func() {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL+"/Users", strings.NewReader(userBody("async", "acc-async")))
		if err == nil {
			req.Header.Set("Authorization", "Bearer "+s.Token)
			var res *http.Response
			if res, err = s.Client.Do(req); err == nil {
				res.Body.Close()
			}
		}
		errc <- err
	}()
	await(t, ch, "no signal after an asynchronous write")
	if _, ok := s.UserByExternalID("acc-async"); !ok {
		t.Error("signalled before the User was stored")
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}
