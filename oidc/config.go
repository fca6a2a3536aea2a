package oidc

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Config is the oidc section of canonid's configuration.
type Config struct {
	// Clients are the relying parties allowed to log people in.
	Clients []ClientConfig `yaml:"clients"`
	// Keys configures signing keys and the secret that protects them.
	Keys KeysConfig `yaml:"keys"`
	// AccessTokenLifetime, IDTokenLifetime, RefreshTokenLifetime: how long
	// each token is valid. Defaults 15m, 1h, 720h (30 days; each refresh
	// gives a new refresh token valid as long again).
	AccessTokenLifetime  time.Duration `yaml:"access_token_lifetime"`
	IDTokenLifetime      time.Duration `yaml:"id_token_lifetime"`
	RefreshTokenLifetime time.Duration `yaml:"refresh_token_lifetime"`
	// RefreshReuseGrace is how long after a refresh token was used it is
	// still accepted (a client that sent the same refresh twice at once, or
	// lost the answer). After it, using it again is taken as theft and
	// revokes every token of the grant. Default 10s; 0 disables the grace.
	RefreshReuseGrace time.Duration `yaml:"refresh_reuse_grace"`
}

// KeysConfig configures signing keys.
type KeysConfig struct {
	// Secret encrypts the signing keys in the database and the codes and
	// opaque access tokens the provider hands out (AES-256-GCM, with keys
	// derived from it). At least 32 characters; keep it in the environment
	// (${CANONID_OIDC_SECRET}). Every replica needs the same one. Required
	// when there are clients.
	Secret string `yaml:"secret"`
	// Algorithm is RS256 (default) or ES256.
	Algorithm string `yaml:"algorithm"`
	// RotateEvery is how long each key signs. Default 720h (30 days).
	RotateEvery time.Duration `yaml:"rotate_every"`
	// PublishAhead is how long a new key is in the JWKS before it signs,
	// so that relying parties that cache the JWKS know it. Default 24h.
	PublishAhead time.Duration `yaml:"publish_ahead"`
}

// ClientConfig is one relying party.
type ClientConfig struct {
	// ID is the client_id.
	ID string `yaml:"id"`
	// Name is shown on the login page. Default the id.
	Name string `yaml:"name"`
	// Secret is the client secret (at least 32 characters; keep it in the
	// environment), or SecretSHA256 its SHA-256 in hex, so that the file
	// holds no secret. Neither for a public client.
	Secret       string `yaml:"secret"`
	SecretSHA256 string `yaml:"secret_sha256"`
	// Public marks a client that cannot keep a secret (a single-page or
	// native application): no secret, PKCE required.
	Public bool `yaml:"public"`
	// RedirectURIs are matched exactly.
	RedirectURIs []string `yaml:"redirect_uris"`
	// PostLogoutRedirectURIs are where end_session may send the browser
	// back, matched exactly.
	PostLogoutRedirectURIs []string `yaml:"post_logout_redirect_uris"`
	// Scopes the client may ask. Default openid, profile, email, groups,
	// offline_access.
	Scopes []string `yaml:"scopes"`
	// GrantTypes: authorization_code, refresh_token, client_credentials.
	// Default authorization_code and refresh_token.
	GrantTypes []string `yaml:"grant_types"`
	// AccessTokenFormat is opaque (default: checked against the database,
	// revoked at once) or jwt (verified by signature; revocation takes
	// effect when it expires).
	AccessTokenFormat string `yaml:"access_token_format"`
	// RequireOrg, when set, admits only accounts with a validated
	// membership in this org.
	RequireOrg string `yaml:"require_org"`
}

// Scopes canonid knows besides openid.
const (
	ScopeProfile       = "profile"
	ScopeEmail         = "email"
	ScopeGroups        = "groups"
	ScopeOfflineAccess = "offline_access"
)

// Grant types.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
)

// DefaultConfig returns the settings used when the file says nothing.
func DefaultConfig() Config {
	return Config{
		AccessTokenLifetime:  15 * time.Minute,
		IDTokenLifetime:      time.Hour,
		RefreshTokenLifetime: 720 * time.Hour,
		RefreshReuseGrace:    10 * time.Second,
		Keys:                 KeysConfig{Algorithm: "RS256", RotateEvery: 720 * time.Hour, PublishAhead: 24 * time.Hour},
	}
}

