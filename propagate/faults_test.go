package propagate_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/propagate"
	"github.com/canonid/canonid/scim/push"
	"github.com/canonid/canonid/scim/scimtest"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
)

// faultEnv is a dispatcher delivering one store to a SCIM provider whose
// answers the test breaks.
type faultEnv struct {
	st  store.Store
	srv *scimtest.Server
	svc *accounts.Service
}

func startFaultEnv(t *testing.T, cfg propagate.TargetConfig, timeout time.Duration) *faultEnv {
	t.Helper()
	e := &faultEnv{st: storetest.OpenSQLite(t), srv: scimtest.Start(t, scimtest.Options{})}
	e.svc = accounts.New(e.st, accounts.Config{}, nil)
	tg, err := push.New(push.Config{Name: cfg.Name, URL: e.srv.URL, Token: e.srv.Token, Timeout: timeout}, e.srv.Client)
	if err != nil {
		t.Fatal(err)
	}
	d := propagate.New(e.st, propagate.Options{Owner: "test", Poll: 50 * time.Millisecond})
	d.AddAccountTarget(cfg, tg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return e
}

// waitUser waits until the provider holds the account, active.
func (e *faultEnv) waitUser(t *testing.T, accountID string) {
	t.Helper()
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	for {
		if u, ok := e.srv.UserByExternalID(accountID); ok && u.Active {
			return
		}
		select {
		case <-e.srv.Changed():
		case <-deadline.C:
			t.Fatalf("account %s never reached the provider", accountID)
		}
	}
}

// TestSCIMTargetFaults: a provider answering 500 a few times, 429 with
// Retry-After, too slowly, or not at all, receives every change in the
// end; 500 beyond the attempts makes a dead letter that a retry delivers.
func TestSCIMTargetFaults(t *testing.T) {
	t.Run("500 then fine", func(t *testing.T) {
		e := startFaultEnv(t, propagate.TargetConfig{Name: "lms", MaxAttempts: 5, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}, 0)
		e.srv.Fail(3, http.StatusInternalServerError, "")
		a := create(t, e.svc, "five", "five@example.test")
		e.waitUser(t, a.ID)
	})

	t.Run("429 with Retry-After", func(t *testing.T) {
		e := startFaultEnv(t, propagate.TargetConfig{Name: "lms", MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}, 0)
		e.srv.Fail(1, http.StatusTooManyRequests, "1")
		start := time.Now()
		a := create(t, e.svc, "throttled", "throttled@example.test")
		e.waitUser(t, a.ID)
		// The backoff alone would have retried within milliseconds.
		if took := time.Since(start); took < time.Second {
			t.Fatalf("delivered %s after a 429 asking for 1 s", took)
		}
	})

	t.Run("timeouts, then down, then back", func(t *testing.T) {
		e := startFaultEnv(t, propagate.TargetConfig{Name: "lms", MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond}, 200*time.Millisecond)
		e.srv.Delay(5 * time.Second)
		a := create(t, e.svc, "slow", "slow@example.test")
		// Each attempt times out; none counts towards a dead letter.
		waitRequests(t, e.srv, 3)
		e.srv.Delay(0)
		e.srv.SetDown(true)
		b := create(t, e.svc, "down", "down@example.test")
		waitRequests(t, e.srv, e.srv.Requests()+3)
		e.srv.SetDown(false)
		e.waitUser(t, a.ID)
		e.waitUser(t, b.ID)
		deadLetters(t, e.st, 0)
	})

	t.Run("500 for good: dead letter, retried", func(t *testing.T) {
		e := startFaultEnv(t, propagate.TargetConfig{Name: "lms", MaxAttempts: 3, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}, 0)
		e.srv.Fail(3, http.StatusInternalServerError, "")
		a := create(t, e.svc, "refused", "refused@example.test")
		waitStore(t, "the dead letter", func() bool { return countDead(t, e.st) == 1 })
		b := create(t, e.svc, "after", "after@example.test")
		e.waitUser(t, b.ID) // the others go on
		if _, ok := e.srv.UserByExternalID(a.ID); ok {
			t.Fatal("the refused account reached the provider")
		}
		err := e.st.Update(t.Context(), func(tx store.Tx) error {
			if _, err := tx.Propagation().RetryDeadLetters(t.Context(), "lms", nil); err != nil {
				return err
			}
			return tx.Record(t.Context(), store.Event{Type: propagate.EventRetryRequested, Actor: "test"})
		})
		if err != nil {
			t.Fatal(err)
		}
		e.waitUser(t, a.ID)
		waitStore(t, "the dead letter cleared", func() bool { return countDead(t, e.st) == 0 })
	})
}

// waitRequests waits until the provider has answered n requests.
func waitRequests(t *testing.T, srv *scimtest.Server, n int) {
	t.Helper()
	waitStore(t, "the provider's requests", func() bool { return srv.Requests() >= n })
}

func countDead(t *testing.T, st store.Store) int {
	t.Helper()
	var n int
	err := st.View(t.Context(), func(tx store.Tx) error {
		c, err := tx.Propagation().CountDeadLetters(t.Context())
		n = c["lms"]
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func deadLetters(t *testing.T, st store.Store, want int) {
	t.Helper()
	if n := countDead(t, st); n != want {
		t.Fatalf("%d dead letters, want %d", n, want)
	}
}
