package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/canonid/canonid/store"
)

// The OpenID provider's tables (migration 0006): authorization requests,
// access and refresh tokens, signing keys, login sessions. Their conditional
// writes (MarkUsed, Delete of an auth request, revocations) are single
// statements, so that of two transactions racing for one row only one
// changes it; a write that changes no row does not mark the transaction
// changed (store/oidc.go).

// execN runs a write and returns how many rows it changed. Unlike exec, it
// marks the transaction changed only when a row changed, and never for
// bookkeeping (change false: Sessions.Touch).
func (t *tx) execN(ctx context.Context, change bool, q string, args ...any) (int, error) {
	if t.readOnly {
		return 0, store.ErrReadOnly
	}
	res, err := t.execSQL(ctx, q, args...)
	if err != nil {
		return 0, t.translate(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	if n > 0 && change {
		t.changed = true
	}
	return int(n), nil
}

// exists reports ErrNotFound (as what) unless q, a SELECT 1, finds a row.
func (t *tx) exists(ctx context.Context, what, q string, args ...any) error {
	var one int
	return t.oneRow(t.queryRow(ctx, q, args...).Scan(&one), what)
}

// atOrNow is v, or the transaction's now when v is zero, in UTC to the
// microsecond: a zero time would otherwise bind as NULL and undo a mark.
func (t *tx) atOrNow(v time.Time) time.Time { return normTime(v, t.now()) }

// truncTime is v in UTC to the microsecond, as stored; zero stays zero.
func truncTime(v time.Time) time.Time {
	if v.IsZero() {
		return v
	}
	return v.UTC().Truncate(time.Microsecond)
}

// nullBytes binds a byte string, or NULL when empty.
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// jsonList encodes a list for a JSON column: nil as [].
func jsonList(v []string) (string, error) {
	if v == nil {
		v = []string{}
	}
	return jsonText(v)
}

// list decodes a JSON list; an empty one is nil.
func (c jsonCol) list() ([]string, error) {
	var out []string
	if err := c.into(&out); err != nil || len(out) == 0 {
		return nil, err
	}
	return out, nil
}

// --- authorization requests ------------------------------------------------

type authRequests struct{ t *tx }

const authRequestCols = `id, client_id, request, account_id, auth_time, amr, code_hash, created_at, expires_at`

func (r authRequests) Create(ctx context.Context, a *store.AuthRequest) error {
	if a.ClientID == "" || len(a.Request) == 0 || a.ExpiresAt.IsZero() {
		return fmt.Errorf("auth request: client, request and expiry are required")
	}
	if a.ID == "" {
		a.ID = uuid.NewString()
	}
	amr, err := jsonList(a.AMR)
	if err != nil {
		return err
	}
	r.t.stamp(&a.CreatedAt)
	a.AuthTime, a.ExpiresAt = truncTime(a.AuthTime), truncTime(a.ExpiresAt)
	if _, err := r.t.exec(ctx, `INSERT INTO oidc_auth_requests (`+authRequestCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.ClientID, a.Request, nullString(a.AccountID), r.t.time(a.AuthTime), amr, nullBytes(a.CodeHash),
		r.t.time(a.CreatedAt), r.t.time(a.ExpiresAt)); err != nil {
		return fmt.Errorf("create auth request: %w", err)
	}
	return nil
}

func (r authRequests) Get(ctx context.Context, id string, now time.Time) (store.AuthRequest, error) {
	a, err := scanAuthRequest(r.t.queryRow(ctx, "SELECT "+authRequestCols+" FROM oidc_auth_requests WHERE id = ? AND expires_at > ?",
		id, r.t.time(r.t.atOrNow(now))))
	return a, r.t.oneRow(err, "auth request "+id)
}

func (r authRequests) Complete(ctx context.Context, id, accountID string, authTime time.Time, amr []string) error {
	if accountID == "" {
		return fmt.Errorf("complete auth request %s: account is required", id)
	}
	list, err := jsonList(amr)
	if err != nil {
		return err
	}
	n, err := r.t.execN(ctx, true, `UPDATE oidc_auth_requests SET account_id = ?, auth_time = ?, amr = ? WHERE id = ?`,
		accountID, r.t.time(r.t.atOrNow(authTime)), list, id)
	if err != nil {
		return fmt.Errorf("complete auth request %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("auth request %s: %w", id, store.ErrNotFound)
	}
	return nil
}

func (r authRequests) SetCode(ctx context.Context, id string, codeHash []byte) error {
	if len(codeHash) == 0 {
		return fmt.Errorf("set code of auth request %s: empty hash", id)
	}
	n, err := r.t.execN(ctx, true, `UPDATE oidc_auth_requests SET code_hash = ? WHERE id = ?`, codeHash, id)
	if err != nil {
		return fmt.Errorf("set code of auth request %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("auth request %s: %w", id, store.ErrNotFound)
	}
	return nil
}

func (r authRequests) GetByCode(ctx context.Context, codeHash []byte, now time.Time) (store.AuthRequest, error) {
	a, err := scanAuthRequest(r.t.queryRow(ctx, "SELECT "+authRequestCols+` FROM oidc_auth_requests
		WHERE code_hash = ? AND account_id IS NOT NULL AND expires_at > ?`, codeHash, r.t.time(r.t.atOrNow(now))))
	return a, r.t.oneRow(err, "authorization code")
}

func (r authRequests) Delete(ctx context.Context, id string) error {
	// One statement: of two exchanges of one code, the second finds
	// nothing to delete (on PostgreSQL it waits for the first to commit).
	n, err := r.t.execN(ctx, true, `DELETE FROM oidc_auth_requests WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete auth request %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("auth request %s: %w", id, store.ErrNotFound)
	}
	return nil
}

func (r authRequests) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	n, err := r.t.execN(ctx, true, `DELETE FROM oidc_auth_requests WHERE expires_at <= ?`, r.t.time(r.t.atOrNow(now)))
	if err != nil {
		return 0, fmt.Errorf("delete expired auth requests: %w", err)
	}
	return n, nil
}

func scanAuthRequest(r interface{ Scan(...any) error }) (store.AuthRequest, error) {
	var a store.AuthRequest
	var account strCol
	var amr jsonCol
	var authTime, created, expires timeCol
	if err := r.Scan(&a.ID, &a.ClientID, &a.Request, &account, &authTime, &amr, &a.CodeHash, &created, &expires); err != nil {
		return a, err
	}
	a.AccountID, a.AuthTime, a.CreatedAt, a.ExpiresAt = string(account), authTime.t(), created.t(), expires.t()
	var err error
	if a.AMR, err = amr.list(); err != nil {
		return a, fmt.Errorf("auth request %s amr: %w", a.ID, err)
	}
	return a, nil
}

// --- access and refresh tokens ---------------------------------------------

type oauthTokens struct{ t *tx }

const oauthTokenCols = `id, kind, hash, family_id, account_id, client_id, scopes, audience, amr,
	auth_time, created_at, expires_at, used_at, revoked_at`

func (r oauthTokens) Create(ctx context.Context, tok *store.OAuthToken) error {
	if tok.Kind != store.TokenAccess && tok.Kind != store.TokenRefresh {
		return fmt.Errorf("oauth token: unknown kind %q", tok.Kind)
	}
	if tok.FamilyID == "" || tok.ClientID == "" || tok.ExpiresAt.IsZero() {
		return fmt.Errorf("%s token: family, client and expiry are required", tok.Kind)
	}
	if tok.Kind == store.TokenRefresh && len(tok.Hash) == 0 {
		return fmt.Errorf("refresh token: hash is required")
	}
	if tok.ID == "" {
		tok.ID = uuid.NewString()
	}
	var lists [3]string
	for i, l := range [][]string{tok.Scopes, tok.Audience, tok.AMR} {
		var err error
		if lists[i], err = jsonList(l); err != nil {
			return err
		}
	}
	r.t.stamp(&tok.CreatedAt)
	tok.AuthTime, tok.ExpiresAt = truncTime(tok.AuthTime), truncTime(tok.ExpiresAt)
	tok.UsedAt, tok.RevokedAt = truncTime(tok.UsedAt), truncTime(tok.RevokedAt)
	if _, err := r.t.exec(ctx, `INSERT INTO oidc_tokens (`+oauthTokenCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		tok.ID, tok.Kind, nullBytes(tok.Hash), tok.FamilyID, nullString(tok.AccountID), tok.ClientID, lists[0], lists[1], lists[2],
		r.t.time(tok.AuthTime), r.t.time(tok.CreatedAt), r.t.time(tok.ExpiresAt), r.t.time(tok.UsedAt), r.t.time(tok.RevokedAt)); err != nil {
		return fmt.Errorf("create %s token: %w", tok.Kind, err)
	}
	return nil
}

func (r oauthTokens) Get(ctx context.Context, id string) (store.OAuthToken, error) {
	tok, err := scanOAuthToken(r.t.queryRow(ctx, "SELECT "+oauthTokenCols+" FROM oidc_tokens WHERE id = ?", id))
	return tok, r.t.oneRow(err, "oauth token "+id)
}

func (r oauthTokens) GetByHash(ctx context.Context, hash []byte) (store.OAuthToken, error) {
	tok, err := scanOAuthToken(r.t.queryRow(ctx, "SELECT "+oauthTokenCols+" FROM oidc_tokens WHERE hash = ? AND kind = ?", hash, store.TokenRefresh))
	return tok, r.t.oneRow(err, "refresh token")
}

func (r oauthTokens) MarkUsed(ctx context.Context, id string, at time.Time) (bool, error) {
	// One statement checks and marks, so two exchanges racing cannot both
	// see true.
	n, err := r.t.execN(ctx, true, `UPDATE oidc_tokens SET used_at = ? WHERE id = ? AND kind = ? AND used_at IS NULL`,
		r.t.time(r.t.atOrNow(at)), id, store.TokenRefresh)
	if err != nil {
		return false, fmt.Errorf("mark refresh token %s used: %w", id, err)
	}
	if n > 0 {
		return true, nil
	}
	return false, r.t.exists(ctx, "refresh token "+id, `SELECT 1 FROM oidc_tokens WHERE id = ? AND kind = ?`, id, store.TokenRefresh)
}

func (r oauthTokens) Revoke(ctx context.Context, id string, at time.Time) error {
	n, err := r.t.execN(ctx, true, `UPDATE oidc_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, r.t.time(r.t.atOrNow(at)), id)
	if err != nil {
		return fmt.Errorf("revoke oauth token %s: %w", id, err)
	}
	if n > 0 {
		return nil
	}
	return r.t.exists(ctx, "oauth token "+id, `SELECT 1 FROM oidc_tokens WHERE id = ?`, id)
}

func (r oauthTokens) RevokeFamily(ctx context.Context, familyID string, at time.Time) (int, error) {
	n, err := r.t.execN(ctx, true, `UPDATE oidc_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL`,
		r.t.time(r.t.atOrNow(at)), familyID)
	if err != nil {
		return 0, fmt.Errorf("revoke token family %s: %w", familyID, err)
	}
	return n, nil
}

func (r oauthTokens) RevokeAccount(ctx context.Context, accountID, clientID string, at time.Time) (int, error) {
	if accountID == "" {
		return 0, fmt.Errorf("revoke oauth tokens: account is required")
	}
	q := `UPDATE oidc_tokens SET revoked_at = ? WHERE account_id = ? AND revoked_at IS NULL`
	args := []any{r.t.time(r.t.atOrNow(at)), accountID}
	if clientID != "" {
		q += " AND client_id = ?"
		args = append(args, clientID)
	}
	n, err := r.t.execN(ctx, true, q, args...)
	if err != nil {
		return 0, fmt.Errorf("revoke oauth tokens of %s: %w", accountID, err)
	}
	return n, nil
}

func (r oauthTokens) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	n, err := r.t.execN(ctx, true, `DELETE FROM oidc_tokens WHERE expires_at <= ?`, r.t.time(r.t.atOrNow(now)))
	if err != nil {
		return 0, fmt.Errorf("delete expired oauth tokens: %w", err)
	}
	return n, nil
}

func scanOAuthToken(r interface{ Scan(...any) error }) (store.OAuthToken, error) {
	var tok store.OAuthToken
	var account strCol
	var scopes, audience, amr jsonCol
	var authTime, created, expires, used, revoked timeCol
	if err := r.Scan(&tok.ID, &tok.Kind, &tok.Hash, &tok.FamilyID, &account, &tok.ClientID, &scopes, &audience, &amr,
		&authTime, &created, &expires, &used, &revoked); err != nil {
		return tok, err
	}
	tok.AccountID = string(account)
	tok.AuthTime, tok.CreatedAt, tok.ExpiresAt = authTime.t(), created.t(), expires.t()
	tok.UsedAt, tok.RevokedAt = used.t(), revoked.t()
	for _, l := range []struct {
		name string
		col  jsonCol
		dst  *[]string
	}{{"scopes", scopes, &tok.Scopes}, {"audience", audience, &tok.Audience}, {"amr", amr, &tok.AMR}} {
		var err error
		if *l.dst, err = l.col.list(); err != nil {
			return tok, fmt.Errorf("oauth token %s %s: %w", tok.ID, l.name, err)
		}
	}
	return tok, nil
}

// --- signing keys ----------------------------------------------------------

type signingKeys struct{ t *tx }

const signingKeyCols = `id, algorithm, private_key, public_key, created_at, active_from, expires_at`

func (r signingKeys) Create(ctx context.Context, k *store.SigningKey) error {
	if k.Algorithm == "" || len(k.PrivateKey) == 0 || len(k.PublicKey) == 0 || k.ActiveFrom.IsZero() || k.ExpiresAt.IsZero() {
		return fmt.Errorf("signing key: algorithm, keys, activation and expiry are required")
	}
	if !k.ExpiresAt.After(k.ActiveFrom) {
		return fmt.Errorf("signing key: expires at %s, not after its activation %s", k.ExpiresAt, k.ActiveFrom)
	}
	if k.ID == "" {
		k.ID = uuid.NewString()
	}
	r.t.stamp(&k.CreatedAt)
	// ActiveFrom as stored, so that the unique constraint compares what
	// List returns.
	k.ActiveFrom, k.ExpiresAt = truncTime(k.ActiveFrom), truncTime(k.ExpiresAt)
	if _, err := r.t.exec(ctx, `INSERT INTO oidc_signing_keys (`+signingKeyCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.Algorithm, k.PrivateKey, string(k.PublicKey), r.t.time(k.CreatedAt), r.t.time(k.ActiveFrom), r.t.time(k.ExpiresAt)); err != nil {
		return fmt.Errorf("create signing key %s: %w", k.ID, err)
	}
	return nil
}

func (r signingKeys) List(ctx context.Context, now time.Time) ([]store.SigningKey, error) {
	rows, err := r.t.query(ctx, "SELECT "+signingKeyCols+" FROM oidc_signing_keys WHERE expires_at > ? ORDER BY active_from",
		r.t.time(r.t.atOrNow(now)))
	return scanAll(rows, err, func(r *sqlRows) (store.SigningKey, error) {
		var k store.SigningKey
		var created, active, expires timeCol
		err := r.Scan(&k.ID, &k.Algorithm, &k.PrivateKey, &k.PublicKey, &created, &active, &expires)
		k.CreatedAt, k.ActiveFrom, k.ExpiresAt = created.t(), active.t(), expires.t()
		return k, err
	})
}

func (r signingKeys) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	n, err := r.t.execN(ctx, true, `DELETE FROM oidc_signing_keys WHERE expires_at <= ?`, r.t.time(r.t.atOrNow(now)))
	if err != nil {
		return 0, fmt.Errorf("delete expired signing keys: %w", err)
	}
	return n, nil
}

// --- login sessions --------------------------------------------------------

type sessions struct{ t *tx }

const sessionCols = `id, hash, account_id, amr, auth_time, created_at, last_seen_at, expires_at, revoked_at`

func (r sessions) Create(ctx context.Context, s *store.Session) error {
	if len(s.Hash) == 0 || s.AccountID == "" || s.ExpiresAt.IsZero() {
		return fmt.Errorf("session: hash, account and expiry are required")
	}
	if s.ID == "" {
		s.ID = uuid.NewString()
	}
	amr, err := jsonList(s.AMR)
	if err != nil {
		return err
	}
	r.t.stamp(&s.CreatedAt)
	stampTime(&s.AuthTime, s.CreatedAt)
	stampTime(&s.LastSeenAt, s.CreatedAt)
	s.ExpiresAt, s.RevokedAt = truncTime(s.ExpiresAt), truncTime(s.RevokedAt)
	if _, err := r.t.exec(ctx, `INSERT INTO sessions (`+sessionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.Hash, s.AccountID, amr, r.t.time(s.AuthTime), r.t.time(s.CreatedAt), r.t.time(s.LastSeenAt),
		r.t.time(s.ExpiresAt), r.t.time(s.RevokedAt)); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

func (r sessions) GetByHash(ctx context.Context, hash []byte, now time.Time) (store.Session, error) {
	var s store.Session
	var amr jsonCol
	var authTime, created, seen, expires, revoked timeCol
	err := r.t.queryRow(ctx, "SELECT "+sessionCols+" FROM sessions WHERE hash = ? AND revoked_at IS NULL AND expires_at > ?",
		hash, r.t.time(r.t.atOrNow(now))).
		Scan(&s.ID, &s.Hash, &s.AccountID, &amr, &authTime, &created, &seen, &expires, &revoked)
	if err != nil {
		return s, r.t.oneRow(err, "session")
	}
	s.AuthTime, s.CreatedAt, s.LastSeenAt, s.ExpiresAt, s.RevokedAt = authTime.t(), created.t(), seen.t(), expires.t(), revoked.t()
	if s.AMR, err = amr.list(); err != nil {
		return s, fmt.Errorf("session %s amr: %w", s.ID, err)
	}
	return s, nil
}

func (r sessions) Touch(ctx context.Context, id string, at time.Time) error {
	// Bookkeeping: it does not mark the transaction changed.
	n, err := r.t.execN(ctx, false, `UPDATE sessions SET last_seen_at = ? WHERE id = ?`, r.t.time(r.t.atOrNow(at)), id)
	if err != nil {
		return fmt.Errorf("touch session %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("session %s: %w", id, store.ErrNotFound)
	}
	return nil
}

func (r sessions) Revoke(ctx context.Context, id string, at time.Time) error {
	n, err := r.t.execN(ctx, true, `UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, r.t.time(r.t.atOrNow(at)), id)
	if err != nil {
		return fmt.Errorf("revoke session %s: %w", id, err)
	}
	if n > 0 {
		return nil
	}
	return r.t.exists(ctx, "session "+id, `SELECT 1 FROM sessions WHERE id = ?`, id)
}

func (r sessions) RevokeAccount(ctx context.Context, accountID string, at time.Time) (int, error) {
	n, err := r.t.execN(ctx, true, `UPDATE sessions SET revoked_at = ? WHERE account_id = ? AND revoked_at IS NULL`,
		r.t.time(r.t.atOrNow(at)), accountID)
	if err != nil {
		return 0, fmt.Errorf("revoke sessions of %s: %w", accountID, err)
	}
	return n, nil
}

func (r sessions) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	at := r.t.time(r.t.atOrNow(now))
	n, err := r.t.execN(ctx, true, `DELETE FROM sessions WHERE expires_at <= ? OR revoked_at <= ?`, at, at)
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return n, nil
}
