package sqlstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

// SQLiteTimeLayout is how the SQLite dialect stores timestamps: UTC with a
// fixed number of fractional digits, so that text order is time order.
const SQLiteTimeLayout = "2006-01-02T15:04:05.000000Z"

// nullTime binds a time, or NULL for the zero time.
func nullTime(d Dialect, t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return d.Time(t.UTC().Truncate(time.Microsecond))
}

// nullString binds a string, or NULL for the empty string.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// timeCol scans a timestamp stored either natively or as SQLiteTimeLayout
// text; NULL scans as the zero time.
type timeCol time.Time

func (c *timeCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c = timeCol{}
	case time.Time:
		*c = timeCol(v.UTC())
	case string:
		return c.parse(v)
	case []byte:
		return c.parse(string(v))
	default:
		return fmt.Errorf("timestamp: cannot scan %T", src)
	}
	return nil
}

func (c *timeCol) parse(s string) error {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("timestamp %q: %w", s, err)
	}
	*c = timeCol(t.UTC())
	return nil
}

// jsonCol scans a JSON document stored as text, bytes or jsonb.
type jsonCol []byte

func (c *jsonCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c = nil
	case string:
		*c = jsonCol(v)
	case []byte:
		*c = append(jsonCol(nil), v...)
	default:
		return fmt.Errorf("json: cannot scan %T", src)
	}
	return nil
}

// into decodes the document into v; NULL and empty leave v alone.
func (c jsonCol) into(v any) error {
	if len(c) == 0 {
		return nil
	}
	switch v := v.(type) {
	case *map[string][]string:
		return decodeStringLists(c, v)
	case *map[string]string:
		return decodeStrings(c, v)
	case *identity.Consents:
		if string(c) == "{}" { // what most accounts hold; Unmarshal would leave v as it is
			return nil
		}
	}
	return json.Unmarshal(c, v)
}

// strCol scans a nullable text column; NULL scans as "".
type strCol string

func (c *strCol) Scan(src any) error {
	var ns sql.NullString
	if err := ns.Scan(src); err != nil {
		return err
	}
	*c = strCol(ns.String)
	return nil
}

// jsonText encodes v for a JSON column; nil maps encode as "{}".
func jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	if string(b) == "null" {
		return "{}", nil
	}
	return string(b), nil
}

