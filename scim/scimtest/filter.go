package scimtest

import (
	"fmt"
	"net/http"
	"strings"

	scimerr "github.com/elimity-com/scim/errors"
	"github.com/scim2/filter-parser/v2"
)

// userURN is the URN of the core User schema.
const userURN = "urn:ietf:params:scim:schemas:core:2.0:User"

// supportedFilters is what the 400 of an unsupported filter suggests.
const supportedFilters = `eq on userName, externalId, id, displayName, name.givenName, name.familyName, emails (emails.value, emails[...]) and active, joined by and, or, not`

func invalidFilter(format string, args ...any) error {
	return scimerr.ScimError{Status: http.StatusBadRequest, ScimType: scimerr.ScimTypeInvalidFilter, Detail: fmt.Sprintf(format, args...)}
}

// userFilter compiles a /Users filter (parsed and checked against the
// schema by the library) into a predicate. Filters the provider does not
// support are a 400 invalidFilter, as with real providers, which support a
// few attributes and operators only.
func userFilter(e filter.Expression) (func(*record) bool, error) {
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
			return func(u *record) bool { return l(u) || r(u) }, nil
		}
		return func(u *record) bool { return l(u) && r(u) }, nil
	case *filter.NotExpression:
		f, err := userFilter(e.Expression)
		if err != nil {
			return nil, err
		}
		return func(u *record) bool { return !f(u) }, nil
	case *filter.ValuePath:
		if !coreAttr(e.AttributePath, "emails") || e.AttributePath.SubAttributeName() != "" {
			return nil, invalidFilter("value filters apply to emails only, not %s; supported: %s", e.AttributePath, supportedFilters)
		}
		f, err := elemFilter(e.ValueFilter)
		if err != nil {
			return nil, err
		}
		return func(u *record) bool { return anyElem(u.attrs["emails"], f) }, nil
	case *filter.AttributeExpression:
		return userCompare(e)
	}
	return nil, invalidFilter("unsupported filter %v; supported: %s", e, supportedFilters)
}

// coreAttr reports whether p names attribute name of the core User schema
// (in any case, with or without the schema's URN).
func coreAttr(p filter.AttributePath, name string) bool {
	if u := p.URI(); u != "" && !strings.EqualFold(u, userURN) {
		return false
	}
	return strings.EqualFold(p.AttributeName, name)
}

func userCompare(e *filter.AttributeExpression) (func(*record) bool, error) {
	p := e.AttributePath
	if u := p.URI(); u != "" && !strings.EqualFold(u, userURN) {
		return nil, invalidFilter("filtering on %s is not supported; supported: %s", p, supportedFilters)
	}
	if e.Operator != filter.EQ {
		return nil, invalidFilter("operator %s is not supported; supported: %s", e.Operator, supportedFilters)
	}
	path := strings.ToLower(p.AttributeName)
	if sub := p.SubAttributeName(); sub != "" {
		path += "." + strings.ToLower(sub)
	}
	if path == "active" {
		want, ok := e.CompareValue.(bool)
		if !ok {
			return nil, invalidFilter("active compares with true or false, not %v", e.CompareValue)
		}
		return func(u *record) bool { active, _ := u.attrs["active"].(bool); return active == want }, nil
	}
	want, ok := e.CompareValue.(string)
	if !ok {
		return nil, invalidFilter("%s compares with a string, not %v", p, e.CompareValue)
	}
	// userName, displayName, names and addresses are not case-exact (RFC
	// 7643 §4.1); id and externalId are.
	switch path {
	case "id":
		return func(u *record) bool { return u.id == want }, nil
	case "externalid":
		return func(u *record) bool { return str(u.attrs["externalId"]) == want }, nil
	case "username":
		return func(u *record) bool { return strings.EqualFold(str(u.attrs["userName"]), want) }, nil
	case "displayname":
		return func(u *record) bool { return strings.EqualFold(str(u.attrs["displayName"]), want) }, nil
	case "name.givenname", "name.familyname":
		sub := "givenName"
		if path == "name.familyname" {
			sub = "familyName"
		}
		return func(u *record) bool {
			n, _ := u.attrs["name"].(map[string]any)
			return strings.EqualFold(str(n[sub]), want)
		}, nil
	case "emails", "emails.value":
		return func(u *record) bool {
			vs, _ := values(u.attrs["emails"])
			for _, v := range vs {
				if strings.EqualFold(v, want) {
					return true
				}
			}
			return false
		}, nil
	}
	return nil, invalidFilter("filtering on %s is not supported; supported: %s", p, supportedFilters)
}

// anyElem reports whether a value of a multi-valued attribute matches f.
func anyElem(v any, f func(map[string]any) bool) bool {
	list, _ := v.([]any)
	for _, x := range list {
		if m, ok := x.(map[string]any); ok && f(m) {
			return true
		}
	}
	return false
}

// elemFilter compiles the filter of a value path (emails[type eq "work"])
// into a predicate on one value: comparisons of its sub-attributes with
// any operator, joined by and, or, not. Strings compare in any case.
func elemFilter(e filter.Expression) (func(map[string]any) bool, error) {
	switch e := e.(type) {
	case *filter.LogicalExpression:
		l, err := elemFilter(e.Left)
		if err != nil {
			return nil, err
		}
		r, err := elemFilter(e.Right)
		if err != nil {
			return nil, err
		}
		if e.Operator == filter.OR {
			return func(m map[string]any) bool { return l(m) || r(m) }, nil
		}
		return func(m map[string]any) bool { return l(m) && r(m) }, nil
	case *filter.NotExpression:
		f, err := elemFilter(e.Expression)
		if err != nil {
			return nil, err
		}
		return func(m map[string]any) bool { return !f(m) }, nil
	case *filter.AttributeExpression:
		if e.AttributePath.SubAttributeName() != "" {
			return nil, invalidFilter("%s: a value filter compares sub-attributes", e.AttributePath)
		}
		name, op, want := e.AttributePath.AttributeName, e.Operator, e.CompareValue
		return func(m map[string]any) bool { return compare(getFold(m, name), op, want) }, nil
	}
	return nil, invalidFilter("unsupported value filter %v", e)
}

// getFold returns m[k], k in any case.
func getFold(m map[string]any, k string) any {
	if v, ok := m[k]; ok {
		return v
	}
	for mk, v := range m {
		if strings.EqualFold(mk, k) {
			return v
		}
	}
	return nil
}

// compare applies a filter operator to a value (nil when unassigned).
func compare(v any, op filter.CompareOperator, want any) bool {
	if op == filter.PR {
		return v != nil && v != ""
	}
	if v == nil {
		return op == filter.NE
	}
	if b, ok := v.(bool); ok {
		w, ok := want.(bool)
		switch op {
		case filter.EQ:
			return ok && b == w
		case filter.NE:
			return !ok || b != w
		}
		return false
	}
	a, w := strings.ToLower(fmt.Sprint(v)), strings.ToLower(fmt.Sprint(want))
	switch op {
	case filter.EQ:
		return a == w
	case filter.NE:
		return a != w
	case filter.CO:
		return strings.Contains(a, w)
	case filter.SW:
		return strings.HasPrefix(a, w)
	case filter.EW:
		return strings.HasSuffix(a, w)
	case filter.GT:
		return a > w
	case filter.GE:
		return a >= w
	case filter.LT:
		return a < w
	case filter.LE:
		return a <= w
	}
	return false
}
