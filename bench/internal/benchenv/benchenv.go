// Package benchenv describes the machine and the database a benchmark
// harness under bench/ runs on, so that every harness prints the same
// machine line: CPU model, database driver module, database version and the
// settings that decide what reads and commits cost. It also reads what the
// harnesses report next to their figures, since the machines are shared:
// the load average and the CPU time of the process and of the machine.
package benchenv

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/canonid/canonid/store/sqlite"
)

// CPUModel is the first "model name" of /proc/cpuinfo, or GOARCH where
// there is none.
func CPUModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

// DriverModule is the Go module and version of the database driver of
// driver ("sqlite" or "postgres"), from the build information.
func DriverModule(driver string) string {
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

// PostgresSettings are the server settings Describe reports by default.
var PostgresSettings = []string{"fsync", "synchronous_commit", "wal_sync_method", "shared_buffers"}

// Describe returns the database version and its settings, read on db: for
// SQLite the journal mode, synchronous and cache size of that connection;
// for PostgreSQL the server settings named (PostgresSettings when none).
func Describe(ctx context.Context, db *sql.DB, driver string, pgSettings ...string) (version, settings string, err error) {
	if driver == "sqlite" {
		var journal string
		var sync, cache int
		if err := db.QueryRowContext(ctx, "SELECT sqlite_version()").Scan(&version); err != nil {
			return "", "", err
		}
		if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&journal); err != nil {
			return "", "", err
		}
		if err := db.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
			return "", "", err
		}
		if err := db.QueryRowContext(ctx, "PRAGMA cache_size").Scan(&cache); err != nil {
			return "", "", err
		}
		syncName := map[int]string{0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}[sync]
		return "SQLite " + version, fmt.Sprintf("journal_mode=%s synchronous=%s cache_size=%d", journal, syncName, cache), nil
	}
	if err := db.QueryRowContext(ctx, "SHOW server_version").Scan(&version); err != nil {
		return "", "", err
	}
	if len(pgSettings) == 0 {
		pgSettings = PostgresSettings
	}
	parts := make([]string, 0, len(pgSettings))
	for _, name := range pgSettings {
		var v string
		if err := db.QueryRowContext(ctx, "SHOW "+name).Scan(&v); err != nil {
			return "", "", err
		}
		parts = append(parts, name+"="+v)
	}
	return "PostgreSQL " + version, strings.Join(parts, " "), nil
}

// OpenRaw opens a plain database/sql handle, one connection, on the
// database of dsn with the driver and settings the store's writer uses:
// modernc.org/sqlite with store/sqlite's DSN, or pgx through its
// database/sql adapter. Harnesses use it for references and checks.
func OpenRaw(ctx context.Context, driver, dsn string) (*sql.DB, error) {
	return open(ctx, driver, dsn, false, 1)
}

// OpenReader opens a plain database/sql handle of conns connections on the
// database of dsn with the settings of the store's readers: on SQLite
// store/sqlite's read DSN (query-only, WAL, the same page cache per
// connection), on PostgreSQL pgx through its database/sql adapter, as
// OpenRaw. Harnesses run their read references on it.
func OpenReader(ctx context.Context, driver, dsn string, conns int) (*sql.DB, error) {
	return open(ctx, driver, dsn, true, conns)
}

// open opens conns connections on the database of dsn, with store/sqlite's
// read or write DSN on SQLite, and checks that the database answers.
func open(ctx context.Context, driver, dsn string, readOnly bool, conns int) (*sql.DB, error) {
	var db *sql.DB
	switch driver {
	case "sqlite":
		full, err := sqlite.DSN(dsn, readOnly)
		if err != nil {
			return nil, err
		}
		if db, err = sql.Open("sqlite", full); err != nil {
			return nil, err
		}
	case "postgres":
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return nil, errors.New("postgres: the dsn cannot be parsed")
		}
		db = stdlib.OpenDB(*cfg)
	default:
		return nil, fmt.Errorf("unknown driver %q", driver)
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// LoadAvg returns the 1-, 5- and 15-minute load averages of
// /proc/loadavg, space-separated, or "" where there is none. Harnesses
// report it next to their figures, since the machines are shared.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}
