package storetest

import (
	"slices"
	"testing"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

// testUnicodeCase checks that names compare case-insensitively beyond ASCII
// in Accounts.Search, Count and List: a name stored with an upper-case
// accented or non-Latin letter is found by a value that spells the letter in
// the other case, and accents still count (e is not é).
func testUnicodeCase(t *testing.T, st store.Store, _ Options) {
	accounts := []identity.Account{
		{ID: "u-eluard", Login: "eluard", GivenName: "Élodie", FamilyName: "Éluard", DisplayName: "ÉLODIE ÉLUARD", Status: identity.StatusActive},
		{ID: "u-ascii", Login: "eric", GivenName: "Eric", FamilyName: "Eluard", DisplayName: "Eric Eluard", Status: identity.StatusActive},
		{ID: "u-oeuvre", Login: "oeuvre", GivenName: "Œdipe", FamilyName: "ŒUVRÉ", Status: identity.StatusActive},
		{ID: "u-ivanova", Login: "ivanova", GivenName: "Анна", FamilyName: "ИВАНОВА", Status: identity.StatusSuspended},
	}
	update(t, st, func(tx store.Tx) error {
		for i := range accounts {
			if err := tx.Accounts().Create(ctx, &accounts[i]); err != nil {
				return err
			}
		}
		return nil
	})
	cmp := func(a store.Attr, op store.Op, v string) store.Filter {
		return store.Compare{Attr: a, Op: op, Value: v}
	}

	for _, tc := range []struct {
		name   string
		filter store.Filter
		want   []string
	}{
		{"familyName eq lower case", cmp(store.AttrFamilyName, store.OpEq, "éluard"), []string{"u-eluard"}},
		{"familyName eq upper case", cmp(store.AttrFamilyName, store.OpEq, "ÉLUARD"), []string{"u-eluard"}},
		{"familyName eq as stored", cmp(store.AttrFamilyName, store.OpEq, "Éluard"), []string{"u-eluard"}},
		{"familyName eq without the accent", cmp(store.AttrFamilyName, store.OpEq, "ELUARD"), []string{"u-ascii"}},
		{"familyName ne", cmp(store.AttrFamilyName, store.OpNe, "éLUARD"), []string{"u-ascii", "u-ivanova", "u-oeuvre"}},
		{"familyName co lower case", cmp(store.AttrFamilyName, store.OpCo, "élu"), []string{"u-eluard"}},
		{"familyName co upper case", cmp(store.AttrFamilyName, store.OpCo, "ÉLU"), []string{"u-eluard"}},
		{"familyName co the common part", cmp(store.AttrFamilyName, store.OpCo, "LUAR"), []string{"u-ascii", "u-eluard"}},
		{"familyName sw ligature", cmp(store.AttrFamilyName, store.OpSw, "œu"), []string{"u-oeuvre"}},
		{"familyName ew accented", cmp(store.AttrFamilyName, store.OpEw, "vré"), []string{"u-oeuvre"}},
		{"familyName eq Cyrillic", cmp(store.AttrFamilyName, store.OpEq, "Иванова"), []string{"u-ivanova"}},
		{"familyName co Cyrillic", cmp(store.AttrFamilyName, store.OpCo, "иван"), []string{"u-ivanova"}},
		{"givenName eq", cmp(store.AttrGivenName, store.OpEq, "ÉLODIE"), []string{"u-eluard"}},
		{"givenName sw ligature", cmp(store.AttrGivenName, store.OpSw, "ŒD"), []string{"u-oeuvre"}},
		{"displayName eq", cmp(store.AttrDisplayName, store.OpEq, "élodie éluard"), []string{"u-eluard"}},
		{"displayName co", cmp(store.AttrDisplayName, store.OpCo, "Die Él"), []string{"u-eluard"}},
	} {
		t.Run("search "+tc.name, func(t *testing.T) {
			q := store.AccountSearch{Filter: tc.filter}
			var got []identity.Account
			var n int
			fatalIf(t, st.View(ctx, func(tx store.Tx) error {
				var err error
				if got, err = tx.Accounts().Search(ctx, q); err != nil {
					return err
				}
				n, err = tx.Accounts().Count(ctx, q)
				return err
			}))
			if !slices.Equal(ids(got), tc.want) {
				t.Errorf("Search = %v, want %v", ids(got), tc.want)
			}
			if n != len(tc.want) {
				t.Errorf("Count = %d, want %d", n, len(tc.want))
			}
		})
	}

	for _, tc := range []struct {
		text string
		want []string
	}{
		{"éluard", []string{"u-eluard"}},
		{"ÉLUARD", []string{"u-eluard"}},
		{"élodie é", []string{"u-eluard"}},
		{"luard", []string{"u-ascii", "u-eluard"}},
		{"ŒUVRé", []string{"u-oeuvre"}},
		{"œdipe", []string{"u-oeuvre"}},
		{"иванова", []string{"u-ivanova"}},
		{"АННА", []string{"u-ivanova"}},
	} {
		t.Run("list "+tc.text, func(t *testing.T) {
			got := view(t, st, func(tx store.Tx) ([]identity.Account, error) {
				return tx.Accounts().List(ctx, store.AccountQuery{Text: tc.text})
			})
			if !slices.Equal(ids(got), tc.want) {
				t.Errorf("List(%q) = %v, want %v", tc.text, ids(got), tc.want)
			}
		})
	}
}
