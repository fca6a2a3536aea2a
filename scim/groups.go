package scim

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/elimity-com/scim"
	scimerr "github.com/elimity-com/scim/errors"
	"golang.org/x/text/unicode/norm"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

// groups is the ResourceHandler of /Groups: orgs, whose members are the
// accounts with a validated membership.
type groups struct{ s *Server }

var _ scim.ResourceHandler = groups{}

// wantsMembers reports whether the response will show members, so that a
// client asking excludedAttributes=members (Entra ID does) does not make
// canonid read a large org's members.
func wantsMembers(r *http.Request) bool {
	q := r.URL.Query()
	for _, a := range splitList(q.Get("excludedAttributes")) {
		if strings.EqualFold(strings.TrimPrefix(strings.ToLower(a), strings.ToLower(GroupSchema)+":"), "members") {
			return false
		}
	}
	if attrs := splitList(q.Get("attributes")); len(attrs) > 0 {
		return slices.ContainsFunc(attrs, func(a string) bool {
			a = strings.ToLower(strings.TrimPrefix(strings.ToLower(a), strings.ToLower(GroupSchema)+":"))
			return a == "members" || strings.HasPrefix(a, "members.")
		})
	}
	return true
}

func (g groups) resource(ctx context.Context, tx store.Tx, o identity.Org, members bool) (scim.Resource, error) {
	attrs := scim.ResourceAttributes{"displayName": o.Name}
	if members {
		ms, err := tx.Memberships().ListByOrg(ctx, o.ID)
		if err != nil {
			return scim.Resource{}, err
		}
		var ids []string
		for _, m := range ms {
			if m.State == identity.MembershipValidated {
				ids = append(ids, m.AccountID)
			}
		}
		accs, err := tx.Accounts().GetMany(ctx, ids)
		if err != nil {
			return scim.Resource{}, err
		}
		list := make([]any, 0, len(accs))
		for _, a := range accs {
			if !a.Status.Live() {
				continue
			}
			m := map[string]any{"value": a.ID, "$ref": "Users/" + a.ID, "type": "User"}
			if d := strings.TrimSpace(a.GivenName + " " + a.FamilyName); d != "" {
				m["display"] = d
			}
			list = append(list, m)
		}
		if len(list) > 0 { // an empty multi-valued attribute is left out (RFC 7643 §2.5)
			attrs["members"] = list
		}
	}
	c := o.CreatedAt.UTC()
	return scim.Resource{ID: o.ID, Attributes: attrs, Meta: scim.Meta{Created: &c, LastModified: &c}}, nil
}

func (g groups) Get(r *http.Request, id string) (scim.Resource, error) {
	ctx := r.Context()
	var res scim.Resource
	err := g.s.st.View(ctx, func(tx store.Tx) error {
		o, err := tx.Orgs().Get(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return scimError(http.StatusNotFound, "", fmt.Sprintf("Group %s not found", id))
		}
		if err != nil {
			return err
		}
		res, err = g.resource(ctx, tx, o, wantsMembers(r))
		return err
	})
	return res, g.s.fail(ctx, err)
}

// GetAll lists orgs. They are few (a deployment has tens or hundreds), so
// the filter runs in memory over their representations.
func (g groups) GetAll(r *http.Request, params scim.ListRequestParams) (scim.Page, error) {
	ctx := r.Context()
	page := scim.Page{Resources: []scim.Resource{}}
	members := wantsMembers(r)
	if params.FilterValidator != nil {
		members = true // a filter may name members
	}
	err := g.s.st.View(ctx, func(tx store.Tx) error {
		orgs, err := tx.Orgs().List(ctx)
		if err != nil {
			return err
		}
		var all []scim.Resource
		for _, o := range orgs {
			res, err := g.resource(ctx, tx, o, members)
			if err != nil {
				return err
			}
			if params.FilterValidator != nil {
				m := resourceMap(res)
				m["id"] = res.ID
				if !matches(params.FilterValidator.GetFilter(), m) {
					continue
				}
				if !wantsMembers(r) {
					delete(res.Attributes, "members")
				}
			}
			all = append(all, res)
		}
		page.TotalResults = len(all)
		start := min(params.StartIndex-1, len(all))
		end := min(start+params.Count, len(all))
		page.Resources = append(page.Resources, all[start:end]...)
		return nil
	})
	return page, g.s.fail(ctx, err)
}

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

// slug derives an org id from a group's name: lower-case ASCII letters,
// digits and dashes.
func slug(name string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(strings.ToLower(name)) {
		if r < 128 {
			b.WriteRune(r)
		}
	}
	s := strings.Trim(nonSlug.ReplaceAllString(b.String(), "-"), "-")
	if len(s) > 63 {
		s = strings.TrimRight(s[:63], "-")
	}
	return s
}

