package identity

import (
	"slices"
	"strings"
)

// LookupKind names what a lookup key says about an account. Connectors and
// imports correlate an incoming identity with existing accounts by these
// kinds; the configuration's correlation rules name them.
type LookupKind string

// Lookup kinds. The identifier kinds are the attribute names that carry them.
const (
	// LookupEmail is a verified e-mail address (normalised).
	LookupEmail LookupKind = "email"
	// LookupRecoveryEmail is the recovery_email attribute (normalised).
	LookupRecoveryEmail LookupKind = "recovery_email"
	// LookupINE is the national student number (trimmed, upper-cased).
	LookupINE LookupKind = FieldINE
	// LookupEtuID, LookupEmpID and LookupRefID are the SupAnn student,
	// employee and reference ids (trimmed, upper-cased).
	LookupEtuID LookupKind = attrSupannEtuID
	LookupEmpID LookupKind = attrSupannEmpID
	LookupRefID LookupKind = attrSupannRefID
	// LookupEPPN is the eduPersonPrincipalName (normalised like an e-mail).
	LookupEPPN LookupKind = "eppn"
	// LookupNameBirthDate is the folded family name, the folded given
	// name and the birth date: "martin|camille|1999-04-12". Namesakes born
	// the same day share it: correlate on it only where that is acceptable.
	LookupNameBirthDate LookupKind = "name_birth_date"
)

// LookupLogin matches an account's login. It is not a stored lookup key:
// logins are unique among all accounts, merged ones included, and are looked
// up in the accounts themselves. LookupKinds leaves it out.
const LookupLogin LookupKind = "login"

// AttrEPPN is the attribute holding the eduPersonPrincipalName.
const AttrEPPN = "eppn"

// LookupKinds lists every lookup kind, in the order correlation tries them
// by default.
func LookupKinds() []LookupKind {
	return []LookupKind{LookupEmail, LookupRecoveryEmail, LookupINE, LookupEtuID, LookupEmpID, LookupRefID, LookupEPPN, LookupNameBirthDate}
}

// Valid reports whether k is a known lookup kind.
func (k LookupKind) Valid() bool { return slices.Contains(LookupKinds(), k) }

// LookupKey is one lookup key of an account.
type LookupKey struct {
	Kind  LookupKind
	Value string
}

// LookupValue returns the normalised form of a raw value of kind k, as
// stored in lookup keys, or "" when the value says nothing. For
// LookupNameBirthDate, raw is ignored: use NameBirthDateValue.
func LookupValue(k LookupKind, raw string) string {
	switch k {
	case LookupEmail, LookupRecoveryEmail, LookupEPPN:
		return NormalizeEmail(raw)
	case LookupINE, LookupEtuID, LookupEmpID, LookupRefID:
		return nationalIDValue(raw)
	case LookupLogin:
		return NormalizeLogin(raw)
	}
	return ""
}

// NameBirthDateValue returns the LookupNameBirthDate value of these names
// and birth date, or "" when one of them is missing.
func NameBirthDateValue(familyName, givenName, birthDate string) string {
	birthDate = strings.TrimSpace(birthDate)
	var fb, gb [64]byte
	family := appendFold(fb[:0], familyName, true)
	given := appendFold(gb[:0], givenName, true)
	if len(family) == 0 || len(given) == 0 || birthDate == "" {
		return ""
	}
	return string(family) + "|" + string(given) + "|" + birthDate
}

// LookupKeys returns the lookup keys of an account, sorted by kind then
// value: none for a merged account, whose identities belong to the survivor.
func LookupKeys(c Candidate) []LookupKey {
	a := c.Account
	if !a.Status.Live() {
		return nil
	}
	var keys []LookupKey
	add := func(k LookupKind, v string) {
		if v != "" {
			keys = append(keys, LookupKey{k, v})
		}
	}
	for _, e := range c.Emails {
		if e.Verified {
			add(LookupEmail, LookupValue(LookupEmail, e.Address))
		}
	}
	for _, k := range []LookupKind{LookupRecoveryEmail, LookupINE, LookupEtuID, LookupEmpID, LookupRefID, LookupEPPN} {
		for _, v := range a.Attributes[string(k)] {
			add(k, LookupValue(k, v))
		}
	}
	add(LookupNameBirthDate, NameBirthDateValue(a.FamilyName, a.GivenName, a.BirthDate))
	slices.SortFunc(keys, func(x, y LookupKey) int {
		if c := strings.Compare(string(x.Kind), string(y.Kind)); c != 0 {
			return c
		}
		return strings.Compare(x.Value, y.Value)
	})
	return slices.Compact(keys)
}
