// Package mapping turns what a source says about an identity — the
// attributes of an LDAP entry, the columns of a CSV row — into canonical
// fields, by declarative rules.
//
// A rule (FieldSpec) names, for one target field, the source attributes to
// read in order of preference and the transforms to apply to their values.
// The presets "supann" and "eduperson" hold the rules for the usual campus
// directory schemas; a Spec starts from a preset and overrides or adds rules
// per field. Compile checks a Spec and prepares it once; the resulting
// Mapping applies to any number of records, concurrently.
//
// Values are trimmed and empty ones dropped before the transforms run, and
// after each of them. The transforms are:
//
//   - trim, lower, upper: on every value.
//   - first: keep the first value only.
//   - split:SEP: split every value on SEP (verbatim, spaces included).
//   - join:SEP: join all values into one.
//   - regex:EXPR: keep the capture of the one group of EXPR in the values
//     that match, drop the others: regex:^\{APOGEE\}(.+)$ turns
//     {APOGEE}123 into 123 and drops {HARPEGE}9.
//   - date:YYYYMMDD, date:YYYY-MM-DD, date:DD/MM/YYYY (day and month may
//     have one digit), date:any (any of the three): read calendar dates,
//     write them YYYY-MM-DD; any other value is an error.
//   - bool: read TRUE/FALSE, yes/no, oui/non or 1/0 in any case, write
//     "true" or "false"; any other value is an error.
//   - not: as bool, negated (supannListeRouge TRUE gives a directory
//     visibility of "false").
//
// Every target field has a kind that fixes its final normalisation, after
// the transforms. affiliation (lower-cased), supann_ref_id and org keep every
// value, duplicates dropped; the other fields keep the first value: login
// through identity.NormalizeLogin; email and recovery_email through
// identity.NormalizeEmail, and they must pass identity.ValidEmail;
// birth_date must be a calendar date (read as by date:any) and comes out as
// YYYY-MM-DD; ine is upper-cased, eppn and primary_affiliation lower-cased;
// directory_visible is a boolean, "true" or "false"; the names, civility,
// phone, supann_etu_id and supann_emp_id are kept as they are.
//
// A value that fails is a FieldError naming the field, the source
// attribute, the value and the reason; Apply reports all of a record's
// failures at once, together with the fields that did map, so that the
// caller can note them against the entry (its DN, its line) and go on with
// the next one.
//
// The package is pure: it does no I/O and never logs.
package mapping

import "github.com/canonid/canonid/identity"

// Target fields: the canonical fields a rule can fill.
const (
	FieldLogin              = identity.FieldLogin
	FieldGivenName          = identity.FieldGivenName
	FieldFamilyName         = identity.FieldFamilyName
	FieldDisplayName        = identity.FieldDisplayName
	FieldCivility           = "civility"
	FieldBirthDate          = identity.FieldBirthDate
	FieldEmail              = identity.FieldEmail
	FieldRecoveryEmail      = identity.FieldRecoveryEmail
	FieldPhone              = identity.FieldPhone
	FieldINE                = identity.FieldINE
	FieldSupannEtuID        = "supann_etu_id"
	FieldSupannEmpID        = "supann_emp_id"
	FieldSupannRefID        = "supann_ref_id"
	FieldEPPN               = "eppn"
	FieldAffiliation        = identity.FieldAffiliation
	FieldPrimaryAffiliation = "primary_affiliation"
	FieldOrg                = identity.FieldOrg
	FieldDirectoryVisible   = "directory_visible"
)

// Fields returns every target field, in the order Apply evaluates them and
// reports their errors.
func Fields() []string {
	return []string{
		FieldLogin, FieldGivenName, FieldFamilyName, FieldDisplayName, FieldCivility,
		FieldBirthDate, FieldEmail, FieldRecoveryEmail, FieldPhone,
		FieldINE, FieldSupannEtuID, FieldSupannEmpID, FieldSupannRefID, FieldEPPN,
		FieldAffiliation, FieldPrimaryAffiliation, FieldOrg, FieldDirectoryVisible,
	}
}

// kind is how a target field's values are normalised once the rule's
// transforms have run.
type kind uint8

const (
	kindText       kind = iota // single value, as is (already trimmed)
	kindLogin                  // single value, identity.NormalizeLogin
	kindDate                   // single value, a calendar date in any layout of date:any, written YYYY-MM-DD
	kindEmail                  // single value, identity.NormalizeEmail, must pass identity.ValidEmail
	kindLower                  // single value, lower-cased
	kindUpper                  // single value, upper-cased
	kindBool                   // single value, "true" or "false"
	kindMulti                  // every value, as is, duplicates dropped
	kindMultiLower             // every value, lower-cased, duplicates dropped
)

// multi reports whether fields of kind k keep every value.
func (k kind) multi() bool { return k == kindMulti || k == kindMultiLower }

// targetKind returns the kind of a target field, and false for a name that
// is not a target field.
func targetKind(field string) (kind, bool) {
	switch field {
	case FieldLogin:
		return kindLogin, true
	case FieldGivenName, FieldFamilyName, FieldDisplayName, FieldCivility, FieldPhone,
		FieldSupannEtuID, FieldSupannEmpID:
		return kindText, true
	case FieldBirthDate:
		return kindDate, true
	case FieldEmail, FieldRecoveryEmail:
		return kindEmail, true
	case FieldINE:
		return kindUpper, true
	case FieldEPPN, FieldPrimaryAffiliation:
		return kindLower, true
	case FieldSupannRefID, FieldOrg:
		return kindMulti, true
	case FieldAffiliation:
		return kindMultiLower, true
	case FieldDirectoryVisible:
		return kindBool, true
	}
	return 0, false
}
