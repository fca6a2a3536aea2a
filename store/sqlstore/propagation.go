package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/canonid/canonid/store"
)

// Propagation bookkeeping (migration 0009, store/propagation.go). Lease and
// Commit are conditional statements, so that of two dispatchers only the
// lease holder writes; they never mark the transaction changed.

type propagation struct{ t *tx }

// Propagation implements store.Tx.
func (t *tx) Propagation() store.Propagation { return propagation{t} }

const targetCols = `name, cursor_seq, lease_owner, lease_until, last_error, last_error_at, delivered_at, delivered_through`

func scanTarget(r interface{ Scan(...any) error }) (store.PropagationTarget, error) {
	var p store.PropagationTarget
	var owner, lastErr strCol
	var until, errAt, delivered, through timeCol
	err := r.Scan(&p.Name, &p.Cursor, &owner, &until, &lastErr, &errAt, &delivered, &through)
	p.LeaseOwner, p.LeaseUntil, p.LastError, p.LastErrorAt = string(owner), until.t(), string(lastErr), errAt.t()
	p.DeliveredAt, p.DeliveredThrough = delivered.t(), through.t()
	return p, err
}

func (r propagation) Lease(ctx context.Context, target, owner string, now, until time.Time) (store.PropagationTarget, bool, error) {
	now = r.t.atOrNow(now)
	if target == "" || owner == "" || !until.After(now) {
		return store.PropagationTarget{}, false, fmt.Errorf("lease %q for %q: a target, an owner and a future end are required", target, owner)
	}
	if _, err := r.t.execN(ctx, false, `INSERT INTO propagation_targets (name, cursor_seq) VALUES (?, 0) ON CONFLICT (name) DO NOTHING`, target); err != nil {
		return store.PropagationTarget{}, false, fmt.Errorf("lease %s: %w", target, err)
	}
	n, err := r.t.execN(ctx, false, `UPDATE propagation_targets SET lease_owner = ?, lease_until = ?
		WHERE name = ? AND (lease_owner IS NULL OR lease_owner = ? OR lease_until < ?)`,
		owner, r.t.time(truncTime(until)), target, owner, r.t.time(now))
	if err != nil {
		return store.PropagationTarget{}, false, fmt.Errorf("lease %s: %w", target, err)
	}
	p, err := scanTarget(r.t.queryRow(ctx, "SELECT "+targetCols+" FROM propagation_targets WHERE name = ?", target))
	if err != nil {
		return p, false, fmt.Errorf("lease %s: %w", target, r.t.translate(err))
	}
	return p, n > 0, nil
}

func (r propagation) Release(ctx context.Context, target, owner string) error {
	if _, err := r.t.execN(ctx, false, `UPDATE propagation_targets SET lease_owner = NULL, lease_until = NULL
		WHERE name = ? AND lease_owner = ?`, target, owner); err != nil {
		return fmt.Errorf("release %s: %w", target, err)
	}
	return nil
}

