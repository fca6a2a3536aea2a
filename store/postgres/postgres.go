// Package postgres is canonid's PostgreSQL store, on pgx v5 through its
// database/sql adapter. Write transactions run at READ COMMITTED with
// optimistic version checks (lost races surface as store.ErrConflict and are
// retried by Update); read transactions are READ ONLY REPEATABLE READ, so a
// View sees one snapshot. Migrations are serialised across replicas with an
// advisory lock.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the advisory lock key that serialises migrations
// ("canonid" in ASCII).
const migrationLock int64 = 0x63616e6f6e6964

// Store is a canonid store in PostgreSQL.
type Store struct {
	*sqlstore.Store
}

var _ store.Store = (*Store)(nil)

// Open connects to PostgreSQL. dsn is a postgres:// URL or a key=value
// string; parameters PostgreSQL does not know as connection settings (such
// as search_path) are sent as run-time parameters. The schema is not
// touched: call Migrate.
func Open(ctx context.Context, dsn string, logger *slog.Logger) (*Store, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's message can quote the DSN, password included.
		return nil, errors.New("postgres: the dsn cannot be parsed (expected postgres://user:password@host:port/db?... or key=value pairs)")
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: connect to %s:%d/%s: %w", cfg.Host, cfg.Port, cfg.Database, err)
	}
	sub, _ := fs.Sub(migrations, "migrations")
	d := sqlstore.Dialect{
		Name:      "postgres",
		Numbered:  true,
		ForUpdate: " FOR UPDATE",
		Time:      func(t time.Time) any { return t },
		BeginWrite: func(ctx context.Context) (*sql.Tx, error) {
			return db.BeginTx(ctx, nil)
		},
		BeginRead: func(ctx context.Context) (*sql.Tx, error) {
			return db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
		},
		LockMigrations: func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLock)
			return err
		},
		Translate:    translate,
		Migrations:   sub,
		NotifyOutbox: "SELECT pg_notify(" + outboxChannel + ", ?)",
		WatchOutbox: func(ctx context.Context, self string, wake func()) error {
			return listen(ctx, cfg, self, wake)
		},
	}
	return &Store{sqlstore.New(d, db, db.Close, logger)}, nil
}

// WithSearchPath points dsn at a schema: a search_path query parameter of a
// postgres:// URL, or a key=value pair appended to a key=value DSN.
func WithSearchPath(dsn, schema string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return strings.TrimSpace(dsn) + " search_path=" + schema
}

// uniqueFields names, by constraint or index name, what a unique constraint
// protects.
var uniqueFields = map[string]string{
	"accounts_pkey":            "account id",
	"accounts_login_key":       "login",
	"links_pkey":               "link",
	"emails_pkey":              "e-mail on this account",
	"emails_verified_address":  "verified e-mail",
	"emails_one_primary":       "primary e-mail",
	"orgs_pkey":                "org",
	"memberships_pkey":         "membership",
	"one_time_tokens_pkey":     "one-time token",
	"one_time_tokens_hash_key": "one-time token",
	"merges_pkey":              "merge record",
	"merges_standing_retired":  "standing merge of this account",
	"api_tokens_pkey":          "api token",
	"api_tokens_hash_key":      "api token",
	"api_tokens_live_name":     "api token name",
	"oidc_auth_requests_pkey":  "auth request",
	"oidc_auth_requests_code":  "authorization code",
	"oidc_tokens_pkey":         "oauth token",
	"oidc_tokens_hash":         "oauth token",
	"oidc_signing_keys_pkey":   "signing key",
	"oidc_signing_keys_active": "signing key activation",
	"sessions_pkey":            "session",
	"sessions_hash_key":        "session",
	"mail_queue_pkey":          "mail",
}

func translate(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	switch pe.Code {
	case "23505": // unique_violation
		field, ok := uniqueFields[pe.ConstraintName]
		if !ok {
			field = pe.ConstraintName
		}
		return &store.DuplicateError{Field: field}
	case "23503": // foreign_key_violation
		return fmt.Errorf("%w: %s", store.ErrInvalidReference, pe.Message)
	case "40001", "40P01", "55P03": // serialization_failure, deadlock_detected, lock_not_available
		return fmt.Errorf("%w: %s", store.ErrConflict, pe.Message)
	}
	return err
}

// outboxChannel is the NOTIFY channel of the outbox, one per schema so that
// databases sharing a server (tests, benchmarks) do not wake each other.
const outboxChannel = "'canonid_outbox_' || current_schema()"

// listen holds a connection of its own that LISTENs on the outbox channel
// and calls wake on each notification of another process (the payload is
// the committing store's instance id), until ctx ends or the connection
// fails.
func listen(ctx context.Context, cfg *pgx.ConnConfig, self string, wake func()) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("listen: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var channel string
	if err := conn.QueryRow(ctx, "SELECT "+outboxChannel).Scan(&channel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// Commits made before LISTEN took effect were not announced.
	wake()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("listen: %w", err)
		}
		if n.Payload != self { // this process's own commits woke it already
			wake()
		}
	}
}
