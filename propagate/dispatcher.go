package propagate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

// TargetConfig is how the dispatcher drives one target.
type TargetConfig struct {
	// Name identifies the target in the store, the API and the metrics.
	Name string
	// Orgs limits the target to the validated members of these orgs;
	// empty means every account. An account that leaves the scope is
	// written inactive (if it was ever written); an event target receives
	// the events of these orgs and of the accounts in scope.
	Orgs []string
	// Statuses limits the target to accounts in these statuses (e.g.
	// active: a platform that wants no account before its activation);
	// empty means every status. Leaving the scope works as for Orgs.
	Statuses []string
	// Events limits an event target to these event types; empty means
	// DefaultEvents.
	Events []string
	// MaxAttempts is how often a change the target refuses is tried before
	// it becomes a dead letter (default 5). Unavailability does not count.
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the pause between attempts, which
	// doubles from MinBackoff with full jitter (defaults 200 ms and 5 min).
	MinBackoff, MaxBackoff time.Duration
	// DeleteAfter is how long a retired (merged) account stays deactivated
	// downstream before the target deletes it (Deleter); 0 keeps it.
	DeleteAfter time.Duration
	// BatchSize is how many outbox events one step reads (default 500).
	BatchSize int
}

// DefaultEvents are the event types an event target receives by default.
var DefaultEvents = []string{
	identity.EventAccountCreated, identity.EventAccountUpdated, identity.EventAccountMerged,
	identity.EventAccountUnmerged, identity.EventAccountSuspended, identity.EventAccountActivated,
	identity.EventMembershipValid,
}

func (c *TargetConfig) defaults() {
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 200 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 5 * time.Minute
	}
	c.MaxBackoff = max(c.MaxBackoff, c.MinBackoff)
	if c.BatchSize <= 0 {
		c.BatchSize = 500
	}
	if len(c.Events) == 0 {
		c.Events = DefaultEvents
	}
}

