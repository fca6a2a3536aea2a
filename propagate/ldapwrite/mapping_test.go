package ldapwrite_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/canonid/canonid/propagate"
	"github.com/canonid/canonid/propagate/ldapwrite"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/")

func ptr[T any](v T) *T { return &v }

// goldenAccounts are the accounts whose attributes
// testdata/attributes.golden.json records.
func goldenAccounts() map[string]propagate.Account {
	return map[string]propagate.Account{
		"full": {
			ID: "0b9f6c1e-5d1a-4c1e-9a51-2f1c2d3e4f50", State: propagate.StateActive,
			Login: "amartin", GivenName: "Alice", FamilyName: "Martin", DisplayName: "Alice Martin (UFR Sciences)",
			BirthDate: "2001-03-14", Phone: "+33 6 12 34 56 78",
			Emails: []propagate.Email{
				{Address: "alice.martin@univ-test.fr", Primary: true},
				{Address: "alice.martin@gmail.example"},
			},
			Attributes:       map[string][]string{"affiliation": {"student", "member"}, "ine": {"0912345678A"}},
			Orgs:             []propagate.Org{{ID: "univ-test", Name: "Université de Test", Role: "member"}},
			DirectoryVisible: ptr(true),
			MailForward:      &propagate.MailForward{Address: "alice.martin@gmail.example", KeepCopy: true},
			Links:            []string{"ldap:campus:1234"},
			MergedLogins:     []string{"alice.ars"},
		},
		"minimal": {ID: "5e1d0a0f-7c53-4a57-8a1c-6b1d2c3e4f51", State: propagate.StateActive},
		"inactive, red list, forward without copy": {
			ID: "a1b2c3d4-0000-4000-8000-000000000001", State: propagate.StateInactive,
			Login: "bdupont", GivenName: "Bruno", FamilyName: "Dupont",
			Emails:           []propagate.Email{{Address: "bruno.dupont@univ-test.fr", Primary: true}},
			DirectoryVisible: ptr(false),
			MailForward:      &propagate.MailForward{Address: "bruno@laposte.example"},
		},
		"retired": {
			ID: "a1b2c3d4-0000-4000-8000-000000000002", State: propagate.StateRetired,
			SurvivorID: "0b9f6c1e-5d1a-4c1e-9a51-2f1c2d3e4f50",
			Login:      "alice.ars", GivenName: "Alice", FamilyName: "Martin",
		},
	}
}

func TestAttributesGolden(t *testing.T) {
	got := map[string]map[string][]string{}
	for name, a := range goldenAccounts() {
		got[name] = ldapwrite.Attributes(a)
	}
	data, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, '\n')
	path := filepath.Join("testdata", "attributes.golden.json")
	if *update {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(data) != string(want) {
		t.Errorf("Attributes() differs from %s (go test -update rewrites it):\n%s", path, data)
	}
}

