// Package push is canonid's outbound SCIM 2.0 client: a propagation target
// (propagate.AccountTarget and propagate.Deleter) that writes each canonical
// account as a User of a downstream SCIM service provider (RFC 7643,
// RFC 7644), and reconciles the provider's Users with the accounts.
//
// The mapping from a canonical account to a User is userResource (user.go).
// The provider's features are read once from /ServiceProviderConfig, and
// read again after a failed request: updates are PATCH replace operations
// when the provider supports PATCH, a PUT of the whole User otherwise.
//
// A merged (retired) account is deactivated and its unique values are
// freed so that the survivor can take them: its userName becomes
// "merged-<canonical id>@merged.invalid" (a syntactically valid address
// under the reserved .invalid top-level domain of RFC 6761, unique, and
// recognisable by a person reading the provider's user list) and its
// e-mail addresses are removed. Undoing the merge rewrites it active with
// its own values.
//
// Errors that say the provider cannot answer now (connection refused,
// timeouts, HTTP 429, 502, 503, 504) are propagate.UnavailableError, with
// the delay of Retry-After; the others are *HTTPError or wrap one, naming
// the method, path, status and the SCIM detail. The bearer token never
// appears in an error.
package push
