// Package oidc is canonid's OpenID provider, on zitadel/oidc's pkg/op over
// the store: platforms log people in through it and always receive the
// canonical account id as sub, whichever identity the person logged in
// with. It keeps authorization requests, tokens and signing keys in the
// store, so that several replicas serve one issuer; it rotates signing keys,
// publishing each one before it signs; it rotates refresh tokens and revokes
// the whole grant when a used one comes back. The login itself is package
// web's: the provider sends the browser there and web calls Complete.
package oidc
