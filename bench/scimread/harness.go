package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/canonid/canonid/bench/internal/benchdb"
	"github.com/canonid/canonid/bench/internal/benchenv"
	"github.com/canonid/canonid/bench/internal/benchfmt"
	"github.com/canonid/canonid/bench/internal/latency"
)

// benchActor is the actor of the events setup records.
const benchActor = "bench"

// checkClient is the client of the untimed checks, so that what they
// cache (a list's count) is not the timed clients'.
const checkClient = "check"

// warmups is how many untimed lookups, through SCIM and on the reference
// connection, run before the timed phases.
const warmups = 100

// The groups of phases; each is a SCIM phase followed by its reference.
const (
	groupLookup     = "lookup"
	groupWalk       = "walk"
	groupConcurrent = "concurrent"
	groupRandom     = "random"
)

var allGroups = []string{groupLookup, groupWalk, groupConcurrent, groupRandom}

// parseGroups reads a comma-separated list such as "lookup,walk". It
// returns the groups it understood, in the order of allGroups, and an error
// naming every one it did not.
func parseGroups(s string) ([]string, error) {
	seen := map[string]bool{}
	var errs []error
	for _, f := range strings.Split(s, ",") {
		g := strings.TrimSpace(f)
		switch {
		case !slices.Contains(allGroups, g):
			errs = append(errs, fmt.Errorf("phases: unknown %q (want %s)", g, strings.Join(allGroups, ", ")))
		case seen[g]:
			errs = append(errs, fmt.Errorf("phases: %q given twice", g))
		}
		seen[g] = true
	}
	var out []string
	for _, g := range allGroups {
		if seen[g] {
			out = append(out, g)
		}
	}
	return out, errors.Join(errs...)
}

// config is one run of the harness.
type config struct {
	Driver string // "sqlite" or "postgres"
	DSN    string // postgres: the server; the run gets a schema of its own
	Dir    string // sqlite: where the temporary directory goes; "" for the system's
	N      int    // accounts
	// Lookups is the number of timed lookups by userName; MissPercent of
	// every 100 look up a login no account has.
	Lookups     int
	MissPercent int
	// Pages is the number of pages each walk reads, from startIndex 1;
	// PageSize the count of each page.
	Pages    int
	PageSize int
	// Clients is the number of clients walking the list at once in the
	// concurrent phase, each with a token of its own.
	Clients int
	// RandomPages is the number of pages read at random startIndexes.
	RandomPages int
	// Batch is the number of accounts per setup transaction.
	Batch  int
	Groups []string
	// SchemaPrefix names the PostgreSQL schema (default canonid_bench_).
	SchemaPrefix string
	// Logger receives the store's messages; ServerLogger the HTTP and SCIM
	// servers' (nil discards), which -v leaves at warnings: an access log
	// line per request would be timed with it.
	Logger       *slog.Logger
	ServerLogger *slog.Logger
	// Progress, if set, receives a line every ProgressEvery during setup
	// and the timed phases.
	Progress      io.Writer
	ProgressEvery time.Duration
	// CPUProfile, if set, receives a CPU profile of the timed phases.
	CPUProfile io.Writer
	// perInsert is the rows of one setup INSERT (rowsPerInsert when 0).
	perInsert int
	// inspect, if set, is called after the run's own checks with the
	// database still there. For tests.
	inspect func(ctx context.Context, db *database) error
}

