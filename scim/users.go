package scim

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/elimity-com/scim"
	scimerr "github.com/elimity-com/scim/errors"

	"github.com/canonid/canonid/connectors"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/ingest"
	"github.com/canonid/canonid/store"
)

// users is the ResourceHandler of /Users.
type users struct{ s *Server }

var _ scim.ResourceHandler = users{}

// client is the provisioning client a request comes from.
type client struct {
	name   string // the token's name
	source string // "scim:<name>"
	actor  string // "token:<name>", on events
}

func (s *Server) client(ctx context.Context) (client, error) {
	t, ok := s.caller(ctx)
	if !ok {
		return client{}, scimError(http.StatusUnauthorized, "", "no authenticated client")
	}
	return client{name: t.Name, source: "scim:" + t.Name, actor: "token:" + t.Name}, nil
}

func (u users) Get(r *http.Request, id string) (scim.Resource, error) {
	ctx := r.Context()
	c, err := u.s.client(ctx)
	if err != nil {
		return scim.Resource{}, err
	}
	var res scim.Resource
	err = u.s.st.View(ctx, func(tx store.Tx) error {
		res, err = u.s.render(ctx, tx, id, c)
		if errors.Is(err, store.ErrNotFound) {
			// Unknown or merged: liveAccount says which, as a SCIM 404.
			if _, lerr := liveAccount(ctx, tx, id); lerr != nil {
				return lerr
			}
		}
		return err
	})
	return res, u.s.fail(ctx, err)
}

// liveAccount reads the account id; a merged one is a 404 naming the
// account it was merged into.
func liveAccount(ctx context.Context, tx store.Tx, id string) (identity.Account, error) {
	acc, err := tx.Accounts().Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return acc, scimError(http.StatusNotFound, "", fmt.Sprintf("User %s not found", id))
	}
	if err != nil {
		return acc, err
	}
	if acc.Status == identity.StatusMerged {
		root, err := tx.Accounts().Resolve(ctx, id)
		if err != nil {
			return acc, err
		}
		return acc, scimError(http.StatusNotFound, "", fmt.Sprintf("User %s was merged into User %s", id, root.ID))
	}
	return acc, nil
}

// render reads and renders the live account id as c sees it: one
// statement (Accounts.SearchListed), and the org names and merged ids when
// it has some. store.ErrNotFound when no live account has the id.
func (s *Server) render(ctx context.Context, tx store.Tx, id string, c client) (scim.Resource, error) {
	found, err := tx.Accounts().SearchListed(ctx, store.AccountSearch{
		Filter: store.Compare{Attr: store.AttrID, Op: store.OpEq, Value: id}, Limit: 1,
	})
	if err != nil {
		return scim.Resource{}, err
	}
	if len(found) == 0 {
		return scim.Resource{}, fmt.Errorf("user %s: %w", id, store.ErrNotFound)
	}
	views, names, err := s.complete(ctx, tx, found)
	if err != nil {
		return scim.Resource{}, err
	}
	return userResource(views[0], c.source, names), nil
}

func (u users) GetAll(r *http.Request, params scim.ListRequestParams) (scim.Page, error) {
	total, views, names, c, err := u.s.userPage(r, params)
	if err != nil {
		return scim.Page{}, u.s.fail(r.Context(), err)
	}
	page := scim.Page{TotalResults: total, Resources: make([]scim.Resource, 0, len(views))}
	for _, v := range views {
		page.Resources = append(page.Resources, userResource(v, c.source, names))
	}
	return page, nil
}

