package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

type duplicates struct{ t *tx }

func (t *tx) Duplicates() store.Duplicates { return duplicates{t} }

// markDirty notes that an account's blocking keys must be recomputed at
// commit.
func (t *tx) markDirty(accountID string) {
	if t.dirty == nil {
		t.dirty = map[string]bool{}
	}
	t.dirty[accountID] = true
}

// reindexDirty recomputes the keys of the accounts this transaction changed.
func (t *tx) reindexDirty(ctx context.Context) error {
	if len(t.dirty) == 0 {
		return nil
	}
	for id := range t.dirty {
		if err := t.reindex(ctx, id); err != nil {
			return fmt.Errorf("blocking keys of %s: %w", id, err)
		}
	}
	t.dirty = nil
	return nil
}

// reindex brings one account's derived keys up to date: its blocking keys
// (identity.BlockingKeys) and lookup keys (identity.LookupKeys), none for a
// merged account. Only the keys that changed are written. Keys are derived
// data, so the writes do not count as a change needing an event.
func (t *tx) reindex(ctx context.Context, id string) error {
	a, err := scanAccount(t.queryRow(ctx, "SELECT "+accountCols+" FROM accounts WHERE id = ?", id))
	if err = t.oneRow(err, "account "+id); err != nil {
		return err
	}
	var blocking []string
	var lookup [][2]string
	if a.Status.Live() {
		emails, err := scanEmails(t.query(ctx, "SELECT "+emailCols+" FROM emails WHERE account_id = ?", id))
		if err != nil {
			return err
		}
		c := identity.Candidate{Account: a, Emails: emails}
		for _, k := range identity.BlockingKeys(c) {
			blocking = append(blocking, k.String())
		}
		for _, k := range identity.LookupKeys(c) {
			lookup = append(lookup, [2]string{string(k.Kind), k.Value})
		}
	}
	var oldBlocking []string
	var oldLookup [][2]string
	if !t.fresh[id] {
		rows, err := t.query(ctx, "SELECT key FROM blocking_keys WHERE account_id = ?", id)
		oldBlocking, err = scanAll(rows, err, func(r *sqlRows) (string, error) {
			var k string
			err := r.Scan(&k)
			return k, err
		})
		if err != nil {
			return err
		}
		rows, err = t.query(ctx, "SELECT kind, value FROM lookup_keys WHERE account_id = ?", id)
		oldLookup, err = scanAll(rows, err, func(r *sqlRows) ([2]string, error) {
			var k [2]string
			err := r.Scan(&k[0], &k[1])
			return k, err
		})
		if err != nil {
			return err
		}
	}
	delete(t.fresh, id) // its keys are written below
	gone, added := diffKeys(oldBlocking, blocking)
	for _, k := range gone {
		if err := t.rawExec(ctx, "DELETE FROM blocking_keys WHERE key = ? AND account_id = ?", k, id); err != nil {
			return err
		}
	}
	for _, k := range added {
		if err := t.rawExec(ctx, "INSERT INTO blocking_keys (key, account_id) VALUES (?, ?)", k, id); err != nil {
			return err
		}
	}
	goneL, addedL := diffKeys(oldLookup, lookup)
	for _, k := range goneL {
		if err := t.rawExec(ctx, "DELETE FROM lookup_keys WHERE kind = ? AND value = ? AND account_id = ?", k[0], k[1], id); err != nil {
			return err
		}
	}
	for _, k := range addedL {
		if err := t.rawExec(ctx, "INSERT INTO lookup_keys (kind, value, account_id) VALUES (?, ?, ?)", k[0], k[1], id); err != nil {
			return err
		}
	}
	return nil
}

// diffKeys returns the keys of old missing from cur and those of cur
// missing from old.
func diffKeys[K comparable](old, cur []K) (gone, added []K) {
	have := make(map[K]bool, len(old))
	for _, k := range old {
		have[k] = true
	}
	want := make(map[K]bool, len(cur))
	for _, k := range cur {
		want[k] = true
		if !have[k] {
			added = append(added, k)
		}
	}
	for _, k := range old {
		if !want[k] {
			gone = append(gone, k)
		}
	}
	return gone, added
}