func (r propagation) Commit(ctx context.Context, p store.PropagationProgress) error {
	now := r.t.atOrNow(p.Now)
	// The lease check comes first and locks the target's row until the
	// end of the transaction: a dispatcher that lost its lease writes
	// nothing.
	set := "cursor_seq = CASE WHEN cursor_seq > ? THEN cursor_seq ELSE ? END, last_error = ?"
	args := []any{p.Cursor, p.Cursor, nullString(p.LastError)}
	if p.LastError != "" {
		set += ", last_error_at = ?"
		args = append(args, r.t.time(now))
	}
	if !p.LeaseUntil.IsZero() {
		set += ", lease_until = ?"
		args = append(args, r.t.time(truncTime(p.LeaseUntil)))
	}
	if !p.DeliveredAt.IsZero() {
		set += ", delivered_at = ?"
		args = append(args, r.t.time(truncTime(p.DeliveredAt)))
	}
	if !p.DeliveredThrough.IsZero() {
		set += ", delivered_through = ?"
		args = append(args, r.t.time(truncTime(p.DeliveredThrough)))
	}
	args = append(args, p.Target, p.Owner, r.t.time(now))
	n, err := r.t.execN(ctx, false, "UPDATE propagation_targets SET "+set+" WHERE name = ? AND lease_owner = ? AND lease_until >= ?", args...)
	if err != nil {
		return fmt.Errorf("propagation %s: %w", p.Target, err)
	}
	if n == 0 {
		return fmt.Errorf("propagation %s: %w", p.Target, store.ErrLeaseLost)
	}
	for _, rs := range p.Put {
		stampTime(&rs.UpdatedAt, now)
		if _, err := r.t.execN(ctx, false, `INSERT INTO propagation_remotes (target, account_id, remote_id, hash, retired_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (target, account_id) DO UPDATE SET
			remote_id = excluded.remote_id, hash = excluded.hash, retired_at = excluded.retired_at, updated_at = excluded.updated_at`,
			p.Target, rs.AccountID, rs.RemoteID, rs.Hash, r.t.time(truncTime(rs.RetiredAt)), r.t.time(rs.UpdatedAt)); err != nil {
			return fmt.Errorf("propagation %s: remote state of %s: %w", p.Target, rs.AccountID, err)
		}
	}
	for _, id := range p.Forget {
		if _, err := r.t.execN(ctx, false, `DELETE FROM propagation_remotes WHERE target = ? AND account_id = ?`, p.Target, id); err != nil {
			return fmt.Errorf("propagation %s: forget %s: %w", p.Target, id, err)
		}
	}
	for _, id := range p.ClearAccounts {
		if _, err := r.t.execN(ctx, false, `DELETE FROM propagation_dead_letters WHERE target = ? AND account_id = ?`, p.Target, id); err != nil {
			return fmt.Errorf("propagation %s: clear dead letter of %s: %w", p.Target, id, err)
		}
	}
	for _, seq := range p.ClearSeqs {
		if _, err := r.t.execN(ctx, false, `DELETE FROM propagation_dead_letters WHERE target = ? AND seq = ?`, p.Target, seq); err != nil {
			return fmt.Errorf("propagation %s: clear dead letter of event %d: %w", p.Target, seq, err)
		}
	}
	for _, d := range p.Dead {
		if err := r.putDead(ctx, p.Target, d, now); err != nil {
			return err
		}
	}
	return nil
}

// putDead inserts a dead letter, or updates the one of the same account or
// event: its attempts, error and event, and takes it out of retry.
func (r propagation) putDead(ctx context.Context, target string, d store.DeadLetter, now time.Time) error {
	if (d.AccountID == "") == (d.Seq == 0) {
		return fmt.Errorf("propagation %s: a dead letter names an account or an event, not both", target)
	}
	conflict := "(target, account_id) WHERE account_id IS NOT NULL"
	if d.AccountID == "" {
		conflict = "(target, seq) WHERE seq IS NOT NULL"
	}
	var seq any
	if d.Seq != 0 {
		seq = d.Seq
	}
	if _, err := r.t.execN(ctx, false, `INSERT INTO propagation_dead_letters
		(target, account_id, seq, event_type, attempts, last_error, retry, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT `+conflict+` DO UPDATE SET
		event_type = excluded.event_type, attempts = excluded.attempts, last_error = excluded.last_error,
		retry = excluded.retry, updated_at = excluded.updated_at`,
		target, nullString(d.AccountID), seq, d.EventType, d.Attempts, d.LastError, false, r.t.time(now), r.t.time(now)); err != nil {
		return fmt.Errorf("propagation %s: dead letter: %w", target, err)
	}
	return nil
}

func (r propagation) Targets(ctx context.Context) ([]store.PropagationTarget, error) {
	rows, err := r.t.query(ctx, "SELECT "+targetCols+" FROM propagation_targets ORDER BY name")
	out, err := scanAll(rows, err, func(r *sqlRows) (store.PropagationTarget, error) { return scanTarget(r) })
	if err != nil {
		return nil, fmt.Errorf("propagation targets: %w", err)
	}
	return out, nil
}

const remoteCols = `account_id, remote_id, hash, retired_at, updated_at`

func scanRemote(r *sqlRows) (store.RemoteState, error) {
	var rs store.RemoteState
	var retired, updated timeCol
	err := r.Scan(&rs.AccountID, &rs.RemoteID, &rs.Hash, &retired, &updated)
	rs.RetiredAt, rs.UpdatedAt = retired.t(), updated.t()
	return rs, err
}

