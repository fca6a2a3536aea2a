package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/bench/internal/benchdb"
	"github.com/canonid/canonid/bench/internal/benchenv"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

// referencePage is how many accounts one Accounts().List call of the
// reference reads.
const referencePage = 10000

// config is one run of the harness.
type config struct {
	Driver string // "sqlite" or "postgres"
	DSN    string // postgres: the server; the run gets a schema of its own
	Dir    string // sqlite: where the temporary directory goes; "" for the system's
	N      int    // accounts
	Batch  int    // accounts per Update during setup
	Runs   int    // how many times the two timed phases run, one after the other
	// SchemaPrefix names the PostgreSQL schema (default canonid_bench_).
	SchemaPrefix string
	Logger       *slog.Logger
	// Progress, if set, receives a line every ProgressEvery during setup.
	Progress      io.Writer
	ProgressEvery time.Duration
	// CPUProfile, if set, receives a CPU profile of the first full run.
	CPUProfile io.Writer
	// inspect, if set, is called after the last full run with the store
	// and that run's report, before the database is dropped. For tests.
	inspect func(ctx context.Context, st store.Store, dup accounts.DuplicateReport) error
}

func (c config) validate() error {
	var errs []error
	errs = append(errs, benchdb.CheckDriver(c.Driver, c.DSN))
	if c.N < 2 {
		errs = append(errs, fmt.Errorf("n: must be at least 2, got %d", c.N))
	}
	if c.Batch <= 0 {
		errs = append(errs, fmt.Errorf("batch: must be positive, got %d", c.Batch))
	}
	if c.Runs <= 0 {
		errs = append(errs, fmt.Errorf("runs: must be positive, got %d", c.Runs))
	}
	return errors.Join(errs...)
}

// report is everything a run measured, and on what.
type report struct {
	benchenv.Env

	N     int         `json:"n"`
	Batch int         `json:"batch"`
	Setup setupResult `json:"setup"`
	// Expect is what the generator says the run must find.
	Expect expectation `json:"expect"`
	// Rows are counted on a plain connection after setup.
	Rows    rowCounts   `json:"rows"`
	DBBytes int64       `json:"db_bytes"`
	Runs    []runResult `json:"runs"`
	// FalsePositives counts the suggestions of the last full run that are
	// not planted pairs by the fields that matched, e.g.
	// "family_name+given_name+birth_date".
	FalsePositives map[string]int `json:"false_positives_by_matches"`
	// PeakRSSKB is the peak resident set of the whole process, setup
	// included (VmHWM at the end).
	PeakRSSKB int64 `json:"peak_rss_kb"`
}

// setupResult is the untimed-for-the-goal part of a run: generating the
// accounts and writing them through the store.
type setupResult struct {
	Generate        time.Duration `json:"-"`
	GenerateSeconds float64       `json:"generate_seconds"`
	Write           time.Duration `json:"-"`
	WriteSeconds    float64       `json:"write_seconds"`
	Transactions    int           `json:"transactions"`
	// PeakRSSKB is the peak resident set up to the end of setup, the
	// generated accounts and the generator's key counts included.
	PeakRSSKB int64 `json:"peak_rss_kb"`
}

// rowCounts are the rows setup left, counted on a plain connection.
type rowCounts struct {
	Accounts     int `json:"accounts"`
	Emails       int `json:"emails"`
	BlockingKeys int `json:"blocking_keys"`
	AuditEvents  int `json:"audit_events"`
}

