package mapping

import (
	"cmp"
	"errors"
	"slices"
	"strings"

	"github.com/canonid/canonid/identity"
)

// Record is what a source said about one identity: attribute or column
// name -> values. Lookups by name are case-insensitive (LDAP attribute names
// are): names match when they are equal under Unicode case folding
// (strings.EqualFold) and of the same length in bytes, which leaves out only
// oddities such as the Kelvin sign. A name spelt exactly as in the rule is
// found fastest.
type Record map[string][]string

// Lookup returns the values of the named attribute, matching the name
// exactly if the record has it so and case-insensitively otherwise.
func (r Record) Lookup(name string) []string {
	if v, ok := r[name]; ok {
		return v
	}
	var best string
	var vals []string
	for k, v := range r {
		if len(k) == len(name) && strings.EqualFold(k, name) && (vals == nil || k < best) {
			best, vals = k, v
		}
	}
	return vals
}

// Mapping is a compiled Spec. It is immutable and safe for concurrent use.
type Mapping struct {
	rules []rule
	// attrs are the distinct attribute names the rules read, as spelt in
	// the rules; rule.fromIDs index it.
	attrs []string
	// byLen[n] lists the names of attrs that are n bytes long: a record
	// key only matches names of its own length.
	byLen      [][]int
	attributes []string
}

// Compile checks s and prepares it for Apply: the preset's rules, then the
// rules of s.Fields, each replacing the preset's rule for its field. It
// returns the errors of Validate.
func Compile(s Spec) (*Mapping, error) {
	own, errs := s.rules()
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	byField := make(map[string]rule, len(Fields()))
	if p, ok := Preset(s.Preset); ok {
		preset, _ := p.rules()
		for _, r := range preset {
			byField[r.field] = r
		}
	}
	for _, r := range own {
		byField[r.field] = r
	}
	m := &Mapping{}
	index := map[string]int{}
	for _, f := range Fields() {
		r, ok := byField[f]
		if !ok {
			continue
		}
		r.fromIDs = make([]int, len(r.from))
		for i, a := range r.from {
			id, ok := index[a]
			if !ok {
				id = len(m.attrs)
				index[a] = id
				m.attrs = append(m.attrs, a)
			}
			r.fromIDs[i] = id
		}
		m.rules = append(m.rules, r)
	}
	for id, a := range m.attrs {
		for len(m.byLen) <= len(a) {
			m.byLen = append(m.byLen, nil)
		}
		m.byLen[len(a)] = append(m.byLen[len(a)], id)
	}
	m.attributes = sortedAttributes(m.attrs)
	return m, nil
}

// sortedAttributes sorts names case-insensitively and drops the names that
// differ from another only by case.
func sortedAttributes(names []string) []string {
	s := slices.Clone(names)
	slices.SortFunc(s, func(a, b string) int {
		return cmp.Or(cmp.Compare(strings.ToLower(a), strings.ToLower(b)), cmp.Compare(a, b))
	})
	return slices.CompactFunc(s, strings.EqualFold)
}

// Attributes returns every source attribute the mapping reads, sorted and
// deduplicated (case-insensitively): the attribute list of an LDAP search.
func (m *Mapping) Attributes() []string { return slices.Clone(m.attributes) }

// Fields returns the target fields the mapping has a rule for, in the order
// of the package-level Fields.
func (m *Mapping) Fields() []string {
	fs := make([]string, len(m.rules))
	for i := range m.rules {
		fs[i] = m.rules[i].field
	}
	return fs
}

// Result holds the fields a record mapped to.
type Result struct {
	// Values maps target field -> normalised values. A field without a
	// value is absent. Single-valued fields hold one value.
	Values map[string][]string
}

