package postgres_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/postgres"
	"github.com/canonid/canonid/store/storetest"
)

// proxy forwards TCP connections to PostgreSQL; restart drops them all and
// refuses new ones for a while, as a server restart looks to its clients.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  map[net.Conn]bool
	down   bool
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); p.restart(0) })
	go p.serve()
	return p
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		go p.forward(c)
	}
}

func (p *proxy) forward(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[s] = true, true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(s, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, s); done <- struct{}{} }()
	<-done
	c.Close()
	s.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, s)
	p.mu.Unlock()
}

// restart cuts every connection and refuses new ones for d.
func (p *proxy) restart(d time.Duration) {
	p.mu.Lock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	time.AfterFunc(d, func() {
		p.mu.Lock()
		p.down = false
		p.mu.Unlock()
	})
}

// TestServerRestartUnderLoad: writers keep creating accounts while the
// database "restarts" twice (every connection dropped, new ones refused for
// a while). Writes fail during the outage and succeed again after it, the
// outbox listener comes back, and nothing is half-written: every account
// has its address and its one event, the outbox has no gap, the invariants
// hold.
func TestServerRestartUnderLoad(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	px := startProxy(t, net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port)))
	u, err := url.Parse(dsn)
	if err != nil {
		t.Skip("CANONID_TEST_POSTGRES is not a URL; the proxy needs one")
	}
	u.Host = px.ln.Addr().String()
	q := u.Query()
	q.Set("connect_timeout", "2")
	u.RawQuery = q.Encode()
	ctx := context.Background()
	st, err := postgres.Open(ctx, u.String(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	wake, cancelWake := st.Subscribe()
	defer cancelWake()

	var ok, failed atomic.Int64
	var mu sync.Mutex
	committed := map[string]bool{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("w%d-%05d", w, i)
				err := st.Update(ctx, func(tx store.Tx) error {
					a := identity.Account{ID: id, Status: identity.StatusActive, Login: id}
					if err := tx.Accounts().Create(ctx, &a); err != nil {
						return err
					}
					if err := tx.Emails().Add(ctx, &identity.Email{AccountID: id, Address: id + "@example.test", Verified: true, Primary: true, Source: "admin"}); err != nil {
						return err
					}
					return tx.Record(ctx, store.Event{Type: identity.EventAccountCreated, Actor: "test", AccountID: id})
				})
				if err != nil {
					failed.Add(1)
					continue
				}
				ok.Add(1)
				mu.Lock()
				committed[id] = true
				mu.Unlock()
			}
		})
	}
	// waitFor polls the writers' counters, checked as they move.
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		deadline := time.After(30 * time.Second)
		for !cond() {
			select {
			case <-tick.C:
			case <-deadline:
				close(stop)
				wg.Wait()
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	for round := range 2 {
		before := ok.Load()
		waitFor("writes before the restart", func() bool { return ok.Load() > before+20 })
		failedBefore := failed.Load()
		px.restart(500 * time.Millisecond)
		waitFor("writes failing during the restart", func() bool { return failed.Load() > failedBefore })
		after := ok.Load()
		waitFor(fmt.Sprintf("writes succeeding after restart %d", round+1), func() bool { return ok.Load() > after+20 })
	}
	close(stop)
	wg.Wait()

	// The listener is back: a commit wakes the subscriber.
	for len(wake) > 0 {
		<-wake
	}
	if err := st.Update(ctx, func(tx store.Tx) error {
		return tx.Record(ctx, store.Event{Type: "test.after", Actor: "test"})
	}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-wake:
	case <-time.After(10 * time.Second):
		t.Fatal("no wake-up after the restarts")
	}

	var snap identity.Snapshot
	if err := st.View(ctx, func(tx store.Tx) error {
		var err error
		snap, err = tx.Snapshot(ctx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := identity.CheckInvariants(snap); err != nil {
		t.Fatal(err)
	}
	emails := map[string]int{}
	for _, e := range snap.Emails {
		emails[e.AccountID]++
	}
	created := map[string]int{}
	var seq int64
	for {
		evs, err := st.Outbox().After(ctx, seq, 5000)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Seq != seq+1 {
				t.Fatalf("outbox event %d follows %d", e.Seq, seq)
			}
			seq = e.Seq
			if e.Type == identity.EventAccountCreated {
				created[e.AccountID]++
			}
		}
		if len(evs) < 5000 {
			break
		}
	}
	for _, a := range snap.Accounts {
		if emails[a.ID] != 1 || created[a.ID] != 1 {
			t.Fatalf("account %s: %d addresses, %d account.created events", a.ID, emails[a.ID], created[a.ID])
		}
	}
	for id := range committed {
		if created[id] != 1 {
			t.Fatalf("account %s was committed but is not in the outbox", id)
		}
	}
	if len(created) != len(snap.Accounts) {
		t.Fatalf("%d account.created events for %d accounts", len(created), len(snap.Accounts))
	}
	t.Logf("%d writes committed, %d failed during the restarts (a write whose commit answer was lost may be in both: %d accounts stored)",
		ok.Load(), failed.Load(), len(snap.Accounts))
}
