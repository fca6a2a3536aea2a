package identity

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// seedTime is when the demo data of the seed stories was created.
var seedTime = time.Date(2025, 12, 18, 10, 35, 0, 0, time.UTC)

// demoID derives ids as cmd/canonid/demo.go does, so that the golden plans
// name the demo's accounts.
func demoID(kind, key string) string {
	ns := uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://canonid.example/demo"))
	return uuid.NewSHA1(ns, []byte(kind+":"+key)).String()
}

// demoProvenance names source for every field a holds, as demo.go does.
func demoProvenance(a Account, hasEmail bool, source string) map[string]string {
	p := map[string]string{}
	for _, f := range []string{FieldLogin, FieldGivenName, FieldFamilyName, FieldDisplayName, FieldBirthDate, FieldPhone} {
		v := a.Login
		if f != FieldLogin {
			v = *stringField(&a, f)
		}
		if v != "" {
			p[f] = source
		}
	}
	if hasEmail {
		p[FieldEmail] = source
	}
	for f := range a.Attributes {
		p[f] = source
	}
	return p
}

// demoSide builds one demo person as demo.go seeds it.
func demoSide(key, source string, a Account, emails []Email, linkExternal string, linkAttrs map[string][]string, orgs ...string) Side {
	a.ID = demoID("account", key)
	a.CreatedAt, a.UpdatedAt, a.Version = seedTime, seedTime, 1
	a.Provenance = demoProvenance(a, len(emails) > 0, source)
	s := Side{Account: a}
	for _, e := range emails {
		e.AccountID, e.Source, e.CreatedAt = a.ID, source, seedTime
		if e.Verified {
			e.VerifiedAt = seedTime
		}
		s.Emails = append(s.Emails, e)
	}
	if linkExternal != "" {
		if linkExternal == "uuid" {
			linkExternal = demoID("link", source+"/"+key)
		}
		s.Links = append(s.Links, Link{Source: source, ExternalID: linkExternal, AccountID: a.ID, Status: LinkActive,
			Attributes: linkAttrs, CreatedAt: seedTime, UpdatedAt: seedTime})
	}
	for _, org := range orgs {
		s.Memberships = append(s.Memberships, Membership{OrgID: org, AccountID: a.ID, Role: RoleMember, State: MembershipValidated,
			ValidatedBy: "system:demo", ValidatedAt: seedTime, CreatedAt: seedTime, UpdatedAt: seedTime})
	}
	return s
}

// seed000 is the intern of seed 000 after step 2.1: the university account
// (survivor) holds the agency account's address as a pending secondary.
func seed000() (survivor, retired Side) {
	survivor = demoSide("camille.martin", "ldap:campus", Account{
		Status: StatusActive, Login: "camille.martin",
		GivenName: "Camille", FamilyName: "MARTIN", DisplayName: "Camille MARTIN", BirthDate: "1997-03-14",
		Attributes: map[string][]string{FieldAffiliation: {"student"}},
	}, []Email{{Address: "camille.martin@univ-test.fr", Verified: true, Primary: true}},
		"uuid", map[string][]string{"uid": {"camille.martin"}, "sn": {"MARTIN"}, "givenName": {"Camille"}, "mail": {"camille.martin@univ-test.fr"}},
		"univ-test")
	added := seedTime.Add(24 * time.Hour)
	survivor.Emails = append(survivor.Emails, Email{Address: "cam.martin97@mail.example", AccountID: survivor.Account.ID,
		Source: "self", CreatedAt: added})
	retired = demoSide("ars-occitanie/DES-2024-0173", "csv:ars-occitanie", Account{
		Status:    StatusActive,
		GivenName: "Camille", FamilyName: "MARTIN", DisplayName: "MARTIN Camille", BirthDate: "1997-03-14",
	}, []Email{{Address: "cam.martin97@mail.example", Verified: true, Primary: true}},
		"DES-2024-0173", map[string][]string{"Nom": {"MARTIN"}, "Prénom": {"Camille"}, "Date de naissance": {"14/03/1997"}, "Mail": {"cam.martin97@mail.example"}})
	return survivor, retired
}

// seed002 is the parent of seed 002: franck.cavel pastes the merge key of
// franck.cavel3.
func seed002() (survivor, retired Side) {
	survivor = demoSide("franck.cavel", "self", Account{
		Status: StatusActive, Login: "franck.cavel",
		GivenName: "Franck", FamilyName: "CAVEL", DisplayName: "Franck CAVEL", BirthDate: "1978-06-01",
	}, []Email{{Address: "franck.cavel@laposte.example", Verified: true, Primary: true}}, "", nil, "ecole-emile-zola")
	retired = demoSide("franck.cavel3", "self", Account{
		Status: StatusActive, Login: "franck.cavel3",
		GivenName: "FRANCK", FamilyName: "CAVEL", DisplayName: "FRANCK CAVEL", BirthDate: "1984-10-17",
		Phone: "182635151",
	}, []Email{{Address: "romain.gentef@ode.example", Verified: true, Primary: true}}, "", nil, "ecole-emile-zola")
	return survivor, retired
}