// Get returns the first value of field, or "".
func (r Result) Get(field string) string {
	if v := r.Values[field]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Apply maps one record. When some fields fail, the error is an *Errors
// holding one FieldError per failed field, and the Result still holds the
// fields that mapped.
func (m *Mapping) Apply(r Record) (Result, error) {
	res := Result{Values: make(map[string][]string, len(m.rules))}
	out := make([]string, 0, len(m.rules)+8) // backs every slice of res
	var errs Errors
	look := lookup{m: m, r: r}
	var bufA, bufB [8]string
	for i := range m.rules {
		ru := &m.rules[i]
		vals, attr, bad, reason := ru.eval(&look, bufA[:0], bufB[:0])
		if reason != "" {
			errs = append(errs, FieldError{Field: ru.field, Attribute: attr, Value: bad, Reason: reason})
			continue
		}
		if len(vals) == 0 {
			if ru.required {
				errs = append(errs, FieldError{Field: ru.field, Attribute: strings.Join(ru.from, "|"), Reason: ReasonMissing})
			}
			continue
		}
		start := len(out)
		if ru.kind.multi() {
			for _, v := range vals {
				if ru.kind == kindMultiLower {
					v = strings.ToLower(v)
				}
				if !slices.Contains(out[start:], v) {
					out = append(out, v)
				}
			}
		} else {
			v, reason := ru.kind.normalize(vals[0])
			if reason != "" {
				errs = append(errs, FieldError{Field: ru.field, Attribute: attr, Value: vals[0], Reason: reason})
				continue
			}
			out = append(out, v)
		}
		res.Values[ru.field] = out[start:len(out):len(out)]
	}
	if len(errs) > 0 {
		e := errs
		return res, &e
	}
	return res, nil
}

// eval finds the rule's first source attribute that yields values once
// trimmed and transformed, and returns those values and the attribute name.
// a and b are scratch buffers; the values returned may live in either. On a
// transform failure it returns the attribute, the offending value and the
// reason.
func (ru *rule) eval(l *lookup, a, b []string) (vals []string, attr, bad, reason string) {
	for i, id := range ru.fromIDs {
		raw := l.get(id)
		if len(raw) == 0 {
			continue
		}
		cur := a[:0]
		for _, v := range raw {
			if v = strings.TrimSpace(v); v != "" {
				cur = append(cur, v)
			}
		}
		a = cur
		next := b
		for j := range ru.steps {
			if len(cur) == 0 {
				break
			}
			var out []string
			out, bad, reason = ru.steps[j].apply(cur, next[:0])
			if reason != "" {
				return nil, ru.from[i], bad, reason
			}
			// The buffer cur lived in is free again: it takes the next
			// step's output.
			cur, next = out, cur
		}
		if len(cur) > 0 {
			return cur, ru.from[i], "", ""
		}
		a, b = cur, next
	}
	return nil, "", "", ""
}

// normalize applies a single-valued kind's final normalisation to v and
// returns the reason when v does not fit.
func (k kind) normalize(v string) (string, string) {
	switch k {
	case kindLogin:
		v = identity.NormalizeLogin(v)
	case kindLower:
		v = strings.ToLower(v)
	case kindUpper:
		v = strings.ToUpper(v)
	case kindDate:
		d, ok := parseDate(v, layoutAny)
		if !ok {
			return "", layoutAny.reason()
		}
		v = d
	case kindEmail:
		v = identity.NormalizeEmail(v)
		if !identity.ValidEmail(v) {
			return "", ReasonNotEmail
		}
	case kindBool:
		b, ok := parseBool(v)
		if !ok {
			return "", reasonBool
		}
		v = formatBool(b)
	}
	return v, ""
}

// lookup finds a mapping's attributes in one record, case-insensitively.
// Exact names are looked up directly; the first miss scans the record once
// for keys that match an attribute in another case.
type lookup struct {
	m       *Mapping
	r       Record
	scanned bool
	n       int
	hits    [8]foldHit
	more    []foldHit
}

// foldHit is a record key that matches attribute id in another case.
type foldHit struct {
	id   int
	key  string
	vals []string
}

// get returns the values of attribute id.
func (l *lookup) get(id int) []string {
	if v, ok := l.r[l.m.attrs[id]]; ok {
		return v
	}
	if !l.scanned {
		l.scan()
	}
	for i := range l.n {
		if l.hits[i].id == id {
			return l.hits[i].vals
		}
	}
	for i := range l.more {
		if l.more[i].id == id {
			return l.more[i].vals
		}
	}
	return nil
}

// scan records the keys of the record that match an attribute in another
// case. When several do, the smallest key wins, whatever the map order.
func (l *lookup) scan() {
	l.scanned = true
	m := l.m
	for k, v := range l.r {
		if len(k) >= len(m.byLen) {
			continue
		}
		for _, id := range m.byLen[len(k)] {
			if a := m.attrs[id]; a != k && strings.EqualFold(a, k) {
				l.add(foldHit{id: id, key: k, vals: v})
			}
		}
	}
}

// add keeps h unless a smaller key already matched its attribute.
func (l *lookup) add(h foldHit) {
	for i := range l.n {
		if p := &l.hits[i]; p.id == h.id {
			if h.key < p.key {
				*p = h
			}
			return
		}
	}
	for i := range l.more {
		if p := &l.more[i]; p.id == h.id {
			if h.key < p.key {
				*p = h
			}
			return
		}
	}
	if l.n < len(l.hits) {
		l.hits[l.n] = h
		l.n++
		return
	}
	l.more = append(l.more, h)
}

// Reasons of FieldErrors that are not about a value's format.
const (
	// ReasonMissing is the reason for a required field without a value.
	ReasonMissing = "missing"
	// ReasonNotEmail is the reason for a value of an e-mail field that is
	// not an address.
	ReasonNotEmail = "not an e-mail address"
)

// FieldError is one field of a record that did not map.
type FieldError struct {
	// Field is the target field.
	Field string `json:"field"`
	// Attribute is the source attribute the value came from, as the rule
	// spells it; for a missing field, the rule's attributes joined by "|".
	Attribute string `json:"attribute"`
	// Value is the offending value, empty for a missing field.
	Value string `json:"value"`
	// Reason says what is wrong: "missing", "not a date (want YYYYMMDD)",
	// "not an e-mail address", ...
	Reason string `json:"reason"`
}

// Error returns "field (attribute=value): reason", or "field (attribute):
// reason" when there is no value.
func (e FieldError) Error() string {
	var b strings.Builder
	e.write(&b)
	return b.String()
}

func (e FieldError) write(b *strings.Builder) {
	b.WriteString(e.Field)
	b.WriteString(" (")
	b.WriteString(e.Attribute)
	if e.Value != "" {
		b.WriteByte('=')
		b.WriteString(e.Value)
	}
	b.WriteString("): ")
	b.WriteString(e.Reason)
}

// Errors are the fields of one record that did not map, in the order of
// Fields. Apply returns them as an *Errors; errors.As finds them with a
// target of type **Errors or *Errors, and each FieldError with a target of
// type *FieldError.
type Errors []FieldError

// Error lists the field errors: "field (attribute=value): reason; ...".
func (e Errors) Error() string {
	var b strings.Builder
	for i, fe := range e {
		if i > 0 {
			b.WriteString("; ")
		}
		fe.write(&b)
	}
	return b.String()
}

// Unwrap returns the field errors.
func (e Errors) Unwrap() []error {
	errs := make([]error, len(e))
	for i, fe := range e {
		errs[i] = fe
	}
	return errs
}

// As lets errors.As fill an Errors target from an *Errors.
func (e *Errors) As(target any) bool {
	if t, ok := target.(*Errors); ok && e != nil {
		*t = *e
		return true
	}
	return false
}

// Required returns, for each required field, the source attributes it reads
// from (any one of them will do), so that a file can be checked for missing
// columns before anything is read.
func (m *Mapping) Required() map[string][]string {
	out := map[string][]string{}
	for _, ru := range m.rules {
		if ru.required {
			out[ru.field] = slices.Clone(ru.from)
		}
	}
	return out
}
