package postgres_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/postgres"
	"github.com/canonid/canonid/store/storetest"
)

func open(t *testing.T) store.Store {
	t.Helper()
	st, err := postgres.Open(context.Background(), storetest.PostgresDSN(t), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestConformance(t *testing.T) {
	storetest.PostgresBase(t) // skip or fail once, not in every subtest
	storetest.Run(t, open, storetest.Options{ConcurrentWriters: true})
}

// TestSubscribeAcrossProcesses: a commit through one store wakes the
// subscribers of another store on the same database (LISTEN/NOTIFY), as
// between replicas.
func TestSubscribeAcrossProcesses(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	ctx := context.Background()
	open := func() store.Store {
		st, err := postgres.Open(ctx, dsn, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if _, err := st.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		return st
	}
	a, b := open(), open()
	wake, cancel := a.Subscribe()
	defer cancel()
	// The listener wakes once when it starts: wait for it, so that the
	// next wake-up can only be b's commit.
	select {
	case <-wake:
	case <-time.After(10 * time.Second):
		t.Fatal("the listener never started")
	}
	if err := b.Update(ctx, func(tx store.Tx) error {
		return tx.Record(ctx, store.Event{Type: "test.other", Actor: "test"})
	}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-wake:
	case <-time.After(10 * time.Second):
		t.Fatal("a commit of another store did not wake the subscriber")
	}
}
