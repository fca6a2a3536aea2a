package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/canonid/canonid/bench/internal/benchdb"
	"github.com/canonid/canonid/bench/internal/benchenv"
	"github.com/canonid/canonid/store/sqlstore"
)

// database is the one fresh database of a run (benchdb.OpenFresh),
// migrated by canonid's own Migrate, with a canonid store open on it: a
// file in a temporary directory for SQLite, a schema canonid_bench_<random>
// for PostgreSQL. Drop closes the store and removes the database.
type database struct {
	*benchdb.DB
	logger *slog.Logger
}

// openFresh creates the run's database and opens and migrates a store on it.
func openFresh(ctx context.Context, cfg config) (*database, error) {
	db, err := benchdb.OpenFresh(ctx, benchdb.Config{
		Driver: cfg.Driver, DSN: cfg.DSN, Dir: cfg.Dir, SchemaPrefix: cfg.SchemaPrefix, Logger: cfg.Logger,
	}, "scimread")
	if err != nil {
		return nil, err
	}
	return &database{DB: db, logger: cfg.Logger}, nil
}

// describe returns the database version and the settings that decide what
// a read costs, read on a reader connection: on SQLite the journal mode,
// synchronous and page cache of the store's readers; on PostgreSQL the
// server's settings.
func (db *database) describe(ctx context.Context) (version, settings string, err error) {
	if db.Driver == "postgres" {
		return benchenv.Describe(ctx, db.Admin, db.Driver, "shared_buffers", "effective_cache_size", "work_mem", "jit", "fsync", "synchronous_commit")
	}
	raw, err := benchenv.OpenReader(ctx, db.Driver, db.DSN, 1)
	if err != nil {
		return "", "", err
	}
	defer raw.Close()
	return benchenv.Describe(ctx, raw, db.Driver)
}

// size returns the bytes the database takes on disk: the file and its WAL
// for SQLite, the schema's tables and indexes for PostgreSQL.
func (db *database) size(ctx context.Context) (int64, error) {
	if db.Driver == "sqlite" {
		var total int64
		for _, suffix := range []string{"", "-wal"} {
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
	}
	var total int64
	err := db.Admin.QueryRowContext(ctx, `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind = 'r'`, db.Name).Scan(&total)
	return total, err
}

// Setup writes rows directly, on a connection of its own with relaxed
// durability; what it leaves is what the store would have written for
// these accounts, minus the derived keys (lookup_keys, blocking_keys) and
// events, which no SCIM read looks at.

// rowsPerInsert is how many rows one multi-row INSERT writes (SQLite takes
// up to 32766 parameters, PostgreSQL 65535).
const rowsPerInsert = 500

// The columns setup writes; the others keep their defaults.
var (
	accountInsert = insertSQL("accounts", "id, status, login, given_name, family_name, display_name, attributes, provenance, created_at, updated_at, version")
	emailInsert   = insertSQL("emails", "account_id, address, verified, is_primary, source, created_at, verified_at")
	linkInsert    = insertSQL("links", "source, external_id, account_id, status, attributes, created_at, updated_at")
)

// insert is a multi-row INSERT: its table, its columns, and its SQL for a
// number of rows.
type insert struct {
	table string
	cols  int
	head  string
}

func insertSQL(table, cols string) insert {
	return insert{table: table, cols: strings.Count(cols, ",") + 1, head: "INSERT INTO " + table + " (" + cols + ") VALUES "}
}

// sql returns the statement for rows rows, with "?" or "$n" placeholders.
func (in insert) sql(rows int, numbered bool) string {
	var b strings.Builder
	b.WriteString(in.head)
	n := 0
	for r := range rows {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for c := range in.cols {
			if c > 0 {
				b.WriteByte(',')
			}
			n++
			if numbered {
				b.WriteString("$" + strconv.Itoa(n))
			} else {
				b.WriteByte('?')
			}
		}
		b.WriteByte(')')
	}
	return b.String()
}

// populate inserts accounts 0 to n-1 with their e-mail and link, batch
// accounts per transaction, perInsert rows per statement, and calls tick
// with the number written after each transaction.
func (db *database) populate(ctx context.Context, n, batch, perInsert int, tick func(int)) (err error) {
	// One connection with the store writer's settings, then durability
	// relaxed and, on SQLite, a large page cache: for setup only.
	raw, err := benchenv.OpenRaw(ctx, db.Driver, db.DSN)
	if err != nil {
		return fmt.Errorf("setup connection: %w", err)
	}
	defer raw.Close()
	relax := []string{"SET synchronous_commit = off"}
	if db.Driver == "sqlite" {
		relax = []string{"PRAGMA synchronous = OFF", "PRAGMA cache_size = -524288"}
	}
	for _, q := range relax {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}

	numbered := db.Driver == "postgres"
	ins := []insert{accountInsert, emailInsert, linkInsert}
	full := make([]*sql.Stmt, len(ins))
	for k, in := range ins {
		if full[k], err = raw.PrepareContext(ctx, in.sql(perInsert, numbered)); err != nil {
			return fmt.Errorf("prepare insert into %s: %w", in.table, err)
		}
		defer full[k].Close()
	}
	args := make([][]any, len(ins))
	for start := 0; start < n; start += batch {
		end := min(start+batch, n)
		if err := db.populateTx(ctx, raw, ins, full, args, start, end, perInsert); err != nil {
			return fmt.Errorf("accounts %d to %d: %w", start, end-1, err)
		}
		tick(end)
	}
	if db.Driver == "sqlite" {
		var busy, logPages, done int
		if err := raw.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logPages, &done); err != nil {
			return fmt.Errorf("wal checkpoint: %w", err)
		}
		if busy != 0 {
			db.logger.WarnContext(ctx, "the checkpoint after setup did not complete", "log_pages", logPages, "checkpointed", done)
		}
	}
	return nil
}

