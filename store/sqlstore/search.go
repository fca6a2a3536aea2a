package sqlstore

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

// Search and Count translate a store.Filter into the WHERE clause of one
// statement over the live accounts (status <> 'merged'). Every value is a
// bound parameter; only the shape of the filter chooses the SQL text.
//
// How attributes compare:
//
//   - AttrID and AttrExternalID compare exactly (case-sensitively, also for
//     co, sw and ew, which therefore do not use LIKE: SQLite's LIKE folds
//     ASCII case). AttrExternalID is the external id of a link of
//     AccountSearch.Source: eq, co, sw, ew and the orderings hold when one
//     such link matches, pr when the account has one; without a Source it
//     is always absent.
//   - AttrLogin and AttrEmailAddress are stored normalised
//     (identity.NormalizeLogin, identity.NormalizeEmail); the value is
//     normalised the same way, so that eq stays an index lookup.
//   - AttrGivenName, AttrFamilyName and AttrDisplayName compare lower(column)
//     with the value lower-cased in Go. The database's lower() decides how
//     far the folding goes: PostgreSQL folds per its ctype (all of Unicode
//     under a UTF-8 locale); on SQLite, store/sqlite replaces the built-in
//     lower() (ASCII only) with Go's strings.ToLower, so "Élodie" and
//     "élodie" match there too.
//   - An attribute is absent when NULL or "". Every operator but ne fails on
//     an absent attribute (eq "" holds for nothing); ne is exactly NOT eq, so
//     it holds for absent attributes. Every predicate is two-valued (never
//     NULL), so that NOT negates it.
//   - Gt, Ge, Lt and Le order strings by the column's collation (code point
//     order in SQLite, the database collation in PostgreSQL; C.UTF-8 is code
//     point order too), and times chronologically.
//   - AttrActive (eq, ne, pr) holds for the statuses active,
//     pending_activation and pending_validation, unless the account has a
//     link of AccountSearch.Source that is gone. AttrEmailPrimary (eq, ne,
//     pr) is the flag of one address. Pr holds for every bool and time.
//   - AttrCreated and AttrLastModified take a time.Time (eq, ne and the
//     orderings). Stored times have microsecond precision and compare with
//     the value as given: a value with a finer part equals no stored time.
//   - HasEmail holds when one e-mail row of the account satisfies Where, all
//     of whose Compares therefore test the same address.
//
// E-mail and link conditions are subqueries whose form suits each planner
// (see hasRow), so that an address or external id eq runs through the index
// of emails.address or the primary key of links.
//
// A filter that cannot run — an unknown attribute or operator, an operator
// the attribute does not take, a value of the wrong type, an e-mail
// attribute outside HasEmail or an account attribute inside it, a nil
// filter inside And, Or or Not, or a filter deeper than maxFilterDepth or
// larger than maxFilterTerms comparisons or maxFilterNodes nodes — is an
// error that wraps no sentinel.

// Bounds on a filter, so that a hostile one cannot build a huge statement.
const (
	maxFilterDepth = 32   // nesting levels, the root being level 1
	maxFilterTerms = 200  // Compare and HasEmail nodes
	maxFilterNodes = 1000 // every node, And, Or and Not included
)

// defaultSearchLimit is the page size of a search with Limit 0.
const defaultSearchLimit = 100

// liveAccount selects the accounts Search and Count consider.
const liveAccount = "status <> 'merged'"

// activeStatus holds for the statuses AttrActive calls active.
const activeStatus = "accounts.status IN ('active', 'pending_activation', 'pending_validation')"

// Search implements store.Accounts. The statement is
//
//	SELECT ... FROM accounts WHERE status <> 'merged' [AND <filter>] [AND id > ?]
//	ORDER BY <sort>, id LIMIT ? [OFFSET ?]
//
// so that the default listing walks the primary key from the cursor.
func (r accounts) Search(ctx context.Context, q store.AccountSearch) ([]identity.Account, error) {
	query, args, err := searchQuery(r.t.s.d, q, accountCols)
	if err != nil || query == "" {
		return nil, err
	}
	found, err := scanAccounts(r.t.query(ctx, query, args...))
	if err != nil {
		return nil, fmt.Errorf("search accounts: %w", err)
	}
	return found, nil
}

