package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

type accounts struct{ t *tx }

// accountValues validates a and returns the values of its mutable columns,
// in the order of the INSERT and UPDATE statements below.
func accountValues(t *tx, a *identity.Account) ([]any, error) {
	if !a.Status.Valid() {
		return nil, fmt.Errorf("account %s: unknown status %q", a.ID, a.Status)
	}
	if (a.Status == identity.StatusMerged) != (a.MergedInto != "") {
		return nil, fmt.Errorf("account %s: merged_into must be set exactly when the status is merged", a.ID)
	}
	a.Login = identity.NormalizeLogin(a.Login)
	attrs, err := jsonText(a.Attributes)
	if err != nil {
		return nil, err
	}
	prov, err := jsonText(a.Provenance)
	if err != nil {
		return nil, err
	}
	consents, err := jsonText(a.Consents)
	if err != nil {
		return nil, err
	}
	var forward any // NULL: no redirection
	if a.MailForward != nil {
		if forward, err = jsonText(a.MailForward); err != nil {
			return nil, fmt.Errorf("account %s mail_forward: %w", a.ID, err)
		}
	}
	return []any{a.Status, nullString(a.Login), a.GivenName, a.FamilyName, a.DisplayName, a.BirthDate, a.Phone,
		attrs, prov, consents, forward, a.PasswordHash, nullString(a.MergedInto), t.time(a.LastLoginAt)}, nil
}

