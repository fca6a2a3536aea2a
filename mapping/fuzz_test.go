package mapping

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// FuzzMapping decodes any YAML mapping, compiles it and applies it to any
// record: nothing panics, Compile refuses exactly what Validate reports,
// and Apply returns the fields of the rules, each with at least one
// value, a single-valued field with exactly one, and its failures as an
// *Errors of FieldErrors, the same way every time.
func FuzzMapping(f *testing.F) {
	// The golden cases: real mappings with real records.
	inputs, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, in := range inputs {
		if strings.HasSuffix(in, ".golden.json") {
			continue
		}
		raw, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		var c goldenCase
		if err := json.Unmarshal(raw, &c); err != nil {
			f.Fatalf("%s: %v", in, err)
		}
		f.Add(c.Mapping, recordText(c.Record))
	}
	f.Add("supann", "uid: ALICE\nmail: alice@univ-test.fr\nsupannListeRouge: TRUE\nschacDateOfBirth: 19970314")
	f.Add("eduperson", "uid: \nmail: not an address\nschacDateOfBirth: 1997-03-14")
	f.Add("preset: supann\nbirth_date: {from: [dob, DOB], transforms: [\"date:DD/MM/YYYY\"], required: true}\n",
		"DOB: 31/02/1997\ndob: 1/3/1997\nmail: a@b.c")
	f.Add("login: {from: uid, transforms: [{regex: '^(.*)@'}, lower, {split: .}, first]}\ndirectory_visible: {from: red, transforms: [bool, not]}",
		"uid: Alice.Martin@univ-test.fr\nred: oui")
	f.Add("affiliation: {from: aff, transforms: [\"split:,\", \"join: \", upper]}\nine: {from: ine, transforms: trim}\norg: [o1, o2]",
		"aff: student,member,,STUDENT\nine: 0a1b2c\no2: x\no2: x")
	f.Add("names: &n [a, b]\nlogin: *n\ngiven_name: {from: *n}", "A: x\nb: y")
	f.Add("login: {from: uid, transforms: [\"regex:(\"]}", "uid: x")
	f.Add("login: {form: uid}\nlogin: uid\n? [x]\n: y", "")
	f.Add("[supann]", "")
	f.Add("{", "")
	f.Fuzz(func(t *testing.T, doc, record string) {
		var spec Spec
		if err := yaml.Unmarshal([]byte(doc), &spec); err != nil {
			return
		}
		verr := spec.Validate()
		m, err := Compile(spec)
		if (verr == nil) != (err == nil) || verr != nil && verr.Error() != err.Error() {
			t.Fatalf("Validate() = %v, but Compile() = %v", verr, err)
		}
		if err != nil {
			return
		}
		if fields := m.Fields(); len(fields) == 0 || !isSubsequence(fields, Fields()) {
			t.Fatalf("Fields() = %v, not a subsequence of %v", fields, Fields())
		}
		attrs := m.Attributes()
		if !slices.IsSortedFunc(attrs, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) }) {
			t.Fatalf("Attributes() = %q, not sorted", attrs)
		}
		r := parseRecord(record)
		res, err := m.Apply(r)
		checkResult(t, m, res, err)
		res2, err2 := m.Apply(r)
		if !reflect.DeepEqual(res, res2) || !reflect.DeepEqual(err, err2) {
			t.Fatalf("Apply is not deterministic:\n%v %v\n%v %v", res, err, res2, err2)
		}
	})
}

// checkResult checks what Apply returned for mapping m.
func checkResult(t *testing.T, m *Mapping, res Result, err error) {
	t.Helper()
	failed := map[string]bool{}
	if err != nil {
		var errs *Errors
		if !errors.As(err, &errs) || len(*errs) == 0 {
			t.Fatalf("Apply error %T %v, want a non-empty *Errors", err, err)
		}
		for _, fe := range *errs {
			if !slices.Contains(m.Fields(), fe.Field) || fe.Reason == "" || failed[fe.Field] {
				t.Fatalf("field error %#v: unknown or repeated field, or no reason", fe)
			}
			failed[fe.Field] = true
		}
		if fe := (FieldError{}); !errors.As(err, &fe) || fe != (*errs)[0] {
			t.Fatalf("errors.As finds %#v in %v, want the first FieldError", fe, err)
		}
	}
	for field, vals := range res.Values {
		k, _ := targetKind(field)
		switch {
		case !slices.Contains(m.Fields(), field):
			t.Fatalf("value for %q, which has no rule", field)
		case failed[field]:
			t.Fatalf("field %q both failed and mapped to %q", field, vals)
		case len(vals) == 0, !k.multi() && len(vals) != 1:
			t.Fatalf("field %q mapped to %q", field, vals)
		}
		for _, v := range vals {
			if v == "" {
				t.Fatalf("field %q mapped to an empty value: %q", field, vals)
			}
		}
	}
}

