package identity

import (
	"slices"
	"strings"
	"testing"
)

// The demo people of cmd/canonid/demo.go, as duplicate detection sees them.
var (
	// seed 000: the intern's university account...
	internUniversity = Candidate{
		Account: Account{ID: "camille-univ", Status: StatusActive, Login: "camille.martin",
			GivenName: "Camille", FamilyName: "MARTIN", DisplayName: "Camille MARTIN", BirthDate: "1997-03-14",
			Attributes: map[string][]string{FieldAffiliation: {"student"}}},
		Emails: []Email{{Address: "camille.martin@univ-test.fr", Verified: true, Primary: true}},
	}
	// ...and the account the regional agency created with her personal address.
	internAgency = Candidate{
		Account: Account{ID: "camille-ars", Status: StatusActive,
			GivenName: "Camille", FamilyName: "MARTIN", DisplayName: "MARTIN Camille", BirthDate: "1997-03-14"},
		Emails: []Email{{Address: "cam.martin97@mail.example", Verified: true, Primary: true}},
	}
	// seed 001: created by HR, not activated.
	staffDupont = Candidate{
		Account: Account{ID: "jdupont", Status: StatusPendingActivation, Login: "jdupont",
			GivenName: "Julie", FamilyName: "DUPONT", DisplayName: "Julie DUPONT",
			Attributes: map[string][]string{FieldRecoveryEmail: {"julie.dupont@perso.example"}}},
	}
	// seed 002: the parent's account to keep...
	parentKeep = Candidate{
		Account: Account{ID: "franck-keep", Status: StatusActive, Login: "franck.cavel",
			GivenName: "Franck", FamilyName: "CAVEL", DisplayName: "Franck CAVEL", BirthDate: "1978-06-01"},
		Emails: []Email{{Address: "franck.cavel@laposte.example", Verified: true, Primary: true}},
	}
	// ...and the one to drop; the seed really shows another birth date.
	parentDrop = Candidate{
		Account: Account{ID: "franck-drop", Status: StatusActive, Login: "franck.cavel3",
			GivenName: "FRANCK", FamilyName: "CAVEL", DisplayName: "FRANCK CAVEL", BirthDate: "1984-10-17",
			Phone: "182635151"},
		Emails: []Email{{Address: "romain.gentef@ode.example", Verified: true, Primary: true}},
	}
	// seed 003: a self-registered nurse.
	nurseLeroy = Candidate{
		Account: Account{ID: "sophie", Status: StatusPendingValidation,
			GivenName: "Sophie", FamilyName: "LEROY", DisplayName: "Sophie LEROY", Phone: "+33600000003"},
		Emails: []Email{{Address: "sophie.leroy@infirmiere.example", Verified: true, Primary: true}},
	}
)

// keyStrings returns the stored forms of keys.
func keyStrings(keys []BlockingKey) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.String()
	}
	return out
}

// sharedKeys returns the stored forms of the keys a and b have in common.
func sharedKeys(a, b Candidate) []string {
	bk := keyStrings(BlockingKeys(b))
	var out []string
	for _, k := range keyStrings(BlockingKeys(a)) {
		if slices.Contains(bk, k) {
			out = append(out, k)
		}
	}
	return out
}

