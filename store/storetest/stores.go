package storetest

import (
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/postgres"
	"github.com/canonid/canonid/store/sqlite"
)

// EachStore runs fn, as subtests "sqlite" and "postgres", on a fresh
// migrated store of each database: SQLite in a temporary file, PostgreSQL
// in a schema of its own (PostgresDSN: skipped, or failed under
// CANONID_REQUIRE_INTEGRATION=1, without CANONID_TEST_POSTGRES). Packages
// that build on the store run their tests on both with it.
func EachStore(t *testing.T, fn func(t *testing.T, st store.Store)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, OpenSQLite(t)) })
	t.Run("postgres", func(t *testing.T) {
		st, err := postgres.Open(t.Context(), PostgresDSN(t), discard())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		migrated(t, st)
		fn(t, st)
	})
}

// OpenSQLite returns a fresh migrated SQLite store in a temporary file,
// closed when the test ends.
func OpenSQLite(t testing.TB) store.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "canonid.db"), discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	migrated(t, st)
	return st
}

func migrated(t testing.TB, st store.Store) {
	t.Helper()
	if _, err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
