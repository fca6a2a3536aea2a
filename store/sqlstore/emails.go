package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/canonid/canonid/identity"
)

type emails struct{ t *tx }

func checkEmail(e *identity.Email) error {
	e.Address = identity.NormalizeEmail(e.Address)
	if !identity.ValidEmail(e.Address) {
		return fmt.Errorf("e-mail %q: not a valid address", e.Address)
	}
	if e.AccountID == "" {
		return fmt.Errorf("e-mail %s: account is required", e.Address)
	}
	return nil
}

func (r emails) Add(ctx context.Context, e *identity.Email) error {
	if err := checkEmail(e); err != nil {
		return err
	}
	r.t.stamp(&e.CreatedAt)
	if e.Verified {
		r.t.stamp(&e.VerifiedAt)
	}
	if _, err := r.t.exec(ctx, `INSERT INTO emails (account_id, address, verified, is_primary, source, created_at, verified_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		e.AccountID, e.Address, e.Verified, e.Primary, e.Source, r.t.time(e.CreatedAt), r.t.time(e.VerifiedAt)); err != nil {
		return fmt.Errorf("add e-mail %s: %w", e.Address, err)
	}
	r.t.markDirty(e.AccountID)
	return nil
}

func (r emails) Get(ctx context.Context, accountID, address string) (identity.Email, error) {
	address = identity.NormalizeEmail(address)
	e, err := scanEmail(r.t.queryRow(ctx, "SELECT "+emailCols+" FROM emails WHERE account_id = ? AND address = ?", accountID, address))
	return e, r.t.oneRow(err, "e-mail "+address)
}

func (r emails) FindVerified(ctx context.Context, address string) (identity.Email, error) {
	address = identity.NormalizeEmail(address)
	e, err := scanEmail(r.t.queryRow(ctx, "SELECT "+emailCols+" FROM emails WHERE address = ? AND verified", address))
	return e, r.t.oneRow(err, "verified e-mail "+address)
}

func (r emails) ListByAccount(ctx context.Context, accountID string) ([]identity.Email, error) {
	return scanEmails(r.t.query(ctx, "SELECT "+emailCols+" FROM emails WHERE account_id = ? ORDER BY is_primary DESC, address", accountID))
}

func (r emails) ListByAccounts(ctx context.Context, accountIDs []string) (map[string][]identity.Email, error) {
	out := make(map[string][]identity.Email, len(accountIDs))
	for chunk := range slices.Chunk(accountIDs, batchSize) {
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		got, err := scanEmails(r.t.query(ctx, "SELECT "+emailCols+" FROM emails WHERE account_id IN ("+placeholders(len(chunk))+
			") ORDER BY account_id, is_primary DESC, address", args...))
		if err != nil {
			return nil, err
		}
		for _, e := range got {
			out[e.AccountID] = append(out[e.AccountID], e)
		}
	}
	return out, nil
}

func (r emails) Update(ctx context.Context, e *identity.Email) error {
	if err := checkEmail(e); err != nil {
		return err
	}
	if e.Verified {
		r.t.stamp(&e.VerifiedAt)
	} else {
		e.VerifiedAt = time.Time{}
	}
	r.t.markDirty(e.AccountID)
	return r.t.execOne(ctx, "e-mail "+e.Address,
		`UPDATE emails SET verified = ?, is_primary = ?, source = ?, verified_at = ? WHERE account_id = ? AND address = ?`,
		e.Verified, e.Primary, e.Source, r.t.time(e.VerifiedAt), e.AccountID, e.Address)
}

func (r emails) Delete(ctx context.Context, accountID, address string) error {
	address = identity.NormalizeEmail(address)
	r.t.markDirty(accountID)
	return r.t.execOne(ctx, "e-mail "+address, `DELETE FROM emails WHERE account_id = ? AND address = ?`, accountID, address)
}
