package scim

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/elimity-com/scim"
	"github.com/elimity-com/scim/optional"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/mapping"
	"github.com/canonid/canonid/store"
)

// userView is an account with what its SCIM representation shows.
type userView struct {
	acc     identity.Account
	emails  []identity.Email
	links   []identity.Link // heads: source, external id, status
	members []identity.Membership
	merged  []string // ids merged into the account, directly or not
}

// mergedIDs returns, for each live account, the ids of the accounts merged
// into it, following chains (an account merged into one merged later).
func mergedIDs(ctx context.Context, tx store.Tx, ids []string) (map[string][]string, error) {
	out := map[string][]string{}
	root := map[string]string{}
	for _, id := range ids {
		root[id] = id
	}
	level := ids
	for depth := 0; len(level) > 0 && depth < 100; depth++ {
		children, err := tx.Accounts().MergedInto(ctx, level)
		if err != nil {
			return nil, err
		}
		var next []string
		for parent, kids := range children {
			r := root[parent]
			for _, k := range kids {
				root[k] = r
				out[r] = append(out[r], k)
				next = append(next, k)
			}
		}
		level = next
	}
	for _, v := range out {
		slices.Sort(v)
	}
	return out, nil
}

// etag is the entity tag of a version of a resource.
func etag(version int64) string { return fmt.Sprintf(`W/"%d"`, version) }

// userName is what an account shows as its SCIM userName: its login, or
// without one its primary address, or its id.
func userName(v userView) string {
	if v.acc.Login != "" {
		return v.acc.Login
	}
	for _, e := range v.emails {
		if e.Primary {
			return e.Address
		}
	}
	return v.acc.ID
}

// active is an account's SCIM active as the client of source sees it: the
// account can sign in or is on its way to, and the client's own identity
// of it, if any, is not gone.
func active(v userView, source string) bool {
	switch v.acc.Status {
	case identity.StatusActive, identity.StatusPendingActivation, identity.StatusPendingValidation:
	default:
		return false
	}
	for _, l := range v.links {
		if l.Source == source && l.Status == identity.LinkGone {
			return false
		}
	}
	return true
}

// externalID is the external id of the client's link to the account.
func externalID(v userView, source string) (string, bool) {
	for _, l := range v.links {
		if l.Source == source {
			return l.ExternalID, true
		}
	}
	return "", false
}

// userResource is the SCIM User of an account, as the client of source
// sees it.
func userResource(v userView, source string, orgNames map[string]string) scim.Resource {
	a := v.acc
	attrs := scim.ResourceAttributes{
		"userName": userName(v),
		"active":   active(v, source),
	}
	name := map[string]any{}
	if a.GivenName != "" {
		name["givenName"] = a.GivenName
	}
	if a.FamilyName != "" {
		name["familyName"] = a.FamilyName
	}
	if f := strings.TrimSpace(a.GivenName + " " + a.FamilyName); f != "" {
		name["formatted"] = f
	}
	if len(name) > 0 {
		attrs["name"] = name
	}
	if a.DisplayName != "" {
		attrs["displayName"] = a.DisplayName
	}
	if len(v.emails) > 0 {
		es := make([]any, 0, len(v.emails))
		for _, e := range sortedEmails(v.emails) {
			es = append(es, map[string]any{"value": e.Address, "type": "work", "primary": e.Primary})
		}
		attrs["emails"] = es
	}
	if a.Phone != "" {
		attrs["phoneNumbers"] = []any{map[string]any{"value": a.Phone, "type": "work", "primary": true}}
	}
	var groups, orgs []any
	for _, m := range v.members {
		orgs = append(orgs, map[string]any{"value": m.OrgID, "display": orgNames[m.OrgID], "role": string(m.Role), "state": string(m.State)})
		if m.State == identity.MembershipValidated {
			groups = append(groups, map[string]any{"value": m.OrgID, "display": orgNames[m.OrgID], "$ref": "Groups/" + m.OrgID, "type": "direct"})
		}
	}
	if len(groups) > 0 {
		attrs["groups"] = groups
	}
	if ids := a.Attributes[mapping.FieldSupannEmpID]; len(ids) > 0 {
		attrs[EnterpriseSchema] = map[string]any{"employeeNumber": ids[0]}
	}
	ext := map[string]any{"status": string(a.Status)}
	if len(v.links) > 0 {
		ls := make([]any, 0, len(v.links))
		for _, l := range v.links {
			ls = append(ls, map[string]any{"source": l.Source, "externalId": l.ExternalID, "status": string(l.Status)})
		}
		ext["linkedIdentities"] = ls
	}
	if len(v.merged) > 0 {
		ext["mergedIds"] = v.merged
	}
	if len(orgs) > 0 {
		ext["orgs"] = orgs
	}
	attrs[AccountSchema] = ext
	res := scim.Resource{ID: a.ID, Attributes: attrs, Meta: meta(a.CreatedAt, a.UpdatedAt, a.Version)}
	if id, ok := externalID(v, source); ok {
		res.ExternalID = optional.NewString(id)
	}
	return res
}

func meta(created, updated time.Time, version int64) scim.Meta {
	c, u := created.UTC(), updated.UTC()
	return scim.Meta{Created: &c, LastModified: &u, Version: etag(version)}
}

// sortedEmails puts the primary address first, then the others by address.
func sortedEmails(es []identity.Email) []identity.Email {
	out := slices.Clone(es)
	slices.SortFunc(out, func(a, b identity.Email) int {
		if a.Primary != b.Primary {
			if a.Primary {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Address, b.Address)
	})
	return out
}
