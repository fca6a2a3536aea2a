package identity

import (
	"strings"
	"testing"
)

func TestPrecedenceRank(t *testing.T) {
	p := Precedence{
		Default: []string{"ldap:*", "oidc:*", "scim:*", "csv:ars-*", "admin", "self"},
		Fields: map[string][]string{
			FieldPhone:     {"self", "ldap:campus"},
			FieldBirthDate: {},
		},
	}
	tests := []struct {
		field, source string
		want          int
	}{
		{FieldGivenName, "ldap:campus", 0},
		{FieldGivenName, "ldap:", 0}, // '*' matches an empty suffix too
		{FieldGivenName, "oidc:campus-sso", 1},
		{FieldGivenName, "scim:hr", 2},
		{FieldGivenName, "csv:ars-occitanie", 3},
		{FieldGivenName, "csv:other", 6}, // matches no pattern
		{FieldGivenName, "admin", 4},
		{FieldGivenName, "admins", 6}, // exact patterns match exactly
		{FieldGivenName, "self", 5},
		{FieldGivenName, "LDAP:campus", 6}, // case-sensitive
		{FieldGivenName, "", 7},            // unknown origin ranks last
		{"profession", "self", 5},          // attributes use Default
		{FieldPhone, "self", 0},            // per-field override
		{FieldPhone, "ldap:campus", 1},
		{FieldPhone, "ldap:other", 2},
		{FieldPhone, "", 3},
		{FieldBirthDate, "ldap:campus", 0}, // empty override: all sources alike
		{FieldBirthDate, "self", 0},
		{FieldBirthDate, "", 1},
	}
	for _, tt := range tests {
		if got := p.Rank(tt.field, tt.source); got != tt.want {
			t.Errorf("Rank(%q, %q) = %d, want %d", tt.field, tt.source, got, tt.want)
		}
	}
}

func TestDefaultPrecedence(t *testing.T) {
	p := DefaultPrecedence()
	if err := p.Validate(); err != nil {
		t.Fatalf("DefaultPrecedence().Validate() = %v", err)
	}
	order := []string{"ldap:campus", "oidc:campus-sso", "scim:hr", "csv:ars-occitanie", "admin", "self", "import", ""}
	for i := 1; i < len(order); i++ {
		if a, b := p.Rank(FieldGivenName, order[i-1]), p.Rank(FieldGivenName, order[i]); a >= b {
			t.Errorf("Rank(%q) = %d, not better than Rank(%q) = %d", order[i-1], a, order[i], b)
		}
	}
}

func TestPrecedenceValidate(t *testing.T) {
	tests := []struct {
		name string
		p    Precedence
		want []string // every line of the error, in order; none means valid
	}{
		{"default", DefaultPrecedence(), nil},
		{"zero", Precedence{}, nil},
		{"overrides", Precedence{Default: []string{"*"}, Fields: map[string][]string{
			FieldGivenName: {"ldap:campus", "csv:ars-*"}, FieldAffiliation: {}, FieldINE: {"scim:*"},
		}}, nil},
		{"bad default", Precedence{Default: []string{"ldap:*", "", "csv:*:x*", " self", "ldap:*"}}, []string{
			`default[1]: empty pattern`,
			`default[2]: pattern "csv:*:x*": '*' may only end a pattern`,
			`default[3]: pattern " self" has leading or trailing spaces`,
			`default[4]: pattern "ldap:*" repeats default[0]`,
		}},
		{"bad fields", Precedence{Default: []string{"self"}, Fields: map[string][]string{
			FieldGivenName: {"ldap:*", "oidc:*", "*csv"},
			"profession":   {"self"},
			FieldPhone:     {""},
		}}, []string{
			`fields.given_name[2]: pattern "*csv": '*' may only end a pattern`,
			`fields.phone[0]: empty pattern`,
			`fields.profession: unknown field (want one of login, given_name, family_name, display_name, birth_date, email, recovery_email, phone, ine, affiliation, org)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tt.want)
			}
			if got, want := err.Error(), strings.Join(tt.want, "\n"); got != want {
				t.Errorf("Validate() =\n%s\nwant\n%s", got, want)
			}
		})
	}
}
