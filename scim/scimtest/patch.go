package scimtest

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/elimity-com/scim"
	scimerr "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/schema"
	"github.com/scim2/filter-parser/v2"
)

func invalidPath(format string, args ...any) error {
	return scimerr.ScimError{Status: http.StatusBadRequest, ScimType: scimerr.ScimTypeInvalidPath, Detail: fmt.Sprintf(format, args...)}
}

func noTarget(format string, args ...any) error {
	return scimerr.ScimError{Status: http.StatusBadRequest, ScimType: scimerr.ScimTypeNoTarget, Detail: fmt.Sprintf(format, args...)}
}

// applyPatch applies PATCH operations (RFC 7644 §3.5.2), which the library
// validated against the schemas, to a copy of a User's attributes, and
// returns the result checked against the schemas. cur is not modified.
func (s *Server) applyPatch(cur map[string]any, ops []scim.PatchOperation) (map[string]any, error) {
	out := deepCopy(cur).(map[string]any)
	for i, op := range ops {
		if err := s.applyOp(out, op); err != nil {
			var se scimerr.ScimError
			if errors.As(err, &se) {
				se.Detail = fmt.Sprintf("Operations[%d]: %s", i, se.Detail)
				return nil, se
			}
			return nil, invalidValue("Operations[%d]: %v", i, err)
		}
	}
	return s.validate(out)
}

func (s *Server) applyOp(res map[string]any, op scim.PatchOperation) error {
	if op.Path != nil {
		return s.applyPath(res, op.Op, *op.Path, op.Value)
	}
	// Without a path, the value holds the attributes to add or replace,
	// by path (the library validated each).
	m, ok := op.Value.(map[string]any)
	if !ok {
		return noTarget("an operation without a path takes an object of attributes")
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		p, err := filter.ParsePath([]byte(k))
		if err != nil {
			return invalidPath("%q is not an attribute path", k)
		}
		if err := s.applyPath(res, op.Op, p, m[k]); err != nil {
			return err
		}
	}
	return nil
}

// attribute returns the schema attribute a path names, and the URN of
// its extension ("" for the core schema).
func (s *Server) attribute(p filter.AttributePath) (schema.CoreAttribute, string, bool) {
	uri := p.URI()
	switch {
	case uri == "" || strings.EqualFold(uri, s.schema.ID):
		a, ok := s.schema.Attributes.ContainsAttribute(p.AttributeName)
		return a, "", ok
	case strings.EqualFold(uri, s.ext.ID):
		a, ok := s.ext.Attributes.ContainsAttribute(p.AttributeName)
		return a, s.ext.ID, ok
	}
	return schema.CoreAttribute{}, "", false
}

// applyPath applies one operation on one path.
func (s *Server) applyPath(res map[string]any, op string, p filter.Path, value any) error {
	attr, ext, ok := s.attribute(p.AttributePath)
	if !ok {
		return invalidPath("no attribute %s", p)
	}
	if attr.Mutability() == "readOnly" {
		return scimerr.ScimError{Status: http.StatusBadRequest, ScimType: scimerr.ScimTypeMutability, Detail: fmt.Sprintf("%s is read-only", attr.Name())}
	}
	container := res
	if ext != "" {
		c, _ := res[ext].(map[string]any)
		if c == nil {
			c = map[string]any{}
			res[ext] = c // an empty one is dropped by validate
		}
		container = c
	}
	if p.ValueExpression != nil {
		return applyFiltered(container, attr, p, op, value)
	}
	name := attr.Name()
	if subName := p.AttributePath.SubAttributeName(); subName != "" {
		sub, ok := attr.SubAttributes().ContainsAttribute(subName)
		if !ok {
			return invalidPath("no attribute %s", p)
		}
		applySub(container, attr, sub.Name(), op, value)
		return nil
	}
	switch {
	case op == scim.PatchOperationRemove:
		if list, ok := value.([]any); ok && attr.MultiValued() && len(list) > 0 {
			// remove with values (as Entra ID removes group members):
			// those values only.
			container[name] = removeValues(container[name], list)
			return nil
		}
		delete(container, name)
	case attr.MultiValued():
		list, _ := value.([]any)
		if op == scim.PatchOperationReplace {
			container[name] = list
			return nil
		}
		container[name] = addValues(container[name], list)
	case attr.AttributeType() == "complex":
		// add and replace set the sub-attributes given and leave the
		// others (RFC 7644 §3.5.2.1, §3.5.2.3).
		cur, _ := container[name].(map[string]any)
		if cur == nil {
			cur = map[string]any{}
		}
		if m, ok := value.(map[string]any); ok {
			maps.Copy(cur, m)
		}
		container[name] = cur
	default:
		container[name] = value
	}
	return nil
}

// applySub applies an operation on attr.sub: a sub-attribute of a complex
// attribute, or of every value of a multi-valued one.
func applySub(container map[string]any, attr schema.CoreAttribute, sub, op string, value any) {
	name := attr.Name()
	if attr.MultiValued() {
		list, _ := container[name].([]any)
		for _, x := range list {
			if m, ok := x.(map[string]any); ok {
				if op == scim.PatchOperationRemove {
					delete(m, sub)
				} else {
					m[sub] = value
				}
			}
		}
		return
	}
	m, _ := container[name].(map[string]any)
	if op == scim.PatchOperationRemove {
		delete(m, sub)
		return
	}
	if m == nil {
		m = map[string]any{}
		container[name] = m
	}
	m[sub] = value
}

