package storetest

import (
	"slices"
	"testing"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

// testKeysInBatches: the derived keys of every account a transaction
// changed are brought up to date at commit, and by Reindex, however many
// accounts (more than one batch of the store's reads) and whatever the
// change: accounts created and changed in one transaction, names and
// identifiers changed, addresses added, verified and deleted, an account
// merged.
func testKeysInBatches(t *testing.T, st store.Store, _ Options) {
	const n = 1100
	accs := make([]identity.Account, n)
	update(t, st, func(tx store.Tx) error {
		for i := range accs {
			accs[i] = identity.Account{Status: identity.StatusActive, GivenName: "Camille", FamilyName: sprintf("Martin%d", i), BirthDate: "1999-04-12",
				Attributes: map[string][]string{"ine": {sprintf("%010dA", i)}}}
			if err := tx.Accounts().Create(ctx, &accs[i]); err != nil {
				return err
			}
			if err := tx.Emails().Add(ctx, &identity.Email{AccountID: accs[i].ID, Address: sprintf("camille.martin%d@univ.example", i), Verified: true, Primary: true}); err != nil {
				return err
			}
		}
		return nil
	})
	checkKeys(t, st, accs)
	// A second transaction: the first 300 accounts change their INE and
	// get a pending address; 300 more, created here, are changed at once;
	// every third of the first 700 loses its verified address; one is
	// merged into another.
	update(t, st, func(tx store.Tx) error {
		for i := range 300 {
			a, err := tx.Accounts().Get(ctx, accs[i].ID)
			if err != nil {
				return err
			}
			a.Attributes["ine"] = []string{sprintf("%010dZ", i)}
			a.FamilyName = sprintf("Durand%d", i)
			if err := tx.Accounts().Update(ctx, &a); err != nil {
				return err
			}
			if err := tx.Emails().Add(ctx, &identity.Email{AccountID: a.ID, Address: sprintf("interne%d@perso.example", i)}); err != nil {
				return err
			}
		}
		for i := range 300 {
			a := identity.Account{Status: identity.StatusActive, GivenName: "Lou", FamilyName: sprintf("Petit%d", i)}
			if err := tx.Accounts().Create(ctx, &a); err != nil {
				return err
			}
			a.BirthDate = "2001-01-01"
			if err := tx.Accounts().Update(ctx, &a); err != nil {
				return err
			}
			accs = append(accs, a)
		}
		for i := 0; i < 700; i += 3 {
			if err := tx.Emails().Delete(ctx, accs[i].ID, sprintf("camille.martin%d@univ.example", i)); err != nil {
				return err
			}
		}
		return nil
	})
	merge(t, st, accs[1].ID, accs[2].ID)
	checkKeys(t, st, accs)
	if got := view(t, st, func(tx store.Tx) (map[string][]string, error) {
		return tx.Accounts().Lookup(ctx, identity.LookupINE, []string{"0000000005A", "0000000005Z", "0000000002Z"})
	}); len(got) != 1 || !slices.Equal(got["0000000005Z"], []string{accs[5].ID}) {
		t.Errorf("Lookup by INE after the changes = %v, want only 0000000005Z -> %s", got, accs[5].ID)
	}
	// Reindex over every account, and over some, leaves them as they are.
	update(t, st, func(tx store.Tx) error { return tx.Duplicates().Reindex(ctx) })
	update(t, st, func(tx store.Tx) error { return tx.Duplicates().Reindex(ctx, accs[0].ID, accs[1].ID, accs[2].ID) })
	checkKeys(t, st, accs)
	wantErr(t, updateErr(st, func(tx store.Tx) error { return tx.Duplicates().Reindex(ctx, accs[0].ID, "missing") }), store.ErrNotFound)
}

// checkKeys fails t unless the stored blocking keys of each account are
// those identity.BlockingKeys gives for it now, and its lookup keys find it.
func checkKeys(t *testing.T, st store.Store, accs []identity.Account) {
	t.Helper()
	ids := make([]string, len(accs))
	for i, a := range accs {
		ids[i] = a.ID
	}
	fatalIf(t, st.View(ctx, func(tx store.Tx) error {
		got, err := tx.Accounts().GetMany(ctx, ids)
		if err != nil {
			return err
		}
		emails, err := tx.Emails().ListByAccounts(ctx, ids)
		if err != nil {
			return err
		}
		byKind := map[identity.LookupKind][]string{}
		for _, a := range got {
			c := identity.Candidate{Account: a, Emails: emails[a.ID]}
			var want []string
			if a.Status.Live() {
				for _, k := range identity.BlockingKeys(c) {
					want = append(want, k.String())
				}
			}
			have, err := tx.Duplicates().Keys(ctx, a.ID)
			if err != nil {
				return err
			}
			if !slices.Equal(have, want) {
				t.Errorf("account %s (%s): blocking keys %v, want %v", a.ID, a.FamilyName, have, want)
			}
			for _, k := range identity.LookupKeys(c) {
				byKind[k.Kind] = append(byKind[k.Kind], k.Value)
			}
		}
		for kind, values := range byKind {
			found, err := tx.Accounts().Lookup(ctx, kind, values)
			if err != nil {
				return err
			}
			for _, v := range values {
				if len(found[v]) == 0 {
					t.Errorf("Lookup(%s, %q) finds no account", kind, v)
				}
			}
		}
		return nil
	}))
}