// rawExec runs a write of derived or bookkeeping data: it does not mark
// the transaction changed, so it needs no event of its own.
func (t *tx) rawExec(ctx context.Context, q string, args ...any) error {
	if t.readOnly {
		return store.ErrReadOnly
	}
	if _, err := t.execSQL(ctx, q, args...); err != nil {
		return t.translate(err)
	}
	return nil
}

func (r duplicates) Keys(ctx context.Context, accountID string) ([]string, error) {
	rows, err := r.t.query(ctx, "SELECT key FROM blocking_keys WHERE account_id = ? ORDER BY key", accountID)
	return scanAll(rows, err, func(r *sqlRows) (string, error) { var k string; err := r.Scan(&k); return k, err })
}

func (r duplicates) Candidates(ctx context.Context, accountID string, maxBlock int) (map[string][]string, error) {
	rows, err := r.t.query(ctx, `SELECT b2.account_id, b2.key FROM blocking_keys b1
		JOIN blocking_keys b2 ON b2.key = b1.key AND b2.account_id <> b1.account_id
		WHERE b1.account_id = ? AND (SELECT count(*) FROM blocking_keys b3 WHERE b3.key = b1.key) <= ?
		ORDER BY b2.account_id, b2.key`, accountID, maxBlock)
	pairs, err := scanAll(rows, err, func(r *sqlRows) ([2]string, error) {
		var p [2]string
		err := r.Scan(&p[0], &p[1])
		return p, err
	})
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, p := range pairs {
		out[p[0]] = append(out[p[0]], p[1])
	}
	return out, nil
}

func (r duplicates) Blocks(ctx context.Context, maxBlock int, fn func(key string, accountIDs []string) error) error {
	rows, err := r.t.query(ctx, `SELECT key, account_id FROM blocking_keys WHERE key IN
		(SELECT key FROM blocking_keys GROUP BY key HAVING count(*) BETWEEN 2 AND ?) ORDER BY key, account_id`, maxBlock)
	if err != nil {
		return err
	}
	defer rows.Close()
	var key string
	var ids []string
	for rows.Next() {
		var k, id string
		if err := rows.Scan(&k, &id); err != nil {
			return err
		}
		if k != key && len(ids) > 0 {
			if err := fn(key, ids); err != nil {
				return err
			}
			ids = nil
		}
		key = k
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(ids) > 0 {
		return fn(key, ids)
	}
	return nil
}

func (r duplicates) Reindex(ctx context.Context, accountIDs ...string) error {
	if r.t.readOnly {
		return store.ErrReadOnly
	}
	if len(accountIDs) == 0 {
		rows, err := r.t.query(ctx, "SELECT id FROM accounts ORDER BY id")
		all, err := scanAll(rows, err, func(r *sqlRows) (string, error) { var id string; err := r.Scan(&id); return id, err })
		if err != nil {
			return err
		}
		accountIDs = all
	}
	for _, id := range accountIDs {
		if err := r.t.reindex(ctx, id); err != nil {
			return fmt.Errorf("reindex %s: %w", id, err)
		}
	}
	return nil
}

func (r duplicates) Dismiss(ctx context.Context, a, b, actor string, at time.Time) error {
	if a == b {
		return fmt.Errorf("dismiss: an account is not a pair with itself")
	}
	if b < a {
		a, b = b, a
	}
	_, err := r.t.exec(ctx, `INSERT INTO duplicate_decisions (account_a, account_b, decision, actor, decided_at)
		VALUES (?, ?, 'not_duplicate', ?, ?) ON CONFLICT (account_a, account_b) DO NOTHING`,
		a, b, actor, r.t.time(normTime(at, r.t.now())))
	if err != nil {
		return fmt.Errorf("dismiss %s/%s: %w", a, b, err)
	}
	return nil
}

func (r duplicates) Dismissed(ctx context.Context) (map[string]bool, error) {
	rows, err := r.t.query(ctx, "SELECT account_a, account_b FROM duplicate_decisions")
	pairs, err := scanAll(rows, err, func(r *sqlRows) (string, error) {
		var a, b string
		err := r.Scan(&a, &b)
		return identity.PairKey(a, b), err
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(pairs))
	for _, p := range pairs {
		out[p] = true
	}
	return out, nil
}
