package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/canonid/canonid/bench/internal/benchdb"
	"github.com/canonid/canonid/bench/internal/benchenv"
)

// database is the one fresh database of a run (benchdb.OpenFresh),
// migrated by canonid's own Migrate, with a canonid store open on it: a
// file in a temporary directory for SQLite, a schema canonid_bench_<random>
// for PostgreSQL. Raw is a plain connection of the store's driver and
// settings, for the untimed counts. Drop closes both and removes the
// database.
type database struct {
	*benchdb.DB
}

// openFresh creates the run's database, opens and migrates a store on it
// and opens the plain connection.
func openFresh(ctx context.Context, cfg config) (*database, error) {
	db, err := benchdb.OpenFresh(ctx, benchdb.Config{
		Driver: cfg.Driver, DSN: cfg.DSN, Dir: cfg.Dir, SchemaPrefix: cfg.SchemaPrefix,
		ApplicationName: applicationName, Raw: true, Logger: cfg.Logger,
	}, "oidcflow")
	if err != nil {
		return nil, err
	}
	return &database{DB: db}, nil
}

// applicationName names the run's PostgreSQL sessions, so that
// pg_stat_activity tells them from others on a shared server.
const applicationName = "canonid_bench_oidcflow"

// describe returns the database version and the settings that decide what
// a commit costs.
func (db *database) describe(ctx context.Context) (version, settings string, err error) {
	return benchenv.Describe(ctx, db.Raw, db.Driver)
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
	rows, err := db.Raw.QueryContext(ctx, "SELECT type, count(*) FROM audit_events GROUP BY type")
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
		if err := db.Raw.QueryRowContext(ctx, q.sql).Scan(q.dst); err != nil {
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
