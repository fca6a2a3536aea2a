// Package storetest is the conformance suite of the store contract. Every
// implementation runs it (SQLite always, PostgreSQL whenever
// CANONID_TEST_POSTGRES is set), so both behave alike: CRUD per aggregate,
// uniqueness violations mapped to sentinels, the event rules, rollback, the
// outbox sequence under late commits, and concurrent read-modify-write without
// lost updates.
//
// It also gives later tests the invariant check (CheckInvariants) and the
// per-test PostgreSQL schema (PostgresDSN).
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/postgres"
)

// Options describes the implementation under test.
type Options struct {
	// ConcurrentWriters is true when two write transactions can be open at
	// once (PostgreSQL); false when writes are serialised (SQLite).
	ConcurrentWriters bool
}

// Opener returns a new, empty, migrated store for one test; it registers its
// own cleanup.
type Opener func(t *testing.T) store.Store

// Run runs the whole suite.
func Run(t *testing.T, open Opener, opts Options) {
	tests := []struct {
		name string
		fn   func(t *testing.T, st store.Store, opts Options)
	}{
		{"Migrate", testMigrate},
		{"Accounts", testAccounts},
		{"AccountsList", testAccountsList},
		{"AccountsSearch", testAccountsSearch},
		{"AccountsSearchListed", testSearchListed},
		{"AccountsUnicodeCase", testUnicodeCase},
		{"AccountsResolve", testResolve},
		{"AccountsMailForward", testMailForward},
		{"Links", testLinks},
		{"Emails", testEmails},
		{"OrgsMemberships", testOrgsMemberships},
		{"OneTimeTokens", testOneTimeTokens},
		{"OneTimeTokensConcurrentConsume", testConsumeRace},
		{"OneTimeTokensFind", testFindToken},
		{"MergeRecords", testMergeRecords},
		{"APITokens", testAPITokens},
		{"ChangeWithoutEvent", testUnrecorded},
		{"Rollback", testRollback},
		{"ReadOnly", testReadOnly},
		{"Read", testRead},
		{"Audit", testAudit},
		{"Outbox", testOutbox},
		{"EventsInBulk", testEventsInBulk},
		{"OutboxLateCommit", testOutboxLateCommit},
		{"OutboxConcurrentFollower", testOutboxFollower},
		{"ConcurrentClosures", testNoLostUpdate},
		{"Invariants", testInvariants},
		{"Duplicates", testDuplicates},
		{"KeysInBatches", testKeysInBatches},
		{"BatchReads", testBatchReads},
		{"LinksBySource", testLinksBySource},
		{"Lookup", testLookup},
		{"SyncStates", testSyncStates},
		{"Imports", testImports},
		{"OIDCAuthRequests", testAuthRequests},
		{"OIDCAuthRequestsConcurrentExchange", testAuthRequestRace},
		{"OIDCTokens", testOAuthTokens},
		{"OIDCTokensConcurrentMarkUsed", testMarkUsedRace},
		{"OIDCSigningKeys", testSigningKeys},
		{"Sessions", testSessions},
		{"OIDCReadOnly", testOIDCReadOnly},
		{"OIDCChangeWithoutEvent", testOIDCUnrecorded},
		{"OIDCInvariants", testOIDCInvariants},
		{"Mails", testMails},
		{"Propagation", testPropagation},
		{"MailsConcurrentClaim", testMailClaimRace},
		{"MailsEvents", testMailEvents},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t), opts)
		})
	}
}

// CheckInvariants reads a snapshot in one read transaction and fails t with
// every violated invariant of DESIGN.md.
func CheckInvariants(t testing.TB, st store.Store) {
	t.Helper()
	var snap identity.Snapshot
	err := st.View(context.Background(), func(tx store.Tx) error {
		var err error
		snap, err = tx.Snapshot(context.Background())
		return err
	})
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	if err := identity.CheckInvariants(snap); err != nil {
		t.Fatalf("invariants violated:\n%v", err)
	}
}

