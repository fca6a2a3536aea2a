package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

// tx is one transaction. It remembers whether anything was written and
// buffers the recorded events until commit.
type tx struct {
	s        *Store
	tx       conn                 // the transaction, or for Read the reading pool
	pooled   bool                 // tx is the pool: no statement handles kept (nothing would close them)
	stmts    map[string]*sql.Stmt // prepared in this transaction, by query
	readOnly bool
	changed  bool
	events   []store.Event
	dirty    map[string]bool // accounts whose blocking keys need recomputing
	fresh    map[string]bool // accounts created here whose keys were never written
}

var _ store.Tx = (*tx)(nil)

// conn runs statements: a *sql.Tx, or a *sql.DB.
type conn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

func (t *tx) Accounts() store.Accounts       { return accounts{t} }
func (t *tx) Links() store.Links             { return links{t} }
func (t *tx) Emails() store.Emails           { return emails{t} }
func (t *tx) Orgs() store.Orgs               { return orgs{t} }
func (t *tx) Memberships() store.Memberships { return memberships{t} }
func (t *tx) Tokens() store.OneTimeTokens    { return oneTimeTokens{t} }
func (t *tx) Merges() store.MergeRecords     { return merges{t} }
func (t *tx) Audit() store.AuditLog          { return auditLog{t} }
func (t *tx) Outbox() store.OutboxReader     { return outboxReader{s: t.s, q: t.tx} }
func (t *tx) APITokens() store.APITokens     { return apiTokens{t} }
func (t *tx) now() time.Time                 { return t.s.now().UTC().Truncate(time.Microsecond) }
func (t *tx) stamp(v *time.Time)             { stampTime(v, t.now()) }
func (t *tx) time(v time.Time) any           { return nullTime(t.s.d, v) }
func (t *tx) translate(err error) error      { return t.s.d.Translate(err) }
func (t *tx) rebind(q string) string         { return t.s.rebind(q) }
func stampTime(v *time.Time, now time.Time)  { *v = normTime(*v, now) }
func normTime(v, now time.Time) time.Time    { return orNow(v, now).UTC().Truncate(time.Microsecond) }

// AuthRequests, OAuthTokens, SigningKeys and Sessions: see oidc.go.
func (t *tx) AuthRequests() store.AuthRequests { return authRequests{t} }
func (t *tx) OAuthTokens() store.OAuthTokens   { return oauthTokens{t} }
func (t *tx) SigningKeys() store.SigningKeys   { return signingKeys{t} }
func (t *tx) Sessions() store.Sessions         { return sessions{t} }

// Mails: see mail.go.
func (t *tx) Mails() store.Mails { return mails{t} }

func orNow(v, now time.Time) time.Time {
	if v.IsZero() {
		return now
	}
	return v
}

// exec runs a write. It fails in a read-only transaction and marks the
// transaction changed.
func (t *tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if t.readOnly {
		return nil, store.ErrReadOnly
	}
	t.changed = true
	res, err := t.execSQL(ctx, q, args...)
	if err != nil {
		return nil, t.translate(err)
	}
	return res, nil
}

// prepared returns the statement of q (already rebound) prepared in this
// transaction, preparing it on first use, or nil when the dialect does not
// cache statements. The transaction's end closes them.
func (t *tx) prepared(ctx context.Context, q string, nargs int) *sql.Stmt {
	if !t.s.d.CacheStatements || nargs > maxCachedArgs || t.pooled {
		return nil
	}
	if st, ok := t.stmts[q]; ok {
		return st
	}
	st, err := t.tx.PrepareContext(ctx, q)
	if err != nil {
		return nil // let the plain call report the error
	}
	if t.stmts == nil {
		t.stmts = map[string]*sql.Stmt{}
	}
	t.stmts[q] = st
	return st
}

// execSQL, querySQL and queryRow run q (with "?" placeholders) in the
// transaction, through the statement cache when there is one. They do not
// translate errors.
func (t *tx) execSQL(ctx context.Context, q string, args ...any) (sql.Result, error) {
	q = t.rebind(q)
	if st := t.prepared(ctx, q, len(args)); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, q, args...)
}

func (t *tx) querySQL(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	q = t.rebind(q)
	if st := t.prepared(ctx, q, len(args)); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, q, args...)
}

func (t *tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	q = t.rebind(q)
	if st := t.prepared(ctx, q, len(args)); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, q, args...)
}

