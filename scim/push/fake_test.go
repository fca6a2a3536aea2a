package push

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeProvider is a plain SCIM service provider, in memory: Users keyed by
// their own ids, unique userNames and addresses (any case), every address
// kept, DELETE that deletes. It stands in for a platform where canonid's
// own server differs from one (it keeps one address per client).
type fakeProvider struct {
	t     *testing.T
	srv   *httptest.Server
	token string
	patch bool // what ServiceProviderConfig says

	mu    sync.Mutex
	users map[string]map[string]any
	next  int
}

func newFakeProvider(t *testing.T) *fakeProvider {
	f := &fakeProvider{t: t, token: "fake-token", patch: true, users: map[string]map[string]any{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeProvider) target(mods ...func(*Config)) *Target {
	f.t.Helper()
	cfg := Config{Name: "fake", URL: f.srv.URL + "/scim/v2", Token: f.token}
	for _, m := range mods {
		m(&cfg)
	}
	tg, err := New(cfg, f.srv.Client())
	if err != nil {
		f.t.Fatal(err)
	}
	return tg
}

// snapshot returns a copy of the Users.
func (f *fakeProvider) snapshot() map[string]remoteUser {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]remoteUser{}
	for id, u := range f.users {
		out[id] = remoteUser(clone(u))
	}
	return out
}

func clone(u map[string]any) map[string]any {
	b, _ := json.Marshal(u)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

func (f *fakeProvider) fail(w http.ResponseWriter, status int, scimType, detail string) {
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:Error"}, "status": strconv.Itoa(status),
		"scimType": scimType, "detail": detail,
	})
}

func (f *fakeProvider) answer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

var eqFilter = regexp.MustCompile(`^(userName|externalId|emails|emails\.value) eq "((?:[^"\\]|\\.)*)"$`)

