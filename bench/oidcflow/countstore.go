package main

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/canonid/canonid/bench/internal/latency"
	"github.com/canonid/canonid/store"
)

// countingStore is the store as the provider and the store reference see
// it: it counts the transactions they run and the time spent in them, so
// that each phase can say what one request costs in transactions. Counting
// is two clock readings and a few atomic additions per transaction.
type countingStore struct {
	store.Store
	updates, silent, attempts, views    atomic.Int64
	updateNanos, silentNanos, viewNanos atomic.Int64
}

var _ store.Store = (*countingStore)(nil)

// Update implements store.Store. An Update whose last attempt recorded no
// event is counted as silent: it changed nothing (a change must record
// one), yet it took a write transaction.
func (s *countingStore) Update(ctx context.Context, fn func(tx store.Tx) error) error {
	start := time.Now()
	var recorded bool
	err := s.Store.Update(ctx, func(tx store.Tx) error {
		s.attempts.Add(1)
		recorded = false
		return fn(recordingTx{Tx: tx, recorded: &recorded})
	})
	took := int64(time.Since(start))
	s.updateNanos.Add(took)
	s.updates.Add(1)
	if !recorded {
		s.silent.Add(1)
		s.silentNanos.Add(took)
	}
	return err
}

// View implements store.Store.
func (s *countingStore) View(ctx context.Context, fn func(tx store.Tx) error) error {
	start := time.Now()
	err := s.Store.View(ctx, fn)
	s.viewNanos.Add(int64(time.Since(start)))
	s.views.Add(1)
	return err
}

// recordingTx notes whether the transaction recorded an event.
type recordingTx struct {
	store.Tx
	recorded *bool
}

func (t recordingTx) Record(ctx context.Context, ev store.Event) error {
	*t.recorded = true
	return t.Tx.Record(ctx, ev)
}

// txCounts are the transactions run so far.
type txCounts struct {
	Updates, Silent, Attempts, Views int64
	InUpdates, InSilent, InViews     time.Duration
}

func (s *countingStore) snapshot() txCounts {
	return txCounts{Updates: s.updates.Load(), Silent: s.silent.Load(), Attempts: s.attempts.Load(), Views: s.views.Load(),
		InUpdates: time.Duration(s.updateNanos.Load()), InSilent: time.Duration(s.silentNanos.Load()), InViews: time.Duration(s.viewNanos.Load())}
}

// txPerRequest is what one request of a phase cost in transactions, on
// average: Updates (of which Silent recorded nothing, and Retries were
// attempts beyond the first), Views, and the wall time spent inside each
// kind (InSilentMs is the part of InUpdatesMs spent in silent Updates),
// waiting for the single SQLite writer or for row locks included.
type txPerRequest struct {
	Updates     float64 `json:"updates"`
	Silent      float64 `json:"silent_updates"`
	Retries     float64 `json:"retries"`
	Views       float64 `json:"views"`
	InUpdatesMs float64 `json:"ms_in_updates"`
	InSilentMs  float64 `json:"ms_in_silent_updates"`
	InViewsMs   float64 `json:"ms_in_views"`
}

// per divides the transactions between a and b by n requests.
func per(a, b txCounts, n int) txPerRequest {
	if n <= 0 {
		return txPerRequest{}
	}
	f := float64(n)
	return txPerRequest{
		Updates: float64(b.Updates-a.Updates) / f, Silent: float64(b.Silent-a.Silent) / f,
		Retries: float64((b.Attempts-a.Attempts)-(b.Updates-a.Updates)) / f, Views: float64(b.Views-a.Views) / f,
		InUpdatesMs: latency.Millis(b.InUpdates-a.InUpdates) / f, InSilentMs: latency.Millis(b.InSilent-a.InSilent) / f, InViewsMs: latency.Millis(b.InViews-a.InViews) / f,
	}
}