// populateTx writes accounts start to end-1 in one transaction.
func (db *database) populateTx(ctx context.Context, raw *sql.DB, ins []insert, full []*sql.Stmt, args [][]any, start, end, perInsert int) (err error) {
	tx, err := raw.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	for lo := start; lo < end; lo += perInsert {
		hi := min(lo+perInsert, end)
		for k := range args {
			args[k] = args[k][:0]
		}
		for i := lo; i < hi; i++ {
			p := generate(i)
			created := db.time(p.created)
			args[0] = append(args[0], p.id, "active", p.login, p.given, p.family, p.display, p.attributes(), provenance, created, created, 1)
			args[1] = append(args[1], p.id, p.email, true, true, benchSource, created, created)
			args[2] = append(args[2], benchSource, p.externalID, p.id, "active", p.snapshot(), created, created)
		}
		for k, in := range ins {
			var stmt *sql.Stmt
			if hi-lo == perInsert {
				stmt = tx.StmtContext(ctx, full[k])
			} else if stmt, err = tx.PrepareContext(ctx, in.sql(hi-lo, db.Driver == "postgres")); err != nil {
				return fmt.Errorf("prepare insert into %s: %w", in.table, err)
			}
			_, err := stmt.ExecContext(ctx, args[k]...)
			stmt.Close()
			if err != nil {
				return fmt.Errorf("insert into %s: %w", in.table, err)
			}
		}
	}
	return tx.Commit()
}

// time is a timestamp as the store binds it.
func (db *database) time(t time.Time) any {
	if db.Driver == "sqlite" {
		return t.UTC().Format(sqlstore.SQLiteTimeLayout)
	}
	return t.UTC()
}

// settle makes the database what it would be some time after a bulk load,
// before the timed phases: on PostgreSQL a VACUUM ANALYZE of the tables
// setup filled (what autovacuum does to a table that grew: statistics for
// the planner, the visibility map, hint bits set) and a CHECKPOINT (best
// effort: it needs the pg_checkpoint role or superuser). On SQLite
// nothing: populate checkpointed the WAL, and canonid does not run ANALYZE.
func (db *database) settle(ctx context.Context) error {
	if db.Admin == nil {
		return nil
	}
	if _, err := db.Admin.ExecContext(ctx, "VACUUM ANALYZE "+db.Name+".accounts, "+db.Name+".emails, "+db.Name+".links"); err != nil {
		return fmt.Errorf("vacuum analyze: %w", err)
	}
	if _, err := db.Admin.ExecContext(ctx, "CHECKPOINT"); err != nil {
		db.logger.DebugContext(ctx, "checkpoint before the timed phases", "err", err)
	}
	return nil
}

// rowCounts are what setup left, counted on a plain connection.
type rowCounts struct {
	Accounts        int `json:"accounts"`
	ActiveAccounts  int `json:"active_accounts"`
	Emails          int `json:"emails"`
	VerifiedPrimary int `json:"verified_primary_emails"`
	Links           int `json:"links"`
	APITokens       int `json:"api_tokens"`
	OutboxHead      int `json:"outbox_head"`
}

// count counts the rows setup wrote and checks them against n accounts
// and tokens API tokens, each created with one event.
func (db *database) count(ctx context.Context, raw *sql.DB, n, tokens int) (rowCounts, error) {
	var c rowCounts
	checks := []struct {
		query string
		dst   *int
		want  int
	}{
		{"SELECT count(*) FROM accounts", &c.Accounts, n},
		{"SELECT count(*) FROM accounts WHERE status = 'active' AND login IS NOT NULL AND merged_into IS NULL", &c.ActiveAccounts, n},
		{"SELECT count(*) FROM emails", &c.Emails, n},
		{"SELECT count(*) FROM emails WHERE verified AND is_primary", &c.VerifiedPrimary, n},
		{"SELECT count(*) FROM links WHERE source = '" + benchSource + "' AND status = 'active'", &c.Links, n},
		{"SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL", &c.APITokens, tokens},
		{"SELECT seq FROM outbox_head WHERE id = 1", &c.OutboxHead, tokens},
	}
	var errs []error
	for _, ch := range checks {
		if err := raw.QueryRowContext(ctx, ch.query).Scan(ch.dst); err != nil {
			return c, fmt.Errorf("%s: %w", ch.query, err)
		}
		if *ch.dst != ch.want {
			errs = append(errs, fmt.Errorf("%s: got %d, want %d", ch.query, *ch.dst, ch.want))
		}
	}
	return c, errors.Join(errs...)
}
