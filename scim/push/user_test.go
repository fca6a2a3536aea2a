package push

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/canonid/canonid/propagate"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// mappingCases are the accounts of the golden mapping test.
func mappingCases() []struct {
	name string
	a    propagate.Account
} {
	full := propagate.Account{
		ID: "0b5c1e0a-6c36-4a5e-9d38-2f0d2c6d7a11", State: propagate.StateActive, Login: "jean.dupont",
		GivenName: "Jean", FamilyName: "Dupont", DisplayName: "Jean Dupont (Biologie)", BirthDate: "1990-05-17",
		Phone: "+33 4 67 00 00 01",
		Emails: []propagate.Email{
			{Address: "jean.dupont@univ-test.fr", Primary: true},
			{Address: "jdupont.perso@gmail.com"},
		},
		Attributes:   map[string][]string{"supann_emp_id": {"E12345"}, "affiliation": {"staff"}},
		Orgs:         []propagate.Org{{ID: "univ-test", Name: "Université Test", Role: "member"}},
		MergedLogins: []string{"jdupont.perso"},
	}
	noLogin := full
	noLogin.Login, noLogin.DisplayName, noLogin.Phone, noLogin.Attributes = "", "", "", nil
	noPrimaryFlag := noLogin
	noPrimaryFlag.Emails = []propagate.Email{{Address: "a@univ-test.fr"}, {Address: "b@univ-test.fr"}}
	bare := propagate.Account{ID: "4f7e2d4c-1a55-4b8e-8b0e-3c1d2e3f4a5b", State: propagate.StateActive}
	inactive := full
	inactive.State = propagate.StateInactive
	retired := full
	retired.State, retired.SurvivorID, retired.Emails = propagate.StateRetired, "9a8b7c6d-0000-4000-8000-000000000001", nil
	return []struct {
		name string
		a    propagate.Account
	}{
		{"active", full},
		{"no login", noLogin},
		{"no primary flag", noPrimaryFlag},
		{"no login no email", bare},
		{"inactive", inactive},
		{"retired", retired},
	}
}

// TestMappingGolden checks the User each account maps to, and the PATCH
// that writes it, against testdata/mapping.golden.json (go test -update
// rewrites it).
func TestMappingGolden(t *testing.T) {
	type golden struct {
		Name  string       `json:"name"`
		User  user         `json:"user"`
		Patch patchRequest `json:"patch"`
	}
	var got []golden
	for _, c := range mappingCases() {
		u := userResource(c.a)
		got = append(got, golden{Name: c.name, User: u, Patch: patchOps(u)})
	}
	out, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, '\n')
	path := filepath.Join("testdata", "mapping.golden.json")
	if *update {
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("the mapping differs from %s (go test -update rewrites it); got:\n%s", path, out)
	}
}

func TestDrift(t *testing.T) {
	base := userResource(account("acc-1", "jean", "Jean", "Dupont", "jean@univ-test.fr", "jd@perso.example"))
	for _, c := range []struct {
		name   string
		change func(u *user)
		want   []string
	}{
		{"same", func(u *user) {}, nil},
		{"userName in another case", func(u *user) { u.UserName = "JEAN" }, nil},
		{"addresses in another case and order", func(u *user) {
			u.Emails = []multiValue{{Value: "JD@perso.example"}, {Value: "Jean@Univ-Test.fr", Primary: true}}
		}, nil},
		{"another primary", func(u *user) {
			u.Emails = []multiValue{{Value: "jd@perso.example", Primary: true}, {Value: "jean@univ-test.fr"}}
		}, []string{"emails"}},
		{"an address missing", func(u *user) { u.Emails = u.Emails[:1] }, []string{"emails"}},
		{"renamed, deactivated", func(u *user) {
			u.UserName, u.Name, u.Active = "jeanne", &personName{GivenName: "Jeanne", FamilyName: "Dupont"}, false
		}, []string{"userName", "name.givenName", "active"}},
		{"no name", func(u *user) { u.Name = nil }, []string{"name.givenName", "name.familyName"}},
		{"extra phone and display name", func(u *user) {
			u.PhoneNumbers, u.DisplayName = []multiValue{{Value: "+33 1"}}, "JD"
		}, []string{"displayName", "phoneNumbers"}},
		{"another externalId", func(u *user) { u.ExternalID = "acc-2" }, []string{"externalId"}},
	} {
		got := base
		got.Emails = slices.Clone(base.Emails)
		c.change(&got)
		if d := drift(base, got); !slices.Equal(d, c.want) {
			t.Errorf("%s: drift %v, want %v", c.name, d, c.want)
		}
	}
	// A single phone whose provider drops the primary flag still matches.
	withPhone := base
	withPhone.PhoneNumbers = []multiValue{{Value: "+33 1", Type: "work", Primary: true}}
	remote := withPhone
	remote.PhoneNumbers = []multiValue{{Value: "+33 1"}}
	if d := drift(withPhone, remote); d != nil {
		t.Errorf("phone without the primary flag: drift %v", d)
	}
}

// TestFlexBool reads the booleans providers answer.
func TestFlexBool(t *testing.T) {
	for in, want := range map[string]bool{`true`: true, `false`: false, `"True"`: true, `"False"`: false, `null`: false} {
		var b flexBool
		if err := json.Unmarshal([]byte(in), &b); err != nil || bool(b) != want {
			t.Errorf("%s: %v, %v; want %v", in, b, err, want)
		}
	}
	var b flexBool
	if err := json.Unmarshal([]byte(`"maybe"`), &b); err == nil {
		t.Error(`"maybe" read as a boolean`)
	}
}
