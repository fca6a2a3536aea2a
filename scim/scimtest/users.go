package scimtest

import (
	"crypto/rand"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/elimity-com/scim"
	scimerr "github.com/elimity-com/scim/errors"
)

// EnterpriseURN is the URN of the enterprise User extension (RFC 7643
// §4.3), the key of its attributes in a User.
const EnterpriseURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

// User is a copy of a stored User, for tests to inspect.
type User struct {
	ID         string
	UserName   string
	ExternalID string
	Active     bool
	// Emails are the values of emails, in the order stored.
	Emails []string
	// PrimaryEmail is the value of the address flagged primary, if any.
	PrimaryEmail   string
	GivenName      string
	FamilyName     string
	DisplayName    string
	PhoneNumbers   []string
	EmployeeNumber string // enterprise extension
}

// record is a stored User: the attributes the library validated, under
// the schema's names, without id, schemas and meta.
type record struct {
	id       string
	seq      int // creation order, the order of lists
	attrs    map[string]any
	created  time.Time
	modified time.Time
	version  int
}

func (r *record) resource() scim.Resource {
	created, modified := r.created, r.modified
	return scim.Resource{
		ID: r.id,
		// The library adds id, schemas and meta to the map it is given.
		Attributes: scim.ResourceAttributes(deepCopy(r.attrs).(map[string]any)),
		Meta:       scim.Meta{Created: &created, LastModified: &modified, Version: fmt.Sprintf(`W/"%d"`, r.version)},
	}
}

func (r *record) user() User {
	a := r.attrs
	u := User{
		ID: r.id, UserName: str(a["userName"]), ExternalID: str(a["externalId"]), DisplayName: str(a["displayName"]),
	}
	u.Active, _ = a["active"].(bool)
	if n, ok := a["name"].(map[string]any); ok {
		u.GivenName, u.FamilyName = str(n["givenName"]), str(n["familyName"])
	}
	u.Emails, u.PrimaryEmail = values(a["emails"])
	u.PhoneNumbers, _ = values(a["phoneNumbers"])
	if e, ok := a[EnterpriseURN].(map[string]any); ok {
		u.EmployeeNumber = str(e["employeeNumber"])
	}
	return u
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// values returns the values of a multi-valued attribute, and the one
// flagged primary.
func values(v any) (all []string, primary string) {
	list, _ := v.([]any)
	for _, x := range list {
		m, ok := x.(map[string]any)
		if !ok {
			continue
		}
		s := str(m["value"])
		all = append(all, s)
		if p, _ := m["primary"].(bool); p {
			primary = s
		}
	}
	return all, primary
}

// Users returns a copy of every User, in creation order.
func (s *Server) Users() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]User, 0, len(s.users))
	for _, r := range s.sorted() {
		out = append(out, r.user())
	}
	return out
}

// UserByID returns the User with an id.
func (s *Server) UserByID(id string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.users[id]
	if !ok {
		return User{}, false
	}
	return r.user(), true
}

// UserByExternalID returns the first User, in creation order, whose
// externalId is id.
func (s *Server) UserByExternalID(id string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.sorted() {
		if str(r.attrs["externalId"]) == id {
			return r.user(), true
		}
	}
	return User{}, false
}