// searchQuery is Search's statement reading cols; "" for a negative limit,
// which finds nothing.
func searchQuery(d Dialect, q store.AccountSearch, cols string) (string, []any, error) {
	where, args, err := searchWhere(d, q)
	if err != nil {
		return "", nil, err
	}
	order, err := searchOrder(q)
	if err != nil {
		return "", nil, err
	}
	if q.Offset < 0 {
		return "", nil, fmt.Errorf("search accounts: negative offset %d", q.Offset)
	}
	if q.Limit < 0 {
		return "", nil, nil
	}
	if q.After != "" {
		where += " AND id > ?"
		args = append(args, q.After)
	}
	query := "SELECT " + cols + " FROM accounts WHERE " + where + " ORDER BY " + order + " LIMIT ?"
	args = append(args, cmp.Or(q.Limit, defaultSearchLimit))
	if q.Offset > 0 {
		query += " OFFSET ?"
		args = append(args, q.Offset)
	}
	return query, args, nil
}

// Count implements store.Accounts: the WHERE clause of Search, without the
// cursor, the order and the paging, which it does not check either.
func (r accounts) Count(ctx context.Context, q store.AccountSearch) (int, error) {
	where, args, err := searchWhere(r.t.s.d, q)
	if err != nil {
		return 0, err
	}
	var n int
	if err := r.t.queryRow(ctx, "SELECT COUNT(*) FROM accounts WHERE "+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count accounts: %w", r.t.translate(err))
	}
	return n, nil
}

// searchWhere returns the condition on the live accounts matching q.Filter,
// with its arguments.
func searchWhere(d Dialect, q store.AccountSearch) (string, []any, error) {
	if q.Filter == nil {
		return liveAccount, nil, nil
	}
	b := filterBuilder{d: d, source: q.Source}
	cond, args, err := b.build(q.Filter, 1, false)
	if err != nil {
		return "", nil, err
	}
	return liveAccount + " AND " + cond, args, nil
}

// orderTerm is one term of an ORDER BY, written for the ascending order.
type orderTerm struct {
	expr      string
	nullsLast bool
}

// searchOrder returns the ORDER BY of q. Absent values sort last when
// ascending (NULL logins; empty names sort after the others), and
// Descending reverses the whole order, the id tie-break included, as
// RFC 7644 §3.4.2.3 asks.
func searchOrder(q store.AccountSearch) (string, error) {
	var terms []orderTerm
	switch q.Sort {
	case "", store.AttrID:
	case store.AttrLogin:
		terms = []orderTerm{{expr: "login", nullsLast: true}}
	case store.AttrGivenName, store.AttrFamilyName, store.AttrDisplayName:
		col := nameColumn(q.Sort)
		terms = []orderTerm{{expr: col + " = ''"}, {expr: "lower(" + col + ")"}}
	case store.AttrCreated:
		terms = []orderTerm{{expr: "created_at"}}
	case store.AttrLastModified:
		terms = []orderTerm{{expr: "updated_at"}}
	default:
		return "", fmt.Errorf("search accounts: cannot sort by %q", q.Sort)
	}
	if q.After != "" && (len(terms) > 0 || q.Descending) {
		return "", fmt.Errorf("search accounts: a cursor (after) needs the ascending id order, not sort %q descending=%t", q.Sort, q.Descending)
	}
	terms = append(terms, orderTerm{expr: "id"})
	parts := make([]string, len(terms))
	for i, t := range terms {
		switch {
		case !q.Descending && t.nullsLast:
			parts[i] = t.expr + " NULLS LAST"
		case !q.Descending:
			parts[i] = t.expr
		case t.nullsLast:
			parts[i] = t.expr + " DESC NULLS FIRST"
		default:
			parts[i] = t.expr + " DESC"
		}
	}
	return strings.Join(parts, ", "), nil
}

// nameColumn returns the column of a case-insensitive name attribute.
func nameColumn(a store.Attr) string {
	switch a {
	case store.AttrGivenName:
		return "given_name"
	case store.AttrFamilyName:
		return "family_name"
	default:
		return "display_name"
	}
}

// filterBuilder renders a filter as SQL, counting what it renders.
type filterBuilder struct {
	d      Dialect
	source string
	terms  int
	nodes  int
}

func filterError(format string, args ...any) error {
	return fmt.Errorf("account filter: "+format, args...)
}

