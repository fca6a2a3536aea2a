package main

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

// benchActor is the actor of the events setup records.
const benchActor = "bench"

// benchOrg is the org every account is a validated member of, so that the
// groups claim is read and filled.
const benchOrg = "bench-campus"

// accountsPerUpdate is how many accounts one setup transaction writes.
const accountsPerUpdate = 500

// person is one of the run's accounts.
type person struct {
	id, login, email string
}

// people returns the n accounts of a run; the same n gives the same ids.
func people(n int) []person {
	out := make([]person, n)
	for i := range out {
		login := fmt.Sprintf("bench.user%06d", i)
		out[i] = person{
			id:    uuid.NewSHA1(uuid.NameSpaceOID, []byte("canonid/bench/oidcflow/"+login)).String(),
			login: login,
			email: login + "@univ-bench.example",
		}
	}
	return out
}

// createPeople writes the accounts through the store, accountsPerUpdate per
// Update: each active, with given and family names, a verified primary
// address, a validated membership of benchOrg and an account.created event.
func createPeople(ctx context.Context, st store.Store, ppl []person) error {
	err := st.Update(ctx, func(tx store.Tx) error {
		if err := tx.Orgs().Put(ctx, &identity.Org{ID: benchOrg, Name: "Bench campus", Kind: "university"}); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: "org.created", Actor: benchActor, OrgID: benchOrg})
	})
	if err != nil {
		return fmt.Errorf("org: %w", err)
	}
	for lo := 0; lo < len(ppl); lo += accountsPerUpdate {
		batch := ppl[lo:min(lo+accountsPerUpdate, len(ppl))]
		err := st.Update(ctx, func(tx store.Tx) error {
			for i, p := range batch {
				a := identity.Account{ID: p.id, Status: identity.StatusActive, Login: p.login,
					GivenName: "Bench", FamilyName: fmt.Sprintf("User %d", lo+i)}
				if err := tx.Accounts().Create(ctx, &a); err != nil {
					return err
				}
				if err := tx.Emails().Add(ctx, &identity.Email{Address: p.email, AccountID: p.id, Verified: true, Primary: true, Source: "admin"}); err != nil {
					return err
				}
				if err := tx.Memberships().Put(ctx, &identity.Membership{OrgID: benchOrg, AccountID: p.id,
					Role: identity.RoleMember, State: identity.MembershipValidated, ValidatedBy: benchActor}); err != nil {
					return err
				}
				if err := tx.Record(ctx, store.Event{Type: identity.EventAccountCreated, Actor: benchActor, AccountID: p.id}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("accounts %d to %d: %w", lo, lo+len(batch)-1, err)
		}
	}
	return nil
}
