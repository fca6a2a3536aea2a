// Package propagate delivers every change of the canonical accounts to the
// downstream platforms: SCIM service providers (scim/push), LDAP directories
// (propagate/ldapwrite) and webhooks (propagate/webhook).
//
// The contract with a target is target.go: an AccountTarget is handed the
// state an account should have downstream (Account) and writes it; an
// EventTarget is handed events. The dispatcher that follows the outbox and
// calls them is dispatcher.go.
package propagate