// runResult is one pass of the two timed phases.
type runResult struct {
	Reference         time.Duration `json:"-"`
	ReferenceSeconds  float64       `json:"reference_seconds"`
	ReferenceCPU      float64       `json:"reference_cpu_seconds"`
	ReferenceAccounts int           `json:"reference_accounts"`
	ReferencePeakKB   int64         `json:"reference_peak_rss_kb"`

	FullRun        time.Duration `json:"-"`
	FullRunSeconds float64       `json:"full_run_seconds"`
	FullRunCPU     float64       `json:"full_run_cpu_seconds"`
	Pairs          int           `json:"pairs"`
	Dismissed      int           `json:"dismissed"`
	Suggestions    int           `json:"suggestions"`
	// Found counts the planted pairs suggested; Missed the expected ones
	// (see expectation.Expected) that were not: it should be 0.
	Found          int   `json:"found"`
	Missed         int   `json:"missed"`
	FalsePositives int   `json:"false_positives"`
	FullRunPeakKB  int64 `json:"full_run_peak_rss_kb"`
	// BaseRSSKB is the resident set before the phases, once setup's
	// memory is returned to the system.
	BaseRSSKB int64 `json:"base_rss_kb"`

	// Ratio is the full run's elapsed time divided by the reference's.
	Ratio float64 `json:"ratio_to_reference"`
	// On a shared machine, whether something else was running during the
	// full run: the CPU time other processes used (the machine's busy time,
	// from /proc/stat, minus this process's), the time the hypervisor gave
	// this VM's CPUs to others (steal), and /proc/loadavg after the run.
	OthersCPU float64 `json:"full_run_others_cpu_seconds"`
	StealCPU  float64 `json:"full_run_steal_seconds"`
	LoadAvg   string  `json:"loadavg"`
}

// run generates the population, writes it through the store, then times
// the reference and the full run cfg.Runs times, on one fresh database.
func run(ctx context.Context, cfg config) (_ *report, err error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	rep := &report{Env: benchenv.NewEnv(cfg.Driver), N: cfg.N, Batch: cfg.Batch}

	// Generation, and what the generator says must be found.
	start := time.Now()
	pop, err := generate(cfg.N)
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	rep.Expect = expect(pop)
	rep.Setup.Generate = time.Since(start)

	db, err := openDatabase(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, db.Drop(context.WithoutCancel(ctx))) }()
	if rep.DBVersion, rep.DBSettings, err = benchenv.Describe(ctx, db.Raw, db.Driver, "fsync", "synchronous_commit", "shared_buffers", "work_mem"); err != nil {
		return nil, fmt.Errorf("describe database: %w", err)
	}

	// Writing, through the store, as a bulk import would.
	start = time.Now()
	if rep.Setup.Transactions, err = write(ctx, db.Store, pop.records, cfg.Batch, progress(cfg, len(pop.records))); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	rep.Setup.Write = time.Since(start)
	rep.Setup.GenerateSeconds, rep.Setup.WriteSeconds = rep.Setup.Generate.Seconds(), rep.Setup.Write.Seconds()
	if err := db.settle(ctx, cfg.Logger); err != nil {
		return nil, fmt.Errorf("settle: %w", err)
	}
	if err := checkRows(ctx, db, rep); err != nil {
		return nil, err
	}
	if rep.DBBytes, err = db.size(ctx); err != nil {
		return nil, fmt.Errorf("database size: %w", err)
	}
	rep.Setup.PeakRSSKB = procStatus("VmHWM")

	// The generated accounts are not needed any more: give their memory
	// back so that the phases' peaks are theirs.
	exp := rep.Expect
	pop = nil
	debug.FreeOSMemory()

	svc := accounts.New(db.Store, accounts.DefaultConfig(), cfg.Logger)
	for i := range cfg.Runs {
		r, dup, err := timedRun(ctx, cfg, db.Store, svc, &exp, i == 0)
		if err != nil {
			return nil, fmt.Errorf("run %d: %w", i+1, err)
		}
		rep.Runs = append(rep.Runs, r)
		if i == cfg.Runs-1 {
			rep.FalsePositives = falsePositives(dup, &exp)
			if cfg.inspect != nil {
				if err := cfg.inspect(ctx, db.Store, dup); err != nil {
					return nil, fmt.Errorf("inspect: %w", err)
				}
			}
		}
	}
	rep.PeakRSSKB = max(procStatus("VmHWM"), rep.Setup.PeakRSSKB)
	return rep, nil
}

