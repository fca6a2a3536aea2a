package mapping

import (
	"errors"
	"reflect"
	"testing"
)

// applyOne compiles a one-rule mapping for field, reading attribute "a"
// with transforms ts, and applies it to the values in.
func applyOne(t *testing.T, field string, ts []string, in []string) ([]string, *Errors) {
	t.Helper()
	m, err := Compile(Spec{Fields: map[string]FieldSpec{field: {From: []string{"a"}, Transforms: ts}}})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	res, err := m.Apply(Record{"a": in})
	if err != nil {
		var errs *Errors
		if !errors.As(err, &errs) {
			t.Fatalf("Apply error %T %v, want *Errors", err, err)
		}
		return res.Values[field], errs
	}
	return res.Values[field], nil
}

func TestTransforms(t *testing.T) {
	tests := []struct {
		name       string
		transforms []string
		in         []string
		want       []string
		wantValue  string // of the error
		wantReason string
	}{
		{name: "values are trimmed, empties dropped", in: []string{" a ", "", "  ", "b"}, want: []string{"a", "b"}},
		{name: "only empty values", in: []string{"", " "}, want: nil},
		{name: "trim", transforms: []string{"trim"}, in: []string{"\t x \n"}, want: []string{"x"}},
		{name: "lower", transforms: []string{"lower"}, in: []string{"ABC", "Élève", "déjà"}, want: []string{"abc", "élève", "déjà"}},
		{name: "upper", transforms: []string{"upper"}, in: []string{"abc", "élève"}, want: []string{"ABC", "ÉLÈVE"}},
		{name: "first", transforms: []string{"first"}, in: []string{"a", "b", "c"}, want: []string{"a"}},
		{name: "first skips empty values", transforms: []string{"first"}, in: []string{" ", "b", "c"}, want: []string{"b"}},
		{name: "split", transforms: []string{"split:,"}, in: []string{"a, b,,c ,", "d"}, want: []string{"a", "b", "c", "d"}},
		{name: "split on a word", transforms: []string{"split: et "}, in: []string{"Jean et Marie"}, want: []string{"Jean", "Marie"}},
		{name: "split without separator in value", transforms: []string{"split:;"}, in: []string{"abc"}, want: []string{"abc"}},
		{name: "split of only separators", transforms: []string{"split:;"}, in: []string{";;"}, want: nil},
		{name: "join", transforms: []string{"join: "}, in: []string{"Jean", "Pierre"}, want: []string{"Jean Pierre"}},
		{name: "join with comma", transforms: []string{"join:,"}, in: []string{"a", "b", "c"}, want: []string{"a,b,c"}},
		{name: "join of one value", transforms: []string{"join:,"}, in: []string{"a"}, want: []string{"a"}},
		{name: "join with empty separator", transforms: []string{"join:"}, in: []string{"a", "b"}, want: []string{"ab"}},
		{name: "split then join", transforms: []string{"split:;", "join:|"}, in: []string{"a;b", "c"}, want: []string{"a|b|c"}},
		{name: "regex keeps the capture", transforms: []string{`regex:^\{APOGEE\}(.+)$`}, in: []string{"{APOGEE}123", "{HARPEGE}9", "{APOGEE}456"}, want: []string{"123", "456"}},
		{name: "regex drops every value", transforms: []string{`regex:^\{APOGEE\}(.+)$`}, in: []string{"{HARPEGE}9"}, want: nil},
		{name: "regex optional group absent", transforms: []string{`regex:^x(y)?$`}, in: []string{"x", "xy"}, want: []string{"y"}},
		{name: "regex capture trimmed", transforms: []string{`regex:^(.*);`}, in: []string{" a ;b", " ;c"}, want: []string{"a"}},
		{name: "regex unanchored", transforms: []string{`regex:([0-9]+)`}, in: []string{"id 42 and 7"}, want: []string{"42"}},
		{name: "date YYYYMMDD", transforms: []string{"date:YYYYMMDD"}, in: []string{"19970314"}, want: []string{"1997-03-14"}},
		{name: "date YYYYMMDD bad month", transforms: []string{"date:YYYYMMDD"}, in: []string{"19991399"}, wantValue: "19991399", wantReason: "not a date (want YYYYMMDD)"},
		{name: "date YYYYMMDD dashed", transforms: []string{"date:YYYYMMDD"}, in: []string{"1997-03-14"}, wantValue: "1997-03-14", wantReason: "not a date (want YYYYMMDD)"},
		{name: "date YYYYMMDD letters", transforms: []string{"date:YYYYMMDD"}, in: []string{"1997O314"}, wantValue: "1997O314", wantReason: "not a date (want YYYYMMDD)"},
		{name: "date YYYY-MM-DD", transforms: []string{"date:YYYY-MM-DD"}, in: []string{"2000-02-29"}, want: []string{"2000-02-29"}},
		{name: "date YYYY-MM-DD not leap", transforms: []string{"date:YYYY-MM-DD"}, in: []string{"1900-02-29"}, wantValue: "1900-02-29", wantReason: "not a date (want YYYY-MM-DD)"},
		{name: "date YYYY-MM-DD year 0", transforms: []string{"date:YYYY-MM-DD"}, in: []string{"0000-01-01"}, wantValue: "0000-01-01", wantReason: "not a date (want YYYY-MM-DD)"},
		{name: "date YYYY-MM-DD short", transforms: []string{"date:YYYY-MM-DD"}, in: []string{"1997-3-14"}, wantValue: "1997-3-14", wantReason: "not a date (want YYYY-MM-DD)"},
		{name: "date DD/MM/YYYY", transforms: []string{"date:DD/MM/YYYY"}, in: []string{"14/03/1997"}, want: []string{"1997-03-14"}},
		{name: "date DD/MM/YYYY one digit", transforms: []string{"date:DD/MM/YYYY"}, in: []string{"1/3/1997"}, want: []string{"1997-03-01"}},
		{name: "date DD/MM/YYYY 31 April", transforms: []string{"date:DD/MM/YYYY"}, in: []string{"31/04/1997"}, wantValue: "31/04/1997", wantReason: "not a date (want DD/MM/YYYY)"},
		{name: "date DD/MM/YYYY two-digit year", transforms: []string{"date:DD/MM/YYYY"}, in: []string{"14/03/97"}, wantValue: "14/03/97", wantReason: "not a date (want DD/MM/YYYY)"},
		{name: "date any compact", transforms: []string{"date:any"}, in: []string{"19970314"}, want: []string{"1997-03-14"}},
		{name: "date any ISO", transforms: []string{"date:any"}, in: []string{"1997-03-14"}, want: []string{"1997-03-14"}},
		{name: "date any French", transforms: []string{"date:any"}, in: []string{"14/03/1997"}, want: []string{"1997-03-14"}},
		{name: "date any bad", transforms: []string{"date:any"}, in: []string{"14.03.1997"}, wantValue: "14.03.1997", wantReason: "not a date (want YYYYMMDD, YYYY-MM-DD or DD/MM/YYYY)"},
		{name: "date every value checked", transforms: []string{"date:any"}, in: []string{"19970314", "x"}, wantValue: "x", wantReason: "not a date (want YYYYMMDD, YYYY-MM-DD or DD/MM/YYYY)"},
		{name: "date after first", transforms: []string{"first", "date:any"}, in: []string{"19970314", "x"}, want: []string{"1997-03-14"}},
		{name: "bool", transforms: []string{"bool"}, in: []string{"TRUE", "false", "Oui", "non", "1", "0", "yes", "NO"}, want: []string{"true", "false"}},
		{name: "bool bad", transforms: []string{"bool"}, in: []string{"maybe"}, wantValue: "maybe", wantReason: "not a boolean (want TRUE or FALSE)"},
		{name: "not", transforms: []string{"not"}, in: []string{"TRUE"}, want: []string{"false"}},
		{name: "bool then not", transforms: []string{"bool", "not"}, in: []string{"FALSE"}, want: []string{"true"}},
		{name: "not bad", transforms: []string{"not"}, in: []string{"vrai"}, wantValue: "vrai", wantReason: "not a boolean (want TRUE or FALSE)"},
		{name: "lower then first", transforms: []string{"lower", "first"}, in: []string{"B", "A"}, want: []string{"b"}},
		{name: "split then regex", transforms: []string{"split:$", `regex:^\{UAI\}(.+)$`}, in: []string{"{UAI}0341087X${SIRET}123"}, want: []string{"0341087X"}},
		{name: "many values past the scratch buffers", transforms: []string{"split:,", "upper"}, in: []string{"a,b,c,d,e,f,g,h,i,j", "k,l"},
			want: []string{"A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// supann_ref_id keeps every value as the transforms leave it.
			got, errs := applyOne(t, FieldSupannRefID, tt.transforms, tt.in)
			if tt.wantReason != "" {
				want := Errors{{Field: FieldSupannRefID, Attribute: "a", Value: tt.wantValue, Reason: tt.wantReason}}
				if errs == nil || !reflect.DeepEqual(*errs, want) {
					t.Fatalf("errors = %v, want %v", errs, want)
				}
				if got != nil {
					t.Errorf("values = %q, want none on error", got)
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

func TestParseTransform(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
	}{
		{in: "trim"}, {in: "lower"}, {in: "upper"}, {in: "first"}, {in: "bool"}, {in: "not"},
		{in: "split:,"}, {in: "join:"}, {in: "join: "}, {in: `regex:^\{APOGEE\}(.+)$`},
		{in: "date:YYYYMMDD"}, {in: "date:YYYY-MM-DD"}, {in: "date:DD/MM/YYYY"}, {in: "date:any"},
		{in: "", wantErr: `unknown transform ""`},
		{in: "dat", wantErr: `unknown transform "dat"`},
		{in: "Lower", wantErr: `unknown transform "Lower"`},
		{in: "lower:x", wantErr: `transform "lower" takes no argument`},
		{in: "first:", wantErr: `transform "first" takes no argument`},
		{in: "split", wantErr: `transform "split" needs a separator (split:SEP)`},
		{in: "split:", wantErr: `transform "split:" needs a separator (split:SEP)`},
		{in: "join", wantErr: `transform "join" needs a separator (join:SEP)`},
		{in: "regex:", wantErr: `transform "regex:" needs an expression (regex:EXPR)`},
		{in: "regex:(", wantErr: "regex \"(\": error parsing regexp: missing closing ): `(`"},
		{in: "regex:^x$", wantErr: `regex "^x$" has 0 capture groups, want exactly 1`},
		{in: "regex:(a)(b)", wantErr: `regex "(a)(b)" has 2 capture groups, want exactly 1`},
		{in: "regex:(?:a)(b)"},
		{in: "date", wantErr: `transform "date": unknown date layout "" (want YYYYMMDD, YYYY-MM-DD, DD/MM/YYYY or any)`},
		{in: "date:yyyymmdd", wantErr: `transform "date:yyyymmdd": unknown date layout "yyyymmdd" (want YYYYMMDD, YYYY-MM-DD, DD/MM/YYYY or any)`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := parseTransform(tt.in)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.wantErr {
				t.Errorf("parseTransform(%q) error = %q, want %q", tt.in, got, tt.wantErr)
			}
		})
	}
}

func TestParseDate(t *testing.T) {
	tests := []struct {
		in     string
		layout dateLayout
		want   string // "" for not a date
	}{
		{"20240229", layoutCompact, "2024-02-29"},
		{"20230229", layoutCompact, ""},
		{"20000229", layoutCompact, "2000-02-29"},
		{"21000229", layoutCompact, ""},
		{"19971231", layoutCompact, "1997-12-31"},
		{"19971232", layoutCompact, ""},
		{"19970001", layoutCompact, ""},
		{"19970100", layoutCompact, ""},
		{"1997031", layoutCompact, ""},
		{"+1970314", layoutCompact, ""},
		{"00010101", layoutCompact, "0001-01-01"},
		{"99991231", layoutCompact, "9999-12-31"},
		{"1997-06-31", layoutISO, ""},
		{"1997-06-30", layoutISO, "1997-06-30"},
		{"1997/06/30", layoutISO, ""},
		{"1997-06-3a", layoutISO, ""},
		{"30/06/1997", layoutFrench, "1997-06-30"},
		{"30/6/1997", layoutFrench, "1997-06-30"},
		{"/06/1997", layoutFrench, ""},
		{"300/06/1997", layoutFrench, ""},
		{"30/06/1997/1", layoutFrench, ""},
		{"30-06-1997", layoutFrench, ""},
		{"1997-06-30", layoutAny, "1997-06-30"},
		{"30/06/1997", layoutAny, "1997-06-30"},
		{"19970630", layoutAny, "1997-06-30"},
		{"1997", layoutAny, ""},
	}
	for _, tt := range tests {
		got, ok := parseDate(tt.in, tt.layout)
		if ok != (tt.want != "") || got != tt.want {
			t.Errorf("parseDate(%q, %d) = %q, %v; want %q", tt.in, tt.layout, got, ok, tt.want)
		}
	}
}
