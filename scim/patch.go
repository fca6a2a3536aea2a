package scim

import (
	"fmt"
	"maps"
	"net/http"
	"strings"

	"github.com/elimity-com/scim"
	scimerr "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/schema"
	"github.com/scim2/filter-parser/v2"
)

// applyPatch applies PATCH operations (RFC 7644 §3.5.2) to a resource's
// attributes and returns the result; cur is not modified. The operations
// were validated by the library against schemas (by URN; the first is the
// core schema).
func applyPatch(cur scim.ResourceAttributes, ops []scim.PatchOperation, schemas map[string]schema.Schema) (scim.ResourceAttributes, error) {
	out := deepCopy(cur).(map[string]any)
	for i, op := range ops {
		if err := applyOp(out, op, schemas); err != nil {
			return nil, scimError(http.StatusBadRequest, scimerr.ScimTypeInvalidValue, fmt.Sprintf("Operations[%d]: %v", i, err))
		}
	}
	return scim.ResourceAttributes(out), nil
}

func applyOp(res map[string]any, op scim.PatchOperation, schemas map[string]schema.Schema) error {
	if op.Path == nil {
		// A value without a path holds attributes to add or replace.
		m, ok := op.Value.(map[string]any)
		if !ok {
			return fmt.Errorf("an operation without a path takes an object of attributes")
		}
		for k, v := range m {
			if ext, ok := v.(map[string]any); ok && schemas[k].ID != "" {
				c := child(res, k)
				maps.Copy(c, ext)
				continue
			}
			setAttr(res, k, v, op.Op == scim.PatchOperationAdd, schemas)
		}
		return nil
	}
	p := *op.Path
	container := res
	if uri := p.AttributePath.URI(); uri != "" && !isCore(uri, schemas) {
		container = child(res, uri)
	}
	name := canonicalName(p.AttributePath.AttributeName, p.AttributePath.URI(), schemas)
	sub := p.AttributePath.SubAttributeName()
	if p.ValueExpression == nil {
		switch {
		case op.Op == scim.PatchOperationRemove && sub == "":
			deleteKey(container, name)
		case op.Op == scim.PatchOperationRemove:
			if m, ok := getKey(container, name).(map[string]any); ok {
				deleteKey(m, sub)
			}
		case sub != "":
			m, _ := getKey(container, name).(map[string]any)
			if m == nil {
				m = map[string]any{}
			}
			setKey(m, sub, op.Value)
			setKey(container, name, m)
		default:
			setAttr(container, name, op.Value, op.Op == scim.PatchOperationAdd, schemas)
		}
		return nil
	}
	// name[filter] or name[filter].sub
	sub = ""
	if p.SubAttribute != nil {
		sub = *p.SubAttribute
	}
	list, _ := getKey(container, name).([]any)
	var kept []any
	matched := false
	for _, x := range list {
		elem, ok := x.(map[string]any)
		if !ok || !matches(p.ValueExpression, elem) {
			kept = append(kept, x)
			continue
		}
		matched = true
		switch {
		case op.Op == scim.PatchOperationRemove && sub == "":
			continue // dropped
		case op.Op == scim.PatchOperationRemove:
			deleteKey(elem, sub)
		case sub != "":
			setKey(elem, sub, op.Value)
		default:
			if m, ok := first(op.Value).(map[string]any); ok {
				maps.Copy(elem, m)
			}
		}
		kept = append(kept, elem)
	}
	if !matched && op.Op != scim.PatchOperationRemove {
		// Nothing matched: clients (Entra ID) mean "set the work address"
		// on a user who has none. Build the element from the filter's
		// equalities.
		elem := equalities(p.ValueExpression)
		if elem == nil {
			return fmt.Errorf("no value of %s matches %s", name, p.ValueExpression)
		}
		if sub != "" {
			elem[sub] = op.Value
		} else if m, ok := first(op.Value).(map[string]any); ok {
			maps.Copy(elem, m)
		}
		kept = append(kept, elem)
	}
	if len(kept) == 0 {
		deleteKey(container, name)
		return nil
	}
	setKey(container, name, kept)
	return nil
}

// setAttr adds or replaces attribute k: add appends to a multi-valued
// attribute (skipping values it holds) and merges into a complex one;
// replace replaces a multi-valued attribute and merges into a complex one.
func setAttr(container map[string]any, k string, v any, add bool, schemas map[string]schema.Schema) {
	k = canonicalName(k, "", schemas)
	if path, sub, ok := strings.Cut(k, "."); ok {
		m, _ := getKey(container, path).(map[string]any)
		if m == nil {
			m = map[string]any{}
		}
		setKey(m, sub, v)
		setKey(container, path, m)
		return
	}
	switch nv := v.(type) {
	case []any:
		cur, _ := getKey(container, k).([]any)
		if !add || cur == nil {
			setKey(container, k, nv)
			return
		}
		for _, x := range nv {
			if !containsValue(cur, x) {
				cur = append(cur, x)
			}
		}
		setKey(container, k, cur)
	case map[string]any:
		cur, _ := getKey(container, k).(map[string]any)
		if cur == nil {
			cur = map[string]any{}
		}
		maps.Copy(cur, nv)
		setKey(container, k, cur)
	default:
		setKey(container, k, v)
	}
}

