package mapping_test

import (
	"errors"
	"fmt"

	"github.com/canonid/canonid/mapping"
)

func Example() {
	m, err := mapping.Compile(mapping.Spec{
		Preset: mapping.PresetSupann,
		Fields: map[string]mapping.FieldSpec{
			// The student number from the Apogée reference instead of supannEtuId.
			mapping.FieldSupannEtuID: {From: []string{"supannRefId"}, Transforms: []string{`regex:^\{APOGEE\}(.+)$`}},
		},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(m.Attributes()[:4])

	res, err := m.Apply(mapping.Record{
		"uid":                       {"CMartin"},
		"mail":                      {"Camille.Martin@etu.univ-test.fr"},
		"supannOIDCDateDeNaissance": {"1997-03-14"},
		"supannRefId":               {"{APOGEE}21801234", "{HARPEGE}9"},
		"supannListeRouge":          {"TRUE"},
	})
	fmt.Println(res.Get(mapping.FieldLogin), res.Get(mapping.FieldEmail), res.Get(mapping.FieldBirthDate),
		res.Get(mapping.FieldSupannEtuID), res.Get(mapping.FieldDirectoryVisible), err)

	_, err = m.Apply(mapping.Record{"uid": {"tpetit"}, "schacDateOfBirth": {"19991399"}})
	var errs *mapping.Errors
	if errors.As(err, &errs) {
		for _, fe := range *errs {
			fmt.Printf("%s %s %q: %s\n", fe.Field, fe.Attribute, fe.Value, fe.Reason)
		}
	}
	// Output:
	// [displayName eduPersonAffiliation eduPersonPrimaryAffiliation eduPersonPrincipalName]
	// cmartin camille.martin@etu.univ-test.fr 1997-03-14 21801234 false <nil>
	// birth_date schacDateOfBirth "19991399": not a date (want YYYYMMDD, YYYY-MM-DD or DD/MM/YYYY)
	// email mail "": missing
}
