// Package benchdb creates the fresh databases the benchmark harnesses under
// bench/ run on, and removes them: a file in a temporary directory for
// SQLite, a schema of its own (canonid_bench_<random>) in the database of a
// DSN for PostgreSQL, each migrated by canonid's own Migrate with a canonid
// store open on it.
package benchdb

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
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/canonid/canonid/bench/internal/benchenv"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/postgres"
	"github.com/canonid/canonid/store/sqlite"
)

// defaultSchemaPrefix starts the name of every PostgreSQL schema a harness
// creates, unless its Config names another.
const defaultSchemaPrefix = "canonid_bench_"

// Config says where a harness's databases go and how they are opened.
type Config struct {
	Driver string // "sqlite" or "postgres"
	DSN    string // postgres: the server; each database is a schema of its own in its database
	Dir    string // sqlite: where the temporary directory goes; "" for the system's
	// SchemaPrefix starts the names of the PostgreSQL schemas
	// (canonid_bench_ when empty), followed by 12 random hexadecimal
	// digits.
	SchemaPrefix string
	// ApplicationName, if set, names the store's PostgreSQL sessions (and
	// Raw's), so that pg_stat_activity tells them from others.
	ApplicationName string
	// Raw asks for DB.Raw, a plain connection with the store writer's
	// settings.
	Raw bool
	// Logger receives the store's messages, and failed checkpoints at
	// debug level; nil discards them.
	Logger *slog.Logger
}

// CheckDriver reports what is wrong with a harness's driver and DSN: a
// driver other than sqlite and postgres, or postgres without a DSN.
func CheckDriver(driver, dsn string) error {
	switch driver {
	case "sqlite":
	case "postgres":
		if dsn == "" {
			return errors.New("dsn: must be set for postgres")
		}
	default:
		return fmt.Errorf("driver: must be sqlite or postgres, got %q", driver)
	}
	return nil
}

// Server is where a harness's databases go: a temporary directory of its
// own for SQLite, the PostgreSQL server of Config.DSN.
type Server struct {
	cfg Config
	dir string // sqlite: the temporary directory
	// Admin is, on PostgreSQL, a connection to the database of Config.DSN
	// (outside the schemas): it creates and drops the schemas and can run
	// server-wide statements such as CHECKPOINT. nil on SQLite.
	Admin *sql.DB
}

// Open makes the temporary directory (SQLite) or connects to the server
// (PostgreSQL). Close removes the directory or closes the connection.
func Open(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SchemaPrefix == "" {
		cfg.SchemaPrefix = defaultSchemaPrefix
	}
	s := &Server{cfg: cfg}
	switch cfg.Driver {
	case "sqlite":
		d, err := os.MkdirTemp(cfg.Dir, "canonid-bench-")
		if err != nil {
			return nil, err
		}
		s.dir = d
	case "postgres":
		pcfg, err := pgx.ParseConfig(cfg.DSN)
		if err != nil {
			// pgx's message can quote the DSN, password included.
			return nil, errors.New("postgres: the dsn cannot be parsed (expected postgres://user:password@host:port/db?... or key=value pairs)")
		}
		s.Admin = stdlib.OpenDB(*pcfg)
		if err := s.Admin.PingContext(ctx); err != nil {
			s.Admin.Close()
			return nil, fmt.Errorf("postgres: connect to %s:%d/%s: %w", pcfg.Host, pcfg.Port, pcfg.Database, err)
		}
	default:
		return nil, CheckDriver(cfg.Driver, cfg.DSN)
	}
	return s, nil
}

// Close closes the server's connection (PostgreSQL) or removes its
// temporary directory and whatever is left in it (SQLite).
func (s *Server) Close() error {
	if s.Admin != nil {
		return s.Admin.Close()
	}
	return os.RemoveAll(s.dir)
}

// DB is one fresh database with a canonid store open on it. Drop closes
// what is open on it and removes it.
type DB struct {
	Driver string
	Name   string // the file (SQLite) or the schema (PostgreSQL), for messages
	DSN    string // what the store opened: other connections to the same database open it too
	Store  store.Store
	// Raw is a plain connection with the store writer's settings
	// (benchenv.OpenRaw), when Config.Raw asked for it; nil otherwise.
	Raw *sql.DB
	// Admin is the server's Admin connection: nil on SQLite.
	Admin *sql.DB

	logger *slog.Logger
	drop   func(ctx context.Context) error
}