// build renders f, at nesting level depth, inside HasEmail when inEmail.
// The SQL is one self-contained, two-valued expression.
func (b *filterBuilder) build(f store.Filter, depth int, inEmail bool) (string, []any, error) {
	if depth > maxFilterDepth {
		return "", nil, filterError("nested deeper than %d levels", maxFilterDepth)
	}
	if b.nodes++; b.nodes > maxFilterNodes {
		return "", nil, filterError("more than %d nodes", maxFilterNodes)
	}
	switch f := f.(type) {
	case store.And:
		return b.join(f, " AND ", "TRUE", depth, inEmail)
	case store.Or:
		return b.join(f, " OR ", "FALSE", depth, inEmail)
	case store.Not:
		if f.Filter == nil {
			return "", nil, filterError("not of nothing")
		}
		s, args, err := b.build(f.Filter, depth+1, inEmail)
		return "NOT (" + s + ")", args, err
	case store.Compare:
		if b.terms++; b.terms > maxFilterTerms {
			return "", nil, filterError("more than %d comparisons", maxFilterTerms)
		}
		if inEmail {
			return b.emailCompare(f)
		}
		return b.accountCompare(f)
	case store.HasEmail:
		if b.terms++; b.terms > maxFilterTerms {
			return "", nil, filterError("more than %d comparisons", maxFilterTerms)
		}
		if inEmail {
			return "", nil, filterError("an e-mail filter inside an e-mail filter")
		}
		if f.Where == nil {
			return b.hasRow("emails", "e", ""), nil, nil
		}
		s, args, err := b.build(f.Where, depth+1, true)
		return b.hasRow("emails", "e", s), args, err
	case nil:
		return "", nil, filterError("missing filter")
	default:
		return "", nil, filterError("unsupported filter %T", f)
	}
}

func (b *filterBuilder) postgres() bool { return b.d.Name == "postgres" }

// hasRow renders "the account has a row of table (aliased alias) where
// cond" (any row when cond is empty). In PostgreSQL it is a correlated
// EXISTS: a semi- or anti-join at the top of the WHERE clause (driven by an
// index of cond when that is cheaper), and under OR a hashed subplan or an
// index probe per account; an IN (SELECT ...) under OR or NOT would become a
// subplan that, once its result outgrows work_mem, is rescanned for every
// account (NOT IN over a million e-mails ran for more than half an hour). In
// SQLite it is accounts.id IN (SELECT ...): the subquery runs once, through
// an index of cond if it has one, into a temporary index that each account
// probes, where a correlated EXISTS would probe table once per account.
func (b *filterBuilder) hasRow(table, alias, cond string) string {
	if b.postgres() {
		s := "EXISTS (SELECT 1 FROM " + table + " " + alias + " WHERE " + alias + ".account_id = accounts.id"
		if cond != "" {
			s += " AND " + cond
		}
		return s + ")"
	}
	s := "accounts.id IN (SELECT " + alias + ".account_id FROM " + table + " " + alias
	if cond != "" {
		s += " WHERE " + cond
	}
	return s + ")"
}

// join renders the filters of an And or Or; empty is what an empty one is.
func (b *filterBuilder) join(fs []store.Filter, sep, empty string, depth int, inEmail bool) (string, []any, error) {
	if len(fs) == 0 {
		return empty, nil, nil
	}
	parts := make([]string, len(fs))
	var args []any
	for i, f := range fs {
		s, a, err := b.build(f, depth+1, inEmail)
		if err != nil {
			return "", nil, err
		}
		parts[i] = s
		args = append(args, a...)
	}
	if len(parts) == 1 {
		return parts[0], args, nil
	}
	return "(" + strings.Join(parts, sep) + ")", args, nil
}

// textAttr says how a string attribute is compared.
type textAttr struct {
	col      string // the column, for the presence test
	expr     string // what is compared: the column, or lower(column)
	nullable bool
	// exact: compared case-sensitively, so co, sw and ew cannot use LIKE
	// (case-insensitive for ASCII in SQLite).
	exact bool
	// norm gives the value for eq, ne and the orderings, fold for co, sw
	// and ew.
	norm, fold func(string) string
}

func same(s string) string { return s }

// foldNormalized lower-cases a fragment of a value stored normalised
// (NFC, lower case) without trimming it.
func foldNormalized(s string) string { return strings.ToLower(norm.NFC.String(s)) }

var (
	idAttr    = textAttr{col: "accounts.id", expr: "accounts.id", exact: true, norm: same, fold: same}
	loginAttr = textAttr{col: "accounts.login", expr: "accounts.login", nullable: true,
		norm: identity.NormalizeLogin, fold: foldNormalized}
	externalIDAttr = textAttr{col: "l.external_id", expr: "l.external_id", exact: true, norm: same, fold: same}
	addressAttr    = textAttr{col: "e.address", expr: "e.address", norm: identity.NormalizeEmail, fold: foldNormalized}
)

