package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/canonid/canonid/bench/internal/benchdb"
)

// database is the run's fresh database (benchdb.OpenFresh), migrated by
// canonid's own Migrate, with a canonid store open on it, and a plain
// database/sql connection (Raw) to the same database for what the store
// does not say (row counts, version, settings). Drop closes both and
// removes the database.
type database struct {
	*benchdb.DB
}

// openDatabase creates the run's database: a file in a new temporary
// directory under cfg.Dir for SQLite, a schema canonid_bench_<random> in
// the database of cfg.DSN for PostgreSQL.
func openDatabase(ctx context.Context, cfg config) (*database, error) {
	db, err := benchdb.OpenFresh(ctx, benchdb.Config{
		Driver: cfg.Driver, DSN: cfg.DSN, Dir: cfg.Dir, SchemaPrefix: cfg.SchemaPrefix, Raw: true, Logger: cfg.Logger,
	}, "dupdetect")
	if err != nil {
		return nil, err
	}
	return &database{DB: db}, nil
}

// count runs a SELECT count(*) (or any one-integer query) on the plain
// connection.
func (db *database) count(ctx context.Context, query string) (int, error) {
	var n int
	if err := db.Raw.QueryRowContext(ctx, query).Scan(&n); err != nil {
		return 0, fmt.Errorf("%s: %w", query, err)
	}
	return n, nil
}

// size returns the bytes the database takes on disk: the file, its WAL and
// shared memory for SQLite, the schema's tables and indexes for
// PostgreSQL.
func (db *database) size(ctx context.Context) (int64, error) {
	switch db.Driver {
	case "sqlite":
		var total int64
		for _, suffix := range []string{"", "-wal", "-shm"} {
			fi, err := os.Stat(db.Name + suffix)
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
		err := db.Raw.QueryRowContext(ctx, `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
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
	switch db.Driver {
	case "sqlite":
		var busy, logPages, done int
		if err := db.Raw.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logPages, &done); err != nil {
			return fmt.Errorf("wal checkpoint: %w", err)
		}
		if busy != 0 {
			logger.WarnContext(ctx, "the checkpoint before the timed phases did not complete", "log_pages", logPages, "checkpointed", done)
		}
		return nil
	default:
		if _, err := db.Raw.ExecContext(ctx, "ANALYZE"); err != nil {
			return fmt.Errorf("analyze: %w", err)
		}
		if _, err := db.Raw.ExecContext(ctx, "CHECKPOINT"); err != nil {
			logger.DebugContext(ctx, "checkpoint before the timed phases", "err", err)
		}
		return nil
	}
}