func TestBlockingKeysDemoPeople(t *testing.T) {
	tests := []struct {
		name string
		c    Candidate
		want []string
	}{
		{"intern university", internUniversity, []string{
			"email_local:camille martin", "full_name:camille martin", "name_birth:martin|1997-03-14"}},
		{"intern agency", internAgency, []string{
			"email_local:cam martin97", "full_name:camille martin", "name_birth:martin|1997-03-14"}},
		{"staff without birth date or address", staffDupont, []string{"full_name:dupont julie"}},
		{"parent to keep", parentKeep, []string{
			"email_local:franck cavel", "full_name:cavel franck", "name_birth:cavel|1978-06-01"}},
		{"parent to drop", parentDrop, []string{
			"email_local:romain gentef", "full_name:cavel franck", "name_birth:cavel|1984-10-17"}},
		{"nurse", nurseLeroy, []string{"email_local:sophie leroy", "full_name:leroy sophie"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := keyStrings(BlockingKeys(tt.c)); !slices.Equal(got, tt.want) {
				t.Errorf("BlockingKeys = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBlockingKeysSharedByDemoDuplicates(t *testing.T) {
	tests := []struct {
		name string
		a, b Candidate
		want []string
	}{
		// "FRANCK CAVEL" and "Franck CAVEL" meet although their birth dates differ.
		{"cavel", parentKeep, parentDrop, []string{"full_name:cavel franck"}},
		{"intern", internUniversity, internAgency, []string{"full_name:camille martin", "name_birth:martin|1997-03-14"}},
		{"strangers", internUniversity, nurseLeroy, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sharedKeys(tt.a, tt.b); !slices.Equal(got, tt.want) {
				t.Errorf("shared keys = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBlockingKeys(t *testing.T) {
	emails := func(addrs ...string) []Email {
		out := make([]Email, len(addrs))
		for i, a := range addrs {
			out[i] = Email{Address: a, Verified: true}
		}
		return out
	}
	tests := []struct {
		name string
		c    Candidate
		want []string
	}{
		{"empty", Candidate{}, nil},
		{"given and family reversed meet", Candidate{Account: Account{GivenName: "Cavel", FamilyName: "Franck"}},
			[]string{"full_name:cavel franck"}},
		{"accents case and hyphens folded", Candidate{Account: Account{
			GivenName: "Jean-François", FamilyName: "LE GOFF-HÉLIAS", BirthDate: " 1980-01-02 "}},
			[]string{"full_name:francois goff helias jean le", "name_birth:legoffhelias|1980-01-02"}},
		{"family name only", Candidate{Account: Account{FamilyName: "MARTIN", BirthDate: "1997-03-14"}},
			[]string{"name_birth:martin|1997-03-14"}},
		{"birth date needs a family name", Candidate{Account: Account{GivenName: "Camille", BirthDate: "1997-03-14"}}, nil},
		{"role addresses make no key", Candidate{Emails: emails(
			"contact@cpts-sud.example", "admin@univ-test.fr", "info@mail.example", "no-reply@ode.example",
			"noreply@ode.example", "secretariat.medecine@univ-test.fr", "Accueil@mairie.example",
			"scolarite-droit@univ-test.fr")}, nil},
		{"short local parts make no key", Candidate{Emails: emails("jb@mail.example", "k.m@mail.example", "abc@x.example")}, nil},
		{"plus tag stripped, duplicates merged", Candidate{Emails: emails(
			"camille.martin+lms@univ-test.fr", "camille.martin@mail.example", "Camille_Martin@other.example")},
			[]string{"email_local:camille martin"}},
		{"address without at ignored", Candidate{Emails: emails("camille.martin")}, nil},
		{"national ids", Candidate{Account: Account{Attributes: map[string][]string{
			FieldINE:        {" 0123456789a ", ""},
			"supann_ref_id": {"{APOGEE}12345"},
			"supann_etu_id": {"21900001"},
			"supann_emp_id": {"e1234"},
			"other":         {"ignored"},
		}}}, []string{
			"national_id:ine=0123456789A", "national_id:supann_emp_id=E1234",
			"national_id:supann_etu_id=21900001", "national_id:supann_ref_id={APOGEE}12345"}},
		{"merged account has none", Candidate{Account: Account{Status: StatusMerged, GivenName: "Camille",
			FamilyName: "MARTIN", BirthDate: "1997-03-14"}, Emails: emails("camille.martin@univ-test.fr")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := BlockingKeys(tt.c)
			if gs := keyStrings(got); !slices.Equal(gs, tt.want) {
				t.Errorf("BlockingKeys = %q, want %q", gs, tt.want)
			}
			if !slices.IsSortedFunc(got, compareKeys) {
				t.Errorf("BlockingKeys not sorted: %q", keyStrings(got))
			}
			if len(slices.Compact(slices.Clone(got))) != len(got) {
				t.Errorf("BlockingKeys not deduplicated: %q", keyStrings(got))
			}
		})
	}
}

// matchFields returns the Field of every match.
func matchFields(ms []Match) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Field
	}
	return out
}

func TestScorePair(t *testing.T) {
	person := func(given, family, birth string, attrs map[string][]string, emails ...Email) Candidate {
		return Candidate{Account: Account{GivenName: given, FamilyName: family, BirthDate: birth, Attributes: attrs}, Emails: emails}
	}
	verified := func(a string) Email { return Email{Address: a, Verified: true} }
	pending := func(a string) Email { return Email{Address: a} }
	ine := func(v ...string) map[string][]string { return map[string][]string{FieldINE: v} }

	tests := []struct {
		name    string
		a, b    Candidate
		want    float64
		suggest bool
		matches []Match
	}{
		{"intern university and agency accounts", internUniversity, internAgency, 0.85, true, []Match{
			{"family_name", "MARTIN"}, {"given_name", "Camille"}, {"birth_date", "1997-03-14"}}},
		// Same names, but the seed shows two birth dates: 0.35 + 0.2 - 0.3.
		{"cavel pair explains names and the birth date conflict", parentKeep, parentDrop, 0.25, false, []Match{
			{"family_name", "CAVEL"}, {"given_name", "Franck / FRANCK"}, {"birth_date_conflict", "1978-06-01 / 1984-10-17"}}},
		{"strangers", internUniversity, nurseLeroy, 0, false, []Match{{"given_name_conflict", "Camille / Sophie"}}},
		// Family name and birth date alone would make 0.65.
		{"twins", person("Camille", "MARTIN", "1997-03-14", nil), person("Lou", "MARTIN", "1997-03-14", nil),
			0.45, false, []Match{{"family_name", "MARTIN"}, {"given_name_conflict", "Camille / Lou"}, {"birth_date", "1997-03-14"}}},
		{"same ine alone", person("Camille", "MARTIN", "", ine("0123456789A")), person("Lou", "DURAND", "", ine(" 0123456789a")),
			0.95, true, []Match{{"ine", "0123456789A"}, {"given_name_conflict", "Camille / Lou"}}},
		{"same ine despite a birth date conflict", person("", "", "1997-03-14", ine("0123456789A")), person("", "", "1997-04-13", ine("0123456789A")),
			0.95, true, []Match{{"ine", "0123456789A"}, {"birth_date_conflict", "1997-03-14 / 1997-04-13"}}},
		{"same ine and names", person("Camille", "MARTIN", "", ine("0123456789A")), person("Camille", "Martin", "", ine("0123456789A")),
			1, true, []Match{{"ine", "0123456789A"}, {"family_name", "MARTIN / Martin"}, {"given_name", "Camille"}}},
		{"different ine caps the score", person("Camille", "MARTIN", "1997-03-14", ine("0123456789A")), person("Camille", "MARTIN", "1997-03-14", ine("9876543210B")),
			0.3, false, []Match{{"ine_conflict", "0123456789A / 9876543210B"},
				{"family_name", "MARTIN"}, {"given_name", "Camille"}, {"birth_date", "1997-03-14"}}},
		{"ine on one side only", person("Camille", "MARTIN", "1997-03-14", ine("0123456789A")), person("Camille", "MARTIN", "1997-03-14", nil),
			0.85, true, []Match{{"family_name", "MARTIN"}, {"given_name", "Camille"}, {"birth_date", "1997-03-14"}}},
		{"supann ref ids under one label conflict", person("Camille", "MARTIN", "1997-03-14", map[string][]string{"supann_ref_id": {"{APOGEE}1"}}),
			person("Camille", "MARTIN", "1997-03-14", map[string][]string{"supann_ref_id": {"{APOGEE}2"}}),
			0.3, false, []Match{{"supann_ref_id_conflict", "{APOGEE}1 / {APOGEE}2"},
				{"family_name", "MARTIN"}, {"given_name", "Camille"}, {"birth_date", "1997-03-14"}}},
		{"supann ref ids under two labels do not", person("Camille", "MARTIN", "1997-03-14", map[string][]string{"supann_ref_id": {"{APOGEE}1"}}),
			person("Camille", "MARTIN", "1997-03-14", map[string][]string{"supann_ref_id": {"{SIHAM}2"}}),
			0.85, true, []Match{{"family_name", "MARTIN"}, {"given_name", "Camille"}, {"birth_date", "1997-03-14"}}},
		{"student numbers of two institutions do not conflict", person("Camille", "MARTIN", "1997-03-14", map[string][]string{"supann_etu_id": {"2190001"}}),
			person("Camille", "MARTIN", "1997-03-14", map[string][]string{"supann_etu_id": {"A77"}}),
			0.85, true, []Match{{"family_name", "MARTIN"}, {"given_name", "Camille"}, {"birth_date", "1997-03-14"}}},
		{"same student number", person("", "", "", map[string][]string{"supann_etu_id": {"2190001"}}),
			person("", "", "", map[string][]string{"supann_etu_id": {"2190001", "A77"}}),
			0.95, true, []Match{{"supann_etu_id", "2190001"}}},
		{"folded names", person("Hélène", "LE GOFF", "", nil), person("HELENE", "Le-Goff", "", nil),
			0.55, false, []Match{{"family_name", "LE GOFF / Le-Goff"}, {"given_name", "Hélène / HELENE"}}},
		{"initial", person("J.", "MARTIN", "1997-03-14", nil), person("Julie", "MARTIN", "1997-03-14", nil),
			0.75, true, []Match{{"family_name", "MARTIN"}, {"given_name_compatible", "J. / Julie"}, {"birth_date", "1997-03-14"}}},
		{"compound initials", person("Jean-Pierre", "MARTIN", "", nil), person("J.-P.", "MARTIN", "", nil),
			0.45, false, []Match{{"family_name", "MARTIN"}, {"given_name_compatible", "Jean-Pierre / J.-P."}}},
		{"first given name", person("Jean", "MARTIN", "", nil), person("Jean Pierre", "MARTIN", "", nil),
			0.45, false, []Match{{"family_name", "MARTIN"}, {"given_name_compatible", "Jean / Jean Pierre"}}},
		{"same first letter is not enough", person("Camille", "MARTIN", "", nil), person("Claire", "MARTIN", "", nil),
			0.15, false, []Match{{"family_name", "MARTIN"}, {"given_name_conflict", "Camille / Claire"}}},
		{"birth date conflict alone floors at zero", person("", "", "1997-03-14", nil), person("", "", "1998-03-14", nil),
			0, false, []Match{{"birth_date_conflict", "1997-03-14 / 1998-03-14"}}},
		{"same address", person("", "", "", nil, verified("camille.martin@univ-test.fr")), person("", "", "", nil, pending("Camille.Martin@univ-test.fr")),
			0.5, false, []Match{{"email", "camille.martin@univ-test.fr"}}},
		{"same address pending on both is no evidence", person("", "", "", nil, pending("camille.martin@univ-test.fr")), person("", "", "", nil, pending("camille.martin@univ-test.fr")),
			0, false, nil},
		{"names and digits local part not counted", person("Camille", "MARTIN", "", nil, verified("camille.martin2@univ-test.fr")),
			person("Camille", "MARTIN", "", nil, verified("camille.martin2@mail.example")),
			0.55, false, []Match{{"family_name", "MARTIN"}, {"given_name", "Camille"}}},
		{"shared verified local part", person("Camille", "MARTIN", "", nil, verified("cam.martin97@univ-test.fr")),
			person("Camille", "MARTIN", "", nil, verified("cam.martin97+ent@mail.example")),
			0.8, true, []Match{{"family_name", "MARTIN"}, {"given_name", "Camille"}, {"email_local", "cam.martin97"}}},
		{"local part of the names only not counted", person("Camille", "MARTIN", "", nil, verified("camille.martin@univ-test.fr")),
			person("Camille", "Martin", "", nil, verified("camille.martin@mail.example")),
			0.55, false, []Match{{"family_name", "MARTIN / Martin"}, {"given_name", "Camille"}}},
		{"initial and family name local part not counted", person("Camille", "MARTIN", "", nil, verified("c.martin@univ-test.fr")),
			person("Claire", "MARTIN", "", nil, verified("c.martin@mail.example")),
			0.15, false, []Match{{"family_name", "MARTIN"}, {"given_name_conflict", "Camille / Claire"}}},
		{"local part of the other side's names not counted", person("", "", "", nil, verified("jean-pierre.le-goff@univ-test.fr")),
			person("Jean-Pierre", "LE GOFF", "", nil, verified("jeanpierre.legoff@mail.example")), 0, false, nil},
		{"unverified local part not counted", person("", "", "", nil, verified("cam.martin97@univ-test.fr")),
			person("", "", "", nil, pending("cam.martin97@mail.example")), 0, false, nil},
		{"role local part not counted", person("", "", "", nil, verified("secretariat@univ-test.fr")),
			person("", "", "", nil, verified("secretariat@mail.example")), 0, false, nil},
		{"capped at one", person("Camille", "MARTIN", "1997-03-14", nil, verified("camille.martin@univ-test.fr")),
			person("Camille", "MARTIN", "1997-03-14", nil, pending("camille.martin@univ-test.fr")),
			1, true, []Match{{"family_name", "MARTIN"}, {"given_name", "Camille"}, {"birth_date", "1997-03-14"},
				{"email", "camille.martin@univ-test.fr"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ScorePair(tt.a, tt.b)
			if got.Value != tt.want {
				t.Errorf("Value = %v, want %v (matches %v)", got.Value, tt.want, got.Matches)
			}
			if !slices.Equal(got.Matches, tt.matches) {
				t.Errorf("Matches = %q, want %q", got.Matches, tt.matches)
			}
			if Suggest(got) != tt.suggest {
				t.Errorf("Suggest = %v, want %v", Suggest(got), tt.suggest)
			}
			if got.Value < 0 || got.Value > 1 {
				t.Errorf("Value %v out of [0, 1]", got.Value)
			}
			rev := ScorePair(tt.b, tt.a)
			if rev.Value != got.Value || !slices.Equal(matchFields(rev.Matches), matchFields(got.Matches)) {
				t.Errorf("not symmetric: %v %v, reversed %v %v", got.Value, matchFields(got.Matches), rev.Value, matchFields(rev.Matches))
			}
		})
	}
}

func TestMatchConflict(t *testing.T) {
	for field, want := range map[string]bool{
		"ine_conflict": true, "birth_date_conflict": true, "supann_ref_id_conflict": true,
		"ine": false, "birth_date": false, "family_name": false,
	} {
		if got := (Match{Field: field}).Conflict(); got != want {
			t.Errorf("Match{%q}.Conflict() = %v, want %v", field, got, want)
		}
	}
}

func TestSuggestThreshold(t *testing.T) {
	tests := []struct {
		value float64
		want  bool
	}{{0, false}, {0.59, false}, {DuplicateThreshold, true}, {0.85, true}, {1, true}}
	for _, tt := range tests {
		if got := Suggest(Score{Value: tt.value}); got != tt.want {
			t.Errorf("Suggest(%v) = %v, want %v", tt.value, got, tt.want)
		}
	}
}

func TestPairKey(t *testing.T) {
	tests := []struct{ a, b, want string }{
		{"a", "b", "a|b"},
		{"b", "a", "a|b"},
		{"3f2c", "10aa", "10aa|3f2c"},
		{"x", "x", "x|x"},
	}
	for _, tt := range tests {
		if got := PairKey(tt.a, tt.b); got != tt.want {
			t.Errorf("PairKey(%q, %q) = %q, want %q", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestPairs(t *testing.T) {
	big := make([]string, DefaultMaxBlock+1)
	for i := range big {
		big[i] = string(rune('A'+i/26)) + string(rune('a'+i%26))
	}
	tests := []struct {
		name     string
		blocks   map[string][]string
		maxBlock int
		want     [][2]string
	}{
		{"none", nil, 50, nil},
		{"singletons give nothing", map[string][]string{"k1": {"a"}, "k2": {"b"}, "k3": nil}, 50, nil},
		{"one pair, smaller id first", map[string][]string{"k": {"b", "a"}}, 50, [][2]string{{"a", "b"}}},
		{"deduplicated across keys", map[string][]string{
			"name_birth:martin|1997-03-14": {"u2", "u1"},
			"full_name:camille martin":     {"u1", "u2", "u3"},
			"email_local:cam martin97":     {"u3", "u1"},
		}, 50, [][2]string{{"u1", "u2"}, {"u1", "u3"}, {"u2", "u3"}}},
		{"an id twice in a block", map[string][]string{"k": {"a", "a"}, "l": {"b", "c", "b"}}, 50, [][2]string{{"b", "c"}}},
		{"big blocks skipped", map[string][]string{
			"full_name:camille martin": {"a", "b", "c", "d"},
			"name_birth:martin|2000":   {"c", "a"},
			"email_local:x y z":        {"d", "e", "e"},
		}, 3, [][2]string{{"a", "c"}, {"d", "e"}}},
		{"max block counts distinct ids", map[string][]string{"k": {"a", "b", "a", "b"}}, 2, [][2]string{{"a", "b"}}},
		{"default max block", map[string][]string{"big": big, "k": {"x", "y"}}, 0, [][2]string{{"x", "y"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Pairs(tt.blocks, tt.maxBlock)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Pairs = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPairsBlockAtMaxSize(t *testing.T) {
	ids := []string{"e", "d", "c", "b", "a"}
	got := Pairs(map[string][]string{"k": ids}, len(ids))
	if len(got) != len(ids)*(len(ids)-1)/2 {
		t.Fatalf("Pairs gave %d pairs, want %d", len(got), len(ids)*(len(ids)-1)/2)
	}
	for i, p := range got {
		if p[0] >= p[1] {
			t.Errorf("pair %q not ordered", p)
		}
		if i > 0 && strings.Compare(got[i-1][0]+"|"+got[i-1][1], p[0]+"|"+p[1]) >= 0 {
			t.Errorf("pairs not sorted at %d: %q", i, got)
		}
	}
}

func TestPairsFromBlockingKeys(t *testing.T) {
	people := []Candidate{internUniversity, internAgency, staffDupont, parentKeep, parentDrop, nurseLeroy}
	blocks := map[string][]string{}
	for _, c := range people {
		for _, k := range BlockingKeys(c) {
			blocks[k.String()] = append(blocks[k.String()], c.Account.ID)
		}
	}
	want := [][2]string{{"camille-ars", "camille-univ"}, {"franck-drop", "franck-keep"}}
	if got := Pairs(blocks, DefaultMaxBlock); !slices.Equal(got, want) {
		t.Fatalf("Pairs = %q, want %q", got, want)
	}
}

func TestNamesOnly(t *testing.T) {
	acc := Account{GivenName: "Jean-Pierre", FamilyName: "LE GOFF"}
	tests := []struct {
		local string
		want  bool
	}{
		{"jeanpierrelegoff", true},
		{"legoffjeanpierre", true},
		{"jeanlegoff", true},
		{"jplegoff", true},
		{"jlegoff", true},
		{"legoffj", true},
		{"legoff", true},
		{"jeanpierre", true},
		{"jean", true},
		{"jeanpierrelegoff97", true},
		{"jplegoff2", true},
		{"2024", false},
		{"jeanpierre97legoff", false},
		{"jpl29", false},
		{"pierrelegoff", false},
	}
	for _, tt := range tests {
		if got := namesOnly(tt.local, acc); got != tt.want {
			t.Errorf("namesOnly(%q) = %v, want %v", tt.local, got, tt.want)
		}
	}
	if namesOnly("martin", Account{}) {
		t.Error("namesOnly on an account without names")
	}
}

func TestScorePairAllocations(t *testing.T) {
	a := Candidate{Account: Account{GivenName: "Camille", FamilyName: "MARTIN", BirthDate: "1997-03-14"},
		Emails: []Email{{Address: "camille.martin@univ-test.fr", Verified: true}}}
	b := Candidate{Account: Account{GivenName: "CAMILLE", FamilyName: "Martin", BirthDate: "1997-03-14"},
		Emails: []Email{{Address: "Cam.Martin97@mail.example", Verified: true}}}
	// Folding and comparing use stack buffers: the Matches slice (grown to
	// 3) and the two Details showing both spellings are all that allocates.
	if n := testing.AllocsPerRun(100, func() { ScorePair(a, b) }); n > 5 {
		t.Errorf("ScorePair allocates %v times, want at most 5", n)
	}
}
