package storetest

import (
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

// testSearchListed checks Accounts.SearchListed against the reads it
// stands for: Search, then the addresses, link heads and memberships of
// the accounts found and the ids merged into them, for queries that
// filter, sort and page, through View and Read, with external ids that
// need JSON escapes in the database's aggregates.
func testSearchListed(t *testing.T, st store.Store, _ Options) {
	update(t, st, func(tx store.Tx) error {
		for _, o := range []identity.Org{{ID: "cpts-sud", Name: "CPTS Sud", Kind: "cpts"}, {ID: "univ", Name: "Université"}} {
			if err := tx.Orgs().Put(ctx, &o); err != nil {
				return err
			}
		}
		return nil
	})
	odd := []string{`E-"1"\2`, "tab\tnew\nline\x01", "zoë/日本/\u2028/😀", `</script>&<`, " spaced "}
	var ids []string
	update(t, st, func(tx store.Tx) error {
		for i := range 12 {
			a := identity.Account{Status: identity.StatusActive, Login: fmt.Sprintf("listed%02d", i), GivenName: "Given",
				FamilyName: fmt.Sprintf("Family %d", i%5), DisplayName: fmt.Sprintf("Given %d", i), Phone: fmt.Sprintf("+33 6 00 00 00 %02d", i),
				BirthDate: "2001-02-03", PasswordHash: "$argon2id$not-read", Attributes: map[string][]string{"supannEmpId": {fmt.Sprint(i)}},
				Provenance: map[string]string{"given_name": "scim:hr"}}
			if err := tx.Accounts().Create(ctx, &a); err != nil {
				return err
			}
			ids = append(ids, a.ID)
			for j := range i % 4 {
				e := identity.Email{AccountID: a.ID, Address: fmt.Sprintf("p%d.%c@example.org", i, 'c'-j), Primary: j == 1, Verified: j != 2}
				if err := tx.Emails().Add(ctx, &e); err != nil {
					return err
				}
			}
			for j := range i % 3 {
				l := identity.Link{Source: []string{"scim:hr", "ldap:campus"}[j], ExternalID: odd[i%len(odd)] + fmt.Sprint(i), AccountID: a.ID, Status: identity.LinkActive}
				if i%5 == 0 {
					l.Status = identity.LinkGone
				}
				if err := tx.Links().Create(ctx, &l); err != nil {
					return err
				}
			}
			for j, org := range []string{"univ", "cpts-sud"}[:i%3] {
				m := identity.Membership{OrgID: org, AccountID: a.ID}
				if j == 1 {
					m.Role, m.State = identity.RoleOrgAdmin, identity.MembershipValidated
				}
				if err := tx.Memberships().Put(ctx, &m); err != nil {
					return err
				}
			}
		}
		return tx.Record(ctx, store.Event{Type: identity.EventAccountCreated, Actor: "test", AccountID: ids[0]})
	})
	merge(t, st, ids[1], ids[2])
	merge(t, st, ids[3], ids[1]) // ids[3] holds 1 directly and 2 through it
	// Ids are random: a keyset page starts after the middle one.
	sorted := slices.Sorted(slices.Values(ids))

	queries := map[string]store.AccountSearch{
		"everything":     {Limit: 100},
		"default limit":  {},
		"filter":         {Filter: store.Compare{Attr: store.AttrLogin, Op: store.OpSw, Value: "listed0"}},
		"sort":           {Sort: store.AttrFamilyName, Descending: true, Limit: 7},
		"offset":         {Sort: store.AttrLogin, Offset: 3, Limit: 4},
		"after":          {After: sorted[len(sorted)/2], Limit: 3},
		"external id":    {Source: "scim:hr", Filter: store.Compare{Attr: store.AttrExternalID, Op: store.OpPr}},
		"negative limit": {Limit: -1},
	}
	for name, q := range queries {
		t.Run(name, func(t *testing.T) {
			for _, read := range []struct {
				name string
				run  func(fn func(tx store.Tx) error) error
			}{{"View", func(fn func(tx store.Tx) error) error { return st.View(ctx, fn) }}, {"Read", func(fn func(tx store.Tx) error) error { return st.Read(ctx, fn) }}} {
				var got, want []store.Listed
				fatalIf(t, read.run(func(tx store.Tx) error {
					var err error
					got, err = tx.Accounts().SearchListed(ctx, q)
					return err
				}))
				fatalIf(t, st.View(ctx, func(tx store.Tx) error {
					var err error
					want, err = listedByParts(tx, q)
					return err
				}))
				if len(want) == 0 && q.Limit >= 0 {
					t.Fatal("the query finds nothing: the fixture does not test it")
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s: SearchListed =\n%+v\nwant\n%+v", read.name, got, want)
				}
			}
		})
	}
	err := st.View(ctx, func(tx store.Tx) error {
		_, err := tx.Accounts().SearchListed(ctx, store.AccountSearch{Filter: store.Compare{Attr: "nickName", Op: store.OpEq, Value: "x"}})
		return err
	})
	if err == nil {
		t.Error("SearchListed accepted a filter on an unknown attribute")
	}
}

// listedByParts is what SearchListed returns, read the long way.
func listedByParts(tx store.Tx, q store.AccountSearch) ([]store.Listed, error) {
	accs, err := tx.Accounts().Search(ctx, q)
	if err != nil || len(accs) == 0 {
		return nil, err
	}
	var ids []string
	for _, a := range accs {
		ids = append(ids, a.ID)
	}
	emails, err := tx.Emails().ListByAccounts(ctx, ids)
	if err != nil {
		return nil, err
	}
	links, err := tx.Links().ListByAccounts(ctx, ids)
	if err != nil {
		return nil, err
	}
	members, err := tx.Memberships().ListByAccounts(ctx, ids)
	if err != nil {
		return nil, err
	}
	merged, err := tx.Accounts().MergedInto(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]store.Listed, len(accs))
	for i, a := range accs {
		shown := identity.Account{ID: a.ID, Status: a.Status, Login: a.Login, GivenName: a.GivenName, FamilyName: a.FamilyName,
			DisplayName: a.DisplayName, Phone: a.Phone, Attributes: a.Attributes, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt, Version: a.Version}
		out[i] = store.Listed{Account: shown, Merged: len(merged[a.ID]) > 0}
		for _, e := range emails[a.ID] {
			out[i].Emails = append(out[i].Emails, identity.Email{AccountID: e.AccountID, Address: e.Address, Verified: e.Verified, Primary: e.Primary})
		}
		for _, l := range links[a.ID] {
			out[i].Links = append(out[i].Links, identity.Link{Source: l.Source, ExternalID: l.ExternalID, AccountID: l.AccountID, Status: l.Status})
		}
		for _, m := range members[a.ID] {
			out[i].Memberships = append(out[i].Memberships, identity.Membership{OrgID: m.OrgID, AccountID: m.AccountID, Role: m.Role, State: m.State})
		}
	}
	return out, nil
}