// rich has a bit of everything: shared addresses and orgs, several links,
// attributes on both sides, sources of every rank.
func rich() (survivor, retired Side) {
	t0 := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	s := Account{ID: "S", Status: StatusPendingValidation, Login: "s.login", GivenName: "Ann", FamilyName: "Smith",
		Phone:      "+33600000001",
		Attributes: map[string][]string{FieldAffiliation: {"member", "student"}, "profession": {"nurse"}},
		Provenance: map[string]string{FieldGivenName: "self", FieldFamilyName: "csv:ars", FieldPhone: "self",
			FieldAffiliation: "self", "profession": "self"},
		Version: 7}
	r := Account{ID: "R", Status: StatusSuspended, Login: "r.login", GivenName: "Anne", FamilyName: "SMITH",
		DisplayName: "Anne SMITH", BirthDate: "1990-01-01", Phone: "+33600000002",
		Attributes: map[string][]string{FieldAffiliation: {"student", "member"}, FieldINE: {"0123456789A"}, "profession": {"midwife"}},
		Provenance: map[string]string{FieldGivenName: "ldap:campus", FieldFamilyName: "csv:other", FieldDisplayName: "ldap:campus",
			FieldPhone: "admin", FieldAffiliation: "ldap:campus", FieldINE: "scim:sis", "profession": "self"},
		Version: 4}
	em := func(acc, addr string, verified, primary bool) Email {
		e := Email{Address: addr, AccountID: acc, Verified: verified, Primary: primary, Source: "src-" + acc, CreatedAt: t0}
		if verified {
			e.VerifiedAt = t0.Add(time.Hour)
		}
		return e
	}
	ms := func(acc, org string, role Role, state MembershipState) Membership {
		m := Membership{OrgID: org, AccountID: acc, Role: role, State: state, CreatedAt: t0, UpdatedAt: t0}
		if state == MembershipValidated {
			m.ValidatedBy, m.ValidatedAt = "admin:"+acc, t0
		}
		return m
	}
	survivor = Side{Account: s,
		Links: []Link{{Source: "self:x", ExternalID: "s1", AccountID: "S", Status: LinkActive}},
		Emails: []Email{
			em("S", "s@example.org", true, true),
			em("S", "shared-pending@example.org", false, false),
			em("S", "shared-both-pending@example.org", false, false),
			em("S", "shared-s-verified@example.org", true, false),
		},
		Memberships: []Membership{
			ms("S", "org-better", RoleMember, MembershipPending),
			ms("S", "org-worse", RoleOrgAdmin, MembershipValidated),
			ms("S", "org-mixed", RoleMember, MembershipValidated),
		}}
	retired = Side{Account: r,
		Links: []Link{
			{Source: "scim:hr", ExternalID: "r2", AccountID: "R", Status: LinkGone, Attributes: map[string][]string{"k": {"v"}}},
			{Source: "ldap:campus", ExternalID: "r1", AccountID: "R", Status: LinkActive},
		},
		Emails: []Email{
			em("R", "shared-pending@example.org", true, true),
			em("R", "shared-both-pending@example.org", false, false),
			em("R", "shared-s-verified@example.org", false, false),
			em("R", "r-only@example.org", true, false),
			em("R", "r-pending@example.org", false, false),
		},
		Memberships: []Membership{
			ms("R", "org-better", RoleOrgAdmin, MembershipValidated),
			ms("R", "org-worse", RoleMember, MembershipRejected),
			ms("R", "org-mixed", RoleOrgAdmin, MembershipPending),
			ms("R", "org-new", RoleMember, MembershipPending),
		}}
	return survivor, retired
}

// noPrimary: the survivor has no primary address, so it takes the retired
// one's; its shared pending row becomes primary and verified.
func noPrimary(shared bool) func() (Side, Side) {
	return func() (Side, Side) {
		s := Side{Account: Account{ID: "S", Status: StatusActive, Version: 1},
			Emails: []Email{{Address: "other@example.org", AccountID: "S"}}}
		r := Side{Account: Account{ID: "R", Status: StatusActive, Version: 1},
			Emails: []Email{{Address: "p@example.org", AccountID: "R", Verified: true, Primary: true}}}
		if shared {
			s.Emails = append(s.Emails, Email{Address: "p@example.org", AccountID: "S"})
		}
		return s, r
	}
}