func (c config) validate() error {
	var errs []error
	errs = append(errs, benchdb.CheckDriver(c.Driver, c.DSN))
	if c.N <= 0 {
		errs = append(errs, fmt.Errorf("n: must be positive, got %d", c.N))
	}
	if c.Lookups <= 0 {
		errs = append(errs, fmt.Errorf("lookups: must be positive, got %d", c.Lookups))
	}
	if c.MissPercent < 0 || c.MissPercent > 100 {
		errs = append(errs, fmt.Errorf("misses: must be a percentage, got %d", c.MissPercent))
	}
	if c.PageSize < 1 || c.PageSize > scimConfig().MaxResults {
		errs = append(errs, fmt.Errorf("count: must be between 1 and %d (the server's max_results), got %d", scimConfig().MaxResults, c.PageSize))
	}
	if c.Pages <= 0 {
		errs = append(errs, fmt.Errorf("pages: must be positive, got %d", c.Pages))
	} else if c.PageSize > 0 && c.Pages*c.PageSize > c.N {
		errs = append(errs, fmt.Errorf("pages: %d pages of %d is more than the %d accounts", c.Pages, c.PageSize, c.N))
	}
	if c.Clients <= 0 {
		errs = append(errs, fmt.Errorf("clients: must be positive, got %d", c.Clients))
	}
	if c.RandomPages <= 0 {
		errs = append(errs, fmt.Errorf("random: must be positive, got %d", c.RandomPages))
	}
	if c.Batch <= 0 {
		errs = append(errs, fmt.Errorf("batch: must be positive, got %d", c.Batch))
	}
	if len(c.Groups) == 0 {
		errs = append(errs, errors.New("phases: none given"))
	}
	return errors.Join(errs...)
}

// walkers names the clients of the concurrent phase.
func (c config) walkers() []string {
	out := make([]string, c.Clients)
	for k := range out {
		out[k] = benchClient + "-" + strconv.Itoa(k+1)
	}
	return out
}

// report is everything a run measured, and on what.
type report struct {
	benchenv.Env
	Machine string `json:"machine"`

	N           int `json:"n"`
	Lookups     int `json:"lookups"`
	MissPercent int `json:"miss_percent"`
	Pages       int `json:"pages"`
	PageSize    int `json:"page_size"`
	Clients     int `json:"clients"`
	RandomPages int `json:"random_pages"`

	Setup         time.Duration `json:"-"`
	SetupSeconds  float64       `json:"setup_seconds"`
	Settle        time.Duration `json:"-"`
	SettleSeconds float64       `json:"settle_seconds"`
	Rows          rowCounts     `json:"rows"`
	DBBytes       int64         `json:"db_bytes"`
	Phases        []phaseResult `json:"phases"`
}

// phaseResult is one timed phase: the latency of each request (a lookup,
// a page) and the rate of the whole.
type phaseResult struct {
	Phase string `json:"phase"`
	Title string `json:"title"`
	// Reference names the phase this one is compared with ("" for a
	// reference).
	Reference string `json:"reference,omitempty"`
	latency.Stats
	// Wall is the phase's elapsed time; Rate its requests (lookups,
	// pages) per second of it.
	Wall        time.Duration `json:"-"`
	WallSeconds float64       `json:"wall_seconds"`
	Rate        float64       `json:"per_second"`
	// Hits and Misses count lookups that found an account and that did
	// not.
	Hits   int `json:"hits,omitempty"`
	Misses int `json:"misses,omitempty"`
	// FirstPages are the latencies of the first page of each walk, which
	// counts the list (in the percentiles too).
	FirstPages   []time.Duration `json:"-"`
	FirstPagesMs []float64       `json:"first_pages_ms,omitempty"`
	// RatioP50 and RatioP99 are this phase's p50 and p99 divided by its
	// reference's, RatioRate the reference's rate divided by this phase's:
	// how many times slower than the raw query, measured in the same run.
	RatioP50  float64 `json:"ratio_p50_to_reference,omitempty"`
	RatioP99  float64 `json:"ratio_p99_to_reference,omitempty"`
	RatioRate float64 `json:"ratio_rate_to_reference,omitempty"`
	// Load is /proc/loadavg at the start of the phase; ProcessCPU the CPU
	// time this process used during it, MachineCPU the CPU time all
	// processes of the machine used (the database server's included).
	Load       string  `json:"loadavg"`
	ProcessCPU float64 `json:"process_cpu_seconds"`
	MachineCPU float64 `json:"machine_cpu_seconds"`
	// CPUPerOp is ProcessCPU per lookup or page, in milliseconds: what one
	// costs the client, canonid and (on SQLite) the database, whatever
	// else the machine runs.
	CPUPerOp float64 `json:"process_cpu_ms_per_op"`
}

