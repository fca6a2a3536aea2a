package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/canonid/canonid/bench/internal/benchdb"
	"github.com/canonid/canonid/bench/internal/benchenv"
	"github.com/canonid/canonid/bench/internal/benchfmt"
	"github.com/canonid/canonid/bench/internal/latency"
	"github.com/canonid/canonid/identity"
)

// config is one run of the harness.
type config struct {
	Driver string // "sqlite" or "postgres"
	DSN    string // postgres: the server; the run gets a schema of its own
	Dir    string // sqlite: where the temporary directory goes; "" for the system's
	// Clients is the number of clients writing at once, each with a token
	// of its own; each reference runs as many goroutines.
	Clients int
	// Duration bounds each phase in time, N in operations (all clients
	// together); a phase ends at the first bound reached. 0 is no bound;
	// at least one must be set.
	Duration time.Duration
	N        int
	// Slice is how long a phase runs before its reference takes its turn,
	// and the other way round; 0 runs each in one go.
	Slice time.Duration
	// SchemaPrefix names the PostgreSQL schema (default canonid_bench_).
	SchemaPrefix string
	// Logger receives the store's messages; ServerLogger the HTTP and SCIM
	// servers' (nil discards), which stays at warnings: an access log line
	// per request would be timed with it.
	Logger       *slog.Logger
	ServerLogger *slog.Logger
	// Progress, if set, receives a line every ProgressEvery during the
	// timed phases.
	Progress      io.Writer
	ProgressEvery time.Duration
	// CPUProfile, if set, receives a CPU profile of the timed phases.
	CPUProfile io.Writer
	// inspect, if set, is called after the run's own checks with the
	// database still there. For tests.
	inspect func(ctx context.Context, db *database, h *harness) error
}

func (c config) validate() error {
	var errs []error
	errs = append(errs, benchdb.CheckDriver(c.Driver, c.DSN))
	if c.Clients <= 0 || c.Clients > 64 {
		errs = append(errs, fmt.Errorf("clients: must be between 1 and 64, got %d", c.Clients))
	}
	if c.Duration < 0 || c.N < 0 || c.Slice < 0 {
		errs = append(errs, fmt.Errorf("duration, n and slice: must not be negative, got %v, %d and %v", c.Duration, c.N, c.Slice))
	}
	if c.Duration == 0 && c.N == 0 {
		errs = append(errs, errors.New("duration and n: one of them must bound the phases"))
	}
	return errors.Join(errs...)
}

// clientNames names the provisioning clients, one token each.
func (c config) clientNames() []string {
	out := make([]string, c.Clients)
	for k := range out {
		out[k] = "entra-" + strconv.Itoa(k+1)
	}
	return out
}

// report is everything a run measured, and on what.
type report struct {
	benchenv.Env
	Machine string `json:"machine"`

	Clients         int           `json:"clients"`
	Duration        time.Duration `json:"-"`
	DurationSeconds float64       `json:"duration_seconds"`
	N               int           `json:"n"`
	Slice           time.Duration `json:"-"`
	SliceSeconds    float64       `json:"slice_seconds"`
	LoadStart       string        `json:"loadavg_start"`
	LoadEnd         string        `json:"loadavg_end"`
	Phases          []phaseResult `json:"phases"`
	// Accounts is how many accounts the run left, all checked.
	Accounts int `json:"accounts"`
}

