package main

import (
	"context"

	"github.com/canonid/canonid/bench/internal/benchdb"
	"github.com/canonid/canonid/bench/internal/benchenv"
)

// database is the one fresh database of a run (benchdb.OpenFresh),
// migrated by canonid's own Migrate, with a canonid store open on it: a
// file in a temporary directory for SQLite, a schema canonid_bench_<random>
// for PostgreSQL. Drop closes the store and removes the database.
type database struct {
	*benchdb.DB
}

// openFresh creates the run's database and opens and migrates a store on it.
func openFresh(ctx context.Context, cfg config) (*database, error) {
	db, err := benchdb.OpenFresh(ctx, benchdb.Config{
		Driver: cfg.Driver, DSN: cfg.DSN, Dir: cfg.Dir, SchemaPrefix: cfg.SchemaPrefix, Logger: cfg.Logger,
	}, "mergelatency")
	if err != nil {
		return nil, err
	}
	return &database{DB: db}, nil
}

// describe returns the database version and the settings that decide the
// cost of a commit. On PostgreSQL they are the server's, read on the admin
// connection (same user and database as the store). On SQLite, the version
// and the journal mode (which WAL makes a property of the file) are read on
// a query-only connection to the file (benchenv.OpenReader); synchronous is
// a per-connection setting, so that connection sets it as store/sqlite sets
// it on its write connection (buildDSN there) and reads it back: it reports
// the store's setting only as long as the two agree.
func (db *database) describe(ctx context.Context) (version, settings string, err error) {
	if db.Driver == "postgres" {
		return benchenv.Describe(ctx, db.Admin, db.Driver)
	}
	raw, err := benchenv.OpenReader(ctx, db.Driver, db.DSN, 1)
	if err != nil {
		return "", "", err
	}
	defer raw.Close()
	return benchenv.Describe(ctx, raw, db.Driver)
}
