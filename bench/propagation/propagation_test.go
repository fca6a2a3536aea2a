package propagation

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/bench/internal/benchenv"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/propagate"
	"github.com/canonid/canonid/scim/push"
	"github.com/canonid/canonid/scim/scimtest"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/postgres"
	"github.com/canonid/canonid/store/sqlite"
	"github.com/canonid/canonid/store/storetest"
)

// targetName is the SCIM target's name in the store.
const targetName = "bench"

// waitLimit bounds every wait: a run that does not get there fails.
const waitLimit = 5 * time.Minute

type config struct {
	driver string // "sqlite" or "postgres"
	pairs  int    // n: pairs of accounts
	merges int    // k: merges, k ≤ n
	rounds int    // rounds of updates to every account
}

// univ and agency name the two accounts of pair i.
func univ(i int) string   { return fmt.Sprintf("univ-%06d", i) }
func agency(i int) string { return fmt.Sprintf("agency-%06d", i) }

func univAddress(i int) string   { return fmt.Sprintf("c.martin%06d@univ-test.fr", i) }
func agencyAddress(i int) string { return fmt.Sprintf("camille.martin%06d@perso.test", i) }

// sample is what the machine and the process had used at an instant.
type sample struct {
	at   time.Time
	cpu  benchenv.CPUTime
	load string
}

func now() sample {
	return sample{at: time.Now(), cpu: benchenv.ReadCPUTime(), load: benchenv.LoadAvg()}
}

// throughput is one delivery phase.
type throughput struct {
	name           string
	events, writes int
	d              time.Duration
	// writer is how long the update transactions took, tail how long the
	// dispatcher needed after the last commit, to deliver backlog events
	// (updates only).
	writer, tail time.Duration
	backlog      int
	// cpu is this process's CPU time in the phase; others the rest of the
	// machine's (the PostgreSQL server included); steal what the
	// hypervisor gave to other machines.
	cpu, others, steal float64
	load               string
	// spans is where the dispatcher spent its time in the phase.
	spans spans
}

func measure(name string, start, end sample, events, writes int) throughput {
	used := end.cpu.Sub(start.cpu)
	return throughput{name: name, events: events, writes: writes, d: end.at.Sub(start.at),
		cpu: used.Process, others: max(used.Machine-used.Process, 0), steal: used.Steal, load: start.load}
}

func (t throughput) eventRate() float64 { return float64(t.events) / t.d.Seconds() }
func (t throughput) writeRate() float64 { return float64(t.writes) / t.d.Seconds() }

// mergeSample is one merge: its latency, the Merge call, and the
// dispatcher's calls from Merge's return until it stored its cursor.
type mergeSample struct {
	i              int
	latency, merge time.Duration
	spans          spans
	// timeline is the dispatcher's calls from the start of Merge until
	// it stored its cursor, in ms from Merge's return.
	timeline string
}

type report struct {
	cfg     config
	machine string
	setup   time.Duration
	// create, updates: the dispatcher; raw: the reference.
	create, updates, raw throughput
	// latency: Merge's return to the provider showing it; merge: the
	// Merge call; direct: the two push writes of an equivalent pair.
	latency, merge, direct []time.Duration
	mergeLoad, directLoad  string
	// merges is each merge's latency with what the dispatcher did from
	// Merge's return until the provider showed it.
	merges []mergeSample
	// requests counts the provider's requests by method, over the run.
	requests map[string]int
}

// span is a count of calls and the wall time spent in them.
type span struct {
	n int
	d time.Duration
}

// spans is where the dispatcher spent its time: in the store's Update
// (leases, cursor and remote states), View (the accounts' states) and
// outbox reads, and in the target's Write.
type spans struct {
	update, view, outbox, write span
	// batches counts the outbox reads that returned events.
	batches int
}

