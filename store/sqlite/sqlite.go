// Package sqlite is canonid's embedded store: a single SQLite file opened
// with modernc.org/sqlite (pure Go, no cgo), in WAL mode with a busy timeout.
// All writes go through one connection, so read-modify-write transactions are
// serialised; reads use a separate pool and see committed snapshots.
//
// Its connections come from a driver of its own whose lower() folds all of
// Unicode, as PostgreSQL's does under a UTF-8 ctype, where SQLite's built-in
// folds ASCII alone: names compare case-insensitively ("ÉLODIE" finds
// "Élodie") on both stores alike.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"time"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a canonid store in a SQLite file.
type Store struct {
	*sqlstore.Store
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the SQLite database at dsn: a file path or
// a file: URI. Query parameters of a URI are kept; canonid adds its own
// pragmas. The schema is not touched: call Migrate.
func Open(ctx context.Context, dsn string, logger *slog.Logger) (*Store, error) {
	if dsn == "" || dsn == ":memory:" || strings.Contains(dsn, "mode=memory") {
		return nil, errors.New("sqlite: an on-disk database file is required (an in-memory one cannot be shared by the read and write pools)")
	}
	writeDSN, err := DSN(dsn, false)
	if err != nil {
		return nil, err
	}
	readDSN, _ := DSN(dsn, true)
	drv, err := unicodeDriver()
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	write := sql.OpenDB(connector{drv: drv, dsn: writeDSN})
	// One writer: transactions start with BEGIN IMMEDIATE on this single
	// connection, so they queue here instead of failing with SQLITE_BUSY.
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	// The first connection creates the file and switches it to WAL before
	// readers open it.
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", dsn, err)
	}
	read := sql.OpenDB(connector{drv: drv, dsn: readDSN})
	n := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)

	sub, _ := fs.Sub(migrations, "migrations")
	d := sqlstore.Dialect{
		Name: "sqlite",
		Time: func(t time.Time) any { return t.Format(sqlstore.SQLiteTimeLayout) },
		BeginWrite: func(ctx context.Context) (*sql.Tx, error) {
			return write.BeginTx(ctx, nil)
		},
		BeginRead: func(ctx context.Context) (*sql.Tx, error) {
			return read.BeginTx(ctx, nil)
		},
		// The single write connection with BEGIN IMMEDIATE already
		// serialises migrations, across processes too.
		LockMigrations:  func(context.Context, *sql.Tx) error { return nil },
		Translate:       translate,
		Migrations:      sub,
		CacheStatements: true,
	}
	closer := func() error { return errors.Join(read.Close(), write.Close()) }
	return &Store{sqlstore.New(d, read, closer, logger)}, nil
}

// unicodeDriver returns the driver every Store opens its connections with:
// modernc.org/sqlite's, with lower() replaced by unicodeLower. It is a driver
// of its own, not the one registered as "sqlite", so that other users of that
// driver in the process keep SQLite's built-in; it is built once, as the
// functions a driver registers live as long as the program.
//
// No index, constraint or view of the schema calls lower(), so databases
// written with the built-in need no REINDEX. One that did would need a
// migration reindexing the databases written before it, and every writer to
// use this driver (the sqlite3 shell's lower() would disagree with it).
var unicodeDriver = sync.OnceValues(func() (*sqlite.Driver, error) {
	d := new(sqlite.Driver)
	if err := d.RegisterDeterministicScalarFunction("lower", 1, unicodeLower); err != nil {
		return nil, fmt.Errorf("register lower: %w", err)
	}
	return d, nil
})

// unicodeLower is lower(X) folding every letter (strings.ToLower), where
// SQLite's built-in folds ASCII letters alone. Text and blobs come back as
// text, NULL as NULL; numbers come back as they are (the built-in returns
// their text), canonid calling lower() on text columns only.
func unicodeLower(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	switch v := args[0].(type) {
	case string:
		return strings.ToLower(v), nil
	case []byte:
		return strings.ToLower(string(v)), nil
	}
	return args[0], nil
}

// connector opens connections of drv to dsn, for sql.OpenDB.
type connector struct {
	drv *sqlite.Driver
	dsn string
}

// Connect implements driver.Connector.
func (c connector) Connect(ctx context.Context) (driver.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return newCachingConn(conn)
}

// Driver implements driver.Connector.
func (c connector) Driver() driver.Driver { return c.drv }

var _ driver.Connector = connector{}

// DSN turns a path or file: URI into the modernc.org/sqlite DSN the store
// opens it with: canonid's pragmas, BEGIN IMMEDIATE for the writer,
// query-only for readers. Benchmarks open reference connections with it.
func DSN(dsn string, readOnly bool) (string, error) {
	path, rawQuery, _ := strings.Cut(strings.TrimPrefix(dsn, "file:"), "?")
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", fmt.Errorf("sqlite: dsn %q: %w", dsn, err)
	}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	// A page cache of up to 8 MiB per connection (the default is 2 MiB):
	// a sync reads links and accounts by the thousand.
	q.Add("_pragma", "cache_size(-8192)")
	// Reads go through a memory map of the database file (up to 2 GiB,
	// SQLite's compile-time cap) rather than a read(2) into the page cache
	// for every page not in it: a page of SCIM users touches a few hundred
	// table pages scattered over the file (ids are random), and the map
	// shares the operating system's cache between connections. Pages still
	// in the WAL are read as before.
	q.Add("_pragma", "mmap_size(2147418112)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + q.Encode(), nil
}

// uniqueFields names, by the columns SQLite reports, what a unique
// constraint protects.
var uniqueFields = map[string]string{
	"accounts.id":                                "account id",
	"accounts.login":                             "login",
	"links.source, links.external_id":            "link",
	"emails.account_id, emails.address":          "e-mail on this account",
	"emails.address":                             "verified e-mail",
	"emails.account_id":                          "primary e-mail",
	"orgs.id":                                    "org",
	"memberships.org_id, memberships.account_id": "membership",
	"one_time_tokens.id":                         "one-time token",
	"oidc_auth_requests.id":                      "auth request",
	"oidc_auth_requests.code_hash":               "authorization code",
	"oidc_tokens.id":                             "oauth token",
	"oidc_tokens.hash":                           "oauth token",
	"oidc_signing_keys.id":                       "signing key",
	"oidc_signing_keys.active_from":              "signing key activation",
	"sessions.id":                                "session",
	"sessions.hash":                              "session",
	"mail_queue.id":                              "mail",
	"one_time_tokens.hash":                       "one-time token",
	"merges.id":                                  "merge record",
	"merges.retired_id":                          "standing merge of this account",
	"api_tokens.id":                              "api token",
	"api_tokens.hash":                            "api token",
	"api_tokens.name":                            "api token name",
}

func translate(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		// "constraint failed: UNIQUE constraint failed: emails.address (2067)"
		msg := se.Error()
		cols := msg[strings.LastIndex(msg, "failed: ")+len("failed: "):]
		cols, _, _ = strings.Cut(cols, " (")
		field, ok := uniqueFields[cols]
		if !ok {
			field = cols
		}
		return &store.DuplicateError{Field: field}
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return fmt.Errorf("%w: %v", store.ErrInvalidReference, err)
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_BUSY_SNAPSHOT:
		return fmt.Errorf("%w: %v", store.ErrConflict, err)
	}
	return err
}
