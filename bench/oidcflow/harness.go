package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/canonid/canonid/bench/internal/benchdb"
	"github.com/canonid/canonid/bench/internal/benchenv"
	"github.com/canonid/canonid/bench/internal/benchfmt"
	"github.com/canonid/canonid/bench/internal/latency"
	"github.com/canonid/canonid/oidc"
)

// setupWorkers is how many browsers make codes at once, untimed.
const setupWorkers = 4

// warmups is how many code flows, refreshes and reference requests run,
// untimed, before the first level: the first signs with keys it creates,
// and connections and statements get ready.
const warmups = 12

// config is one run of the harness.
type config struct {
	Driver string // "sqlite" or "postgres"
	DSN    string // postgres: the server; the run gets a schema of its own
	Dir    string // sqlite: where the temporary directory goes; "" for the system's
	// Accounts is the number of active accounts the grants are spread over.
	Accounts int
	// N is the number of requests of each phase at each level; Duration,
	// when set, runs each phase for that long instead.
	N        int
	Duration time.Duration
	// Levels are the concurrency levels: workers sending requests at once.
	Levels []int
	// Phases are the phases to time at each level, in the order of
	// allPhases.
	Phases []string
	// Alg is the signing algorithm, RS256 or ES256.
	Alg string
	// SchemaPrefix names the PostgreSQL schema (default canonid_bench_).
	SchemaPrefix string
	Logger       *slog.Logger
	// Progress, if set, receives a line every ProgressEvery during setup
	// and the timed phases.
	Progress      io.Writer
	ProgressEvery time.Duration
	// PGWaits samples, on PostgreSQL, what the run's sessions wait for
	// during each phase (pg_stat_activity every 50 ms).
	PGWaits bool
	// CPUProfile, if set, is a file name: each timed phase writes a CPU
	// profile of its own next to it (see profilePath).
	CPUProfile string
}

func (c config) validate() error {
	var errs []error
	errs = append(errs, benchdb.CheckDriver(c.Driver, c.DSN))
	if c.Accounts <= 0 {
		errs = append(errs, fmt.Errorf("accounts: must be positive, got %d", c.Accounts))
	}
	if c.Duration < 0 {
		errs = append(errs, fmt.Errorf("duration: must not be negative, got %v", c.Duration))
	}
	if c.Duration == 0 && c.N <= 0 {
		errs = append(errs, fmt.Errorf("n: must be positive when no duration is given, got %d", c.N))
	}
	if len(c.Levels) == 0 {
		errs = append(errs, errors.New("levels: none given"))
	}
	for _, l := range c.Levels {
		if l <= 0 || l > 1024 {
			errs = append(errs, fmt.Errorf("levels: %d is not between 1 and 1024", l))
		}
	}
	if len(c.Phases) == 0 {
		errs = append(errs, errors.New("phases: none given"))
	}
	switch c.Alg {
	case "RS256", "ES256":
	default:
		errs = append(errs, fmt.Errorf("alg: must be RS256 or ES256, got %q", c.Alg))
	}
	return errors.Join(errs...)
}

// parseLevels reads a comma-separated list of concurrency levels such as
// "1,8,32".
func parseLevels(s string) ([]int, error) {
	var out []int
	var errs []error
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("levels: %q is not a number", f))
		case slices.Contains(out, n):
			errs = append(errs, fmt.Errorf("levels: %d given twice", n))
		default:
			out = append(out, n)
		}
	}
	return out, errors.Join(errs...)
}

// parsePhases reads a comma-separated list of phases and returns them in
// the order of allPhases, with an error naming every one it did not
// understand.
func parsePhases(s string) ([]string, error) {
	seen := map[string]bool{}
	var errs []error
	for _, f := range strings.Split(s, ",") {
		p := strings.TrimSpace(f)
		switch {
		case !slices.Contains(allPhases, p):
			errs = append(errs, fmt.Errorf("phases: unknown %q (want %s)", p, strings.Join(allPhases, ", ")))
		case seen[p]:
			errs = append(errs, fmt.Errorf("phases: %q given twice", p))
		}
		seen[p] = true
	}
	var out []string
	for _, p := range allPhases {
		if seen[p] {
			out = append(out, p)
		}
	}
	return out, errors.Join(errs...)
}