func (a spans) plus(b spans) spans {
	add := func(x, y span) span { return span{x.n + y.n, x.d + y.d} }
	return spans{add(a.update, b.update), add(a.view, b.view), add(a.outbox, b.outbox), add(a.write, b.write), a.batches + b.batches}
}

// String is the spans as cells of a table row.
func (a spans) String() string {
	cell := func(x span) string { return fmt.Sprintf("%d, %s", x.n, x.d.Round(100*time.Microsecond)) }
	return fmt.Sprintf("%d | %s | %s | %s | %s", a.batches, cell(a.update), cell(a.view), cell(a.outbox), cell(a.write))
}

func (a spans) minus(b spans) spans {
	sub := func(x, y span) span { return span{x.n - y.n, x.d - y.d} }
	return spans{sub(a.update, b.update), sub(a.view, b.view), sub(a.outbox, b.outbox), sub(a.write, b.write), a.batches - b.batches}
}

// probe is the store and the target as the dispatcher sees them: it
// times their calls, and each Update it runs (leases, cursor and remote
// states) signals committed once it returns, so that the harness reads
// the cursor after each of them instead of sleeping.
type probe struct {
	store.Store
	target    propagate.AccountTarget
	committed chan struct{}

	mu      sync.Mutex
	s       spans
	tracing bool
	calls   []call
}

// call is one call of the dispatcher's, timed.
type call struct {
	kind       string
	start, end time.Time
}

func (p *probe) add(sp *span, since time.Time) {
	end := time.Now()
	p.mu.Lock()
	sp.n++
	sp.d += end.Sub(since)
	if p.tracing {
		kind := map[*span]string{&p.s.update: "update", &p.s.view: "view", &p.s.outbox: "outbox", &p.s.write: "write"}[sp]
		p.calls = append(p.calls, call{kind, since, end})
	}
	p.mu.Unlock()
}

// trace turns the record of each call on or off.
func (p *probe) trace(on bool) {
	p.mu.Lock()
	p.tracing = on
	p.mu.Unlock()
}

// timeline returns the calls that ended after from and started before
// to, relative to at.
func (p *probe) timeline(from, to, at time.Time) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	rel := func(t time.Time) string { return fmt.Sprintf("%.1f", float64(t.Sub(at))/float64(time.Millisecond)) }
	var parts []string
	for _, c := range p.calls {
		if c.end.After(from) && c.start.Before(to) {
			parts = append(parts, fmt.Sprintf("%s %s…%s", c.kind, rel(c.start), rel(c.end)))
		}
	}
	return strings.Join(parts, ", ")
}

func (p *probe) spans() spans {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.s
}

func (p *probe) Update(ctx context.Context, fn func(tx store.Tx) error) error {
	defer p.add(&p.s.update, time.Now())
	defer func() {
		select {
		case p.committed <- struct{}{}:
		default:
		}
	}()
	return p.Store.Update(ctx, fn)
}

func (p *probe) View(ctx context.Context, fn func(tx store.Tx) error) error {
	defer p.add(&p.s.view, time.Now())
	return p.Store.View(ctx, fn)
}

func (p *probe) Outbox() store.OutboxReader { return probeOutbox{p} }

func (p *probe) Write(ctx context.Context, a propagate.Account, prev propagate.Remote) (propagate.Remote, error) {
	defer p.add(&p.s.write, time.Now())
	return p.target.Write(ctx, a, prev)
}

type probeOutbox struct{ p *probe }

func (o probeOutbox) After(ctx context.Context, seq int64, limit int) ([]store.OutboxEvent, error) {
	start := time.Now()
	evs, err := o.p.Store.Outbox().After(ctx, seq, limit)
	o.p.add(&o.p.s.outbox, start)
	if len(evs) > 0 {
		o.p.mu.Lock()
		o.p.s.batches++
		o.p.mu.Unlock()
	}
	return evs, err
}

func (o probeOutbox) Head(ctx context.Context) (int64, error) { return o.p.Store.Outbox().Head(ctx) }