func TestAttributes(t *testing.T) {
	const id = "0b9f6c1e-5d1a-4c1e-9a51-2f1c2d3e4f50"
	base := func() propagate.Account {
		return propagate.Account{ID: id, State: propagate.StateActive, Login: "amartin", GivenName: "Alice", FamilyName: "Martin"}
	}
	tests := []struct {
		name   string
		modify func(*propagate.Account)
		want   map[string][]string // the attributes to check; nil: absent
	}{
		{"directory choice not made", func(*propagate.Account) {},
			map[string][]string{"supannListeRouge": nil}},
		{"visible in the directory", func(a *propagate.Account) { a.DirectoryVisible = ptr(true) },
			map[string][]string{"supannListeRouge": {"FALSE"}}},
		{"red list", func(a *propagate.Account) { a.DirectoryVisible = ptr(false) },
			map[string][]string{"supannListeRouge": {"TRUE"}}},
		{"cn from given and family names", func(*propagate.Account) {},
			map[string][]string{"cn": {"Alice Martin"}, "displayName": nil}},
		{"cn from the display name", func(a *propagate.Account) { a.DisplayName = "Dr Alice Martin" },
			map[string][]string{"cn": {"Dr Alice Martin"}, "displayName": {"Dr Alice Martin"}}},
		{"cn from the given name alone", func(a *propagate.Account) { a.FamilyName = "" },
			map[string][]string{"cn": {"Alice"}, "sn": {"amartin"}, "givenName": {"Alice"}}},
		{"no names: the login", func(a *propagate.Account) { a.GivenName, a.FamilyName = "", " " },
			map[string][]string{"cn": {"amartin"}, "sn": {"amartin"}, "givenName": nil}},
		{"no names, no login: the id", func(a *propagate.Account) { a.GivenName, a.FamilyName, a.Login = "", "", "" },
			map[string][]string{"cn": {id}, "sn": {id}, "uid": nil}},
		{"primary mail first, repeats dropped", func(a *propagate.Account) {
			a.Emails = []propagate.Email{{Address: "b@x.example"}, {Address: " a@univ-test.fr ", Primary: true}, {Address: "B@X.example"}}
		}, map[string][]string{"mail": {"a@univ-test.fr", "b@x.example"}}},
		{"no mail", func(*propagate.Account) {}, map[string][]string{"mail": nil}},
		{"forward keeping a copy", func(a *propagate.Account) {
			a.Emails = []propagate.Email{{Address: "a@univ-test.fr", Primary: true}}
			a.MailForward = &propagate.MailForward{Address: "a@gmail.example", KeepCopy: true}
		}, map[string][]string{"mailForwardingAddress": {"a@gmail.example", "a@univ-test.fr"}}},
		{"forward without a copy", func(a *propagate.Account) {
			a.Emails = []propagate.Email{{Address: "a@univ-test.fr", Primary: true}}
			a.MailForward = &propagate.MailForward{Address: "a@gmail.example"}
		}, map[string][]string{"mailForwardingAddress": {"a@gmail.example"}}},
		{"forward keeping a copy, no mailbox", func(a *propagate.Account) {
			a.MailForward = &propagate.MailForward{Address: "a@gmail.example", KeepCopy: true}
		}, map[string][]string{"mailForwardingAddress": {"a@gmail.example"}}},
		{"affiliations", func(a *propagate.Account) {
			a.Attributes = map[string][]string{"affiliation": {"student", "member", "Student", ""}, "ine": {"0912345678A"}}
		}, map[string][]string{"eduPersonAffiliation": {"student", "member"}}},
		{"phone", func(a *propagate.Account) { a.Phone = "+33 4 67 00 00 00" },
			map[string][]string{"telephoneNumber": {"+33 4 67 00 00 00"}}},
		{"active", func(*propagate.Account) {},
			map[string][]string{"supannRessourceEtat": {ldapwrite.EtatActive}, "supannRefId": {"{CANONID}" + id}, "uid": {"amartin"}}},
		{"inactive", func(a *propagate.Account) { a.State = propagate.StateInactive },
			map[string][]string{"supannRessourceEtat": {ldapwrite.EtatInactive}}},
		{"retired", func(a *propagate.Account) { a.State = propagate.StateRetired },
			map[string][]string{"supannRessourceEtat": {ldapwrite.EtatInactive}}},
	}
	managed := ldapwrite.Attributes(base())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := base()
			tt.modify(&a)
			got := ldapwrite.Attributes(a)
			if len(got) != len(managed) {
				t.Errorf("Attributes() has %d attributes, want %d (one per managed attribute)", len(got), len(managed))
			}
			for name, want := range tt.want {
				values, ok := got[name]
				if !ok {
					t.Errorf("Attributes() has no key %s", name)
				}
				if !reflect.DeepEqual(values, want) {
					t.Errorf("Attributes()[%s] = %q, want %q", name, values, want)
				}
			}
		})
	}
}