// report is everything a run measured, and on what.
type report struct {
	benchenv.Env
	Machine string `json:"machine"`

	Accounts       int     `json:"accounts"`
	N              int     `json:"n,omitempty"`
	DurationSecs   float64 `json:"duration_seconds,omitempty"`
	Alg            string  `json:"alg"`
	Scopes         string  `json:"scopes"`
	LoadStart      string  `json:"load_start"`
	LoadEnd        string  `json:"load_end"`
	SetupSeconds   float64 `json:"setup_seconds"` // accounts, server, warm-up
	WarmupCodeRate float64 `json:"warmup_code_rate"`
	Levels         []level `json:"levels"`
	Final          counts  `json:"final_counts"`
}

// level is what one concurrency level measured.
type level struct {
	Level int `json:"level"`
	// SetupSeconds is the untimed work of the level: the codes and the
	// refresh chains.
	SetupSeconds float64       `json:"setup_seconds"`
	Codes        int           `json:"codes"`
	Chains       int           `json:"refresh_chains"`
	Phases       []phaseResult `json:"phases"`
}

// failed is the number of requests of the run that failed.
func (r *report) failed() int {
	n := 0
	for _, l := range r.Levels {
		for _, p := range l.Phases {
			n += p.Failed
		}
	}
	return n
}

// phaseResult is the measurement of one phase at one level.
type phaseResult struct {
	// Stats are the latencies of the requests that succeeded.
	latency.Stats
	Phase    string `json:"phase"`
	Title    string `json:"title"`
	Level    int    `json:"level"`
	Requests int    `json:"requests"`
	OK       int    `json:"ok"`
	Failed   int    `json:"failed"`
	// Errors are the first failures (all are counted in Failed), and any
	// problem the checks after the phase found.
	Errors []string `json:"errors,omitempty"`
	// RanOut is set when a phase run for a duration used every code made
	// for it before the duration was over.
	RanOut      bool          `json:"ran_out,omitempty"`
	Wall        time.Duration `json:"-"`
	WallSeconds float64       `json:"wall_seconds"`
	// Rate is the requests that succeeded per second of wall time.
	Rate float64 `json:"rate"`
	// Load is the 1-, 5- and 15-minute load average before the phase.
	Load string `json:"load"`
	// ProcessCPU and MachineCPU are the CPU seconds this process and the
	// whole machine used during the phase.
	ProcessCPU float64 `json:"process_cpu_seconds"`
	MachineCPU float64 `json:"machine_cpu_seconds"`
	// Tx is what one request cost in store transactions, on average.
	Tx txPerRequest `json:"store_transactions_per_request"`
	// PGWaits is what the run's PostgreSQL sessions were doing during the
	// phase (-pgwaits).
	PGWaits waitReport `json:"pg_waits,omitzero"`
	// Checked says what was checked after the phase, untimed.
	Checked string `json:"checked"`
	// Ratios to the references of the same level: the store reference's
	// rate divided by this phase's (how many times slower), this phase's
	// p50 and p99 divided by the store reference's, and its p50 divided by
	// the HTTP reference's. 0 when the run had no such reference.
	TxRate  float64 `json:"x_ref_tx_rate,omitempty"`
	TxP50   float64 `json:"x_ref_tx_p50,omitempty"`
	TxP99   float64 `json:"x_ref_tx_p99,omitempty"`
	HTTPP50 float64 `json:"x_ref_http_p50,omitempty"`
}

