package scim

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	scimerr "github.com/elimity-com/scim/errors"
	"github.com/scim2/filter-parser/v2"

	"github.com/canonid/canonid/store"
)

// invalidFilter is the 400 of a filter canonid cannot run.
func invalidFilter(format string, args ...any) error {
	return scimError(http.StatusBadRequest, scimerr.ScimTypeInvalidFilter, fmt.Sprintf(format, args...))
}

// userFilter translates a parsed /Users filter into a store filter, which
// the store runs as SQL.
func userFilter(e filter.Expression) (store.Filter, error) {
	switch e := e.(type) {
	case *filter.LogicalExpression:
		l, err := userFilter(e.Left)
		if err != nil {
			return nil, err
		}
		r, err := userFilter(e.Right)
		if err != nil {
			return nil, err
		}
		if e.Operator == filter.OR {
			return store.Or{l, r}, nil
		}
		return store.And{l, r}, nil
	case *filter.NotExpression:
		f, err := userFilter(e.Expression)
		if err != nil {
			return nil, err
		}
		return store.Not{Filter: f}, nil
	case *filter.ValuePath:
		if !isAttr(e.AttributePath, "emails", "") {
			return nil, invalidFilter("value filters apply to emails only, not %s", e.AttributePath)
		}
		where, err := emailFilter(e.ValueFilter)
		if err != nil {
			return nil, err
		}
		return store.HasEmail{Where: where}, nil
	case *filter.AttributeExpression:
		return userCompare(e)
	}
	return nil, invalidFilter("unsupported filter %v", e)
}

// isAttr reports whether p names attribute name (and sub-attribute sub,
// "" for none) of the core User schema, case-insensitively.
func isAttr(p filter.AttributePath, name, sub string) bool {
	if u := p.URI(); u != "" && !strings.EqualFold(u, UserSchema) {
		return false
	}
	return strings.EqualFold(p.AttributeName, name) && strings.EqualFold(p.SubAttributeName(), sub)
}

func userCompare(e *filter.AttributeExpression) (store.Filter, error) {
	p := e.AttributePath
	path := p.AttributeName
	if s := p.SubAttributeName(); s != "" {
		path += "." + s
	}
	if u := p.URI(); u != "" && !strings.EqualFold(u, UserSchema) {
		return nil, invalidFilter("filtering on %s is not supported", p)
	}
	str := map[string]store.Attr{
		"username": store.AttrLogin, "id": store.AttrID, "externalid": store.AttrExternalID,
		"name.givenname": store.AttrGivenName, "name.familyname": store.AttrFamilyName, "displayname": store.AttrDisplayName,
	}
	lower := strings.ToLower(path)
	if a, ok := str[lower]; ok {
		return compare(a, e, kindString)
	}
	switch lower {
	case "active":
		return compare(store.AttrActive, e, kindBool)
	case "meta.lastmodified":
		return compare(store.AttrLastModified, e, kindTime)
	case "meta.created":
		return compare(store.AttrCreated, e, kindTime)
	case "emails", "emails.value", "emails.primary", "emails.type":
		where, err := emailCompare(e)
		if err != nil {
			return nil, err
		}
		return store.HasEmail{Where: where}, nil
	}
	return nil, invalidFilter("filtering on %s is not supported; supported: userName, externalId, id, name.givenName, name.familyName, displayName, emails.value, active, meta.created, meta.lastModified", p)
}

func emailFilter(e filter.Expression) (store.Filter, error) {
	switch e := e.(type) {
	case *filter.LogicalExpression:
		l, err := emailFilter(e.Left)
		if err != nil {
			return nil, err
		}
		r, err := emailFilter(e.Right)
		if err != nil {
			return nil, err
		}
		if e.Operator == filter.OR {
			return store.Or{l, r}, nil
		}
		return store.And{l, r}, nil
	case *filter.NotExpression:
		f, err := emailFilter(e.Expression)
		if err != nil {
			return nil, err
		}
		return store.Not{Filter: f}, nil
	case *filter.AttributeExpression:
		return emailCompare(e)
	}
	return nil, invalidFilter("unsupported filter in emails[...]: %v", e)
}

// emailCompare compares one address: value, primary, or type (every
// address canonid shows is of type work).
func emailCompare(e *filter.AttributeExpression) (store.Filter, error) {
	sub := e.AttributePath.SubAttributeName()
	if sub == "" {
		sub = e.AttributePath.AttributeName // inside emails[...]
		if strings.EqualFold(sub, "emails") {
			sub = "value"
		}
	}
	switch strings.ToLower(sub) {
	case "value":
		return compare(store.AttrEmailAddress, e, kindString)
	case "primary":
		return compare(store.AttrEmailPrimary, e, kindBool)
	case "type":
		v, _ := e.CompareValue.(string)
		work := strings.EqualFold(v, "work")
		var holds bool
		switch e.Operator {
		case filter.EQ:
			holds = work
		case filter.NE:
			holds = !work
		case filter.PR:
			holds = true
		default:
			return nil, invalidFilter("emails.type supports eq, ne and pr")
		}
		if holds {
			return store.And{}, nil
		}
		return store.Or{}, nil
	}
	return nil, invalidFilter("filtering on emails.%s is not supported", sub)
}

type valueKind int

const (
	kindString valueKind = iota
	kindBool
	kindTime
)