// run populates a fresh database with N accounts, starts canonid's server
// on it, checks what a client sees, times the phases of cfg.Groups, checks
// what they read, and drops the database.
func run(ctx context.Context, cfg config) (_ *report, err error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ServerLogger == nil {
		cfg.ServerLogger = slog.New(slog.DiscardHandler)
	}
	if cfg.perInsert <= 0 {
		cfg.perInsert = rowsPerInsert
	}
	rep := &report{
		Env: benchenv.NewEnv(cfg.Driver), N: cfg.N, Lookups: cfg.Lookups, MissPercent: cfg.MissPercent,
		Pages: cfg.Pages, PageSize: cfg.PageSize, Clients: cfg.Clients, RandomPages: cfg.RandomPages,
	}
	db, err := openFresh(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, db.Drop(context.WithoutCancel(ctx))) }()
	if rep.DBVersion, rep.DBSettings, err = db.describe(ctx); err != nil {
		return nil, fmt.Errorf("describe database: %w", err)
	}
	rep.Machine = rep.MachineLine()

	// Setup, untimed by the phases.
	start := time.Now()
	if err := db.populate(ctx, cfg.N, cfg.Batch, cfg.perInsert, progress(cfg, "setup", cfg.N)); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	rep.Setup = time.Since(start)
	clients := append([]string{benchClient, checkClient}, cfg.walkers()...)
	svc, err := startService(ctx, db.Store, clients, cfg.ServerLogger)
	if err != nil {
		return nil, err
	}
	defer svc.Close()
	start = time.Now()
	if err := db.settle(ctx); err != nil {
		return nil, err
	}
	rep.Settle = time.Since(start)
	rep.SetupSeconds, rep.SettleSeconds = rep.Setup.Seconds(), rep.Settle.Seconds()
	raw, err := benchenv.OpenReader(ctx, db.Driver, db.DSN, cfg.Clients)
	if err != nil {
		return nil, fmt.Errorf("reference connection: %w", err)
	}
	defer raw.Close()
	if rep.Rows, err = db.count(ctx, raw, cfg.N, len(clients)); err != nil {
		return nil, fmt.Errorf("after setup: %w", err)
	}
	if rep.DBBytes, err = db.size(ctx); err != nil {
		return nil, fmt.Errorf("database size: %w", err)
	}
	if err := checkService(ctx, svc, cfg); err != nil {
		return nil, fmt.Errorf("before the phases: %w", err)
	}
	ref, err := prepareReference(ctx, raw, db.Driver)
	if err != nil {
		return nil, err
	}
	defer ref.close()
	if err := warmUp(ctx, svc, ref, cfg); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}

	if cfg.CPUProfile != nil {
		if err := pprof.StartCPUProfile(cfg.CPUProfile); err != nil {
			return nil, err
		}
	}
	err = timePhases(ctx, svc, ref, cfg, rep)
	if cfg.CPUProfile != nil {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return nil, err
	}
	if cfg.inspect != nil {
		if err := cfg.inspect(ctx, db); err != nil {
			return nil, fmt.Errorf("inspect: %w", err)
		}
	}
	return rep, nil
}

