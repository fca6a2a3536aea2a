package main

import (
	"context"

	"github.com/canonid/canonid/bench/internal/benchdb"
	"github.com/canonid/canonid/bench/internal/benchenv"
)

// database is the one fresh database of a run (benchdb.OpenFresh),
// migrated by canonid's own Migrate, with a canonid store open on it: a
// file in a temporary directory for SQLite, a schema canonid_bench_<random>
// for PostgreSQL. Raw is a plain connection with the store writer's
// settings, for the description and the checkpoints. Drop closes
// everything and removes the database.
type database struct {
	*benchdb.DB
}

// openFresh creates the run's database and opens and migrates a store on it.
func openFresh(ctx context.Context, cfg config) (*database, error) {
	db, err := benchdb.OpenFresh(ctx, benchdb.Config{
		Driver: cfg.Driver, DSN: cfg.DSN, Dir: cfg.Dir, SchemaPrefix: cfg.SchemaPrefix, Raw: true, Logger: cfg.Logger,
	}, "scimwrite")
	if err != nil {
		return nil, err
	}
	return &database{DB: db}, nil
}

// describe returns the database version and the settings that decide what
// a commit costs: on SQLite those of a connection with the store writer's
// settings, on PostgreSQL the server's.
func (db *database) describe(ctx context.Context) (version, settings string, err error) {
	if db.Driver == "postgres" {
		return benchenv.Describe(ctx, db.Admin, db.Driver, "fsync", "synchronous_commit", "wal_sync_method", "shared_buffers")
	}
	return benchenv.Describe(ctx, db.Raw, db.Driver)
}
