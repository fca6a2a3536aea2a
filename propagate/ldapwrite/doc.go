// Package ldapwrite is the LDAP write-back propagation target: it keeps one
// entry per canonical account below a base DN of an LDAPv3 directory
// (OpenLDAP with the SupAnn and eduPerson schemas in mind), for the
// directory administrators and the applications that read people from
// LDAP rather than over SCIM or OIDC.
//
// The entry of an account is <rdn_attribute>=<login>,<base_dn> (the
// canonical id stands in for a missing login). Its attributes are computed
// by one function, Attributes, from the downstream state of the account
// (propagate.Account): inetOrgPerson's uid, cn, sn, givenName,
// displayName, mail and telephoneNumber; eduPersonAffiliation; SupAnn's
// supannListeRouge (the public-directory choice), mailForwardingAddress
// (the validated mail redirection), supannRessourceEtat (whether the
// account may be used) and supannRefId, whose "{CANONID}" value holds the
// canonical id so that an entry can be found again after it was renamed
// or when what was written was forgotten. Write owns these attributes:
// it sets them and removes those that became empty; it leaves every
// other attribute of an entry alone, and the supannRefId values of other
// systems too.
//
// A retired (merged) account's entry is deleted, or, with on_merge "move",
// moved below retired_base_dn without its e-mail addresses; an undo
// re-creates it, or moves it back.
//
// A Target keeps one connection to the server (go-ldap has no pool),
// opened on first use and opened again when it breaks. Connection
// failures, timeouts, the LDAP results busy (51) and unavailable (52),
// and a refused bind (49, a rotated service password) are reported as
// propagate.UnavailableError, so that the dispatcher waits and retries; every other failure is an ordinary error naming the operation,
// the DN and the LDAP result.
package ldapwrite
