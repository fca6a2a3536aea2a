package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/postgres"
	"github.com/canonid/canonid/store/sqlite"
)

// openStore opens the database cfg selects. For SQLite it first creates the
// directory of the database file if it is missing. The schema is not
// touched: see migrateStore.
func openStore(ctx context.Context, cfg store.Config, logger *slog.Logger) (store.Store, error) {
	switch cfg.Driver {
	case "sqlite":
		if dir := sqliteDir(cfg.DSN); dir != "" {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("storage: create the directory of the database: %w", err)
			}
		}
		st, err := sqlite.Open(ctx, cfg.DSN, logger)
		if err != nil {
			return nil, err
		}
		return st, nil
	case "postgres":
		st, err := postgres.Open(ctx, cfg.DSN, logger)
		if err != nil {
			return nil, err
		}
		return st, nil
	}
	return nil, fmt.Errorf("storage: unknown driver %q (want sqlite or postgres)", cfg.Driver)
}

// sqliteDir returns the directory holding the database file of a SQLite
// DSN (a path or a file: URI), or "" when there is none to create.
func sqliteDir(dsn string) string {
	path, _, _ := strings.Cut(strings.TrimPrefix(dsn, "file:"), "?")
	if path == "" || path == ":memory:" {
		return ""
	}
	dir := filepath.Dir(path)
	if dir == "." || dir == string(filepath.Separator) {
		return ""
	}
	return dir
}

// describeStorage names the database for humans without its secrets: the
// SQLite path, or the PostgreSQL user, host, port and database — never the
// password.
func describeStorage(cfg store.Config) string {
	if cfg.Driver != "postgres" {
		return cfg.Driver + " " + cfg.DSN
	}
	if u, err := url.Parse(cfg.DSN); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		safe := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
		if u.User != nil {
			safe.User = url.User(u.User.Username())
		}
		return "postgres " + safe.String()
	}
	// key=value form: keep only the keys that are not secret.
	var kept []string
	for _, f := range strings.Fields(cfg.DSN) {
		k, _, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		switch k {
		case "host", "port", "dbname", "user":
			kept = append(kept, f)
		}
	}
	return "postgres " + strings.Join(kept, " ")
}

// migrationLabel names a migration as its file does: "0001_init".
func migrationLabel(m store.Migration) string {
	return fmt.Sprintf("%04d_%s", m.Version, m.Name)
}

// openMigrated opens the store and applies pending migrations, for the
// commands that need the current schema (serve, token). The caller closes
// the store.
func openMigrated(ctx context.Context, cfg store.Config, logger *slog.Logger) (store.Store, error) {
	st, err := openStore(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	if _, err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return st, nil
}