// execOne runs a write that must touch exactly one row; ErrNotFound otherwise.
func (t *tx) execOne(ctx context.Context, what string, q string, args ...any) error {
	res, err := t.exec(ctx, q, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}

func (t *tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	rows, err := t.querySQL(ctx, q, args...)
	if err != nil {
		return nil, t.translate(err)
	}
	return rows, nil
}

// Record implements store.Tx: events are written at commit, so that outbox
// sequence numbers follow commit order.
func (t *tx) Record(_ context.Context, ev store.Event) error {
	if t.readOnly {
		return store.ErrReadOnly
	}
	if ev.Type == "" {
		return errors.New("record: event has no type")
	}
	if ev.Actor == "" {
		return fmt.Errorf("record %s: event has no actor", ev.Type)
	}
	ev.At = normTime(ev.At, t.now())
	t.events = append(t.events, ev)
	return nil
}

// flushEvents writes the buffered events: audit rows, then outbox rows
// numbered from the outbox head. Updating the head row locks it until the
// transaction ends, so two transactions can never hold interleaved numbers:
// sequence numbers are gapless and in commit order, and a reader following
// the outbox cannot skip a late commit.
func (t *tx) flushEvents(ctx context.Context) error {
	if len(t.events) == 0 {
		return nil
	}
	payloads := make([][]byte, len(t.events))
	for i, ev := range t.events {
		data, err := json.Marshal(ev.Data)
		if err != nil {
			return fmt.Errorf("record %s: encode data: %w", ev.Type, err)
		}
		payloads[i] = data
		if _, err := t.exec(ctx, `INSERT INTO audit_events (at, type, actor, account_id, org_id, request_id, data)
			VALUES (?, ?, ?, ?, ?, ?, ?)`,
			t.time(ev.At), ev.Type, ev.Actor, nullString(ev.AccountID), nullString(ev.OrgID), nullString(ev.RequestID), string(data)); err != nil {
			return fmt.Errorf("audit %s: %w", ev.Type, err)
		}
	}
	var last int64
	err := t.queryRow(ctx, "UPDATE outbox_head SET seq = seq + ? WHERE id = 1 RETURNING seq", len(t.events)).Scan(&last)
	if err != nil {
		return fmt.Errorf("outbox head: %w", t.translate(err))
	}
	first := last - int64(len(t.events)) + 1
	for i, ev := range t.events {
		if _, err := t.exec(ctx, `INSERT INTO outbox (seq, at, type, account_id, org_id, data) VALUES (?, ?, ?, ?, ?, ?)`,
			first+int64(i), t.time(ev.At), ev.Type, nullString(ev.AccountID), nullString(ev.OrgID), string(payloads[i])); err != nil {
			return fmt.Errorf("outbox %s: %w", ev.Type, err)
		}
	}
	t.events = nil
	return nil
}

// Snapshot implements store.Tx.
func (t *tx) Snapshot(ctx context.Context) (identity.Snapshot, error) {
	var s identity.Snapshot
	var err error
	if s.Accounts, err = scanAccounts(t.query(ctx, "SELECT "+accountCols+" FROM accounts ORDER BY id")); err != nil {
		return s, fmt.Errorf("snapshot accounts: %w", err)
	}
	if s.Links, err = scanLinks(t.query(ctx, "SELECT "+linkCols+" FROM links ORDER BY source, external_id")); err != nil {
		return s, fmt.Errorf("snapshot links: %w", err)
	}
	if s.Emails, err = scanEmails(t.query(ctx, "SELECT "+emailCols+" FROM emails ORDER BY account_id, address")); err != nil {
		return s, fmt.Errorf("snapshot emails: %w", err)
	}
	if s.Merges, err = scanMerges(t.query(ctx, "SELECT "+mergeCols+" FROM merges ORDER BY created_at, id")); err != nil {
		return s, fmt.Errorf("snapshot merges: %w", err)
	}
	tokens, err := scanTokens(t.query(ctx, "SELECT "+tokenCols+" FROM one_time_tokens WHERE used_at IS NULL AND expires_at > ?", t.time(t.now())))
	if err != nil {
		return s, fmt.Errorf("snapshot tokens: %w", err)
	}
	for _, tok := range tokens {
		s.Tokens = append(s.Tokens, identity.TokenRef{ID: tok.ID, AccountID: tok.AccountID, Purpose: string(tok.Purpose)})
	}
	now := t.time(t.now())
	rows, err := t.query(ctx, `SELECT 'session', id, account_id FROM sessions WHERE revoked_at IS NULL AND expires_at > ?
		UNION ALL SELECT 'refresh token', id, account_id FROM oidc_tokens
		WHERE kind = 'refresh' AND account_id IS NOT NULL AND revoked_at IS NULL AND expires_at > ?
		ORDER BY 1, 2`, now, now)
	if s.Grants, err = scanAll(rows, err, func(r *sqlRows) (identity.GrantRef, error) {
		var g identity.GrantRef
		err := r.Scan(&g.Kind, &g.ID, &g.AccountID)
		return g, err
	}); err != nil {
		return s, fmt.Errorf("snapshot sessions and refresh tokens: %w", err)
	}
	for _, log := range []string{"audit", "outbox"} {
		table := map[string]string{"audit": "audit_events", "outbox": "outbox"}[log]
		rows, err := t.query(ctx, "SELECT type, data FROM "+table+" WHERE type IN (?, ?)", identity.EventAccountMerged, identity.EventAccountUnmerged)
		if err != nil {
			return s, fmt.Errorf("snapshot %s: %w", log, err)
		}
		for rows.Next() {
			var typ string
			var data jsonCol
			if err := rows.Scan(&typ, &data); err != nil {
				rows.Close()
				return s, err
			}
			var d identity.MergeEventData
			if err := json.Unmarshal(data, &d); err != nil {
				rows.Close()
				return s, fmt.Errorf("snapshot %s: %s payload: %w", log, typ, err)
			}
			s.Events = append(s.Events, identity.EventRef{Log: log, Type: typ, MergeID: d.MergeID})
		}
		if err := rows.Close(); err != nil {
			return s, err
		}
	}
	return s, nil
}