// write stores the records through the store, batch accounts per Update: the
// account, its address and an account.created event each, so that the store
// computes the blocking keys at commit as it does in production. It returns
// the number of transactions.
func write(ctx context.Context, st store.Store, recs []record, batch int, tick func(int)) (int, error) {
	txs := 0
	for start := 0; start < len(recs); start += batch {
		chunk := recs[start:min(start+batch, len(recs))]
		err := st.Update(ctx, func(tx store.Tx) error {
			for i := range chunk {
				if err := writeRecord(ctx, tx, &chunk[i]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return txs, fmt.Errorf("accounts %d to %d: %w", start, start+len(chunk)-1, err)
		}
		txs++
		tick(start + len(chunk))
	}
	return txs, nil
}

func writeRecord(ctx context.Context, tx store.Tx, r *record) error {
	if err := tx.Accounts().Create(ctx, &r.account); err != nil {
		return err
	}
	if err := tx.Emails().Add(ctx, &r.email); err != nil {
		return err
	}
	return tx.Record(ctx, store.Event{
		Type: identity.EventAccountCreated, Actor: "bench", AccountID: r.account.ID, Data: r.created,
	})
}

// checkRows counts, on the plain connection, what setup wrote, and checks
// it against the generator: one account, one address and one event per
// record, and as many blocking keys as identity.BlockingKeys gives.
func checkRows(ctx context.Context, db *database, rep *report) error {
	var err error
	counts := []struct {
		query string
		dst   *int
		want  int
	}{
		{"SELECT count(*) FROM accounts", &rep.Rows.Accounts, rep.N},
		{"SELECT count(*) FROM emails", &rep.Rows.Emails, rep.N},
		{"SELECT count(*) FROM blocking_keys", &rep.Rows.BlockingKeys, rep.Expect.Keys},
		{"SELECT count(*) FROM audit_events", &rep.Rows.AuditEvents, rep.N},
	}
	var errs []error
	for _, c := range counts {
		if *c.dst, err = db.count(ctx, c.query); err != nil {
			return err
		}
		if *c.dst != c.want {
			errs = append(errs, fmt.Errorf("%s: got %d, want %d", c.query, *c.dst, c.want))
		}
	}
	return errors.Join(errs...)
}

// timedRun times the reference, then the full run, each with the peak
// resident set reset before it where the system allows.
func timedRun(ctx context.Context, cfg config, st store.Store, svc *accounts.Service, exp *expectation, first bool) (runResult, accounts.DuplicateReport, error) {
	var r runResult
	// Each phase starts with the memory of the previous one given back to
	// the system, so that its peak is its own.
	debug.FreeOSMemory()
	r.BaseRSSKB = procStatus("VmRSS")

	canReset := resetPeakRSS() == nil
	cpu0 := benchenv.ReadCPUTime()
	start := time.Now()
	n, err := readAll(ctx, st)
	r.Reference = time.Since(start)
	r.ReferenceCPU = benchenv.ReadCPUTime().Sub(cpu0).Process
	if err != nil {
		return r, accounts.DuplicateReport{}, fmt.Errorf("reference: %w", err)
	}
	if n != cfg.N {
		return r, accounts.DuplicateReport{}, fmt.Errorf("reference: read %d accounts, want %d", n, cfg.N)
	}
	r.ReferenceAccounts = n
	if canReset {
		r.ReferencePeakKB = procStatus("VmHWM")
	}

	debug.FreeOSMemory()
	canReset = resetPeakRSS() == nil
	profile := cfg.CPUProfile != nil && first
	if profile {
		if err := pprof.StartCPUProfile(cfg.CPUProfile); err != nil {
			return r, accounts.DuplicateReport{}, err
		}
	}
	cpu0 = benchenv.ReadCPUTime()
	start = time.Now()
	dup, err := svc.Duplicates(ctx, "")
	r.FullRun = time.Since(start)
	cpu := benchenv.ReadCPUTime().Sub(cpu0)
	r.FullRunCPU = cpu.Process
	r.OthersCPU, r.StealCPU = max(cpu.Machine-cpu.Process, 0), cpu.Steal
	r.LoadAvg = benchenv.LoadAvg()
	if profile {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return r, dup, fmt.Errorf("full run: %w", err)
	}
	if canReset {
		r.FullRunPeakKB = procStatus("VmHWM")
	}

	r.ReferenceSeconds, r.FullRunSeconds = r.Reference.Seconds(), r.FullRun.Seconds()
	r.Ratio = r.FullRunSeconds / r.ReferenceSeconds
	r.Pairs, r.Dismissed, r.Suggestions = dup.Pairs, dup.Dismissed, len(dup.Suggestions)
	found := map[string]bool{}
	for _, s := range dup.Suggestions {
		if key := identity.PairKey(s.A.ID, s.B.ID); exp.planted[key] {
			found[key] = true
		}
	}
	r.Found = len(found)
	r.FalsePositives = r.Suggestions - r.Found
	for key := range exp.expected {
		if !found[key] {
			r.Missed++
		}
	}
	return r, dup, nil
}

// readAll is the reference: every account read through the store's read
// path, in one View, referencePage accounts per Accounts().List call, by
// cursor. It returns how many it read.
func readAll(ctx context.Context, st store.Store) (int, error) {
	n := 0
	err := st.View(ctx, func(tx store.Tx) error {
		after := ""
		for {
			page, err := tx.Accounts().List(ctx, store.AccountQuery{After: after, Limit: referencePage})
			if err != nil {
				return err
			}
			n += len(page)
			if len(page) < referencePage {
				return nil
			}
			after = page[len(page)-1].ID
		}
	})
	return n, err
}

// falsePositives counts the suggestions that are not planted pairs by the
// fields that matched.
func falsePositives(dup accounts.DuplicateReport, exp *expectation) map[string]int {
	out := map[string]int{}
	for _, s := range dup.Suggestions {
		if exp.planted[identity.PairKey(s.A.ID, s.B.ID)] {
			continue
		}
		fields := make([]string, len(s.Score.Matches))
		for i, m := range s.Score.Matches {
			fields[i] = m.Field
		}
		out[strings.Join(fields, "+")]++
	}
	return out
}

// sortedKinds returns the keys of m, the most frequent first.
func sortedKinds(m map[string]int) []string {
	kinds := make([]string, 0, len(m))
	for k := range m {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool {
		if m[kinds[i]] != m[kinds[j]] {
			return m[kinds[i]] > m[kinds[j]]
		}
		return kinds[i] < kinds[j]
	})
	return kinds
}

// progress returns a function, called with the number of accounts written,
// that prints a line to cfg.Progress at most every cfg.ProgressEvery.
func progress(cfg config, n int) func(done int) {
	if cfg.Progress == nil || cfg.ProgressEvery <= 0 {
		return func(int) {}
	}
	start := time.Now()
	last := start
	return func(done int) {
		if now := time.Now(); now.Sub(last) >= cfg.ProgressEvery {
			last = now
			el := now.Sub(start)
			fmt.Fprintf(cfg.Progress, "setup: %d/%d accounts in %s (%.0f accounts/s)\n",
				done, n, el.Round(time.Second), float64(done)/el.Seconds())
		}
	}
}

// procStatus returns a "kB" field of /proc/self/status (VmRSS, VmHWM), or 0
// where there is none.
func procStatus(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == field {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return n
		}
	}
	return 0
}

// resetPeakRSS resets VmHWM to the current resident set (Linux 4.0 and
// later), so that the next reading is the peak of what follows.
func resetPeakRSS() error {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}