// Seed stores u as if a client had created it (without counting a request
// or signalling Changed): its addresses are of type "work", the first one
// primary; Active is taken as given. It returns the User with its new id,
// and fails the test if u is not a valid User or clashes with another.
// Call it from the test's goroutine.
func (s *Server) Seed(u User) User {
	s.t.Helper()
	m := map[string]any{"userName": u.UserName, "active": u.Active}
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	set("externalId", u.ExternalID)
	set("displayName", u.DisplayName)
	if u.GivenName != "" || u.FamilyName != "" {
		n := map[string]any{}
		if u.GivenName != "" {
			n["givenName"] = u.GivenName
		}
		if u.FamilyName != "" {
			n["familyName"] = u.FamilyName
		}
		m["name"] = n
	}
	multi := func(k string, vs []string) {
		var list []any
		for i, v := range vs {
			list = append(list, map[string]any{"value": v, "type": "work", "primary": i == 0})
		}
		if list != nil {
			m[k] = list
		}
	}
	multi("emails", u.Emails)
	multi("phoneNumbers", u.PhoneNumbers)
	if u.EmployeeNumber != "" {
		m[EnterpriseURN] = map[string]any{"employeeNumber": u.EmployeeNumber}
	}
	attrs, err := s.validate(m)
	if err != nil {
		s.t.Fatalf("scimtest: seed %+v: %v", u, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.conflict("", attrs); err != nil {
		s.t.Fatalf("scimtest: seed %+v: %v", u, err)
	}
	return s.insert(attrs).user()
}

// sorted returns the records in creation order. The caller holds mu.
func (s *Server) sorted() []*record {
	out := slices.Collect(maps.Values(s.users))
	slices.SortFunc(out, func(a, b *record) int { return a.seq - b.seq })
	return out
}

// insert stores a new User. The caller holds mu.
func (s *Server) insert(attrs map[string]any) *record {
	now := time.Now().UTC()
	s.seq++
	r := &record{id: newID(), seq: s.seq, attrs: attrs, created: now, modified: now, version: 1}
	s.users[r.id] = r
	return r
}

// newID returns a random (version 4) UUID.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// conflict returns the 409 of attrs, the User id would become (""
// for a new one), clashing with another User: same userName in any case,
// or, when addresses are unique, an address another holds. The caller
// holds mu.
func (s *Server) conflict(id string, attrs map[string]any) error {
	name := str(attrs["userName"])
	emails, _ := values(attrs["emails"])
	for _, r := range s.sorted() {
		if r.id == id {
			continue
		}
		if strings.EqualFold(str(r.attrs["userName"]), name) {
			return uniqueness(fmt.Sprintf("userName %q is already taken by User %s", name, r.id))
		}
		if !s.uniqueEmails {
			continue
		}
		theirs, _ := values(r.attrs["emails"])
		for _, e := range emails {
			if strings.TrimSpace(e) == "" {
				continue
			}
			for _, o := range theirs {
				if strings.EqualFold(strings.TrimSpace(e), strings.TrimSpace(o)) {
					return uniqueness(fmt.Sprintf("email %q is already used by User %s", e, r.id))
				}
			}
		}
	}
	return nil
}

func uniqueness(detail string) error {
	return scimerr.ScimError{Status: http.StatusConflict, ScimType: scimerr.ScimTypeUniqueness, Detail: detail}
}

func notFound(id string) error {
	return scimerr.ScimError{Status: http.StatusNotFound, Detail: fmt.Sprintf("User %s not found", id)}
}

func invalidValue(format string, args ...any) error {
	return scimerr.ScimError{Status: http.StatusBadRequest, ScimType: scimerr.ScimTypeInvalidValue, Detail: fmt.Sprintf(format, args...)}
}

// validate checks a User against the schemas, as the library checks a
// body (after a PATCH, the result), and returns it cleaned up.
func (s *Server) validate(m map[string]any) (map[string]any, error) {
	out, serr := s.schema.Validate(m)
	if serr != nil {
		return nil, *serr
	}
	for k, v := range m {
		if strings.EqualFold(k, s.ext.ID) {
			ext, serr := s.ext.Validate(v)
			if serr != nil {
				return nil, *serr
			}
			out[s.ext.ID] = ext
		}
	}
	return clean(out)
}

// clean drops what the User does not keep (unassigned attributes, RFC
// 7643 §2.5: nulls, empty lists and objects; and the write-only password)
// and refuses more than one primary value of a multi-valued attribute.
func clean(attrs map[string]any) (map[string]any, error) {
	delete(attrs, "password")
	for k, v := range attrs {
		v = prune(v)
		if v == nil {
			delete(attrs, k)
			continue
		}
		attrs[k] = v
		if list, ok := v.([]any); ok {
			n := 0
			for _, x := range list {
				if m, ok := x.(map[string]any); ok && m["primary"] == true {
					n++
				}
			}
			if n > 1 {
				return nil, invalidValue("%s: %d values are primary; at most one may be", k, n)
			}
		}
	}
	return attrs, nil
}

// prune returns v without its unassigned parts, or nil when nothing is
// left.
func prune(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if x = prune(x); x == nil {
				delete(v, k)
			} else {
				v[k] = x
			}
		}
		if len(v) == 0 {
			return nil
		}
		return v
	case []any:
		var out []any
		for _, x := range v {
			if x = prune(x); x != nil {
				out = append(out, x)
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	return v
}

// deepCopy copies the maps and slices of a JSON-like value.
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = deepCopy(x)
		}
		return out
	case scim.ResourceAttributes:
		return deepCopy(map[string]any(v))
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = deepCopy(x)
		}
		return out
	}
	return v
}

