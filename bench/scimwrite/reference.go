package main

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/ingest"
	"github.com/canonid/canonid/mapping"
	"github.com/canonid/canonid/store"
)

// The references write, in one store.Update each, on the store the server
// uses, the rows and events the SCIM request writes, as directly as the
// store allows: no HTTP, no authentication, no SCIM parsing or rendering,
// no correlation or planning reads. The store derives its lookup and
// blocking keys as it does for every write.

// suspendedFrom is the key under which a gone link remembers the status
// its account had (ingest's snapshot key).
const suspendedFrom = "_suspended_from"

// refCreate writes p's account, verified primary address and link, and
// account.created, as POST /Users does for a new person. It returns the
// account id.
func refCreate(ctx context.Context, st store.Store, source string, p person) (string, error) {
	id := uuid.NewString()
	err := st.Update(ctx, func(tx store.Tx) error {
		if err := tx.Accounts().Create(ctx, p.account(id, source)); err != nil {
			return err
		}
		now := time.Now()
		e := identity.Email{Address: p.email, AccountID: id, Verified: true, Primary: true, Source: source, VerifiedAt: now}
		if err := tx.Emails().Add(ctx, &e); err != nil {
			return err
		}
		l := identity.Link{Source: source, ExternalID: p.externalID, AccountID: id, Status: identity.LinkActive, Attributes: p.snapshot()}
		if err := tx.Links().Create(ctx, &l); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: identity.EventAccountCreated, Actor: "token:" + source[len("scim:"):], AccountID: id,
			Data: ingest.EventData{Source: source, ExternalID: p.externalID, Name: p.userName}})
	})
	return id, err
}

// refPatch moves account id from old to its next round q: the family and
// display names, the address (the old one deleted, the new one added
// verified and primary), the link's snapshot, and account.updated, as a
// PATCH does.
func refPatch(ctx context.Context, st store.Store, source, id string, old, q person) error {
	return st.Update(ctx, func(tx store.Tx) error {
		acc, err := tx.Accounts().Get(ctx, id)
		if err != nil {
			return err
		}
		acc.FamilyName, acc.DisplayName = q.family, q.display
		if err := tx.Accounts().Update(ctx, &acc); err != nil {
			return err
		}
		if err := tx.Emails().Delete(ctx, id, old.email); err != nil {
			return err
		}
		e := identity.Email{Address: q.email, AccountID: id, Verified: true, Primary: true, Source: source, VerifiedAt: time.Now()}
		if err := tx.Emails().Add(ctx, &e); err != nil {
			return err
		}
		l := identity.Link{Source: source, ExternalID: q.externalID, AccountID: id, Status: identity.LinkActive, Attributes: q.snapshot()}
		if err := tx.Links().Update(ctx, &l); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: identity.EventAccountUpdated, Actor: "token:" + source[len("scim:"):], AccountID: id,
			Data: ingest.EventData{Source: source, ExternalID: q.externalID, Name: q.userName,
				Fields: []string{mapping.FieldDisplayName, mapping.FieldFamilyName, mapping.FieldEmail}}})
	})
}

// refDeactivate marks p's link gone and suspends account id, revoking its
// one-time tokens, with link.gone and account.suspended, as active: false
// does for an account with no other link.
func refDeactivate(ctx context.Context, st store.Store, source, id string, p person) error {
	return st.Update(ctx, func(tx store.Tx) error {
		snap := p.snapshot()
		snap[suspendedFrom] = []string{string(identity.StatusActive)}
		l := identity.Link{Source: source, ExternalID: p.externalID, AccountID: id, Status: identity.LinkGone, Attributes: snap}
		if err := tx.Links().Update(ctx, &l); err != nil {
			return err
		}
		actor := "token:" + source[len("scim:"):]
		if err := tx.Record(ctx, store.Event{Type: identity.EventLinkGone, Actor: actor, AccountID: id,
			Data: ingest.EventData{Source: source, ExternalID: p.externalID, Name: p.externalID}}); err != nil {
			return err
		}
		acc, err := tx.Accounts().Get(ctx, id)
		if err != nil {
			return err
		}
		acc.Status = identity.StatusSuspended
		if err := tx.Accounts().Update(ctx, &acc); err != nil {
			return err
		}
		if _, err := tx.Tokens().Revoke(ctx, id, time.Now()); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: identity.EventAccountSuspended, Actor: actor, AccountID: id,
			Data: map[string]string{"reason": "source_gone", "source": source, "external_id": p.externalID}})
	})
}
