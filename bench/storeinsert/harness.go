package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/canonid/canonid/bench/internal/benchdb"
	"github.com/canonid/canonid/bench/internal/benchenv"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/sqlstore"
)

// phase names one measurement.
type phase string

// The phases. Each runs on a database of its own, fresh and migrated.
const (
	// phaseUnbatched writes through the store, one Update per account:
	// how the connectors write today.
	phaseUnbatched phase = "a"
	// phaseBatched writes through the store, batch accounts per Update:
	// how a bulk import would write.
	phaseBatched phase = "b"
	// phaseReference inserts the same data rows with prepared statements
	// on a plain connection, batch accounts per transaction, without
	// audit or outbox: what the database itself takes.
	phaseReference phase = "c"
)

var allPhases = []phase{phaseUnbatched, phaseBatched, phaseReference}

// parsePhases reads a comma-separated list such as "a,b,c". It returns the
// phases it understood and an error naming every one it did not.
func parsePhases(s string) ([]phase, error) {
	var out []phase
	var errs []error
	seen := map[phase]bool{}
	for _, f := range strings.Split(s, ",") {
		p := phase(strings.TrimSpace(f))
		switch {
		case p != phaseUnbatched && p != phaseBatched && p != phaseReference:
			errs = append(errs, fmt.Errorf("phases: unknown phase %q (want a, b or c)", p))
		case seen[p]:
			errs = append(errs, fmt.Errorf("phases: %q given twice", p))
		default:
			seen[p] = true
			out = append(out, p)
		}
	}
	return out, errors.Join(errs...)
}

// canonid reports whether the phase writes through the store.
func (p phase) canonid() bool { return p != phaseReference }

// accountsPerTx is how many accounts one transaction of the phase writes.
func (p phase) accountsPerTx(batch int) int {
	if p == phaseUnbatched {
		return 1
	}
	return batch
}

func (p phase) title(batch int) string {
	switch p {
	case phaseUnbatched:
		return "(a) canonid, one Update per account"
	case phaseBatched:
		return fmt.Sprintf("(b) canonid, %d accounts per Update", batch)
	default:
		return fmt.Sprintf("(c) reference: prepared INSERTs, %d accounts per tx", batch)
	}
}

// config is one run of the harness.
type config struct {
	Driver string // "sqlite" or "postgres"
	DSN    string // postgres: the server; each phase gets a schema of its own
	Dir    string // sqlite: where the temporary directory goes; "" for the system's
	N      int    // accounts per phase
	Batch  int    // accounts per transaction in phases b and c
	Phases []phase
	// SchemaPrefix names the PostgreSQL schemas (default canonid_bench_).
	SchemaPrefix string
	Logger       *slog.Logger
	// Progress, if set, receives a line every ProgressEvery during a phase.
	Progress      io.Writer
	ProgressEvery time.Duration
	// inspect, if set, is called after each phase with the canonid store
	// open on that phase's database, before the database is dropped. For
	// tests.
	inspect func(ctx context.Context, p phase, st store.Store) error
}

func (c config) validate() error {
	var errs []error
	errs = append(errs, benchdb.CheckDriver(c.Driver, c.DSN))
	if c.N <= 0 {
		errs = append(errs, fmt.Errorf("n: must be positive, got %d", c.N))
	}
	if c.Batch <= 0 {
		errs = append(errs, fmt.Errorf("batch: must be positive, got %d", c.Batch))
	}
	if len(c.Phases) == 0 {
		errs = append(errs, errors.New("phases: none given"))
	}
	return errors.Join(errs...)
}

// report is everything a run measured, and on what.
type report struct {
	benchenv.Env
	Batch  int           `json:"batch"`
	Phases []phaseResult `json:"phases"`
}

// phaseResult is the measurement of one phase.
type phaseResult struct {
	Phase          phase         `json:"phase"`
	Title          string        `json:"title"`
	Accounts       int           `json:"accounts"`
	AccountsPerTx  int           `json:"accounts_per_tx"`
	Transactions   int           `json:"transactions"`
	Rows           int           `json:"rows"` // rows inserted, audit and outbox included
	Elapsed        time.Duration `json:"-"`
	ElapsedSeconds float64       `json:"elapsed_seconds"`
	AccountsPerSec float64       `json:"accounts_per_sec"`
	RowsPerSec     float64       `json:"rows_per_sec"`
	// Ratio is the reference's accounts/s divided by this phase's: how
	// many times slower than raw inserts. 0 when the run had no reference.
	Ratio float64 `json:"ratio_to_reference,omitempty"`
}

