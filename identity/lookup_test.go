package identity

import (
	"slices"
	"testing"
)

func TestLookupKeys(t *testing.T) {
	c := Candidate{
		Account: Account{Status: StatusActive, GivenName: "Élodie-Marie", FamilyName: "D'Arc", BirthDate: "2001-02-03",
			Attributes: map[string][]string{
				FieldINE: {" 0123456789a "}, "supann_etu_id": {"e123"}, "supann_ref_id": {"{APOGEE}123"},
				"recovery_email": {"Elodie@Perso.Example"}, AttrEPPN: {"EDARC@univ.example"}, "affiliation": {"student"},
			}},
		Emails: []Email{{Address: "elodie.darc@univ.example", Verified: true}, {Address: "pending@x.example"}},
	}
	want := []LookupKey{
		{LookupEmail, "elodie.darc@univ.example"},
		{LookupEPPN, "edarc@univ.example"},
		{LookupINE, "0123456789A"},
		{LookupNameBirthDate, "d arc|elodie marie|2001-02-03"},
		{LookupRecoveryEmail, "elodie@perso.example"},
		{LookupEtuID, "E123"},
		{LookupRefID, "{APOGEE}123"},
	}
	if got := LookupKeys(c); !slices.Equal(got, want) {
		t.Fatalf("LookupKeys =\n%v\nwant\n%v", got, want)
	}
	c.Account.Status = StatusMerged
	if got := LookupKeys(c); got != nil {
		t.Fatalf("a merged account has lookup keys: %v", got)
	}
	if v := NameBirthDateValue("Martin", "", "1999-01-01"); v != "" {
		t.Fatalf("NameBirthDateValue without a given name = %q", v)
	}
	for _, k := range LookupKinds() {
		if !k.Valid() {
			t.Fatalf("%s not valid", k)
		}
	}
	if LookupKind("phone").Valid() {
		t.Fatal("phone is not a lookup kind")
	}
}

func TestLinkDigest(t *testing.T) {
	a := map[string][]string{"uid": {"x"}, "mail": {"a@b.example", "c@d.example"}}
	b := map[string][]string{"mail": {"a@b.example", "c@d.example"}, "uid": {"x"}}
	if LinkDigest(a) != LinkDigest(b) || len(LinkDigest(a)) != 32 {
		t.Fatalf("equal maps, digests %q and %q", LinkDigest(a), LinkDigest(b))
	}
	for _, other := range []map[string][]string{
		{"uid": {"x"}, "mail": {"c@d.example", "a@b.example"}}, // value order matters
		{"uid": {"x"}, "mail": {"a@b.examplec@d.example"}},     // no ambiguity from concatenation
		{"uid": {"x"}},
		nil,
	} {
		if LinkDigest(other) == LinkDigest(a) {
			t.Errorf("%v has the digest of %v", other, a)
		}
	}
}
