package oidcup

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/canonid/canonid/connectors"
)

// Identity is a person as the provider vouched for them at a login.
type Identity struct {
	// Issuer and Subject identify the person at the provider; the
	// subject is unique and never reassigned within the issuer.
	Issuer  string
	Subject string
	// Email is the email claim, possibly empty; EmailVerified says the
	// provider checked the person receives mail there.
	Email         string
	EmailVerified bool
	// Claims are the ID token's claims, overlaid with the userinfo
	// response's (the ID token's protocol claims, such as iss, aud, exp
	// or nonce, are never overridden). Numbers are json.Number.
	Claims map[string]any
}

// tokenClaims are the ID token's claims about the token and the login
// (OpenID Connect Core 1.0, section 2): userinfo does not override them.
var tokenClaims = map[string]bool{
	"iss": true, "sub": true, "aud": true, "exp": true, "iat": true, "nbf": true,
	"auth_time": true, "nonce": true, "acr": true, "amr": true, "azp": true,
	"at_hash": true, "c_hash": true, "s_hash": true, "jti": true, "sid": true,
	"_claim_names": true, "_claim_sources": true,
}

// perLogin are the claims left out of Entry's attributes: they change at
// every login, and the attributes are the link's snapshot, compared from
// one login to the next.
var perLogin = map[string]bool{
	"aud": true, "exp": true, "iat": true, "nbf": true, "auth_time": true,
	"nonce": true, "acr": true, "amr": true, "azp": true, "at_hash": true,
	"c_hash": true, "s_hash": true, "jti": true, "sid": true,
	"_claim_names": true, "_claim_sources": true,
}

func newIdentity(issuer, subject string, claims map[string]any) Identity {
	id := Identity{Issuer: issuer, Subject: subject, Claims: claims}
	id.Email, _ = claims["email"].(string)
	switch v := claims["email_verified"].(type) {
	case bool:
		id.EmailVerified = v
	case string: // some providers (AWS Cognito) send a string
		id.EmailVerified = v == "true"
	}
	if id.Email == "" {
		id.EmailVerified = false
	}
	return id
}

// Entry is the identity as a connector entry: ExternalID is the subject,
// Name "<issuer> <subject>", Attributes the claims flattened to strings
// (see below), ModifiedAt the updated_at claim when there is one.
//
// Flattening keeps the claims about the person, and iss: a string is its
// own value, a boolean "true" or "false", a number its decimal text, an
// array one value per element, and an object's members become
// "<claim>.<member>" (address.locality). The claims about the token and
// the login (aud, azp, exp, iat, nbf, auth_time, nonce, acr, amr, jti,
// sid, the hashes) are left out: they change at every login.
func (id Identity) Entry() connectors.Entry {
	attrs := make(map[string][]string, len(id.Claims)+1)
	for k, v := range id.Claims {
		if !perLogin[k] {
			flatten(attrs, k, v)
		}
	}
	attrs["iss"] = []string{id.Issuer}
	attrs["sub"] = []string{id.Subject}
	e := connectors.Entry{
		ExternalID: id.Subject,
		Name:       id.Issuer + " " + id.Subject,
		Attributes: attrs,
	}
	if secs, ok := number(id.Claims["updated_at"]); ok && secs > 0 {
		e.ModifiedAt = time.Unix(secs, 0).UTC()
	}
	return e
}

// flatten adds the value v of claim key to attrs.
func flatten(attrs map[string][]string, key string, v any) {
	switch v := v.(type) {
	case nil:
	case string:
		attrs[key] = append(attrs[key], v)
	case bool:
		attrs[key] = append(attrs[key], strconv.FormatBool(v))
	case json.Number:
		attrs[key] = append(attrs[key], v.String())
	case float64:
		attrs[key] = append(attrs[key], strconv.FormatFloat(v, 'f', -1, 64))
	case []any:
		for _, e := range v {
			flatten(attrs, key, e)
		}
	case []string:
		attrs[key] = append(attrs[key], v...)
	case map[string]any:
		for k, e := range v {
			flatten(attrs, key+"."+k, e)
		}
	default:
		attrs[key] = append(attrs[key], fmt.Sprint(v))
	}
}

// number reads a whole number claim (a NumericDate).
func number(v any) (int64, bool) {
	switch v := v.(type) {
	case json.Number:
		n, err := v.Int64()
		if err != nil {
			f, ferr := v.Float64()
			return int64(f), ferr == nil
		}
		return n, true
	case float64:
		return int64(v), true
	case int64:
		return v, true
	case int:
		return int64(v), true
	}
	return 0, false
}