// run measures cfg.Phases, in order, each on a fresh database.
func run(ctx context.Context, cfg config) (*report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srv, err := benchdb.Open(ctx, benchdb.Config{
		Driver: cfg.Driver, DSN: cfg.DSN, Dir: cfg.Dir, SchemaPrefix: cfg.SchemaPrefix, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	rep := &report{Env: benchenv.NewEnv(cfg.Driver), Batch: cfg.Batch}
	var errs []error
	for _, p := range cfg.Phases {
		res, err := runPhase(ctx, srv, cfg, p, rep)
		if err != nil {
			errs = append(errs, fmt.Errorf("phase %s: %w", p, err))
			break
		}
		rep.Phases = append(rep.Phases, res)
	}
	if err := srv.Close(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var ref float64
	for _, r := range rep.Phases {
		if r.Phase == phaseReference {
			ref = r.AccountsPerSec
		}
	}
	for i := range rep.Phases {
		if ref > 0 && rep.Phases[i].AccountsPerSec > 0 {
			rep.Phases[i].Ratio = ref / rep.Phases[i].AccountsPerSec
		}
	}
	return rep, nil
}

// runPhase generates the phase's accounts, creates its database (a file
// phase-<p>.db, or a schema of its own), times the inserts, then checks the
// row counts and drops the database. The database description of rep is
// filled from the first phase.
func runPhase(ctx context.Context, srv *benchdb.Server, cfg config, p phase, rep *report) (_ phaseResult, err error) {
	ppl, err := people(p, cfg.N)
	if err != nil {
		return phaseResult{}, err
	}
	db, err := srv.Fresh(ctx, "phase-"+string(p))
	if err != nil {
		return phaseResult{}, err
	}
	defer func() { err = errors.Join(err, db.Drop(context.WithoutCancel(ctx))) }()
	raw, err := benchenv.OpenRaw(ctx, db.Driver, db.DSN)
	if err != nil {
		return phaseResult{}, fmt.Errorf("reference connection: %w", err)
	}
	defer raw.Close()
	if rep.DBVersion == "" {
		if rep.DBVersion, rep.DBSettings, err = benchenv.Describe(ctx, raw, db.Driver); err != nil {
			return phaseResult{}, fmt.Errorf("describe database: %w", err)
		}
	}

	perTx := p.accountsPerTx(cfg.Batch)
	tick := progress(cfg, p, len(ppl))
	db.Checkpoint(ctx)
	runtime.GC()
	start := time.Now()
	if p.canonid() {
		err = insertStore(ctx, db.Store, ppl, perTx, tick)
	} else {
		err = insertRaw(ctx, raw, cfg.Driver, ppl, perTx, tick)
	}
	elapsed := time.Since(start)
	if err != nil {
		return phaseResult{}, err
	}

	// Check, untimed, that the phase wrote what it claims.
	if err := checkCounts(ctx, raw, p, len(ppl)); err != nil {
		return phaseResult{}, err
	}
	if cfg.inspect != nil {
		if err := cfg.inspect(ctx, p, db.Store); err != nil {
			return phaseResult{}, fmt.Errorf("inspect: %w", err)
		}
	}

	rowsPerAccount := dataRowsPerAccount
	if p.canonid() {
		rowsPerAccount += eventRowsPerAccount
	}
	secs := elapsed.Seconds()
	return phaseResult{
		Phase: p, Title: p.title(cfg.Batch),
		Accounts: len(ppl), AccountsPerTx: min(perTx, len(ppl)), Transactions: (len(ppl) + perTx - 1) / perTx,
		Rows:    len(ppl) * rowsPerAccount,
		Elapsed: elapsed, ElapsedSeconds: secs,
		AccountsPerSec: float64(len(ppl)) / secs,
		RowsPerSec:     float64(len(ppl)*rowsPerAccount) / secs,
	}, nil
}

// progress returns a function, called with the number of accounts written,
// that prints a line to cfg.Progress at most every cfg.ProgressEvery.
func progress(cfg config, p phase, n int) func(done int) {
	if cfg.Progress == nil || cfg.ProgressEvery <= 0 {
		return func(int) {}
	}
	start := time.Now()
	last := start
	return func(done int) {
		if now := time.Now(); now.Sub(last) >= cfg.ProgressEvery {
			last = now
			el := now.Sub(start)
			fmt.Fprintf(cfg.Progress, "phase %s: %d/%d accounts in %s (%.0f accounts/s)\n",
				p, done, n, el.Round(time.Second), float64(done)/el.Seconds())
		}
	}
}

// insertStore writes ppl through the store, perTx accounts per Update, as a
// connector does: the account, its two links, its two e-mails and the
// account.created event.
func insertStore(ctx context.Context, st store.Store, ppl []person, perTx int, tick func(int)) error {
	for start := 0; start < len(ppl); start += perTx {
		chunk := ppl[start:min(start+perTx, len(ppl))]
		err := st.Update(ctx, func(tx store.Tx) error {
			for i := range chunk {
				if err := writePerson(ctx, tx, &chunk[i]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("accounts %d to %d: %w", start, start+len(chunk)-1, err)
		}
		tick(start + len(chunk))
	}
	return nil
}

func writePerson(ctx context.Context, tx store.Tx, pr *person) error {
	if err := tx.Accounts().Create(ctx, &pr.account); err != nil {
		return err
	}
	for i := range pr.links {
		if err := tx.Links().Create(ctx, &pr.links[i]); err != nil {
			return err
		}
	}
	for i := range pr.emails {
		if err := tx.Emails().Add(ctx, &pr.emails[i]); err != nil {
			return err
		}
	}
	return tx.Record(ctx, store.Event{
		Type: identity.EventAccountCreated, Actor: "bench", AccountID: pr.account.ID, Data: pr.created,
	})
}

// The reference statements: the columns and values the store binds.
const (
	insertAccount = `INSERT INTO accounts (id, status, login, given_name, family_name, display_name, birth_date, phone,
		attributes, provenance, consents, password_hash, merged_into, last_login_at, created_at, updated_at, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	insertLink = `INSERT INTO links (source, external_id, account_id, status, attributes, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`
	insertEmail = `INSERT INTO emails (account_id, address, verified, is_primary, source, created_at, verified_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`
)

// insertRaw is the reference: the same data rows as insertStore, with
// prepared statements on a plain connection, perTx accounts per
// transaction, no audit and no outbox.
func insertRaw(ctx context.Context, db *sql.DB, driver string, ppl []person, perTx int, tick func(int)) error {
	numbered := driver == "postgres"
	for start := 0; start < len(ppl); start += perTx {
		chunk := ppl[start:min(start+perTx, len(ppl))]
		if err := insertRawTx(ctx, db, numbered, chunk); err != nil {
			return fmt.Errorf("accounts %d to %d: %w", start, start+len(chunk)-1, err)
		}
		tick(start + len(chunk))
	}
	return nil
}

func insertRawTx(ctx context.Context, db *sql.DB, numbered bool, chunk []person) (err error) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	var ts any = now
	if !numbered {
		ts = now.Format(sqlstore.SQLiteTimeLayout)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	var stmts [3]*sql.Stmt
	for i, q := range []string{insertAccount, insertLink, insertEmail} {
		if stmts[i], err = tx.PrepareContext(ctx, rebind(q, numbered)); err != nil {
			return err
		}
		defer stmts[i].Close()
	}
	acc, link, email := stmts[0], stmts[1], stmts[2]
	for i := range chunk {
		pr := &chunk[i]
		a := &pr.account
		if _, err := acc.ExecContext(ctx, a.ID, string(a.Status), a.Login, a.GivenName, a.FamilyName, a.DisplayName, a.BirthDate, a.Phone,
			pr.attrs, pr.provenance, pr.consents, a.PasswordHash, nil, nil, ts, ts, 1); err != nil {
			return fmt.Errorf("account %s: %w", a.ID, err)
		}
		for j, l := range pr.links {
			if _, err := link.ExecContext(ctx, l.Source, l.ExternalID, l.AccountID, string(l.Status), pr.linkAttrs[j], ts, ts); err != nil {
				return fmt.Errorf("link %s/%s: %w", l.Source, l.ExternalID, err)
			}
		}
		for _, e := range pr.emails {
			var verifiedAt any
			if e.Verified {
				verifiedAt = ts
			}
			if _, err := email.ExecContext(ctx, e.AccountID, e.Address, e.Verified, e.Primary, e.Source, ts, verifiedAt); err != nil {
				return fmt.Errorf("e-mail %s: %w", e.Address, err)
			}
		}
	}
	return tx.Commit()
}

// rebind turns "?" placeholders into "$1", "$2"... for PostgreSQL.
func rebind(q string, numbered bool) string {
	if !numbered {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// checkCounts verifies that the phase's database holds exactly the rows the
// phase claims to have written.
func checkCounts(ctx context.Context, db *sql.DB, p phase, n int) error {
	events := 0
	if p.canonid() {
		events = n
	}
	want := []struct {
		query string
		n     int
	}{
		{"SELECT count(*) FROM accounts", n},
		{"SELECT count(*) FROM links", 2 * n},
		{"SELECT count(*) FROM emails", 2 * n},
		{"SELECT count(*) FROM emails WHERE verified AND is_primary", n},
		{"SELECT count(*) FROM audit_events", events},
		{"SELECT count(*) FROM outbox", events},
		{"SELECT seq FROM outbox_head WHERE id = 1", events},
	}
	var errs []error
	for _, w := range want {
		var got int
		if err := db.QueryRowContext(ctx, w.query).Scan(&got); err != nil {
			return fmt.Errorf("%s: %w", w.query, err)
		}
		if got != w.n {
			errs = append(errs, fmt.Errorf("%s: got %d, want %d", w.query, got, w.n))
		}
	}
	return errors.Join(errs...)
}
