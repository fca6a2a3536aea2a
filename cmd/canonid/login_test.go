package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
)

// TestCleanupExpired: the janitor deletes what expired, records it once,
// and leaves the rest.
func TestCleanupExpired(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		now := time.Now()
		err := st.Update(ctx, func(tx store.Tx) error {
			for i, exp := range []time.Time{now.Add(-time.Minute), now.Add(time.Hour)} {
				r := store.AuthRequest{ClientID: "lms", Request: []byte("{}"), CreatedAt: now.Add(-time.Hour), ExpiresAt: exp}
				if err := tx.AuthRequests().Create(ctx, &r); err != nil {
					return err
				}
				tok := store.OAuthToken{Kind: store.TokenAccess, FamilyID: "f", ClientID: "lms", CreatedAt: now.Add(-time.Hour), ExpiresAt: exp}
				if i == 0 {
					tok.ID = "old"
				}
				if err := tx.OAuthTokens().Create(ctx, &tok); err != nil {
					return err
				}
			}
			return tx.Record(ctx, store.Event{Type: "test.setup", Actor: "test"})
		})
		if err != nil {
			t.Fatal(err)
		}
		counts, err := cleanupExpired(ctx, st, now)
		if err != nil {
			t.Fatal(err)
		}
		if counts["auth_requests"] != 1 || counts["oauth_tokens"] != 1 {
			t.Errorf("deleted %v, want one request and one token", counts)
		}
		err = st.View(ctx, func(tx store.Tx) error {
			if _, err := tx.OAuthTokens().Get(ctx, "old"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("the expired token: %v, want not found", err)
			}
			evs, err := tx.Audit().List(ctx, store.AuditQuery{Type: EventCleanup})
			if len(evs) != 1 {
				t.Errorf("%d cleanup events, want 1", len(evs))
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		// Nothing left to delete: no transaction change, no event.
		if counts, err := cleanupExpired(ctx, st, now); err != nil || len(counts) != 0 {
			t.Errorf("second cleanup: %v, %v", counts, err)
		}
	})
}
