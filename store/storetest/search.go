package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

// testAccountsSearch checks Accounts.Search and Count, the SCIM filter run
// as SQL: every attribute with its operators, case folding, literal LIKE
// wildcards, absent attributes, nesting, e-mail filters, the caller's source,
// errors, and sorting and paging.
func testAccountsSearch(t *testing.T, st store.Store, _ Options) {
	// Every time has microseconds, as stored ones do.
	day := func(d int) time.Time { return time.Date(2024, 1, d, 9, 30, 0, 123456000, time.UTC) }
	type address struct {
		address string
		primary bool
	}
	type link struct {
		source, externalID string
		gone               bool
	}
	people := []struct {
		a      identity.Account
		emails []address
		links  []link
	}{
		{a: identity.Account{ID: "u-alice", Login: "alice", GivenName: "Alice", FamilyName: "Martin", DisplayName: "Alice Martin", Status: identity.StatusActive},
			emails: []address{{"alice@example.org", true}, {"alice@work.example", false}},
			links:  []link{{source: "scim:hr", externalID: "E-100"}}},
		{a: identity.Account{ID: "u-bob", Login: "bob_1", GivenName: "Bob", FamilyName: "DUPONT", DisplayName: "100% Bob", Status: identity.StatusActive},
			emails: []address{{"bob@example.org", true}},
			links:  []link{{source: "scim:hr", externalID: "E-200"}, {source: "scim:other", externalID: "e-200"}}},
		{a: identity.Account{ID: "u-bob100", Login: "bob100", GivenName: "Bob", FamilyName: "Dupont", DisplayName: "1000 Bobs", Status: identity.StatusActive}},
		{a: identity.Account{ID: "u-bobx", Login: "bobx1", GivenName: "Bobby", FamilyName: "Dupond", DisplayName: "Bobby X", Status: identity.StatusPendingActivation}},
		{a: identity.Account{ID: "u-elodie", Login: "Élodie", GivenName: "Élodie", FamilyName: "Lefèvre", DisplayName: "Élodie Lefèvre", Status: identity.StatusActive},
			emails: []address{{"elodie@example.org", false}, {"elodie.l@example.org", false}},
			links:  []link{{source: "scim:hr", externalID: "E-300", gone: true}}},
		{a: identity.Account{ID: "u-frank", Login: "frank", GivenName: "Frank", FamilyName: "Martin", Status: identity.StatusSuspended},
			emails: []address{{"frank@example.org", true}},
			links:  []link{{source: "scim:hr", externalID: "E-600"}}},
		{a: identity.Account{ID: "u-gina", Login: "gina", GivenName: "gina", FamilyName: "O'Neil", DisplayName: "Gina O'Neil", Status: identity.StatusActive},
			emails: []address{{"gina@example.org", false}, {"gina_99@example.org", true}},
			links:  []link{{source: "scim:other", externalID: "E-100"}}},
		{a: identity.Account{ID: "u-mallory", Login: "mallory", GivenName: "Mallory", FamilyName: "Martin", DisplayName: "Mallory Martin", Status: identity.StatusActive},
			emails: []address{{"mallory@example.org", true}}},
		{a: identity.Account{ID: "u-zoe", GivenName: "Zoé", FamilyName: "Noël", Status: identity.StatusPendingValidation},
			emails: []address{{"zoe@example.org", true}},
			links:  []link{{source: "scim:hr", externalID: "E-900"}}},
	}
	update(t, st, func(tx store.Tx) error {
		for i, p := range people {
			p.a.CreatedAt, p.a.UpdatedAt = day(i+1), day(i+11)
			if err := tx.Accounts().Create(ctx, &p.a); err != nil {
				return err
			}
			for _, e := range p.emails {
				if err := tx.Emails().Add(ctx, &identity.Email{AccountID: p.a.ID, Address: e.address, Primary: e.primary, Verified: true}); err != nil {
					return err
				}
			}
			for _, l := range p.links {
				status := identity.LinkActive
				if l.gone {
					status = identity.LinkGone
				}
				if err := tx.Links().Create(ctx, &identity.Link{Source: l.source, ExternalID: l.externalID, AccountID: p.a.ID, Status: status}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	merge(t, st, "u-alice", "u-mallory")

	live := []string{"u-alice", "u-bob", "u-bob100", "u-bobx", "u-elodie", "u-frank", "u-gina", "u-zoe"}
	except := func(ids ...string) []string {
		return slices.DeleteFunc(slices.Clone(live), func(id string) bool { return slices.Contains(ids, id) })
	}
	cmp := func(attr store.Attr, op store.Op, v any) store.Compare {
		return store.Compare{Attr: attr, Op: op, Value: v}
	}
	pr := func(attr store.Attr) store.Compare { return store.Compare{Attr: attr, Op: store.OpPr} }
	email := func(where store.Filter) store.HasEmail { return store.HasEmail{Where: where} }
	nested := func(levels int) store.Filter { // a comparison in levels-1 Ands
		var f store.Filter = cmp(store.AttrLogin, store.OpEq, "alice")
		for range levels - 1 {
			f = store.And{f}
		}
		return f
	}
	many := func(n int) store.Filter {
		or := make(store.Or, n)
		for i := range or {
			or[i] = cmp(store.AttrLogin, store.OpEq, sprintf("user%d", i))
		}
		return append(or, cmp(store.AttrLogin, store.OpEq, "gina"))
	}
	const hr, other = "scim:hr", "scim:other"

	tests := []struct {
		name    string
		filter  store.Filter
		source  string
		want    []string
		wantErr bool
	}{
		{name: "nil filter: every live account", want: live},

		{name: "id eq", filter: cmp(store.AttrID, store.OpEq, "u-bob"), want: []string{"u-bob"}},
		{name: "id eq is exact", filter: cmp(store.AttrID, store.OpEq, "U-BOB")},
		{name: "id ne", filter: cmp(store.AttrID, store.OpNe, "u-bob"), want: except("u-bob")},
		{name: "id sw", filter: cmp(store.AttrID, store.OpSw, "u-bob"), want: []string{"u-bob", "u-bob100", "u-bobx"}},
		{name: "id sw is exact", filter: cmp(store.AttrID, store.OpSw, "U-")},
		{name: "id co", filter: cmp(store.AttrID, store.OpCo, "ob1"), want: []string{"u-bob100"}},
		{name: "id ew", filter: cmp(store.AttrID, store.OpEw, "zoe"), want: []string{"u-zoe"}},
		{name: "id ew is exact", filter: cmp(store.AttrID, store.OpEw, "ZOE")},
		{name: "id ew longer than every id", filter: cmp(store.AttrID, store.OpEw, "a-much-longer-u-zoe")},
		{name: "id gt skips merged", filter: cmp(store.AttrID, store.OpGt, "u-frank"), want: []string{"u-gina", "u-zoe"}},
		{name: "id pr", filter: pr(store.AttrID), want: live},

		{name: "userName eq folds case", filter: cmp(store.AttrLogin, store.OpEq, "ALICE"), want: []string{"u-alice"}},
		{name: "userName eq normalises", filter: cmp(store.AttrLogin, store.OpEq, " Alice "), want: []string{"u-alice"}},
		{name: "userName eq accented", filter: cmp(store.AttrLogin, store.OpEq, "ÉLODIE"), want: []string{"u-elodie"}},
		{name: "userName eq merged", filter: cmp(store.AttrLogin, store.OpEq, "mallory")},
		{name: "userName eq empty", filter: cmp(store.AttrLogin, store.OpEq, "")},
		{name: "userName ne holds when absent", filter: cmp(store.AttrLogin, store.OpNe, "alice"), want: except("u-alice")},
		{name: "userName pr", filter: pr(store.AttrLogin), want: except("u-zoe")},
		{name: "userName not pr", filter: store.Not{Filter: pr(store.AttrLogin)}, want: []string{"u-zoe"}},
		{name: "userName sw underscore is literal", filter: cmp(store.AttrLogin, store.OpSw, "bob_"), want: []string{"u-bob"}},
		{name: "userName sw folds case", filter: cmp(store.AttrLogin, store.OpSw, "BOB"), want: []string{"u-bob", "u-bob100", "u-bobx"}},
		{name: "userName co percent is literal", filter: cmp(store.AttrLogin, store.OpCo, "%")},
		{name: "userName co accented", filter: cmp(store.AttrLogin, store.OpCo, "ÉLO"), want: []string{"u-elodie"}},
		{name: "userName ew", filter: cmp(store.AttrLogin, store.OpEw, "1"), want: []string{"u-bob", "u-bobx"}},
		{name: "userName le", filter: cmp(store.AttrLogin, store.OpLe, "BOBX1"), want: []string{"u-alice", "u-bob", "u-bob100", "u-bobx"}},
		{name: "userName lt skips absent", filter: cmp(store.AttrLogin, store.OpLt, "b"), want: []string{"u-alice"}},
		{name: "userName ge and lt", filter: store.And{cmp(store.AttrLogin, store.OpGe, "frank"), cmp(store.AttrLogin, store.OpLt, "h")},
			want: []string{"u-frank", "u-gina"}},

		{name: "givenName eq folds case", filter: cmp(store.AttrGivenName, store.OpEq, "GINA"), want: []string{"u-gina"}},
		{name: "givenName eq", filter: cmp(store.AttrGivenName, store.OpEq, "bob"), want: []string{"u-bob", "u-bob100"}},
		{name: "givenName sw", filter: cmp(store.AttrGivenName, store.OpSw, "bob"), want: []string{"u-bob", "u-bob100", "u-bobx"}},
		{name: "givenName ew", filter: cmp(store.AttrGivenName, store.OpEw, "LODIE"), want: []string{"u-elodie"}},
		{name: "familyName eq accented", filter: cmp(store.AttrFamilyName, store.OpEq, "LEFÈVRE"), want: []string{"u-elodie"}},
		{name: "familyName co accented", filter: cmp(store.AttrFamilyName, store.OpCo, "ÈVR"), want: []string{"u-elodie"}},
		{name: "familyName co ë", filter: cmp(store.AttrFamilyName, store.OpCo, "OËL"), want: []string{"u-zoe"}},
		{name: "familyName eq skips merged", filter: cmp(store.AttrFamilyName, store.OpEq, "martin"), want: []string{"u-alice", "u-frank"}},
		{name: "familyName sw", filter: cmp(store.AttrFamilyName, store.OpSw, "Dup"), want: []string{"u-bob", "u-bob100", "u-bobx"}},
		{name: "familyName ew", filter: cmp(store.AttrFamilyName, store.OpEw, "ONT"), want: []string{"u-bob", "u-bob100"}},
		{name: "familyName co quote", filter: cmp(store.AttrFamilyName, store.OpCo, "'"), want: []string{"u-gina"}},
		{name: "familyName gt", filter: cmp(store.AttrFamilyName, store.OpGt, "M"), want: []string{"u-alice", "u-frank", "u-gina", "u-zoe"}},
		{name: "familyName lt", filter: cmp(store.AttrFamilyName, store.OpLt, "e"), want: []string{"u-bob", "u-bob100", "u-bobx"}},
		{name: "displayName co percent is literal", filter: cmp(store.AttrDisplayName, store.OpCo, "100%"), want: []string{"u-bob"}},
		{name: "displayName sw", filter: cmp(store.AttrDisplayName, store.OpSw, "100"), want: []string{"u-bob", "u-bob100"}},
		{name: "displayName ew", filter: cmp(store.AttrDisplayName, store.OpEw, "BOBS"), want: []string{"u-bob100"}},
		{name: "displayName pr", filter: pr(store.AttrDisplayName), want: except("u-frank", "u-zoe")},
		{name: "displayName not pr", filter: store.Not{Filter: pr(store.AttrDisplayName)}, want: []string{"u-frank", "u-zoe"}},
		{name: "displayName ne holds when absent", filter: cmp(store.AttrDisplayName, store.OpNe, "alice martin"), want: except("u-alice")},
		{name: "displayName eq empty", filter: cmp(store.AttrDisplayName, store.OpEq, "")},
		{name: "displayName co empty: present", filter: cmp(store.AttrDisplayName, store.OpCo, ""), want: except("u-frank", "u-zoe")},
		{name: "displayName le skips absent", filter: cmp(store.AttrDisplayName, store.OpLe, "b"), want: []string{"u-alice", "u-bob", "u-bob100"}},

		{name: "externalId eq", source: hr, filter: cmp(store.AttrExternalID, store.OpEq, "E-100"), want: []string{"u-alice"}},
		{name: "externalId eq is exact", source: hr, filter: cmp(store.AttrExternalID, store.OpEq, "e-100")},
		{name: "externalId eq of a gone link", source: hr, filter: cmp(store.AttrExternalID, store.OpEq, "E-300"), want: []string{"u-elodie"}},
		{name: "externalId of another source", source: other, filter: cmp(store.AttrExternalID, store.OpEq, "E-100"), want: []string{"u-gina"}},
		{name: "externalId sw", source: hr, filter: cmp(store.AttrExternalID, store.OpSw, "E-"),
			want: []string{"u-alice", "u-bob", "u-elodie", "u-frank", "u-zoe"}},
		{name: "externalId sw is exact", source: hr, filter: cmp(store.AttrExternalID, store.OpSw, "e-")},
		{name: "externalId co", source: hr, filter: cmp(store.AttrExternalID, store.OpCo, "-9"), want: []string{"u-zoe"}},
		{name: "externalId co is exact", source: other, filter: cmp(store.AttrExternalID, store.OpCo, "e"), want: []string{"u-bob"}},
		{name: "externalId ew", source: hr, filter: cmp(store.AttrExternalID, store.OpEw, "00"),
			want: []string{"u-alice", "u-bob", "u-elodie", "u-frank", "u-zoe"}},
		{name: "externalId gt", source: hr, filter: cmp(store.AttrExternalID, store.OpGt, "E-5"), want: []string{"u-frank", "u-zoe"}},
		{name: "externalId pr", source: hr, filter: pr(store.AttrExternalID), want: []string{"u-alice", "u-bob", "u-elodie", "u-frank", "u-zoe"}},
		{name: "externalId ne holds without a link", source: hr, filter: cmp(store.AttrExternalID, store.OpNe, "E-100"), want: except("u-alice")},
		{name: "externalId eq without source", filter: cmp(store.AttrExternalID, store.OpEq, "E-100")},
		{name: "externalId ne without source", filter: cmp(store.AttrExternalID, store.OpNe, "E-100"), want: live},
		{name: "externalId pr without source", filter: pr(store.AttrExternalID)},
		{name: "externalId not pr without source", filter: store.Not{Filter: pr(store.AttrExternalID)}, want: live},

		{name: "active eq true", filter: cmp(store.AttrActive, store.OpEq, true), want: except("u-frank")},
		{name: "active eq false", filter: cmp(store.AttrActive, store.OpEq, false), want: []string{"u-frank"}},
		{name: "active ne true", filter: cmp(store.AttrActive, store.OpNe, true), want: []string{"u-frank"}},
		{name: "active ne false", filter: cmp(store.AttrActive, store.OpNe, false), want: except("u-frank")},
		{name: "active pr", filter: pr(store.AttrActive), want: live},
		{name: "active with a gone link", source: hr, filter: cmp(store.AttrActive, store.OpEq, true), want: except("u-elodie", "u-frank")},
		{name: "inactive with a gone link", source: hr, filter: cmp(store.AttrActive, store.OpEq, false), want: []string{"u-elodie", "u-frank"}},
		{name: "active, gone elsewhere", source: other, filter: cmp(store.AttrActive, store.OpEq, false), want: []string{"u-frank"}},

		{name: "created eq", filter: cmp(store.AttrCreated, store.OpEq, day(3)), want: []string{"u-bob100"}},
		{name: "created eq in another zone", filter: cmp(store.AttrCreated, store.OpEq, day(3).In(time.FixedZone("CET", 3600))), want: []string{"u-bob100"}},
		{name: "created ne", filter: cmp(store.AttrCreated, store.OpNe, day(3)), want: except("u-bob100")},
		{name: "created gt skips merged", filter: cmp(store.AttrCreated, store.OpGt, day(7)), want: []string{"u-zoe"}},
		{name: "created ge", filter: cmp(store.AttrCreated, store.OpGe, day(7)), want: []string{"u-gina", "u-zoe"}},
		{name: "created lt", filter: cmp(store.AttrCreated, store.OpLt, day(2)), want: []string{"u-alice"}},
		{name: "created le", filter: cmp(store.AttrCreated, store.OpLe, day(2)), want: []string{"u-alice", "u-bob"}},
		{name: "created pr", filter: pr(store.AttrCreated), want: live},
		{name: "created eq finer than stored", filter: cmp(store.AttrCreated, store.OpEq, day(3).Add(500))},
		{name: "created ne finer than stored", filter: cmp(store.AttrCreated, store.OpNe, day(3).Add(500)), want: live},
		{name: "created ge finer than stored", filter: cmp(store.AttrCreated, store.OpGe, day(3).Add(500)),
			want: []string{"u-bobx", "u-elodie", "u-frank", "u-gina", "u-zoe"}},
		{name: "created lt finer than stored", filter: cmp(store.AttrCreated, store.OpLt, day(3).Add(500)), want: []string{"u-alice", "u-bob", "u-bob100"}},
		{name: "created gt finer than stored", filter: cmp(store.AttrCreated, store.OpGt, day(3).Add(-500)),
			want: []string{"u-bob100", "u-bobx", "u-elodie", "u-frank", "u-gina", "u-zoe"}},
		{name: "created le finer than stored", filter: cmp(store.AttrCreated, store.OpLe, day(3).Add(-500)), want: []string{"u-alice", "u-bob"}},
		{name: "lastModified gt", filter: cmp(store.AttrLastModified, store.OpGt, day(15)), want: []string{"u-frank", "u-gina", "u-zoe"}},
		{name: "lastModified lt", filter: cmp(store.AttrLastModified, store.OpLt, day(12).Add(-time.Microsecond)), want: []string{"u-alice"}},
		{name: "lastModified eq", filter: cmp(store.AttrLastModified, store.OpEq, day(19)), want: []string{"u-zoe"}},

		{name: "has an e-mail", filter: email(nil), want: except("u-bob100", "u-bobx")},
		{name: "has no e-mail", filter: store.Not{Filter: email(nil)}, want: []string{"u-bob100", "u-bobx"}},
		{name: "e-mail eq folds case", filter: email(cmp(store.AttrEmailAddress, store.OpEq, "ALICE@Example.org")), want: []string{"u-alice"}},
		{name: "e-mail of a merged account", filter: email(cmp(store.AttrEmailAddress, store.OpEq, "mallory@example.org"))},
		{name: "e-mail ew", filter: email(cmp(store.AttrEmailAddress, store.OpEw, "@EXAMPLE.ORG")), want: except("u-bob100", "u-bobx")},
		{name: "e-mail co underscore is literal", filter: email(cmp(store.AttrEmailAddress, store.OpCo, "_")), want: []string{"u-gina"}},
		{name: "e-mail co percent is literal", filter: email(cmp(store.AttrEmailAddress, store.OpCo, "%"))},
		{name: "e-mail sw", filter: email(cmp(store.AttrEmailAddress, store.OpSw, "elodie.")), want: []string{"u-elodie"}},
		{name: "e-mail ne", filter: email(cmp(store.AttrEmailAddress, store.OpNe, "gina@example.org")), want: except("u-bob100", "u-bobx")},
		{name: "primary e-mail", filter: email(cmp(store.AttrEmailPrimary, store.OpEq, true)),
			want: []string{"u-alice", "u-bob", "u-frank", "u-gina", "u-zoe"}},
		{name: "non-primary e-mail", filter: email(cmp(store.AttrEmailPrimary, store.OpEq, false)), want: []string{"u-alice", "u-elodie", "u-gina"}},
		{name: "e-mail primary ne", filter: email(cmp(store.AttrEmailPrimary, store.OpNe, true)), want: []string{"u-alice", "u-elodie", "u-gina"}},
		{name: "e-mail not primary", filter: email(store.Not{Filter: cmp(store.AttrEmailPrimary, store.OpEq, true)}), want: []string{"u-alice", "u-elodie", "u-gina"}},
		{name: "no primary e-mail", filter: store.Not{Filter: email(cmp(store.AttrEmailPrimary, store.OpEq, true))}, want: []string{"u-bob100", "u-bobx", "u-elodie"}},
		{name: "e-mail primary pr", filter: email(pr(store.AttrEmailPrimary)), want: except("u-bob100", "u-bobx")},
		{name: "e-mail and: one address", filter: email(store.And{cmp(store.AttrEmailAddress, store.OpSw, "gina@"), cmp(store.AttrEmailPrimary, store.OpEq, true)})},
		{name: "e-mail and", filter: email(store.And{cmp(store.AttrEmailAddress, store.OpSw, "gina"), cmp(store.AttrEmailPrimary, store.OpEq, true)}),
			want: []string{"u-gina"}},
		{name: "e-mail or", filter: email(store.Or{cmp(store.AttrEmailAddress, store.OpEq, "bob@example.org"), cmp(store.AttrEmailAddress, store.OpSw, "zoe")}),
			want: []string{"u-bob", "u-zoe"}},
		{name: "e-mail empty and", filter: email(store.And{}), want: except("u-bob100", "u-bobx")},

		{name: "empty and", filter: store.And{}, want: live},
		{name: "empty or", filter: store.Or{}},
		{name: "not empty or", filter: store.Not{Filter: store.Or{}}, want: live},
		{name: "not empty and", filter: store.Not{Filter: store.And{}}},
		{name: "and of one", filter: store.And{cmp(store.AttrLogin, store.OpEq, "gina")}, want: []string{"u-gina"}},
		{name: "or and not", filter: store.Or{
			cmp(store.AttrLogin, store.OpEq, "alice"),
			store.And{cmp(store.AttrFamilyName, store.OpEq, "dupont"), store.Not{Filter: cmp(store.AttrDisplayName, store.OpSw, "100%")}},
		}, want: []string{"u-alice", "u-bob100"}},
		{name: "and of or", filter: store.And{
			cmp(store.AttrActive, store.OpEq, true),
			store.Or{email(cmp(store.AttrEmailAddress, store.OpEq, "bob@example.org")), cmp(store.AttrLogin, store.OpSw, "gi"), cmp(store.AttrLogin, store.OpEq, "frank")},
		}, want: []string{"u-bob", "u-gina"}},
		{name: "not not", filter: store.Not{Filter: store.Not{Filter: cmp(store.AttrLogin, store.OpEq, "alice")}}, want: []string{"u-alice"}},
		{name: "not of and with absent", filter: store.Not{Filter: store.And{pr(store.AttrLogin), cmp(store.AttrGivenName, store.OpSw, "b")}},
			want: []string{"u-alice", "u-elodie", "u-frank", "u-gina", "u-zoe"}},
		{name: "deepest allowed", filter: nested(maxDepth), want: []string{"u-alice"}},
		{name: "largest allowed", filter: many(maxTerms - 1), want: []string{"u-gina"}},

		{name: "too deep", filter: nested(maxDepth + 1), wantErr: true},
		{name: "too large", filter: many(maxTerms), wantErr: true},
		{name: "active with a string", filter: cmp(store.AttrActive, store.OpEq, "true"), wantErr: true},
		{name: "active co", filter: cmp(store.AttrActive, store.OpCo, true), wantErr: true},
		{name: "active gt", filter: cmp(store.AttrActive, store.OpGt, true), wantErr: true},
		{name: "userName with a bool", filter: cmp(store.AttrLogin, store.OpEq, true), wantErr: true},
		{name: "userName without value", filter: cmp(store.AttrLogin, store.OpEq, nil), wantErr: true},
		{name: "externalId with a number", source: hr, filter: cmp(store.AttrExternalID, store.OpEq, 100), wantErr: true},
		{name: "externalId with a bool without source", filter: cmp(store.AttrExternalID, store.OpEq, true), wantErr: true},
		{name: "created with a string", filter: cmp(store.AttrCreated, store.OpGt, "2024-01-01T00:00:00Z"), wantErr: true},
		{name: "created sw", filter: cmp(store.AttrCreated, store.OpSw, day(1)), wantErr: true},
		{name: "e-mail primary with a string", filter: email(cmp(store.AttrEmailPrimary, store.OpEq, "true")), wantErr: true},
		{name: "e-mail primary co", filter: email(cmp(store.AttrEmailPrimary, store.OpCo, true)), wantErr: true},
		{name: "e-mail address outside an e-mail filter", filter: cmp(store.AttrEmailAddress, store.OpEq, "bob@example.org"), wantErr: true},
		{name: "e-mail primary outside an e-mail filter", filter: store.Or{cmp(store.AttrEmailPrimary, store.OpEq, true)}, wantErr: true},
		{name: "account attribute inside an e-mail filter", filter: email(cmp(store.AttrLogin, store.OpEq, "alice")), wantErr: true},
		{name: "e-mail filter inside an e-mail filter", filter: email(store.Not{Filter: email(nil)}), wantErr: true},
		{name: "unknown attribute", filter: cmp("nickName", store.OpEq, "x"), wantErr: true},
		{name: "unknown operator", filter: cmp(store.AttrLogin, "regex", "x"), wantErr: true},
		{name: "nil inside and", filter: store.And{nil}, wantErr: true},
		{name: "not of nothing", filter: store.Not{}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := store.AccountSearch{Filter: tc.filter, Source: tc.source, Limit: 1000}
			var got []identity.Account
			var n int
			err := st.View(ctx, func(tx store.Tx) error {
				var err error
				if got, err = tx.Accounts().Search(ctx, q); err != nil {
					return err
				}
				n, err = tx.Accounts().Count(ctx, q)
				return err
			})
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Search succeeded with %v, want an error", ids(got))
				}
				if _, err := viewErr(st, func(tx store.Tx) (int, error) { return tx.Accounts().Count(ctx, q) }); err == nil {
					t.Fatal("Count succeeded, want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), tc.want) {
				t.Errorf("Search = %v, want %v", ids(got), tc.want)
			}
			if n != len(got) {
				t.Errorf("Count = %d, Search found %d", n, len(got))
			}
		})
	}

	search := func(t *testing.T, q store.AccountSearch) []string {
		t.Helper()
		return ids(view(t, st, func(tx store.Tx) ([]identity.Account, error) { return tx.Accounts().Search(ctx, q) }))
	}
	t.Run("sort", func(t *testing.T) {
		// Leave out bob_1 and élodie, whose place depends on the
		// PostgreSQL collation (code point order puts "_" after digits
		// and "é" after "z").
		some := store.Not{Filter: store.Or{cmp(store.AttrID, store.OpEq, "u-bob"), cmp(store.AttrID, store.OpEq, "u-elodie")}}
		for _, tc := range []struct {
			sort store.Attr
			want []string
		}{
			{"", []string{"u-alice", "u-bob100", "u-bobx", "u-frank", "u-gina", "u-zoe"}},
			{store.AttrID, []string{"u-alice", "u-bob100", "u-bobx", "u-frank", "u-gina", "u-zoe"}},
			// No login sorts last.
			{store.AttrLogin, []string{"u-alice", "u-bob100", "u-bobx", "u-frank", "u-gina", "u-zoe"}},
			// Dupond before Dupont; Martin twice, by id.
			{store.AttrFamilyName, []string{"u-bobx", "u-bob100", "u-alice", "u-frank", "u-zoe", "u-gina"}},
			{store.AttrGivenName, []string{"u-alice", "u-bob100", "u-bobx", "u-frank", "u-gina", "u-zoe"}},
			// Empty display names sort last, by id.
			{store.AttrDisplayName, []string{"u-bob100", "u-alice", "u-bobx", "u-gina", "u-frank", "u-zoe"}},
			{store.AttrCreated, []string{"u-alice", "u-bob100", "u-bobx", "u-frank", "u-gina", "u-zoe"}},
			{store.AttrLastModified, []string{"u-alice", "u-bob100", "u-bobx", "u-frank", "u-gina", "u-zoe"}},
		} {
			if got := search(t, store.AccountSearch{Filter: some, Sort: tc.sort}); !slices.Equal(got, tc.want) {
				t.Errorf("sort %q = %v, want %v", tc.sort, got, tc.want)
			}
			desc := slices.Clone(tc.want)
			slices.Reverse(desc)
			if got := search(t, store.AccountSearch{Filter: some, Sort: tc.sort, Descending: true}); !slices.Equal(got, desc) {
				t.Errorf("sort %q descending = %v, want %v", tc.sort, got, desc)
			}
		}
		// A change moves an account to the end of the last-modified order.
		alice := view(t, st, func(tx store.Tx) (identity.Account, error) { return tx.Accounts().Get(ctx, "u-alice") })
		update(t, st, func(tx store.Tx) error { return tx.Accounts().Update(ctx, &alice) })
		got := search(t, store.AccountSearch{Sort: store.AttrLastModified, Limit: 1, Descending: true})
		if !slices.Equal(got, []string{"u-alice"}) {
			t.Errorf("last modified first = %v, want u-alice", got)
		}
		got = search(t, store.AccountSearch{Filter: cmp(store.AttrLastModified, store.OpGt, day(19))})
		if !slices.Equal(got, []string{"u-alice"}) {
			t.Errorf("modified after %v = %v, want u-alice", day(19), got)
		}
	})

	t.Run("paging", func(t *testing.T) {
		for _, sort := range []store.Attr{"", store.AttrLogin, store.AttrFamilyName, store.AttrDisplayName, store.AttrLastModified} {
			for _, desc := range []bool{false, true} {
				full := search(t, store.AccountSearch{Sort: sort, Descending: desc})
				if len(full) != len(live) {
					t.Fatalf("sort %q: %v, want %d accounts", sort, full, len(live))
				}
				var pages []string
				for offset := 0; offset < len(full)+3; offset += 3 {
					pages = append(pages, search(t, store.AccountSearch{Sort: sort, Descending: desc, Offset: offset, Limit: 3})...)
				}
				if !slices.Equal(pages, full) {
					t.Errorf("sort %q descending %t: pages %v, whole %v", sort, desc, pages, full)
				}
			}
		}
		// The cursor gives the pages offsets give.
		var pages []string
		after := ""
		for {
			page := search(t, store.AccountSearch{After: after, Limit: 3})
			if len(page) == 0 {
				break
			}
			pages = append(pages, page...)
			after = page[len(page)-1]
		}
		if !slices.Equal(pages, live) {
			t.Errorf("cursor pages %v, want %v", pages, live)
		}
		if got := search(t, store.AccountSearch{After: "u-bob", Offset: 2, Limit: 2}); !slices.Equal(got, []string{"u-elodie", "u-frank"}) {
			t.Errorf("after u-bob, offset 2 = %v", got)
		}
		if got := search(t, store.AccountSearch{After: "u-bob", Sort: store.AttrID, Filter: pr(store.AttrDisplayName)}); !slices.Equal(got, []string{"u-bob100", "u-bobx", "u-elodie", "u-gina"}) {
			t.Errorf("after u-bob with a filter = %v", got)
		}
		if got := search(t, store.AccountSearch{Limit: -1}); got != nil {
			t.Errorf("negative limit = %v, want nothing", got)
		}
		if got := search(t, store.AccountSearch{}); len(got) != len(live) {
			t.Errorf("limit 0 = %v, want every account", got)
		}
		if got := search(t, store.AccountSearch{Offset: 100}); len(got) != 0 {
			t.Errorf("offset past the end = %v", got)
		}
		n := view(t, st, func(tx store.Tx) (int, error) {
			return tx.Accounts().Count(ctx, store.AccountSearch{Sort: store.AttrLogin, After: "u-bob", Offset: 3, Limit: -1})
		})
		if n != len(live) {
			t.Errorf("Count ignoring paging = %d, want %d", n, len(live))
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, q := range []store.AccountSearch{
			{Sort: store.AttrLogin, After: "u-bob"},
			{Descending: true, After: "u-bob"},
			{Sort: store.AttrExternalID},
			{Sort: "nickName"},
			{Offset: -1},
		} {
			if got, err := viewErr(st, func(tx store.Tx) ([]identity.Account, error) { return tx.Accounts().Search(ctx, q) }); err == nil {
				t.Errorf("Search(%+v) = %v, want an error", q, ids(got))
			}
		}
	})
}

// Bounds on filters the store must accept: the depth and the comparisons of
// the SCIM filters canonid's clients send are far below.
const (
	maxDepth = 32
	maxTerms = 200
)

// ids returns the ids of accounts.
func ids(accounts []identity.Account) []string {
	var out []string
	for _, a := range accounts {
		out = append(out, a.ID)
	}
	return out
}

// viewErr is view returning the error.
func viewErr[T any](st store.Store, fn func(tx store.Tx) (T, error)) (T, error) {
	var out T
	err := st.View(ctx, func(tx store.Tx) error {
		var err error
		out, err = fn(tx)
		return err
	})
	return out, err
}