// checkService checks, untimed, that the server renders what setup wrote:
// the first and last accounts by id, one by userName, and the first page.
func checkService(ctx context.Context, svc *service, cfg config) error {
	var buf bytes.Buffer
	for _, i := range []int{0, cfg.N - 1} {
		p := generate(i)
		status, err := svc.get(ctx, checkClient, "/Users/"+p.id, &buf)
		if err != nil {
			return err
		}
		if status != 200 {
			return fmt.Errorf("GET /Users/%s: status %d: %.300s", p.id, status, buf.Bytes())
		}
		var u userBody
		if err := json.Unmarshal(buf.Bytes(), &u); err != nil {
			return fmt.Errorf("GET /Users/%s: %w", p.id, err)
		}
		if err := u.check(p, checkClient); err != nil {
			return fmt.Errorf("GET /Users/%s: %w", p.id, err)
		}
	}
	p := generate(cfg.N / 2)
	status, err := svc.get(ctx, benchClient, lookupPath(p.login), &buf)
	if err != nil {
		return err
	}
	if err := checkLookup(status, buf.Bytes(), p, true); err != nil {
		return err
	}
	status, err = svc.get(ctx, checkClient, pagePath(1, cfg.PageSize), &buf)
	if err != nil {
		return err
	}
	var lr listResponse
	if status == 200 {
		err = json.Unmarshal(buf.Bytes(), &lr)
	}
	if status != 200 || err != nil || lr.TotalResults != cfg.N || lr.StartIndex != 1 || len(lr.Resources) != min(cfg.PageSize, cfg.N) {
		return fmt.Errorf("first page: status %d, %v, totalResults %d, startIndex %d, %d resources; want 200, %d, 1, %d",
			status, err, lr.TotalResults, lr.StartIndex, len(lr.Resources), cfg.N, min(cfg.PageSize, cfg.N))
	}
	return nil
}

// warmUp runs untimed lookups through SCIM and on the reference
// connection, so that connections are open and statements prepared.
func warmUp(ctx context.Context, svc *service, ref *reference, cfg config) error {
	keys := newDraws(3).lookups(min(warmups, cfg.Lookups), cfg.N, cfg.MissPercent)
	if _, _, _, err := timeLookups(ctx, svc, keys, cfg.N, func(int) {}); err != nil {
		return err
	}
	_, _, _, err := ref.lookups(ctx, keys, cfg.N, func(int) {})
	return err
}

// timePhases runs each group's SCIM phase then its reference, and checks
// that both read the same accounts.
func timePhases(ctx context.Context, svc *service, ref *reference, cfg config, rep *report) error {
	for _, g := range cfg.Groups {
		var scimRes, refRes phaseResult
		var err error
		switch g {
		case groupLookup:
			keys, refKeys := newDraws(1).lookups(cfg.Lookups, cfg.N, cfg.MissPercent), newDraws(2).lookups(cfg.Lookups, cfg.N, cfg.MissPercent)
			scimRes, err = measure(cfg, "lookup", func(tick func(int)) (phaseResult, error) {
				lat, hits, misses, err := timeLookups(ctx, svc, keys, cfg.N, tick)
				return phaseResult{Stats: latency.Summarize(lat), Hits: hits, Misses: misses}, err
			})
			if err != nil {
				return err
			}
			refRes, err = measure(cfg, "lookup-ref", func(tick func(int)) (phaseResult, error) {
				lat, hits, misses, err := ref.lookups(ctx, refKeys, cfg.N, tick)
				return phaseResult{Stats: latency.Summarize(lat), Hits: hits, Misses: misses}, err
			})
			scimRes.Title = `SCIM GET /Users?filter=userName eq "…"`
			refRes.Title = "reference: SELECT … FROM accounts WHERE login = ?"
		case groupWalk:
			var ids, refIDs [][]string
			scimRes, err = measure(cfg, "walk", func(tick func(int)) (phaseResult, error) {
				w, err := walkSCIM(ctx, svc, []string{benchClient}, nil, cfg, tick)
				ids = w.ids
				return w.result, err
			})
			if err != nil {
				return err
			}
			refRes, err = measure(cfg, "walk-ref", func(tick func(int)) (phaseResult, error) {
				w, err := ref.walk(ctx, 1, nil, cfg, tick)
				refIDs = w.ids
				return w.result, err
			})
			if err == nil {
				err = sameIDs("sequential walk", ids, refIDs)
			}
			scimRes.Title = fmt.Sprintf("SCIM pages of %d, one client, from startIndex 1", cfg.PageSize)
			refRes.Title = fmt.Sprintf("reference: keyset pages of %d (id > ? ORDER BY id LIMIT %d)", cfg.PageSize, cfg.PageSize)
		case groupConcurrent:
			var ids, refIDs [][]string
			scimRes, err = measure(cfg, "concurrent", func(tick func(int)) (phaseResult, error) {
				w, err := walkSCIM(ctx, svc, cfg.walkers(), nil, cfg, tick)
				ids = w.ids
				return w.result, err
			})
			if err != nil {
				return err
			}
			refRes, err = measure(cfg, "concurrent-ref", func(tick func(int)) (phaseResult, error) {
				w, err := ref.walk(ctx, cfg.Clients, nil, cfg, tick)
				refIDs = w.ids
				return w.result, err
			})
			if err == nil {
				err = sameIDs("concurrent walks", ids, refIDs)
			}
			scimRes.Title = fmt.Sprintf("SCIM pages of %d, %d clients at once, each from startIndex 1", cfg.PageSize, cfg.Clients)
			refRes.Title = fmt.Sprintf("reference: keyset pages of %d, %d connections at once", cfg.PageSize, cfg.Clients)
		case groupRandom:
			starts := newDraws(4).startIndexes(cfg.RandomPages, cfg.N, cfg.PageSize)
			var ids, refIDs [][]string
			scimRes, err = measure(cfg, "random", func(tick func(int)) (phaseResult, error) {
				w, err := walkSCIM(ctx, svc, []string{benchClient}, starts, cfg, tick)
				ids = w.ids
				return w.result, err
			})
			if err != nil {
				return err
			}
			refRes, err = measure(cfg, "random-ref", func(tick func(int)) (phaseResult, error) {
				w, err := ref.walk(ctx, 1, starts, cfg, tick)
				refIDs = w.ids
				return w.result, err
			})
			if err == nil {
				err = sameIDs("random pages", ids, refIDs)
			}
			scimRes.Title = fmt.Sprintf("SCIM pages of %d at random startIndexes", cfg.PageSize)
			refRes.Title = fmt.Sprintf("reference: ORDER BY id LIMIT %d OFFSET ?", cfg.PageSize)
		}
		if err != nil {
			return err
		}
		scimRes.Reference = refRes.Phase
		scimRes.RatioP50 = float64(scimRes.P50) / float64(refRes.P50)
		scimRes.RatioP99 = float64(scimRes.P99) / float64(refRes.P99)
		scimRes.RatioRate = refRes.Rate / scimRes.Rate
		rep.Phases = append(rep.Phases, scimRes, refRes)
	}
	return nil
}

