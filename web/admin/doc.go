// Package admin is the support staff's console: server-rendered pages under
// /admin for the people whose account login is listed in the configuration
// (login.admins), logged in through canonid's login page.
//
// The pages search accounts and show one with everything it owns (fields
// with their source, e-mails, links, memberships, merges in and out, the
// audit timeline); work through the duplicates queue (each suggestion with
// its score and matched fields, a field-by-field merge preview, the merge,
// "not a duplicate"); list an account's merges with an undo button within
// the undo window; upload agency files to a csv connector; show each LDAP
// connector's last and next sync, run one in the background or dry-run it
// with its diff; show the propagation targets with their lag, last error
// and dead letters, and retry them; and read the audit log, filtered.
//
// Every action goes through the services the JSON API uses (accounts,
// imports, ingest, the propagation store), which record the audit and
// outbox events in the action's transaction, with the admin as actor
// ("account:<id>"). The pages work without JavaScript: every action is a
// form whose POST carries the CSRF token of the login pages and answers
// with a redirect (post/redirect/get) or the page again with what went
// wrong. They are in French by default and in English, in the layout of
// the login pages (package web).
package admin
