// Package scim serves canonid's accounts and orgs over SCIM 2.0 (RFC 7643,
// RFC 7644) at /scim/v2, on github.com/elimity-com/scim.
//
// Users are canonical accounts; Groups are orgs with their validated
// members. A provisioning client authenticates with a bearer token of role
// scim; the token's name is the client's name, and what the client writes
// becomes its identity at the source "scim:<name>", linked to the account
// (its externalId is that link's external id). Its values reach the account
// through the same ingestion engine as directory syncs and file imports, by
// source precedence, so a SCIM client never silently overwrites what a
// better source says.
//
// The library is pinned at a version with known gaps (see
// ../shared/DESIGN.md); this package closes them around it: requests are
// normalised before the library sees them (case-insensitive paths, the
// shapes Entra ID and Okta send, filters it cannot parse), filters run in
// the store as SQL, and responses are finished after it (projection with
// attributes and excludedAttributes, ETags and preconditions, absolute
// locations, SCIM error bodies for every failure).
package scim