func TestPlanMergeGolden(t *testing.T) {
	tests := []struct {
		file  string
		sides func() (Side, Side)
	}{
		{"plan_seed000_camille_martin.json", seed000},
		{"plan_seed002_franck_cavel.json", seed002},
		{"plan_rich.json", rich},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			s, r := tt.sides()
			plan, err := PlanMerge(s, r, DefaultPrecedence())
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(plan, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden(t, filepath.Join("testdata", tt.file), got)
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./identity -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the plan (run with -update to accept it); got:\n%s", path, got)
	}
}

// TestSeedStories checks the points of the seed stories the golden files
// show, so that a careless -update cannot hide them.
func TestSeedStories(t *testing.T) {
	t.Run("000", func(t *testing.T) {
		s, r := seed000()
		plan, err := PlanMerge(s, r, DefaultPrecedence())
		if err != nil {
			t.Fatal(err)
		}
		wantFields(t, plan, []string{
			"given_name=Camille[ldap:campus] from survivor",
			"family_name=MARTIN[ldap:campus] from survivor",
			"display_name=Camille MARTIN[ldap:campus] from survivor",
			"birth_date=1997-03-14[ldap:campus] from survivor",
			"affiliation=student[ldap:campus] from survivor",
		})
		// The pending secondary becomes verified, the agency row goes.
		if len(plan.Changes.DeleteEmails) != 1 || plan.Changes.DeleteEmails[0].AccountID != r.Account.ID {
			t.Errorf("DeleteEmails = %+v", plan.Changes.DeleteEmails)
		}
		if u := plan.Changes.UpdateEmails; len(u) != 1 || u[0].Address != "cam.martin97@mail.example" ||
			u[0].AccountID != s.Account.ID || !u[0].Verified || u[0].Primary {
			t.Errorf("UpdateEmails = %+v, want cam.martin97 verified, not primary, on the survivor", u)
		}
		if len(plan.Changes.AddEmails) != 0 {
			t.Errorf("AddEmails = %+v, want none", plan.Changes.AddEmails)
		}
		if l := plan.Changes.Links; len(l) != 1 || l[0].Source != "csv:ars-occitanie" || l[0].AccountID != s.Account.ID {
			t.Errorf("Links = %+v", l)
		}
		if len(plan.Moved.FieldsBefore) != 0 {
			t.Errorf("FieldsBefore = %v, want no field changed", plan.Moved.FieldsBefore)
		}
	})
	t.Run("002", func(t *testing.T) {
		s, r := seed002()
		plan, err := PlanMerge(s, r, DefaultPrecedence())
		if err != nil {
			t.Fatal(err)
		}
		wantFields(t, plan, []string{
			"given_name=Franck[self] from survivor",
			"family_name=CAVEL[self] from survivor",
			"display_name=Franck CAVEL[self] from survivor",
			"birth_date=1978-06-01[self] from survivor",
			"phone=182635151[self] from retired",
		})
		sa := plan.Changes.Accounts[0]
		if sa.Phone != "182635151" || sa.Login != "franck.cavel" || sa.BirthDate != "1978-06-01" || sa.Provenance[FieldPhone] != "self" {
			t.Errorf("survivor after = %+v", sa)
		}
		if ra := plan.Changes.Accounts[1]; ra.Login != "franck.cavel3" || ra.Status != StatusMerged || ra.MergedInto != s.Account.ID || ra.Phone != "182635151" {
			t.Errorf("retired after = %+v", ra)
		}
		if a := plan.Changes.AddEmails; len(a) != 1 || a[0].Address != "romain.gentef@ode.example" || !a[0].Verified || a[0].Primary {
			t.Errorf("AddEmails = %+v, want romain.gentef verified, not primary", a)
		}
		if len(plan.Changes.PutMemberships) != 0 || len(plan.Changes.DeleteMemberships) != 1 {
			t.Errorf("memberships: put %+v, delete %+v; want the retired one deleted only", plan.Changes.PutMemberships, plan.Changes.DeleteMemberships)
		}
		if !slices.Equal(plan.Moved.Memberships, []string{"ecole-emile-zola"}) {
			t.Errorf("Moved.Memberships = %v", plan.Moved.Memberships)
		}
	})
}

func wantFields(t *testing.T, plan Plan, want []string) {
	t.Helper()
	var got []string
	for _, f := range plan.Fields {
		got = append(got, fmt.Sprintf("%s=%s[%s] from %s", f.Field, f.Value, f.Source, f.From))
	}
	if !slices.Equal(got, want) {
		t.Errorf("Fields =\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestPlanMergeFields(t *testing.T) {
	type fv = map[string]FieldValue
	tests := []struct {
		name      string
		p         Precedence
		s, r      fv
		want      []string // FieldChoices as wantFields prints them
		wantAfter fv       // survivor values after, for the fields listed
	}{
		{"non-empty beats empty whatever the source", DefaultPrecedence(),
			fv{FieldPhone: {Source: "ldap:campus"}}, fv{FieldPhone: {Value: "0600", Source: "self"}},
			[]string{"phone=0600[self] from retired"}, fv{FieldPhone: {Value: "0600", Source: "self"}}},
		{"empty retired changes nothing", DefaultPrecedence(),
			fv{FieldPhone: {Value: "0600", Source: "self"}}, fv{FieldPhone: {Source: "ldap:campus"}},
			[]string{"phone=0600[self] from survivor"}, fv{FieldPhone: {Value: "0600", Source: "self"}}},
		{"better source wins", DefaultPrecedence(),
			fv{FieldGivenName: {Value: "ann", Source: "self"}}, fv{FieldGivenName: {Value: "Anne", Source: "ldap:campus"}},
			[]string{"given_name=Anne[ldap:campus] from retired"}, fv{FieldGivenName: {Value: "Anne", Source: "ldap:campus"}}},
		{"worse source loses", DefaultPrecedence(),
			fv{FieldGivenName: {Value: "Anne", Source: "csv:ars"}}, fv{FieldGivenName: {Value: "ann", Source: "admin"}},
			[]string{"given_name=Anne[csv:ars] from survivor"}, fv{FieldGivenName: {Value: "Anne", Source: "csv:ars"}}},
		{"tie keeps the survivor", DefaultPrecedence(),
			fv{FieldBirthDate: {Value: "1978-06-01", Source: "self"}}, fv{FieldBirthDate: {Value: "1984-10-17", Source: "self"}},
			[]string{"birth_date=1978-06-01[self] from survivor"}, fv{FieldBirthDate: {Value: "1978-06-01", Source: "self"}}},
		{"unmatched sources tie", DefaultPrecedence(),
			fv{FieldBirthDate: {Value: "1978-06-01", Source: "x"}}, fv{FieldBirthDate: {Value: "1984-10-17", Source: "y"}},
			[]string{"birth_date=1978-06-01[x] from survivor"}, fv{FieldBirthDate: {Value: "1978-06-01", Source: "x"}}},
		{"known source beats unmatched", DefaultPrecedence(),
			fv{FieldBirthDate: {Value: "1978-06-01", Source: "x"}}, fv{FieldBirthDate: {Value: "1984-10-17", Source: "self"}},
			[]string{"birth_date=1984-10-17[self] from retired"}, fv{FieldBirthDate: {Value: "1984-10-17", Source: "self"}}},
		{"unknown origin ranks last", DefaultPrecedence(),
			fv{FieldFamilyName: {Value: "Smith"}}, fv{FieldFamilyName: {Value: "SMITH", Source: "import"}},
			[]string{"family_name=SMITH[import] from retired"}, fv{FieldFamilyName: {Value: "SMITH", Source: "import"}}},
		{"same value, better source: provenance follows", DefaultPrecedence(),
			fv{FieldBirthDate: {Value: "1997-03-14", Source: "csv:ars"}}, fv{FieldBirthDate: {Value: "1997-03-14", Source: "ldap:campus"}},
			[]string{"birth_date=1997-03-14[ldap:campus] from retired"}, fv{FieldBirthDate: {Value: "1997-03-14", Source: "ldap:campus"}}},
		{"per-field override", Precedence{Default: []string{"ldap:*", "self"}, Fields: map[string][]string{FieldPhone: {"self", "ldap:*"}}},
			fv{FieldPhone: {Value: "01", Source: "ldap:campus"}, FieldGivenName: {Value: "A", Source: "ldap:campus"}},
			fv{FieldPhone: {Value: "06", Source: "self"}, FieldGivenName: {Value: "B", Source: "self"}},
			[]string{"given_name=A[ldap:campus] from survivor", "phone=06[self] from retired"},
			fv{FieldPhone: {Value: "06", Source: "self"}, FieldGivenName: {Value: "A", Source: "ldap:campus"}}},
		{"attributes compare as sets", DefaultPrecedence(),
			fv{FieldAffiliation: {Values: []string{"student", "member"}, Source: "self"}},
			fv{FieldAffiliation: {Values: []string{"member", "student", "member"}, Source: "self"}},
			[]string{"affiliation=student, member[self] from survivor"},
			fv{FieldAffiliation: {Values: []string{"student", "member"}, Source: "self"}}},
		{"attributes by precedence, sorted after typed fields", DefaultPrecedence(),
			fv{"zz": {Values: []string{"1"}, Source: "self"}, FieldINE: {Values: []string{"A"}, Source: "self"}},
			fv{FieldINE: {Values: []string{"B"}, Source: "scim:sis"}, "aa": {Values: []string{"x", "y"}}, FieldDisplayName: {Value: "D"}},
			[]string{"display_name=D[] from retired", "aa=x, y[] from retired", "ine=B[scim:sis] from retired", "zz=1[self] from survivor"},
			fv{FieldINE: {Values: []string{"B"}, Source: "scim:sis"}, "aa": {Values: []string{"x", "y"}}, "zz": {Values: []string{"1"}, Source: "self"},
				FieldDisplayName: {Value: "D"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Side{Account: Account{ID: "S", Status: StatusActive, Login: "s", Version: 2}}
			r := Side{Account: Account{ID: "R", Status: StatusActive, Login: "r", Version: 5}}
			for f, v := range tt.s {
				setField(&s.Account, f, v)
			}
			for f, v := range tt.r {
				setField(&r.Account, f, v)
			}
			sBefore, rBefore := cloneAccount(s.Account), cloneAccount(r.Account)
			plan, err := PlanMerge(s, r, tt.p)
			if err != nil {
				t.Fatal(err)
			}
			wantFields(t, plan, tt.want)
			sa := plan.Changes.Accounts[0]
			for f, want := range tt.wantAfter {
				if got := getField(sa, f); !sameValue(got, want) || got.Source != want.Source {
					t.Errorf("survivor %s after = %+v, want %+v", f, got, want)
				}
			}
			if sa.Login != "s" || sa.Status != StatusActive || sa.Version != 2 || sa.ID != "S" {
				t.Errorf("survivor after = %+v: login, status, version and id must not change", sa)
			}
			if ra := plan.Changes.Accounts[1]; ra.Status != StatusMerged || ra.MergedInto != "S" || ra.Version != 5 ||
				!reflect.DeepEqual(ra.Attributes, rBefore.Attributes) || ra.GivenName != rBefore.GivenName {
				t.Errorf("retired after = %+v: merged into S, fields untouched", ra)
			}
			if !reflect.DeepEqual(s.Account, sBefore) || !reflect.DeepEqual(r.Account, rBefore) {
				t.Error("PlanMerge modified its arguments")
			}
			if got, want := plan.Moved.Retired, (&AccountState{Status: StatusActive, Version: 5}); !reflect.DeepEqual(got, want) {
				t.Errorf("Moved.Retired = %+v, want %+v", got, want)
			}
			for _, fc := range plan.Fields {
				if fc.Source != "" && plan.Moved.Attributes[fc.Field] != fc.Source {
					t.Errorf("Moved.Attributes[%s] = %q, want %q", fc.Field, plan.Moved.Attributes[fc.Field], fc.Source)
				}
				_, changed := plan.Moved.FieldsAfter[fc.Field]
				if changed != (fc.From == FromRetired) {
					t.Errorf("field %s from %s, but recorded as changed = %t", fc.Field, fc.From, changed)
				}
			}
		})
	}
}

func TestPlanMergeEmails(t *testing.T) {
	e := func(acc, addr string, flags string) Email {
		return Email{Address: addr, AccountID: acc, Verified: strings.Contains(flags, "v"), Primary: strings.Contains(flags, "p")}
	}
	show := func(es []Email) string {
		var out []string
		for _, x := range es {
			flags := ""
			if x.Verified {
				flags += "v"
			}
			if x.Primary {
				flags += "p"
			}
			out = append(out, x.AccountID+":"+x.Address+":"+flags)
		}
		return strings.Join(out, " ")
	}
	tests := []struct {
		name                string
		s, r                []Email
		wantAdd, wantUpdate string
	}{
		{"survivor keeps its primary", []Email{e("S", "s@x.org", "vp")}, []Email{e("R", "r@x.org", "vp")},
			"S:r@x.org:v", ""},
		{"survivor without primary takes the retired one", []Email{e("S", "s@x.org", "")}, []Email{e("R", "r@x.org", "vp"), e("R", "q@x.org", "v")},
			"S:q@x.org:v S:r@x.org:vp", ""},
		{"pending moves pending", nil, []Email{e("R", "r@x.org", "")},
			"S:r@x.org:", ""},
		{"shared: survivor row becomes verified", []Email{e("S", "s@x.org", "vp"), e("S", "a@x.org", "")}, []Email{e("R", "a@x.org", "vp")},
			"", "S:a@x.org:v"},
		{"shared: survivor row becomes verified and primary", []Email{e("S", "a@x.org", "")}, []Email{e("R", "a@x.org", "vp")},
			"", "S:a@x.org:vp"},
		{"shared: both pending, nothing to update", []Email{e("S", "a@x.org", "")}, []Email{e("R", "a@x.org", "")},
			"", ""},
		{"shared: retired pending primary, survivor without primary", []Email{e("S", "a@x.org", "")}, []Email{e("R", "a@x.org", "p")},
			"", "S:a@x.org:p"},
		{"shared: survivor verified stays, never two verified", []Email{e("S", "a@x.org", "v"), e("S", "s@x.org", "p")}, []Email{e("R", "a@x.org", "")},
			"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Side{Account: Account{ID: "S", Status: StatusActive}, Emails: tt.s}
			r := Side{Account: Account{ID: "R", Status: StatusActive}, Emails: tt.r}
			plan, err := PlanMerge(s, r, DefaultPrecedence())
			if err != nil {
				t.Fatal(err)
			}
			if got, want := show(plan.Changes.DeleteEmails), show(sortedEmails(tt.r)); got != want {
				t.Errorf("DeleteEmails = %s, want every retired row %s", got, want)
			}
			if got := show(plan.Changes.AddEmails); got != tt.wantAdd {
				t.Errorf("AddEmails = %q, want %q", got, tt.wantAdd)
			}
			if got := show(plan.Changes.UpdateEmails); got != tt.wantUpdate {
				t.Errorf("UpdateEmails = %q, want %q", got, tt.wantUpdate)
			}
			w := newWorld(s, r)
			w.merge(t, "S", "R")
			if err := CheckInvariants(w.snapshot()); err != nil {
				t.Errorf("after the merge: %v", err)
			}
		})
	}
}

func TestPlanMergeMemberships(t *testing.T) {
	m := func(acc, org string, role Role, state MembershipState) Membership {
		return Membership{OrgID: org, AccountID: acc, Role: role, State: state}
	}
	s := Side{Account: Account{ID: "S", Status: StatusActive}, Memberships: []Membership{
		m("S", "a", RoleMember, MembershipPending),
		m("S", "b", RoleOrgAdmin, MembershipValidated),
		m("S", "c", RoleMember, MembershipValidated),
		m("S", "d", RoleMember, MembershipRejected),
		m("S", "only-s", RoleMember, MembershipValidated),
	}}
	r := Side{Account: Account{ID: "R", Status: StatusActive}, Memberships: []Membership{
		m("R", "new", RoleOrgAdmin, MembershipRejected),
		m("R", "d", RoleMember, MembershipPending),
		m("R", "c", RoleOrgAdmin, MembershipPending),
		m("R", "b", RoleMember, MembershipRejected),
		m("R", "a", RoleOrgAdmin, MembershipValidated),
	}}
	r.Memberships[4].ValidatedBy = "coordinator"
	plan, err := PlanMerge(s, r, DefaultPrecedence())
	if err != nil {
		t.Fatal(err)
	}
	show := func(ms []Membership) string {
		var out []string
		for _, x := range ms {
			out = append(out, fmt.Sprintf("%s:%s:%s:%s", x.AccountID, x.OrgID, x.Role, x.State))
		}
		return strings.Join(out, " ")
	}
	if got, want := show(plan.Changes.DeleteMemberships), "R:a:org-admin:validated R:b:member:rejected R:c:org-admin:pending R:d:member:pending R:new:org-admin:rejected"; got != want {
		t.Errorf("DeleteMemberships = %s, want %s", got, want)
	}
	if got, want := show(plan.Changes.PutMemberships), "S:a:org-admin:validated S:c:org-admin:validated S:d:member:pending S:new:org-admin:rejected"; got != want {
		t.Errorf("PutMemberships = %s, want %s", got, want)
	}
	if plan.Changes.PutMemberships[0].ValidatedBy != "coordinator" {
		t.Errorf("a validated state brings who validated it: %+v", plan.Changes.PutMemberships[0])
	}
	if got, want := plan.Moved.Memberships, []string{"a", "b", "c", "d", "new"}; !slices.Equal(got, want) {
		t.Errorf("Moved.Memberships = %v, want %v", got, want)
	}
	var before []string
	for _, b := range plan.Moved.MembershipsBefore {
		before = append(before, fmt.Sprintf("%s:%s:%s", b.OrgID, b.Role, b.State))
	}
	if got, want := strings.Join(before, " "), "a:member:pending b:org-admin:validated c:member:validated d:member:rejected"; got != want {
		t.Errorf("MembershipsBefore = %s, want %s", got, want)
	}
}

func TestPlanMergeLinksAndAccounts(t *testing.T) {
	s, r := rich()
	plan, err := PlanMerge(s, r, DefaultPrecedence())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := plan.Moved.Links, []LinkKey{{"ldap:campus", "r1"}, {"scim:hr", "r2"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Moved.Links = %v, want %v", got, want)
	}
	for _, l := range plan.Changes.Links {
		if l.AccountID != "S" {
			t.Errorf("link %s/%s goes to %s, want S", l.Source, l.ExternalID, l.AccountID)
		}
	}
	if plan.Changes.Links[1].Status != LinkGone || plan.Changes.Links[1].Attributes["k"][0] != "v" {
		t.Errorf("a moved link keeps its status and attributes: %+v", plan.Changes.Links[1])
	}
	sa, ra := plan.Changes.Accounts[0], plan.Changes.Accounts[1]
	if sa.ID != "S" || sa.Status != StatusPendingValidation || sa.Login != "s.login" || sa.Version != 7 {
		t.Errorf("survivor = %+v: keeps id, status, login and the version read", sa)
	}
	if ra.ID != "R" || ra.Status != StatusMerged || ra.MergedInto != "S" || ra.Login != "r.login" || ra.Version != 4 {
		t.Errorf("retired = %+v: merged into S, keeps its login, the version read", ra)
	}
	if got, want := plan.Moved.Retired, (&AccountState{Status: StatusSuspended, Version: 4}); !reflect.DeepEqual(got, want) {
		t.Errorf("Moved.Retired = %+v, want %+v", got, want)
	}
	// Deterministic: the same plan whatever the order of the rows.
	s2, r2 := rich()
	slices.Reverse(r2.Links)
	slices.Reverse(r2.Emails)
	slices.Reverse(r2.Memberships)
	slices.Reverse(s2.Emails)
	plan2, err := PlanMerge(s2, r2, DefaultPrecedence())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(plan, plan2) {
		t.Error("the plan depends on the order of the rows")
	}
}

func TestPlanMergeErrors(t *testing.T) {
	live := func(id string) Side { return Side{Account: Account{ID: id, Status: StatusActive}} }
	tests := []struct {
		name string
		s, r Side
		want string
	}{
		{"same account", live("A"), live("A"), "account A cannot be merged into itself"},
		{"no id", live(""), live("B"), "both accounts must have an id"},
		{"survivor merged", Side{Account: Account{ID: "A", Status: StatusMerged, MergedInto: "C"}}, live("B"),
			"survivor account A is already merged into C"},
		{"retired merged", live("A"), Side{Account: Account{ID: "B", Status: StatusMerged, MergedInto: "C"}},
			"retired account B is already merged into C"},
		{"unknown status", live("A"), Side{Account: Account{ID: "B", Status: "sleeping"}},
			`retired account B has unknown status "sleeping"`},
		{"link of another account", live("A"), Side{Account: Account{ID: "B", Status: StatusActive},
			Links: []Link{{Source: "ldap:campus", ExternalID: "1", AccountID: "A"}}},
			"retired side: link ldap:campus/1 belongs to account A, not B"},
		{"e-mail of another account", Side{Account: Account{ID: "A", Status: StatusActive},
			Emails: []Email{{Address: "x@y.org", AccountID: "B"}}}, live("B"),
			"survivor side: e-mail x@y.org belongs to account B, not A"},
		{"membership of another account", live("A"), Side{Account: Account{ID: "B", Status: StatusActive},
			Memberships: []Membership{{OrgID: "o", AccountID: "C"}}},
			"retired side: membership of org o belongs to account C, not B"},
		{"e-mail twice", live("A"), Side{Account: Account{ID: "B", Status: StatusActive},
			Emails: []Email{{Address: "x@y.org", AccountID: "B"}, {Address: "x@y.org", AccountID: "B"}}},
			"retired side: e-mail x@y.org appears twice"},
		{"attribute shadowing a field", Side{Account: Account{ID: "A", Status: StatusActive,
			Attributes: map[string][]string{FieldPhone: {"1"}}}}, live("B"),
			`survivor side: attribute "phone" shadows the account's own phone field`},
		{"every problem", Side{Account: Account{ID: "A", Status: StatusMerged, MergedInto: "C"}},
			Side{Account: Account{ID: "B", Status: StatusMerged, MergedInto: "C"}},
			"survivor account A is already merged into C; retired account B is already merged into C"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := PlanMerge(tt.s, tt.r, DefaultPrecedence())
			if err == nil || err.Error() != tt.want {
				t.Errorf("PlanMerge() error = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestMergeUndoRoundTrip applies a merge to in-memory sides, stores its
// record as the store does (JSON), undoes it and checks that everything is
// exactly as before, with CheckUndo and field by field.
func TestMergeUndoRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		sides func() (Side, Side)
	}{
		{"seed 000", seed000},
		{"seed 002", seed002},
		{"rich", rich},
		{"survivor without primary", noPrimary(false)},
		{"survivor without primary, shared address", noPrimary(true)},
		{"empty retired", func() (Side, Side) {
			return Side{Account: Account{ID: "S", Status: StatusActive}}, Side{Account: Account{ID: "R", Status: StatusPendingActivation}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, r := tt.sides()
			w := newWorld(s, r)
			before := w.clone()
			rec := w.merge(t, s.Account.ID, r.Account.ID)
			if err := CheckInvariants(w.snapshot()); err != nil {
				t.Fatalf("after the merge: %v", err)
			}
			if merged := w.side(r.Account.ID); len(merged.Links)+len(merged.Emails)+len(merged.Memberships) != 0 {
				t.Errorf("the retired account still owns %+v", merged)
			}
			w.undo(t, rec)
			if err := CheckInvariants(w.snapshot()); err != nil {
				t.Errorf("after the undo: %v", err)
			}
			if err := CheckUndo(before.snapshot(), w.snapshot(), rec); err != nil {
				t.Error(err)
			}
			before.assertSame(t, w)
		})
	}
}

// TestUndoKeepsLaterChanges: changes made after the merge that do not touch
// what it moved survive the undo.
func TestUndoKeepsLaterChanges(t *testing.T) {
	s, r := rich()
	w := newWorld(s, r)
	rec := w.merge(t, "S", "R")
	sa := w.accounts["S"]
	sa.FamilyName = "SMYTHE" // the merge kept the survivor's family name
	sa.Status = StatusActive
	w.accounts["S"] = sa
	w.emails = append(w.emails, Email{Address: "later@example.org", AccountID: "S", Verified: true})
	w.links = append(w.links, Link{Source: "oidc:sso", ExternalID: "later", AccountID: "S"})
	w.members = append(w.members, Membership{OrgID: "later", AccountID: "S", Role: RoleMember, State: MembershipPending})
	w.undo(t, rec)
	got := w.side("S")
	if got.Account.FamilyName != "SMYTHE" || got.Account.Status != StatusActive {
		t.Errorf("survivor = %+v: later changes lost", got.Account)
	}
	if got.Account.GivenName != "Ann" || got.Account.Provenance[FieldGivenName] != "self" {
		t.Errorf("survivor given_name = %q [%s], want the one before the merge", got.Account.GivenName, got.Account.Provenance[FieldGivenName])
	}
	if !slices.ContainsFunc(got.Emails, func(e Email) bool { return e.Address == "later@example.org" }) ||
		!slices.ContainsFunc(got.Links, func(l Link) bool { return l.ExternalID == "later" }) ||
		!slices.ContainsFunc(got.Memberships, func(m Membership) bool { return m.OrgID == "later" }) {
		t.Errorf("survivor lost what it gained after the merge: %+v", got)
	}
	if ra := w.accounts["R"]; ra.Status != StatusSuspended || ra.MergedInto != "" {
		t.Errorf("retired = %s merged into %q, want suspended again", ra.Status, ra.MergedInto)
	}
}

func TestPlanUndoConflicts(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(w *world)
		want   []string
	}{
		{"link moved elsewhere", func(w *world) { w.link("ldap:campus", "r1").AccountID = "other" },
			[]string{"link ldap:campus/r1 no longer belongs to the survivor S (moved or deleted since the merge)"}},
		{"link deleted", func(w *world) {
			w.links = slices.DeleteFunc(w.links, func(l Link) bool { return l.ExternalID == "r2" })
		}, []string{"link scim:hr/r2 no longer belongs to the survivor S (moved or deleted since the merge)"}},
		{"link on the retired account", func(w *world) { w.link("ldap:campus", "r1").AccountID = "R" },
			[]string{"link ldap:campus/r1 now belongs to account R"}},
		{"e-mail deleted", func(w *world) {
			w.emails = slices.DeleteFunc(w.emails, func(e Email) bool { return e.AccountID == "S" && e.Address == "r-only@example.org" })
		}, []string{"e-mail r-only@example.org was deleted from the survivor since the merge"}},
		{"e-mail unverified", func(w *world) { w.email("S", "shared-pending@example.org").Verified = false },
			[]string{"e-mail shared-pending@example.org is no longer verified on the survivor"}},
		{"moved pending e-mail verified since", func(w *world) { w.email("S", "r-pending@example.org").Verified = true },
			[]string{"e-mail r-pending@example.org was verified on the survivor since the merge"}},
		{"moved e-mail made primary since", func(w *world) {
			w.email("S", "s@example.org").Primary = false
			w.email("S", "r-only@example.org").Primary = true
		}, []string{"e-mail r-only@example.org became the survivor's primary address since the merge"}},
		{"e-mail added to the retired account", func(w *world) {
			w.emails = append(w.emails, Email{Address: "r-pending@example.org", AccountID: "R"})
		}, []string{"e-mail r-pending@example.org was added to the retired account R since the merge"}},
		{"primary added to the retired account", func(w *world) {
			w.emails = append(w.emails, Email{Address: "new@example.org", AccountID: "R", Primary: true})
		}, []string{"e-mail shared-pending@example.org cannot be the retired account's primary address again: new@example.org became primary there since the merge"}},
		{"field changed", func(w *world) { a := w.accounts["S"]; a.GivenName = "Annie"; w.accounts["S"] = a },
			[]string{`survivor's given_name changed since the merge ("Anne" -> "Annie")`}},
		{"field emptied", func(w *world) { delete(w.accounts["S"].Attributes, FieldINE) },
			[]string{`survivor's ine changed since the merge ("0123456789A" -> "")`}},
		{"field source changed", func(w *world) { a := w.accounts["S"]; a.Provenance[FieldDisplayName] = "admin"; w.accounts["S"] = a },
			[]string{`survivor's display_name source changed since the merge ("ldap:campus" -> "admin")`}},
		{"membership changed", func(w *world) { w.membership("S", "org-better").Role = RoleMember },
			[]string{"survivor's membership of org org-better changed since the merge (validated org-admin -> validated member)"}},
		{"membership removed", func(w *world) {
			w.members = slices.DeleteFunc(w.members, func(m Membership) bool { return m.AccountID == "S" && m.OrgID == "org-new" })
		}, []string{"survivor's membership of org org-new was removed since the merge"}},
		{"retired joined an org", func(w *world) {
			w.members = append(w.members, Membership{OrgID: "org-worse", AccountID: "R", Role: RoleMember, State: MembershipPending})
		}, []string{"retired account R joined org org-worse since the merge"}},
		{"survivor merged since", func(w *world) {
			a := w.accounts["S"]
			a.Status, a.MergedInto = StatusMerged, "T"
			w.accounts["S"] = a
		}, []string{"survivor S was merged into T since the merge"}},
		{"every reason at once", func(w *world) {
			w.link("ldap:campus", "r1").AccountID = "other"
			w.email("S", "shared-pending@example.org").Verified = false
			a := w.accounts["S"]
			a.Phone = "0"
			w.accounts["S"] = a
		}, []string{
			"link ldap:campus/r1 no longer belongs to the survivor S (moved or deleted since the merge)",
			"e-mail shared-pending@example.org is no longer verified on the survivor",
			`survivor's phone changed since the merge ("+33600000002" -> "0")`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, r := rich()
			w := newWorld(s, r)
			rec := w.merge(t, "S", "R")
			tt.mutate(w)
			_, err := PlanUndo(rec, w.side("S"), w.side("R"))
			var c *UndoConflict
			if !errors.As(err, &c) {
				t.Fatalf("PlanUndo() error = %v, want an *UndoConflict", err)
			}
			if c.MergeID != rec.ID || !slices.Equal(c.Reasons, tt.want) {
				t.Errorf("conflict %s:\n  %s\nwant\n  %s", c.MergeID, strings.Join(c.Reasons, "\n  "), strings.Join(tt.want, "\n  "))
			}
			if want := "merge m1 cannot be undone: " + strings.Join(tt.want, "; "); err.Error() != want {
				t.Errorf("Error() = %q, want %q", err.Error(), want)
			}
		})
	}
}

func TestPlanUndoMisuse(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(w *world, rec *MergeRecord) (s, r string)
		want   string
	}{
		{"already undone", func(w *world, rec *MergeRecord) (string, string) {
			rec.UndoneAt = seedTime
			return "S", "R"
		}, "merge m1 was already undone"},
		{"sides swapped", func(w *world, rec *MergeRecord) (string, string) { return "R", "S" },
			"merge m1 merged R into S, but the accounts given are R (survivor) and S (retired)"},
		{"retired not merged", func(w *world, rec *MergeRecord) (string, string) {
			a := w.accounts["R"]
			a.Status, a.MergedInto = StatusActive, ""
			w.accounts["R"] = a
			return "S", "R"
		}, `account R is not merged into S (status active, merged_into "")`},
		{"no retired state", func(w *world, rec *MergeRecord) (string, string) {
			rec.Moved.Retired = nil
			return "S", "R"
		}, "merge m1 does not record the live status the retired account had"},
		{"rows of another account", func(w *world, rec *MergeRecord) (string, string) {
			w.emails = append(w.emails, Email{Address: "x@example.org", AccountID: "S"})
			w.alias = map[string]string{"S": "R"} // side("R") also lists S's rows
			return "S", "R"
		}, "retired side: e-mail x@example.org belongs to account S, not R"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, r := rich()
			w := newWorld(s, r)
			rec := w.merge(t, "S", "R")
			sid, rid := tt.mutate(w, &rec)
			_, err := PlanUndo(rec, w.side(sid), w.side(rid))
			var c *UndoConflict
			if err == nil || errors.As(err, &c) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("PlanUndo() error = %v, want a plain error containing %q", err, tt.want)
			}
		})
	}
}

// world is an in-memory store of a few accounts that applies Changes with
// the constraints of the real stores.
type world struct {
	accounts map[string]Account
	links    []Link
	emails   []Email
	members  []Membership
	merges   []MergeRecord
	events   []EventRef
	alias    map[string]string // side(k) also lists the rows of alias[k]
}

func newWorld(sides ...Side) *world {
	w := &world{accounts: map[string]Account{}}
	for _, s := range sides {
		w.accounts[s.Account.ID] = cloneAccount(s.Account)
		w.links = append(w.links, s.Links...)
		w.emails = append(w.emails, s.Emails...)
		w.members = append(w.members, s.Memberships...)
	}
	return w
}

func (w *world) clone() *world {
	c := &world{accounts: map[string]Account{}, links: slices.Clone(w.links), emails: slices.Clone(w.emails),
		members: slices.Clone(w.members), merges: slices.Clone(w.merges), events: slices.Clone(w.events)}
	for id, a := range w.accounts {
		c.accounts[id] = cloneAccount(a)
	}
	return c
}

func (w *world) side(id string) Side {
	s := Side{Account: cloneAccount(w.accounts[id])}
	owns := func(acc string) bool { return acc == id || (w.alias != nil && w.alias[acc] == id) }
	for _, l := range w.links {
		if owns(l.AccountID) {
			s.Links = append(s.Links, l)
		}
	}
	for _, e := range w.emails {
		if owns(e.AccountID) {
			s.Emails = append(s.Emails, e)
		}
	}
	for _, m := range w.members {
		if owns(m.AccountID) {
			s.Memberships = append(s.Memberships, m)
		}
	}
	return s
}

func (w *world) link(source, ext string) *Link {
	for i := range w.links {
		if w.links[i].Source == source && w.links[i].ExternalID == ext {
			return &w.links[i]
		}
	}
	panic("no link " + source + "/" + ext)
}

func (w *world) email(acc, addr string) *Email {
	for i := range w.emails {
		if w.emails[i].AccountID == acc && w.emails[i].Address == addr {
			return &w.emails[i]
		}
	}
	panic("no e-mail " + acc + "/" + addr)
}

func (w *world) membership(acc, org string) *Membership {
	for i := range w.members {
		if w.members[i].AccountID == acc && w.members[i].OrgID == org {
			return &w.members[i]
		}
	}
	panic("no membership " + acc + "/" + org)
}

// apply writes c in the executor's order, failing as the stores would.
func (w *world) apply(c Changes) error {
	findEmail := func(acc, addr string) int {
		return slices.IndexFunc(w.emails, func(e Email) bool { return e.AccountID == acc && e.Address == addr })
	}
	checkEmail := func(e Email, self int) error {
		for i, o := range w.emails {
			switch {
			case i == self:
			case o.AccountID == e.AccountID && o.Address == e.Address:
				return fmt.Errorf("e-mail %s of %s: already exists", e.Address, e.AccountID)
			case e.Verified && o.Verified && o.Address == e.Address:
				return fmt.Errorf("e-mail %s: verified on %s already", e.Address, o.AccountID)
			case e.Primary && o.Primary && o.AccountID == e.AccountID:
				return fmt.Errorf("e-mail %s: %s already has primary %s", e.Address, e.AccountID, o.Address)
			}
		}
		return nil
	}
	findMember := func(acc, org string) int {
		return slices.IndexFunc(w.members, func(m Membership) bool { return m.AccountID == acc && m.OrgID == org })
	}
	for _, e := range c.DeleteEmails {
		i := findEmail(e.AccountID, e.Address)
		if i < 0 {
			return fmt.Errorf("delete e-mail %s of %s: not found", e.Address, e.AccountID)
		}
		w.emails = slices.Delete(w.emails, i, i+1)
	}
	for _, m := range c.DeleteMemberships {
		i := findMember(m.AccountID, m.OrgID)
		if i < 0 {
			return fmt.Errorf("delete membership %s of %s: not found", m.OrgID, m.AccountID)
		}
		w.members = slices.Delete(w.members, i, i+1)
	}
	for _, e := range c.AddEmails {
		if _, ok := w.accounts[e.AccountID]; !ok {
			return fmt.Errorf("add e-mail %s: unknown account %s", e.Address, e.AccountID)
		}
		if err := checkEmail(e, -1); err != nil {
			return fmt.Errorf("add: %w", err)
		}
		w.emails = append(w.emails, e)
	}
	for _, e := range c.UpdateEmails {
		i := findEmail(e.AccountID, e.Address)
		if i < 0 {
			return fmt.Errorf("update e-mail %s of %s: not found", e.Address, e.AccountID)
		}
		if err := checkEmail(e, i); err != nil {
			return fmt.Errorf("update: %w", err)
		}
		w.emails[i] = e
	}
	for _, l := range c.Links {
		p := slices.IndexFunc(w.links, func(o Link) bool { return o.Source == l.Source && o.ExternalID == l.ExternalID })
		if p < 0 {
			return fmt.Errorf("update link %s/%s: not found", l.Source, l.ExternalID)
		}
		w.links[p] = l
	}
	for _, m := range c.PutMemberships {
		if i := findMember(m.AccountID, m.OrgID); i >= 0 {
			m.CreatedAt = w.members[i].CreatedAt // an upsert keeps the creation time
			w.members[i] = m
		} else {
			w.members = append(w.members, m)
		}
	}
	for _, a := range c.Accounts {
		old, ok := w.accounts[a.ID]
		if !ok {
			return fmt.Errorf("update account %s: not found", a.ID)
		}
		if old.Version != a.Version {
			return fmt.Errorf("update account %s: version %d, stored %d", a.ID, a.Version, old.Version)
		}
		a.Version++
		w.accounts[a.ID] = cloneAccount(a)
	}
	return nil
}

// merge plans and applies a merge and keeps its record as the store does.
func (w *world) merge(t *testing.T, survivorID, retiredID string) MergeRecord {
	t.Helper()
	plan, err := PlanMerge(w.side(survivorID), w.side(retiredID), DefaultPrecedence())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.apply(plan.Changes); err != nil {
		t.Fatalf("applying the merge: %v", err)
	}
	rec := MergeRecord{ID: "m1", SurvivorID: survivorID, RetiredID: retiredID, Reason: MergeByAdmin, Actor: "test", CreatedAt: seedTime}
	data, err := json.Marshal(plan.Moved)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &rec.Moved); err != nil {
		t.Fatal(err)
	}
	w.merges = append(w.merges, rec)
	w.events = append(w.events, EventRef{"audit", EventAccountMerged, rec.ID}, EventRef{"outbox", EventAccountMerged, rec.ID})
	return rec
}

// undo plans and applies the undo of rec, and marks it undone.
func (w *world) undo(t *testing.T, rec MergeRecord) {
	t.Helper()
	ch, err := PlanUndo(rec, w.side(rec.SurvivorID), w.side(rec.RetiredID))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.apply(ch); err != nil {
		t.Fatalf("applying the undo: %v", err)
	}
	for i := range w.merges {
		if w.merges[i].ID == rec.ID {
			w.merges[i].UndoneAt = seedTime.Add(time.Hour)
		}
	}
	w.events = append(w.events, EventRef{"audit", EventAccountUnmerged, rec.ID}, EventRef{"outbox", EventAccountUnmerged, rec.ID})
}

func (w *world) snapshot() Snapshot {
	s := Snapshot{Links: w.links, Emails: w.emails, Merges: w.merges, Events: w.events}
	for _, id := range sortedKeys(w.accounts) {
		s.Accounts = append(s.Accounts, w.accounts[id])
	}
	return s
}

// assertSame checks that other holds exactly the rows of w, accounts but for
// their version.
func (w *world) assertSame(t *testing.T, other *world) {
	t.Helper()
	norm := func(x *world) *world {
		c := x.clone()
		for id, a := range c.accounts {
			a.Version = 0
			if len(a.Attributes) == 0 {
				a.Attributes = nil
			}
			if len(a.Provenance) == 0 {
				a.Provenance = nil
			}
			c.accounts[id] = a
		}
		slices.SortFunc(c.links, func(a, b Link) int { return strings.Compare(a.Source+"/"+a.ExternalID, b.Source+"/"+b.ExternalID) })
		slices.SortFunc(c.emails, func(a, b Email) int { return strings.Compare(a.AccountID+"/"+a.Address, b.AccountID+"/"+b.Address) })
		slices.SortFunc(c.members, func(a, b Membership) int { return strings.Compare(a.AccountID+"/"+a.OrgID, b.AccountID+"/"+b.OrgID) })
		for i := range c.members {
			c.members[i].UpdatedAt = time.Time{} // the stores set it on every write
		}
		c.merges, c.events = nil, nil
		return c
	}
	a, b := norm(w), norm(other)
	for _, id := range sortedKeys(a.accounts) {
		if !reflect.DeepEqual(a.accounts[id], b.accounts[id]) {
			t.Errorf("account %s:\nbefore %+v\nafter  %+v", id, a.accounts[id], b.accounts[id])
		}
	}
	if !reflect.DeepEqual(a.links, b.links) {
		t.Errorf("links:\nbefore %+v\nafter  %+v", a.links, b.links)
	}
	if !reflect.DeepEqual(a.emails, b.emails) {
		t.Errorf("e-mails:\nbefore %+v\nafter  %+v", a.emails, b.emails)
	}
	if !reflect.DeepEqual(a.members, b.members) {
		t.Errorf("memberships:\nbefore %+v\nafter  %+v", a.members, b.members)
	}
}

func TestMergeConsents(t *testing.T) {
	yes, no := true, false
	early, late := time.Date(2024, 9, 1, 8, 0, 0, 0, time.UTC), time.Date(2025, 9, 1, 8, 0, 0, 0, time.UTC)
	survivor := Side{Account: Account{ID: "s", Status: StatusActive, Version: 3,
		Consents: Consents{CharterVersion: "2024", CharterAcceptedAt: early, DirectoryVisible: &yes}}}
	retired := Side{Account: Account{ID: "r", Status: StatusActive, Version: 1,
		Consents: Consents{CharterVersion: "2025", CharterAcceptedAt: late, DirectoryVisible: &no}}}
	plan, err := PlanMerge(survivor, retired, DefaultPrecedence())
	if err != nil {
		t.Fatal(err)
	}
	got := plan.Changes.Accounts[0].Consents
	if got.CharterVersion != "2025" || !got.CharterAcceptedAt.Equal(late) || got.DirectoryVisible == nil || *got.DirectoryVisible {
		t.Fatalf("merged consents: %+v", got)
	}
	// Undo gives the survivor its own consents back.
	rec := MergeRecord{ID: "m", SurvivorID: "s", RetiredID: "r", Moved: plan.Moved}
	merged := Side{Account: plan.Changes.Accounts[0]}
	gone := Side{Account: plan.Changes.Accounts[1]}
	ch, err := PlanUndo(rec, merged, gone)
	if err != nil {
		t.Fatal(err)
	}
	if back := ch.Accounts[0].Consents; back.CharterVersion != "2024" || back.DirectoryVisible == nil || !*back.DirectoryVisible {
		t.Fatalf("consents after undo: %+v", back)
	}
	// A consent changed since the merge blocks the undo.
	merged.Account.Consents.DirectoryVisible = &yes
	if _, err := PlanUndo(rec, merged, gone); err == nil || !strings.Contains(err.Error(), "consents") {
		t.Fatalf("undo after a consent change: %v", err)
	}
}
