package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

// SearchListed implements store.Accounts: Search's statement reading the
// account columns a listing shows, then each account's addresses, link
// heads and memberships as JSON arrays of tuples the database aggregates,
// and whether an account was merged into it. A page of 100 users was five
// statements and some 300 rows, each row a dozen calls into the driver; it
// is now one statement of 100 rows.
func (r accounts) SearchListed(ctx context.Context, q store.AccountSearch) ([]store.Listed, error) {
	query, args, err := searchQuery(r.t.s.d, q, listedCols(r.t.s.d))
	if err != nil || query == "" {
		return nil, err
	}
	rows, err := r.t.query(ctx, query, args...)
	found, err := scanAll(rows, err, scanListed)
	if err != nil {
		return nil, fmt.Errorf("search accounts: %w", err)
	}
	return found, nil
}

// listedCols are the columns SearchListed reads: those of the account a
// listing shows (store.Listed says which), then the aggregates. The tuples
// hold strings and booleans (1 and 0 on SQLite); an account without rows
// gets [] on SQLite and NULL on PostgreSQL.
func listedCols(d Dialect) string {
	agg, tuple := "json_group_array", "json_array"
	if d.Name == "postgres" {
		agg, tuple = "json_agg", "json_build_array"
	}
	sub := func(cols, table, order string) string {
		return "(SELECT " + agg + "(" + tuple + "(" + cols + ") ORDER BY " + order + ") FROM " + table +
			" l WHERE l.account_id = accounts.id)"
	}
	return "id, status, login, given_name, family_name, display_name, phone, attributes, created_at, updated_at, version, " +
		sub("l.address, l.verified, l.is_primary", "emails", "l.is_primary DESC, l.address") + ", " +
		sub("l.source, l.external_id, l.status", "links", "l.source, l.external_id") + ", " +
		sub("l.org_id, l.role, l.state", "memberships", "l.org_id") + ", " +
		"EXISTS (SELECT 1 FROM accounts m WHERE m.merged_into = accounts.id)"
}

func scanListed(r *sqlRows) (store.Listed, error) {
	var l store.Listed
	// The aggregates are decoded before the next row: they need no copy.
	var emails, links, members sql.RawBytes
	a := &l.Account
	var login strCol
	var attrs jsonCol
	var created, updated timeCol
	err := r.Scan(&a.ID, &a.Status, &login, &a.GivenName, &a.FamilyName, &a.DisplayName, &a.Phone, &attrs,
		&created, &updated, &a.Version, &emails, &links, &members, &l.Merged)
	if err != nil {
		return l, err
	}
	a.Login, a.CreatedAt, a.UpdatedAt = string(login), time.Time(created), time.Time(updated)
	if err := attrs.into(&a.Attributes); err != nil {
		return l, fmt.Errorf("account %s attributes: %w", a.ID, err)
	}
	id := a.ID
	err = decodeTuples(emails, 3, func(v []tupleValue) {
		l.Emails = append(l.Emails, identity.Email{AccountID: id, Address: v[0].s, Verified: v[1].bool(), Primary: v[2].bool()})
	})
	if err != nil {
		return l, fmt.Errorf("account %s e-mails: %w", id, err)
	}
	err = decodeTuples(links, 3, func(v []tupleValue) {
		l.Links = append(l.Links, identity.Link{Source: v[0].s, ExternalID: v[1].s, AccountID: id, Status: identity.LinkStatus(v[2].s)})
	})
	if err != nil {
		return l, fmt.Errorf("account %s links: %w", id, err)
	}
	err = decodeTuples(members, 3, func(v []tupleValue) {
		l.Memberships = append(l.Memberships, identity.Membership{OrgID: v[0].s, AccountID: id, Role: identity.Role(v[1].s), State: identity.MembershipState(v[2].s)})
	})
	if err != nil {
		return l, fmt.Errorf("account %s memberships: %w", id, err)
	}
	return l, nil
}

// tupleValue is a scalar of a tuple: a string's value, or the text of a
// number, boolean or null.
type tupleValue struct {
	s      string
	quoted bool
}

// bool reads a boolean as either database aggregates it.
func (v tupleValue) bool() bool { return !v.quoted && (v.s == "true" || v.s == "1") }

// decodeTuples reads doc, a JSON array of arrays of width scalars (or
// nothing: an empty document or SQL NULL), calling fn with each array (fn
// must not keep the slice). Strings without escapes are substrings of one
// copy of doc; a string with one goes through encoding/json. Errors do not
// quote doc, which holds personal data (addresses).
func decodeTuples(doc []byte, width int, fn func([]tupleValue)) error {
	if len(doc) == 0 {
		return nil
	}
	if !utf8.Valid(doc) {
		return fmt.Errorf("aggregate is not valid UTF-8")
	}
	p := flatParser{doc: doc, text: string(doc)}
	bad := func() error { return fmt.Errorf("malformed aggregate at byte %d of %d", p.i, len(doc)) }
	if !p.byte('[') {
		return bad()
	}
	vals := make([]tupleValue, width)
	if p.byte(']') {
		if !p.end() {
			return bad()
		}
		return nil
	}
	for {
		if !p.byte('[') {
			return bad()
		}
		for i := range vals {
			if i > 0 && !p.byte(',') {
				return bad()
			}
			v, ok := p.scalar()
			if !ok {
				return bad()
			}
			vals[i] = v
		}
		if !p.byte(']') {
			return bad()
		}
		fn(vals)
		if p.byte(',') {
			continue
		}
		if !p.byte(']') || !p.end() {
			return bad()
		}
		return nil
	}
}

// scalar reads a string, a number, true, false or null.
func (p *flatParser) scalar() (tupleValue, bool) {
	p.space()
	if p.i >= len(p.doc) {
		return tupleValue{}, false
	}
	if p.doc[p.i] != '"' {
		start := p.i
		for p.i < len(p.doc) {
			c := p.doc[p.i]
			if c == ',' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r' {
				break
			}
			p.i++
		}
		tok := p.text[start:p.i]
		switch tok {
		case "true", "false", "null", "0", "1": // SQLite's booleans are 0 and 1
			return tupleValue{s: tok}, true
		}
		var n json.Number
		if json.Unmarshal(p.doc[start:p.i], &n) != nil {
			return tupleValue{}, false
		}
		return tupleValue{s: tok}, true
	}
	start := p.i
	p.i++
	escaped := false
	for p.i < len(p.doc) {
		switch c := p.doc[p.i]; {
		case c == '\\':
			escaped = true
			p.i += 2
			continue
		case c == '"':
			p.i++
			if !escaped {
				return tupleValue{s: p.text[start+1 : p.i-1], quoted: true}, true
			}
			var s string
			if json.Unmarshal(p.doc[start:p.i], &s) != nil {
				return tupleValue{}, false
			}
			return tupleValue{s: s, quoted: true}, true
		case c < 0x20:
			return tupleValue{}, false
		}
		p.i++
	}
	return tupleValue{}, false
}
