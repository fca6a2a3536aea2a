package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"time"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/bench/internal/benchdb"
	"github.com/canonid/canonid/bench/internal/benchenv"
	"github.com/canonid/canonid/bench/internal/latency"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

// benchActor is the actor of every event the harness causes.
const benchActor = "bench"

// The phases, timed one after the other on the same store, from one
// goroutine.
const (
	phaseMerge     = "merge"
	phaseUndo      = "undo"
	phaseReference = "reference"
)

// config is one run of the harness.
type config struct {
	Driver string // "sqlite" or "postgres"
	DSN    string // postgres: the server; the run gets a schema of its own
	Dir    string // sqlite: where the temporary directory goes; "" for the system's
	N      int    // merges to time; setup writes 2N accounts
	Batch  int    // accounts per Update during setup
	// SchemaPrefix names the PostgreSQL schema (default canonid_bench_).
	SchemaPrefix string
	Logger       *slog.Logger
	// Progress, if set, receives a line every ProgressEvery during setup
	// and the timed phases.
	Progress      io.Writer
	ProgressEvery time.Duration
	// inspect, if set, is called after the run's own verification with
	// the store still open, before the database is dropped. For tests.
	inspect func(ctx context.Context, r *runState) error
}

// runState is what a run leaves for verify: the store, the snapshot taken
// after setup, the accounts setup wrote and the ids of the merges made.
type runState struct {
	store    store.Store
	before   identity.Snapshot
	ppl      []person
	mergeIDs []string
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
	return errors.Join(errs...)
}

// report is everything a run measured, and on what.
type report struct {
	benchenv.Env
	Machine string `json:"machine"`
	// N is the number of merges; setup wrote 2N accounts.
	N                     int           `json:"n"`
	Accounts              int           `json:"accounts"`
	LinksPerAccount       int           `json:"links_per_account"`
	EmailsPerAccount      int           `json:"emails_per_account"`
	MembershipsPerAccount int           `json:"memberships_per_account"`
	Setup                 time.Duration `json:"-"`
	SetupSeconds          float64       `json:"setup_seconds"`
	Phases                []phaseResult `json:"phases"`
}

// phaseResult is the latency distribution of one phase.
type phaseResult struct {
	Phase string `json:"phase"`
	Title string `json:"title"`
	stats
	// RatioP50 and RatioP99 are this phase's p50 and p99 divided by the
	// reference's, measured in the same run on the same store.
	RatioP50 float64 `json:"ratio_p50_to_reference"`
	RatioP99 float64 `json:"ratio_p99_to_reference"`
}

// stats are a phase's latencies (latency.Summarize) and their total.
type stats struct {
	latency.Stats
	TotalSeconds float64 `json:"total_seconds"`
}

// summarize sorts lat (in place) and returns its statistics.
func summarize(lat []time.Duration) stats {
	s := latency.Summarize(lat)
	return stats{Stats: s, TotalSeconds: s.Total.Seconds()}
}

