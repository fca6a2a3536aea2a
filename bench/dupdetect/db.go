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
	_ "modernc.org/sqlite" // the counting connection's driver, the one store/sqlite uses

	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/postgres"
	"github.com/canonid/canonid/store/sqlite"
)

// database is the run's fresh database, migrated by canonid's own Migrate,
// with a canonid store open on it, and a plain database/sql connection to
// the same database for what the store does not say (row counts, version,
// settings). drop closes both and removes the database.
type database struct {
	driver string
	name   string // file or schema, for messages
	store  store.Store
	raw    *sql.DB
	drop   func(ctx context.Context) error
}

// openDatabase creates the run's database: a file in a new temporary
// directory under dir for SQLite, a schema canonid_bench_<random> in the
// database of dsn for PostgreSQL.
func openDatabase(ctx context.Context, driver, dsn, dir string, logger *slog.Logger) (_ *database, err error) {
	db := &database{driver: driver}
	var drops []func(context.Context) error
	db.drop = func(ctx context.Context) error {
		var errs []error
		for i := len(drops) - 1; i >= 0; i-- {
			errs = append(errs, drops[i](ctx))
		}
		return errors.Join(errs...)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, db.drop(context.WithoutCancel(ctx)))
		}
	}()
	var storeDSN string
	switch driver {
	case "sqlite":
		d, err := os.MkdirTemp(dir, "canonid-bench-")
		if err != nil {
			return nil, err
		}
		drops = append(drops, func(context.Context) error { return os.RemoveAll(d) })
		db.name = filepath.Join(d, "dupdetect.db")
		storeDSN = db.name
	case "postgres":
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			// pgx's message can quote the DSN, password included.
			return nil, errors.New("postgres: the dsn cannot be parsed (expected postgres://user:password@host:port/db?... or key=value pairs)")
		}
		admin := stdlib.OpenDB(*cfg)
		drops = append(drops, func(context.Context) error { return admin.Close() })
		if err := admin.PingContext(ctx); err != nil {
			return nil, fmt.Errorf("postgres: connect to %s:%d/%s: %w", cfg.Host, cfg.Port, cfg.Database, err)
		}
		var suffix [6]byte
		_, _ = rand.Read(suffix[:])
		db.name = "canonid_bench_" + hex.EncodeToString(suffix[:])
		if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+db.name); err != nil {
			return nil, fmt.Errorf("create schema %s: %w", db.name, err)
		}
		drops = append(drops, func(ctx context.Context) error {
			if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+db.name+" CASCADE"); err != nil {
				return fmt.Errorf("drop schema %s: %w", db.name, err)
			}
			return nil
		})
		storeDSN = postgres.WithSearchPath(dsn, db.name)
	default:
		return nil, fmt.Errorf("driver: must be sqlite or postgres, got %q", driver)
	}

	switch driver {
	case "sqlite":
		db.store, err = sqlite.Open(ctx, storeDSN, logger)
	case "postgres":
		db.store, err = postgres.Open(ctx, storeDSN, logger)
	}
	if err != nil {
		return nil, err
	}
	drops = append(drops, func(context.Context) error { return db.store.Close() })
	if _, err := db.store.Migrate(ctx); err != nil {
		return nil, fmt.Errorf("migrate %s: %w", db.name, err)
	}
	if db.raw, err = benchenv.OpenRaw(ctx, driver, storeDSN); err != nil {
		return nil, fmt.Errorf("counting connection: %w", err)
	}
	drops = append(drops, func(context.Context) error { return db.raw.Close() })
	return db, nil
}

// count runs a SELECT count(*) (or any one-integer query) on the plain
// connection.
func (db *database) count(ctx context.Context, query string) (int, error) {
	var n int
	if err := db.raw.QueryRowContext(ctx, query).Scan(&n); err != nil {
		return 0, fmt.Errorf("%s: %w", query, err)
	}
	return n, nil
}

// size returns the bytes the database takes on disk: the file, its WAL and
// shared memory for SQLite, the schema's tables and indexes for
// PostgreSQL.
func (db *database) size(ctx context.Context) (int64, error) {
	switch db.driver {
	case "sqlite":
		var total int64
		for _, suffix := range []string{"", "-wal", "-shm"} {
			fi, err := os.Stat(db.name + suffix)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return 0, err
			}
			total += fi.Size()
		}
		return total, nil
	default:
		var total int64
		err := db.raw.QueryRowContext(ctx, `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
			FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = current_schema() AND c.relkind = 'r'`).Scan(&total)
		return total, err
	}
}

// settle lets the database finish the setup's background work before the
// timed phases: a checkpoint of the WAL into the database file on SQLite
// (TRUNCATE), an ANALYZE and a CHECKPOINT on PostgreSQL (the
// checkpoint best effort: it needs the pg_checkpoint role or superuser).
// canonid itself runs neither: a server's autovacuum analyzes the new
// tables, and SQLite checkpoints on its own every 1000 pages.
func (db *database) settle(ctx context.Context, logger *slog.Logger) error {
	switch db.driver {
	case "sqlite":
		var busy, logPages, done int
		if err := db.raw.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logPages, &done); err != nil {
			return fmt.Errorf("wal checkpoint: %w", err)
		}
		if busy != 0 {
			logger.WarnContext(ctx, "the checkpoint before the timed phases did not complete", "log_pages", logPages, "checkpointed", done)
		}
		return nil
	default:
		if _, err := db.raw.ExecContext(ctx, "ANALYZE"); err != nil {
			return fmt.Errorf("analyze: %w", err)
		}
		if _, err := db.raw.ExecContext(ctx, "CHECKPOINT"); err != nil {
			logger.DebugContext(ctx, "checkpoint before the timed phases", "err", err)
		}
		return nil
	}
}
