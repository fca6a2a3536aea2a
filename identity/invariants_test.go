package identity

import (
	"strings"
	"testing"
	"time"
)

// merged returns a snapshot where "retired" was merged into "survivor" with
// every trace in place, and "other" is a bystander.
func merged() Snapshot {
	return Snapshot{
		Accounts: []Account{
			{ID: "survivor", Status: StatusActive},
			{ID: "retired", Status: StatusMerged, MergedInto: "survivor"},
			{ID: "other", Status: StatusPendingActivation},
		},
		Links: []Link{
			{Source: "ldap:campus", ExternalID: "u1", AccountID: "survivor"},
			{Source: "csv:ars", ExternalID: "r1", AccountID: "survivor"},
		},
		Emails: []Email{
			{Address: "a@univ.example", AccountID: "survivor", Verified: true, Primary: true},
			{Address: "a@mail.example", AccountID: "survivor", Verified: true},
			{Address: "a@mail.example", AccountID: "other"}, // pending elsewhere: fine
		},
		Merges: []MergeRecord{{ID: "m1", SurvivorID: "survivor", RetiredID: "retired", CreatedAt: time.Now()}},
		Events: []EventRef{
			{"audit", EventAccountMerged, "m1"},
			{"outbox", EventAccountMerged, "m1"},
		},
	}
}

func TestCheckInvariants(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(s *Snapshot)
		want   string // substring of the error; "" means valid
	}{
		{"valid", func(*Snapshot) {}, ""},
		{"link owned by merged account", func(s *Snapshot) {
			s.Links = append(s.Links, Link{Source: "scim:hr", ExternalID: "x", AccountID: "retired"})
		}, "link scim:hr/x is owned by retired, which is not a live account"},
		{"link owned by unknown account", func(s *Snapshot) { s.Links[0].AccountID = "ghost" }, "not a live account"},
		{"link with two owners", func(s *Snapshot) {
			s.Links = append(s.Links, Link{Source: "ldap:campus", ExternalID: "u1", AccountID: "other"})
		}, "link ldap:campus/u1 has more than one owner"},
		{"email verified twice", func(s *Snapshot) { s.Emails[2].Verified = true }, "e-mail a@mail.example is verified on both survivor and other"},
		{"verified email on merged account", func(s *Snapshot) {
			s.Emails = append(s.Emails, Email{Address: "old@mail.example", AccountID: "retired", Verified: true})
		}, "verified e-mail old@mail.example is owned by retired"},
		{"email of unknown account", func(s *Snapshot) { s.Emails[2].AccountID = "ghost" }, "belongs to unknown account ghost"},
		{"merged without target", func(s *Snapshot) { s.Accounts[1].MergedInto = "" }, "has status merged but merged_into"},
		{"target without merged status", func(s *Snapshot) { s.Accounts[2].MergedInto = "survivor" }, "has status pending_activation but merged_into"},
		{"chain to unknown account", func(s *Snapshot) {
			s.Accounts[1].MergedInto = "ghost"
			s.Merges[0].SurvivorID = "ghost"
		}, "merge chain reaches unknown account ghost"},
		{"cycle", func(s *Snapshot) {
			s.Accounts[0] = Account{ID: "survivor", Status: StatusMerged, MergedInto: "retired"}
			s.Merges = append(s.Merges, MergeRecord{ID: "m2", SurvivorID: "retired", RetiredID: "survivor"})
			s.Events = append(s.Events, EventRef{"audit", EventAccountMerged, "m2"}, EventRef{"outbox", EventAccountMerged, "m2"})
			s.Links, s.Emails = nil, nil
		}, "merge chain has a cycle"},
		{"unknown status", func(s *Snapshot) { s.Accounts[2].Status = "sleeping" }, `unknown status "sleeping"`},
		{"pending token on merged account", func(s *Snapshot) {
			s.Tokens = []TokenRef{{ID: "t1", AccountID: "retired", Purpose: "merge_key"}}
		}, "merged account retired still owns [pending merge_key token t1]"},
		{"live session and refresh token on merged account", func(s *Snapshot) {
			s.Grants = []GrantRef{{Kind: "session", ID: "s1", AccountID: "retired"}, {Kind: "refresh token", ID: "r1", AccountID: "retired"}}
		}, "merged account retired still owns [live session s1 live refresh token r1]"},
		{"live session and refresh token on live accounts", func(s *Snapshot) {
			s.Grants = []GrantRef{{Kind: "session", ID: "s1", AccountID: "survivor"}, {Kind: "refresh token", ID: "r1", AccountID: "other"}}
		}, ""},
		{"merge without audit", func(s *Snapshot) { s.Events = s.Events[1:] }, "merge m1 has no audit event account.merged"},
		{"merge without outbox", func(s *Snapshot) { s.Events = s.Events[:1] }, "merge m1 has no outbox event account.merged"},
		{"undo without events", func(s *Snapshot) {
			s.Merges[0].UndoneAt = time.Now()
			s.Accounts[1] = Account{ID: "retired", Status: StatusActive}
		}, "undone merge m1 has no audit event account.unmerged"},
		{"merged account without standing merge", func(s *Snapshot) { s.Merges = nil; s.Events = nil }, "explained by 0 standing merges"},
		{"standing merge of a live account", func(s *Snapshot) {
			s.Accounts[1] = Account{ID: "retired", Status: StatusActive}
		}, "merge m1 says retired was merged into survivor, but the account is active"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := merged()
			tc.mutate(&s)
			err := CheckInvariants(s)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected violation: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("no violation found, want %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("violations:\n%v\nwant one containing %q", err, tc.want)
			}
		})
	}
}

