package identity

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Precedence orders the sources of attribute values for survivorship: when
// two accounts merge and both hold a value for a field, the value whose
// source ranks better survives, whichever account survives.
//
// A pattern is a source name ("admin", "self", "ldap:campus") or a prefix
// ending in '*' that matches every source it starts ("ldap:*", "csv:ars-*").
type Precedence struct {
	// Default lists source patterns, best first, for every field without
	// an entry in Fields.
	Default []string `yaml:"default" json:"default"`
	// Fields overrides Default for some canonical fields (the Field*
	// names). An entry replaces Default entirely for its field; an empty
	// list makes every source rank alike for that field.
	Fields map[string][]string `yaml:"fields" json:"fields,omitempty"`
}

// DefaultPrecedence is the built-in order: directories, then upstream OpenID
// providers, SCIM provisioning, file imports, administrators and last what
// people typed themselves.
func DefaultPrecedence() Precedence {
	return Precedence{Default: []string{"ldap:*", "oidc:*", "scim:*", "csv:*", "admin", "self"}}
}

// Rank returns the rank of source for field, 0 being the best: the index of
// the first pattern that matches it. A source that matches no pattern ranks
// after all patterns; an empty source (a value of unknown origin) ranks
// last of all.
func (p Precedence) Rank(field, source string) int {
	patterns, ok := p.Fields[field]
	if !ok {
		patterns = p.Default
	}
	if source == "" {
		return len(patterns) + 1
	}
	for i, pat := range patterns {
		if matchSource(pat, source) {
			return i
		}
	}
	return len(patterns)
}

// matchSource reports whether source matches pattern: equal, or starting
// with the part of pattern before its final '*'.
func matchSource(pattern, source string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(source, prefix)
	}
	return pattern == source
}

// precedenceFields are the field names Precedence.Fields accepts.
var precedenceFields = []string{
	FieldLogin, FieldGivenName, FieldFamilyName, FieldDisplayName, FieldBirthDate, FieldEmail,
	FieldRecoveryEmail, FieldPhone, FieldINE, FieldAffiliation, FieldOrg,
}

// Validate reports every problem of p at once, joined, each prefixed with
// its key ("default[1]: ...", "fields.given_name[2]: ..."): empty patterns,
// a '*' anywhere but at the end, surrounding spaces, repeated patterns and
// unknown field names.
func (p Precedence) Validate() error {
	var errs []error
	errs = append(errs, validatePatterns("default", p.Default)...)
	fields := make([]string, 0, len(p.Fields))
	for f := range p.Fields {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	for _, f := range fields {
		key := "fields." + f
		if !slices.Contains(precedenceFields, f) {
			errs = append(errs, fmt.Errorf("%s: unknown field (want one of %s)", key, strings.Join(precedenceFields, ", ")))
			continue
		}
		errs = append(errs, validatePatterns(key, p.Fields[f])...)
	}
	return errors.Join(errs...)
}

func validatePatterns(key string, patterns []string) []error {
	var errs []error
	seen := map[string]int{}
	for i, pat := range patterns {
		fail := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s[%d]: "+format, append([]any{key, i}, args...)...))
		}
		switch {
		case pat == "":
			fail("empty pattern")
		case strings.TrimSpace(pat) != pat:
			fail("pattern %q has leading or trailing spaces", pat)
		case strings.Contains(strings.TrimSuffix(pat, "*"), "*"):
			fail("pattern %q: '*' may only end a pattern", pat)
		default:
			if j, dup := seen[pat]; dup {
				fail("pattern %q repeats %s[%d]", pat, key, j)
			} else {
				seen[pat] = i
			}
		}
	}
	return errs
}