func compare(a store.Attr, e *filter.AttributeExpression, kind valueKind) (store.Filter, error) {
	op := store.Op(strings.ToLower(string(e.Operator)))
	if op == store.OpPr {
		return store.Compare{Attr: a, Op: op}, nil
	}
	var v any
	switch kind {
	case kindString:
		s, ok := e.CompareValue.(string)
		if !ok {
			return nil, invalidFilter("%s compares with a string, not %v", e.AttributePath, e.CompareValue)
		}
		v = s
	case kindBool:
		switch x := e.CompareValue.(type) {
		case bool:
			v = x
		case string:
			switch strings.ToLower(x) {
			case "true":
				v = true
			case "false":
				v = false
			}
		}
		if v == nil {
			return nil, invalidFilter("%s compares with true or false, not %v", e.AttributePath, e.CompareValue)
		}
		if op != store.OpEq && op != store.OpNe {
			return nil, invalidFilter("%s supports eq, ne and pr", e.AttributePath)
		}
	case kindTime:
		s, _ := e.CompareValue.(string)
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, invalidFilter("%s compares with a date-time such as 2026-01-31T12:00:00Z, not %v", e.AttributePath, e.CompareValue)
		}
		if op == store.OpCo || op == store.OpSw || op == store.OpEw {
			return nil, invalidFilter("%s does not support %s", e.AttributePath, op)
		}
		t = t.UTC()
		if t.Nanosecond() == 0 {
			return wholeSecond(a, op, t), nil
		}
		v = t
	}
	return store.Compare{Attr: a, Op: op, Value: v}, nil
}

// wholeSecond compares a time attribute with a time given to the second,
// as canonid shows them (meta.lastModified "2026-01-31T12:00:00Z"): the
// value stands for its whole second, so that a client filtering on the
// time it read (gt for changes since, le for up to) gets what it expects
// although the store keeps fractions of a second.
func wholeSecond(a store.Attr, op store.Op, t time.Time) store.Filter {
	next := t.Add(time.Second)
	at := store.And{store.Compare{Attr: a, Op: store.OpGe, Value: t}, store.Compare{Attr: a, Op: store.OpLt, Value: next}}
	switch op {
	case store.OpEq:
		return at
	case store.OpNe:
		return store.Not{Filter: at}
	case store.OpGt:
		return store.Compare{Attr: a, Op: store.OpGe, Value: next}
	case store.OpLe:
		return store.Compare{Attr: a, Op: store.OpLt, Value: next}
	}
	return store.Compare{Attr: a, Op: op, Value: t} // ge, lt
}

// userSort reads sortBy and sortOrder (RFC 7644 §3.4.2.3).
func userSort(r *http.Request) (store.Attr, bool, error) {
	q := r.URL.Query()
	desc := false
	switch strings.ToLower(q.Get("sortOrder")) {
	case "", "ascending":
	case "descending":
		desc = true
	default:
		return "", false, scimError(http.StatusBadRequest, scimerr.ScimTypeInvalidValue, "sortOrder must be ascending or descending")
	}
	by := strings.ToLower(strings.TrimPrefix(strings.ToLower(q.Get("sortBy")), strings.ToLower(UserSchema)+":"))
	attrs := map[string]store.Attr{
		"": "", "id": store.AttrID, "username": store.AttrLogin, "name.givenname": store.AttrGivenName,
		"name.familyname": store.AttrFamilyName, "displayname": store.AttrDisplayName,
		"meta.created": store.AttrCreated, "meta.lastmodified": store.AttrLastModified,
	}
	a, ok := attrs[by]
	if !ok {
		return "", false, scimError(http.StatusBadRequest, scimerr.ScimTypeInvalidValue,
			fmt.Sprintf("cannot sort by %q; sortBy takes id, userName, name.givenName, name.familyName, displayName, meta.created or meta.lastModified", q.Get("sortBy")))
	}
	return a, desc, nil
}

// Bounds of a filter, so that no client makes the database run a huge
// query.
const (
	maxCompares = 100
	maxDepth    = 16
)

// size returns the number of comparisons of e and its nesting depth.
func size(e filter.Expression) (n, depth int) {
	switch e := e.(type) {
	case *filter.LogicalExpression:
		ln, ld := size(e.Left)
		rn, rd := size(e.Right)
		return ln + rn, 1 + max(ld, rd)
	case *filter.NotExpression:
		n, d := size(e.Expression)
		return n, d + 1
	case *filter.ValuePath:
		n, d := size(e.ValueFilter)
		return n, d + 1
	}
	return 1, 1
}

// entraValuePath matches the filter Entra ID sends for an address,
// emails[type eq "work"].value eq "x", which RFC 7644's grammar (and the
// library's parser) does not allow after a value path.
var entraValuePath = regexp.MustCompile(`(?i)\b([a-z][\w$-]*)\[([^\]]*)\]\.([a-z][\w$-]*)\s+(eq|ne|co|sw|ew|gt|ge|lt|le)\s+("(?:[^"\\]|\\.)*"|true|false|null|[-\d.eE+]+)`)

var entraValuePathPr = regexp.MustCompile(`(?i)\b([a-z][\w$-]*)\[([^\]]*)\]\.([a-z][\w$-]*)\s+pr\b`)

// rewriteFilter rewrites what clients send into the RFC's grammar:
// attr[f].sub op v becomes attr[f and sub op v]. A filter the grammar
// already accepts is left alone: the patterns would also match inside a
// string literal (displayName eq "x[y].z eq 1") and change the value
// searched for.
func rewriteFilter(f string) string {
	if !strings.Contains(f, "].") {
		return f // neither pattern can match: no need to parse (a fifth of a lookup's CPU)
	}
	if _, err := filter.ParseFilter([]byte(strings.TrimSpace(f))); err == nil {
		return f
	}
	f = entraValuePath.ReplaceAllString(f, `$1[$2 and $3 $4 $5]`)
	return entraValuePathPr.ReplaceAllString(f, `$1[$2 and $3 pr]`)
}
