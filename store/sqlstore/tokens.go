package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/canonid/canonid/store"
)

type oneTimeTokens struct{ t *tx }

func (r oneTimeTokens) Create(ctx context.Context, tok *store.OneTimeToken) error {
	if tok.Purpose == "" || len(tok.Hash) == 0 || tok.AccountID == "" || tok.ExpiresAt.IsZero() {
		return fmt.Errorf("one-time token: purpose, hash, account and expiry are required")
	}
	if tok.ID == "" {
		tok.ID = uuid.NewString()
	}
	data, err := jsonText(tok.Data)
	if err != nil {
		return err
	}
	r.t.stamp(&tok.CreatedAt)
	tok.ExpiresAt = tok.ExpiresAt.UTC().Truncate(time.Microsecond)
	if _, err := r.t.exec(ctx, `INSERT INTO one_time_tokens (`+tokenCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)`,
		tok.ID, tok.Purpose, tok.Hash, tok.AccountID, data, r.t.time(tok.CreatedAt), r.t.time(tok.ExpiresAt)); err != nil {
		return fmt.Errorf("create %s token: %w", tok.Purpose, err)
	}
	return nil
}

func (r oneTimeTokens) Consume(ctx context.Context, purpose store.TokenPurpose, hash []byte, now time.Time) (store.OneTimeToken, error) {
	if r.t.readOnly {
		return store.OneTimeToken{}, store.ErrReadOnly
	}
	// One statement checks and marks, so two redemptions racing cannot
	// both succeed.
	tok, err := scanToken(r.t.queryRow(ctx, `UPDATE one_time_tokens SET used_at = ?
		WHERE purpose = ? AND hash = ? AND used_at IS NULL AND expires_at > ? RETURNING `+tokenCols,
		r.t.time(now), purpose, hash, r.t.time(now)))
	if err == nil {
		r.t.changed = true
	}
	return tok, r.t.oneRow(err, string(purpose)+" token")
}

func (r oneTimeTokens) Find(ctx context.Context, purpose store.TokenPurpose, hash []byte, now time.Time) (store.OneTimeToken, error) {
	tok, err := scanToken(r.t.queryRow(ctx, "SELECT "+tokenCols+` FROM one_time_tokens
		WHERE purpose = ? AND hash = ? AND used_at IS NULL AND expires_at > ?`, purpose, hash, r.t.time(now)))
	return tok, r.t.oneRow(err, string(purpose)+" token")
}

func (r oneTimeTokens) ListPending(ctx context.Context, accountID string, now time.Time) ([]store.OneTimeToken, error) {
	return scanTokens(r.t.query(ctx, "SELECT "+tokenCols+` FROM one_time_tokens
		WHERE account_id = ? AND used_at IS NULL AND expires_at > ? ORDER BY created_at, id`, accountID, r.t.time(now)))
}

func (r oneTimeTokens) Revoke(ctx context.Context, accountID string, now time.Time, purposes ...store.TokenPurpose) (int, error) {
	q := `UPDATE one_time_tokens SET used_at = ? WHERE account_id = ? AND used_at IS NULL AND expires_at > ?`
	args := []any{r.t.time(now), accountID, r.t.time(now)}
	if len(purposes) > 0 {
		q += " AND purpose IN (" + placeholders(len(purposes)) + ")"
		for _, p := range purposes {
			args = append(args, p)
		}
	}
	res, err := r.t.exec(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("revoke tokens of %s: %w", accountID, err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

type apiTokens struct{ t *tx }

const apiTokenCols = `id, name, role, org_id, hash, created_at, revoked_at`

func (r apiTokens) Create(ctx context.Context, tok *store.APIToken) error {
	if tok.Name == "" || len(tok.Hash) == 0 {
		return fmt.Errorf("api token: name and hash are required")
	}
	if _, err := store.ParseAPIRole(string(tok.Role)); err != nil {
		return fmt.Errorf("api token %s: %w", tok.Name, err)
	}
	if (tok.Role == store.RoleOrgAdmin) != (tok.OrgID != "") {
		return fmt.Errorf("api token %s: an org is required for the org-admin role and only for it", tok.Name)
	}
	if tok.ID == "" {
		tok.ID = uuid.NewString()
	}
	r.t.stamp(&tok.CreatedAt)
	if _, err := r.t.exec(ctx, `INSERT INTO api_tokens (`+apiTokenCols+`) VALUES (?, ?, ?, ?, ?, ?, NULL)`,
		tok.ID, tok.Name, tok.Role, nullString(tok.OrgID), tok.Hash, r.t.time(tok.CreatedAt)); err != nil {
		return fmt.Errorf("create api token %s: %w", tok.Name, err)
	}
	return nil
}

func (r apiTokens) GetByHash(ctx context.Context, hash []byte) (store.APIToken, error) {
	tok, err := scanAPIToken(r.t.queryRow(ctx, "SELECT "+apiTokenCols+" FROM api_tokens WHERE hash = ? AND revoked_at IS NULL", hash))
	return tok, r.t.oneRow(err, "api token")
}

func (r apiTokens) List(ctx context.Context) ([]store.APIToken, error) {
	rows, err := r.t.query(ctx, "SELECT "+apiTokenCols+" FROM api_tokens ORDER BY name, created_at")
	return scanAll(rows, err, func(r *sqlRows) (store.APIToken, error) { return scanAPIToken(r) })
}

func (r apiTokens) Revoke(ctx context.Context, id string, at time.Time) error {
	return r.t.execOne(ctx, "api token "+id, `UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, r.t.time(at), id)
}

func scanAPIToken(r interface{ Scan(...any) error }) (store.APIToken, error) {
	var tok store.APIToken
	var org strCol
	var created, revoked timeCol
	err := r.Scan(&tok.ID, &tok.Name, &tok.Role, &org, &tok.Hash, &created, &revoked)
	tok.OrgID, tok.CreatedAt, tok.RevokedAt = string(org), created.t(), revoked.t()
	return tok, err
}