func nameAttr(col string) textAttr {
	return textAttr{col: "accounts." + col, expr: "lower(accounts." + col + ")", norm: strings.ToLower, fold: strings.ToLower}
}

// sqlOrdering returns the SQL operator of gt, ge, lt or le.
func sqlOrdering(op store.Op) string {
	switch op {
	case store.OpGt:
		return ">"
	case store.OpGe:
		return ">="
	case store.OpLt:
		return "<"
	default:
		return "<="
	}
}

func (b *filterBuilder) accountCompare(c store.Compare) (string, []any, error) {
	switch c.Attr {
	case store.AttrID:
		return b.text(c, idAttr)
	case store.AttrLogin:
		return b.text(c, loginAttr)
	case store.AttrGivenName, store.AttrFamilyName, store.AttrDisplayName:
		return b.text(c, nameAttr(nameColumn(c.Attr)))
	case store.AttrExternalID:
		return b.externalID(c)
	case store.AttrActive:
		want, err := boolOperand(c)
		if err != nil {
			return "", nil, err
		}
		if want == nil { // pr: a bool is always present
			return "TRUE", nil, nil
		}
		active, args := activeStatus, []any(nil)
		if b.source != "" {
			active = "(" + activeStatus + " AND NOT " + b.hasRow("links", "l", "l.source = ? AND l.status = 'gone'") + ")"
			args = []any{b.source}
		}
		if !*want {
			active = "NOT (" + active + ")"
		}
		return active, args, nil
	case store.AttrCreated:
		return b.timeCompare(c, "accounts.created_at")
	case store.AttrLastModified:
		return b.timeCompare(c, "accounts.updated_at")
	case store.AttrEmailAddress, store.AttrEmailPrimary:
		return "", nil, filterError("%s is an attribute of an e-mail address: only inside an e-mail filter", c.Attr)
	}
	return "", nil, filterError("unknown attribute %q", c.Attr)
}

func (b *filterBuilder) emailCompare(c store.Compare) (string, []any, error) {
	switch c.Attr {
	case store.AttrEmailAddress:
		return b.text(c, addressAttr)
	case store.AttrEmailPrimary:
		want, err := boolOperand(c)
		if err != nil {
			return "", nil, err
		}
		if want == nil {
			return "TRUE", nil, nil
		}
		return "e.is_primary = ?", []any{*want}, nil
	case store.AttrID, store.AttrLogin, store.AttrGivenName, store.AttrFamilyName, store.AttrDisplayName,
		store.AttrExternalID, store.AttrActive, store.AttrCreated, store.AttrLastModified:
		return "", nil, filterError("%s is an attribute of the account, not of an e-mail address", c.Attr)
	}
	return "", nil, filterError("unknown attribute %q", c.Attr)
}

// textOperand checks that c compares a string attribute with a string.
func textOperand(c store.Compare) (string, error) {
	switch c.Op {
	case store.OpPr:
		return "", nil
	case store.OpEq, store.OpNe, store.OpCo, store.OpSw, store.OpEw, store.OpGt, store.OpGe, store.OpLt, store.OpLe:
	default:
		return "", filterError("unknown operator %q on %s", c.Op, c.Attr)
	}
	v, ok := c.Value.(string)
	if !ok {
		return "", filterError("%s %s needs a string, not %T", c.Attr, c.Op, c.Value)
	}
	return v, nil
}

// boolOperand checks that c compares a bool attribute with a bool and
// returns the value the attribute must have, or nil for pr.
func boolOperand(c store.Compare) (*bool, error) {
	switch c.Op {
	case store.OpPr:
		return nil, nil
	case store.OpEq, store.OpNe:
	case store.OpCo, store.OpSw, store.OpEw, store.OpGt, store.OpGe, store.OpLt, store.OpLe:
		return nil, filterError("%s is a boolean: %s does not apply (only eq, ne and pr)", c.Attr, c.Op)
	default:
		return nil, filterError("unknown operator %q on %s", c.Op, c.Attr)
	}
	v, ok := c.Value.(bool)
	if !ok {
		return nil, filterError("%s %s needs a boolean, not %T", c.Attr, c.Op, c.Value)
	}
	want := v == (c.Op == store.OpEq)
	return &want, nil
}

// text renders a comparison of a string attribute: ne is NOT eq.
func (b *filterBuilder) text(c store.Compare, a textAttr) (string, []any, error) {
	v, err := textOperand(c)
	if err != nil {
		return "", nil, err
	}
	if c.Op == store.OpNe {
		s, args := b.textPredicate(a, store.OpEq, v)
		return "NOT (" + s + ")", args, nil
	}
	s, args := b.textPredicate(a, c.Op, v)
	return s, args, nil
}

