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
	_ "modernc.org/sqlite" // the reference connection's driver, the one store/sqlite uses

	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/postgres"
	"github.com/canonid/canonid/store/sqlite"
)

// server hands out one fresh database per phase: a file in a temporary
// directory for SQLite, a schema of its own for PostgreSQL. close removes
// what is left.
type server struct {
	driver string
	logger *slog.Logger
	dir    string  // sqlite: the temporary directory of this run
	base   string  // postgres: the DSN given
	admin  *sql.DB // postgres: creates and drops the schemas
	prefix string  // postgres: schema name prefix
}

// database is one fresh database, migrated by canonid's own Migrate, with a
// canonid store open on it.
type database struct {
	name  string // file or schema, for messages
	dsn   string // what both the store and the reference connection open
	store store.Store
	drop  func(ctx context.Context) error
}

func newServer(ctx context.Context, driver, dsn, dir string, logger *slog.Logger) (*server, error) {
	s := &server{driver: driver, logger: logger}
	switch driver {
	case "sqlite":
		d, err := os.MkdirTemp(dir, "canonid-bench-")
		if err != nil {
			return nil, err
		}
		s.dir = d
	case "postgres":
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			// pgx's message can quote the DSN, password included.
			return nil, errors.New("postgres: the dsn cannot be parsed (expected postgres://user:password@host:port/db?... or key=value pairs)")
		}
		s.base = dsn
		s.admin = stdlib.OpenDB(*cfg)
		if err := s.admin.PingContext(ctx); err != nil {
			s.admin.Close()
			return nil, fmt.Errorf("postgres: connect to %s:%d/%s: %w", cfg.Host, cfg.Port, cfg.Database, err)
		}
	default:
		return nil, fmt.Errorf("driver: must be sqlite or postgres, got %q", driver)
	}
	return s, nil
}

func (s *server) close() error {
	if s.admin != nil {
		return s.admin.Close()
	}
	if s.dir != "" {
		return os.RemoveAll(s.dir)
	}
	return nil
}

// fresh creates an empty database for phase p, migrates it with canonid's
// Migrate and opens a canonid store on it. drop closes the store and removes
// the database.
func (s *server) fresh(ctx context.Context, p phase) (_ *database, err error) {
	db := &database{}
	switch s.driver {
	case "sqlite":
		db.name = filepath.Join(s.dir, "phase-"+string(p)+".db")
		db.dsn = db.name
		db.drop = func(context.Context) error {
			var errs []error
			for _, suffix := range []string{"", "-wal", "-shm"} {
				if err := os.Remove(db.name + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
					errs = append(errs, err)
				}
			}
			return errors.Join(errs...)
		}
	case "postgres":
		var suffix [6]byte
		_, _ = rand.Read(suffix[:])
		prefix := s.prefix
		if prefix == "" {
			prefix = "canonid_bench_"
		}
		db.name = prefix + hex.EncodeToString(suffix[:])
		if _, err := s.admin.ExecContext(ctx, "CREATE SCHEMA "+db.name); err != nil {
			return nil, fmt.Errorf("create schema %s: %w", db.name, err)
		}
		db.dsn = postgres.WithSearchPath(s.base, db.name)
		db.drop = func(ctx context.Context) error {
			if _, err := s.admin.ExecContext(ctx, "DROP SCHEMA "+db.name+" CASCADE"); err != nil {
				return fmt.Errorf("drop schema %s: %w", db.name, err)
			}
			return nil
		}
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, db.drop(context.WithoutCancel(ctx)))
		}
	}()
	switch s.driver {
	case "sqlite":
		db.store, err = sqlite.Open(ctx, db.dsn, s.logger)
	case "postgres":
		db.store, err = postgres.Open(ctx, db.dsn, s.logger)
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

// settle lets the database finish the previous phase's background work
// before a timed phase: a checkpoint on PostgreSQL (best effort: it needs
// the pg_checkpoint role or superuser), nothing on SQLite, whose phases
// each have a file of their own.
func (s *server) settle(ctx context.Context) {
	if s.admin == nil {
		return
	}
	if _, err := s.admin.ExecContext(ctx, "CHECKPOINT"); err != nil {
		s.logger.DebugContext(ctx, "checkpoint before phase", "err", err)
	}
}