func TestCheckInvariantsUndone(t *testing.T) {
	s := merged()
	s.Accounts[1] = Account{ID: "retired", Status: StatusActive}
	s.Merges[0].UndoneAt = time.Now()
	s.Events = append(s.Events, EventRef{"audit", EventAccountUnmerged, "m1"}, EventRef{"outbox", EventAccountUnmerged, "m1"})
	if err := CheckInvariants(s); err != nil {
		t.Fatal(err)
	}
}

func TestResolve(t *testing.T) {
	accounts := []Account{
		{ID: "a", Status: StatusMerged, MergedInto: "b"},
		{ID: "b", Status: StatusMerged, MergedInto: "c"},
		{ID: "c", Status: StatusActive},
	}
	for _, id := range []string{"a", "b", "c"} {
		root, err := Resolve(accounts, id)
		if err != nil || root.ID != "c" {
			t.Errorf("Resolve(%s) = %s, %v; want c", id, root.ID, err)
		}
	}
	if _, err := Resolve(accounts, "z"); err == nil {
		t.Error("Resolve of an unknown id succeeded")
	}
}

func TestCheckUndo(t *testing.T) {
	before := Snapshot{
		Accounts: []Account{{ID: "s", Status: StatusActive}, {ID: "r", Status: StatusActive}},
		Links:    []Link{{Source: "ldap:campus", ExternalID: "1", AccountID: "s"}, {Source: "csv:ars", ExternalID: "9", AccountID: "r"}},
		Emails:   []Email{{Address: "r@mail.example", AccountID: "r", Verified: true, Primary: true}},
	}
	m := MergeRecord{ID: "m", SurvivorID: "s", RetiredID: "r"}
	if err := CheckUndo(before, before, m); err != nil {
		t.Fatalf("identical snapshots: %v", err)
	}
	// The undo forgot to give the e-mail back.
	after := before
	after.Emails = []Email{{Address: "r@mail.example", AccountID: "s", Verified: true, Primary: true}}
	if err := CheckUndo(before, after, m); err == nil || !strings.Contains(err.Error(), "account r owned") {
		t.Fatalf("missed the e-mail left on the survivor: %v", err)
	}
	// The undo gave it back without its primary flag.
	after.Emails = []Email{{Address: "r@mail.example", AccountID: "r", Verified: true}}
	if err := CheckUndo(before, after, m); err == nil {
		t.Fatal("missed the lost primary flag")
	}
	// The retired account is still merged.
	after = before
	after.Accounts = []Account{{ID: "s", Status: StatusActive}, {ID: "r", Status: StatusMerged, MergedInto: "s"}}
	if err := CheckUndo(before, after, m); err == nil || !strings.Contains(err.Error(), "still merged") {
		t.Fatalf("missed the account still merged: %v", err)
	}
}

func TestNormalizeAndValidEmail(t *testing.T) {
	if got := NormalizeEmail("  Cam.Martin97@Mail.EXAMPLE "); got != "cam.martin97@mail.example" {
		t.Errorf("NormalizeEmail = %q", got)
	}
	// NFC: a decomposed é and a precomposed é are one address.
	if NormalizeEmail("e\u0301lodie@univ.example") != NormalizeEmail("\u00e9lodie@univ.example") {
		t.Error("NormalizeEmail does not compose accents")
	}
	if got := NormalizeLogin(" Franck.CAVEL3 "); got != "franck.cavel3" {
		t.Errorf("NormalizeLogin = %q", got)
	}
	for addr, want := range map[string]bool{
		"franck.cavel@laposte.example": true,
		"a@b.c":                        true,
		"":                             false,
		"no-at.example":                false,
		"two@@at.example":              false,
		"a@b@c.example":                false,
		"@domain.example":              false,
		"local@":                       false,
		"local@nodot":                  false,
		"local@.dot.example":           false,
		"sp ace@x.example":             false,
		"tab\t@x.example":              false,
	} {
		if got := ValidEmail(addr); got != want {
			t.Errorf("ValidEmail(%q) = %t, want %t", addr, got, want)
		}
	}
	if !StatusActive.Live() || StatusMerged.Live() || Status("x").Live() {
		t.Error("Status.Live is wrong")
	}
}
