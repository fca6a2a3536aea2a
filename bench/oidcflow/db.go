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
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/canonid/canonid/bench/internal/benchenv"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/postgres"
	"github.com/canonid/canonid/store/sqlite"
)

// database is the one fresh database of a run, migrated by canonid's own
// Migrate, with a canonid store open on it: a file in a temporary directory
// for SQLite, a schema canonid_bench_<random> for PostgreSQL. raw is a
// plain connection of the store's driver and settings, for the untimed
// counts. drop closes both and removes the database.
type database struct {
	driver string
	name   string // file or schema, for messages
	dsn    string // what the store and the plain connection open
	store  store.Store
	raw    *sql.DB
	admin  *sql.DB // postgres: creates and drops the schema, runs CHECKPOINT
	logger *slog.Logger
	drop   func(ctx context.Context) error
}

// openFresh creates the run's database, opens and migrates a store on it
// and opens the plain connection.
func openFresh(ctx context.Context, cfg config) (_ *database, err error) {
	db := &database{driver: cfg.Driver, logger: cfg.Logger}
	switch cfg.Driver {
	case "sqlite":
		dir, err := os.MkdirTemp(cfg.Dir, "canonid-bench-")
		if err != nil {
			return nil, err
		}
		db.name = filepath.Join(dir, "oidcflow.db")
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
		db.dsn = withApplicationName(postgres.WithSearchPath(cfg.DSN, db.name))
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
	if db.raw, err = benchenv.OpenRaw(ctx, cfg.Driver, db.dsn); err != nil {
		db.store.Close()
		return nil, fmt.Errorf("plain connection: %w", err)
	}
	drop := db.drop
	db.drop = func(ctx context.Context) error { return errors.Join(db.raw.Close(), db.store.Close(), drop(ctx)) }
	return db, nil
}

// applicationName names the run's PostgreSQL sessions, so that
// pg_stat_activity tells them from others on a shared server.
const applicationName = "canonid_bench_oidcflow"

// withApplicationName sets application_name in dsn: a query parameter of a
// postgres:// URL, or a key=value pair appended to a key=value DSN.
func withApplicationName(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("application_name", applicationName)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return strings.TrimSpace(dsn) + " application_name=" + applicationName
}

// describe returns the database version and the settings that decide what
// a commit costs.
func (db *database) describe(ctx context.Context) (version, settings string, err error) {
	return benchenv.Describe(ctx, db.raw, db.driver)
}

// settle lets the database finish the previous phase's background work
// before a timed phase, best effort: a CHECKPOINT on PostgreSQL (it needs
// the pg_checkpoint role or superuser), a WAL checkpoint on SQLite, so
// that each phase starts with an empty WAL.
func (db *database) settle(ctx context.Context) {
	q, on := "PRAGMA wal_checkpoint(TRUNCATE)", db.raw
	if db.admin != nil {
		q, on = "CHECKPOINT", db.admin
	}
	if _, err := on.ExecContext(ctx, q); err != nil {
		db.logger.DebugContext(ctx, "checkpoint before phase", "err", err)
	}
}

// counts is what the database holds of what the phases write, read on the
// plain connection.
type counts struct {
	Events        map[string]int `json:"events"` // audit rows by type
	Outbox        int            `json:"outbox"`
	OutboxHead    int            `json:"outbox_head"`
	AccessTokens  int            `json:"access_tokens"`
	RefreshTokens int            `json:"refresh_tokens"`
	UsedRefresh   int            `json:"used_refresh_tokens"`
	Revoked       int            `json:"revoked_tokens"`
	AuthRequests  int            `json:"auth_requests"` // pending (not exchanged)
	Accounts      int            `json:"accounts"`
	Memberships   int            `json:"memberships"`
}

// count reads counts.
func (db *database) count(ctx context.Context) (counts, error) {
	c := counts{Events: map[string]int{}}
	rows, err := db.raw.QueryContext(ctx, "SELECT type, count(*) FROM audit_events GROUP BY type")
	if err != nil {
		return c, err
	}
	for rows.Next() {
		var typ string
		var n int
		if err := rows.Scan(&typ, &n); err != nil {
			rows.Close()
			return c, err
		}
		c.Events[typ] = n
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return c, err
	}
	for _, q := range []struct {
		sql string
		dst *int
	}{
		{"SELECT count(*) FROM outbox", &c.Outbox},
		{"SELECT seq FROM outbox_head WHERE id = 1", &c.OutboxHead},
		{"SELECT count(*) FROM oidc_tokens WHERE kind = 'access'", &c.AccessTokens},
		{"SELECT count(*) FROM oidc_tokens WHERE kind = 'refresh'", &c.RefreshTokens},
		{"SELECT count(*) FROM oidc_tokens WHERE kind = 'refresh' AND used_at IS NOT NULL", &c.UsedRefresh},
		{"SELECT count(*) FROM oidc_tokens WHERE revoked_at IS NOT NULL", &c.Revoked},
		{"SELECT count(*) FROM oidc_auth_requests", &c.AuthRequests},
		{"SELECT count(*) FROM accounts WHERE status = 'active'", &c.Accounts},
		{"SELECT count(*) FROM memberships", &c.Memberships},
	} {
		if err := db.raw.QueryRowContext(ctx, q.sql).Scan(q.dst); err != nil {
			return c, fmt.Errorf("%s: %w", q.sql, err)
		}
	}
	return c, nil
}

// totalEvents is the number of audit rows.
func (c counts) totalEvents() int {
	n := 0
	for _, v := range c.Events {
		n += v
	}
	return n
}

// waitSampler samples, on PostgreSQL, what the run's sessions are doing
// (pg_stat_activity, application_name = applicationName) every interval,
// while a phase runs: the busy sessions (in a transaction or running a
// statement), by class (waitClasses) and by state, wait event and
// statement.
type waitSampler struct {
	db      *sql.DB
	samples int
	classes map[string]int
	details map[string]int
	stop    chan struct{}
	done    chan error
}

// The classes of what a busy session is doing, in the order reported.
var waitClasses = []string{
	"waiting for the outbox_head row", // a lock wait on UPDATE outbox_head
	"waiting for another lock",
	"waiting for the WAL flush",
	"in a transaction, waiting for canonid", // idle in transaction
	"running",                               // active, no wait event
	"other",
}

// classify returns the class of a busy session and a more detailed key.
func classify(state, typ, event, query string) (class, detail string) {
	switch {
	case (typ == "Lock" || typ == "LWLock") && strings.HasPrefix(query, "UPDATE outbox_head"):
		class = waitClasses[0]
	case typ == "Lock" || typ == "LWLock":
		class = waitClasses[1]
	case typ == "IO" && strings.HasPrefix(event, "WAL"):
		class = waitClasses[2]
	case strings.HasPrefix(state, "idle in transaction"):
		class = waitClasses[3]
	case state == "active" && typ == "":
		class = waitClasses[4]
	default:
		class = waitClasses[5]
	}
	if typ != "" {
		return class, state + ", " + typ + ":" + event + ": " + query
	}
	return class, state + ": " + query
}

// sampleWaits starts sampling on admin; nil when admin is nil (SQLite).
func sampleWaits(ctx context.Context, admin *sql.DB, interval time.Duration) *waitSampler {
	if admin == nil {
		return nil
	}
	w := &waitSampler{db: admin, classes: map[string]int{}, details: map[string]int{}, stop: make(chan struct{}), done: make(chan error, 1)}
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				w.done <- nil
				return
			case <-ctx.Done():
				w.done <- ctx.Err()
				return
			case <-t.C:
				if err := w.sample(ctx); err != nil {
					w.done <- err
					return
				}
			}
		}
	}()
	return w
}

