package benchdb

import (
	"context"
	"strings"
	"testing"

	"github.com/canonid/canonid/bench/internal/benchtest"
)

func TestSQLite(t *testing.T) {
	testServer(t, Config{Driver: "sqlite", Dir: benchtest.SQLiteDir(t)})
}

func TestPostgres(t *testing.T) {
	dsn, prefix := benchtest.Postgres(t)
	testServer(t, Config{Driver: "postgres", DSN: dsn, SchemaPrefix: prefix, ApplicationName: "canonid_bench_test"})
}

// testServer opens two fresh databases on one server and one on a server of
// its own, each with a plain connection, checks that they are migrated and
// apart, and drops them all; the caller's checks see that nothing is left.
func testServer(t *testing.T, cfg Config) {
	ctx := context.Background()
	cfg.Raw = true
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Fresh(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Fresh(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	c, err := OpenFresh(ctx, cfg, "c")
	if err != nil {
		t.Fatal(err)
	}
	if a.Name == b.Name || (cfg.Driver == "postgres") != (a.Admin != nil) {
		t.Errorf("databases %s and %s, admin %v", a.Name, b.Name, a.Admin)
	}
	if cfg.Driver == "postgres" && !strings.HasPrefix(a.Name, cfg.SchemaPrefix) {
		t.Errorf("schema %s, want the prefix %s", a.Name, cfg.SchemaPrefix)
	}
	for _, db := range []*DB{a, b, c} {
		var n int
		if err := db.Raw.QueryRowContext(ctx, "SELECT count(*) FROM accounts").Scan(&n); err != nil || n != 0 {
			t.Errorf("%s: %d accounts, %v; want a migrated, empty database", db.Name, n, err)
		}
		if cfg.ApplicationName != "" {
			var name string
			if err := db.Raw.QueryRowContext(ctx, "SHOW application_name").Scan(&name); err != nil || name != cfg.ApplicationName {
				t.Errorf("%s: application_name %q, %v; want %q", db.Name, name, err, cfg.ApplicationName)
			}
		}
		db.Checkpoint(ctx)
		if err := db.Drop(ctx); err != nil {
			t.Error(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestCheckDriver(t *testing.T) {
	for _, c := range []struct{ driver, dsn, want string }{
		{"sqlite", "", ""},
		{"postgres", "postgres://x", ""},
		{"postgres", "", "dsn: must be set"},
		{"mysql", "", `driver: must be sqlite or postgres, got "mysql"`},
	} {
		err := CheckDriver(c.driver, c.dsn)
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("CheckDriver(%q, %q): %v, want %q", c.driver, c.dsn, err, c.want)
		}
	}
}

func TestWithApplicationName(t *testing.T) {
	for _, c := range []struct{ dsn, want string }{
		{"postgres://u@h:5432/d?sslmode=disable", "postgres://u@h:5432/d?application_name=x&sslmode=disable"},
		{"host=h dbname=d ", "host=h dbname=d application_name=x"},
	} {
		if got := withApplicationName(c.dsn, "x"); got != c.want {
			t.Errorf("withApplicationName(%q): %q, want %q", c.dsn, got, c.want)
		}
	}
}