// scanAll runs scan over every row, closing rows; it takes query's results
// directly so callers read as one expression.
func scanAll[T any](rows *sql.Rows, err error, scan func(*sql.Rows) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

const accountCols = `id, status, login, given_name, family_name, display_name, birth_date, phone,
	attributes, provenance, consents, mail_forward, password_hash, merged_into, last_login_at, created_at, updated_at, version`

func scanAccount(r interface{ Scan(...any) error }) (identity.Account, error) {
	var a identity.Account
	var login, mergedInto strCol
	var attrs, prov, consents, forward jsonCol
	var lastLogin, created, updated timeCol
	err := r.Scan(&a.ID, &a.Status, &login, &a.GivenName, &a.FamilyName, &a.DisplayName, &a.BirthDate, &a.Phone,
		&attrs, &prov, &consents, &forward, &a.PasswordHash, &mergedInto, &lastLogin, &created, &updated, &a.Version)
	if err != nil {
		return a, err
	}
	a.Login, a.MergedInto = string(login), string(mergedInto)
	a.LastLoginAt, a.CreatedAt, a.UpdatedAt = time.Time(lastLogin), time.Time(created), time.Time(updated)
	if err := attrs.into(&a.Attributes); err != nil {
		return a, fmt.Errorf("account %s attributes: %w", a.ID, err)
	}
	if err := prov.into(&a.Provenance); err != nil {
		return a, fmt.Errorf("account %s provenance: %w", a.ID, err)
	}
	if err := consents.into(&a.Consents); err != nil {
		return a, fmt.Errorf("account %s consents: %w", a.ID, err)
	}
	if err := forward.into(&a.MailForward); err != nil { // NULL leaves it nil
		return a, fmt.Errorf("account %s mail_forward: %w", a.ID, err)
	}
	return a, nil
}

func scanAccounts(rows *sql.Rows, err error) ([]identity.Account, error) {
	return scanAll(rows, err, func(r *sql.Rows) (identity.Account, error) { return scanAccount(r) })
}

const linkCols = `source, external_id, account_id, status, digest, created_at, updated_at, attributes`

// linkHeadCols are linkCols without the attributes and times (batch reads).
const linkHeadCols = `source, external_id, account_id, status, digest`

func scanLink(r interface{ Scan(...any) error }) (identity.Link, error) {
	var l identity.Link
	var attrs jsonCol
	var created, updated timeCol
	if err := r.Scan(&l.Source, &l.ExternalID, &l.AccountID, &l.Status, &l.Digest, &created, &updated, &attrs); err != nil {
		return l, err
	}
	l.CreatedAt, l.UpdatedAt = time.Time(created), time.Time(updated)
	return l, attrs.into(&l.Attributes)
}

func scanLinks(rows *sql.Rows, err error) ([]identity.Link, error) {
	return scanAll(rows, err, func(r *sql.Rows) (identity.Link, error) { return scanLink(r) })
}

// scanLinkHeads scans rows of linkHeadCols: links without attributes and
// times.
func scanLinkHeads(rows *sql.Rows, err error) ([]identity.Link, error) {
	return scanAll(rows, err, func(r *sql.Rows) (identity.Link, error) {
		var l identity.Link
		err := r.Scan(&l.Source, &l.ExternalID, &l.AccountID, &l.Status, &l.Digest)
		return l, err
	})
}

const emailCols = `account_id, address, verified, is_primary, source, created_at, verified_at`

func scanEmail(r interface{ Scan(...any) error }) (identity.Email, error) {
	var e identity.Email
	var created, verified timeCol
	if err := r.Scan(&e.AccountID, &e.Address, &e.Verified, &e.Primary, &e.Source, &created, &verified); err != nil {
		return e, err
	}
	e.CreatedAt, e.VerifiedAt = time.Time(created), time.Time(verified)
	return e, nil
}

func scanEmails(rows *sql.Rows, err error) ([]identity.Email, error) {
	return scanAll(rows, err, func(r *sql.Rows) (identity.Email, error) { return scanEmail(r) })
}

const mergeCols = `id, survivor_id, retired_id, reason, actor, created_at, moved, undone_at, undone_by`

func scanMerge(r interface{ Scan(...any) error }) (identity.MergeRecord, error) {
	var m identity.MergeRecord
	var moved jsonCol
	var created, undone timeCol
	var undoneBy strCol
	if err := r.Scan(&m.ID, &m.SurvivorID, &m.RetiredID, &m.Reason, &m.Actor, &created, &moved, &undone, &undoneBy); err != nil {
		return m, err
	}
	m.CreatedAt, m.UndoneAt, m.UndoneBy = time.Time(created), time.Time(undone), string(undoneBy)
	return m, moved.into(&m.Moved)
}

func scanMerges(rows *sql.Rows, err error) ([]identity.MergeRecord, error) {
	return scanAll(rows, err, func(r *sql.Rows) (identity.MergeRecord, error) { return scanMerge(r) })
}

const tokenCols = `id, purpose, hash, account_id, data, created_at, expires_at, used_at`

func scanToken(r interface{ Scan(...any) error }) (store.OneTimeToken, error) {
	var t store.OneTimeToken
	var data jsonCol
	var created, expires, used timeCol
	if err := r.Scan(&t.ID, &t.Purpose, &t.Hash, &t.AccountID, &data, &created, &expires, &used); err != nil {
		return t, err
	}
	t.CreatedAt, t.ExpiresAt, t.UsedAt = time.Time(created), time.Time(expires), time.Time(used)
	return t, data.into(&t.Data)
}

func scanTokens(rows *sql.Rows, err error) ([]store.OneTimeToken, error) {
	return scanAll(rows, err, func(r *sql.Rows) (store.OneTimeToken, error) { return scanToken(r) })
}

// sqlRows shortens scan callbacks.
type sqlRows = sql.Rows

func (c timeCol) t() time.Time { return time.Time(c) }
