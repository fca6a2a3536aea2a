package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/canonid/canonid/connectors"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

// SyncOptions tune one Sync.
type SyncOptions struct {
	// Full reads the whole source and marks gone what it no longer has;
	// otherwise only what changed since the last run is read (a source
	// that cannot list changes, or was never synced, is read in full).
	Full bool
	// DryRun plans and reports every change and writes nothing, not even
	// the lease or the mark.
	DryRun bool
	// Owner names this process in the connector's lease (host:pid).
	Owner string
	// LeaseTTL is how long the lease lasts without renewal; it is renewed
	// as batches commit. Default DefaultLeaseTTL.
	LeaseTTL time.Duration
	// ScanEvery is how often an incremental sync also runs a presence
	// scan to notice deletions; 0 scans on every incremental sync.
	ScanEvery time.Duration
	// Diff, Progress and AfterCommit are passed to the run (see Options).
	Diff        func(Change)
	Progress    func(done int)
	AfterCommit func(ctx context.Context, accountIDs []string) error
	// BatchSize is the number of entries per transaction.
	BatchSize int
	// NotSince and Within make a scheduled sync give its turn away: once
	// the lease is held, if the connector's last run ended after NotSince
	// (another replica ran since this one's last run) and less than Within
	// ago, Sync releases the lease and returns ErrRecentlySynced.
	NotSince time.Time
	Within   time.Duration
}

// ErrRecentlySynced: another process synced the connector within the
// scheduling interval (SyncOptions.Within).
var ErrRecentlySynced = errors.New("synced recently by another process")

// SyncResult is what a Sync did.
type SyncResult struct {
	Summary
	Connector string          `json:"connector"`
	Full      bool            `json:"full"`
	Scanned   bool            `json:"scanned"`
	DryRun    bool            `json:"dry_run"`
	Entries   int             `json:"entries"`
	Mark      connectors.Mark `json:"mark"`
	Started   time.Time       `json:"started"`
	Duration  time.Duration   `json:"duration_ns"`
}

// syncMark is what SyncState.Mark holds for a connector.
type syncMark struct {
	Mark      connectors.Mark `json:"mark"`
	ScannedAt time.Time       `json:"scanned_at,omitzero"`
}

// ErrNoListing is returned by Sync for a connector that cannot list
// identities (a login-only source).
var ErrNoListing = errors.New("the connector cannot list identities")