// FuzzTransform parses any transform and runs it on any two values:
// nothing panics, and the values it gives are trimmed and not empty, a
// date a valid YYYY-MM-DD, a boolean "true" or "false"; a value it
// refuses is one of those given, with a reason.
func FuzzTransform(f *testing.F) {
	for _, s := range []struct{ transform, a, b string }{
		{"trim", " x ", ""},
		{"lower", "ÉLÈVE", "ǅ"},
		{"upper", "straße", "ﬃ"},
		{"first", "a", "b"},
		{"split:,", "a, b,,c ,", ";"},
		{"split: et ", "Jean et Marie", " et "},
		{"join: ", "Jean", "Pierre"},
		{"join:", "a", "b"},
		{`regex:^\{APOGEE\}(.+)$`, "{APOGEE}123", "{HARPEGE}9"},
		{`regex:^x(y)?$`, "x", "xy"},
		{`regex:(\s*)`, "  a", "b"},
		{"regex:(", "a", "b"},
		{"regex:(a)(b)", "ab", ""},
		{"date:YYYYMMDD", "19970314", "00000101"},
		{"date:YYYY-MM-DD", "2024-02-29", "2023-02-29"},
		{"date:DD/MM/YYYY", "1/3/1997", "31/04/1997"},
		{"date:any", "1997-03-14", "14/03/1997"},
		{"date:", "x", ""},
		{"bool", "TRUE", "oui"},
		{"not", "non", "maybe"},
		{"lower:x", "a", ""},
		{"", "a", ""},
	} {
		f.Add(s.transform, s.a, s.b)
	}
	f.Fuzz(func(t *testing.T, transform, a, b string) {
		st, err := parseTransform(transform)
		if err != nil {
			return
		}
		var src []string
		for _, v := range []string{a, b} {
			if v = strings.TrimSpace(v); v != "" {
				src = append(src, v)
			}
		}
		out, bad, reason := st.apply(src, nil)
		if reason != "" {
			if !slices.Contains(src, bad) {
				t.Fatalf("%s refused %q, which is not one of %q", transform, bad, src)
			}
			return
		}
		for _, v := range out {
			if v == "" || v != strings.TrimSpace(v) {
				t.Fatalf("%s(%q) gave %q: values must be trimmed and not empty", transform, src, out)
			}
			switch st.op {
			case opDate:
				if d, ok := parseDate(v, layoutISO); !ok || d != v {
					t.Fatalf("%s(%q) gave %q, not a valid YYYY-MM-DD", transform, src, v)
				}
			case opBool, opNot:
				if v != "true" && v != "false" {
					t.Fatalf("%s(%q) gave %q", transform, src, v)
				}
			}
		}
		if (st.op == opFirst || st.op == opJoin) && len(out) > 1 {
			t.Fatalf("%s(%q) gave %d values", transform, src, len(out))
		}
	})
}

// recordText writes a record as FuzzMapping reads it: a line "name: value"
// per value.
func recordText(r Record) string {
	var b strings.Builder
	names := make([]string, 0, len(r))
	for k := range r {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		for _, v := range r[k] {
			b.WriteString(k + ": " + v + "\n")
		}
	}
	return b.String()
}

// parseRecord reads the lines "name: value" of s into a record; a line
// without a colon is a name without a value.
func parseRecord(s string) Record {
	r := Record{}
	for line := range strings.SplitSeq(s, "\n") {
		name, value, _ := strings.Cut(line, ": ")
		r[name] = append(r[name], value)
	}
	return r
}

// isSubsequence reports whether sub lists elements of all in their order.
func isSubsequence(sub, all []string) bool {
	i := 0
	for _, s := range sub {
		for i < len(all) && all[i] != s {
			i++
		}
		if i == len(all) {
			return false
		}
		i++
	}
	return true
}