func (f *fakeProvider) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		f.fail(w, http.StatusUnauthorized, "", "bad token")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	path := strings.TrimPrefix(r.URL.Path, "/scim/v2")
	id, hasID := strings.CutPrefix(path, "/Users/")
	switch {
	case path == "/ServiceProviderConfig" && r.Method == http.MethodGet:
		f.answer(w, http.StatusOK, map[string]any{"patch": map[string]any{"supported": f.patch}, "filter": map[string]any{"supported": true, "maxResults": 2}})
	case path == "/Users" && r.Method == http.MethodGet:
		f.list(w, r)
	case path == "/Users" && r.Method == http.MethodPost:
		u, ok := f.body(w, r)
		if !ok || !f.unique(w, "", u) {
			return
		}
		f.next++
		id := fmt.Sprintf("f-%d", f.next)
		u["id"] = id
		f.users[id] = u
		f.answer(w, http.StatusCreated, u)
	case hasID && f.users[id] == nil:
		f.fail(w, http.StatusNotFound, "", "User "+id+" not found")
	case hasID && r.Method == http.MethodGet:
		f.answer(w, http.StatusOK, f.users[id])
	case hasID && r.Method == http.MethodPut:
		u, ok := f.body(w, r)
		if !ok || !f.unique(w, id, u) {
			return
		}
		u["id"] = id
		f.users[id] = u
		f.answer(w, http.StatusOK, u)
	case hasID && r.Method == http.MethodPatch && f.patch:
		var req struct {
			Operations []struct {
				Op    string `json:"op"`
				Path  string `json:"path"`
				Value any    `json:"value"`
			} `json:"Operations"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			f.fail(w, http.StatusBadRequest, "invalidSyntax", err.Error())
			return
		}
		u := clone(f.users[id])
		for _, op := range req.Operations {
			container, key := u, op.Path
			if i := strings.LastIndex(op.Path, ":"); i >= 0 { // an extension attribute
				container, key = child(u, op.Path[:i]), op.Path[i+1:]
			} else if p, sub, ok := strings.Cut(op.Path, "."); ok {
				container, key = child(u, p), sub
			}
			switch strings.ToLower(op.Op) {
			case "replace", "add":
				container[key] = op.Value
			case "remove":
				delete(container, key)
			default:
				f.fail(w, http.StatusBadRequest, "invalidSyntax", "op "+op.Op)
				return
			}
		}
		if !f.unique(w, id, u) {
			return
		}
		f.users[id] = u
		f.answer(w, http.StatusOK, u)
	case hasID && r.Method == http.MethodDelete:
		delete(f.users, id)
		w.WriteHeader(http.StatusNoContent)
	default:
		f.fail(w, http.StatusNotImplemented, "", r.Method+" "+path+" is not implemented")
	}
}

func child(u map[string]any, k string) map[string]any {
	m, _ := u[k].(map[string]any)
	if m == nil {
		m = map[string]any{}
		u[k] = m
	}
	return m
}

func (f *fakeProvider) body(w http.ResponseWriter, r *http.Request) (map[string]any, bool) {
	raw, _ := io.ReadAll(r.Body)
	var u map[string]any
	if err := json.Unmarshal(raw, &u); err != nil {
		f.fail(w, http.StatusBadRequest, "invalidSyntax", err.Error())
		return nil, false
	}
	return u, true
}

// unique refuses a User whose userName or an address another User holds.
func (f *fakeProvider) unique(w http.ResponseWriter, self string, u map[string]any) bool {
	name := strings.ToLower(remoteUser(u).str("userName"))
	addrs := map[string]bool{}
	for _, a := range remoteUser(u).emails() {
		addrs[strings.ToLower(a)] = true
	}
	for id, o := range f.users {
		if id == self {
			continue
		}
		if strings.ToLower(remoteUser(o).str("userName")) == name {
			f.fail(w, http.StatusConflict, "uniqueness", fmt.Sprintf("userName %q is taken by User %s", name, id))
			return false
		}
		for _, a := range remoteUser(o).emails() {
			if addrs[strings.ToLower(a)] {
				f.fail(w, http.StatusConflict, "uniqueness", fmt.Sprintf("address %q is taken by User %s", a, id))
				return false
			}
		}
	}
	return true
}

// list serves GET /Users: an eq filter on userName, externalId or an
// address, pages of at most 2 (the maxResults it states).
func (f *fakeProvider) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var ids []string
	for id := range f.users {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	if filter := q.Get("filter"); filter != "" {
		m := eqFilter.FindStringSubmatch(filter)
		if m == nil {
			f.fail(w, http.StatusBadRequest, "invalidFilter", "unsupported filter "+filter)
			return
		}
		var value string
		if err := json.Unmarshal([]byte(`"`+m[2]+`"`), &value); err != nil {
			f.fail(w, http.StatusBadRequest, "invalidFilter", err.Error())
			return
		}
		var kept []string
		for _, id := range ids {
			u := remoteUser(f.users[id])
			switch m[1] {
			case "userName":
				if strings.EqualFold(u.str("userName"), value) {
					kept = append(kept, id)
				}
			case "externalId":
				if u.str("externalId") == value {
					kept = append(kept, id)
				}
			default:
				for _, a := range u.emails() {
					if strings.EqualFold(a, value) {
						kept = append(kept, id)
					}
				}
			}
		}
		ids = kept
	}
	start, count := 1, 2
	if v, err := strconv.Atoi(q.Get("startIndex")); err == nil && v > 1 {
		start = v
	}
	if v, err := strconv.Atoi(q.Get("count")); err == nil && v >= 0 && v < count {
		count = v
	}
	page := []any{}
	for i := start - 1; i < len(ids) && len(page) < count; i++ {
		page = append(page, f.users[ids[i]])
	}
	f.answer(w, http.StatusOK, map[string]any{
		"schemas":      []string{"urn:ietf:params:scim:api:messages:2.0:ListResponse"},
		"totalResults": len(ids), "startIndex": start, "itemsPerPage": len(page), "Resources": page,
	})
}