func (w *waitSampler) sample(ctx context.Context) error {
	rows, err := w.db.QueryContext(ctx, `SELECT state, coalesce(wait_event_type, ''), coalesce(wait_event, ''), left(regexp_replace(query, '\s+', ' ', 'g'), 40)
		FROM pg_stat_activity WHERE application_name = $1 AND state <> 'idle'`, applicationName)
	if err != nil {
		return err
	}
	defer rows.Close()
	w.samples++
	for rows.Next() {
		var state, typ, event, query string
		if err := rows.Scan(&state, &typ, &event, &query); err != nil {
			return err
		}
		class, detail := classify(state, typ, event, query)
		w.classes[class]++
		w.details[detail]++
	}
	return rows.Err()
}

// waitReport is what the samples of a phase show.
type waitReport struct {
	// Busy is the average number of busy sessions per sample.
	Busy float64 `json:"busy_sessions"`
	// Classes are the share of the session samples in each class, in the
	// order of waitClasses, those with none left out.
	Classes []string `json:"classes"`
	// Top are the most frequent states, wait events and statements.
	Top []string `json:"top"`
}

// finish stops sampling and reports; the zero report when w is nil.
func (w *waitSampler) finish(top int) (waitReport, error) {
	var r waitReport
	if w == nil {
		return r, nil
	}
	close(w.stop)
	if err := <-w.done; err != nil {
		return r, fmt.Errorf("sample pg_stat_activity: %w", err)
	}
	total := 0
	for _, n := range w.classes {
		total += n
	}
	if total == 0 || w.samples == 0 {
		return r, nil
	}
	share := func(n int) string { return fmt.Sprintf("%.0f%%", 100*float64(n)/float64(total)) }
	r.Busy = float64(total) / float64(w.samples)
	for _, c := range waitClasses {
		if n := w.classes[c]; n > 0 {
			r.Classes = append(r.Classes, share(n)+" "+c)
		}
	}
	keys := make([]string, 0, len(w.details))
	for k := range w.details {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return w.details[b] - w.details[a] })
	for _, k := range keys[:min(top, len(keys))] {
		r.Top = append(r.Top, share(w.details[k])+" "+k)
	}
	return r, nil
}
