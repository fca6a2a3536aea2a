package storetest

import (
	"testing"
	"time"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

// testMailForward: an account's mail redirection (migration 0008) is
// written by Create and Update and read back by every read of accounts —
// Get, GetByLogin, GetMany, List, Search, Resolve, Snapshot — pending,
// verified, and removed again (nil, stored as NULL); the answer time in
// the consents round-trips with it. An account that never had one reads
// nil.
func testMailForward(t *testing.T, st store.Store, _ Options) {
	chosen := time.Date(2026, 3, 2, 9, 15, 30, 123456000, time.UTC)
	a := identity.Account{Status: identity.StatusPendingActivation, Login: "jdupont", GivenName: "Julie", FamilyName: "Dupont",
		Attributes:  map[string][]string{identity.FieldAffiliation: {"staff"}},
		Consents:    identity.Consents{MailForwardAnsweredAt: chosen},
		MailForward: &identity.MailForward{Address: "julie@perso.example", KeepCopy: true, ChosenAt: chosen}}
	none := identity.Account{Status: identity.StatusActive, Login: "sans", GivenName: "Sans", FamilyName: "Redirection"}
	update(t, st, func(tx store.Tx) error {
		if err := tx.Accounts().Create(ctx, &a); err != nil {
			return err
		}
		return tx.Accounts().Create(ctx, &none)
	})

	// every reads the account a through every read of the store.
	every := func(t *testing.T, id string) map[string]identity.Account {
		t.Helper()
		out := map[string]identity.Account{}
		find := func(list []identity.Account) identity.Account {
			for _, acc := range list {
				if acc.ID == id {
					return acc
				}
			}
			t.Fatalf("account %s not listed", id)
			return identity.Account{}
		}
		view(t, st, func(tx store.Tx) (struct{}, error) {
			acc, err := tx.Accounts().Get(ctx, id)
			if err != nil {
				return struct{}{}, err
			}
			out["Get"] = acc
			if acc, err = tx.Accounts().GetByLogin(ctx, acc.Login); err != nil {
				return struct{}{}, err
			}
			out["GetByLogin"] = acc
			if acc, err = tx.Accounts().Resolve(ctx, id); err != nil {
				return struct{}{}, err
			}
			out["Resolve"] = acc
			many, err := tx.Accounts().GetMany(ctx, []string{id, none.ID})
			if err != nil {
				return struct{}{}, err
			}
			out["GetMany"] = find(many)
			list, err := tx.Accounts().List(ctx, store.AccountQuery{Statuses: []identity.Status{
				identity.StatusPendingActivation, identity.StatusActive}})
			if err != nil {
				return struct{}{}, err
			}
			out["List"] = find(list)
			found, err := tx.Accounts().Search(ctx, store.AccountSearch{})
			if err != nil {
				return struct{}{}, err
			}
			out["Search"] = find(found)
			snap, err := tx.Snapshot(ctx)
			if err != nil {
				return struct{}{}, err
			}
			out["Snapshot"] = find(snap.Accounts)
			return struct{}{}, nil
		})
		// Inside a write transaction too (Get locks the row there).
		fatalIf(t, st.Update(ctx, func(tx store.Tx) error {
			acc, err := tx.Accounts().Get(ctx, id)
			out["Get in Update"] = acc
			return err
		}))
		return out
	}
	check := func(t *testing.T, id string, want *identity.MailForward, answered time.Time) {
		t.Helper()
		for read, got := range every(t, id) {
			if !sameForward(got.MailForward, want) {
				t.Errorf("%s: mail forward %+v, want %+v", read, got.MailForward, want)
			}
			if !got.Consents.MailForwardAnsweredAt.Equal(answered) {
				t.Errorf("%s: answered at %v, want %v", read, got.Consents.MailForwardAnsweredAt, answered)
			}
		}
	}

	t.Run("pending", func(t *testing.T) { check(t, a.ID, a.MailForward, chosen) })
	t.Run("never chosen", func(t *testing.T) { check(t, none.ID, nil, time.Time{}) })

	verified := chosen.Add(3 * time.Hour)
	a.MailForward.VerifiedAt = verified
	update(t, st, func(tx store.Tx) error { return tx.Accounts().Update(ctx, &a) })
	t.Run("verified", func(t *testing.T) {
		check(t, a.ID, &identity.MailForward{Address: "julie@perso.example", KeepCopy: true, ChosenAt: chosen, VerifiedAt: verified}, chosen)
	})

	// Another choice replaces it whole: no keep-copy, pending again.
	later := verified.Add(time.Hour)
	a.MailForward = &identity.MailForward{Address: "julie.d@ailleurs.example", ChosenAt: later}
	a.Consents.MailForwardAnsweredAt = later
	update(t, st, func(tx store.Tx) error { return tx.Accounts().Update(ctx, &a) })
	t.Run("replaced", func(t *testing.T) { check(t, a.ID, a.MailForward, later) })

	// Declined: no redirection, the answer kept.
	a.MailForward = nil
	update(t, st, func(tx store.Tx) error { return tx.Accounts().Update(ctx, &a) })
	t.Run("removed", func(t *testing.T) { check(t, a.ID, nil, later) })

	// An update of another field leaves a redirection as it is.
	none.MailForward = &identity.MailForward{Address: "sans@perso.example", ChosenAt: later}
	update(t, st, func(tx store.Tx) error { return tx.Accounts().Update(ctx, &none) })
	got := view(t, st, func(tx store.Tx) (identity.Account, error) { return tx.Accounts().Get(ctx, none.ID) })
	got.GivenName = "Avec"
	update(t, st, func(tx store.Tx) error { return tx.Accounts().Update(ctx, &got) })
	t.Run("kept by other updates", func(t *testing.T) { check(t, none.ID, none.MailForward, time.Time{}) })
}

// sameForward compares two redirections, times by instant.
func sameForward(a, b *identity.MailForward) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Address == b.Address && a.KeepCopy == b.KeepCopy && a.VerifiedAt.Equal(b.VerifiedAt) && a.ChosenAt.Equal(b.ChosenAt)
}