// userPage reads the page of users params asks for, as the client of r
// sees the list: its total, the users and the names of their orgs.
func (s *Server) userPage(r *http.Request, params scim.ListRequestParams) (total int, views []userView, names map[string]string, c client, err error) {
	ctx := r.Context()
	if c, err = s.client(ctx); err != nil {
		return 0, nil, nil, c, err
	}
	q := store.AccountSearch{Source: c.source}
	if params.FilterValidator != nil {
		f := params.FilterValidator.GetFilter()
		if n, depth := size(f); n > maxCompares || depth > maxDepth {
			return 0, nil, nil, c, invalidFilter("the filter is too complex: at most %d comparisons nested %d deep", maxCompares, maxDepth)
		}
		if q.Filter, err = userFilter(f); err != nil {
			return 0, nil, nil, c, err
		}
	}
	if q.Sort, q.Descending, err = userSort(r); err != nil {
		return 0, nil, nil, c, err
	}
	key := queryKey(q)
	q.Limit = params.Count
	q.Offset = params.StartIndex - 1
	var found []store.Listed
	if params.Count > 0 && params.StartIndex == 1 {
		// A first page is read on its own, one statement outside a
		// transaction: shorter than asked (a lookup by userName), it is
		// the whole list, and neither the outbox head nor a count is
		// needed. On PostgreSQL a lookup is then two round trips, this
		// and the token's.
		short := false
		err = s.st.Read(ctx, func(tx store.Tx) error {
			if found, err = tx.Accounts().SearchListed(ctx, q); err != nil || len(found) >= q.Limit {
				return err
			}
			short, total = true, len(found)
			views, names, err = s.complete(ctx, tx, found)
			return err
		})
		if err != nil || short {
			return total, views, names, c, err
		}
	}
	err = s.st.View(ctx, func(tx store.Tx) error {
		head, err := tx.Outbox().Head(ctx)
		if err != nil {
			return err
		}
		n, known := s.pages.counted(key, head)
		total = n
		if params.Count == 0 || (known && params.StartIndex > total) {
			if !known {
				if total, err = tx.Accounts().Count(ctx, q); err != nil {
					return err
				}
				s.pages.store(key, head, total)
			}
			return nil
		}
		cur, keyset := s.pages.cursor(key, head, params.StartIndex)
		keyset = keyset && (q.Sort == "" || q.Sort == store.AttrID) && !q.Descending
		if keyset {
			q.After, q.Offset = cur.after, 0
		}
		// A full first page was read above, but not in this snapshot:
		// it is read again, with the head it goes with.
		if found, err = tx.Accounts().SearchListed(ctx, q); err != nil {
			return err
		}
		// A page that is not full ends the list: it tells the total
		// without counting (the last page). An empty page past the first
		// does not: the list may end before startIndex.
		short := len(found) < q.Limit && (len(found) > 0 || params.StartIndex == 1)
		switch {
		case known:
		case keyset && cur.head != head:
			// A walk that goes on across writes keeps its numbering.
			total = cur.total
			if short {
				total = params.StartIndex - 1 + len(found)
			}
		case short:
			total = params.StartIndex - 1 + len(found)
			s.pages.store(key, head, total)
		default:
			if total, err = tx.Accounts().Count(ctx, q); err != nil {
				return err
			}
			s.pages.store(key, head, total)
		}
		if len(found) > 0 {
			s.pages.remember(key, params.StartIndex+len(found), found[len(found)-1].Account.ID, head, total)
		}
		views, names, err = s.complete(ctx, tx, found)
		return err
	})
	return total, views, names, c, err
}

// complete turns listed accounts into the users they show, reading the
// ids merged into those that have some and the names of their orgs.
func (s *Server) complete(ctx context.Context, tx store.Tx, found []store.Listed) ([]userView, map[string]string, error) {
	views := make([]userView, len(found))
	var parents []string
	for i, l := range found {
		views[i] = userView{acc: l.Account, emails: l.Emails, links: l.Links, members: l.Memberships}
		if l.Merged {
			parents = append(parents, l.Account.ID)
		}
	}
	if len(parents) > 0 {
		merged, err := mergedIDs(ctx, tx, parents)
		if err != nil {
			return nil, nil, err
		}
		for i := range views {
			views[i].merged = merged[views[i].acc.ID]
		}
	}
	names, err := s.orgNames(ctx, tx, views)
	return views, names, err
}

func (u users) Create(r *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	return u.write(r, "", attrs)
}

