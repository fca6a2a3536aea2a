package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenCase is one testdata/*.json input: a mapping as written in the
// configuration (YAML: a preset name or rules) and a record as a source
// reports it.
type goldenCase struct {
	Mapping string `json:"mapping"`
	Record  Record `json:"record"`
}

// goldenResult is what testdata/*.golden.json holds for a case.
type goldenResult struct {
	Values map[string][]string `json:"values"`
	Errors Errors              `json:"errors,omitempty"`
	Error  string              `json:"error,omitempty"`
}

func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, in := range inputs {
		if strings.HasSuffix(in, ".golden.json") {
			continue
		}
		n++
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			var c goldenCase
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&c); err != nil {
				t.Fatalf("%s: %v", in, err)
			}
			var spec Spec
			if err := yaml.Unmarshal([]byte(c.Mapping), &spec); err != nil {
				t.Fatalf("mapping: %v", err)
			}
			m, err := Compile(spec)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			res, err := m.Apply(c.Record)
			got := goldenResult{Values: res.Values}
			if err != nil {
				var errs *Errors
				if !errors.As(err, &errs) {
					t.Fatalf("Apply error %T %v, want *Errors", err, err)
				}
				got.Errors, got.Error = *errs, err.Error()
			}
			out, err := json.MarshalIndent(got, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, '\n')
			golden := filepath.Join("testdata", name+".golden.json")
			if *update {
				if err := os.WriteFile(golden, out, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./mapping -update to create it)", err)
			}
			if !bytes.Equal(out, want) {
				t.Errorf("%s differs (run go test ./mapping -update to accept):\n--- got\n%s--- want\n%s", golden, out, want)
			}
		})
	}
	if n == 0 {
		t.Fatal("no testdata/*.json input")
	}
}

// TestGoldenExpectations pins, independently of the golden files, the
// outcomes the golden cases exist for.
func TestGoldenExpectations(t *testing.T) {
	load := func(name string) (Result, *Errors) {
		t.Helper()
		raw, err := os.ReadFile(filepath.Join("testdata", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var c goldenCase
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatal(err)
		}
		var spec Spec
		if err := yaml.Unmarshal([]byte(c.Mapping), &spec); err != nil {
			t.Fatal(err)
		}
		m, err := Compile(spec)
		if err != nil {
			t.Fatal(err)
		}
		res, err := m.Apply(c.Record)
		var errs *Errors
		if err != nil && !errors.As(err, &errs) {
			t.Fatal(err)
		}
		return res, errs
	}

	res, errs := load("supann_student")
	if errs != nil {
		t.Errorf("student: %v", errs)
	}
	for f, want := range map[string]string{
		FieldLogin: "cmartin", FieldEmail: "camille.martin@etu.univ-test.fr", FieldBirthDate: "1997-03-14",
		FieldINE: "0123456789A", FieldSupannEtuID: "21801234", FieldSupannRefID: "{APOGEE}21801234",
		FieldOrg: "{UAI}0341087X", FieldDirectoryVisible: "true",
	} {
		if got := res.Get(f); got != want {
			t.Errorf("student %s = %q, want %q", f, got, want)
		}
	}

	res, errs = load("supann_employee")
	if errs != nil {
		t.Errorf("employee: %v", errs)
	}
	if res.Get(FieldSupannEmpID) != "E0042" || res.Get(FieldDirectoryVisible) != "false" || res.Get(FieldBirthDate) != "1975-08-22" {
		t.Errorf("employee = %q", res.Values)
	}

	res, errs = load("supann_missing_mail")
	want := Errors{{Field: FieldEmail, Attribute: "mail", Reason: ReasonMissing}}
	if errs == nil || len(*errs) != 1 || (*errs)[0] != want[0] {
		t.Errorf("missing mail: errors = %v, want %v", errs, want)
	}
	if res.Get(FieldLogin) != "lbernard" {
		t.Errorf("missing mail: the other fields did not map: %q", res.Values)
	}

	res, errs = load("supann_bad_date")
	found := false
	for _, fe := range deref(errs) {
		if fe.Field == FieldBirthDate {
			found = fe.Attribute == "supannOIDCDateDeNaissance" && fe.Value == "19991399" && strings.HasPrefix(fe.Reason, "not a date")
		}
	}
	if !found {
		t.Errorf("bad date: errors = %v", errs)
	}
	if _, ok := res.Values[FieldBirthDate]; ok || res.Get(FieldLogin) != "tpetit" {
		t.Errorf("bad date: values = %q", res.Values)
	}
}

func deref(e *Errors) Errors {
	if e == nil {
		return nil
	}
	return *e
}
