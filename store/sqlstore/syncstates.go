package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/canonid/canonid/store"
)

type syncStates struct{ t *tx }

func (t *tx) SyncStates() store.SyncStates { return syncStates{t} }

const syncStateCols = `connector, mark, last_full_at, last_run_at, last_result, lease_owner, lease_until`

func (r syncStates) Get(ctx context.Context, connector string) (store.SyncState, error) {
	var s store.SyncState
	var mark, result jsonCol
	var full, run, until timeCol
	err := r.t.queryRow(ctx, "SELECT "+syncStateCols+" FROM sync_states WHERE connector = ?"+r.t.forUpdate(), connector).
		Scan(&s.Connector, &mark, &full, &run, &result, &s.LeaseOwner, &until)
	if isNoRows(err) {
		return store.SyncState{Connector: connector}, nil
	}
	if err != nil {
		return s, fmt.Errorf("sync state of %s: %w", connector, r.t.translate(err))
	}
	s.Mark, s.LastResult = []byte(mark), []byte(result)
	s.LastFullAt, s.LastRunAt, s.LeaseUntil = full.t(), run.t(), until.t()
	return s, nil
}

// ensure creates the connector's row if missing.
func (r syncStates) ensure(ctx context.Context, connector string) error {
	return r.t.rawExec(ctx, "INSERT INTO sync_states (connector) VALUES (?) ON CONFLICT (connector) DO NOTHING", connector)
}

func (r syncStates) Acquire(ctx context.Context, connector, owner string, now, until time.Time) (store.SyncState, error) {
	if owner == "" {
		return store.SyncState{}, fmt.Errorf("acquire lease of %s: empty owner", connector)
	}
	if err := r.ensure(ctx, connector); err != nil {
		return store.SyncState{}, err
	}
	s, err := r.Get(ctx, connector)
	if err != nil {
		return s, err
	}
	if s.LeaseOwner != "" && s.LeaseOwner != owner && s.LeaseUntil.After(now) {
		return s, &store.LeaseHeldError{Connector: connector, Owner: s.LeaseOwner, Until: s.LeaseUntil}
	}
	until = until.UTC().Truncate(time.Microsecond)
	if err := r.t.rawExec(ctx, "UPDATE sync_states SET lease_owner = ?, lease_until = ? WHERE connector = ?", owner, r.t.time(until), connector); err != nil {
		return s, err
	}
	s.LeaseOwner, s.LeaseUntil = owner, until
	return s, nil
}

func (r syncStates) Release(ctx context.Context, connector, owner string) error {
	return r.t.rawExec(ctx, "UPDATE sync_states SET lease_owner = '', lease_until = NULL WHERE connector = ? AND lease_owner = ?", connector, owner)
}

func (r syncStates) Save(ctx context.Context, s *store.SyncState) error {
	if err := r.ensure(ctx, s.Connector); err != nil {
		return err
	}
	return r.t.rawExec(ctx, "UPDATE sync_states SET mark = ?, last_full_at = ?, last_run_at = ?, last_result = ? WHERE connector = ?",
		nullJSON(s.Mark), r.t.time(s.LastFullAt), r.t.time(s.LastRunAt), nullJSON(s.LastResult), s.Connector)
}

// nullJSON binds a JSON document, or NULL when empty.
func nullJSON(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}
