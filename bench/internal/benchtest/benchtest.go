// Package benchtest holds what the quick tests of the benchmark harnesses
// under bench/ share: a directory for a SQLite run, and a PostgreSQL server
// with a schema prefix of the test's own, each checked, when the test ends,
// for anything the run left behind.
package benchtest

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/canonid/canonid/store/storetest"
)

// SQLiteDir returns a temporary directory for a run's SQLite files; when
// the test ends, it reports an error if the run left anything in it.
func SQLiteDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	t.Cleanup(func() {
		left, err := os.ReadDir(dir)
		if err != nil {
			t.Error(err)
			return
		}
		if len(left) > 0 {
			t.Errorf("the run left %d entries in its directory, first %s", len(left), left[0].Name())
		}
	})
	return dir
}

// Postgres returns CANONID_TEST_POSTGRES (without it the test is skipped,
// see storetest.PostgresBase) and a schema prefix of the test's own, so
// that schemas other runs create at the same time (other test packages, a
// benchmark) do not count; when the test ends, it reports an error for
// each schema of that prefix the run left behind.
func Postgres(t testing.TB) (dsn, prefix string) {
	t.Helper()
	dsn = storetest.PostgresBase(t)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("CANONID_TEST_POSTGRES cannot be parsed: %v", err)
	}
	admin := stdlib.OpenDB(*cfg)
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	prefix = "canonid_bench_t" + hex.EncodeToString(suffix[:]) + "_"
	t.Cleanup(func() {
		defer admin.Close()
		left, err := schemas(admin, prefix)
		if err != nil {
			t.Error(err)
		}
		for _, s := range left {
			t.Errorf("the run left schema %s behind", s)
		}
	})
	return dsn, prefix
}

// schemas lists the schemas whose name starts with prefix.
func schemas(db *sql.DB, prefix string) ([]string, error) {
	rows, err := db.Query(`SELECT nspname FROM pg_namespace WHERE left(nspname, length($1)) = $1`, prefix)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