func (r propagation) Remotes(ctx context.Context, target string, accountIDs []string) (map[string]store.RemoteState, error) {
	out := make(map[string]store.RemoteState, len(accountIDs))
	for chunk := range slices.Chunk(accountIDs, batchSize) {
		args := []any{target}
		for _, id := range chunk {
			args = append(args, id)
		}
		rows, err := r.t.query(ctx, "SELECT "+remoteCols+" FROM propagation_remotes WHERE target = ? AND account_id IN ("+placeholders(len(chunk))+")", args...)
		got, err := scanAll(rows, err, scanRemote)
		if err != nil {
			return nil, fmt.Errorf("remote states on %s: %w", target, err)
		}
		for _, rs := range got {
			out[rs.AccountID] = rs
		}
	}
	return out, nil
}

func (r propagation) RemotesAfter(ctx context.Context, target, after string, limit int) ([]store.RemoteState, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := r.t.query(ctx, "SELECT "+remoteCols+" FROM propagation_remotes WHERE target = ? AND account_id > ? ORDER BY account_id LIMIT ?", target, after, limit)
	out, err := scanAll(rows, err, scanRemote)
	if err != nil {
		return nil, fmt.Errorf("remote states on %s: %w", target, err)
	}
	return out, nil
}

func (r propagation) RetiredBefore(ctx context.Context, target string, t time.Time, limit int) ([]store.RemoteState, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := r.t.query(ctx, "SELECT "+remoteCols+` FROM propagation_remotes
		WHERE target = ? AND retired_at IS NOT NULL AND retired_at < ? ORDER BY retired_at, account_id LIMIT ?`,
		target, r.t.time(truncTime(t)), limit)
	out, err := scanAll(rows, err, scanRemote)
	if err != nil {
		return nil, fmt.Errorf("retired remote states on %s: %w", target, err)
	}
	return out, nil
}

const deadCols = `id, target, account_id, seq, event_type, attempts, last_error, retry, created_at, updated_at`

func (r propagation) DeadLetters(ctx context.Context, q store.DeadLetterQuery) ([]store.DeadLetter, error) {
	query := "SELECT " + deadCols + " FROM propagation_dead_letters WHERE 1 = 1"
	var args []any
	if q.Target != "" {
		query += " AND target = ?"
		args = append(args, q.Target)
	}
	if q.Retry {
		query += " AND retry = ?"
		args = append(args, true)
	}
	if q.Before > 0 {
		query += " AND id < ?"
		args = append(args, q.Before)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := r.t.query(ctx, query+" ORDER BY id DESC LIMIT ?", append(args, limit)...)
	out, err := scanAll(rows, err, func(r *sqlRows) (store.DeadLetter, error) {
		var d store.DeadLetter
		var account strCol
		var seq *int64
		var created, updated timeCol
		err := r.Scan(&d.ID, &d.Target, &account, &seq, &d.EventType, &d.Attempts, &d.LastError, &d.Retry, &created, &updated)
		d.AccountID, d.CreatedAt, d.UpdatedAt = string(account), created.t(), updated.t()
		if seq != nil {
			d.Seq = *seq
		}
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	return out, nil
}

func (r propagation) CountDeadLetters(ctx context.Context) (map[string]int, error) {
	rows, err := r.t.query(ctx, "SELECT target, count(*) FROM propagation_dead_letters GROUP BY target")
	type count struct {
		target string
		n      int
	}
	got, err := scanAll(rows, err, func(r *sqlRows) (count, error) {
		var c count
		return c, r.Scan(&c.target, &c.n)
	})
	if err != nil {
		return nil, fmt.Errorf("count dead letters: %w", err)
	}
	out := make(map[string]int, len(got))
	for _, c := range got {
		out[c.target] = c.n
	}
	return out, nil
}

func (r propagation) RetryDeadLetters(ctx context.Context, target string, ids []int64) (int, error) {
	if len(ids) == 0 {
		n, err := r.t.execN(ctx, true, "UPDATE propagation_dead_letters SET retry = ? WHERE target = ? AND retry = ?", true, target, false)
		if err != nil {
			return 0, fmt.Errorf("retry dead letters of %s: %w", target, err)
		}
		return n, nil
	}
	total := 0
	for chunk := range slices.Chunk(ids, batchSize) {
		args := []any{true, target}
		for _, id := range chunk {
			args = append(args, id)
		}
		n, err := r.t.execN(ctx, true, "UPDATE propagation_dead_letters SET retry = ? WHERE target = ? AND id IN ("+placeholders(len(chunk))+")", args...)
		if err != nil {
			return total, fmt.Errorf("retry dead letters of %s: %w", target, err)
		}
		total += n
	}
	return total, nil
}