// openStore opens a fresh migrated store of the driver and describes the
// machine and the database.
func openStore(tb testing.TB, driver string) (store.Store, string) {
	tb.Helper()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	var st store.Store
	var dsn string
	var err error
	switch driver {
	case "sqlite":
		dsn = filepath.Join(tb.TempDir(), "canonid.db")
		st, err = sqlite.Open(ctx, dsn, log)
	case "postgres":
		dsn = storetest.PostgresDSN(tb)
		st, err = postgres.Open(ctx, dsn, log)
	default:
		tb.Fatalf("CANONID_BENCH_DRIVER=%q: sqlite or postgres", driver)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	raw, err := benchenv.OpenRaw(ctx, driver, dsn)
	if err != nil {
		tb.Fatal(err)
	}
	defer raw.Close()
	version, settings, err := benchenv.Describe(ctx, raw, driver)
	if err != nil {
		tb.Fatal(err)
	}
	machine := fmt.Sprintf("%s %s/%s, GOMAXPROCS=%d, %d CPUs (%s); %s via %s; %s", runtime.Version(), runtime.GOOS, runtime.GOARCH,
		runtime.GOMAXPROCS(0), runtime.NumCPU(), benchenv.CPUModel(), version, benchenv.DriverModule(driver), settings)
	return st, machine
}

// seed writes the n pairs, 500 accounts per transaction, each with its
// account.created event.
func seed(tb testing.TB, st store.Store, n int) {
	tb.Helper()
	ctx := context.Background()
	var all []identity.Account
	var emails []identity.Email
	for i := range n {
		family := fmt.Sprintf("Martin%06d", i)
		all = append(all,
			identity.Account{ID: univ(i), Status: identity.StatusActive, Login: fmt.Sprintf("cmartin%06d", i), GivenName: "Camille", FamilyName: family},
			identity.Account{ID: agency(i), Status: identity.StatusActive, Login: fmt.Sprintf("ars-cmartin%06d", i), GivenName: "Camille", FamilyName: family})
		emails = append(emails,
			identity.Email{AccountID: univ(i), Address: univAddress(i), Verified: true, Primary: true, Source: "ldap:campus"},
			identity.Email{AccountID: agency(i), Address: agencyAddress(i), Verified: true, Primary: true, Source: "csv:ars"})
	}
	for lo := 0; lo < len(all); lo += 500 {
		hi := min(lo+500, len(all))
		err := st.Update(ctx, func(tx store.Tx) error {
			for j := lo; j < hi; j++ {
				a := all[j]
				if err := tx.Accounts().Create(ctx, &a); err != nil {
					return err
				}
				e := emails[j]
				if err := tx.Emails().Add(ctx, &e); err != nil {
					return err
				}
				if err := tx.Record(ctx, store.Event{Type: identity.EventAccountCreated, Actor: "bench", AccountID: a.ID,
					Data: map[string]string{"login": a.Login}}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// update gives every account the given name of round r, 500 accounts per
// transaction, one account.updated event each.
func update(tb testing.TB, st store.Store, ids []string, r int) {
	tb.Helper()
	ctx := context.Background()
	for chunk := range slices.Chunk(ids, 500) {
		err := st.Update(ctx, func(tx store.Tx) error {
			accs, err := tx.Accounts().GetMany(ctx, chunk)
			if err != nil {
				return err
			}
			for _, a := range accs {
				a.GivenName = fmt.Sprintf("Camille-%d", r)
				if err := tx.Accounts().Update(ctx, &a); err != nil {
					return err
				}
				if err := tx.Record(ctx, store.Event{Type: identity.EventAccountUpdated, Actor: "bench", AccountID: a.ID}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// states reads the downstream state of the accounts and what the target
// remembers of each.
func states(tb testing.TB, st store.Store, ids []string) (map[string]propagate.Account, map[string]store.RemoteState) {
	tb.Helper()
	ctx := context.Background()
	var want map[string]propagate.Account
	var remotes map[string]store.RemoteState
	err := st.View(ctx, func(tx store.Tx) error {
		var err error
		if want, err = propagate.Load(ctx, tx, ids); err != nil {
			return err
		}
		remotes, err = tx.Propagation().Remotes(ctx, targetName, ids)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	for _, id := range ids {
		if _, ok := want[id]; !ok {
			tb.Fatalf("account %s: no downstream state", id)
		}
	}
	return want, remotes
}

// waitDrained waits until the target's cursor is at the outbox head,
// reading the status after each Update of the dispatcher, and returns
// when it saw it. It fails on a dead letter or an error.
func waitDrained(tb testing.TB, st store.Store, committed <-chan struct{}) sample {
	tb.Helper()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	for {
		ss, err := propagate.Status(context.Background(), st, []string{targetName})
		if err != nil {
			tb.Fatal(err)
		}
		s := ss[0]
		if s.DeadLetters > 0 || s.LastError != "" {
			tb.Fatalf("target %s: %d dead letters, last error %q", targetName, s.DeadLetters, s.LastError)
		}
		if s.Head > 0 && s.Cursor >= s.Head {
			return now()
		}
		select {
		case <-committed:
		case <-deadline.C:
			tb.Fatalf("the cursor did not reach the head within %s: %+v", waitLimit, s)
		}
	}
}

// waitProvider waits until cond holds on the provider, looking after each
// write it signals.
func waitProvider(tb testing.TB, srv *scimtest.Server, what string, cond func() bool) time.Time {
	tb.Helper()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-srv.Changed():
		case <-deadline.C:
			tb.Fatalf("the provider did not show %s within %s", what, waitLimit)
		}
	}
	return time.Now()
}

// writeRequests is the number of write requests the provider received.
func writeRequests(srv *scimtest.Server) int {
	return srv.RequestsByMethod("POST") + srv.RequestsByMethod("PATCH") + srv.RequestsByMethod("PUT") + srv.RequestsByMethod("DELETE")
}

// reference renames a downstream state into the equivalent account of a
// reference pair: other ids, logins and addresses, the same shape.
func reference(a propagate.Account) propagate.Account {
	a.ID = "ref-" + a.ID
	if a.SurvivorID != "" {
		a.SurvivorID = "ref-" + a.SurvivorID
	}
	if a.Login != "" {
		a.Login = "ref-" + a.Login
	}
	a.Emails = slices.Clone(a.Emails)
	for i := range a.Emails {
		a.Emails[i].Address = "ref-" + a.Emails[i].Address
	}
	a.MergedLogins = slices.Clone(a.MergedLogins)
	for i := range a.MergedLogins {
		a.MergedLogins[i] = "ref-" + a.MergedLogins[i]
	}
	return a
}

func run(tb testing.TB, cfg config) *report {
	tb.Helper()
	ctx := context.Background()
	n, k := cfg.pairs, cfg.merges
	if k > n {
		tb.Fatalf("%d merges need as many pairs, got %d", k, n)
	}
	st, machine := openStore(tb, cfg.driver)
	rep := &report{cfg: cfg, machine: machine}

	start := time.Now()
	seed(tb, st, n)
	rep.setup = time.Since(start)
	var ids []string // pair by pair
	for i := range n {
		ids = append(ids, univ(i), agency(i))
	}

	srv := scimtest.Start(tb, scimtest.Options{})
	newTarget := func() *push.Target {
		t, err := push.New(push.Config{Name: targetName, URL: srv.URL, Token: srv.Token}, srv.Client)
		if err != nil {
			tb.Fatal(err)
		}
		return t
	}
	disp := &probe{Store: st, target: newTarget(), committed: make(chan struct{}, 1)}
	d := propagate.New(disp, propagate.Options{Owner: "bench", Poll: time.Second,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	d.AddAccountTarget(propagate.TargetConfig{Name: targetName}, disp)
	dctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	tb.Cleanup(func() { cancel(); <-done })

	// Create: the dispatcher starts on 2n events waiting.
	w0, s0, p0 := writeRequests(srv), now(), disp.spans()
	go func() {
		defer close(done)
		_ = d.Run(dctx)
	}()
	s1 := waitDrained(tb, st, disp.committed)
	rep.create = measure("create", s0, s1, 2*n, writeRequests(srv)-w0)
	rep.create.spans = disp.spans().minus(p0)
	if got := len(srv.Users()); got != 2*n || rep.create.writes != 2*n {
		tb.Fatalf("after create: %d Users, %d writes; want %d", got, rep.create.writes, 2*n)
	}

	// Updates: rounds of changes to every account while the dispatcher
	// delivers.
	w0, s0, p0 = writeRequests(srv), now(), disp.spans()
	for r := 1; r <= cfg.rounds; r++ {
		update(tb, st, ids, r)
	}
	last := time.Now()
	at, err := propagate.Status(ctx, st, []string{targetName})
	if err != nil {
		tb.Fatal(err)
	}
	s1 = waitDrained(tb, st, disp.committed)
	rep.updates = measure("updates", s0, s1, 2*n*cfg.rounds, writeRequests(srv)-w0)
	rep.updates.writer, rep.updates.tail = last.Sub(s0.at), s1.at.Sub(last)
	rep.updates.backlog = int(at[0].Head - at[0].Cursor)
	rep.updates.spans = disp.spans().minus(p0)
	if w := rep.updates.writes; w < 2*n || w > 2*n*cfg.rounds {
		tb.Fatalf("updates: %d writes, want between %d and %d", w, 2*n, 2*n*cfg.rounds)
	}

	// Reference: the same accounts' current states, written one after the
	// other by a target of its own (its first request, reading the
	// provider's features, is made before the clock starts).
	want, remotes := states(tb, st, ids)
	raw := newTarget()
	prev := func(id string) propagate.Remote {
		rs := remotes[id]
		if rs.RemoteID == "" {
			tb.Fatalf("account %s: no remote id", id)
		}
		return propagate.Remote{ID: rs.RemoteID, Hash: rs.Hash, RetiredAt: rs.RetiredAt}
	}
	if _, err := raw.Write(ctx, want[ids[0]], prev(ids[0])); err != nil {
		tb.Fatal(err)
	}
	w0, s0 = writeRequests(srv), now()
	for _, id := range ids {
		if _, err := raw.Write(ctx, want[id], prev(id)); err != nil {
			tb.Fatal(err)
		}
	}
	s1 = now()
	rep.raw = measure("raw writes", s0, s1, 0, writeRequests(srv)-w0)
	if rep.raw.writes != 2*n {
		tb.Fatalf("raw writes: %d requests, want %d", rep.raw.writes, 2*n)
	}

	// The reference pairs, created before the merges so that the provider
	// holds as many Users during both.
	type pairRemote struct{ survivor, retired propagate.Remote }
	refs := make([]pairRemote, k)
	for i := range k {
		var err error
		if refs[i].survivor, err = raw.Write(ctx, reference(want[univ(i)]), propagate.Remote{}); err != nil {
			tb.Fatal(err)
		}
		if refs[i].retired, err = raw.Write(ctx, reference(want[agency(i)]), propagate.Remote{}); err != nil {
			tb.Fatal(err)
		}
	}

	// Merges, one at a time. The Users are looked up by id (a map lookup)
	// rather than by externalId, which sorts every User on each call.
	svc := accounts.New(st, accounts.Config{}, nil)
	rep.mergeLoad = benchenv.LoadAvg()
	disp.trace(true)
	for i := range k {
		surv, ret := prev(univ(i)).ID, prev(agency(i)).ID
		both := sorted([]string{agencyAddress(i), univAddress(i)})
		t0 := time.Now()
		if _, err := svc.Merge(ctx, accounts.MergeRequest{SurvivorID: univ(i), RetiredID: agency(i), Reason: identity.MergeByAdmin, Actor: "bench"}); err != nil {
			tb.Fatal(err)
		}
		t1, p1 := time.Now(), disp.spans()
		t2 := waitProvider(tb, srv, "merge "+strconv.Itoa(i), func() bool {
			s, ok1 := srv.UserByID(surv)
			r, ok2 := srv.UserByID(ret)
			return ok1 && ok2 && s.Active && !r.Active && slices.Equal(sorted(s.Emails), both)
		})
		rep.merge = append(rep.merge, t1.Sub(t0))
		rep.latency = append(rep.latency, t2.Sub(t1))
		// Untimed: the dispatcher stores its cursor before the next one.
		t3 := waitDrained(tb, st, disp.committed).at
		rep.merges = append(rep.merges, mergeSample{i: i, latency: t2.Sub(t1), merge: t1.Sub(t0), spans: disp.spans().minus(p1),
			timeline: disp.timeline(t0, t3, t1)})
	}

	disp.trace(false)

	// Reference: the two writes of a merge, sent directly, for equivalent
	// pairs (the merged pairs' states, renamed).
	var mergedIDs []string
	for i := range k {
		mergedIDs = append(mergedIDs, univ(i), agency(i))
	}
	after, _ := states(tb, st, mergedIDs)
	rep.directLoad = benchenv.LoadAvg()
	for i := range k {
		retired, survivor := reference(after[agency(i)]), reference(after[univ(i)])
		if retired.State != propagate.StateRetired || len(survivor.Emails) != 2 {
			tb.Fatalf("pair %d after the merge: %+v, %+v", i, after[agency(i)], after[univ(i)])
		}
		t0 := time.Now()
		if _, err := raw.Write(ctx, retired, refs[i].retired); err != nil {
			tb.Fatal(err)
		}
		if _, err := raw.Write(ctx, survivor, refs[i].survivor); err != nil {
			tb.Fatal(err)
		}
		rep.direct = append(rep.direct, time.Since(t0))
	}

	check(tb, st, srv, rep, prev)
	rep.requests = map[string]int{}
	for _, m := range []string{"GET", "POST", "PATCH", "PUT", "DELETE"} {
		rep.requests[m] = srv.RequestsByMethod(m)
	}
	return rep
}

func sorted(v []string) []string {
	v = slices.Clone(v)
	slices.Sort(v)
	return v
}

// check counts, untimed, what reached the provider: every account, one
// active User per merged pair with both addresses, the retired one
// inactive and freed, the other pairs as they were, the reference pairs
// as merged, and the cursor at the head.
func check(tb testing.TB, st store.Store, srv *scimtest.Server, rep *report, remote func(string) propagate.Remote) {
	tb.Helper()
	n, k := rep.cfg.pairs, rep.cfg.merges
	users := srv.Users()
	byExt := map[string]scimtest.User{}
	active := 0
	for _, u := range users {
		if _, dup := byExt[u.ExternalID]; dup {
			tb.Errorf("two Users with externalId %s", u.ExternalID)
		}
		byExt[u.ExternalID] = u
		if u.Active {
			active++
		}
	}
	if len(users) != 2*n+2*k || active != 2*n {
		tb.Fatalf("%d Users, %d active; want %d, %d active", len(users), active, 2*n+2*k, 2*n)
	}
	given := fmt.Sprintf("Camille-%d", rep.cfg.rounds)
	for i := range n {
		for _, p := range []string{"", "ref-"} {
			if p != "" && i >= k {
				continue
			}
			s, r := byExt[p+univ(i)], byExt[p+agency(i)]
			if p == "" && (s.ID != remote(univ(i)).ID || r.ID != remote(agency(i)).ID) {
				tb.Errorf("pair %d: Users %s and %s, the store remembers %s and %s", i, s.ID, r.ID, remote(univ(i)).ID, remote(agency(i)).ID)
			}
			ua, aa := p+univAddress(i), p+agencyAddress(i)
			if !s.Active || s.GivenName != given || s.UserName != p+fmt.Sprintf("cmartin%06d", i) || s.PrimaryEmail != ua {
				tb.Errorf("pair %d%s: survivor %+v", i, p, s)
			}
			if i < k {
				if r.Active || len(r.Emails) != 0 || r.UserName != push.Tombstone(p+agency(i)) ||
					!slices.Equal(sorted(s.Emails), sorted([]string{aa, ua})) {
					tb.Errorf("merged pair %d%s: survivor %+v, retired %+v", i, p, s, r)
				}
			} else if !r.Active || !slices.Equal(r.Emails, []string{aa}) || len(s.Emails) != 1 || r.GivenName != given {
				tb.Errorf("pair %d: %+v, %+v", i, s, r)
			}
		}
	}
	ss, err := propagate.Status(context.Background(), st, []string{targetName})
	if err != nil {
		tb.Fatal(err)
	}
	if s := ss[0]; s.Cursor != s.Head || s.Head != int64(2*n*(1+rep.cfg.rounds)+k) || s.DeadLetters != 0 {
		tb.Fatalf("status %+v: want the cursor at the head, %d events, no dead letter", s, 2*n*(1+rep.cfg.rounds)+k)
	}
	if len(rep.latency) != k || len(rep.merge) != k || len(rep.direct) != k {
		tb.Fatalf("%d latencies, %d merges, %d direct writes; want %d", len(rep.latency), len(rep.merge), len(rep.direct), k)
	}
}

// percentile is the exact nearest-rank p-th percentile of ds.
func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := (p*len(s) + 99) / 100
	return s[max(rank, 1)-1]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func (r *report) markdown() string {
	var b strings.Builder
	c := r.cfg
	fmt.Fprintf(&b, "%s\n", r.machine)
	fmt.Fprintf(&b, "%d pairs (%d accounts, set up in %s), %d rounds of updates, %d merges; provider requests %v\n\n",
		c.pairs, 2*c.pairs, r.setup.Round(time.Millisecond), c.rounds, c.merges, r.requests)
	rawRate := r.raw.writeRate()
	fmt.Fprintf(&b, "| phase | events | writes | time | events/s | writes/s | × raw writes/s | CPU s (process / others / steal) | load before |\n")
	fmt.Fprintf(&b, "|---|--:|--:|--:|--:|--:|--:|--:|---|\n")
	for _, t := range []throughput{r.create, r.updates} {
		fmt.Fprintf(&b, "| %s | %d | %d | %s | %.0f | %.0f | %.2f | %.2f / %.2f / %.2f | %s |\n", t.name, t.events, t.writes,
			t.d.Round(time.Millisecond), t.eventRate(), t.writeRate(), t.writeRate()/rawRate, t.cpu, t.others, t.steal, t.load)
	}
	fmt.Fprintf(&b, "| %s (reference) | | %d | %s | | %.0f | 1.00 | %.2f / %.2f / %.2f | %s |\n", r.raw.name, r.raw.writes,
		r.raw.d.Round(time.Millisecond), rawRate, r.raw.cpu, r.raw.others, r.raw.steal, r.raw.load)
	u := r.updates
	fmt.Fprintf(&b, "\nupdates: the writer committed for %s; at the last commit %d events were waiting, delivered in %s (%.0f events/s)\n\n",
		u.writer.Round(time.Millisecond), u.backlog, u.tail.Round(time.Millisecond), float64(u.backlog)/u.tail.Seconds())

	var inMerges spans
	for _, m := range r.merges {
		inMerges = m.spans.plus(inMerges)
	}
	fmt.Fprintf(&b, "| dispatcher's calls (count, wall time) | batches | store Update | store View | outbox read | target Write |\n|---|--:|--:|--:|--:|--:|\n")
	for _, row := range []struct {
		name string
		s    spans
	}{{"create", r.create.spans}, {"updates", r.updates.spans}, {"merges (from Merge's return to the cursor stored)", inMerges}} {
		fmt.Fprintf(&b, "| %s | %s |\n", row.name, row.s)
	}
	slow := slices.Clone(r.merges)
	slices.SortFunc(slow, func(a, b mergeSample) int { return int(b.latency - a.latency) })
	fmt.Fprintf(&b, "\nslowest merges (seen downstream at the latency; the cursor is stored by the last update):")
	for _, m := range slow[:min(3, len(slow))] {
		fmt.Fprintf(&b, "\n- #%d: %s (Merge %s); dispatcher's calls, in ms from Merge's return: %s", m.i, ms(m.latency), ms(m.merge), m.timeline)
	}
	b.WriteString("\n\n")

	fmt.Fprintf(&b, "| k = %d | p50 | p90 | p99 | max |\n|---|--:|--:|--:|--:|\n", len(r.latency))
	for _, row := range []struct {
		name string
		ds   []time.Duration
	}{
		{"merge → downstream (latency)", r.latency},
		{"Merge call", r.merge},
		{"direct writes, retired + survivor (reference)", r.direct},
	} {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", row.name, ms(percentile(row.ds, 50)), ms(percentile(row.ds, 90)),
			ms(percentile(row.ds, 99)), ms(slices.Max(row.ds)))
	}
	ratio := func(p int) float64 {
		return float64(percentile(r.latency, p)) / float64(percentile(r.merge, p)+percentile(r.direct, p))
	}
	p99 := percentile(r.latency, 99)
	goal := "met"
	if p99 >= time.Second {
		goal = "NOT met"
	}
	direct := func(p int) float64 { return float64(percentile(r.latency, p)) / float64(percentile(r.direct, p)) }
	fmt.Fprintf(&b, "\nlatency ÷ (Merge + direct writes): p50 %.2f, p99 %.2f; latency ÷ direct writes: p50 %.2f, p99 %.2f\n",
		ratio(50), ratio(99), direct(50), direct(99))
	fmt.Fprintf(&b, "goal p99 < 1 s: %s (p99 %s); load before the merges %s, before the direct writes %s\n",
		goal, ms(p99), r.mergeLoad, r.directLoad)
	return b.String()
}

func TestHarness(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			rep := run(t, config{driver: driver, pairs: 50, merges: 10, rounds: 5})
			out := rep.markdown()
			t.Log("\n" + out)
			for _, tp := range []throughput{rep.create, rep.updates, rep.raw} {
				if tp.d <= 0 || tp.writes <= 0 {
					t.Errorf("%s: %d writes in %s", tp.name, tp.writes, tp.d)
				}
			}
			if percentile(rep.latency, 99) <= 0 || percentile(rep.direct, 50) <= 0 || !strings.Contains(out, "goal p99 < 1 s") {
				t.Errorf("figures missing:\n%s", out)
			}
		})
	}
}

func envInt(tb testing.TB, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		tb.Fatalf("%s=%q: a positive integer", name, v)
	}
	return n
}

func BenchmarkPropagation(b *testing.B) {
	cfg := config{driver: "sqlite", pairs: envInt(b, "CANONID_BENCH_PAIRS", 1000),
		merges: envInt(b, "CANONID_BENCH_MERGES", 200), rounds: 5}
	if v := os.Getenv("CANONID_BENCH_DRIVER"); v != "" {
		cfg.driver = v
	}
	for b.Loop() {
		rep := run(b, cfg)
		b.ReportMetric(0, "ns/op")
		b.ReportMetric(rep.updates.eventRate(), "events/s")
		b.ReportMetric(rep.updates.writeRate(), "writes/s")
		b.ReportMetric(float64(percentile(rep.latency, 50))/1e6, "p50-ms")
		b.ReportMetric(float64(percentile(rep.latency, 99))/1e6, "p99-ms")
		fmt.Println(rep.markdown())
	}
}
