package sqlstore

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
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
	ids := slices.Sorted(maps.Keys(t.dirty))
	if err := t.reindex(ctx, ids); err != nil {
		return fmt.Errorf("blocking keys: %w", err)
	}
	t.dirty = nil
	return nil
}

// keyAccountCols are the columns of accounts the derived keys depend on.
const keyAccountCols = `id, status, given_name, family_name, birth_date, attributes`

// reindex brings the derived keys of accounts up to date: their blocking
// keys (identity.BlockingKeys) and lookup keys (identity.LookupKeys), none
// for an account that is not live. Only the keys that changed are written.
// The accounts, their addresses and their stored keys are read a few hundred
// at a time, and the new keys inserted with multi-row statements. Keys are
// derived data, so the writes do not count as a change needing an event.
func (t *tx) reindex(ctx context.Context, ids []string) error {
	for chunk := range slices.Chunk(ids, batchSize) {
		if err := t.reindexChunk(ctx, chunk); err != nil {
			return err
		}
	}
	return nil
}

// reindexChunk is reindex for at most batchSize accounts: four reads, the
// keys gone deleted one by one, the keys added in one statement per table.
func (t *tx) reindexChunk(ctx context.Context, ids []string) error {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	in := " IN (" + placeholders(len(ids)) + ")"
	rows, err := t.query(ctx, "SELECT "+keyAccountCols+" FROM accounts WHERE id"+in, args...)
	accs, err := scanAll(rows, err, func(r *sqlRows) (identity.Account, error) {
		var a identity.Account
		var attrs jsonCol
		if err := r.Scan(&a.ID, &a.Status, &a.GivenName, &a.FamilyName, &a.BirthDate, &attrs); err != nil {
			return a, err
		}
		if err := attrs.into(&a.Attributes); err != nil {
			return a, fmt.Errorf("account %s attributes: %w", a.ID, err)
		}
		return a, nil
	})
	if err != nil {
		return err
	}
	byID := make(map[string]identity.Account, len(accs))
	for _, a := range accs {
		byID[a.ID] = a
	}
	var live, stored []any // accounts whose addresses, whose stored keys, are read
	for _, id := range ids {
		a, ok := byID[id]
		if !ok {
			return fmt.Errorf("account %s: %w", id, store.ErrNotFound)
		}
		if a.Status.Live() {
			live = append(live, id)
		}
		if !t.fresh[id] {
			stored = append(stored, id)
		}
	}
	emails := map[string][]identity.Email{}
	if len(live) > 0 {
		rows, err := t.query(ctx, "SELECT account_id, address, verified FROM emails WHERE account_id IN ("+placeholders(len(live))+")", live...)
		got, err := scanAll(rows, err, func(r *sqlRows) (identity.Email, error) {
			var e identity.Email
			err := r.Scan(&e.AccountID, &e.Address, &e.Verified)
			return e, err
		})
		if err != nil {
			return err
		}
		for _, e := range got {
			emails[e.AccountID] = append(emails[e.AccountID], e)
		}
	}
	oldBlocking := map[string][]string{}
	oldLookup := map[string][][2]string{}
	if len(stored) > 0 {
		in := " IN (" + placeholders(len(stored)) + ")"
		rows, err := t.query(ctx, "SELECT account_id, key FROM blocking_keys WHERE account_id"+in, stored...)
		pairs, err := scanAll(rows, err, func(r *sqlRows) ([2]string, error) {
			var p [2]string
			err := r.Scan(&p[0], &p[1])
			return p, err
		})
		if err != nil {
			return err
		}
		for _, p := range pairs {
			oldBlocking[p[0]] = append(oldBlocking[p[0]], p[1])
		}
		rows, err = t.query(ctx, "SELECT account_id, kind, value FROM lookup_keys WHERE account_id"+in, stored...)
		triples, err := scanAll(rows, err, func(r *sqlRows) ([3]string, error) {
			var k [3]string
			err := r.Scan(&k[0], &k[1], &k[2])
			return k, err
		})
		if err != nil {
			return err
		}
		for _, k := range triples {
			oldLookup[k[0]] = append(oldLookup[k[0]], [2]string{k[1], k[2]})
		}
	}
	var addBlocking, addLookup []any // (key, account id), (kind, value, account id)
	for _, id := range ids {
		a := byID[id]
		var blocking []string
		var lookup [][2]string
		if a.Status.Live() {
			c := identity.Candidate{Account: a, Emails: emails[id]}
			for _, k := range identity.BlockingKeys(c) {
				blocking = append(blocking, k.String())
			}
			for _, k := range identity.LookupKeys(c) {
				lookup = append(lookup, [2]string{string(k.Kind), k.Value})
			}
		}
		delete(t.fresh, id) // its keys are written below
		gone, added := diffKeys(oldBlocking[id], blocking)
		for _, k := range gone {
			if err := t.rawExec(ctx, "DELETE FROM blocking_keys WHERE key = ? AND account_id = ?", k, id); err != nil {
				return err
			}
		}
		for _, k := range added {
			addBlocking = append(addBlocking, k, id)
		}
		goneL, addedL := diffKeys(oldLookup[id], lookup)
		for _, k := range goneL {
			if err := t.rawExec(ctx, "DELETE FROM lookup_keys WHERE kind = ? AND value = ? AND account_id = ?", k[0], k[1], id); err != nil {
				return err
			}
		}
		for _, k := range addedL {
			addLookup = append(addLookup, k[0], k[1], id)
		}
	}
	if err := t.insertRows(ctx, "INSERT INTO blocking_keys (key, account_id) VALUES ", 2, addBlocking); err != nil {
		return err
	}
	return t.insertRows(ctx, "INSERT INTO lookup_keys (kind, value, account_id) VALUES ", 3, addLookup)
}

// maxInsertRows bounds the rows of one multi-row INSERT.
const maxInsertRows = 500

// insertRows runs prefix (an INSERT ... VALUES) over args, width values per
// row, several rows per statement, as derived or bookkeeping data (see
// rawExec).
func (t *tx) insertRows(ctx context.Context, prefix string, width int, args []any) error {
	for chunk := range slices.Chunk(args, width*maxInsertRows) {
		if err := t.rawExec(ctx, prefix+valueRows(len(chunk)/width, width), chunk...); err != nil {
			return err
		}
	}
	return nil
}

// valueRows returns n rows of width placeholders: "(?, ?), (?, ?)".
func valueRows(n, width int) string {
	row := "(" + placeholders(width) + ")"
	var b strings.Builder
	b.Grow(n * (len(row) + 2))
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
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
	if err := r.t.reindex(ctx, accountIDs); err != nil {
		return fmt.Errorf("reindex: %w", err)
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
