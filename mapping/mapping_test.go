package mapping

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestKinds(t *testing.T) {
	tests := []struct {
		field      string
		in         []string
		want       []string
		wantValue  string
		wantReason string
	}{
		{field: FieldLogin, in: []string{" J.Dupont ", "other"}, want: []string{"j.dupont"}},
		{field: FieldLogin, in: []string{"E\u0301lise"}, want: []string{"\u00e9lise"}}, // NFC
		{field: FieldGivenName, in: []string{"  Camille ", "Cam"}, want: []string{"Camille"}},
		{field: FieldFamilyName, in: []string{"MARTIN"}, want: []string{"MARTIN"}},
		{field: FieldDisplayName, in: []string{"Camille Martin"}, want: []string{"Camille Martin"}},
		{field: FieldCivility, in: []string{"Mme"}, want: []string{"Mme"}},
		{field: FieldPhone, in: []string{"+33 4 67 14 30 30", "+33 6 00 00 00 00"}, want: []string{"+33 4 67 14 30 30"}},
		{field: FieldBirthDate, in: []string{"1997-03-14"}, want: []string{"1997-03-14"}},
		{field: FieldBirthDate, in: []string{"19970314"}, want: []string{"1997-03-14"}},
		{field: FieldBirthDate, in: []string{"14/03/1997", "1997-03-15"}, want: []string{"1997-03-14"}},
		{field: FieldBirthDate, in: []string{"1997-02-30"}, wantValue: "1997-02-30", wantReason: "not a date (want YYYYMMDD, YYYY-MM-DD or DD/MM/YYYY)"},
		{field: FieldBirthDate, in: []string{"03/14/1997"}, wantValue: "03/14/1997", wantReason: "not a date (want YYYYMMDD, YYYY-MM-DD or DD/MM/YYYY)"},
		{field: FieldEmail, in: []string{" Camille.Martin@Univ-Test.FR ", "x@y.fr"}, want: []string{"camille.martin@univ-test.fr"}},
		{field: FieldEmail, in: []string{"camille.martin"}, wantValue: "camille.martin", wantReason: "not an e-mail address"},
		{field: FieldRecoveryEmail, in: []string{"Cam.Martin97@Example.org"}, want: []string{"cam.martin97@example.org"}},
		{field: FieldRecoveryEmail, in: []string{"cam martin@example.org"}, wantValue: "cam martin@example.org", wantReason: "not an e-mail address"},
		{field: FieldINE, in: []string{"0123456789a"}, want: []string{"0123456789A"}},
		{field: FieldSupannEtuID, in: []string{"21801234"}, want: []string{"21801234"}},
		{field: FieldSupannEmpID, in: []string{"E0042"}, want: []string{"E0042"}},
		{field: FieldEPPN, in: []string{"CMartin@Univ-Test.fr"}, want: []string{"cmartin@univ-test.fr"}},
		{field: FieldPrimaryAffiliation, in: []string{"Student"}, want: []string{"student"}},
		{field: FieldAffiliation, in: []string{"Student", "member", "student", "MEMBER"}, want: []string{"student", "member"}},
		{field: FieldSupannRefID, in: []string{"{APOGEE}123", "{SIHAM}9", "{APOGEE}123"}, want: []string{"{APOGEE}123", "{SIHAM}9"}},
		{field: FieldOrg, in: []string{"{UAI}0341087X"}, want: []string{"{UAI}0341087X"}},
		{field: FieldDirectoryVisible, in: []string{"TRUE"}, want: []string{"true"}},
		{field: FieldDirectoryVisible, in: []string{"non"}, want: []string{"false"}},
		{field: FieldDirectoryVisible, in: []string{"peut-être"}, wantValue: "peut-être", wantReason: "not a boolean (want TRUE or FALSE)"},
		{field: FieldGivenName, in: []string{" "}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.field+"/"+strings.Join(tt.in, ","), func(t *testing.T) {
			got, errs := applyOne(t, tt.field, nil, tt.in)
			if tt.wantReason != "" {
				want := Errors{{Field: tt.field, Attribute: "a", Value: tt.wantValue, Reason: tt.wantReason}}
				if errs == nil || !reflect.DeepEqual(*errs, want) {
					t.Fatalf("errors = %v, want %v", errs, want)
				}
				return
			}
			if errs != nil {
				t.Fatalf("unexpected error: %v", errs)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("values = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEveryFieldHasAKind(t *testing.T) {
	for _, f := range Fields() {
		if _, ok := targetKind(f); !ok {
			t.Errorf("field %q has no kind", f)
		}
	}
}

func TestFromOrder(t *testing.T) {
	tests := []struct {
		name       string
		rule       FieldSpec
		record     Record
		want       []string
		wantErrors Errors
	}{
		{
			name:   "first attribute wins",
			rule:   FieldSpec{From: []string{"a", "b"}},
			record: Record{"a": {"1"}, "b": {"2"}},
			want:   []string{"1"},
		},
		{
			name:   "absent first attribute",
			rule:   FieldSpec{From: []string{"a", "b"}},
			record: Record{"b": {"2"}},
			want:   []string{"2"},
		},
		{
			name:   "blank first attribute",
			rule:   FieldSpec{From: []string{"a", "b"}},
			record: Record{"a": {" ", ""}, "b": {"2"}},
			want:   []string{"2"},
		},
		{
			name:   "transforms leave the first attribute empty",
			rule:   FieldSpec{From: []string{"a", "b"}, Transforms: []string{`regex:^\{APOGEE\}(.+)$`}},
			record: Record{"a": {"{HARPEGE}9"}, "b": {"{APOGEE}123"}},
			want:   []string{"123"},
		},
		{
			name:       "an error does not fall through",
			rule:       FieldSpec{From: []string{"a", "b"}, Transforms: []string{"date:any"}},
			record:     Record{"a": {"19991399"}, "b": {"19990101"}},
			wantErrors: Errors{{Field: FieldOrg, Attribute: "a", Value: "19991399", Reason: "not a date (want YYYYMMDD, YYYY-MM-DD or DD/MM/YYYY)"}},
		},
		{
			name:       "required and missing",
			rule:       FieldSpec{From: []string{"a", "b"}, Required: true},
			record:     Record{"a": {""}, "c": {"x"}},
			wantErrors: Errors{{Field: FieldOrg, Attribute: "a|b", Reason: "missing"}},
		},
		{
			name:       "required and dropped by the transforms",
			rule:       FieldSpec{From: []string{"a"}, Transforms: []string{`regex:^\{APOGEE\}(.+)$`}, Required: true},
			record:     Record{"a": {"{HARPEGE}9"}},
			wantErrors: Errors{{Field: FieldOrg, Attribute: "a", Reason: "missing"}},
		},
		{
			name:   "required and present",
			rule:   FieldSpec{From: []string{"a"}, Required: true},
			record: Record{"a": {"x"}},
			want:   []string{"x"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Compile(Spec{Fields: map[string]FieldSpec{FieldOrg: tt.rule}})
			if err != nil {
				t.Fatal(err)
			}
			res, err := m.Apply(tt.record)
			var got Errors
			if err != nil && !errors.As(err, &got) {
				t.Fatalf("error %T %v, want *Errors", err, err)
			}
			if !reflect.DeepEqual(got, tt.wantErrors) {
				t.Errorf("errors = %#v, want %#v", got, tt.wantErrors)
			}
			if !reflect.DeepEqual(res.Values[FieldOrg], tt.want) {
				t.Errorf("values = %q, want %q", res.Values[FieldOrg], tt.want)
			}
		})
	}
}

func TestCaseInsensitiveLookup(t *testing.T) {
	m, err := Compile(Spec{Fields: map[string]FieldSpec{
		FieldGivenName:  {From: []string{"givenName"}},
		FieldFamilyName: {From: []string{"sn"}},
		FieldEmail:      {From: []string{"mail"}},
		FieldLogin:      {From: []string{"Prénom"}},
		FieldOrg:        {From: []string{"o"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for range 20 { // map order varies between runs
		res, err := m.Apply(Record{
			"GIVENNAME": {"Camille"},
			"sn":        {"Martin"},
			"SN":        {"wrong: an exact key wins"},
			"Mail":      {"a@example.org"},
			"MAIL":      {"b@example.org"}, // smallest key wins: "MAIL" < "Mail"
			"PRÉNOM":    {"cam"},
			"cn":        {"Camille Martin"},
		})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string][]string{
			FieldGivenName:  {"Camille"},
			FieldFamilyName: {"Martin"},
			FieldEmail:      {"b@example.org"},
			FieldLogin:      {"cam"},
		}
		if !reflect.DeepEqual(res.Values, want) {
			t.Fatalf("values = %q, want %q", res.Values, want)
		}
	}
	if got := (Record{"GivenName": {"x"}}).Lookup("givenname"); !reflect.DeepEqual(got, []string{"x"}) {
		t.Errorf("Lookup = %q", got)
	}
	if got := (Record{"a": {"x"}, "A": {"y"}}).Lookup("a"); !reflect.DeepEqual(got, []string{"x"}) {
		t.Errorf("Lookup exact = %q", got)
	}
}

// TestCaseTwins covers rules that spell one attribute in two cases.
func TestCaseTwins(t *testing.T) {
	m, err := Compile(Spec{Fields: map[string]FieldSpec{
		FieldGivenName:  {From: []string{"Nom"}},
		FieldFamilyName: {From: []string{"NOM"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.Attributes(), []string{"NOM"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Attributes = %q, want %q", got, want)
	}
	res, err := m.Apply(Record{"nom": {"Martin"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Get(FieldGivenName) != "Martin" || res.Get(FieldFamilyName) != "Martin" {
		t.Errorf("values = %q", res.Values)
	}
	res, err = m.Apply(Record{"Nom": {"Martin"}, "NOM": {"MARTIN"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Get(FieldGivenName) != "Martin" || res.Get(FieldFamilyName) != "MARTIN" {
		t.Errorf("values = %q", res.Values)
	}
}

func TestManyCaseVariants(t *testing.T) {
	fields := map[string]FieldSpec{}
	r := Record{}
	for _, f := range Fields() {
		if k, _ := targetKind(f); k == kindDate || k == kindEmail || k == kindBool {
			continue
		}
		fields[f] = FieldSpec{From: []string{"Col_" + f}}
		r["COL_"+strings.ToUpper(f)] = []string{"x"}
	}
	m, err := Compile(Spec{Fields: fields})
	if err != nil {
		t.Fatal(err)
	}
	res, _ := m.Apply(r)
	for f := range fields {
		if _, ok := res.Values[f]; !ok {
			t.Errorf("field %s not found", f)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		want []string
	}{
		{name: "preset", spec: Spec{Preset: "supann"}},
		{name: "eduperson", spec: Spec{Preset: "eduperson"}},
		{name: "fields only", spec: Spec{Fields: map[string]FieldSpec{FieldEmail: {From: []string{"Mail"}}}}},
		{name: "empty", spec: Spec{}, want: []string{"fields: no preset and no field rules"}},
		{name: "unknown preset", spec: Spec{Preset: "supan"}, want: []string{`preset: unknown preset "supan" (want supann or eduperson)`}},
		{
			name: "every problem at once",
			spec: Spec{Preset: "ldap", Fields: map[string]FieldSpec{
				FieldBirthDate: {From: []string{"dob"}, Transforms: []string{"trim", "dat", "date:DDMMYYYY"}},
				"surname":      {From: []string{"sn"}},
				FieldLogin:     {},
				FieldINE:       {From: []string{"ine", " "}, Transforms: []string{`regex:^[0-9]+$`, "regex:(["}},
			}},
			want: []string{
				`preset: unknown preset "ldap" (want supann or eduperson)`,
				`fields.birth_date.transforms[1]: unknown transform "dat"`,
				`fields.birth_date.transforms[2]: transform "date:DDMMYYYY": unknown date layout "DDMMYYYY" (want YYYYMMDD, YYYY-MM-DD, DD/MM/YYYY or any)`,
				`fields.ine.from[1]: empty attribute name`,
				`fields.ine.transforms[0]: regex "^[0-9]+$" has 0 capture groups, want exactly 1`,
				"fields.ine.transforms[1]: regex \"([\": error parsing regexp: missing closing ]: `[`",
				`fields.login.from: no source attribute`,
				`fields.surname: unknown target field (want one of login, given_name, family_name, display_name, civility, birth_date, email, recovery_email, phone, ine, supann_etu_id, supann_emp_id, supann_ref_id, eppn, affiliation, primary_affiliation, org, directory_visible)`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.spec.Validate()
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Validate() =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			m, cerr := Compile(tt.spec)
			if (cerr != nil) != (err != nil) || (cerr != nil && cerr.Error() != err.Error()) {
				t.Errorf("Compile error = %v, want the Validate error %v", cerr, err)
			}
			if cerr != nil && m != nil {
				t.Errorf("Compile returned a mapping with an error")
			}
		})
	}
}

func TestCompileOverridesPreset(t *testing.T) {
	m, err := Compile(Spec{Preset: PresetSupann, Fields: map[string]FieldSpec{
		FieldLogin:       {From: []string{"supannAliasLogin"}},
		FieldSupannEtuID: {From: []string{"supannRefId"}, Transforms: []string{`regex:^\{APOGEE\}(.+)$`}},
		FieldEmail:       {From: []string{"mail"}}, // no longer required
	}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.Apply(Record{
		"uid":              {"cmartin"},
		"supannAliasLogin": {"camille.martin"},
		"supannEtuId":      {"999"},
		"supannRefId":      {"{APOGEE}21801234", "{HARPEGE}9"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		FieldLogin:       {"camille.martin"},
		FieldSupannEtuID: {"21801234"},
		FieldSupannRefID: {"{APOGEE}21801234", "{HARPEGE}9"},
	}
	if !reflect.DeepEqual(res.Values, want) {
		t.Errorf("values = %q, want %q", res.Values, want)
	}
	if slices.Contains(m.Attributes(), "uid") || slices.Contains(m.Attributes(), "supannEtuId") {
		t.Errorf("Attributes %q still lists the replaced rules' attributes", m.Attributes())
	}
}

func TestAttributes(t *testing.T) {
	tests := []struct {
		spec Spec
		want []string
	}{
		{
			spec: Spec{Preset: PresetSupann},
			want: []string{
				"displayName", "eduPersonAffiliation", "eduPersonPrimaryAffiliation", "eduPersonPrincipalName",
				"givenName", "mail", "schacDateOfBirth", "sn", "supannAliasLogin", "supannCivilite", "supannCodeINE",
				"supannEmpId", "supannEtablissement", "supannEtuId", "supannListeRouge", "supannMailPerso",
				"supannOIDCDateDeNaissance", "supannRefId", "telephoneNumber", "uid",
			},
		},
		{
			spec: Spec{Preset: PresetEduPerson},
			want: []string{
				"displayName", "eduPersonAffiliation", "eduPersonPrimaryAffiliation", "eduPersonPrincipalName",
				"givenName", "mail", "schacDateOfBirth", "sn", "telephoneNumber", "uid",
			},
		},
		{
			spec: Spec{Fields: map[string]FieldSpec{
				FieldFamilyName:    {From: []string{"Nom"}},
				FieldGivenName:     {From: []string{"Prénom"}},
				FieldBirthDate:     {From: []string{"Date de naissance"}},
				FieldEmail:         {From: []string{"Mail", "Courriel"}},
				FieldRecoveryEmail: {From: []string{"mail"}},
			}},
			want: []string{"Courriel", "Date de naissance", "Mail", "Nom", "Prénom"},
		},
	}
	for _, tt := range tests {
		m, err := Compile(tt.spec)
		if err != nil {
			t.Fatal(err)
		}
		got := m.Attributes()
		if !slices.Equal(got, tt.want) {
			t.Errorf("Attributes() = %q, want %q", got, tt.want)
		}
		got[0] = "changed"
		if m.Attributes()[0] == "changed" {
			t.Error("Attributes() shares its slice with the mapping")
		}
	}
}

func TestMappingFields(t *testing.T) {
	m, err := Compile(Spec{Preset: PresetEduPerson, Fields: map[string]FieldSpec{FieldOrg: {From: []string{"o"}}}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{FieldLogin, FieldGivenName, FieldFamilyName, FieldDisplayName, FieldBirthDate, FieldEmail,
		FieldPhone, FieldEPPN, FieldAffiliation, FieldPrimaryAffiliation, FieldOrg}
	if got := m.Fields(); !slices.Equal(got, want) {
		t.Errorf("Fields() = %q, want %q", got, want)
	}
}

func TestPresetIsACopy(t *testing.T) {
	p, ok := Preset(PresetSupann)
	if !ok || p.Preset != "" || len(p.Fields) != len(Fields()) {
		t.Fatalf("Preset(supann) = %+v, %v", p, ok)
	}
	p.Fields[FieldLogin].From[0] = "changed"
	delete(p.Fields, FieldEmail)
	q, _ := Preset(PresetSupann)
	if q.Fields[FieldLogin].From[0] != "uid" || !q.Fields[FieldEmail].Required {
		t.Error("Preset returns shared state")
	}
	if _, ok := Preset("nope"); ok {
		t.Error(`Preset("nope") found`)
	}
	for _, name := range Presets() {
		p, _ := Preset(name)
		if err := p.Validate(); err != nil {
			t.Errorf("preset %s: %v", name, err)
		}
	}
}

func TestErrors(t *testing.T) {
	errs := Errors{
		{Field: FieldEmail, Attribute: "mail", Reason: ReasonMissing},
		{Field: FieldBirthDate, Attribute: "supannOIDCDateDeNaissance", Value: "19991399", Reason: "not a date (want YYYYMMDD, YYYY-MM-DD or DD/MM/YYYY)"},
	}
	want := "email (mail): missing; birth_date (supannOIDCDateDeNaissance=19991399): not a date (want YYYYMMDD, YYYY-MM-DD or DD/MM/YYYY)"
	if got := errs.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var err error = &errs
	var asPtr *Errors
	if !errors.As(err, &asPtr) || len(*asPtr) != 2 {
		t.Errorf("errors.As(**Errors) failed")
	}
	var asVal Errors
	if !errors.As(err, &asVal) || len(asVal) != 2 {
		t.Errorf("errors.As(*Errors) failed")
	}
	var fe FieldError
	if !errors.As(err, &fe) || fe.Field != FieldEmail {
		t.Errorf("errors.As(*FieldError) = %v", fe)
	}
	if got := errs[1].Error(); got != "birth_date (supannOIDCDateDeNaissance=19991399): not a date (want YYYYMMDD, YYYY-MM-DD or DD/MM/YYYY)" {
		t.Errorf("FieldError.Error() = %q", got)
	}
}

func TestResultGet(t *testing.T) {
	r := Result{Values: map[string][]string{FieldAffiliation: {"student", "member"}}}
	if r.Get(FieldAffiliation) != "student" || r.Get(FieldLogin) != "" || (Result{}).Get(FieldLogin) != "" {
		t.Errorf("Get = %q %q", r.Get(FieldAffiliation), r.Get(FieldLogin))
	}
}

// TestResultIndependence checks that values of one field never overwrite
// another's, whatever the growth of the buffer behind them.
func TestResultIndependence(t *testing.T) {
	m, err := Compile(Spec{Fields: map[string]FieldSpec{
		FieldAffiliation: {From: []string{"a"}, Transforms: []string{"split:,"}},
		FieldOrg:         {From: []string{"o"}, Transforms: []string{"split:,"}},
		FieldLogin:       {From: []string{"l"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	r := Record{"a": {strings.Repeat("x,", 30) + "y"}, "o": {"p,q,r,s,t,u,v,w,z"}, "l": {"me"}}
	res, err := m.Apply(r)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Values[FieldAffiliation]; !slices.Equal(got, []string{"x", "y"}) {
		t.Errorf("affiliation = %q", got)
	}
	if got := res.Values[FieldOrg]; len(got) != 9 || got[0] != "p" || got[8] != "z" {
		t.Errorf("org = %q", got)
	}
	if got := res.Values[FieldLogin]; !slices.Equal(got, []string{"me"}) {
		t.Errorf("login = %q", got)
	}
	_ = append(res.Values[FieldAffiliation], "appended")
	if res.Get(FieldOrg) != "p" {
		t.Error("appending to one field's values changed another's")
	}
}

func TestApplyDoesNotChangeTheRecord(t *testing.T) {
	m, err := Compile(Spec{Preset: PresetSupann})
	if err != nil {
		t.Fatal(err)
	}
	r := Record{"uid": {" CMartin "}, "mail": {"A@B.FR", "c@d.fr"}, "supannListeRouge": {"TRUE"}}
	if _, err := m.Apply(r); err != nil {
		t.Fatal(err)
	}
	want := Record{"uid": {" CMartin "}, "mail": {"A@B.FR", "c@d.fr"}, "supannListeRouge": {"TRUE"}}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("record changed: %q", r)
	}
}

// TestConcurrentApply runs one Mapping from several goroutines (meaningful
// under -race).
func TestConcurrentApply(t *testing.T) {
	m, err := Compile(Spec{Preset: PresetSupann})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan Result)
	for i := range 4 {
		go func() {
			r := supannStudent()
			if i%2 == 1 {
				r["GIVENNAME"] = r["givenName"]
				delete(r, "givenName")
			}
			var res Result
			for range 100 {
				res, _ = m.Apply(r)
			}
			done <- res
		}()
	}
	for range 4 {
		if res := <-done; res.Get(FieldGivenName) != "Camille" || res.Get(FieldLogin) != "cmartin" {
			t.Errorf("values = %q", res.Values)
		}
	}
}

func TestRequired(t *testing.T) {
	spec, _ := Preset(PresetSupann)
	m, err := Compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	got := m.Required()
	if len(got) != 1 || !slices.Equal(got[FieldEmail], []string{"mail"}) {
		t.Fatalf("Required() = %v", got)
	}
}