// run sets up 2N accounts on a fresh database, times the three phases,
// verifies the result and drops the database.
func run(ctx context.Context, cfg config) (_ *report, err error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ppl, err := people(cfg.N)
	if err != nil {
		return nil, err
	}
	db, err := openFresh(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, db.Drop(context.WithoutCancel(ctx))) }()

	rep := &report{
		Env: benchenv.NewEnv(cfg.Driver), N: cfg.N, Accounts: len(ppl), LinksPerAccount: linksPerAccount,
		EmailsPerAccount: emailsPerAccount, MembershipsPerAccount: membershipsPerAccount,
	}
	if rep.DBVersion, rep.DBSettings, err = db.describe(ctx); err != nil {
		return nil, fmt.Errorf("describe database: %w", err)
	}
	rep.Machine = rep.MachineLine()

	// Setup, untimed by the phases.
	start := time.Now()
	if err := setup(ctx, db.Store, ppl, cfg.Batch, progress(cfg, "setup", len(ppl))); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	rep.Setup = time.Since(start)
	rep.SetupSeconds = rep.Setup.Seconds()
	before, err := snapshot(ctx, db.Store)
	if err != nil {
		return nil, fmt.Errorf("snapshot after setup: %w", err)
	}

	svc := accounts.New(db.Store, accounts.DefaultConfig(), cfg.Logger)
	ids := make([]string, len(ppl))
	for i := range ppl {
		ids[i] = ppl[i].account.ID
	}
	mergeIDs := make([]string, cfg.N)
	phases := []struct {
		name, title string
		call        func(i int) error
	}{
		{phaseMerge, "merge: accounts.Service.Merge", func(i int) error {
			rec, err := svc.Merge(ctx, accounts.MergeRequest{SurvivorID: ids[2*i], RetiredID: ids[2*i+1],
				Reason: identity.MergeByAdmin, Actor: benchActor})
			mergeIDs[i] = rec.ID
			return err
		}},
		{phaseUndo, "undo: accounts.Service.Undo", func(i int) error {
			_, err := svc.Undo(ctx, mergeIDs[i], benchActor)
			return err
		}},
		{phaseReference, "reference: read-modify-write of one account", func(i int) error {
			return touch(ctx, db.Store, ids[2*i], i)
		}},
	}
	for _, p := range phases {
		db.Checkpoint(ctx)
		runtime.GC()
		lat, err := timeEach(cfg.N, p.call, progress(cfg, p.name, cfg.N))
		if err != nil {
			return nil, fmt.Errorf("phase %s: %w", p.name, err)
		}
		rep.Phases = append(rep.Phases, phaseResult{Phase: p.name, Title: p.title, stats: summarize(lat)})
	}
	ref := rep.Phases[len(rep.Phases)-1]
	if ref.P50 <= 0 || ref.P99 <= 0 {
		return nil, fmt.Errorf("phase %s: p50 %v, p99 %v: the clock did not move", ref.Phase, ref.P50, ref.P99)
	}
	for i := range rep.Phases {
		rep.Phases[i].RatioP50 = float64(rep.Phases[i].P50) / float64(ref.P50)
		rep.Phases[i].RatioP99 = float64(rep.Phases[i].P99) / float64(ref.P99)
	}

	// Verify, untimed.
	state := &runState{store: db.Store, before: before, ppl: ppl, mergeIDs: mergeIDs}
	if err := verify(ctx, state); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	if cfg.inspect != nil {
		if err := cfg.inspect(ctx, state); err != nil {
			return nil, fmt.Errorf("inspect: %w", err)
		}
	}
	return rep, nil
}

// timeEach calls call(0) to call(n-1) in order and returns how long each
// call took. It stops at the first error.
func timeEach(n int, call func(i int) error, tick func(int)) ([]time.Duration, error) {
	lat := make([]time.Duration, n)
	for i := range n {
		start := time.Now()
		err := call(i)
		lat[i] = time.Since(start)
		if err != nil {
			return nil, fmt.Errorf("call %d of %d: %w", i+1, n, err)
		}
		tick(i + 1)
	}
	return lat, nil
}

// touch is the reference transaction: the smallest read-modify-write of one
// account through the store — read it, set its phone, write it, record
// account.updated. One Update: begin, a locking read, one row write, the
// audit and outbox rows and the outbox head, commit.
func touch(ctx context.Context, st store.Store, id string, i int) error {
	return st.Update(ctx, func(tx store.Tx) error {
		a, err := tx.Accounts().Get(ctx, id)
		if err != nil {
			return err
		}
		a.Phone = referencePhone(i)
		if err := tx.Accounts().Update(ctx, &a); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: identity.EventAccountUpdated, Actor: benchActor, AccountID: id,
			Data: map[string][]string{"fields": {identity.FieldPhone}}})
	})
}

// referencePhone is the phone number the reference phase gives survivor i.
func referencePhone(i int) string {
	return fmt.Sprintf("+33 7 00 %02d %02d %02d", i/10000%100, i/100%100, i%100)
}

// progress returns a function, called with the number of operations done,
// that prints a line to cfg.Progress at most every cfg.ProgressEvery.
func progress(cfg config, what string, n int) func(done int) {
	if cfg.Progress == nil || cfg.ProgressEvery <= 0 {
		return func(int) {}
	}
	start := time.Now()
	last := start
	return func(done int) {
		if now := time.Now(); now.Sub(last) >= cfg.ProgressEvery {
			last = now
			el := now.Sub(start)
			fmt.Fprintf(cfg.Progress, "%s: %d/%d in %s (%.0f/s)\n", what, done, n, el.Round(time.Second), float64(done)/el.Seconds())
		}
	}
}