// measure runs one phase after a garbage collection and records its wall
// time, rate, the load average before it and the CPU time it took.
func measure(cfg config, name string, phase func(tick func(int)) (phaseResult, error)) (phaseResult, error) {
	runtime.GC()
	load := benchenv.LoadAvg()
	cpu0 := benchenv.ReadCPUTime()
	start := time.Now()
	res, err := phase(progress(cfg, name, 0))
	wall := time.Since(start)
	if err != nil {
		return phaseResult{}, fmt.Errorf("phase %s: %w", name, err)
	}
	res.Phase, res.Load = name, load
	cpu := benchenv.ReadCPUTime().Sub(cpu0)
	res.ProcessCPU, res.MachineCPU = cpu.Process, cpu.Machine
	res.Wall, res.WallSeconds = wall, wall.Seconds()
	res.Rate = float64(res.Count) / wall.Seconds()
	res.CPUPerOp = res.ProcessCPU * 1000 / float64(res.Count)
	for _, d := range res.FirstPages {
		res.FirstPagesMs = append(res.FirstPagesMs, latency.Millis(d))
	}
	if res.P50 <= 0 || res.P99 <= 0 {
		return phaseResult{}, fmt.Errorf("phase %s: p50 %v, p99 %v: the clock did not move", name, res.P50, res.P99)
	}
	return res, nil
}

// timeLookups looks up each person of keys by userName through SCIM, one
// request after the other, and checks each answer (untimed).
func timeLookups(ctx context.Context, svc *service, keys []int, n int, tick func(int)) (lat []time.Duration, hits, misses int, err error) {
	lat = make([]time.Duration, len(keys))
	var buf bytes.Buffer
	for j, k := range keys {
		p := generate(k)
		path := lookupPath(p.login)
		start := time.Now()
		status, err := svc.get(ctx, benchClient, path, &buf)
		lat[j] = time.Since(start)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("lookup %d of %d: %w", j+1, len(keys), err)
		}
		if err := checkLookup(status, buf.Bytes(), p, k < n); err != nil {
			return nil, 0, 0, err
		}
		if k < n {
			hits++
		} else {
			misses++
		}
		tick(j + 1)
	}
	return lat, hits, misses, nil
}