// externalID renders a comparison of the external id of the account's links
// of the caller's source.
func (b *filterBuilder) externalID(c store.Compare) (string, []any, error) {
	v, err := textOperand(c)
	if err != nil {
		return "", nil, err
	}
	if b.source == "" { // no link of no source: absent
		if c.Op == store.OpNe {
			return "TRUE", nil, nil
		}
		return "FALSE", nil, nil
	}
	op := c.Op
	if op == store.OpNe {
		op = store.OpEq
	}
	s, args := b.textPredicate(externalIDAttr, op, v)
	s = b.hasRow("links", "l", "l.source = ? AND "+s)
	args = append([]any{b.source}, args...)
	if c.Op == store.OpNe {
		s = "NOT (" + s + ")"
	}
	return s, args, nil
}

// textPredicate renders every operator of a string attribute but ne.
func (b *filterBuilder) textPredicate(a textAttr, op store.Op, v string) (string, []any) {
	present := a.col + " <> ''"
	if a.nullable {
		present = a.col + " IS NOT NULL AND " + present
	}
	switch op {
	case store.OpEq:
		if v = a.norm(v); v == "" {
			return "FALSE", nil
		}
		if a.nullable { // NULL = ? is NULL, which NOT would not turn true
			return "(" + a.col + " IS NOT NULL AND " + a.expr + " = ?)", []any{v}
		}
		return a.expr + " = ?", []any{v}
	case store.OpCo, store.OpSw, store.OpEw:
		if a.exact {
			s, args := b.exactMatch(a.expr, op, v)
			return "(" + present + " AND " + s + ")", args
		}
		pattern := escapeLike(a.fold(v))
		switch op {
		case store.OpCo:
			pattern = "%" + pattern + "%"
		case store.OpSw:
			pattern += "%"
		default:
			pattern = "%" + pattern
		}
		return "(" + present + " AND " + a.expr + ` LIKE ? ESCAPE '\')`, []any{pattern}
	case store.OpGt, store.OpGe, store.OpLt, store.OpLe:
		return "(" + present + " AND " + a.expr + " " + sqlOrdering(op) + " ?)", []any{a.norm(v)}
	default: // pr
		return "(" + present + ")", nil
	}
}

// exactMatch renders co, sw or ew case-sensitively, in characters.
func (b *filterBuilder) exactMatch(expr string, op store.Op, v string) (string, []any) {
	n := utf8.RuneCountInString(v)
	switch op {
	case store.OpCo:
		if b.postgres() {
			return "strpos(" + expr + ", ?) > 0", []any{v}
		}
		return "instr(" + expr + ", ?) > 0", []any{v}
	case store.OpSw:
		return "substr(" + expr + ", 1, ?) = ?", []any{n, v}
	default:
		return "length(" + expr + ") >= ? AND substr(" + expr + ", length(" + expr + ") - ? + 1) = ?", []any{n, n, v}
	}
}

// timeCompare renders a comparison of a timestamp column.
func (b *filterBuilder) timeCompare(c store.Compare, col string) (string, []any, error) {
	op := c.Op
	switch op {
	case store.OpPr:
		return "TRUE", nil, nil
	case store.OpEq, store.OpNe, store.OpGt, store.OpGe, store.OpLt, store.OpLe:
	case store.OpCo, store.OpSw, store.OpEw:
		return "", nil, filterError("%s is a time: %s does not apply", c.Attr, op)
	default:
		return "", nil, filterError("unknown operator %q on %s", op, c.Attr)
	}
	v, ok := c.Value.(time.Time)
	if !ok {
		return "", nil, filterError("%s %s needs a time, not %T", c.Attr, op, c.Value)
	}
	// Stored times are whole microseconds: against a finer value, eq never
	// holds, and ge and lt are gt and le of the truncated value.
	stored := v.UTC().Truncate(time.Microsecond)
	if !stored.Equal(v) {
		switch op {
		case store.OpEq:
			return "FALSE", nil, nil
		case store.OpNe:
			return "TRUE", nil, nil
		case store.OpGe:
			op = store.OpGt
		case store.OpLt:
			op = store.OpLe
		}
	}
	switch op {
	case store.OpEq:
		return col + " = ?", []any{b.d.Time(stored)}, nil
	case store.OpNe:
		return col + " <> ?", []any{b.d.Time(stored)}, nil
	}
	return col + " " + sqlOrdering(op) + " ?", []any{b.d.Time(stored)}, nil
}
