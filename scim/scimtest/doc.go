// Package scimtest is an in-process SCIM 2.0 service provider for tests:
// the downstream platform that canonid's propagation (package scim/push)
// writes Users to. It is built on github.com/elimity-com/scim, as canonid's
// own SCIM server is, and behaves like the provisioning endpoints of real
// applications (RFC 7643, RFC 7644, as Entra ID and Okta apps do):
//
//   - Users only: the core User schema (userName, externalId, name,
//     displayName, active, emails, phoneNumbers, ...) and the enterprise
//     extension, kept in memory by generated id;
//   - userName is unique in any case, and so is every address of emails
//     (many applications insist; Options.AllowDuplicateEmails or
//     SetEmailUniqueness turn that off): a clash is a 409 "uniqueness";
//   - GET /Users pages with startIndex and count, and filters with eq on
//     userName, externalId, id, displayName, name.givenName,
//     name.familyName, emails (emails.value, emails[...]) and active,
//     joined by and, or, not; another filter is a 400 "invalidFilter";
//   - PATCH applies add, replace and remove (RFC 7644 §3.5.2) with or
//     without a path, on attributes, sub-attributes, extension attributes
//     and value-filtered paths such as emails[type eq "work"].value;
//   - the strings "True" and "False" that Entra ID sends for active and
//     primary are read as booleans;
//   - /ServiceProviderConfig, /Schemas and /ResourceTypes are the
//     library's;
//   - every request needs the bearer token (401 otherwise).
//
// For fault tests, Fail queues error answers (500, 429 with Retry-After,
// ...), SetDown answers 503 to everything, and Delay holds answers back
// until the client gives up or the test ends. Users, UserByExternalID and
// the request counters show what the clients did; Changed signals every
// successful write, so that tests wait without sleeping.
package scimtest
