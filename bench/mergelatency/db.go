package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/canonid/canonid/bench/internal/benchenv"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // the driver store/sqlite uses, for describing the database

	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/postgres"
	"github.com/canonid/canonid/store/sqlite"
)

// database is the one fresh database of a run, migrated by canonid's own
// Migrate, with a canonid store open on it: a file in a temporary directory
// for SQLite, a schema canonid_bench_<random> for PostgreSQL. drop closes
// the store and removes the database.
type database struct {
	driver string
	name   string // file or schema, for messages
	dsn    string // what the store and the describing connection open
	store  store.Store
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
		db.name = filepath.Join(dir, "mergelatency.db")
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
	drop := db.drop
	db.drop = func(ctx context.Context) error { return errors.Join(db.store.Close(), drop(ctx)) }
	return db, nil
}

// settle lets PostgreSQL write out what the previous step dirtied before a
// timed phase: a CHECKPOINT, best effort (it needs the pg_checkpoint role
// or superuser). Nothing on SQLite, which checkpoints its WAL by itself.
func (db *database) settle(ctx context.Context) {
	if db.admin == nil {
		return
	}
	if _, err := db.admin.ExecContext(ctx, "CHECKPOINT"); err != nil {
		db.logger.DebugContext(ctx, "checkpoint before phase", "err", err)
	}
}

// describe returns the database version and the settings that decide the
// cost of a commit. On PostgreSQL they are the server's, read on the admin
// connection (same user and database as the store). On SQLite, the version
// and the journal mode (which WAL makes a property of the file) are read on
// a query-only connection to the file; synchronous is a per-connection
// setting, so that connection sets it as store/sqlite sets it on its write
// connection (buildDSN there) and reads it back: it reports the store's
// setting only as long as the two agree.
func (db *database) describe(ctx context.Context) (version, settings string, err error) {
	if db.driver == "postgres" {
		return benchenv.Describe(ctx, db.admin, db.driver)
	}
	dsn, err := sqlite.DSN(db.dsn, true)
	if err != nil {
		return "", "", err
	}
	raw, err := sql.Open("sqlite", dsn)
	if err != nil {
		return "", "", err
	}
	defer raw.Close()
	return benchenv.Describe(ctx, raw, db.driver)
}
