package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

type merges struct{ t *tx }

func (r merges) Create(ctx context.Context, m *identity.MergeRecord) error {
	if m.SurvivorID == "" || m.RetiredID == "" || m.Reason == "" || m.Actor == "" {
		return fmt.Errorf("merge record: survivor, retired, reason and actor are required")
	}
	if m.SurvivorID == m.RetiredID {
		return fmt.Errorf("merge record: an account cannot be merged into itself")
	}
	if m.ID == "" {
		m.ID = uuid.NewString()
	}
	moved, err := json.Marshal(m.Moved)
	if err != nil {
		return err
	}
	r.t.stamp(&m.CreatedAt)
	if _, err := r.t.exec(ctx, `INSERT INTO merges (`+mergeCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL)`,
		m.ID, m.SurvivorID, m.RetiredID, m.Reason, m.Actor, r.t.time(m.CreatedAt), string(moved)); err != nil {
		return fmt.Errorf("create merge record: %w", err)
	}
	return nil
}

func (r merges) Get(ctx context.Context, id string) (identity.MergeRecord, error) {
	m, err := scanMerge(r.t.queryRow(ctx, "SELECT "+mergeCols+" FROM merges WHERE id = ?", id))
	return m, r.t.oneRow(err, "merge "+id)
}

func (r merges) ListByAccount(ctx context.Context, accountID string) ([]identity.MergeRecord, error) {
	return scanMerges(r.t.query(ctx, "SELECT "+mergeCols+` FROM merges WHERE survivor_id = ? OR retired_id = ?
		ORDER BY created_at DESC, id DESC`, accountID, accountID))
}

func (r merges) MarkUndone(ctx context.Context, id, actor string, at time.Time) error {
	res, err := r.t.exec(ctx, `UPDATE merges SET undone_at = ?, undone_by = ? WHERE id = ? AND undone_at IS NULL`,
		r.t.time(normTime(at, r.t.now())), actor, id)
	if err != nil {
		return fmt.Errorf("undo merge %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		if _, err := r.Get(ctx, id); err != nil {
			return err
		}
		return fmt.Errorf("merge %s was already undone: %w", id, store.ErrConflict)
	}
	return nil
}
