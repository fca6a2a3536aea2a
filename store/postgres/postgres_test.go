package postgres_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

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
