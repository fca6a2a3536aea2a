package mapping

import "testing"

// supannStudent is a typical SupAnn student entry as the LDAP connector
// reads it: the attributes of the supann preset, a few it does not read,
// and several the entry lacks.
func supannStudent() Record {
	return Record{
		"objectClass":                 {"top", "person", "inetOrgPerson", "eduPerson", "supannPerson"},
		"uid":                         {"cmartin"},
		"mail":                        {"Camille.Martin@etu.univ-test.fr"},
		"supannMailPerso":             {"cam.martin97@example.org"},
		"givenName":                   {"Camille"},
		"sn":                          {"Martin"},
		"displayName":                 {"Camille Martin"},
		"supannCivilite":              {"Mme"},
		"supannOIDCDateDeNaissance":   {"1997-03-14"},
		"schacDateOfBirth":            {"19970314"},
		"supannEtuId":                 {"21801234"},
		"supannCodeINE":               {"0123456789A"},
		"supannRefId":                 {"{APOGEE}21801234", "{SCOLARITE}21801234"},
		"eduPersonPrincipalName":      {"cmartin@univ-test.fr"},
		"eduPersonAffiliation":        {"student", "member"},
		"eduPersonPrimaryAffiliation": {"student"},
		"supannEtablissement":         {"{UAI}0341087X"},
		"supannListeRouge":            {"FALSE"},
	}
}

func BenchmarkApply(b *testing.B) {
	m, err := Compile(Spec{Preset: PresetSupann})
	if err != nil {
		b.Fatal(err)
	}
	r := supannStudent()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Apply(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyFolded is BenchmarkApply on a record whose attribute names
// differ in case from the rules', as some directories return them.
func BenchmarkApplyFolded(b *testing.B) {
	m, err := Compile(Spec{Preset: PresetSupann})
	if err != nil {
		b.Fatal(err)
	}
	r := Record{}
	for k, v := range supannStudent() {
		r[k+""] = v
		if k != "uid" {
			delete(r, k)
			r[lowerASCII(k)] = v
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Apply(r); err != nil {
			b.Fatal(err)
		}
	}
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