func (u users) Replace(r *http.Request, id string, attrs scim.ResourceAttributes) (scim.Resource, error) {
	return u.write(r, id, attrs)
}

func (u users) Patch(r *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	return u.update(r, id, func(cur scim.ResourceAttributes) (scim.ResourceAttributes, error) {
		return applyPatch(cur, ops, u.s.userSchemas)
	})
}

func (u users) write(r *http.Request, id string, attrs scim.ResourceAttributes) (scim.Resource, error) {
	if id == "" {
		return u.create(r, attrs)
	}
	return u.update(r, id, func(scim.ResourceAttributes) (scim.ResourceAttributes, error) { return attrs, nil })
}

// create provisions a user: the client's identity is correlated with the
// existing accounts as the client's settings say, linked to the one a
// rule designates, or given a new account.
func (u users) create(r *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	ctx := r.Context()
	c, err := u.s.client(ctx)
	if err != nil {
		return scim.Resource{}, err
	}
	e, act := entry(attrs)
	var res scim.Resource
	err = u.s.st.Update(ctx, func(tx store.Tx) error {
		switch l, err := tx.Links().Get(ctx, c.source, e.ExternalID); {
		case err == nil:
			return scimError(http.StatusConflict, scimerr.ScimTypeUniqueness,
				fmt.Sprintf("externalId %q is already provisioned as User %s", e.ExternalID, l.AccountID))
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		out, err := u.s.ingester(c).Apply(ctx, tx, e, "", ingest.Options{Actor: c.actor})
		if err != nil {
			return err
		}
		if err := outcomeError(out); err != nil {
			return err
		}
		if err := u.s.setActive(ctx, tx, c, e.ExternalID, act); err != nil {
			return err
		}
		res, err = u.s.render(ctx, tx, out.AccountID, c)
		return err
	})
	return res, u.s.fail(ctx, err)
}

// update writes the client's view of user id: next turns the current
// representation into the new one (PUT ignores it, PATCH applies its
// operations to it).
func (u users) update(r *http.Request, id string, next func(scim.ResourceAttributes) (scim.ResourceAttributes, error)) (scim.Resource, error) {
	ctx := r.Context()
	c, err := u.s.client(ctx)
	if err != nil {
		return scim.Resource{}, err
	}
	var res scim.Resource
	err = u.s.st.Update(ctx, func(tx store.Tx) error {
		acc, err := liveAccount(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := precondition(r, acc.Version); err != nil {
			return err
		}
		cur, err := u.s.render(ctx, tx, acc.ID, c)
		if err != nil {
			return err
		}
		base := resourceMap(cur)
		if acc.Login == "" {
			delete(base, "userName") // a stand-in: only a write gives a login
		}
		was, _ := entry(base) // before next, which may change base
		attrs, err := next(base)
		if err != nil {
			return err
		}
		e, act := entry(attrs)
		old, linked, gone := "", false, false
		links, err := tx.Links().ListByAccount(ctx, acc.ID)
		if err != nil {
			return err
		}
		for _, l := range links {
			if l.Source == c.source {
				old, linked, gone = l.ExternalID, true, l.Status == identity.LinkGone
			}
		}
		if _, given := attrs["externalId"]; !given && linked {
			e.ExternalID = old // the client keeps the identity it has
		}
		if e.ExternalID == "" {
			e.ExternalID = acc.ID
		}
		switch l, err := tx.Links().Get(ctx, c.source, e.ExternalID); {
		case err == nil && l.AccountID != acc.ID:
			return scimError(http.StatusConflict, scimerr.ScimTypeUniqueness,
				fmt.Sprintf("externalId %q is already provisioned as User %s", e.ExternalID, l.AccountID))
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return err
		}
		in := u.s.ingester(c)
		// A write that changes nothing of the User but, perhaps, active
		// (Entra ID disables a user with a PATCH of active alone) leaves
		// the account and the link's attributes alone: applying the
		// rendered User would rewrite the client's snapshot in another
		// form, a link.updated of nothing. Bringing a gone link back
		// takes Apply.
		same := linked && e.ExternalID == old && maps.EqualFunc(e.Attributes, was.Attributes, slices.Equal)
		if !same || (gone && (act == nil || *act)) {
			out, err := in.Apply(ctx, tx, e, acc.ID, ingest.Options{Actor: c.actor, KeepGone: act != nil && !*act})
			if err != nil {
				return err
			}
			if err := outcomeError(out); err != nil {
				return err
			}
		}
		if linked && old != e.ExternalID {
			// The client renamed its identity: the new link took its
			// place on the same account (first, so that the account
			// never lacks one), the old one goes.
			if _, err := in.Leave(ctx, tx, old, true, ingest.Options{Actor: c.actor}); err != nil {
				return err
			}
		}
		if err := u.s.setActive(ctx, tx, c, e.ExternalID, act); err != nil {
			return err
		}
		res, err = u.s.render(ctx, tx, acc.ID, c)
		return err
	})
	return res, u.s.fail(ctx, err)
}

// setActive applies the client's active: false marks its identity gone
// (the account is suspended when no other identity keeps it), true brings
// it back (Apply restored it already).
func (s *Server) setActive(ctx context.Context, tx store.Tx, c client, externalID string, act *bool) error {
	if act == nil || *act {
		return nil
	}
	l, err := tx.Links().Get(ctx, c.source, externalID)
	if err != nil || l.Status != identity.LinkActive {
		return err
	}
	_, err = s.ingester(c).Leave(ctx, tx, externalID, false, ingest.Options{Actor: c.actor})
	return err
}

// Delete removes the client's identity of the user; the account is
// suspended when no identity remains active, never deleted. Deleting a user
// the client never provisioned changes nothing.
func (u users) Delete(r *http.Request, id string) error {
	ctx := r.Context()
	c, err := u.s.client(ctx)
	if err != nil {
		return err
	}
	err = u.s.st.Update(ctx, func(tx store.Tx) error {
		acc, err := liveAccount(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := precondition(r, acc.Version); err != nil {
			return err
		}
		links, err := tx.Links().ListByAccount(ctx, acc.ID)
		if err != nil {
			return err
		}
		for _, l := range links {
			if l.Source == c.source {
				if _, err := u.s.ingester(c).Leave(ctx, tx, l.ExternalID, true, ingest.Options{Actor: c.actor}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return u.s.fail(ctx, err)
}

// precondition checks If-Match against the current version (RFC 7644
// §3.14): 412 when no tag matches.
func precondition(r *http.Request, version int64) error {
	h := r.Header.Get("If-Match")
	if h == "" || strings.TrimSpace(h) == "*" {
		return nil
	}
	cur := etag(version)
	for t := range strings.SplitSeq(h, ",") {
		t = strings.TrimSpace(t)
		if t == cur || "W/"+t == cur {
			return nil
		}
	}
	return scimError(http.StatusPreconditionFailed, "", fmt.Sprintf("the resource is at version %s, not %s", cur, h))
}

// outcomeError turns a refused entry into a SCIM error: a login or address
// owned by another account is a uniqueness conflict, anything else an
// invalid value, with every reason.
func outcomeError(out ingest.Outcome) error {
	if out.Op != "error" {
		return nil
	}
	var msgs []string
	conflict := false
	for _, e := range out.Errors {
		field := scimAttribute(e.Field)
		if strings.Contains(e.Reason, "another account") {
			conflict = true
			msgs = append(msgs, fmt.Sprintf("%s %q is already used by another User", field, e.Value))
			continue
		}
		if e.Value != "" {
			msgs = append(msgs, fmt.Sprintf("%s %q: %s", field, e.Value, e.Reason))
		} else {
			msgs = append(msgs, fmt.Sprintf("%s: %s", field, e.Reason))
		}
	}
	if conflict {
		return scimError(http.StatusConflict, scimerr.ScimTypeUniqueness, strings.Join(msgs, "; "))
	}
	return scimError(http.StatusBadRequest, scimerr.ScimTypeInvalidValue, strings.Join(msgs, "; "))
}

// scimAttribute names a canonical field by the SCIM attribute it comes from.
func scimAttribute(field string) string {
	switch field {
	case "login":
		return "userName"
	case "given_name":
		return "name.givenName"
	case "family_name":
		return "name.familyName"
	case "display_name":
		return "displayName"
	case "email":
		return "emails"
	case "phone":
		return "phoneNumbers"
	case "supann_emp_id":
		return EnterpriseSchema + ":employeeNumber"
	case "":
		return "User"
	}
	return field
}

// entry turns a User body into the client's identity: its attributes
// flattened ("name.givenName", "emails" primary first, "enterprise.*"),
// its external id (externalId, else the userName), and its active.
func entry(attrs scim.ResourceAttributes) (connectors.Entry, *bool) {
	flat := map[string][]string{}
	var act *bool
	for k, v := range attrs {
		switch {
		case strings.EqualFold(k, "active"):
			if b, ok := v.(bool); ok {
				act = &b
			}
		case strings.EqualFold(k, "emails"), strings.EqualFold(k, "phoneNumbers"):
			flat[k] = multiValues(v)
		case strings.EqualFold(k, EnterpriseSchema):
			if m, ok := v.(map[string]any); ok {
				for sk, sv := range m {
					if sk == "manager" {
						if mm, ok := sv.(map[string]any); ok {
							sv = mm["value"]
						}
					}
					if s := scalar(sv); s != "" {
						flat["enterprise."+sk] = []string{s}
					}
				}
			}
		case strings.EqualFold(k, AccountSchema), k == "id", k == "meta", k == "schemas", k == "groups":
			// read-only
		default:
			flatten(flat, k, v)
		}
	}
	e := connectors.Entry{Attributes: flat}
	if v, ok := attrs["externalId"].(string); ok && strings.TrimSpace(v) != "" {
		e.ExternalID = strings.TrimSpace(v)
	} else if n := flat["userName"]; len(n) > 0 {
		e.ExternalID = identity.NormalizeLogin(n[0])
	}
	delete(flat, "externalId")
	if n := flat["userName"]; len(n) > 0 {
		e.Name = n[0]
	}
	return e, act
}

// flatten adds the scalar values under k (and k.sub for complex values).
func flatten(out map[string][]string, k string, v any) {
	switch v := v.(type) {
	case map[string]any:
		for sk, sv := range v {
			flatten(out, k+"."+sk, sv)
		}
	case []any:
		for _, x := range v {
			if s := scalar(x); s != "" {
				out[k] = append(out[k], s)
			}
		}
	default:
		if s := scalar(v); s != "" {
			out[k] = []string{s}
		}
	}
}

// multiValues lists the values of a multi-valued complex attribute, the
// primary one first.
func multiValues(v any) []string {
	list, _ := v.([]any)
	var primary, others []string
	for _, x := range list {
		m, ok := x.(map[string]any)
		if !ok {
			continue
		}
		s := scalar(m["value"])
		if s == "" {
			continue
		}
		if p, _ := m["primary"].(bool); p {
			primary = append(primary, s)
		} else {
			others = append(others, s)
		}
	}
	return slices.Concat(primary, others)
}

func scalar(v any) string {
	switch v := v.(type) {
	case string:
		return strings.TrimSpace(v)
	case nil:
		return ""
	case bool, int, int64, float64:
		return fmt.Sprint(v)
	}
	if s, ok := v.(fmt.Stringer); ok {
		return s.String()
	}
	return ""
}

// resourceMap is a resource as the attribute map a PATCH applies to, with
// its externalId.
func resourceMap(res scim.Resource) scim.ResourceAttributes {
	m := scim.ResourceAttributes{}
	for k, v := range res.Attributes {
		m[k] = v
	}
	if res.ExternalID.Present() {
		m["externalId"] = res.ExternalID.Value()
	}
	return m
}
