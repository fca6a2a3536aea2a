package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"

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
		if err := db.admin.QueryRowContext(ctx, "SHOW server_version").Scan(&version); err != nil {
			return "", "", err
		}
		var parts []string
		for _, name := range []string{"fsync", "synchronous_commit", "wal_sync_method", "shared_buffers"} {
			var v string
			if err := db.admin.QueryRowContext(ctx, "SHOW "+name).Scan(&v); err != nil {
				return "", "", err
			}
			parts = append(parts, name+"="+v)
		}
		return "PostgreSQL " + version, strings.Join(parts, " "), nil
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "query_only(1)")
	raw, err := sql.Open("sqlite", "file:"+db.dsn+"?"+q.Encode())
	if err != nil {
		return "", "", err
	}
	defer raw.Close()
	var journal string
	var sync int
	if err := raw.QueryRowContext(ctx, "SELECT sqlite_version()").Scan(&version); err != nil {
		return "", "", err
	}
	if err := raw.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&journal); err != nil {
		return "", "", err
	}
	if err := raw.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
		return "", "", err
	}
	syncName := map[int]string{0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}[sync]
	return "SQLite " + version, fmt.Sprintf("journal_mode=%s synchronous=%s", journal, syncName), nil
}

// cpuModel is the first "model name" of /proc/cpuinfo, or GOARCH where
// there is none.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

// driverModule is the Go module and version of the database driver, from
// the build information.
func driverModule(driver string) string {
	path := map[string]string{"sqlite": "modernc.org/sqlite", "postgres": "github.com/jackc/pgx/v5"}[driver]
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, m := range info.Deps {
			if m.Path == path {
				if m.Replace != nil {
					m = m.Replace
				}
				return m.Path + " " + m.Version
			}
		}
	}
	return path
}