func containsValue(list []any, x any) bool {
	xm, ok := x.(map[string]any)
	for _, y := range list {
		ym, ok2 := y.(map[string]any)
		if ok && ok2 && fmt.Sprint(xm["value"]) == fmt.Sprint(ym["value"]) && xm["value"] != nil {
			return true
		}
		if !ok && !ok2 && fmt.Sprint(x) == fmt.Sprint(y) {
			return true
		}
	}
	return false
}

func first(v any) any {
	if l, ok := v.([]any); ok && len(l) > 0 {
		return l[0]
	}
	return v
}

// isCore reports whether uri is the core schema of the resource (the one
// schema of schemas that is not an extension: User or Group).
func isCore(uri string, schemas map[string]schema.Schema) bool {
	return strings.EqualFold(uri, UserSchema) || strings.EqualFold(uri, GroupSchema)
}

// canonicalName returns the schema's spelling of attribute name.
func canonicalName(name, uri string, schemas map[string]schema.Schema) string {
	for id, s := range schemas {
		if uri != "" && !strings.EqualFold(uri, id) {
			continue
		}
		for _, a := range s.Attributes {
			if strings.EqualFold(a.Name(), name) {
				return a.Name()
			}
		}
	}
	return name
}

// child returns the object under key k, created if missing.
func child(m map[string]any, k string) map[string]any {
	if c, ok := getKey(m, k).(map[string]any); ok {
		return c
	}
	c := map[string]any{}
	setKey(m, k, c)
	return c
}

// getKey, setKey and deleteKey treat keys case-insensitively, as SCIM
// attribute names are.
func getKey(m map[string]any, k string) any {
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

func setKey(m map[string]any, k string, v any) {
	deleteKey(m, k)
	m[k] = v
}

func deleteKey(m map[string]any, k string) {
	for mk := range m {
		if strings.EqualFold(mk, k) {
			delete(m, mk)
		}
	}
}

// matches evaluates a value filter on one element of a multi-valued
// attribute (or on a resource, for in-memory lists).
func matches(e filter.Expression, elem map[string]any) bool {
	switch e := e.(type) {
	case *filter.LogicalExpression:
		if e.Operator == filter.OR {
			return matches(e.Left, elem) || matches(e.Right, elem)
		}
		return matches(e.Left, elem) && matches(e.Right, elem)
	case *filter.NotExpression:
		return !matches(e.Expression, elem)
	case *filter.ValuePath:
		list, _ := getKey(elem, e.AttributePath.AttributeName).([]any)
		for _, x := range list {
			if m, ok := x.(map[string]any); ok && matches(e.ValueFilter, m) {
				return true
			}
		}
		return false
	case *filter.AttributeExpression:
		v := getKey(elem, e.AttributePath.AttributeName)
		if s := e.AttributePath.SubAttributeName(); s != "" {
			m, _ := v.(map[string]any)
			v = getKey(m, s)
		}
		return compareValue(v, e.Operator, e.CompareValue)
	}
	return false
}

// compareValue compares an attribute value (nil when absent, or a list of
// values, any of which may match) with a filter value; strings compare
// case-insensitively.
func compareValue(v any, op filter.CompareOperator, want any) bool {
	if l, ok := v.([]any); ok {
		for _, x := range l {
			if m, ok := x.(map[string]any); ok {
				x = m["value"]
			}
			if compareValue(x, op, want) {
				return true
			}
		}
		return op == filter.NE && len(l) == 0
	}
	if op == filter.PR {
		return v != nil && v != ""
	}
	if v == nil {
		return op == filter.NE
	}
	a, b := strings.ToLower(fmt.Sprint(v)), strings.ToLower(fmt.Sprint(want))
	switch op {
	case filter.EQ:
		return a == b
	case filter.NE:
		return a != b
	case filter.CO:
		return strings.Contains(a, b)
	case filter.SW:
		return strings.HasPrefix(a, b)
	case filter.EW:
		return strings.HasSuffix(a, b)
	case filter.GT:
		return a > b
	case filter.GE:
		return a >= b
	case filter.LT:
		return a < b
	case filter.LE:
		return a <= b
	}
	return false
}

// equalities returns the attributes a filter of eq comparisons joined by
// and fixes, or nil for any other filter.
func equalities(e filter.Expression) map[string]any {
	switch e := e.(type) {
	case *filter.AttributeExpression:
		if e.Operator != filter.EQ || e.AttributePath.SubAttributeName() != "" {
			return nil
		}
		return map[string]any{e.AttributePath.AttributeName: e.CompareValue}
	case *filter.LogicalExpression:
		if e.Operator != filter.AND {
			return nil
		}
		l, r := equalities(e.Left), equalities(e.Right)
		if l == nil || r == nil {
			return nil
		}
		maps.Copy(l, r)
		return l
	}
	return nil
}

// deepCopy copies the maps and slices of a JSON-like value.
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = deepCopy(x)
		}
		return out
	case scim.ResourceAttributes:
		return deepCopy(map[string]any(v))
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = deepCopy(x)
		}
		return out
	case []string:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = x
		}
		return out
	}
	return v
}