// walkResult is what a walk read: the ids of each page, in order, pages of
// one client after the other's.
type walkResult struct {
	result phaseResult
	ids    [][]string
}

// walkSCIM has each client read pages through SCIM at once, one request
// after the other: cfg.Pages pages from startIndex 1, or the pages at
// starts. Each page must be full, every id of it a string of the expected
// shape, and totalResults N; the ids are compared with the reference's
// afterwards.
func walkSCIM(ctx context.Context, svc *service, clients []string, starts []int, cfg config, tick func(int)) (walkResult, error) {
	if starts == nil {
		starts = make([]int, cfg.Pages)
		for j := range starts {
			starts[j] = 1 + j*cfg.PageSize
		}
	}
	total := []byte(`"totalResults":` + strconv.Itoa(cfg.N))
	lat := make([][]time.Duration, len(clients))
	ids := make([][][]string, len(clients))
	errs := make([]error, len(clients))
	var done sync.WaitGroup
	var mu sync.Mutex
	pages := 0
	for c, client := range clients {
		done.Go(func() {
			var buf bytes.Buffer
			for j, s := range starts {
				start := time.Now()
				status, err := svc.get(ctx, client, pagePath(s, cfg.PageSize), &buf)
				lat[c] = append(lat[c], time.Since(start))
				if err == nil && status != 200 {
					err = fmt.Errorf("status %d: %.300s", status, buf.Bytes())
				}
				page := pageIDs(buf.Bytes(), nil)
				if err == nil && (len(page) != cfg.PageSize || !hasNumber(buf.Bytes(), total)) {
					err = fmt.Errorf("%d users, want %d, or totalResults not %d: %.300s", len(page), cfg.PageSize, cfg.N, buf.Bytes())
				}
				if err != nil {
					errs[c] = fmt.Errorf("client %s, page %d (startIndex %d): %w", client, j+1, s, err)
					return
				}
				ids[c] = append(ids[c], page)
				mu.Lock()
				pages++
				tick(pages)
				mu.Unlock()
			}
		})
	}
	done.Wait()
	if err := errors.Join(errs...); err != nil {
		return walkResult{}, err
	}
	var all []time.Duration
	var w walkResult
	for c := range clients {
		w.result.FirstPages = append(w.result.FirstPages, lat[c][0])
		all = append(all, lat[c]...)
		w.ids = append(w.ids, ids[c]...)
	}
	w.result.Stats = latency.Summarize(all)
	return w, nil
}

// hasNumber reports whether body holds key followed by a character that
// does not continue the number.
func hasNumber(body, key []byte) bool {
	for {
		i := bytes.Index(body, key)
		if i < 0 {
			return false
		}
		body = body[i+len(key):]
		if len(body) == 0 || body[0] < '0' || body[0] > '9' {
			return true
		}
	}
}

// sameIDs checks that two walks read the same accounts in the same order.
func sameIDs(what string, got, want [][]string) error {
	if len(got) != len(want) {
		return fmt.Errorf("%s: %d pages through SCIM, %d in the reference", what, len(got), len(want))
	}
	for j := range got {
		if !slices.Equal(got[j], want[j]) {
			return fmt.Errorf("%s: page %d differs from the reference's: %v…, want %v…", what, j+1, got[j][:min(3, len(got[j]))], want[j][:min(3, len(want[j]))])
		}
	}
	return nil
}

// progress returns a function, called with the number of operations done,
// that prints a line to cfg.Progress at most every cfg.ProgressEvery. n is
// the total, 0 when unknown.
func progress(cfg config, what string, n int) func(done int) {
	return benchfmt.Progress(cfg.Progress, cfg.ProgressEvery, what, n)
}
