package storetest

import (
	"testing"
	"time"

	"github.com/canonid/canonid/store"
)

// testFindToken: Find reads a pending token by purpose and hash without
// using it, in a read-only transaction too, and answers ErrNotFound for a
// wrong purpose, an unknown hash, an expired, used or revoked token.
func testFindToken(t *testing.T, st store.Store, _ Options) {
	a := newAccount(t, st, "a")
	now := time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC)
	h := randomHash()
	tok := store.OneTimeToken{Purpose: store.PurposeMergeKey, Hash: h, AccountID: a.ID, CreatedAt: now,
		ExpiresAt: now.Add(24 * time.Hour), Data: map[string]string{"k": "v"}}
	update(t, st, func(tx store.Tx) error { return tx.Tokens().Create(ctx, &tok) })
	find := func(p store.TokenPurpose, h []byte, at time.Time) (store.OneTimeToken, error) {
		return viewErr(st, func(tx store.Tx) (store.OneTimeToken, error) { return tx.Tokens().Find(ctx, p, h, at) })
	}

	for range 2 { // finding twice uses nothing
		got, err := find(store.PurposeMergeKey, h, now.Add(24*time.Hour-time.Second))
		fatalIf(t, err)
		if got.ID != tok.ID || got.AccountID != a.ID || got.Data["k"] != "v" || !got.UsedAt.IsZero() ||
			!got.ExpiresAt.Equal(tok.ExpiresAt) {
			t.Fatalf("Find returned %+v, want %+v", got, tok)
		}
	}
	_, err := find(store.PurposeEmailVerification, h, now)
	wantErr(t, err, store.ErrNotFound)
	_, err = find(store.PurposeMergeKey, randomHash(), now)
	wantErr(t, err, store.ErrNotFound)
	_, err = find(store.PurposeMergeKey, h, now.Add(24*time.Hour))
	wantErr(t, err, store.ErrNotFound)

	// Inside a write transaction, Find sees the transaction's own writes
	// and changes nothing: a transaction that only finds needs no event.
	fatalIf(t, st.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Tokens().Find(ctx, store.PurposeMergeKey, h, now)
		return err
	}))

	// Consume still works after Find; then Find no longer finds it.
	update(t, st, func(tx store.Tx) error {
		_, err := tx.Tokens().Consume(ctx, store.PurposeMergeKey, h, now)
		return err
	})
	_, err = find(store.PurposeMergeKey, h, now)
	wantErr(t, err, store.ErrNotFound)

	// A revoked token is not found either.
	h2 := randomHash()
	update(t, st, func(tx store.Tx) error {
		return tx.Tokens().Create(ctx, &store.OneTimeToken{Purpose: store.PurposeMergeKey, Hash: h2, AccountID: a.ID, ExpiresAt: now.Add(time.Hour)})
	})
	_, err = find(store.PurposeMergeKey, h2, now)
	fatalIf(t, err)
	update(t, st, func(tx store.Tx) error {
		_, err := tx.Tokens().Revoke(ctx, a.ID, now, store.PurposeMergeKey)
		return err
	})
	_, err = find(store.PurposeMergeKey, h2, now)
	wantErr(t, err, store.ErrNotFound)
}
