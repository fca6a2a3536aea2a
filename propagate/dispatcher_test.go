package propagate_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/propagate"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
)

// memTarget is a downstream held in memory: users by remote id, with the
// uniqueness of logins and addresses a real service provider enforces, so
// that a write in the wrong order fails as it would there.
type memTarget struct {
	mu      sync.Mutex
	down    bool
	refuse  map[string]bool // account ids whose writes are refused
	next    int
	users   map[string]propagate.Account // by remote id
	history map[string][]propagate.Account
	writes  int
	deleted []string
	changed chan struct{}
}

func newMemTarget() *memTarget {
	return &memTarget{refuse: map[string]bool{}, users: map[string]propagate.Account{},
		history: map[string][]propagate.Account{}, changed: make(chan struct{}, 1)}
}

func (m *memTarget) Write(_ context.Context, a propagate.Account, prev propagate.Remote) (propagate.Remote, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return propagate.Remote{}, propagate.Unavailable(errors.New("connection refused"), 0)
	}
	if m.refuse[a.ID] {
		return propagate.Remote{}, errors.New("400 invalid value")
	}
	id := prev.ID
	if id == "" {
		// A create delivered again (the dispatcher stopped before storing
		// the remote id) adopts the user, as a SCIM target does on 409.
		for rid, u := range m.users {
			if u.ID == a.ID {
				id = rid
			}
		}
	}
	if id == "" {
		m.next++
		id = fmt.Sprintf("r%d", m.next)
	}
	stored := a
	out := propagate.Remote{ID: id}
	if a.State == propagate.StateRetired {
		stored = propagate.Account{ID: a.ID, State: a.State, SurvivorID: a.SurvivorID}
		out.RetiredAt = time.Now()
	}
	for rid, u := range m.users {
		if rid == id {
			continue
		}
		if stored.Login != "" && u.Login == stored.Login {
			return propagate.Remote{}, fmt.Errorf("409 login %s taken by %s", stored.Login, u.ID)
		}
		for _, e := range stored.Emails {
			for _, f := range u.Emails {
				if e.Address == f.Address {
					return propagate.Remote{}, fmt.Errorf("409 address %s taken by %s", e.Address, u.ID)
				}
			}
		}
	}
	m.users[id] = stored
	m.history[a.ID] = append(m.history[a.ID], a)
	m.writes++
	m.signal()
	return out, nil
}

func (m *memTarget) Delete(_ context.Context, prev propagate.Remote) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.users, prev.ID)
	m.deleted = append(m.deleted, prev.ID)
	m.signal()
	return nil
}

func (m *memTarget) signal() {
	select {
	case m.changed <- struct{}{}:
	default:
	}
}

func (m *memTarget) set(fn func()) {
	m.mu.Lock()
	fn()
	m.mu.Unlock()
}

// byAccount returns the users by canonical id.
func (m *memTarget) byAccount() map[string]propagate.Account {
	out := map[string]propagate.Account{}
	for _, u := range m.users {
		out[u.ID] = u
	}
	return out
}

// waitFor waits until cond, read under the target's lock, holds: it is
// checked after each write the target receives, and the test fails after
// timeout.
func (m *memTarget) waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		m.mu.Lock()
		ok := cond()
		m.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-m.changed:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func fastConfig(name string) propagate.TargetConfig {
	return propagate.TargetConfig{Name: name, MinBackoff: 2 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, MaxAttempts: 3}
}

