package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
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
// must not keep the slice). As decodeFlat does, it reads the common case
// itself (strings without escapes, booleans as either database writes
// them, null) and hands anything else to encoding/json, so the result is
// always decodeTuplesJSON's.
func decodeTuples(doc []byte, width int, fn func([]tupleValue)) error {
	if len(doc) == 0 {
		return nil
	}
	vals, ok := flatTuples(doc, width)
	if !ok {
		return decodeTuplesJSON(doc, width, fn)
	}
	for t := range slices.Chunk(vals, width) {
		fn(t)
	}
	return nil
}

// flatTuples reads doc's tuples one after the other, or reports false at
// the first thing it does not expect.
func flatTuples(doc []byte, width int) ([]tupleValue, bool) {
	if !flatDecodable(doc) {
		return nil, false
	}
	p := flatParser{doc: doc}
	if !p.byte('[') {
		return nil, false
	}
	var vals []tupleValue
	for more := !p.byte(']'); more; {
		if !p.byte('[') {
			return nil, false
		}
		for i := range width {
			if i > 0 && !p.byte(',') {
				return nil, false
			}
			v, ok := p.scalar()
			if !ok {
				return nil, false
			}
			vals = append(vals, v)
		}
		if !p.byte(']') {
			return nil, false
		}
		if !p.byte(',') {
			if !p.byte(']') {
				return nil, false
			}
			more = false
		}
	}
	return vals, p.end()
}

// scalar reads a string without escapes, or true, false, null, 0 or 1
// (SQLite's booleans).
func (p *flatParser) scalar() (tupleValue, bool) {
	p.space()
	if p.i < len(p.doc) && p.doc[p.i] == '"' {
		s, ok := p.str()
		return tupleValue{s: s, quoted: true}, ok
	}
	for _, lit := range []string{"true", "false", "null", "0", "1"} {
		if end := p.i + len(lit); end <= len(p.doc) && string(p.doc[p.i:end]) == lit {
			p.i = end
			return tupleValue{s: lit}, true
		}
	}
	return tupleValue{}, false
}

// decodeTuplesJSON is decodeTuples by encoding/json, numbers kept as
// written. Its errors do not quote doc, which holds personal data
// (addresses).
func decodeTuplesJSON(doc []byte, width int, fn func([]tupleValue)) error {
	bad := errors.New("malformed aggregate: not an array of arrays of " + strconv.Itoa(width) + " scalars")
	if !utf8.Valid(doc) {
		return errors.New("aggregate is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("malformed aggregate: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return bad
	}
	list, ok := v.([]any)
	if !ok {
		return bad
	}
	var vals []tupleValue
	for _, e := range list {
		tuple, ok := e.([]any)
		if !ok || len(tuple) != width {
			return bad
		}
		for _, s := range tuple {
			switch s := s.(type) {
			case string:
				vals = append(vals, tupleValue{s: s, quoted: true})
			case json.Number:
				vals = append(vals, tupleValue{s: string(s)})
			case bool:
				vals = append(vals, tupleValue{s: strconv.FormatBool(s)})
			case nil:
				vals = append(vals, tupleValue{s: "null"})
			default:
				return bad
			}
		}
	}
	for t := range slices.Chunk(vals, width) {
		fn(t)
	}
	return nil
}
