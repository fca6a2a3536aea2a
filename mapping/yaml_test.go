package mapping

import (
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// connectorConfig stands for the configuration section that holds a mapping.
type connectorConfig struct {
	Name    string `yaml:"name"`
	Mapping Spec   `yaml:"mapping"`
}

func TestUnmarshalYAML(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Spec
	}{
		{
			name: "preset name",
			in:   "name: campus\nmapping: supann\n",
			want: Spec{Preset: "supann"},
		},
		{
			name: "no mapping",
			in:   "name: campus\n",
			want: Spec{},
		},
		{
			name: "CSV columns in flow style",
			in:   `mapping: {family_name: Nom, given_name: Prénom, birth_date: "Date de naissance", email: Mail}`,
			want: Spec{Fields: map[string]FieldSpec{
				FieldFamilyName: {From: []string{"Nom"}},
				FieldGivenName:  {From: []string{"Prénom"}},
				FieldBirthDate:  {From: []string{"Date de naissance"}},
				FieldEmail:      {From: []string{"Mail"}},
			}},
		},
		{
			name: "preset and rules of every shape",
			in: `
mapping:
  preset: supann
  login: [supannAliasLogin, uid]
  phone: telephoneNumber
  supann_etu_id:
    from: supannRefId
    transforms:
      - regex: '^\{APOGEE\}(.+)$'
      - upper
  birth_date:
    from: ["Date de naissance", DOB]
    transforms: ["date:DD/MM/YYYY"]
    required: true
  given_name:
    from: [Prénom]
    transforms: trim
  affiliation:
    from: eduPersonAffiliation
    transforms: [{split: ","}, 'join: ']
    required: false
`,
			want: Spec{Preset: "supann", Fields: map[string]FieldSpec{
				FieldLogin:       {From: []string{"supannAliasLogin", "uid"}},
				FieldPhone:       {From: []string{"telephoneNumber"}},
				FieldSupannEtuID: {From: []string{"supannRefId"}, Transforms: []string{`regex:^\{APOGEE\}(.+)$`, "upper"}},
				FieldBirthDate:   {From: []string{"Date de naissance", "DOB"}, Transforms: []string{"date:DD/MM/YYYY"}, Required: true},
				FieldGivenName:   {From: []string{"Prénom"}, Transforms: []string{"trim"}},
				FieldAffiliation: {From: []string{"eduPersonAffiliation"}, Transforms: []string{"split:,", "join: "}},
			}},
		},
		{
			name: "anchors and aliases",
			in: `
names: &names [givenName, prenom]
mapping:
  given_name: *names
  family_name: {from: *names}
`,
			want: Spec{Fields: map[string]FieldSpec{
				FieldGivenName:  {From: []string{"givenName", "prenom"}},
				FieldFamilyName: {From: []string{"givenName", "prenom"}},
			}},
		},
		{
			name: "unknown names are left to Validate",
			in:   "mapping: {preset: supan, surname: sn, login: {from: uid, transforms: [dat]}}",
			want: Spec{Preset: "supan", Fields: map[string]FieldSpec{
				"surname":  {From: []string{"sn"}},
				FieldLogin: {From: []string{"uid"}, Transforms: []string{"dat"}},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c struct {
				Names   []string `yaml:"names"`
				Name    string   `yaml:"name"`
				Mapping Spec     `yaml:"mapping"`
			}
			if err := yaml.Unmarshal([]byte(tt.in), &c); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Mapping, tt.want) {
				t.Errorf("decoded %#v\nwant %#v", c.Mapping, tt.want)
			}
		})
	}
}

func TestUnmarshalYAMLErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{
			name: "a list",
			in:   "mapping: [supann]",
			want: []string{`line 1: mapping: want a preset name or a map of target field -> rule, got a list`},
		},
		{
			name: "every problem with its line",
			in: `name: campus
mapping:
  preset: [supann]
  login:
  family_name: {form: sn}
  birth_date:
    from: {a: b}
    transforms: [date:any, [lower], {a: b, c: d}]
    required: yes
  email: [mail, [x]]
  email: mail
  given_name: {from: givenName, from: prenom}
  ? [a]
  : b
`,
			want: []string{
				`line 3: preset: want a preset name, got a list`,
				`line 4: login: want a source attribute, a list of them or a rule (from, transforms, required), got nothing`,
				`line 5: family_name: unknown key "form" (want from, transforms or required)`,
				`line 7: birth_date.from: want a source attribute or a list of them, got a map`,
				`line 8: birth_date.transforms[1]: want a transform such as "lower" or "date:YYYYMMDD", got a list`,
				`line 8: birth_date.transforms[2]: want a transform such as "lower" or "date:YYYYMMDD", got a map`,
				`line 9: birth_date.required: want true or false, got "yes"`,
				`line 10: email[1]: want a source attribute name, got a list`,
				`line 11: email: given twice (first on line 10)`,
				`line 12: given_name.from: given twice (first on line 12)`,
				`line 13: mapping: want a target field name as key, got a list`,
			},
		},
		{
			name: "errors elsewhere in the document are kept",
			in:   "name: [x]\nmapping: {login: {required: 1}}\n",
			want: []string{
				"line 1: cannot unmarshal !!seq into string",
				`line 2: login.required: want true or false, got "1"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c connectorConfig
			err := yaml.Unmarshal([]byte(tt.in), &c)
			if err == nil {
				t.Fatal("no error")
			}
			te, ok := err.(*yaml.TypeError)
			if !ok {
				t.Fatalf("error %T %v, want *yaml.TypeError", err, err)
			}
			if !reflect.DeepEqual(te.Errors, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(te.Errors, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestYAMLThenCompile checks the path a configuration takes: decode, then
// Validate with keys, then Compile.
func TestYAMLThenCompile(t *testing.T) {
	var c connectorConfig
	in := "mapping:\n  preset: supann\n  birth_date: {from: dob, transforms: [dat]}\n"
	if err := yaml.Unmarshal([]byte(in), &c); err != nil {
		t.Fatal(err)
	}
	err := c.Mapping.Validate()
	if err == nil || err.Error() != `fields.birth_date.transforms[0]: unknown transform "dat"` {
		t.Fatalf("Validate() = %v", err)
	}
}
