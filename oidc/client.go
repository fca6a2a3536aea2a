package oidc

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/url"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// client is a configured relying party as op.Client.
type client struct {
	cfg        ClientConfig
	secretHash []byte
	loginURL   string // absolute URL of the login page, without the request
	idLifetime time.Duration
}

var _ op.Client = (*client)(nil)

func newClient(cfg ClientConfig, loginURL string, idLifetime time.Duration) *client {
	c := &client{cfg: cfg, loginURL: loginURL, idLifetime: idLifetime}
	switch {
	case cfg.Secret != "":
		h := sha256.Sum256([]byte(cfg.Secret))
		c.secretHash = h[:]
	case cfg.SecretSHA256 != "":
		c.secretHash, _ = hex.DecodeString(cfg.SecretSHA256)
	}
	return c
}

// checkSecret compares in constant time.
func (c *client) checkSecret(secret string) bool {
	if c.cfg.Public || len(c.secretHash) == 0 {
		return false
	}
	h := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(h[:], c.secretHash) == 1
}

func (c *client) name() string {
	if c.cfg.Name != "" {
		return c.cfg.Name
	}
	return c.cfg.ID
}

func (c *client) GetID() string                    { return c.cfg.ID }
func (c *client) RedirectURIs() []string           { return c.cfg.RedirectURIs }
func (c *client) PostLogoutRedirectURIs() []string { return c.cfg.PostLogoutRedirectURIs }

// ApplicationType: a public client is treated as native (loopback
// redirects on any port, private-use schemes), a confidential one as web.
func (c *client) ApplicationType() op.ApplicationType {
	if c.cfg.Public {
		return op.ApplicationTypeNative
	}
	return op.ApplicationTypeWeb
}

func (c *client) AuthMethod() oidc.AuthMethod {
	if c.cfg.Public {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic
}

func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}

func (c *client) GrantTypes() []oidc.GrantType {
	var out []oidc.GrantType
	for _, g := range c.cfg.grants() {
		switch g {
		case GrantAuthorizationCode:
			out = append(out, oidc.GrantTypeCode)
		case GrantRefreshToken:
			out = append(out, oidc.GrantTypeRefreshToken)
		case GrantClientCredentials:
			out = append(out, oidc.GrantTypeClientCredentials)
		}
	}
	return out
}

func (c *client) LoginURL(id string) string {
	return c.loginURL + "?request=" + url.QueryEscape(id)
}

func (c *client) AccessTokenType() op.AccessTokenType {
	if c.cfg.AccessTokenFormat == "jwt" {
		return op.AccessTokenTypeJWT
	}
	return op.AccessTokenTypeBearer
}

func (c *client) IDTokenLifetime() time.Duration { return c.idLifetime }
func (c *client) DevMode() bool                  { return false }

func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (c *client) IsScopeAllowed(scope string) bool { return slices.Contains(c.cfg.scopes(), scope) }

// IDTokenUserinfoClaimsAssertion puts the profile and e-mail claims in the
// ID token, as Keycloak does, so that a client need not call userinfo.
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *client) ClockSkew() time.Duration             { return 0 }

// allowed keeps the scopes the client may have.
func (c *client) allowed(scopes []string) []string {
	return slices.DeleteFunc(slices.Clone(scopes), func(s string) bool { return !c.IsScopeAllowed(s) })
}