// start runs a dispatcher with target m until the test ends or stop is
// called; stop waits for it to return.
func start(t *testing.T, st store.Store, owner string, cfg propagate.TargetConfig, m *memTarget) (stop func()) {
	t.Helper()
	d := propagate.New(st, propagate.Options{Owner: owner, Lease: 3 * time.Second, Poll: 50 * time.Millisecond})
	d.AddAccountTarget(cfg, m)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = d.Run(ctx)
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

func create(t *testing.T, svc *accounts.Service, login string, emails ...string) identity.Account {
	t.Helper()
	n := accounts.NewAccount{Login: login, GivenName: strings.ToUpper(login[:1]) + login[1:], FamilyName: "Test", Source: "admin"}
	for _, e := range emails {
		n.Emails = append(n.Emails, accounts.NewEmail{Address: e, Verified: true})
	}
	a, err := svc.Create(context.Background(), n, "test")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func addresses(a propagate.Account) []string {
	var out []string
	for _, e := range a.Emails {
		out = append(out, e.Address)
	}
	slices.Sort(out)
	return out
}

// TestMergeAndUndoDownstream: a merge leaves one active user downstream
// with both addresses (the retired one written first, which the target's
// uniqueness checks enforce); an undo brings both back.
func TestMergeAndUndoDownstream(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		svc := accounts.New(st, accounts.Config{}, nil)
		m := newMemTarget()
		start(t, st, "one", fastConfig("mem"), m)
		univ := create(t, svc, "jdupont", "jean.dupont@univ-test.fr")
		agency := create(t, svc, "jdupont-ars", "jean.dupont@gmail.test")
		m.waitFor(t, 10*time.Second, "both accounts", func() bool { return len(m.users) == 2 })

		rec, err := svc.Merge(ctx, accounts.MergeRequest{SurvivorID: univ.ID, RetiredID: agency.ID, Reason: identity.MergeReason("admin"), Actor: "test"})
		if err != nil {
			t.Fatal(err)
		}
		m.waitFor(t, 10*time.Second, "the merge", func() bool {
			u := m.byAccount()
			return u[agency.ID].State == propagate.StateRetired && len(u[univ.ID].Emails) == 2
		})
		m.mu.Lock()
		u := m.byAccount()
		active := 0
		for _, x := range u {
			if x.State == propagate.StateActive {
				active++
			}
		}
		if active != 1 || !slices.Equal(addresses(u[univ.ID]), []string{"jean.dupont@gmail.test", "jean.dupont@univ-test.fr"}) ||
			u[agency.ID].SurvivorID != univ.ID || !slices.Contains(u[univ.ID].MergedLogins, "jdupont-ars") {
			t.Fatalf("after the merge: %d active, users %+v", active, u)
		}
		m.mu.Unlock()

		if _, err := svc.Undo(ctx, rec.ID, "test"); err != nil {
			t.Fatal(err)
		}
		m.waitFor(t, 10*time.Second, "the undo", func() bool {
			u := m.byAccount()
			return u[agency.ID].State == propagate.StateActive && len(u[univ.ID].Emails) == 1
		})
		m.mu.Lock()
		u = m.byAccount()
		if !slices.Equal(addresses(u[agency.ID]), []string{"jean.dupont@gmail.test"}) || u[agency.ID].Login != "jdupont-ars" ||
			!slices.Equal(addresses(u[univ.ID]), []string{"jean.dupont@univ-test.fr"}) || len(m.users) != 2 {
			t.Fatalf("after the undo: %+v", u)
		}
		m.mu.Unlock()
	})
}