func (r accounts) Create(ctx context.Context, a *identity.Account) error {
	if a.ID == "" {
		a.ID = uuid.NewString()
	}
	vals, err := accountValues(r.t, a)
	if err != nil {
		return err
	}
	r.t.stamp(&a.CreatedAt)
	r.t.stamp(&a.UpdatedAt)
	a.Version = 1
	_, err = r.t.exec(ctx, `INSERT INTO accounts (id, status, login, given_name, family_name, display_name, birth_date, phone,
		attributes, provenance, consents, mail_forward, password_hash, merged_into, last_login_at, created_at, updated_at, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		append(append([]any{a.ID}, vals...), r.t.time(a.CreatedAt), r.t.time(a.UpdatedAt), a.Version)...)
	if err != nil {
		return fmt.Errorf("create account: %w", err)
	}
	r.t.markDirty(a.ID)
	if r.t.fresh == nil {
		r.t.fresh = map[string]bool{}
	}
	r.t.fresh[a.ID] = true // no stored keys to compare with yet
	return nil
}

func (r accounts) Get(ctx context.Context, id string) (identity.Account, error) {
	a, err := scanAccount(r.t.queryRow(ctx, "SELECT "+accountCols+" FROM accounts WHERE id = ?"+r.t.forUpdate(), id))
	return a, r.t.oneRow(err, "account "+id)
}

// batchSize bounds the ids of one IN list (SQLite allows 32766 variables).
const batchSize = 500

func (r accounts) GetMany(ctx context.Context, ids []string) ([]identity.Account, error) {
	var out []identity.Account
	for chunk := range slices.Chunk(ids, batchSize) {
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		got, err := scanAccounts(r.t.query(ctx, "SELECT "+accountCols+" FROM accounts WHERE id IN ("+placeholders(len(chunk))+")", args...))
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	slices.SortFunc(out, func(a, b identity.Account) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (r accounts) GetByLogin(ctx context.Context, login string) (identity.Account, error) {
	login = identity.NormalizeLogin(login)
	a, err := scanAccount(r.t.queryRow(ctx, "SELECT "+accountCols+" FROM accounts WHERE login = ?"+r.t.forUpdate(), login))
	return a, r.t.oneRow(err, "account with login "+login)
}

func (r accounts) Update(ctx context.Context, a *identity.Account) error {
	vals, err := accountValues(r.t, a)
	if err != nil {
		return err
	}
	updated := r.t.now()
	res, err := r.t.exec(ctx, `UPDATE accounts SET status = ?, login = ?, given_name = ?, family_name = ?, display_name = ?,
		birth_date = ?, phone = ?, attributes = ?, provenance = ?, consents = ?, mail_forward = ?, password_hash = ?, merged_into = ?,
		last_login_at = ?, updated_at = ?, version = version + 1
		WHERE id = ? AND version = ?`,
		append(vals, r.t.time(updated), a.ID, a.Version)...)
	if err != nil {
		return fmt.Errorf("update account %s: %w", a.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		if _, err := r.Get(ctx, a.ID); err != nil {
			return err
		}
		return fmt.Errorf("account %s changed since version %d: %w", a.ID, a.Version, store.ErrConflict)
	}
	a.Version++
	a.UpdatedAt = updated
	r.t.markDirty(a.ID)
	return nil
}

// maxChain bounds merge chains; a longer one means corrupt data.
const maxChain = 1000

func (r accounts) Resolve(ctx context.Context, id string) (identity.Account, error) {
	// Walk the chain without locking, then lock only the live root (in a
	// write transaction): locking every account along the chain would take
	// locks in chain order, which can deadlock against merges and undos
	// that lock their two accounts in id order. If the root was merged
	// between the read and the lock, walk on from it.
	seen := map[string]bool{}
	for range maxChain {
		var a identity.Account
		var err error
		if r.t.readOnly {
			a, err = r.Get(ctx, id)
		} else {
			a, err = scanAccount(r.t.queryRow(ctx, "SELECT "+accountCols+" FROM accounts WHERE id = ?", id))
			err = r.t.oneRow(err, "account "+id)
		}
		if err != nil {
			return a, err
		}
		if a.Status != identity.StatusMerged && !r.t.readOnly {
			if a, err = r.Get(ctx, a.ID); err != nil { // locks the row
				return a, err
			}
		}
		if a.Status != identity.StatusMerged {
			return a, nil
		}
		if seen[a.ID] {
			return a, fmt.Errorf("account %s: merge chain has a cycle", a.ID)
		}
		seen[a.ID] = true
		id = a.MergedInto
	}
	return identity.Account{}, fmt.Errorf("account %s: merge chain longer than %d", id, maxChain)
}

func (r accounts) List(ctx context.Context, q store.AccountQuery) ([]identity.Account, error) {
	var where []string
	var args []any
	if q.Text != "" {
		pattern := "%" + escapeLike(strings.ToLower(strings.TrimSpace(q.Text))) + "%"
		where = append(where, `(login LIKE ? ESCAPE '\' OR lower(given_name) LIKE ? ESCAPE '\'
			OR lower(family_name) LIKE ? ESCAPE '\' OR lower(display_name) LIKE ? ESCAPE '\'
			OR EXISTS (SELECT 1 FROM emails e WHERE e.account_id = accounts.id AND e.address LIKE ? ESCAPE '\'))`)
		args = append(args, pattern, pattern, pattern, pattern, pattern)
	}
	if len(q.Statuses) == 0 {
		where = append(where, "status <> ?")
		args = append(args, identity.StatusMerged)
	} else {
		where = append(where, "status IN ("+placeholders(len(q.Statuses))+")")
		for _, s := range q.Statuses {
			args = append(args, s)
		}
	}
	if q.OrgID != "" {
		where = append(where, "EXISTS (SELECT 1 FROM memberships m WHERE m.account_id = accounts.id AND m.org_id = ?)")
		args = append(args, q.OrgID)
	}
	if q.After != "" {
		where = append(where, "id > ?")
		args = append(args, q.After)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	args = append(args, limit)
	return scanAccounts(r.t.query(ctx, "SELECT "+accountCols+" FROM accounts WHERE "+strings.Join(where, " AND ")+" ORDER BY id LIMIT ?", args...))
}

func (r accounts) MergedInto(ctx context.Context, ids []string) (map[string][]string, error) {
	out := map[string][]string{}
	for chunk := range slices.Chunk(ids, batchSize) {
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := r.t.query(ctx, "SELECT merged_into, id FROM accounts WHERE merged_into IN ("+placeholders(len(chunk))+") ORDER BY merged_into, id", args...)
		pairs, err := scanAll(rows, err, func(r *sqlRows) ([2]string, error) {
			var p [2]string
			err := r.Scan(&p[0], &p[1])
			return p, err
		})
		if err != nil {
			return nil, err
		}
		for _, p := range pairs {
			out[p[0]] = append(out[p[0]], p[1])
		}
	}
	return out, nil
}

// forUpdate locks the rows a write transaction reads for read-modify-write.
func (t *tx) forUpdate() string {
	if t.readOnly {
		return ""
	}
	return t.s.d.ForUpdate
}

// oneRow translates the error of a single-row read.
func (t *tx) oneRow(err error, what string) error {
	if err == nil {
		return nil
	}
	if isNoRows(err) {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return t.translate(err)
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func (r accounts) Lookup(ctx context.Context, kind identity.LookupKind, values []string) (map[string][]string, error) {
	// Keys are kept at commit; bring those of this transaction's writes up
	// to date first, so that the lookup sees them.
	if !r.t.readOnly {
		if err := r.t.reindexDirty(ctx); err != nil {
			return nil, err
		}
	}
	out := map[string][]string{}
	for chunk := range slices.Chunk(values, batchSize) {
		q := "SELECT value, account_id FROM lookup_keys WHERE kind = ? AND value IN (" + placeholders(len(chunk)) + ") ORDER BY value, account_id"
		args := make([]any, 0, len(chunk)+1)
		if kind == identity.LookupLogin {
			q = "SELECT login, id FROM accounts WHERE login IN (" + placeholders(len(chunk)) + ")"
		} else {
			args = append(args, string(kind))
		}
		for _, v := range chunk {
			args = append(args, v)
		}
		rows, err := r.t.query(ctx, q, args...)
		pairs, err := scanAll(rows, err, func(r *sqlRows) ([2]string, error) {
			var p [2]string
			err := r.Scan(&p[0], &p[1])
			return p, err
		})
		if err != nil {
			return nil, err
		}
		for _, p := range pairs {
			out[p[0]] = append(out[p[0]], p[1])
		}
	}
	return out, nil
}
