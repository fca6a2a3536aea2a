package web

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Config configures the login pages: the login section of canonid's
// configuration, plus the public URL of the server. A zero field takes its
// default.
type Config struct {
	// PublicURL is the absolute http(s) URL under which browsers reach
	// canonid (the server's public_url). Cookies are Secure when it is
	// https, and a POST whose Origin header names another origin is
	// refused.
	PublicURL string `yaml:"-"`
	// Secret keys the HMAC of the CSRF tokens (and of the activation
	// resend tickets). At least 32 bytes, random; keep it in the
	// environment (${CANONID_LOGIN_SECRET}). Every replica needs the same
	// one. Changing it only expires the forms being filled in.
	Secret Secret `yaml:"secret"`
	// SessionLifetime is the absolute lifetime of a login session, from
	// the password check. Default 12h.
	SessionLifetime time.Duration `yaml:"session_lifetime"`
	// SessionIdle ends a session nobody used for that long. Default 2h.
	SessionIdle time.Duration `yaml:"session_idle"`
	// CookieName is the name of the session cookie. Default
	// "canonid_session".
	CookieName string `yaml:"cookie_name"`
	// LoginRate and LoginBurst limit failed logins per client address
	// (Gin's ClientIP, which trusts X-Forwarded-For only from the proxies
	// the server trusts): a token bucket of LoginBurst tokens refilled at
	// LoginRate. Defaults: 10 a minute, burst 10.
	LoginRate  Rate `yaml:"login_rate"`
	LoginBurst int  `yaml:"login_burst"`
	// IdentifierRate and IdentifierBurst limit failed logins per
	// identifier (normalised login or e-mail address), whoever tries it.
	// Defaults: 5 per 15 minutes, burst 5.
	IdentifierRate  Rate `yaml:"identifier_rate"`
	IdentifierBurst int  `yaml:"identifier_burst"`
	// HelpURL is where people ask the help desk: an http(s) page or a
	// mailto: address. The account pages link to it (for instance to ask
	// for the merge of an account the person cannot log in to). Optional.
	HelpURL string `yaml:"help_url"`
}

// Secret is key material: a []byte that a YAML string decodes into and that
// never prints.
type Secret []byte

// UnmarshalText takes the text as the secret's bytes (YAML, environment).
func (s *Secret) UnmarshalText(b []byte) error {
	*s = append(Secret(nil), b...)
	return nil
}

// String hides the secret from logs and error messages.
func (s Secret) String() string { return "[redacted]" }

// Rate is Events per Per: the refill rate of a token bucket.
type Rate struct {
	Events int           `yaml:"events"`
	Per    time.Duration `yaml:"per"`
}

// perSecond returns the rate in events per second.
func (r Rate) perSecond() float64 { return float64(r.Events) / r.Per.Seconds() }

func (r Rate) String() string { return fmt.Sprintf("%d per %s", r.Events, r.Per) }

// Defaults of Config.
const (
	DefaultSessionLifetime = 12 * time.Hour
	DefaultSessionIdle     = 2 * time.Hour
	DefaultCookieName      = "canonid_session"
	DefaultLoginBurst      = 10
	DefaultIdentifierBurst = 5
)

// Default rates of Config.
var (
	DefaultLoginRate      = Rate{Events: 10, Per: time.Minute}
	DefaultIdentifierRate = Rate{Events: 5, Per: 15 * time.Minute}
)

// minSecret is the shortest Config.Secret accepted.
const minSecret = 32

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.SessionLifetime == 0 {
		c.SessionLifetime = DefaultSessionLifetime
	}
	if c.SessionIdle == 0 {
		c.SessionIdle = DefaultSessionIdle
	}
	if c.CookieName == "" {
		c.CookieName = DefaultCookieName
	}
	if c.LoginRate == (Rate{}) {
		c.LoginRate = DefaultLoginRate
	}
	if c.LoginBurst == 0 {
		c.LoginBurst = DefaultLoginBurst
	}
	if c.IdentifierRate == (Rate{}) {
		c.IdentifierRate = DefaultIdentifierRate
	}
	if c.IdentifierBurst == 0 {
		c.IdentifierBurst = DefaultIdentifierBurst
	}
	return c
}

// Validate reports every problem of c at once, each prefixed with its key.
// Zero fields stand for their defaults.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if _, err := publicOrigin(c.PublicURL); err != nil {
		errs = append(errs, fmt.Errorf("public_url: %w", err))
	}
	if len(c.Secret) < minSecret {
		errs = append(errs, fmt.Errorf("secret: must be at least %d bytes, got %d", minSecret, len(c.Secret)))
	}
	if c.SessionLifetime < 0 {
		errs = append(errs, fmt.Errorf("session_lifetime: must be positive, got %s", c.SessionLifetime))
	}
	if c.SessionIdle < 0 {
		errs = append(errs, fmt.Errorf("session_idle: must be positive, got %s", c.SessionIdle))
	}
	if c.SessionIdle > 0 && c.SessionLifetime > 0 && c.SessionIdle > c.SessionLifetime {
		errs = append(errs, fmt.Errorf("session_idle: must not exceed session_lifetime (%s), got %s", c.SessionLifetime, c.SessionIdle))
	}
	if !validCookieName(c.CookieName) {
		errs = append(errs, fmt.Errorf("cookie_name: %q is not a cookie name (letters, digits, '_', '-')", c.CookieName))
	} else if c.CookieName == csrfCookie || c.CookieName == langCookie || c.CookieName == upstreamCookie || c.CookieName == linkCookie {
		errs = append(errs, fmt.Errorf("cookie_name: %q is used by the login pages themselves", c.CookieName))
	}
	errs = append(errs, c.LoginRate.validate("login_rate")...)
	if c.LoginBurst < 1 {
		errs = append(errs, fmt.Errorf("login_burst: must be at least 1, got %d", c.LoginBurst))
	}
	if c.HelpURL != "" {
		if u, err := url.Parse(c.HelpURL); err != nil || !(u.Scheme == "mailto" && u.Opaque != "" ||
			(u.Scheme == "http" || u.Scheme == "https") && u.Host != "") {
			errs = append(errs, fmt.Errorf("help_url: must be an absolute http(s) URL or a mailto: address, got %q", c.HelpURL))
		}
	}
	errs = append(errs, c.IdentifierRate.validate("identifier_rate")...)
	if c.IdentifierBurst < 1 {
		errs = append(errs, fmt.Errorf("identifier_burst: must be at least 1, got %d", c.IdentifierBurst))
	}
	return errors.Join(errs...)
}

func (r Rate) validate(key string) []error {
	var errs []error
	if r.Events < 1 {
		errs = append(errs, fmt.Errorf("%s.events: must be at least 1, got %d", key, r.Events))
	}
	if r.Per <= 0 {
		errs = append(errs, fmt.Errorf("%s.per: must be positive, got %s", key, r.Per))
	}
	return errs
}

// validCookieName accepts 1 to 64 characters of [A-Za-z0-9_-].
func validCookieName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// publicOrigin returns the origin (scheme://host[:port], as browsers send
// it in the Origin header) of an absolute http(s) URL.
func publicOrigin(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return "", fmt.Errorf("must be an absolute http(s) URL, got %q", s)
	}
	host := strings.ToLower(u.Host)
	// Browsers leave the default port out of the origin.
	if u.Scheme == "https" {
		host = strings.TrimSuffix(host, ":443")
	} else {
		host = strings.TrimSuffix(host, ":80")
	}
	return u.Scheme + "://" + host, nil
}
