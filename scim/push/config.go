package push

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// What a target does with the downstream User of a merged account
// (Config.OnMerge).
const (
	// OnMergeDeactivate deactivates the User and frees its userName and
	// addresses; it is deleted after Config.DeleteAfter if that is set,
	// never otherwise.
	OnMergeDeactivate = "deactivate"
	// OnMergeDelete deactivates and frees the User at once, and deletes
	// it after Config.DeleteAfter (default DefaultDeleteAfter).
	OnMergeDelete = "delete"
)

// Defaults of Config.
const (
	// DefaultDeleteAfter is the grace before a retired User is deleted,
	// with OnMergeDelete: long enough to undo a mistaken merge without the
	// platform losing what the person did there.
	DefaultDeleteAfter = 30 * 24 * time.Hour
	// DefaultTimeout bounds one HTTP request.
	DefaultTimeout = 30 * time.Second
)

// Config is one downstream SCIM service provider, an entry of
// scim.targets in canonid's configuration.
type Config struct {
	// Name names the target in errors, logs and the propagation state.
	Name string `yaml:"name"`
	// URL is the provider's SCIM base URL, the one /Users and
	// /ServiceProviderConfig are relative to (https://lms.example/scim/v2).
	URL string `yaml:"url"`
	// Token is the bearer token canonid presents (Authorization: Bearer).
	Token string `yaml:"token"`
	// OnMerge is OnMergeDeactivate (default) or OnMergeDelete.
	OnMerge string `yaml:"on_merge"`
	// DeleteAfter is the grace between the deactivation of a retired User
	// and its deletion. With OnMergeDelete, 0 means DefaultDeleteAfter;
	// with OnMergeDeactivate, 0 means never delete.
	DeleteAfter time.Duration `yaml:"delete_after"`
	// Timeout bounds each HTTP request; 0 means DefaultTimeout.
	Timeout time.Duration `yaml:"timeout"`
}

var targetName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// Validate reports every problem of c at once, each prefixed with its key.
// It never shows the token.
func (c Config) Validate() error {
	var errs []error
	if !targetName.MatchString(c.Name) {
		errs = append(errs, fmt.Errorf("name: %q is not a target name (letters, digits, '.', '_', '-', at most 63)", c.Name))
	}
	if err := validURL(c.URL); err != nil {
		errs = append(errs, fmt.Errorf("url: %w", err))
	}
	switch {
	case strings.TrimSpace(c.Token) == "":
		errs = append(errs, errors.New("token: missing (a bearer token the provider issued; ${ENV} keeps it out of the file)"))
	case strings.ContainsFunc(c.Token, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		errs = append(errs, errors.New("token: contains spaces or control characters"))
	}
	switch c.OnMerge {
	case "", OnMergeDeactivate, OnMergeDelete:
	default:
		errs = append(errs, fmt.Errorf("on_merge: %q is not %s or %s", c.OnMerge, OnMergeDeactivate, OnMergeDelete))
	}
	if c.DeleteAfter < 0 {
		errs = append(errs, fmt.Errorf("delete_after: must not be negative, got %s", c.DeleteAfter))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout: must not be negative, got %s", c.Timeout))
	}
	return errors.Join(errs...)
}

func validURL(s string) error {
	if s == "" {
		return errors.New("missing (the provider's SCIM base URL)")
	}
	u, err := url.Parse(s)
	if err != nil {
		// url.Parse's error quotes the URL, credentials and all.
		return errors.New("not a parseable URL")
	}
	var problems []string
	if u.Scheme != "http" && u.Scheme != "https" {
		problems = append(problems, "the scheme must be http or https")
	}
	if u.Host == "" {
		problems = append(problems, "there is no host")
	}
	if u.User != nil {
		// Credentials in a URL end up in errors and logs.
		problems = append(problems, "credentials belong in token, not in the URL")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		problems = append(problems, "a base URL has no query or fragment")
	}
	if len(problems) > 0 {
		shown := s
		if u.User != nil {
			u.User = nil
			shown = u.String()
		}
		return fmt.Errorf("%q: %s", shown, strings.Join(problems, "; "))
	}
	return nil
}

// withDefaults returns c with its defaults filled in.
func (c Config) withDefaults() Config {
	if c.OnMerge == "" {
		c.OnMerge = OnMergeDeactivate
	}
	if c.OnMerge == OnMergeDelete && c.DeleteAfter == 0 {
		c.DeleteAfter = DefaultDeleteAfter
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	c.URL = strings.TrimRight(c.URL, "/")
	return c
}