// Create makes an org of the group, its id derived from its displayName.
func (g groups) Create(r *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	ctx := r.Context()
	c, err := g.s.client(ctx)
	if err != nil {
		return scim.Resource{}, err
	}
	name, _ := attrs["displayName"].(string)
	id := slug(name)
	if id == "" {
		return scim.Resource{}, scimError(http.StatusBadRequest, scimerr.ScimTypeInvalidValue, "displayName must contain letters or digits")
	}
	var res scim.Resource
	err = g.s.st.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Orgs().Get(ctx, id); err == nil {
			return scimError(http.StatusConflict, scimerr.ScimTypeUniqueness, fmt.Sprintf("Group %s already exists", id))
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		o := identity.Org{ID: id, Name: name, Kind: "scim"}
		if err := tx.Orgs().Put(ctx, &o); err != nil {
			return err
		}
		if err := tx.Record(ctx, store.Event{Type: identity.EventOrgUpserted, Actor: c.actor, OrgID: id,
			Data: map[string]string{"name": name, "source": c.source}}); err != nil {
			return err
		}
		if err := g.setMembers(ctx, tx, c, id, memberIDs(attrs["members"]), true); err != nil {
			return err
		}
		res, err = g.resource(ctx, tx, o, true)
		return err
	})
	return res, g.s.fail(ctx, err)
}

func (g groups) Replace(r *http.Request, id string, attrs scim.ResourceAttributes) (scim.Resource, error) {
	return g.update(r, id, func(scim.ResourceAttributes) (scim.ResourceAttributes, error) { return attrs, nil })
}

func (g groups) Patch(r *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	return g.update(r, id, func(cur scim.ResourceAttributes) (scim.ResourceAttributes, error) {
		return applyPatch(cur, ops, g.s.groupSchemas)
	})
}

func (g groups) update(r *http.Request, id string, next func(scim.ResourceAttributes) (scim.ResourceAttributes, error)) (scim.Resource, error) {
	ctx := r.Context()
	c, err := g.s.client(ctx)
	if err != nil {
		return scim.Resource{}, err
	}
	var res scim.Resource
	err = g.s.st.Update(ctx, func(tx store.Tx) error {
		o, err := tx.Orgs().Get(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return scimError(http.StatusNotFound, "", fmt.Sprintf("Group %s not found", id))
		}
		if err != nil {
			return err
		}
		cur, err := g.resource(ctx, tx, o, true)
		if err != nil {
			return err
		}
		attrs, err := next(resourceMap(cur))
		if err != nil {
			return err
		}
		if name, _ := attrs["displayName"].(string); name != "" && name != o.Name {
			o.Name = name
			if err := tx.Orgs().Put(ctx, &o); err != nil {
				return err
			}
			if err := tx.Record(ctx, store.Event{Type: identity.EventOrgUpserted, Actor: c.actor, OrgID: id,
				Data: map[string]string{"name": name, "source": c.source}}); err != nil {
				return err
			}
		}
		if err := g.setMembers(ctx, tx, c, id, memberIDs(attrs["members"]), false); err != nil {
			return err
		}
		res, err = g.resource(ctx, tx, o, wantsMembers(r))
		return err
	})
	return res, g.s.fail(ctx, err)
}

// memberIDs lists the member values of a members attribute.
func memberIDs(v any) []string {
	list, _ := v.([]any)
	var ids []string
	for _, x := range list {
		if m, ok := x.(map[string]any); ok {
			if id := scalar(getKey(m, "value")); id != "" {
				ids = append(ids, id)
			}
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// setMembers makes ids the org's validated members: missing ones become
// validated members (a pending membership is validated), the others lose
// their membership. Every id must be a live account; a merged one stands
// for its survivor.
func (g groups) setMembers(ctx context.Context, tx store.Tx, c client, org string, ids []string, fresh bool) error {
	want := map[string]bool{}
	for _, id := range ids {
		acc, err := tx.Accounts().Resolve(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return scimError(http.StatusBadRequest, scimerr.ScimTypeInvalidValue, fmt.Sprintf("member %s is not a User", id))
		}
		if err != nil {
			return err
		}
		want[acc.ID] = true
	}
	var have []identity.Membership
	if !fresh {
		var err error
		if have, err = tx.Memberships().ListByOrg(ctx, org); err != nil {
			return err
		}
	}
	held := map[string]identity.Membership{}
	for _, m := range have {
		held[m.AccountID] = m
		if m.State == identity.MembershipValidated && !want[m.AccountID] {
			if err := tx.Memberships().Delete(ctx, org, m.AccountID); err != nil {
				return err
			}
			if err := tx.Record(ctx, store.Event{Type: identity.EventMembershipRemoved, Actor: c.actor, AccountID: m.AccountID, OrgID: org,
				Data: map[string]string{"source": c.source}}); err != nil {
				return err
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(want)) {
		m, ok := held[id]
		if ok && m.State == identity.MembershipValidated {
			continue
		}
		typ := identity.EventMembershipAdded
		if !ok {
			m = identity.Membership{OrgID: org, AccountID: id, Role: identity.RoleMember}
		} else {
			typ = identity.EventMembershipValid
		}
		m.State, m.ValidatedBy = identity.MembershipValidated, c.actor
		m.ValidatedAt = time.Now()
		if err := tx.Memberships().Put(ctx, &m); err != nil {
			return err
		}
		if err := tx.Record(ctx, store.Event{Type: typ, Actor: c.actor, AccountID: id, OrgID: org,
			Data: map[string]string{"source": c.source, "role": string(m.Role), "state": string(m.State)}}); err != nil {
			return err
		}
	}
	return nil
}

// Delete refuses: an org holds more than a client's view of it (other
// sources' members, admins, policies); administrators delete orgs.
func (g groups) Delete(r *http.Request, id string) error {
	return scimError(http.StatusForbidden, "", fmt.Sprintf("Group %s is a canonid org; orgs are not deleted over SCIM (remove its members instead)", id))
}