// RequireIntegration reports whether CANONID_REQUIRE_INTEGRATION=1, in which
// case a missing integration dependency fails a test instead of skipping it.
func RequireIntegration() bool { return os.Getenv("CANONID_REQUIRE_INTEGRATION") == "1" }

// PostgresBase returns CANONID_TEST_POSTGRES. Without it the test is
// skipped, or fails when RequireIntegration.
func PostgresBase(t testing.TB) string {
	t.Helper()
	base := os.Getenv("CANONID_TEST_POSTGRES")
	if base == "" {
		if RequireIntegration() {
			t.Fatal("CANONID_TEST_POSTGRES is not set but CANONID_REQUIRE_INTEGRATION=1: PostgreSQL tests cannot run")
		}
		t.Skip("PostgreSQL tests need CANONID_TEST_POSTGRES (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	}
	return base
}

// PostgresDSN returns a DSN for a fresh schema of its own in the database of
// CANONID_TEST_POSTGRES, dropped when the test ends, so that tests and runs
// never collide. Without CANONID_TEST_POSTGRES the test is skipped, or fails
// when RequireIntegration; an unreachable server fails either way once a DSN
// is given.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := PostgresBase(t)
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		t.Fatalf("CANONID_TEST_POSTGRES cannot be parsed: %v", err)
	}
	admin := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { admin.Close() })
	var suffix [6]byte
	_, _ = rand.Read(suffix[:])
	schema := "canonid_test_" + hex.EncodeToString(suffix[:])
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("PostgreSQL at %s:%d/%s does not answer or refuses to create a schema: %v", cfg.Host, cfg.Port, cfg.Database, err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return postgres.WithSearchPath(base, schema)
}

// --- helpers -------------------------------------------------------------

var ctx = context.Background()

// update runs fn in a transaction that records one event, failing t on error.
func update(t testing.TB, st store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	if err := st.Update(ctx, func(tx store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: "test.change", Actor: "test"})
	}); err != nil {
		t.Fatalf("update: %v", err)
	}
}

// updateErr is update returning the error.
func updateErr(st store.Store, fn func(tx store.Tx) error) error {
	return st.Update(ctx, func(tx store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: "test.change", Actor: "test"})
	})
}

func view[T any](t testing.TB, st store.Store, fn func(tx store.Tx) (T, error)) T {
	t.Helper()
	var out T
	if err := st.View(ctx, func(tx store.Tx) error {
		var err error
		out, err = fn(tx)
		return err
	}); err != nil {
		t.Fatalf("view: %v", err)
	}
	return out
}

// newAccount creates an active account with a login and returns it.
func newAccount(t testing.TB, st store.Store, login string) identity.Account {
	t.Helper()
	a := identity.Account{Status: identity.StatusActive, Login: login, GivenName: "Given", FamilyName: "Family " + login}
	update(t, st, func(tx store.Tx) error { return tx.Accounts().Create(ctx, &a) })
	return a
}

func wantErr(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want %v", err, target)
	}
}

func wantDuplicate(t testing.TB, err error, field string) {
	t.Helper()
	var de *store.DuplicateError
	if !errors.As(err, &de) || !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("got error %v, want a duplicate %s", err, field)
	}
	if de.Field != field {
		t.Fatalf("duplicate field = %q, want %q (error %v)", de.Field, field, err)
	}
}

func countOutbox(t testing.TB, st store.Store) int64 {
	t.Helper()
	head, err := st.Outbox().Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return head
}

func countAudit(t testing.TB, st store.Store) int {
	t.Helper()
	return len(view(t, st, func(tx store.Tx) ([]store.AuditEntry, error) {
		return tx.Audit().List(ctx, store.AuditQuery{Limit: 100000})
	}))
}

func fatalIf(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// randomHash returns 32 random bytes, like the SHA-256 of a token.
func randomHash() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