// phaseResult is one timed phase: the latency of each operation and the
// rate of the whole.
type phaseResult struct {
	Phase string `json:"phase"`
	Title string `json:"title"`
	// Reference names the phase this one is compared with ("" for a
	// reference).
	Reference string `json:"reference,omitempty"`
	latency.Stats
	// Wall is the phase's running time, its turns added up; Rate its
	// operations per second of it.
	Wall        time.Duration `json:"-"`
	WallSeconds float64       `json:"wall_seconds"`
	Rate        float64       `json:"per_second"`
	Turns       int           `json:"turns"`
	// Exhausted is set when clients stopped because they had no user left
	// to write (deactivate: each user once) before a bound was reached.
	Exhausted bool `json:"exhausted,omitempty"`
	// Statuses counts the HTTP statuses of a SCIM phase.
	Statuses map[int]int `json:"statuses,omitempty"`
	// Events counts, by type, the events the phase's transactions
	// recorded (read from the outbox afterwards, untimed).
	Events map[string]int `json:"events"`
	// RatioP50 and RatioP99 are this phase's p50 and p99 divided by its
	// reference's, RatioRate the reference's rate divided by this phase's:
	// how many times slower than the direct store write, in the same run.
	RatioP50  float64 `json:"ratio_p50_to_reference,omitempty"`
	RatioP99  float64 `json:"ratio_p99_to_reference,omitempty"`
	RatioRate float64 `json:"ratio_rate_to_reference,omitempty"`
	// Load is /proc/loadavg at the start of the phase's first turn;
	// ProcessCPU the CPU time this process used during its turns,
	// MachineCPU the CPU time all processes of the machine used (the
	// database server's included); CPUPerOp is ProcessCPU per operation,
	// in milliseconds.
	Load       string  `json:"loadavg"`
	ProcessCPU float64 `json:"process_cpu_seconds"`
	MachineCPU float64 `json:"machine_cpu_seconds"`
	CPUPerOp   float64 `json:"process_cpu_ms_per_op"`
}

// eventsPerOp is the events the phase recorded per operation.
func (p phaseResult) eventsPerOp() float64 {
	n := 0
	for _, c := range p.Events {
		n += c
	}
	return float64(n) / float64(max(p.Count, 1))
}

// user is one account a client provisioned, and what the run did to it.
type user struct {
	id   string
	p    person // as last written
	gone bool   // deactivated
}

// harness is the state of a run: the server, the store, and the users
// each client (and each reference worker, writing as that client) wrote.
type harness struct {
	cfg     config
	db      *database
	svc     *service
	clients []string
	// scimUsers[w] and refUsers[w] are the users worker w wrote, through
	// SCIM and by the reference; only worker w touches its slice during a
	// phase.
	scimUsers, refUsers [][]*user
	// nextSCIM and nextRef number the persons created.
	nextSCIM, nextRef atomic.Int64
}

// run starts canonid's server on a fresh database, times the phases, checks
// what they wrote, and drops the database.
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
	rep := &report{
		Env:     benchenv.NewEnv(cfg.Driver),
		Clients: cfg.Clients, Duration: cfg.Duration, DurationSeconds: cfg.Duration.Seconds(), N: cfg.N,
		Slice: cfg.Slice, SliceSeconds: cfg.Slice.Seconds(),
		LoadStart: benchenv.LoadAvg(),
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
	h := &harness{cfg: cfg, db: db, clients: cfg.clientNames(),
		scimUsers: make([][]*user, cfg.Clients), refUsers: make([][]*user, cfg.Clients)}
	if h.svc, err = startService(ctx, db.Store, h.clients, cfg.ServerLogger); err != nil {
		return nil, err
	}
	defer h.svc.Close()

	if cfg.CPUProfile != nil {
		if err := pprof.StartCPUProfile(cfg.CPUProfile); err != nil {
			return nil, err
		}
	}
	rep.Phases, err = h.timePhases(ctx)
	if cfg.CPUProfile != nil {
		pprof.StopCPUProfile()
	}
	rep.LoadEnd = benchenv.LoadAvg()
	if err != nil {
		return nil, err
	}
	if rep.Accounts, err = h.verify(ctx); err != nil {
		return nil, fmt.Errorf("after the phases: %w", err)
	}
	if cfg.inspect != nil {
		if err := cfg.inspect(ctx, db, h); err != nil {
			return nil, fmt.Errorf("inspect: %w", err)
		}
	}
	return rep, nil
}