// users is the library's ResourceHandler of /Users, on the Server's store.
type users struct{ s *Server }

var _ scim.ResourceHandler = users{}

// Create stores a new User. A User without active is active, as in most
// applications.
func (h users) Create(_ *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	a, err := clean(deepCopy(attrs).(map[string]any))
	if err != nil {
		return scim.Resource{}, err
	}
	if _, ok := a["active"]; !ok {
		a["active"] = true
	}
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.conflict("", a); err != nil {
		return scim.Resource{}, err
	}
	r := s.insert(a)
	s.notify()
	return r.resource(), nil
}

// Get returns User id.
func (h users) Get(_ *http.Request, id string) (scim.Resource, error) {
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.users[id]
	if !ok {
		return scim.Resource{}, notFound(id)
	}
	return r.resource(), nil
}

// GetAll returns a page of the Users the filter selects, in creation
// order.
func (h users) GetAll(_ *http.Request, params scim.ListRequestParams) (scim.Page, error) {
	s := h.s
	match := func(*record) bool { return true }
	if params.FilterValidator != nil {
		if s.opts.NoFilter {
			return scim.Page{}, invalidFilter("filtering is not supported (see /ServiceProviderConfig)")
		}
		var err error
		if match, err = userFilter(params.FilterValidator.GetFilter()); err != nil {
			return scim.Page{}, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []*record
	for _, r := range s.sorted() {
		if match(r) {
			all = append(all, r)
		}
	}
	page := scim.Page{TotalResults: len(all), Resources: []scim.Resource{}}
	if start := params.StartIndex - 1; start < len(all) {
		for _, r := range all[start:min(len(all), start+params.Count)] {
			page.Resources = append(page.Resources, r.resource())
		}
	}
	return page, nil
}

// Replace replaces User id with attrs (PUT).
func (h users) Replace(_ *http.Request, id string, attrs scim.ResourceAttributes) (scim.Resource, error) {
	a, err := clean(deepCopy(attrs).(map[string]any))
	if err != nil {
		return scim.Resource{}, err
	}
	return h.s.update(id, func(map[string]any) (map[string]any, error) { return a, nil })
}

// Patch applies PATCH operations to User id.
func (h users) Patch(_ *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	return h.s.update(id, func(cur map[string]any) (map[string]any, error) { return h.s.applyPatch(cur, ops) })
}

// Delete deletes User id.
func (h users) Delete(_ *http.Request, id string) error {
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[id]; !ok {
		return notFound(id)
	}
	delete(s.users, id)
	s.notify()
	return nil
}

// update rewrites User id with what change makes of its attributes,
// unless that clashes with another User.
func (s *Server) update(id string, change func(cur map[string]any) (map[string]any, error)) (scim.Resource, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.users[id]
	if !ok {
		return scim.Resource{}, notFound(id)
	}
	a, err := change(r.attrs)
	if err != nil {
		return scim.Resource{}, err
	}
	if err := s.conflict(id, a); err != nil {
		return scim.Resource{}, err
	}
	r.attrs = a
	r.modified = time.Now().UTC()
	r.version++
	s.notify()
	return r.resource(), nil
}