// Options configure a Dispatcher.
type Options struct {
	// Owner names this process in the leases (host name and pid, say).
	Owner string
	// Lease is how long a lease lasts without renewal (default 30 s): the
	// time another replica waits before taking over a dead one's targets.
	Lease time.Duration
	// Poll is how often an idle dispatcher looks at the outbox without
	// being woken (default 5 s), and at dead letters marked for retry.
	Poll   time.Duration
	Logger *slog.Logger
	// Metrics, if set, is told about deliveries.
	Metrics *Metrics
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// Dispatcher follows the outbox and delivers it to the targets: each target
// in order of the outbox, by a loop of its own, under a lease so that one
// replica at a time delivers it.
type Dispatcher struct {
	st      store.Store
	opts    Options
	runners []*runner
}

// New returns a dispatcher over st with no target yet.
func New(st store.Store, opts Options) *Dispatcher {
	if opts.Lease <= 0 {
		opts.Lease = 30 * time.Second
	}
	if opts.Poll <= 0 {
		opts.Poll = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Owner == "" {
		opts.Owner = fmt.Sprintf("canonid-%d", rand.Int64())
	}
	return &Dispatcher{st: st, opts: opts}
}

// SetMetrics makes the dispatcher report to m (before Run).
func (d *Dispatcher) SetMetrics(m *Metrics) { d.opts.Metrics = m }

// AddAccountTarget adds a target that holds accounts.
func (d *Dispatcher) AddAccountTarget(cfg TargetConfig, t AccountTarget) {
	d.add(cfg, t, nil)
}

// AddEventTarget adds a target that receives events.
func (d *Dispatcher) AddEventTarget(cfg TargetConfig, t EventTarget) {
	d.add(cfg, nil, t)
}

func (d *Dispatcher) add(cfg TargetConfig, at AccountTarget, et EventTarget) {
	cfg.defaults()
	r := &runner{d: d, cfg: cfg, accounts: at, events: et,
		log: d.opts.Logger.With("target", cfg.Name), wants: map[string]bool{}}
	for _, t := range cfg.Events {
		r.wants[t] = true
	}
	d.runners = append(d.runners, r)
}

// Targets names the targets, in the order added.
func (d *Dispatcher) Targets() []string {
	var out []string
	for _, r := range d.runners {
		out = append(out, r.cfg.Name)
	}
	return out
}

// Run delivers until ctx ends, then gives the leases up. It returns nil
// on cancellation.
func (d *Dispatcher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, r := range d.runners {
		wg.Go(func() { r.run(ctx) })
	}
	wg.Wait()
	return nil
}

// runner delivers one target.
type runner struct {
	d        *Dispatcher
	cfg      TargetConfig
	accounts AccountTarget
	events   EventTarget
	log      *slog.Logger
	wants    map[string]bool
	// held: this process holds the lease until leaseUntil.
	held       bool
	leaseUntil time.Time
	cursor     int64
	// dead maps the dead letters of the target, by key ("a:<account>" or
	// "e:<seq>"), to their ids and attempts: kept while the lease is held.
	dead map[string]store.DeadLetter
	// unavailable counts the steps in a row that found the target down.
	unavailable int
	lastDeletes time.Time
}

func (r *runner) now() time.Time { return r.d.opts.Now() }

func (r *runner) run(ctx context.Context) {
	wake, cancel := r.d.st.Subscribe()
	defer cancel()
	defer r.release()
	for ctx.Err() == nil {
		if err := r.lease(ctx); err != nil {
			if ctx.Err() == nil {
				r.log.Warn("propagation lease", "err", err)
			}
		}
		if !r.held {
			// Another replica delivers this target: look again before its
			// lease can have run out.
			r.pause(ctx, nil, r.d.opts.Lease/3)
			continue
		}
		more, err := r.step(ctx)
		switch {
		case err == nil && more:
			r.unavailable = 0
			continue
		case err == nil:
			r.unavailable = 0
			r.idle(ctx)
			r.pause(ctx, wake, r.d.opts.Poll)
		case errors.Is(err, store.ErrLeaseLost):
			r.held = false
		default:
			if ctx.Err() != nil {
				return
			}
			down, retryAfter := IsUnavailable(err)
			if down {
				r.unavailable++
			}
			wait := max(retryAfter, backoff(r.cfg, max(r.unavailable, 1)))
			r.log.Warn("propagation held back", "err", err, "retry_in", wait)
			r.noteError(ctx, err)
			r.hold(ctx, wait)
		}
	}
}

// hold waits d before the next attempt (a Retry-After may ask for
// minutes), renewing the lease meanwhile so that no other replica takes
// the target over while this one waits on it.
func (r *runner) hold(ctx context.Context, d time.Duration) {
	end := r.now().Add(d)
	for ctx.Err() == nil && r.held {
		left := end.Sub(r.now())
		if left <= 0 {
			return
		}
		r.pause(ctx, nil, min(left, r.d.opts.Lease/3))
		if err := r.lease(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("propagation lease", "err", err)
		}
	}
}

// pause waits for d, a wake-up on ch, or the end of ctx.
func (r *runner) pause(ctx context.Context, ch <-chan struct{}, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-ch:
	case <-t.C:
	}
}

// backoff is the pause before attempt n+1: MinBackoff doubled n-1 times,
// capped, with full jitter over its upper half.
func backoff(cfg TargetConfig, n int) time.Duration {
	d := cfg.MinBackoff << min(n-1, 30)
	if d <= 0 || d > cfg.MaxBackoff {
		d = cfg.MaxBackoff
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// lease takes or renews the lease when a third of it has run.
func (r *runner) lease(ctx context.Context) error {
	now := r.now()
	if r.held && r.leaseUntil.Sub(now) > r.d.opts.Lease*2/3 {
		return nil
	}
	until := now.Add(r.d.opts.Lease)
	var t store.PropagationTarget
	var held bool
	err := r.d.st.Update(ctx, func(tx store.Tx) error {
		var err error
		t, held, err = tx.Propagation().Lease(ctx, r.cfg.Name, r.d.opts.Owner, now, until)
		return err
	})
	if err != nil {
		r.held = false
		return err
	}
	if held && !r.held {
		r.log.Info("propagation lease taken", "owner", r.d.opts.Owner, "cursor", t.Cursor)
		if err := r.loadDead(ctx); err != nil {
			return err
		}
	}
	r.held, r.leaseUntil, r.cursor = held, until, t.Cursor
	return nil
}

func (r *runner) release() {
	if !r.held {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := r.d.st.Update(ctx, func(tx store.Tx) error {
		return tx.Propagation().Release(ctx, r.cfg.Name, r.d.opts.Owner)
	})
	if err != nil {
		r.log.Warn("propagation lease release", "err", err)
	}
	r.held = false
}

func deadKey(d store.DeadLetter) string {
	if d.AccountID != "" {
		return "a:" + d.AccountID
	}
	return fmt.Sprintf("e:%d", d.Seq)
}

func (r *runner) loadDead(ctx context.Context) error {
	r.dead = map[string]store.DeadLetter{}
	var before int64
	for {
		var page []store.DeadLetter
		err := r.d.st.View(ctx, func(tx store.Tx) error {
			var err error
			page, err = tx.Propagation().DeadLetters(ctx, store.DeadLetterQuery{Target: r.cfg.Name, Before: before, Limit: 1000})
			return err
		})
		if err != nil {
			return fmt.Errorf("load dead letters: %w", err)
		}
		for _, d := range page {
			r.dead[deadKey(d)] = d
			before = d.ID
		}
		if len(page) < 1000 {
			return nil
		}
	}
}

// noteError stores the error that holds the target back.
func (r *runner) noteError(ctx context.Context, cause error) {
	err := r.commit(ctx, &store.PropagationProgress{LastError: cause.Error()})
	if err != nil && !errors.Is(err, store.ErrLeaseLost) && ctx.Err() == nil {
		r.log.Warn("propagation bookkeeping", "err", err)
	}
	if errors.Is(err, store.ErrLeaseLost) {
		r.held = false
	}
}

// commit stores p for this target at the runner's cursor, renewing the
// lease.
func (r *runner) commit(ctx context.Context, p *store.PropagationProgress) error {
	p.Target, p.Owner, p.Cursor = r.cfg.Name, r.d.opts.Owner, r.cursor
	p.Now = r.now()
	p.LeaseUntil = p.Now.Add(r.d.opts.Lease)
	err := r.d.st.Update(ctx, func(tx store.Tx) error { return tx.Propagation().Commit(ctx, *p) })
	if err == nil {
		r.leaseUntil = p.LeaseUntil
	}
	return err
}

// step delivers the next batch of the outbox and reports whether there may
// be more. On an error other than unavailability of one change, nothing
// past the cursor is lost: what was delivered is stored, the rest is
// delivered again.
func (r *runner) step(ctx context.Context) (bool, error) {
	var evs []store.OutboxEvent
	var err error
	evs, err = r.d.st.Outbox().After(ctx, r.cursor, r.cfg.BatchSize)
	if err != nil {
		return false, err
	}
	if len(evs) == 0 {
		return false, nil
	}
	p := &store.PropagationProgress{}
	if r.accounts != nil {
		err = r.deliverAccounts(ctx, evs, p)
	} else {
		err = r.deliverEvents(ctx, evs, p)
	}
	if err != nil {
		// Keep what was delivered; the cursor stays.
		p.LastError = err.Error()
		if cerr := r.commit(ctx, p); cerr != nil && ctx.Err() == nil {
			return false, errors.Join(err, cerr)
		}
		r.applyDead(p)
		return false, err
	}
	last := evs[len(evs)-1]
	r.cursor = last.Seq
	p.DeliveredThrough = last.At
	if err := r.commit(ctx, p); err != nil {
		r.cursor = evs[0].Seq - 1
		return false, err
	}
	r.applyDead(p)
	if m := r.d.opts.Metrics; m != nil {
		m.observeBatch(r.cfg.Name, evs, r.now())
	}
	return len(evs) == r.cfg.BatchSize, nil
}

// applyDead mirrors in memory the dead letters p stored.
func (r *runner) applyDead(p *store.PropagationProgress) {
	for _, id := range p.ClearAccounts {
		delete(r.dead, "a:"+id)
	}
	for _, seq := range p.ClearSeqs {
		delete(r.dead, fmt.Sprintf("e:%d", seq))
	}
	for _, d := range p.Dead {
		r.dead[deadKey(d)] = d
	}
}

// concerned lists the accounts an event is about, in the order they must
// be written: a merge first retires the account that goes (freeing its
// login and addresses downstream), then updates the survivor; an undo
// first takes the restored values off the survivor.
func concerned(ev store.OutboxEvent) []string {
	switch ev.Type {
	case identity.EventAccountMerged, identity.EventAccountUnmerged:
		var m identity.MergeEventData
		if json.Unmarshal(ev.Data, &m) == nil && m.SurvivorID != "" && m.RetiredID != "" {
			if ev.Type == identity.EventAccountMerged {
				return []string{m.RetiredID, m.SurvivorID}
			}
			return []string{m.SurvivorID, m.RetiredID}
		}
	}
	if ev.AccountID != "" {
		return []string{ev.AccountID}
	}
	return nil
}

// writeOrder lists the accounts of a batch, each once, in the order of its
// last mention: the state written is the current one, so only the last
// event's ordering constraint matters (an undo after a merge: the survivor
// gives the addresses back before the restored account takes them).
func writeOrder(evs []store.OutboxEvent) []string {
	last := map[string]int{}
	n := 0
	for _, ev := range evs {
		for _, id := range concerned(ev) {
			last[id] = n
			n++
		}
	}
	ids := make([]string, 0, len(last))
	for id := range last {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int { return last[a] - last[b] })
	return ids
}

// inScope tells whether the target wants a. A retired account always is:
// its remote entry, if any, must be retired.
func (r *runner) inScope(a Account) bool {
	if a.State == StateRetired {
		return true
	}
	if len(r.cfg.Statuses) > 0 && !slices.Contains(r.cfg.Statuses, a.Status) {
		return false
	}
	if len(r.cfg.Orgs) == 0 {
		return true
	}
	for _, o := range a.Orgs {
		if slices.Contains(r.cfg.Orgs, o.ID) {
			return true
		}
	}
	return false
}

func (r *runner) deliverAccounts(ctx context.Context, evs []store.OutboxEvent, p *store.PropagationProgress) error {
	ids := writeOrder(evs)
	if len(ids) == 0 {
		return nil
	}
	var want map[string]Account
	var remotes map[string]store.RemoteState
	err := r.d.st.View(ctx, func(tx store.Tx) error {
		var err error
		if want, err = Load(ctx, tx, ids); err != nil {
			return err
		}
		remotes, err = tx.Propagation().Remotes(ctx, r.cfg.Name, ids)
		return err
	})
	if err != nil {
		return err
	}
	for _, id := range ids {
		a, ok := want[id]
		if !ok {
			continue
		}
		if err := r.writeAccount(ctx, a, remotes[id], p); err != nil {
			return err
		}
	}
	return nil
}

// writeAccount writes a if the target's view of it changed, retrying a
// refusal up to MaxAttempts before dead-lettering it. It returns only the
// errors that stop the batch: unavailability and cancellation.
func (r *runner) writeAccount(ctx context.Context, a Account, rs store.RemoteState, p *store.PropagationProgress) error {
	if !r.inScope(a) {
		if rs.RemoteID == "" {
			return nil
		}
		a.State = StateInactive
	}
	hash := Hash(a)
	key := "a:" + a.ID
	dead, wasDead := r.dead[key]
	if rs.Hash == hash && rs.RemoteID != "" {
		if wasDead {
			p.ClearAccounts = append(p.ClearAccounts, a.ID)
		}
		return nil
	}
	if rs.RemoteID == "" && a.State == StateRetired {
		// Never written: nothing to retire.
		return nil
	}
	prev := Remote{ID: rs.RemoteID, Hash: rs.Hash, RetiredAt: rs.RetiredAt}
	var lastErr error
	for attempt := 1; attempt <= r.cfg.MaxAttempts; attempt++ {
		got, err := r.accounts.Write(ctx, a, prev)
		if err == nil {
			p.Put = append(p.Put, store.RemoteState{AccountID: a.ID, RemoteID: got.ID, Hash: hash, RetiredAt: got.RetiredAt})
			p.DeliveredAt = r.now()
			if wasDead {
				p.ClearAccounts = append(p.ClearAccounts, a.ID)
			}
			if m := r.d.opts.Metrics; m != nil {
				m.written(r.cfg.Name)
			}
			return nil
		}
		if down, _ := IsUnavailable(err); down || ctx.Err() != nil {
			return err
		}
		lastErr = err
		r.log.Warn("propagation write refused", "account", a.ID, "attempt", attempt, "err", err)
		if m := r.d.opts.Metrics; m != nil {
			m.failed(r.cfg.Name)
		}
		if attempt < r.cfg.MaxAttempts {
			r.pause(ctx, nil, backoff(r.cfg, attempt))
		}
	}
	p.Dead = append(p.Dead, store.DeadLetter{AccountID: a.ID, EventType: "account." + string(a.State),
		Attempts: dead.Attempts + r.cfg.MaxAttempts, LastError: lastErr.Error()})
	r.log.Error("propagation dead letter", "account", a.ID, "err", lastErr)
	return nil
}

func (r *runner) deliverEvents(ctx context.Context, evs []store.OutboxEvent, p *store.PropagationProgress) error {
	var ids []string
	for _, ev := range evs {
		if r.wants[ev.Type] && ev.AccountID != "" {
			ids = append(ids, ev.AccountID)
		}
	}
	var accs map[string]Account
	if len(ids) > 0 {
		err := r.d.st.View(ctx, func(tx store.Tx) error {
			var err error
			accs, err = Load(ctx, tx, ids)
			return err
		})
		if err != nil {
			return err
		}
	}
	for i, ev := range evs {
		if !r.wants[ev.Type] || !r.eventInScope(ev, accs) {
			continue
		}
		if err := r.deliverEvent(ctx, toEvent(ev, accs), p); err != nil {
			// The events before this one are delivered.
			if i > 0 {
				r.cursor = evs[i-1].Seq
			}
			return err
		}
	}
	return nil
}

// eventInScope tells whether an event target limited to orgs wants ev:
// an event of one of its orgs, or about an account in scope.
func (r *runner) eventInScope(ev store.OutboxEvent, accs map[string]Account) bool {
	if len(r.cfg.Orgs) == 0 || slices.Contains(r.cfg.Orgs, ev.OrgID) {
		return true
	}
	a, ok := accs[ev.AccountID]
	return ok && r.inScope(a)
}

func toEvent(ev store.OutboxEvent, accs map[string]Account) Event {
	out := Event{ID: ev.Seq, Type: ev.Type, At: ev.At.UTC(), AccountID: ev.AccountID, OrgID: ev.OrgID}
	if len(ev.Data) > 0 {
		_ = json.Unmarshal(ev.Data, &out.Data)
	}
	if a, ok := accs[ev.AccountID]; ok {
		out.Account = &a
	}
	return out
}

func (r *runner) deliverEvent(ctx context.Context, ev Event, p *store.PropagationProgress) error {
	dead, wasDead := r.dead[fmt.Sprintf("e:%d", ev.ID)]
	var lastErr error
	for attempt := 1; attempt <= r.cfg.MaxAttempts; attempt++ {
		err := r.events.Deliver(ctx, ev)
		if err == nil {
			p.DeliveredAt = r.now()
			if wasDead {
				p.ClearSeqs = append(p.ClearSeqs, ev.ID)
			}
			if m := r.d.opts.Metrics; m != nil {
				m.written(r.cfg.Name)
			}
			return nil
		}
		if down, _ := IsUnavailable(err); down || ctx.Err() != nil {
			return err
		}
		lastErr = err
		r.log.Warn("propagation delivery refused", "event", ev.ID, "type", ev.Type, "attempt", attempt, "err", err)
		if m := r.d.opts.Metrics; m != nil {
			m.failed(r.cfg.Name)
		}
		if attempt < r.cfg.MaxAttempts {
			r.pause(ctx, nil, backoff(r.cfg, attempt))
		}
	}
	p.Dead = append(p.Dead, store.DeadLetter{Seq: ev.ID, EventType: ev.Type, Attempts: dead.Attempts + r.cfg.MaxAttempts, LastError: lastErr.Error()})
	r.log.Error("propagation dead letter", "event", ev.ID, "type", ev.Type, "err", lastErr)
	return nil
}

// idle runs, when the outbox is delivered, the dead letters an operator
// asked to retry and the deletion of retired accounts past their grace.
func (r *runner) idle(ctx context.Context) {
	if err := r.retryDead(ctx); err != nil && ctx.Err() == nil {
		r.log.Warn("propagation retry of dead letters", "err", err)
	}
	if err := r.deleteRetired(ctx); err != nil && ctx.Err() == nil {
		r.log.Warn("propagation deletion of retired accounts", "err", err)
	}
}

func (r *runner) retryDead(ctx context.Context) error {
	var marked []store.DeadLetter
	err := r.d.st.View(ctx, func(tx store.Tx) error {
		var err error
		marked, err = tx.Propagation().DeadLetters(ctx, store.DeadLetterQuery{Target: r.cfg.Name, Retry: true, Limit: r.cfg.BatchSize})
		return err
	})
	if err != nil || len(marked) == 0 {
		return err
	}
	p := &store.PropagationProgress{}
	var derr error
	if r.accounts != nil {
		var ids []string
		for _, d := range marked {
			r.dead[deadKey(d)] = d
			ids = append(ids, d.AccountID)
		}
		var want map[string]Account
		var remotes map[string]store.RemoteState
		if err := r.d.st.View(ctx, func(tx store.Tx) error {
			var err error
			if want, err = Load(ctx, tx, ids); err != nil {
				return err
			}
			remotes, err = tx.Propagation().Remotes(ctx, r.cfg.Name, ids)
			return err
		}); err != nil {
			return err
		}
		for _, d := range marked {
			a, ok := want[d.AccountID]
			if !ok {
				p.ClearAccounts = append(p.ClearAccounts, d.AccountID)
				continue
			}
			rs := remotes[d.AccountID]
			rs.Hash = "" // write even if the last success looks the same
			if derr = r.writeAccount(ctx, a, rs, p); derr != nil {
				break
			}
		}
	} else {
		for _, d := range marked {
			r.dead[deadKey(d)] = d
			evs, err := r.d.st.Outbox().After(ctx, d.Seq-1, 1)
			if err != nil {
				derr = err
				break
			}
			if len(evs) == 0 || evs[0].Seq != d.Seq {
				p.ClearSeqs = append(p.ClearSeqs, d.Seq)
				continue
			}
			var accs map[string]Account
			if evs[0].AccountID != "" {
				if err := r.d.st.View(ctx, func(tx store.Tx) error {
					var err error
					accs, err = Load(ctx, tx, []string{evs[0].AccountID})
					return err
				}); err != nil {
					derr = err
					break
				}
			}
			if derr = r.deliverEvent(ctx, toEvent(evs[0], accs), p); derr != nil {
				break
			}
		}
	}
	if err := r.commit(ctx, p); err != nil {
		return errors.Join(derr, err)
	}
	r.applyDead(p)
	return derr
}

func (r *runner) deleteRetired(ctx context.Context) error {
	del, ok := r.accounts.(Deleter)
	if !ok || r.cfg.DeleteAfter <= 0 || r.now().Sub(r.lastDeletes) < r.d.opts.Poll {
		return nil
	}
	r.lastDeletes = r.now()
	var due []store.RemoteState
	err := r.d.st.View(ctx, func(tx store.Tx) error {
		var err error
		due, err = tx.Propagation().RetiredBefore(ctx, r.cfg.Name, r.now().Add(-r.cfg.DeleteAfter), r.cfg.BatchSize)
		return err
	})
	if err != nil || len(due) == 0 {
		return err
	}
	p := &store.PropagationProgress{}
	var derr error
	for _, rs := range due {
		if rs.RemoteID != "" {
			if derr = del.Delete(ctx, Remote{ID: rs.RemoteID, Hash: rs.Hash, RetiredAt: rs.RetiredAt}); derr != nil {
				break
			}
		}
		p.Forget = append(p.Forget, rs.AccountID)
	}
	if err := r.commit(ctx, p); err != nil {
		return errors.Join(derr, err)
	}
	return derr
}