// phaseSpec is a SCIM phase and its reference: what one operation of
// worker w does, for its k-th operation, each way.
type phaseSpec struct {
	name, title, refTitle string
	// events are the event types one operation records, as many of each.
	events []string
	scim   opFunc
	ref    opFunc
}

// opFunc does operation k of worker w and returns its latency; ok false
// means the worker has nothing left to do (and did nothing).
type opFunc func(ctx context.Context, w, k int) (lat time.Duration, ok bool, status int, err error)

// timePhases runs each phase and its reference, in turns, and checks the
// events each recorded.
func (h *harness) timePhases(ctx context.Context) ([]phaseResult, error) {
	specs := []phaseSpec{
		{name: "create", title: "SCIM POST /Users (Entra ID's body)", refTitle: "reference: Update creating account, e-mail, link + account.created",
			events: []string{identity.EventAccountCreated}, scim: h.scimCreate, ref: h.refCreate},
		{name: "patch", title: `SCIM PATCH /Users/{id}: Replace displayName, name.familyName, emails[type eq "work"].value`,
			refTitle: "reference: Update of account, e-mail (delete + add), link + account.updated",
			events:   []string{identity.EventAccountUpdated}, scim: h.scimPatch, ref: h.refPatch},
		{name: "deactivate", title: `SCIM PATCH /Users/{id}: Replace active "False"`,
			refTitle: "reference: Update of link (gone), account (suspended), token revocation + link.gone, account.suspended",
			events:   []string{identity.EventLinkGone, identity.EventAccountSuspended}, scim: h.scimDeactivate, ref: h.refDeactivate},
	}
	var out []phaseResult
	for _, sp := range specs {
		scimRes, refRes, err := h.measurePair(ctx, sp)
		if err != nil {
			return nil, err
		}
		for _, r := range []*phaseResult{&scimRes, &refRes} {
			if err := checkEvents(*r, sp.events, r == &refRes); err != nil {
				return nil, err
			}
		}
		scimRes.Title, refRes.Title = sp.title, sp.refTitle
		scimRes.Reference = refRes.Phase
		scimRes.RatioP50 = float64(scimRes.P50) / float64(refRes.P50)
		scimRes.RatioP99 = float64(scimRes.P99) / float64(refRes.P99)
		scimRes.RatioRate = refRes.Rate / scimRes.Rate
		out = append(out, scimRes, refRes)
	}
	return out, nil
}