var clientID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// Validate reports every problem of c at once, each prefixed with its key.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(c.Clients) > 0 && len(c.Keys.Secret) < 32 {
		add("keys.secret: must hold at least 32 characters when there are clients (got %d)", len(c.Keys.Secret))
	}
	switch c.Keys.Algorithm {
	case "RS256", "ES256":
	default:
		add("keys.algorithm: must be RS256 or ES256, got %q", c.Keys.Algorithm)
	}
	if c.Keys.RotateEvery < time.Hour {
		add("keys.rotate_every: must be at least 1h, got %v", c.Keys.RotateEvery)
	}
	if c.Keys.PublishAhead < 0 || c.Keys.PublishAhead >= c.Keys.RotateEvery {
		add("keys.publish_ahead: must be between 0 and rotate_every (%v), got %v", c.Keys.RotateEvery, c.Keys.PublishAhead)
	}
	for name, d := range map[string]time.Duration{"access_token_lifetime": c.AccessTokenLifetime, "id_token_lifetime": c.IDTokenLifetime, "refresh_token_lifetime": c.RefreshTokenLifetime} {
		if d < time.Minute {
			add("%s: must be at least 1m, got %v", name, d)
		}
	}
	if c.RefreshReuseGrace < 0 || c.RefreshReuseGrace > time.Minute {
		add("refresh_reuse_grace: must be between 0 and 1m, got %v", c.RefreshReuseGrace)
	}
	seen := map[string]int{}
	for i, cl := range c.Clients {
		p := fmt.Sprintf("clients[%d]", i)
		if !clientID.MatchString(cl.ID) {
			add("%s.id: %q is not a client id (letters, digits, '.', '_', ':', '-')", p, cl.ID)
		} else if j, dup := seen[cl.ID]; dup {
			add("%s.id: duplicate %q (also clients[%d])", p, cl.ID, j)
		}
		seen[cl.ID] = i
		switch {
		case cl.Public && (cl.Secret != "" || cl.SecretSHA256 != ""):
			add("%s: a public client has no secret", p)
		case !cl.Public && cl.Secret == "" && cl.SecretSHA256 == "":
			add("%s: secret or secret_sha256 is required (or public: true)", p)
		case cl.Secret != "" && cl.SecretSHA256 != "":
			add("%s: give secret or secret_sha256, not both", p)
		case cl.Secret != "" && len(cl.Secret) < 32:
			add("%s.secret: must hold at least 32 characters (got %d)", p, len(cl.Secret))
		case cl.SecretSHA256 != "":
			if b, err := hex.DecodeString(cl.SecretSHA256); err != nil || len(b) != sha256.Size {
				add("%s.secret_sha256: must be 64 hexadecimal digits", p)
			}
		}
		grants := cl.grants()
		for _, g := range grants {
			switch g {
			case GrantAuthorizationCode, GrantRefreshToken:
			case GrantClientCredentials:
				if cl.Public {
					add("%s.grant_types: a public client cannot use client_credentials", p)
				}
			default:
				add("%s.grant_types: unknown %q (authorization_code, refresh_token, client_credentials)", p, g)
			}
		}
		if slices.Contains(grants, GrantAuthorizationCode) && len(cl.RedirectURIs) == 0 {
			add("%s.redirect_uris: at least one is required for authorization_code", p)
		}
		for j, u := range cl.RedirectURIs {
			if err := checkRedirect(u, cl.Public); err != nil {
				add("%s.redirect_uris[%d]: %v", p, j, err)
			}
		}
		for j, u := range cl.PostLogoutRedirectURIs {
			if err := checkRedirect(u, cl.Public); err != nil {
				add("%s.post_logout_redirect_uris[%d]: %v", p, j, err)
			}
		}
		for _, s := range cl.Scopes {
			switch s {
			case "openid", ScopeProfile, ScopeEmail, ScopeGroups, ScopeOfflineAccess:
			default:
				add("%s.scopes: unknown %q (openid, profile, email, groups, offline_access)", p, s)
			}
		}
		switch cl.AccessTokenFormat {
		case "", "opaque", "jwt":
		default:
			add("%s.access_token_format: must be opaque or jwt, got %q", p, cl.AccessTokenFormat)
		}
	}
	return errors.Join(errs...)
}

// checkRedirect accepts absolute https URLs, http ones on the loopback
// interface, and (for public, native clients) private-use schemes such as
// com.example.app:/callback. Fragments are refused (RFC 6749 §3.1.2).
func checkRedirect(raw string, public bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %v", raw, err)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("%q has a fragment", raw)
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return fmt.Errorf("%q has no host", raw)
		}
	case "http":
		h := u.Hostname()
		if h != "127.0.0.1" && h != "localhost" && h != "::1" {
			return fmt.Errorf("%q: http only on the loopback interface (127.0.0.1, localhost); use https", raw)
		}
	case "":
		return fmt.Errorf("%q is not absolute", raw)
	default:
		if !public || !strings.Contains(u.Scheme, ".") {
			return fmt.Errorf("%q: scheme %s only for a public native client, as a reverse domain name (com.example.app)", raw, u.Scheme)
		}
	}
	return nil
}

func (cl ClientConfig) grants() []string {
	if len(cl.GrantTypes) == 0 {
		return []string{GrantAuthorizationCode, GrantRefreshToken}
	}
	return cl.GrantTypes
}

func (cl ClientConfig) scopes() []string {
	if len(cl.Scopes) == 0 {
		return []string{"openid", ScopeProfile, ScopeEmail, ScopeGroups, ScopeOfflineAccess}
	}
	return cl.Scopes
}
