package scimtest

import (
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// answer is a decoded HTTP answer.
type answer struct {
	status int
	header http.Header
	doc    map[string]any // nil for an empty body
}

// call sends a request to the server with its token.
func call(t *testing.T, s *Server, method, path, body string) answer {
	t.Helper()
	return callAuth(t, s, "Bearer "+s.Token, method, path, body)
}

// callAuth sends a request with an Authorization header ("": none). path
// is relative to the SCIM base URL, unless it is a whole URL.
func callAuth(t *testing.T, s *Server, auth, method, path, body string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	target := path
	if !strings.HasPrefix(path, "http") {
		target = s.URL + path
	}
	req, err := http.NewRequestWithContext(t.Context(), method, target, rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	res, err := s.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{status: res.StatusCode, header: res.Header}
	if strings.TrimSpace(string(raw)) != "" {
		if err := json.Unmarshal(raw, &a.doc); err != nil {
			t.Fatalf("%s %s: %d, not JSON: %s", method, path, res.StatusCode, raw)
		}
	}
	return a
}

// want fails the test unless the answer has status (and, for an error,
// scimType typ if not empty, in a SCIM error body).
func (a answer) want(t *testing.T, status int, typ string) answer {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d: %v", a.status, status, a.doc)
	}
	if status >= 400 {
		schemas, _ := a.doc["schemas"].([]any)
		if len(schemas) != 1 || schemas[0] != "urn:ietf:params:scim:api:messages:2.0:Error" || a.doc["status"] != itoa(status) {
			t.Errorf("not a SCIM error body of status %d: %v", status, a.doc)
		}
		if typ != "" && a.doc["scimType"] != typ {
			t.Errorf("scimType %v, want %s: %v", a.doc["scimType"], typ, a.doc)
		}
	}
	return a
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func (a answer) str(k string) string {
	s, _ := a.doc[k].(string)
	return s
}

// list returns the ids of the Resources of a list answer, failing the
// test unless Resources is an array.
func (a answer) list(t *testing.T) []string {
	t.Helper()
	res, ok := a.doc["Resources"].([]any)
	if !ok {
		t.Fatalf("Resources is not an array: %v", a.doc)
	}
	ids := []string{}
	for _, x := range res {
		m, _ := x.(map[string]any)
		id, _ := m["id"].(string)
		ids = append(ids, id)
	}
	return ids
}

// create posts a User and returns its id.
func create(t *testing.T, s *Server, body string) string {
	t.Helper()
	a := call(t, s, http.MethodPost, "/Users", body).want(t, http.StatusCreated, "")
	id := a.str("id")
	if id == "" {
		t.Fatalf("created User without id: %v", a.doc)
	}
	return id
}

// userBody is a User with a work address per email, the first primary.
func userBody(userName, externalID string, emails ...string) string {
	u := map[string]any{"schemas": []string{userURN}, "userName": userName, "active": true}
	if externalID != "" {
		u["externalId"] = externalID
	}
	var list []map[string]any
	for i, e := range emails {
		list = append(list, map[string]any{"value": e, "type": "work", "primary": i == 0})
	}
	if list != nil {
		u["emails"] = list
	}
	b, _ := json.Marshal(u)
	return string(b)
}

// user returns the User id, failing the test if there is none.
func user(t *testing.T, s *Server, id string) User {
	t.Helper()
	u, ok := s.UserByID(id)
	if !ok {
		t.Fatalf("no User %s", id)
	}
	return u
}

func sameUser(t *testing.T, got, want User) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("User\n got %+v\nwant %+v", got, want)
	}
}

// signalled reports whether c holds a signal now.
func signalled(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// await waits for a signal on c; the bound only turns a bug into a
// failure instead of a hang.
func await(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	select {
	case <-c:
	case <-timer.C:
		t.Fatalf("no signal: %s", what)
	}
}