// Sync runs one sync of conn into the ingester's source, holding the
// connector's lease (except for a dry run), and records its summary in the
// connector's state and as a connector.synced event.
func (in *Ingester) Sync(ctx context.Context, conn connectors.Connector, opts SyncOptions) (SyncResult, error) {
	start := in.now()
	res := SyncResult{Connector: conn.Name(), DryRun: opts.DryRun, Started: start.UTC()}
	lister, ok := conn.(connectors.Lister)
	if !ok {
		return res, fmt.Errorf("sync %s: %w", conn.Name(), ErrNoListing)
	}
	if opts.Owner == "" {
		opts.Owner = "canonid"
	}
	name := conn.Name()
	var state store.SyncState
	var held *lease
	if opts.DryRun {
		if err := in.st.View(ctx, func(tx store.Tx) error {
			var err error
			state, err = tx.SyncStates().Get(ctx, name)
			return err
		}); err != nil {
			return res, err
		}
	} else {
		l, st, err := in.acquire(ctx, name, opts.Owner, opts.LeaseTTL)
		if err != nil {
			return res, fmt.Errorf("sync %s: %w", name, err)
		}
		state, held = st, l
		defer l.release(ctx)
		if opts.Within > 0 && st.LastRunAt.After(opts.NotSince) && in.now().Sub(st.LastRunAt) < opts.Within {
			return res, fmt.Errorf("sync %s: %w (%s)", name, ErrRecentlySynced, st.LastRunAt.UTC().Format(time.RFC3339Nano))
		}
	}
	var prev syncMark
	if len(state.Mark) > 0 {
		if err := json.Unmarshal(state.Mark, &prev); err != nil {
			in.log.WarnContext(ctx, "unreadable sync mark: running a full sync", "connector", name, "err", err)
			opts.Full = true
		}
	}
	incremental, canIncrement := conn.(connectors.IncrementalLister)
	if !canIncrement || prev.Mark.Time.IsZero() && prev.Mark.CSN == "" {
		opts.Full = true
	}
	res.Full = opts.Full

	runOpts := Options{
		DryRun: opts.DryRun, Actor: "connector:" + name, Diff: opts.Diff, BatchSize: opts.BatchSize,
		TrackSeen: opts.Full, AfterCommit: opts.AfterCommit,
		Progress: func(done int) {
			res.Entries = done
			if opts.Progress != nil {
				opts.Progress(done)
			}
			if held != nil {
				held.renew(ctx)
			}
		},
	}
	run := in.Start(runOpts)
	mark := prev.Mark
	add := func(e connectors.Entry) error {
		if held != nil && held.err != nil {
			return fmt.Errorf("lost the sync lease: %w", held.err)
		}
		if e.ModifiedAt.After(mark.Time) {
			mark.Time = e.ModifiedAt.UTC()
		}
		if e.CSN > mark.CSN {
			mark.CSN = e.CSN
		}
		return run.Add(ctx, e)
	}
	scannedAt := prev.ScannedAt
	var err error
	if opts.Full {
		run.PrefetchLinks(ctx)
		if err = lister.List(ctx, add); err == nil {
			if err = run.MarkGone(ctx, nil); err == nil {
				scannedAt, res.Scanned = start, true
			}
		}
	} else {
		var next connectors.Mark
		if next, err = incremental.ListChanged(ctx, prev.Mark, add); err == nil {
			if next.Time.After(mark.Time) {
				mark.Time = next.Time
			}
			if next.CSN > mark.CSN {
				mark.CSN = next.CSN
			}
			err = run.Flush(ctx)
		}
		scanner, canScan := conn.(connectors.PresenceScanner)
		if err == nil && canScan && (opts.ScanEvery <= 0 || start.Sub(prev.ScannedAt) >= opts.ScanEvery) {
			present := map[string]struct{}{}
			if err = scanner.ScanIDs(ctx, func(id string) error { present[id] = struct{}{}; return nil }); err == nil {
				err = run.MarkGone(ctx, func(id string) bool { _, ok := present[id]; return ok })
			}
			if err == nil {
				scannedAt, res.Scanned = start, true
			}
		}
	}
	// Whatever changes after the run started has a later modifyTimestamp,
	// give or take the clock skew the connector's overlap covers: the next
	// incremental run starts there even when the newest entry is old.
	if err == nil && start.UTC().After(mark.Time) {
		mark.Time = start.UTC()
	}
	res.Summary = run.Summary()
	res.Mark = mark
	res.Duration = in.now().Sub(start)
	if err != nil {
		in.log.ErrorContext(ctx, "sync failed", "connector", name, "full", opts.Full, "entries", res.Entries, "err", err)
		return res, fmt.Errorf("sync %s: %w", name, err)
	}
	if opts.DryRun {
		return res, nil
	}
	// Only a successful run moves the mark: a failed one is re-read.
	state.Mark, _ = json.Marshal(syncMark{Mark: mark, ScannedAt: scannedAt})
	state.LastRunAt = in.now()
	if opts.Full {
		state.LastFullAt = state.LastRunAt
	}
	state.LastResult, _ = json.Marshal(res)
	if err := in.st.Update(ctx, func(tx store.Tx) error {
		if err := tx.SyncStates().Save(ctx, &state); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: identity.EventConnectorSynced, Actor: "connector:" + name, Data: res})
	}); err != nil {
		return res, fmt.Errorf("sync %s: save state: %w", name, err)
	}
	in.log.InfoContext(ctx, "sync done", "connector", name, "full", opts.Full, "entries", res.Entries,
		"created", res.Created, "updated", res.Updated, "linked", res.Linked, "gone", res.Gone, "errors", len(res.Errors),
		"duration", res.Duration)
	return res, nil
}

// State returns a connector's last sync state.
func (in *Ingester) State(ctx context.Context, connector string) (store.SyncState, error) {
	var s store.SyncState
	err := in.st.View(ctx, func(tx store.Tx) error {
		var err error
		s, err = tx.SyncStates().Get(ctx, connector)
		return err
	})
	return s, err
}

// Schedule runs a connector's syncs until ctx ends: an incremental sync
// every interval, a full one when the last is older than fullEvery. A run
// whose lease another process holds is skipped. done, when set, receives
// every run's result (tests wait on it).
//
// With several replicas scheduling the same connector, one sync runs per
// interval: a replica skips its turn, silently, when another one finished
// a sync since its own last run and less than an interval ago, as it finds
// once it holds the connector's lease (ErrRecentlySynced). The first
// replica to run keeps the turn (its ticks come an interval apart, so the
// others always find its last sync recent); when it stops, another takes
// over within two intervals.
func (in *Ingester) Schedule(ctx context.Context, conn connectors.Connector, interval, fullEvery time.Duration, opts SyncOptions, done func(SyncResult, error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var ownLast time.Time // LastRunAt after our own last sync
	for {
		o := opts
		if st, err := in.State(ctx, conn.Name()); err == nil && fullEvery > 0 && in.now().Sub(st.LastFullAt) >= fullEvery {
			o.Full = true
		}
		o.NotSince, o.Within = ownLast, interval
		res, err := in.Sync(ctx, conn, o)
		if errors.Is(err, ErrRecentlySynced) {
			in.log.DebugContext(ctx, "sync skipped: another replica synced recently", "connector", conn.Name())
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			continue
		}
		if err == nil {
			if st, serr := in.State(ctx, conn.Name()); serr == nil {
				ownLast = st.LastRunAt
			}
		}
		var held *store.LeaseHeldError
		switch {
		case errors.As(err, &held):
			in.log.DebugContext(ctx, "sync skipped: lease held", "connector", conn.Name(), "owner", held.Owner)
		case err != nil && ctx.Err() == nil:
			in.log.ErrorContext(ctx, "scheduled sync failed", "connector", conn.Name(), "err", err)
		}
		if done != nil {
			done(res, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
