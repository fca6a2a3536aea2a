package ldapwrite

import (
	"slices"
	"strings"

	"github.com/canonid/canonid/propagate"
)

// The attributes Write manages. All are in the schemas the campus
// directories load: core, cosine and inetorgperson (OpenLDAP), eduPerson
// 202111, SupAnn 2018 (see connectors/ldap/slapdtest/schema).
const (
	attrObjectClass           = "objectClass"
	attrUID                   = "uid"
	attrCN                    = "cn"
	attrSN                    = "sn"
	attrGivenName             = "givenName"
	attrDisplayName           = "displayName"
	attrMail                  = "mail"
	attrTelephoneNumber       = "telephoneNumber"
	attrEduPersonAffiliation  = "eduPersonAffiliation"
	attrSupannListeRouge      = "supannListeRouge"
	attrMailForwardingAddress = "mailForwardingAddress"
	attrSupannRessourceEtat   = "supannRessourceEtat"
	attrSupannRefID           = "supannRefId"
)

// managedAttributes returns the attributes Attributes computes, in the
// order requests carry them.
func managedAttributes() []string {
	return []string{
		attrUID, attrCN, attrSN, attrGivenName, attrDisplayName, attrMail, attrTelephoneNumber,
		attrEduPersonAffiliation, attrSupannListeRouge, attrMailForwardingAddress,
		attrSupannRessourceEtat, attrSupannRefID,
	}
}

// RefIDLabel is the label of the supannRefId value that holds the
// canonical id of the account an entry belongs to: "{CANONID}<id>".
// SupAnn labels every supannRefId value with the system it comes from
// ("{APOGEE}21801234"); the other values are left alone.
const RefIDLabel = "{CANONID}"

// Values of supannRessourceEtat (SupAnn 2018, "{COMPTE}" resource, state
// without sub-state).
const (
	// EtatActive: the account may be used (propagate.StateActive).
	EtatActive = "{COMPTE}A"
	// EtatInactive: the account may not be used (propagate.StateInactive,
	// and the entries of retired accounts that on_merge "move" keeps).
	EtatInactive = "{COMPTE}I"
)

// attrAffiliation is the canonical field (identity.FieldAffiliation)
// written to eduPersonAffiliation.
const attrAffiliation = "affiliation"

// Attributes maps the downstream state of an account to the attributes of
// its entry. The map has a key for every attribute Write manages, with no
// values when the attribute must be absent:
//
//   - uid: the login.
//   - cn: the display name, else given and family names, else the login,
//     else the canonical id (cn is required by person).
//   - sn: the family name, else the login, else the canonical id (sn is
//     required by person).
//   - givenName, displayName, telephoneNumber (the phone).
//   - mail: the verified addresses, the primary one first.
//   - eduPersonAffiliation: Attributes["affiliation"].
//   - supannListeRouge: TRUE when the person chose not to be in the public
//     directory, FALSE when they chose to be, absent when they did not
//     choose.
//   - mailForwardingAddress: the validated redirection; with "keep a copy"
//     the primary address too, the convention of the mail servers that
//     expand mailForwardingAddress (Postfix's virtual_alias_maps) to keep
//     a copy in the local mailbox.
//   - supannRessourceEtat: EtatActive or EtatInactive.
//   - supannRefId: RefIDLabel + the canonical id.
//
// Values are trimmed; empty values and repeated ones (ignoring case) are
// dropped.
func Attributes(a propagate.Account) map[string][]string {
	m := make(map[string][]string, len(managedAttributes()))
	for _, name := range managedAttributes() {
		m[name] = nil
	}
	set := func(name string, values ...string) { m[name] = cleanValues(values) }
	first := func(values ...string) string {
		for _, v := range values {
			if v = strings.TrimSpace(v); v != "" {
				return v
			}
		}
		return ""
	}

	login := strings.TrimSpace(a.Login)
	set(attrUID, login)
	set(attrCN, first(a.DisplayName, strings.TrimSpace(a.GivenName)+" "+strings.TrimSpace(a.FamilyName), login, a.ID))
	set(attrSN, first(a.FamilyName, login, a.ID))
	set(attrGivenName, a.GivenName)
	set(attrDisplayName, a.DisplayName)
	set(attrTelephoneNumber, a.Phone)

	mails := make([]string, 0, len(a.Emails))
	for _, e := range a.Emails {
		if e.Primary {
			mails = append(mails, e.Address)
		}
	}
	for _, e := range a.Emails {
		if !e.Primary {
			mails = append(mails, e.Address)
		}
	}
	set(attrMail, mails...)
	set(attrEduPersonAffiliation, a.Attributes[attrAffiliation]...)

	if a.DirectoryVisible != nil {
		if *a.DirectoryVisible {
			set(attrSupannListeRouge, "FALSE")
		} else {
			set(attrSupannListeRouge, "TRUE")
		}
	}
	if f := a.MailForward; f != nil && strings.TrimSpace(f.Address) != "" {
		forward := []string{f.Address}
		if f.KeepCopy && len(m[attrMail]) > 0 {
			forward = append(forward, m[attrMail][0])
		}
		set(attrMailForwardingAddress, forward...)
	}
	if a.State == propagate.StateActive {
		set(attrSupannRessourceEtat, EtatActive)
	} else {
		set(attrSupannRessourceEtat, EtatInactive)
	}
	set(attrSupannRefID, RefIDLabel+a.ID)
	return m
}

// cleanValues trims the values and drops the empty and repeated ones
// (ignoring case, as the matching rules of these attributes do).
func cleanValues(values []string) []string {
	var out []string
	for _, v := range values {
		v = strings.TrimSpace(v)
		if v == "" || slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, v) }) {
			continue
		}
		out = append(out, v)
	}
	return out
}