// run creates a fresh database with cfg.Accounts accounts, starts the
// provider on it, warms up, then at each level makes the codes and refresh
// chains (untimed) and times cfg.Phases, checking every answer and what
// each phase wrote; it drops the database at the end. A request that
// failed is counted in its phase, not returned as an error.
func run(ctx context.Context, cfg config) (_ *report, err error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	rep := &report{
		Env:      benchenv.NewEnv(cfg.Driver),
		Accounts: cfg.Accounts, Alg: cfg.Alg, Scopes: strings.Join(scopes, " "), LoadStart: benchenv.LoadAvg(),
	}
	if cfg.Duration > 0 {
		rep.DurationSecs = cfg.Duration.Seconds()
	} else {
		rep.N = cfg.N
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

	start := time.Now()
	ppl := people(cfg.Accounts)
	if err := createPeople(ctx, db.Store, ppl); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	st := &countingStore{Store: db.Store}
	svc, err := startService(ctx, st, cfg.Alg, slices.Max(cfg.Levels), cfg.Logger)
	if err != nil {
		return nil, err
	}
	defer svc.close()
	h := &harness{cfg: cfg, db: db, st: st, svc: svc, ppl: ppl}
	if rep.WarmupCodeRate, err = h.warmUp(ctx); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	rep.SetupSeconds = time.Since(start).Seconds()
	c, err := db.count(ctx)
	if err != nil {
		return nil, err
	}
	if c.Accounts != cfg.Accounts || c.Memberships != cfg.Accounts {
		return nil, fmt.Errorf("after setup: %d active accounts and %d memberships, want %d each", c.Accounts, c.Memberships, cfg.Accounts)
	}

	codeRate := rep.WarmupCodeRate
	for _, l := range cfg.Levels {
		lr, err := h.level(ctx, l, codeRate)
		rep.Levels = append(rep.Levels, lr)
		if err != nil {
			return rep, fmt.Errorf("level %d: %w", l, err)
		}
		for _, p := range lr.Phases {
			if p.Phase == phaseCode && p.Rate > 0 {
				codeRate = p.Rate
			}
		}
	}
	if rep.Final, err = db.count(ctx); err != nil {
		return rep, err
	}
	rep.LoadEnd = benchenv.LoadAvg()
	return rep, nil
}

// harness is what the phases of a run share.
type harness struct {
	cfg config
	db  *database
	st  *countingStore // the store the provider and the store reference use
	svc *service
	ppl []person
	// nextPerson is the account of the next code made: codes go round the
	// accounts.
	nextPerson int
}

// take returns the next n accounts, round the list.
func (h *harness) take(n int) []person {
	out := make([]person, n)
	for i := range out {
		out[i] = h.ppl[h.nextPerson%len(h.ppl)]
		h.nextPerson++
	}
	return out
}

// warmUp runs, untimed and checked, warmups code flows one after the
// other, as many refreshes on the last flow's refresh token, store
// references and HTTP references. The first exchange creates the signing
// keys. It returns the rate of the exchanges after the first, the estimate
// a run for a duration starts from.
func (h *harness) warmUp(ctx context.Context) (float64, error) {
	grants, err := h.svc.authorizeMany(ctx, h.take(warmups), 1, func(int) {})
	if err != nil {
		return 0, err
	}
	var last tokenResponse
	var toks []issued
	var start time.Time
	for i, g := range grants {
		if i == 1 {
			start = time.Now()
		}
		if last, err = h.svc.exchange(ctx, g); err != nil {
			return 0, fmt.Errorf("exchange %d: %w", i+1, err)
		}
		toks = append(toks, issued{idToken: last.IDToken, sub: g.who.id, email: g.who.email, nonce: g.nonce})
	}
	rate := float64(len(grants)-1) / time.Since(start).Seconds()
	chains := []chain{{token: last.RefreshToken, who: grants[len(grants)-1].who}}
	for _, w := range []struct {
		what string
		do   job
	}{
		{phaseRefresh, h.svc.refreshJob(chains)},
		{phaseRefTx, refTxJob(h.st, h.ppl)},
		{phaseRefHTTP, h.svc.echoJob()},
	} {
		o := drive(ctx, 1, warmups, 0, w.do, func(int) {})
		if o.failed > 0 {
			return 0, fmt.Errorf("%s: %d of %d failed: %s", w.what, o.failed, o.requests, strings.Join(o.errors, "; "))
		}
		toks = append(toks, o.tokens...)
	}
	if bad, problems := h.svc.verify(ctx, toks); bad > 0 {
		return 0, fmt.Errorf("%d ID tokens of %d: %s", bad, len(toks), strings.Join(problems, "; "))
	}
	return rate, ctx.Err()
}

// level runs the phases at concurrency l: the store reference, the code
// exchanges (their codes made just before), the refreshes (on l chains
// made at the start of the level), the HTTP reference.
func (h *harness) level(ctx context.Context, l int, codeRate float64) (level, error) {
	lr := level{Level: l}
	var chains []chain
	if slices.Contains(h.cfg.Phases, phaseRefresh) {
		start := time.Now()
		grants, err := h.svc.authorizeMany(ctx, h.take(l), min(l, setupWorkers), func(int) {})
		if err != nil {
			return lr, fmt.Errorf("refresh chains: %w", err)
		}
		for _, g := range grants {
			tr, err := h.svc.exchange(ctx, g)
			if err != nil {
				return lr, fmt.Errorf("refresh chains: exchange: %w", err)
			}
			chains = append(chains, chain{token: tr.RefreshToken, who: g.who})
		}
		lr.Chains = len(chains)
		lr.SetupSeconds += time.Since(start).Seconds()
	}
	for _, phase := range h.cfg.Phases {
		var do job
		var want func(before, after counts, ok int) error
		title := ""
		switch phase {
		case phaseRefTx:
			do = refTxJob(h.st, h.ppl)
			title = "reference: store Update, 1 row + 1 event"
			want = func(b, a counts, ok int) error {
				return expect(b, a, ok, map[string]int{eventReference: ok}, delta{access: ok})
			}
		case phaseCode:
			n := h.cfg.N
			if h.cfg.Duration > 0 {
				// Enough codes for twice the rate last seen, or the
				// phase ends when they run out.
				n = max(4*l, int(math.Ceil(2*codeRate*h.cfg.Duration.Seconds())))
			}
			start := time.Now()
			grants, err := h.svc.authorizeMany(ctx, h.take(n), setupWorkers, progress(h.cfg, fmt.Sprintf("level %d: making codes", l), n))
			if err != nil {
				return lr, fmt.Errorf("codes: %w", err)
			}
			lr.SetupSeconds += time.Since(start).Seconds()
			lr.Codes = len(grants)
			do = h.svc.codeJob(grants)
			title = "POST /oidc/token authorization_code + PKCE"
			want = func(b, a counts, ok int) error {
				return expect(b, a, ok, map[string]int{oidc.EventTokensIssued: ok}, delta{access: ok, refresh: ok, authRequests: -ok})
			}
		case phaseRefresh:
			do = h.svc.refreshJob(chains)
			title = "POST /oidc/token refresh_token (rotating)"
			want = func(b, a counts, ok int) error {
				return expect(b, a, ok, map[string]int{oidc.EventTokenRefreshed: ok}, delta{access: ok, refresh: ok, used: ok})
			}
		case phaseRefHTTP:
			do = h.svc.echoJob()
			title = "reference: form POST to a trivial handler"
			want = func(b, a counts, ok int) error { return expect(b, a, 0, nil, delta{}) }
		}
		res, err := h.measure(ctx, phase, l, do, want)
		res.Title = title
		lr.Phases = append(lr.Phases, res)
		if err != nil {
			return lr, err
		}
	}
	ratios(lr.Phases)
	return lr, nil
}

// measure runs one phase at level l after a checkpoint and a garbage
// collection, records its wall time, rate, the load average before it and
// the CPU time it took, then checks, untimed, every ID token it got and
// what it wrote (want, given the counts before and after).
func (h *harness) measure(ctx context.Context, phase string, l int, do job, want func(before, after counts, ok int) error) (phaseResult, error) {
	res := phaseResult{Phase: phase, Level: l}
	before, err := h.db.count(ctx)
	if err != nil {
		return res, err
	}
	h.db.Checkpoint(ctx)
	runtime.GC()
	res.Load = benchenv.LoadAvg()
	stop, err := startProfile(h.cfg.CPUProfile, phase, l)
	if err != nil {
		return res, err
	}
	var waits *waitSampler
	if h.cfg.PGWaits {
		waits = sampleWaits(ctx, h.db.Admin, 50*time.Millisecond)
	}
	cpu0, tx0 := benchenv.ReadCPUTime(), h.st.snapshot()
	o := drive(ctx, l, h.cfg.N, h.cfg.Duration, do, progress(h.cfg, fmt.Sprintf("level %d: %s", l, phase), h.cfg.N))
	cpu := benchenv.ReadCPUTime().Sub(cpu0)
	res.ProcessCPU, res.MachineCPU = cpu.Process, cpu.Machine
	res.Tx = per(tx0, h.st.snapshot(), o.requests)
	if err := stop(); err != nil {
		return res, err
	}
	if res.PGWaits, err = waits.finish(4); err != nil {
		return res, err
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	res.Stats = latency.Summarize(o.lat)
	res.Requests, res.OK, res.Failed, res.Errors, res.RanOut = o.requests, len(o.lat), o.failed, o.errors, o.ranOut
	res.Wall, res.WallSeconds = o.wall, o.wall.Seconds()
	res.Rate = float64(res.OK) / o.wall.Seconds()

	// Untimed checks.
	var checked []string
	if len(o.tokens) > 0 {
		bad, problems := h.svc.verify(ctx, o.tokens)
		res.Errors = append(res.Errors, problems...)
		if bad > 0 {
			return res, fmt.Errorf("%s: %d of %d ID tokens are wrong: %s", phase, bad, len(o.tokens), strings.Join(problems, "; "))
		}
		checked = append(checked, fmt.Sprintf("%d ID tokens verified", len(o.tokens)))
	}
	after, err := h.db.count(ctx)
	if err != nil {
		return res, err
	}
	if err := invariants(after); err != nil {
		return res, fmt.Errorf("%s: %w", phase, err)
	}
	if res.Failed > 0 {
		checked = append(checked, "counts not compared: requests failed")
	} else {
		if err := want(before, after, res.OK); err != nil {
			return res, fmt.Errorf("%s: %w", phase, err)
		}
		checked = append(checked, "rows and events counted")
	}
	res.Checked = strings.Join(checked, "; ")
	if res.OK == 0 {
		return res, fmt.Errorf("%s: no request succeeded: %s", phase, strings.Join(res.Errors, "; "))
	}
	return res, nil
}

// delta is how the token and request rows must change in a phase.
type delta struct {
	access, refresh, used, authRequests int
}

// expect checks that a phase recorded exactly the events given (by type)
// and no other, and changed the rows by d; no token was revoked.
func expect(b, a counts, ok int, events map[string]int, d delta) error {
	var errs []error
	types := map[string]bool{}
	for t := range a.Events {
		types[t] = true
	}
	for t := range b.Events {
		types[t] = true
	}
	for t := range types {
		if got := a.Events[t] - b.Events[t]; got != events[t] {
			errs = append(errs, fmt.Errorf("%d %s events recorded, want %d", got, t, events[t]))
		}
	}
	for _, c := range []struct {
		what      string
		got, want int
	}{
		{"access tokens", a.AccessTokens - b.AccessTokens, d.access},
		{"refresh tokens", a.RefreshTokens - b.RefreshTokens, d.refresh},
		{"used refresh tokens", a.UsedRefresh - b.UsedRefresh, d.used},
		{"pending authorization requests", a.AuthRequests - b.AuthRequests, d.authRequests},
		{"revoked tokens", a.Revoked - b.Revoked, 0},
	} {
		if c.got != c.want {
			errs = append(errs, fmt.Errorf("%s: %+d, want %+d (%d requests succeeded)", c.what, c.got, c.want, ok))
		}
	}
	return errors.Join(errs...)
}

// invariants checks what holds after every phase: every event has its
// audit row and its outbox row, numbered without gaps.
func invariants(c counts) error {
	if n := c.totalEvents(); c.Outbox != n || c.OutboxHead != n {
		return fmt.Errorf("%d audit events, %d outbox rows, outbox head %d: want all equal", n, c.Outbox, c.OutboxHead)
	}
	return nil
}

// ratios sets each phase's ratios to the references of its level.
func ratios(phases []phaseResult) {
	var tx, web *phaseResult
	for i := range phases {
		switch phases[i].Phase {
		case phaseRefTx:
			tx = &phases[i]
		case phaseRefHTTP:
			web = &phases[i]
		}
	}
	for i := range phases {
		p := &phases[i]
		if tx != nil && p.Rate > 0 && tx.P50 > 0 {
			p.TxRate = tx.Rate / p.Rate
			p.TxP50 = float64(p.P50) / float64(tx.P50)
			p.TxP99 = float64(p.P99) / float64(tx.P99)
		}
		if web != nil && web.P50 > 0 {
			p.HTTPP50 = float64(p.P50) / float64(web.P50)
		}
	}
}

// profilePath is where the CPU profile of a phase goes: base with
// ".<phase>-c<level>" before its extension (/tmp/o.prof gives
// /tmp/o.code-c8.prof).
func profilePath(base, phase string, l int) string {
	ext := filepath.Ext(base)
	return fmt.Sprintf("%s.%s-c%d%s", strings.TrimSuffix(base, ext), phase, l, ext)
}

// startProfile starts the CPU profile of a phase when base is set; stop
// ends it.
func startProfile(base, phase string, l int) (stop func() error, err error) {
	if base == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(profilePath(base, phase, l))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}

// progress returns a function, called with the number of operations done,
// that prints a line to cfg.Progress at most every cfg.ProgressEvery. n is
// the total, 0 when unknown.
func progress(cfg config, what string, n int) func(done int) {
	return benchfmt.Progress(cfg.Progress, cfg.ProgressEvery, what, n)
}
