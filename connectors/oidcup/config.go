package oidcup

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Defaults applied by New to the settings left empty.
const (
	DefaultTimeout = 10 * time.Second
	// PendingTTL is how long a login begun by Begin may take to come
	// back to Finish.
	PendingTTL = 10 * time.Minute
)

// DefaultScopes are the scopes asked for when Config.Scopes is empty.
func DefaultScopes() []string { return []string{"openid", "email", "profile"} }

// Config is an upstream OpenID provider's configuration: canonid is a
// relying party (a client) of that provider. Durations are YAML strings
// such as "10s".
type Config struct {
	// Name is the connector's name; links from it have the source
	// "oidc:<name>". canonid's configuration gives it as the connector
	// entry's name.
	Name string `yaml:"-"`
	// Issuer is the provider's issuer URL, exactly as its discovery
	// document (<issuer>/.well-known/openid-configuration) spells it.
	// https only; http is accepted for 127.0.0.1 and localhost, for tests.
	Issuer string `yaml:"issuer"`
	// ClientID is canonid's client id at the provider.
	ClientID string `yaml:"client_id"`
	// ClientSecret is canonid's client secret at the provider; empty for
	// a public client (PKCE only). Expected already expanded from the
	// environment by the config loader.
	ClientSecret string `yaml:"client_secret"`
	// Scopes are asked for at login; default [openid, email, profile].
	// They must include openid.
	Scopes []string `yaml:"scopes"`
	// DisplayName is the label of the login button; default Name.
	DisplayName string `yaml:"display_name"`
	// LinkByVerifiedEmail lets a first login through this provider link
	// to an existing account holding the same verified e-mail address.
	// Default false: anyone able to make the provider vouch for an
	// address would take over the account that holds it, so only set it
	// for a provider trusted to verify addresses it does not own.
	LinkByVerifiedEmail bool `yaml:"link_by_verified_email"`
	// Timeout bounds each request to the provider (discovery, keys,
	// token, userinfo); default 10s. Not a key of canonid's
	// configuration file, where timeout is the directory's.
	Timeout time.Duration `yaml:"-"`
}

var connectorName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

const maxDisplayName = 64

// Validate reports every problem of the configuration at once, each
// prefixed by its YAML key. It checks what it can without I/O: New also
// fetches the provider's discovery document.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf(key+": "+format, args...))
	}

	if c.Name == "" {
		bad("name", "required")
	} else if !connectorName.MatchString(c.Name) {
		bad("name", "%q is not a connector name (^[a-z0-9][a-z0-9-]{0,62}$)", c.Name)
	}

	if c.Issuer == "" {
		bad("issuer", "required")
	} else if err := checkIssuer(c.Issuer); err != nil {
		bad("issuer", "%v", err)
	}

	if c.ClientID == "" {
		bad("client_id", "required")
	}

	if len(c.Scopes) > 0 && !slices.Contains(c.Scopes, "openid") {
		bad("scopes", "must include openid")
	}
	seen := make(map[string]bool, len(c.Scopes))
	for i, s := range c.Scopes {
		key := fmt.Sprintf("scopes[%d]", i)
		switch {
		case s == "":
			bad(key, "empty")
		case strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == '"' || r == '\\' || r > '~' }):
			bad(key, "%q is not a scope (printable ASCII, no space, quote or backslash)", s)
		case seen[s]:
			bad(key, "%q given twice", s)
		}
		seen[s] = true
	}

	if len([]rune(c.DisplayName)) > maxDisplayName {
		bad("display_name", "longer than %d characters", maxDisplayName)
	}
	if strings.ContainsFunc(c.DisplayName, unicode.IsControl) {
		bad("display_name", "must not contain control characters")
	}

	if c.Timeout < 0 {
		bad("timeout", "must not be negative, got %s", c.Timeout)
	}
	return errors.Join(errs...)
}

// checkIssuer checks an issuer URL: https, or http on the loopback
// interface; a host; no credentials, query or fragment (OpenID Connect
// Discovery 1.0, section 2).
func checkIssuer(issuer string) error {
	u, err := url.Parse(issuer)
	if err != nil {
		return err
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http":
		if !isLoopback(u.Hostname()) {
			return fmt.Errorf("must be https (http only for 127.0.0.1 and localhost), got %q", issuer)
		}
	default:
		return fmt.Errorf("scheme must be https, got %q", u.Scheme)
	}
	switch {
	case u.Host == "":
		return errors.New("host required")
	case u.User != nil:
		return errors.New("must not carry credentials")
	case u.RawQuery != "" || u.ForceQuery:
		return errors.New("must not carry a query")
	case u.Fragment != "" || strings.Contains(issuer, "#"):
		return errors.New("must not carry a fragment")
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// withDefaults returns the configuration with every empty setting given
// its default.
func (c Config) withDefaults() Config {
	if len(c.Scopes) == 0 {
		c.Scopes = DefaultScopes()
	} else {
		c.Scopes = slices.Clone(c.Scopes)
	}
	if c.DisplayName == "" {
		c.DisplayName = c.Name
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}