// seed creates n accounts in batches, each with one verified address.
func seed(t testing.TB, st store.Store, n int) []string {
	t.Helper()
	ctx := context.Background()
	var ids []string
	for i := 0; i < n; i += 500 {
		err := st.Update(ctx, func(tx store.Tx) error {
			for j := i; j < min(i+500, n); j++ {
				a := identity.Account{ID: fmt.Sprintf("acc-%05d", j), Status: identity.StatusActive,
					Login: fmt.Sprintf("user%05d", j), GivenName: "g00000", FamilyName: "Seed"}
				if err := tx.Accounts().Create(ctx, &a); err != nil {
					return err
				}
				if err := tx.Emails().Add(ctx, &identity.Email{AccountID: a.ID, Address: fmt.Sprintf("user%05d@example.test", j),
					Verified: true, Primary: true, Source: "admin"}); err != nil {
					return err
				}
				if err := tx.Record(ctx, store.Event{Type: identity.EventAccountCreated, Actor: "test", AccountID: a.ID}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for j := range n {
		ids = append(ids, fmt.Sprintf("acc-%05d", j))
	}
	return ids
}

// rename sets the given name of the accounts, one transaction per batch,
// one account.updated event each.
func rename(t testing.TB, st store.Store, ids []string, given string) {
	t.Helper()
	ctx := context.Background()
	for chunk := range slices.Chunk(ids, 500) {
		err := st.Update(ctx, func(tx store.Tx) error {
			accs, err := tx.Accounts().GetMany(ctx, chunk)
			if err != nil {
				return err
			}
			for _, a := range accs {
				a.GivenName = given
				if err := tx.Accounts().Update(ctx, &a); err != nil {
					return err
				}
				if err := tx.Record(ctx, store.Event{Type: identity.EventAccountUpdated, Actor: "test", AccountID: a.ID}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// compare checks that the target holds exactly the store's downstream
// state of every account, field by field.
func compare(t *testing.T, st store.Store, m *memTarget, ids []string) {
	t.Helper()
	var want map[string]propagate.Account
	if err := st.View(context.Background(), func(tx store.Tx) error {
		var err error
		want, err = propagate.Load(context.Background(), tx, ids)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	got := m.byAccount()
	if len(got) != len(want) {
		t.Fatalf("target holds %d accounts, want %d", len(got), len(want))
	}
	for id, w := range want {
		if propagate.Hash(got[id]) != propagate.Hash(w) {
			t.Fatalf("account %s downstream = %+v, want %+v", id, got[id], w)
		}
	}
}

// TestTargetDownThenBack: 10k changes made while the target is down all
// arrive once it is back, in order per account, with nothing lost; a
// dispatcher stopped mid-stream and started again loses nothing either.
func TestTargetDownThenBack(t *testing.T) {
	n, rounds := 2000, 5 // 10k changes after the creations
	if testing.Short() {
		n = 400
	}
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		m := newMemTarget()
		m.set(func() { m.down = true })
		stop := start(t, st, "one", fastConfig("mem"), m)
		ids := seed(t, st, n)
		for r := 1; r <= rounds; r++ {
			rename(t, st, ids, fmt.Sprintf("g%05d", r))
		}
		m.set(func() { m.down = false })
		// Stop the dispatcher once part of the backlog is through.
		m.waitFor(t, time.Minute, "a first part of the backlog", func() bool { return m.writes >= n/4 })
		stop()
		m.mu.Lock()
		before := m.writes
		m.mu.Unlock()
		start(t, st, "two", fastConfig("mem"), m)
		final := fmt.Sprintf("g%05d", rounds)
		m.waitFor(t, 2*time.Minute, "the whole backlog", func() bool {
			if len(m.users) != n {
				return false
			}
			for _, u := range m.users {
				if u.GivenName != final {
					return false
				}
			}
			return true
		})
		compare(t, st, m, ids)
		m.mu.Lock()
		defer m.mu.Unlock()
		for id, h := range m.history {
			for i := 1; i < len(h); i++ {
				if h[i].GivenName < h[i-1].GivenName {
					t.Fatalf("account %s: %s written after %s", id, h[i].GivenName, h[i-1].GivenName)
				}
			}
		}
		t.Logf("%d writes for %d accounts and %d changes (%d before the restart)", m.writes, n, n*rounds, before)
	})
}

// TestDeadLetterAndRetry: a change the target keeps refusing becomes a dead
// letter after MaxAttempts, the others go on; once fixed, a retry delivers
// it and clears the dead letter.
func TestDeadLetterAndRetry(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		svc := accounts.New(st, accounts.Config{}, nil)
		m := newMemTarget()
		bad := create(t, svc, "refused", "refused@example.test")
		m.set(func() { m.refuse[bad.ID] = true })
		start(t, st, "one", fastConfig("mem"), m)
		good := create(t, svc, "fine", "fine@example.test")
		m.waitFor(t, 10*time.Second, "the good account", func() bool { _, ok := m.byAccount()[good.ID]; return ok })

		var dead []store.DeadLetter
		waitStore(t, "the dead letter", func() bool {
			_ = st.View(ctx, func(tx store.Tx) error {
				var err error
				dead, err = tx.Propagation().DeadLetters(ctx, store.DeadLetterQuery{Target: "mem"})
				return err
			})
			return len(dead) == 1
		})
		if dead[0].AccountID != bad.ID || dead[0].Attempts != 3 || !strings.Contains(dead[0].LastError, "400") {
			t.Fatalf("dead letter %+v", dead[0])
		}
		// The good account is written before the cursor past it is
		// stored: wait for the store, not for the target.
		var status []propagate.TargetStatus
		var err error
		waitStore(t, "the cursor past the good account", func() bool {
			status, err = propagate.Status(ctx, st, []string{"mem"})
			return err != nil || status[0].Lag == 0
		})
		if err != nil || status[0].DeadLetters != 1 {
			t.Fatalf("status %+v, %v", status, err)
		}

		m.set(func() { m.refuse[bad.ID] = false })
		err = st.Update(ctx, func(tx store.Tx) error {
			n, err := tx.Propagation().RetryDeadLetters(ctx, "mem", nil)
			if err != nil || n != 1 {
				return fmt.Errorf("marked %d: %v", n, err)
			}
			return tx.Record(ctx, store.Event{Type: propagate.EventRetryRequested, Actor: "test"})
		})
		if err != nil {
			t.Fatal(err)
		}
		m.waitFor(t, 10*time.Second, "the retried account", func() bool { _, ok := m.byAccount()[bad.ID]; return ok })
		waitStore(t, "the dead letter cleared", func() bool {
			_ = st.View(ctx, func(tx store.Tx) error {
				var err error
				dead, err = tx.Propagation().DeadLetters(ctx, store.DeadLetterQuery{Target: "mem"})
				return err
			})
			return len(dead) == 0
		})
	})
}

// waitStore polls a condition on the store, which has no change feed for
// the dispatcher's bookkeeping: every 10 ms for at most 10 s.
func waitStore(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
