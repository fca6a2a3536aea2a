package mapping

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Spec is a mapping as configured: an optional preset and rules per target
// field. In YAML it is either a preset name (`mapping: supann`) or a map from
// target field to rule, with an optional `preset` key naming the base preset
// (see UnmarshalYAML).
type Spec struct {
	// Preset names the preset whose rules the mapping starts from: "",
	// PresetSupann or PresetEduPerson.
	Preset string
	// Fields holds rules per target field. A rule replaces the preset's
	// rule for the same field as a whole.
	Fields map[string]FieldSpec
}

// FieldSpec is the rule for one target field.
type FieldSpec struct {
	// From lists source attribute (or column) names in order of preference:
	// the first one that yields a value once trimmed and transformed is
	// used. Names are matched case-insensitively.
	From []string
	// Transforms are applied in order to the values of the attribute: trim,
	// lower, upper, first, split:SEP, join:SEP, regex:EXPR, date:YYYYMMDD,
	// date:YYYY-MM-DD, date:DD/MM/YYYY, date:any, bool, not (see the
	// package documentation). The target field's own normalisation comes
	// after them.
	Transforms []string
	// Required makes a record that yields no value for the field an error,
	// with the reason "missing".
	Required bool
}

// Preset names.
const (
	PresetSupann    = "supann"
	PresetEduPerson = "eduperson"
)

// Presets returns the names of the presets.
func Presets() []string { return []string{PresetSupann, PresetEduPerson} }

// Preset returns the rules of the named preset, as a Spec with no preset of
// its own, and false when there is no such preset. The Spec is a fresh copy:
// the caller may change it.
func Preset(name string) (Spec, bool) {
	switch name {
	case PresetSupann:
		return Spec{Fields: supannRules()}, true
	case PresetEduPerson:
		return Spec{Fields: eduPersonRules()}, true
	}
	return Spec{}, false
}

// supannRules are the rules of the "supann" preset: the SupAnn 2021 schema
// with eduPerson and SCHAC, as French universities publish it.
func supannRules() map[string]FieldSpec {
	return map[string]FieldSpec{
		FieldLogin:              {From: []string{"uid", "supannAliasLogin"}, Transforms: []string{"lower"}},
		FieldEmail:              {From: []string{"mail"}, Transforms: []string{"first"}, Required: true},
		FieldRecoveryEmail:      {From: []string{"supannMailPerso"}},
		FieldGivenName:          {From: []string{"givenName"}},
		FieldFamilyName:         {From: []string{"sn"}},
		FieldDisplayName:        {From: []string{"displayName"}},
		FieldCivility:           {From: []string{"supannCivilite"}},
		FieldBirthDate:          {From: []string{"supannOIDCDateDeNaissance", "schacDateOfBirth"}, Transforms: []string{"date:any"}},
		FieldSupannEtuID:        {From: []string{"supannEtuId"}},
		FieldSupannEmpID:        {From: []string{"supannEmpId"}},
		FieldINE:                {From: []string{"supannCodeINE"}},
		FieldSupannRefID:        {From: []string{"supannRefId"}},
		FieldEPPN:               {From: []string{"eduPersonPrincipalName"}},
		FieldAffiliation:        {From: []string{"eduPersonAffiliation"}},
		FieldPrimaryAffiliation: {From: []string{"eduPersonPrimaryAffiliation"}},
		FieldOrg:                {From: []string{"supannEtablissement"}},
		FieldDirectoryVisible:   {From: []string{"supannListeRouge"}, Transforms: []string{"bool", "not"}},
		FieldPhone:              {From: []string{"telephoneNumber"}},
	}
}

// eduPersonRules are the rules of the "eduperson" preset: inetOrgPerson,
// eduPerson and SCHAC without the SupAnn attributes.
func eduPersonRules() map[string]FieldSpec {
	return map[string]FieldSpec{
		FieldLogin:              {From: []string{"uid"}, Transforms: []string{"lower"}},
		FieldEmail:              {From: []string{"mail"}, Transforms: []string{"first"}, Required: true},
		FieldGivenName:          {From: []string{"givenName"}},
		FieldFamilyName:         {From: []string{"sn"}},
		FieldDisplayName:        {From: []string{"displayName"}},
		FieldBirthDate:          {From: []string{"schacDateOfBirth"}, Transforms: []string{"date:YYYYMMDD"}},
		FieldEPPN:               {From: []string{"eduPersonPrincipalName"}},
		FieldAffiliation:        {From: []string{"eduPersonAffiliation"}},
		FieldPrimaryAffiliation: {From: []string{"eduPersonPrimaryAffiliation"}},
		FieldPhone:              {From: []string{"telephoneNumber"}},
	}
}

// Validate reports every problem of the spec at once, joined, each prefixed
// with its key: an unknown preset, an unknown target field, a rule without
// source attributes, an unknown or malformed transform (a regex must compile
// and have exactly one capture group).
func (s Spec) Validate() error {
	_, errs := s.rules()
	return errors.Join(errs...)
}

// rules compiles the spec's own rules, sorted by field, and returns every
// problem found.
func (s Spec) rules() ([]rule, []error) {
	var errs []error
	if s.Preset != "" {
		if _, ok := Preset(s.Preset); !ok {
			errs = append(errs, fmt.Errorf("preset: unknown preset %q (want %s)", s.Preset, strings.Join(Presets(), " or ")))
		}
	} else if len(s.Fields) == 0 {
		errs = append(errs, errors.New("fields: no preset and no field rules"))
	}
	names := make([]string, 0, len(s.Fields))
	for f := range s.Fields {
		names = append(names, f)
	}
	slices.Sort(names)
	rules := make([]rule, 0, len(names))
	for _, f := range names {
		r, ferrs := compileRule(f, s.Fields[f])
		errs = append(errs, ferrs...)
		rules = append(rules, r)
	}
	return rules, errs
}

// rule is a compiled FieldSpec. Its attributes are indexes into
// Mapping.attrs.
type rule struct {
	field    string
	kind     kind
	from     []string
	fromIDs  []int
	steps    []step
	required bool
}

// compileRule compiles the rule of one field and returns its problems,
// prefixed with "fields.<field>".
func compileRule(field string, fs FieldSpec) (rule, []error) {
	key := "fields." + field
	var errs []error
	k, ok := targetKind(field)
	if !ok {
		errs = append(errs, fmt.Errorf("%s: unknown target field (want one of %s)", key, strings.Join(Fields(), ", ")))
	}
	if len(fs.From) == 0 {
		errs = append(errs, fmt.Errorf("%s.from: no source attribute", key))
	}
	for i, a := range fs.From {
		if strings.TrimSpace(a) == "" {
			errs = append(errs, fmt.Errorf("%s.from[%d]: empty attribute name", key, i))
		}
	}
	r := rule{field: field, kind: k, from: slices.Clone(fs.From), required: fs.Required}
	for i, t := range fs.Transforms {
		st, err := parseTransform(t)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.transforms[%d]: %w", key, i, err))
			continue
		}
		r.steps = append(r.steps, st)
	}
	return r, errs
}
