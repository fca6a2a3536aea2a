package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/canonid/canonid/connectors"
	"github.com/canonid/canonid/flows/activation"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/ingest"
	"github.com/canonid/canonid/mapping"
	"github.com/canonid/canonid/notify"
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

// TestActivationHook: an account a connector creates pending_activation is
// mailed its activation link in the creating transaction; one without a
// recovery address is created all the same.
func TestActivationHook(t *testing.T) {
	ctx := context.Background()
	st := storetest.OpenSQLite(t)
	queue, err := notify.NewQueue(notify.Config{Driver: notify.DriverLog, From: "canonid <noreply@univ-test.fr>", Secret: strings.Repeat("m", 32)})
	if err != nil {
		t.Fatal(err)
	}
	act, err := activation.New(st, queue, activation.Config{PublicURL: "http://127.0.0.1", CharterVersion: "1", CharterText: "Charte."})
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := mapping.Preset("supann")
	m, err := mapping.Compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	in := ingest.New(st, ingest.Source{Name: "ldap:campus", Mapping: m, Config: ingest.Config{NewAccountStatus: identity.StatusPendingActivation},
		OnCreate: activationHook(act, logger)}, identity.DefaultPrecedence(), logger)
	entry := func(id, uid, perso string) connectors.Entry {
		attrs := map[string][]string{"uid": {uid}, "givenName": {"Julie"}, "sn": {"Dupont"}, "mail": {uid + "@univ-test.fr"}}
		if perso != "" {
			attrs["supannMailPerso"] = []string{perso}
		}
		return connectors.Entry{ExternalID: id, Name: "uid=" + uid, Attributes: attrs}
	}
	for _, e := range []connectors.Entry{entry("u1", "jdupont", "julie.dupont@perso.example"), entry("u2", "pnorecovery", "")} {
		err := st.Update(ctx, func(tx store.Tx) error {
			out, err := in.Apply(ctx, tx, e, "", ingest.Options{Actor: "test"})
			if err == nil && out.Op != "create" {
				t.Errorf("%s: %+v", e.ExternalID, out)
			}
			return err
		})
		if err != nil {
			t.Fatalf("%s: %v", e.ExternalID, err)
		}
	}
	err = st.View(ctx, func(tx store.Tx) error {
		due, err := tx.Mails().Due(ctx, time.Now().Add(time.Hour), 10)
		if len(due) != 1 || due[0].Template != notify.TemplateActivation || due[0].Recipient != "julie.dupont@perso.example" {
			t.Errorf("queued mails %+v, want one activation mail to julie.dupont@perso.example", due)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