// checkEvents checks that each operation of a phase recorded one event of
// each of want. A reference must record nothing else; SCIM may (the
// report shows what).
func checkEvents(r phaseResult, want []string, exact bool) error {
	var errs []error
	for _, t := range want {
		if r.Events[t] != r.Count {
			errs = append(errs, fmt.Errorf("%d %s events for %d operations", r.Events[t], t, r.Count))
		}
	}
	if exact {
		for t, n := range r.Events {
			if !slices.Contains(want, t) {
				errs = append(errs, fmt.Errorf("%d unexpected %s events", n, t))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("phase %s: %w", r.Phase, err)
	}
	return nil
}

// side is one phase of a pair as it runs, slice after slice.
type side struct {
	name string
	op   opFunc
	tick func(int)
	next []int  // the next operation of each worker
	out  []bool // workers with nothing left to do
	lat  []time.Duration
	res  phaseResult
	done bool
}

// measurePair runs a SCIM phase and its reference after a checkpoint, in
// turns of cfg.Slice (the SCIM phase first), so that both see the same
// load from the rest of the machine, until each has run for cfg.Duration
// or done cfg.N operations, or its workers have nothing left. It records
// each one's latencies, running time, rate, the load average at its first
// turn, the CPU time it took and the events it recorded.
func (h *harness) measurePair(ctx context.Context, sp phaseSpec) (phaseResult, phaseResult, error) {
	h.db.Checkpoint(ctx)
	sides := [2]*side{{name: sp.name, op: sp.scim}, {name: sp.name + "-ref", op: sp.ref}}
	for _, s := range sides {
		s.tick = progress(h.cfg, s.name)
		s.next, s.out = make([]int, h.cfg.Clients), make([]bool, h.cfg.Clients)
		s.res = phaseResult{Phase: s.name, Events: map[string]int{}, Statuses: map[int]int{}}
	}
	for !sides[0].done || !sides[1].done {
		for _, s := range sides {
			if s.done {
				continue
			}
			if err := h.turn(ctx, s); err != nil {
				return phaseResult{}, phaseResult{}, fmt.Errorf("phase %s: %w", s.name, err)
			}
		}
	}
	for _, s := range sides {
		r := &s.res
		if len(s.lat) == 0 {
			return phaseResult{}, phaseResult{}, fmt.Errorf("phase %s: no operation done", s.name)
		}
		r.Stats = latency.Summarize(s.lat)
		r.WallSeconds = r.Wall.Seconds()
		r.Rate = float64(r.Count) / r.Wall.Seconds()
		r.CPUPerOp = r.ProcessCPU * 1000 / float64(r.Count)
		if r.P50 <= 0 || r.P99 <= 0 {
			return phaseResult{}, phaseResult{}, fmt.Errorf("phase %s: p50 %v, p99 %v: the clock did not move", s.name, r.P50, r.P99)
		}
		if len(r.Statuses) == 0 {
			r.Statuses = nil
		}
	}
	return sides[0].res, sides[1].res, nil
}

// turn runs one turn of s: its workers at once, each doing one operation
// after the other, until the turn's time is up, s has done cfg.N
// operations, or the worker has nothing left. The first error stops every
// worker.
func (h *harness) turn(ctx context.Context, s *side) error {
	cfg := h.cfg
	r := &s.res
	budget := cfg.Slice
	if cfg.Duration > 0 && (budget <= 0 || budget > cfg.Duration-r.Wall) {
		budget = cfg.Duration - r.Wall
	}
	ops := int64(math.MaxInt64)
	if cfg.N > 0 {
		ops = int64(cfg.N - len(s.lat))
	}
	head0, err := h.db.Store.Outbox().Head(ctx)
	if err != nil {
		return err
	}
	runtime.GC()
	if r.Load == "" {
		r.Load = benchenv.LoadAvg()
	}
	cpu0 := benchenv.ReadCPUTime()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	var deadline time.Time
	if budget > 0 {
		deadline = start.Add(budget)
	}
	var (
		claimed  atomic.Int64
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	lat := make([][]time.Duration, cfg.Clients)
	codes := make([]map[int]int, cfg.Clients)
	done := len(s.lat)
	for w := range cfg.Clients {
		if s.out[w] {
			continue
		}
		codes[w] = map[int]int{}
		wg.Go(func() {
			for ctx.Err() == nil {
				if !deadline.IsZero() && !time.Now().Before(deadline) {
					return
				}
				if claimed.Add(1) > ops {
					return
				}
				d, ok, status, err := s.op(ctx, w, s.next[w])
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("worker %d, operation %d: %w", w+1, s.next[w]+1, err)
					}
					mu.Unlock()
					cancel()
					return
				}
				if !ok {
					claimed.Add(-1)
					s.out[w] = true
					return
				}
				s.next[w]++
				lat[w] = append(lat[w], d)
				if status != 0 {
					codes[w][status]++
				}
				mu.Lock()
				done++
				s.tick(done)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	r.Wall += time.Since(start)
	r.Turns++
	cpu := benchenv.ReadCPUTime().Sub(cpu0)
	r.ProcessCPU += cpu.Process
	r.MachineCPU += cpu.Machine
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for w := range lat {
		s.lat = append(s.lat, lat[w]...)
		for c, n := range codes[w] {
			r.Statuses[c] += n
		}
	}
	events, err := h.events(ctx, head0)
	if err != nil {
		return fmt.Errorf("events: %w", err)
	}
	for t, n := range events {
		r.Events[t] += n
	}
	allOut := !slices.Contains(s.out, false)
	nDone := cfg.N > 0 && len(s.lat) >= cfg.N
	// Running out counts only when it ended the phase before a bound did.
	r.Exhausted = allOut && !nDone
	s.done = allOut || nDone || (cfg.Duration > 0 && r.Wall >= cfg.Duration)
	return nil
}

// events counts, by type, the events committed after seq.
func (h *harness) events(ctx context.Context, seq int64) (map[string]int, error) {
	out := map[string]int{}
	for {
		evs, err := h.db.Store.Outbox().After(ctx, seq, 1000)
		if err != nil {
			return nil, err
		}
		if len(evs) == 0 {
			return out, nil
		}
		for _, e := range evs {
			out[e.Type]++
		}
		seq = evs[len(evs)-1].Seq
	}
}

// userBody is what the checks read of a SCIM User.
type userBody struct {
	ID          string `json:"id"`
	ExternalID  string `json:"externalId"`
	UserName    string `json:"userName"`
	Active      bool   `json:"active"`
	DisplayName string `json:"displayName"`
	Name        struct {
		GivenName  string `json:"givenName"`
		FamilyName string `json:"familyName"`
	} `json:"name"`
	Emails []struct {
		Value   string `json:"value"`
		Primary bool   `json:"primary"`
	} `json:"emails"`
	Enterprise struct {
		EmployeeNumber string `json:"employeeNumber"`
	} `json:"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`
}

// check compares the User a write answered with p, as it must now be.
func (u userBody) check(p person, active bool) error {
	var errs []error
	for _, c := range []struct{ what, got, want string }{
		{"userName", u.UserName, p.login},
		{"externalId", u.ExternalID, p.externalID},
		{"name.givenName", u.Name.GivenName, p.given},
		{"name.familyName", u.Name.FamilyName, p.family},
		{"displayName", u.DisplayName, p.display},
		{"employeeNumber", u.Enterprise.EmployeeNumber, p.employeeNum},
	} {
		if c.got != c.want {
			errs = append(errs, fmt.Errorf("%s %q, want %q", c.what, c.got, c.want))
		}
	}
	if u.Active != active {
		errs = append(errs, fmt.Errorf("active %v, want %v", u.Active, active))
	}
	if len(u.Emails) != 1 || u.Emails[0].Value != p.email || !u.Emails[0].Primary {
		errs = append(errs, fmt.Errorf("emails %+v, want %s, primary", u.Emails, p.email))
	}
	return errors.Join(errs...)
}

// answer checks a write's answer: want (or, for a PATCH, 204 without a
// body), and the User it holds, untimed. It returns the User's id.
func answer(status, want int, body []byte, p person, active bool) (string, error) {
	if status == http.StatusNoContent && want == http.StatusOK {
		return "", nil
	}
	if status != want {
		return "", fmt.Errorf("status %d, want %d: %.300s", status, want, body)
	}
	var u userBody
	if err := json.Unmarshal(body, &u); err != nil {
		return "", fmt.Errorf("answer: %w: %.300s", err, body)
	}
	if err := u.check(p, active); err != nil {
		return "", fmt.Errorf("answer for %s: %w", p.login, err)
	}
	return u.ID, nil
}

func (h *harness) scimCreate(ctx context.Context, w, _ int) (time.Duration, bool, int, error) {
	p := generate(int(h.nextSCIM.Add(1)-1), false)
	var buf bytes.Buffer
	status, d, err := h.svc.send(ctx, h.clients[w], http.MethodPost, "/Users", p.createBody(), &buf)
	if err != nil {
		return 0, false, 0, err
	}
	id, err := answer(status, http.StatusCreated, buf.Bytes(), p, true)
	if err == nil && id == "" {
		err = errors.New("created User without an id")
	}
	if err != nil {
		return 0, false, status, fmt.Errorf("POST /Users: %w", err)
	}
	h.scimUsers[w] = append(h.scimUsers[w], &user{id: id, p: p})
	return d, true, status, nil
}

func (h *harness) refCreate(ctx context.Context, w, _ int) (time.Duration, bool, int, error) {
	p := generate(int(h.nextRef.Add(1)-1), true)
	start := time.Now()
	id, err := refCreate(ctx, h.db.Store, "scim:"+h.clients[w], p)
	d := time.Since(start)
	if err != nil {
		return 0, false, 0, err
	}
	h.refUsers[w] = append(h.refUsers[w], &user{id: id, p: p})
	return d, true, 0, nil
}

// scimPatch patches worker w's users in turn, each one round further.
func (h *harness) scimPatch(ctx context.Context, w, k int) (time.Duration, bool, int, error) {
	us := h.scimUsers[w]
	if len(us) == 0 {
		return 0, false, 0, nil
	}
	u := us[k%len(us)]
	q := u.p.patched(u.p.round + 1)
	var buf bytes.Buffer
	status, d, err := h.svc.send(ctx, h.clients[w], http.MethodPatch, "/Users/"+u.id, q.patchBody(), &buf)
	if err != nil {
		return 0, false, 0, err
	}
	if _, err := answer(status, http.StatusOK, buf.Bytes(), q, true); err != nil {
		return 0, false, status, fmt.Errorf("PATCH /Users/%s: %w", u.id, err)
	}
	u.p = q
	return d, true, status, nil
}

func (h *harness) refPatch(ctx context.Context, w, k int) (time.Duration, bool, int, error) {
	us := h.refUsers[w]
	if len(us) == 0 {
		return 0, false, 0, nil
	}
	u := us[k%len(us)]
	q := u.p.patched(u.p.round + 1)
	start := time.Now()
	err := refPatch(ctx, h.db.Store, "scim:"+h.clients[w], u.id, u.p, q)
	d := time.Since(start)
	if err != nil {
		return 0, false, 0, err
	}
	u.p = q
	return d, true, 0, nil
}

// scimDeactivate deactivates worker w's users in turn, each once.
func (h *harness) scimDeactivate(ctx context.Context, w, k int) (time.Duration, bool, int, error) {
	us := h.scimUsers[w]
	if k >= len(us) {
		return 0, false, 0, nil
	}
	u := us[k]
	var buf bytes.Buffer
	status, d, err := h.svc.send(ctx, h.clients[w], http.MethodPatch, "/Users/"+u.id, deactivateBody, &buf)
	if err != nil {
		return 0, false, 0, err
	}
	if _, err := answer(status, http.StatusOK, buf.Bytes(), u.p, false); err != nil {
		return 0, false, status, fmt.Errorf("PATCH /Users/%s active False: %w", u.id, err)
	}
	u.gone = true
	return d, true, status, nil
}

func (h *harness) refDeactivate(ctx context.Context, w, k int) (time.Duration, bool, int, error) {
	us := h.refUsers[w]
	if k >= len(us) {
		return 0, false, 0, nil
	}
	u := us[k]
	start := time.Now()
	err := refDeactivate(ctx, h.db.Store, "scim:"+h.clients[w], u.id, u.p)
	d := time.Since(start)
	if err != nil {
		return 0, false, 0, err
	}
	u.gone = true
	return d, true, 0, nil
}

// progress returns a function, called with the number of operations done,
// that prints a line to cfg.Progress at most every cfg.ProgressEvery.
func progress(cfg config, what string) func(done int) {
	return benchfmt.Progress(cfg.Progress, cfg.ProgressEvery, what, 0)
}

// eventSummary lists a phase's events per operation, by type.
func (p phaseResult) eventSummary() string {
	var parts []string
	for _, t := range slices.Sorted(maps.Keys(p.Events)) {
		parts = append(parts, fmt.Sprintf("%s %.2f", t, float64(p.Events[t])/float64(max(p.Count, 1))))
	}
	return strings.Join(parts, ", ")
}
