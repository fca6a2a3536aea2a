package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/canonid/canonid/store"
)

type auditLog struct{ t *tx }

func (r auditLog) List(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, error) {
	var where []string
	var args []any
	for _, f := range []struct{ col, val string }{{"account_id", q.AccountID}, {"org_id", q.OrgID}, {"type", q.Type}} {
		if f.val != "" {
			where = append(where, f.col+" = ?")
			args = append(args, f.val)
		}
	}
	if q.Before > 0 {
		where = append(where, "id < ?")
		args = append(args, q.Before)
	}
	query := "SELECT id, at, type, actor, account_id, org_id, request_id, data FROM audit_events"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := r.t.query(ctx, query+" ORDER BY id DESC LIMIT ?", append(args, limit)...)
	return scanAll(rows, err, func(r *sqlRows) (store.AuditEntry, error) {
		var e store.AuditEntry
		var at timeCol
		var account, org, req strCol
		var data jsonCol
		err := r.Scan(&e.ID, &at, &e.Type, &e.Actor, &account, &org, &req, &data)
		e.At, e.AccountID, e.OrgID, e.RequestID, e.Data = at.t(), string(account), string(org), string(req), data
		return e, err
	})
}

// queryer is what the outbox reader needs: a pool outside transactions, or
// a transaction.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

type outboxReader struct {
	s *Store
	q queryer
}

func (r outboxReader) After(ctx context.Context, seq int64, limit int) ([]store.OutboxEvent, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := r.q.QueryContext(ctx, r.s.rebind(`SELECT seq, at, type, account_id, org_id, data FROM outbox
		WHERE seq > ? ORDER BY seq LIMIT ?`), seq, limit)
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", r.s.d.Translate(err))
	}
	return scanAll(rows, nil, func(r *sqlRows) (store.OutboxEvent, error) {
		var e store.OutboxEvent
		var at timeCol
		var account, org strCol
		var data jsonCol
		err := r.Scan(&e.Seq, &at, &e.Type, &account, &org, &data)
		e.At, e.AccountID, e.OrgID, e.Data = at.t(), string(account), string(org), data
		return e, err
	})
}

func (r outboxReader) Head(ctx context.Context) (int64, error) {
	var seq int64
	if err := r.q.QueryRowContext(ctx, "SELECT seq FROM outbox_head WHERE id = 1").Scan(&seq); err != nil {
		return 0, fmt.Errorf("read outbox head: %w", r.s.d.Translate(err))
	}
	return seq, nil
}
