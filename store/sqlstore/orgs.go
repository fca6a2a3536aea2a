package sqlstore

import (
	"context"
	"fmt"
	"slices"

	"github.com/canonid/canonid/identity"
)

type orgs struct{ t *tx }

func (r orgs) Put(ctx context.Context, o *identity.Org) error {
	if o.ID == "" || o.Name == "" {
		return fmt.Errorf("org %q: id and name are required", o.ID)
	}
	r.t.stamp(&o.CreatedAt)
	if _, err := r.t.exec(ctx, `INSERT INTO orgs (id, name, kind, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind`,
		o.ID, o.Name, o.Kind, r.t.time(o.CreatedAt)); err != nil {
		return fmt.Errorf("put org %s: %w", o.ID, err)
	}
	return nil
}

func (r orgs) Get(ctx context.Context, id string) (identity.Org, error) {
	o, err := scanOrg(r.t.queryRow(ctx, "SELECT id, name, kind, created_at FROM orgs WHERE id = ?", id))
	return o, r.t.oneRow(err, "org "+id)
}

func (r orgs) List(ctx context.Context) ([]identity.Org, error) {
	rows, err := r.t.query(ctx, "SELECT id, name, kind, created_at FROM orgs ORDER BY id")
	return scanAll(rows, err, func(r *sqlRows) (identity.Org, error) { return scanOrg(r) })
}

func scanOrg(r interface{ Scan(...any) error }) (identity.Org, error) {
	var o identity.Org
	var created timeCol
	err := r.Scan(&o.ID, &o.Name, &o.Kind, &created)
	o.CreatedAt = created.t()
	return o, err
}

type memberships struct{ t *tx }

const membershipCols = `org_id, account_id, role, state, validated_by, validated_at, created_at, updated_at`

func (r memberships) Put(ctx context.Context, m *identity.Membership) error {
	if m.OrgID == "" || m.AccountID == "" {
		return fmt.Errorf("membership: org and account are required")
	}
	if m.Role == "" {
		m.Role = identity.RoleMember
	}
	if m.State == "" {
		m.State = identity.MembershipPending
	}
	r.t.stamp(&m.CreatedAt)
	m.UpdatedAt = r.t.now()
	if _, err := r.t.exec(ctx, `INSERT INTO memberships (`+membershipCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (org_id, account_id) DO UPDATE SET role = excluded.role, state = excluded.state,
		validated_by = excluded.validated_by, validated_at = excluded.validated_at, updated_at = excluded.updated_at`,
		m.OrgID, m.AccountID, m.Role, m.State, nullString(m.ValidatedBy), r.t.time(m.ValidatedAt),
		r.t.time(m.CreatedAt), r.t.time(m.UpdatedAt)); err != nil {
		return fmt.Errorf("put membership %s/%s: %w", m.OrgID, m.AccountID, err)
	}
	return nil
}

func (r memberships) Get(ctx context.Context, orgID, accountID string) (identity.Membership, error) {
	m, err := scanMembership(r.t.queryRow(ctx, "SELECT "+membershipCols+" FROM memberships WHERE org_id = ? AND account_id = ?", orgID, accountID))
	return m, r.t.oneRow(err, "membership of "+accountID+" in "+orgID)
}

func (r memberships) ListByOrg(ctx context.Context, orgID string) ([]identity.Membership, error) {
	rows, err := r.t.query(ctx, "SELECT "+membershipCols+" FROM memberships WHERE org_id = ? ORDER BY account_id", orgID)
	return scanAll(rows, err, func(r *sqlRows) (identity.Membership, error) { return scanMembership(r) })
}

func (r memberships) ListByAccount(ctx context.Context, accountID string) ([]identity.Membership, error) {
	rows, err := r.t.query(ctx, "SELECT "+membershipCols+" FROM memberships WHERE account_id = ? ORDER BY org_id", accountID)
	return scanAll(rows, err, func(r *sqlRows) (identity.Membership, error) { return scanMembership(r) })
}

func (r memberships) ListByAccounts(ctx context.Context, accountIDs []string) (map[string][]identity.Membership, error) {
	out := make(map[string][]identity.Membership, len(accountIDs))
	for chunk := range slices.Chunk(accountIDs, batchSize) {
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := r.t.query(ctx, "SELECT "+membershipCols+" FROM memberships WHERE account_id IN ("+placeholders(len(chunk))+
			") ORDER BY account_id, org_id", args...)
		got, err := scanAll(rows, err, func(r *sqlRows) (identity.Membership, error) { return scanMembership(r) })
		if err != nil {
			return nil, err
		}
		for _, m := range got {
			out[m.AccountID] = append(out[m.AccountID], m)
		}
	}
	return out, nil
}

func (r memberships) Delete(ctx context.Context, orgID, accountID string) error {
	return r.t.execOne(ctx, "membership of "+accountID+" in "+orgID, `DELETE FROM memberships WHERE org_id = ? AND account_id = ?`, orgID, accountID)
}

func scanMembership(r interface{ Scan(...any) error }) (identity.Membership, error) {
	var m identity.Membership
	var by strCol
	var validated, created, updated timeCol
	err := r.Scan(&m.OrgID, &m.AccountID, &m.Role, &m.State, &by, &validated, &created, &updated)
	m.ValidatedBy, m.ValidatedAt, m.CreatedAt, m.UpdatedAt = string(by), validated.t(), created.t(), updated.t()
	return m, err
}
