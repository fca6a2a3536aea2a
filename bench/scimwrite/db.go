package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/canonid/canonid/bench/internal/benchenv"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/postgres"
	"github.com/canonid/canonid/store/sqlite"
)

// database is the one fresh database of a run, migrated by canonid's own
// Migrate, with a canonid store open on it: a file in a temporary directory
// for SQLite, a schema canonid_bench_<random> for PostgreSQL. raw is a
// plain connection with the store writer's settings (benchenv.OpenRaw),
// for the description and the checkpoints. drop closes everything and
// removes the database.
type database struct {
	driver string
	name   string // file or schema, for messages
	dsn    string // what the store and the plain connection open
	store  store.Store
	raw    *sql.DB
	admin  *sql.DB // postgres: creates and drops the schema, runs CHECKPOINT
	logger *slog.Logger
	drop   func(ctx context.Context) error
}

// openFresh creates the run's database and opens and migrates a store on it.
func openFresh(ctx context.Context, cfg config) (_ *database, err error) {
	db := &database{driver: cfg.Driver, logger: cfg.Logger}
	switch cfg.Driver {
	case "sqlite":
		dir, err := os.MkdirTemp(cfg.Dir, "canonid-bench-")
		if err != nil {
			return nil, err
		}
		db.name = filepath.Join(dir, "scimwrite.db")
		db.dsn = db.name
		db.drop = func(context.Context) error { return os.RemoveAll(dir) }
	case "postgres":
		pcfg, err := pgx.ParseConfig(cfg.DSN)
		if err != nil {
			// pgx's message can quote the DSN, password included.
			return nil, errors.New("postgres: the dsn cannot be parsed (expected postgres://user:password@host:port/db?... or key=value pairs)")
		}
		db.admin = stdlib.OpenDB(*pcfg)
		var suffix [6]byte
		_, _ = rand.Read(suffix[:])
		prefix := cfg.SchemaPrefix
		if prefix == "" {
			prefix = "canonid_bench_"
		}
		db.name = prefix + hex.EncodeToString(suffix[:])
		if _, err := db.admin.ExecContext(ctx, "CREATE SCHEMA "+db.name); err != nil {
			db.admin.Close()
			return nil, fmt.Errorf("postgres at %s:%d/%s: create schema %s: %w", pcfg.Host, pcfg.Port, pcfg.Database, db.name, err)
		}
		db.dsn = postgres.WithSearchPath(cfg.DSN, db.name)
		db.drop = func(ctx context.Context) error {
			_, err := db.admin.ExecContext(ctx, "DROP SCHEMA "+db.name+" CASCADE")
			if err != nil {
				err = fmt.Errorf("drop schema %s: %w", db.name, err)
			}
			return errors.Join(err, db.admin.Close())
		}
	default:
		return nil, fmt.Errorf("driver: must be sqlite or postgres, got %q", cfg.Driver)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, db.drop(context.WithoutCancel(ctx)))
		}
	}()
	switch cfg.Driver {
	case "sqlite":
		db.store, err = sqlite.Open(ctx, db.dsn, cfg.Logger)
	case "postgres":
		db.store, err = postgres.Open(ctx, db.dsn, cfg.Logger)
	}
	if err != nil {
		return nil, err
	}
	if _, err := db.store.Migrate(ctx); err != nil {
		db.store.Close()
		return nil, fmt.Errorf("migrate %s: %w", db.name, err)
	}
	if db.raw, err = benchenv.OpenRaw(ctx, db.driver, db.dsn); err != nil {
		db.store.Close()
		return nil, fmt.Errorf("plain connection: %w", err)
	}
	drop := db.drop
	db.drop = func(ctx context.Context) error { return errors.Join(db.raw.Close(), db.store.Close(), drop(ctx)) }
	return db, nil
}

// describe returns the database version and the settings that decide what
// a commit costs: on SQLite those of a connection with the store writer's
// settings, on PostgreSQL the server's.
func (db *database) describe(ctx context.Context) (version, settings string, err error) {
	if db.driver == "postgres" {
		return benchenv.Describe(ctx, db.admin, db.driver, "fsync", "synchronous_commit", "wal_sync_method", "shared_buffers")
	}
	return benchenv.Describe(ctx, db.raw, db.driver)
}

// checkpoint writes what the previous phase left in the WAL to the
// database, so that a phase does not pay for the one before it: CHECKPOINT
// on PostgreSQL (best effort: it needs the pg_checkpoint role or
// superuser), wal_checkpoint(TRUNCATE) on SQLite.
func (db *database) checkpoint(ctx context.Context) {
	var err error
	if db.driver == "postgres" {
		_, err = db.admin.ExecContext(ctx, "CHECKPOINT")
	} else {
		var busy, logPages, done int
		err = db.raw.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logPages, &done)
	}
	if err != nil {
		db.logger.DebugContext(ctx, "checkpoint before a phase", "err", err)
	}
}
