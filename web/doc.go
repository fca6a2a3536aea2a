// Package web serves canonid's login pages — the page the OpenID provider
// sends people to, with its CSRF protection, rate limits, login sessions
// and FR/EN messages, and its return to a local path after the login
// (ParamNext) — and lends the other pages (the flows, the person's own
// account pages of web/account) its layout, its CSRF checks, its password
// check and the management of a person's sessions.
package web