// Fresh creates an empty database named after name (the file name.db in the
// server's directory for SQLite, a schema of a random name for PostgreSQL),
// migrates it with canonid's Migrate and opens a store on it, and Raw if
// the Config asks for it.
func (s *Server) Fresh(ctx context.Context, name string) (_ *DB, err error) {
	db := &DB{Driver: s.cfg.Driver, Admin: s.Admin, logger: s.cfg.Logger}
	switch s.cfg.Driver {
	case "sqlite":
		db.Name = filepath.Join(s.dir, name+".db")
		db.DSN = db.Name
		db.drop = func(context.Context) error {
			var errs []error
			for _, suffix := range []string{"", "-wal", "-shm"} {
				if err := os.Remove(db.Name + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
					errs = append(errs, err)
				}
			}
			return errors.Join(errs...)
		}
	case "postgres":
		var suffix [6]byte
		_, _ = rand.Read(suffix[:])
		db.Name = s.cfg.SchemaPrefix + hex.EncodeToString(suffix[:])
		if _, err := s.Admin.ExecContext(ctx, "CREATE SCHEMA "+db.Name); err != nil {
			return nil, fmt.Errorf("create schema %s: %w", db.Name, err)
		}
		db.DSN = postgres.WithSearchPath(s.cfg.DSN, db.Name)
		if s.cfg.ApplicationName != "" {
			db.DSN = withApplicationName(db.DSN, s.cfg.ApplicationName)
		}
		db.drop = func(ctx context.Context) error {
			if _, err := s.Admin.ExecContext(ctx, "DROP SCHEMA "+db.Name+" CASCADE"); err != nil {
				return fmt.Errorf("drop schema %s: %w", db.Name, err)
			}
			return nil
		}
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, db.drop(context.WithoutCancel(ctx)))
		}
	}()
	switch s.cfg.Driver {
	case "sqlite":
		db.Store, err = sqlite.Open(ctx, db.DSN, s.cfg.Logger)
	case "postgres":
		db.Store, err = postgres.Open(ctx, db.DSN, s.cfg.Logger)
	}
	if err != nil {
		return nil, err
	}
	drop := db.drop
	db.drop = func(ctx context.Context) error { return errors.Join(db.Store.Close(), drop(ctx)) }
	if _, err := db.Store.Migrate(ctx); err != nil {
		return nil, fmt.Errorf("migrate %s: %w", db.Name, err)
	}
	if s.cfg.Raw {
		if db.Raw, err = benchenv.OpenRaw(ctx, db.Driver, db.DSN); err != nil {
			return nil, fmt.Errorf("plain connection: %w", err)
		}
		drop := db.drop
		db.drop = func(ctx context.Context) error { return errors.Join(db.Raw.Close(), drop(ctx)) }
	}
	return db, nil
}

// OpenFresh opens a Server and creates one fresh database on it (see
// Fresh), for a harness that runs on one database: its Drop also closes
// the Server.
func OpenFresh(ctx context.Context, cfg Config, name string) (*DB, error) {
	s, err := Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	db, err := s.Fresh(ctx, name)
	if err != nil {
		return nil, errors.Join(err, s.Close())
	}
	drop := db.drop
	db.drop = func(ctx context.Context) error { return errors.Join(drop(ctx), s.Close()) }
	return db, nil
}

// Drop closes the database's connections and store and removes it.
func (db *DB) Drop(ctx context.Context) error { return db.drop(ctx) }

// Checkpoint writes the WAL out, best effort, so that a timed phase does
// not pay for what came before it: CHECKPOINT on PostgreSQL, on the Admin
// connection (it needs the pg_checkpoint role or superuser), and PRAGMA
// wal_checkpoint(TRUNCATE) on SQLite, on Raw, nothing without Raw (SQLite
// checkpoints its WAL by itself every 1000 pages). A failure is logged at
// debug level.
func (db *DB) Checkpoint(ctx context.Context) {
	var err error
	switch {
	case db.Admin != nil:
		_, err = db.Admin.ExecContext(ctx, "CHECKPOINT")
	case db.Raw != nil:
		var busy, logPages, done int
		err = db.Raw.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logPages, &done)
	}
	if err != nil {
		db.logger.DebugContext(ctx, "checkpoint before phase", "err", err)
	}
}

// withApplicationName sets application_name in dsn: a query parameter of a
// postgres:// URL, or a key=value pair appended to a key=value DSN.
func withApplicationName(dsn, name string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("application_name", name)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return strings.TrimSpace(dsn) + " application_name=" + name
}
