package ingest

import (
	"context"
	"errors"
	"fmt"

	"github.com/canonid/canonid/connectors"
)

// Rows yields the rows of a file, in order, from one goroutine: each an
// entry to import, or, when rowErr is set, the reason the row cannot be.
type Rows func(ctx context.Context, fn func(e connectors.Entry, rowErr *EntryError) error) error

// ImportOptions tune an Import.
type ImportOptions struct {
	// DryRun plans and reports, and writes nothing.
	DryRun bool
	// Strict writes nothing at all when any row is in error; otherwise
	// the valid rows are imported and the others reported.
	Strict bool
	// Snapshot says the file holds every identity of the source: rows
	// missing from it mark their links gone (MaxGone applies).
	Snapshot bool
	// Owner names this process in the connector's lease.
	Owner string
	// Actor is recorded on every event, e.g. "token:ops" or "cli".
	Actor string
	// Diff, Progress and AfterCommit are passed to the run (see Options).
	Diff        func(Change)
	Progress    func(done int)
	AfterCommit func(ctx context.Context, accountIDs []string) error
	BatchSize   int
	// leaseErr reports a lost lease (set by Import).
	leaseErr func() error
}

// ErrRejected is returned by Import when Strict found rows in error: nothing
// was written, and the summary lists them.
var ErrRejected = errors.New("rows in error: nothing imported (--strict)")

// Import applies the rows of a file to the source, holding the connector's
// lease: every row is mapped, correlated and written (500 per transaction,
// a row whole or not at all); rows in error are reported and skipped, or,
// with Strict, stop the import before anything is written. The same file
// imported twice changes nothing the second time.
func (in *Ingester) Import(ctx context.Context, connector string, rows Rows, opts ImportOptions) (Summary, error) {
	if opts.Owner == "" {
		opts.Owner = "canonid"
	}
	if !opts.DryRun {
		l, _, err := in.acquire(ctx, connector, opts.Owner, DefaultLeaseTTL)
		if err != nil {
			return Summary{Errors: []EntryError{}, Suggestions: []Suggestion{}}, fmt.Errorf("import %s: %w", connector, err)
		}
		defer l.release(ctx)
		// Renewed as batches commit, like a sync's.
		progress := opts.Progress
		opts.Progress = func(done int) {
			l.renew(ctx)
			if progress != nil {
				progress(done)
			}
		}
		opts.leaseErr = func() error { return l.err }
	}
	if opts.Strict && !opts.DryRun {
		check := opts
		check.DryRun, check.Diff = true, nil // Progress renews the lease meanwhile
		sum, err := in.importOnce(ctx, rows, check)
		if err != nil {
			return sum, err
		}
		if len(sum.Errors) > 0 {
			return sum, ErrRejected
		}
	}
	return in.importOnce(ctx, rows, opts)
}

func (in *Ingester) importOnce(ctx context.Context, rows Rows, opts ImportOptions) (Summary, error) {
	run := in.Start(Options{
		DryRun: opts.DryRun, Actor: opts.Actor, Diff: opts.Diff, Progress: opts.Progress,
		BatchSize: opts.BatchSize, TrackSeen: opts.Snapshot, AfterCommit: opts.AfterCommit,
	})
	if opts.Snapshot {
		run.PrefetchLinks(ctx)
	}
	err := rows(ctx, func(e connectors.Entry, rowErr *EntryError) error {
		if rowErr != nil {
			if run.seen != nil && e.ExternalID != "" {
				run.seen[e.ExternalID] = struct{}{} // present, though not importable
			}
			run.sum.Errors = append(run.sum.Errors, *rowErr)
			return nil
		}
		if opts.leaseErr != nil {
			if err := opts.leaseErr(); err != nil {
				return fmt.Errorf("lost the import lease: %w", err)
			}
		}
		return run.Add(ctx, e)
	})
	if err == nil {
		err = run.Flush(ctx)
	}
	if err == nil && opts.Snapshot {
		err = run.MarkGone(ctx, nil)
	}
	return run.Summary(), err
}