// applyFiltered applies an operation on the values of a multi-valued
// attribute a value filter selects (emails[type eq "work"], optionally
// followed by a sub-attribute). remove removes them (or their
// sub-attribute); replace replaces them (or sets the sub-attribute); add
// merges into them. When none matches, remove does nothing, and add and
// replace add a value made of the filter's equalities, as applications
// fed by Entra ID do ("set the work address"), or fail with noTarget when
// the filter is not made of equalities.
func applyFiltered(container map[string]any, attr schema.CoreAttribute, p filter.Path, op string, value any) error {
	name := attr.Name()
	if !attr.MultiValued() {
		return invalidPath("%s: value filters apply to multi-valued attributes", p)
	}
	match, err := elemFilter(p.ValueExpression)
	if err != nil {
		return err
	}
	sub := ""
	if p.SubAttribute != nil {
		a, ok := attr.SubAttributes().ContainsAttribute(*p.SubAttribute)
		if !ok {
			return invalidPath("no attribute %s", p)
		}
		sub = a.Name()
	}
	list, _ := container[name].([]any)
	var kept []any
	var touched []int // indices in kept
	for _, x := range list {
		m, ok := x.(map[string]any)
		if !ok || !match(m) {
			kept = append(kept, x)
			continue
		}
		switch {
		case op == scim.PatchOperationRemove && sub == "":
			continue
		case op == scim.PatchOperationRemove:
			delete(m, sub)
		case sub != "":
			m[sub] = value
		case op == scim.PatchOperationReplace:
			if v, ok := first(value).(map[string]any); ok {
				m = maps.Clone(v)
			}
		default:
			if v, ok := first(value).(map[string]any); ok {
				maps.Copy(m, v)
			}
		}
		touched = append(touched, len(kept))
		kept = append(kept, m)
	}
	if len(touched) == 0 && op != scim.PatchOperationRemove {
		elem := equalities(p.ValueExpression, attr)
		if elem == nil {
			return noTarget("no value of %s matches %s", name, p.ValueExpression)
		}
		if sub != "" {
			elem[sub] = value
		} else if v, ok := first(value).(map[string]any); ok {
			maps.Copy(elem, v)
		}
		touched = append(touched, len(kept))
		kept = append(kept, elem)
	}
	container[name] = onePrimary(kept, touched)
	return nil
}

// addValues adds values to a multi-valued attribute: a value it holds
// already (same value, in any case) is updated, others are appended.
func addValues(cur any, add []any) []any {
	list, _ := cur.([]any)
	var touched []int // indices in list
	for _, x := range add {
		m, ok := x.(map[string]any)
		if !ok {
			list = append(list, x)
			continue
		}
		i := slices.IndexFunc(list, func(y any) bool {
			n, ok := y.(map[string]any)
			return ok && m["value"] != nil && strings.EqualFold(fmt.Sprint(n["value"]), fmt.Sprint(m["value"]))
		})
		if i < 0 {
			i = len(list)
			list = append(list, maps.Clone(m))
		} else {
			maps.Copy(list[i].(map[string]any), m)
		}
		touched = append(touched, i)
	}
	return onePrimary(list, touched)
}

// removeValues removes from a multi-valued attribute the values (in any
// case) of the elements of del.
func removeValues(cur any, del []any) []any {
	list, _ := cur.([]any)
	key := func(x any) string {
		if m, ok := x.(map[string]any); ok {
			x = m["value"]
		}
		return strings.ToLower(fmt.Sprint(x))
	}
	gone := map[string]bool{}
	for _, x := range del {
		gone[key(x)] = true
	}
	return slices.DeleteFunc(list, func(x any) bool { return gone[key(x)] })
}

// onePrimary keeps "primary" true on one value at most: when an operation
// set it on a value (touched holds the indices of the values it set), the
// others lose it (RFC 7644 §3.5.2).
func onePrimary(list []any, touched []int) []any {
	set := -1
	for _, i := range touched {
		if m, ok := list[i].(map[string]any); ok && m["primary"] == true {
			set = i
		}
	}
	if set < 0 {
		return list
	}
	for i, x := range list {
		if m, ok := x.(map[string]any); ok && i != set {
			delete(m, "primary")
		}
	}
	return list
}

func first(v any) any {
	if l, ok := v.([]any); ok && len(l) > 0 {
		return l[0]
	}
	return v
}

// equalities returns the value a filter of eq comparisons joined by and
// describes (type eq "work" and primary eq true), under the schema's
// sub-attribute names, or nil for any other filter.
func equalities(e filter.Expression, attr schema.CoreAttribute) map[string]any {
	switch e := e.(type) {
	case *filter.AttributeExpression:
		if e.Operator != filter.EQ || e.AttributePath.SubAttributeName() != "" {
			return nil
		}
		sub, ok := attr.SubAttributes().ContainsAttribute(e.AttributePath.AttributeName)
		if !ok {
			return nil
		}
		return map[string]any{sub.Name(): e.CompareValue}
	case *filter.LogicalExpression:
		if e.Operator != filter.AND {
			return nil
		}
		l, r := equalities(e.Left, attr), equalities(e.Right, attr)
		if l == nil || r == nil {
			return nil
		}
		maps.Copy(l, r)
		return l
	}
	return nil
}
