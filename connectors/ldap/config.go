package ldap

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Presence modes: how ScanIDs learns which identities the directory holds.
const (
	// PresenceScan lists the entryUUIDs with a paged search.
	PresenceScan = "scan"
	// PresenceSyncrepl lists them with a Content Synchronization
	// (RFC 4533) refresh; the server must run the syncprov overlay.
	PresenceSyncrepl = "syncrepl"
)

// Scopes of the searches below base_dn.
const (
	// ScopeSub searches the whole subtree below base_dn.
	ScopeSub = "sub"
	// ScopeOne searches the entries just below base_dn.
	ScopeOne = "one"
)

// Defaults applied by New to the settings left empty.
const (
	DefaultFilter     = "(objectClass=*)"
	DefaultPageSize   = 1000
	DefaultPartitions = 2
	DefaultOverlap    = 2 * time.Minute
	DefaultTimeout    = 30 * time.Second
	maxPartitions     = 64
	maxPageSize       = 1 << 20
)

// Config is a campus directory connector's configuration. Durations are
// YAML strings such as "2m" or "30s".
type Config struct {
	// URL is the server: ldap://host[:port] or ldaps://host[:port].
	URL string `yaml:"url"`
	// StartTLS upgrades an ldap:// connection with the StartTLS
	// extended operation before binding.
	StartTLS bool `yaml:"start_tls"`
	// InsecureSkipVerify accepts any server certificate. For tests only.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
	// CAFile is a PEM file of the certificate authorities to trust, in
	// addition to the system's.
	CAFile string `yaml:"ca_file"`
	// BindDN and BindPassword are the service account's credentials;
	// both empty means an anonymous bind. The password is expected
	// already expanded from the environment by the config loader.
	BindDN       string `yaml:"bind_dn"`
	BindPassword string `yaml:"bind_password"`
	// BaseDN is where the people are.
	BaseDN string `yaml:"base_dn"`
	// Filter selects the people below BaseDN; default (objectClass=*).
	Filter string `yaml:"filter"`
	// Scope is "sub" (default, the whole subtree) or "one".
	Scope string `yaml:"scope"`
	// Attributes are read in addition to those the mapping needs.
	Attributes []string `yaml:"attributes"`
	// PageSize is the number of entries per page of the paged
	// searches (RFC 2696); default 1000.
	PageSize int `yaml:"page_size"`
	// Partitions is the number of searches a listing runs in parallel,
	// each over its own connection and its own range of entryUUIDs;
	// default 2, 1 disables. Servers that cannot order entryUUIDs get
	// one search whatever the setting.
	Partitions int `yaml:"partitions"`
	// Overlap is how far before the last mark an incremental listing
	// resumes, to cover clock skew and the one-second resolution of
	// modifyTimestamp; default 2m.
	Overlap time.Duration `yaml:"overlap"`
	// LoginAttributes are the attributes a login is matched against by
	// Authenticate; default [uid, mail].
	LoginAttributes []string `yaml:"login_attributes"`
	// UserFilter restricts the people who may log in; default Filter.
	UserFilter string `yaml:"user_filter"`
	// Timeout bounds connecting, each request, and each wait for the
	// next message of a search; default 30s.
	Timeout time.Duration `yaml:"timeout"`
	// Presence is how ScanIDs lists the identities present: "scan"
	// (default, a paged search) or "syncrepl" (an RFC 4533 refresh).
	Presence string `yaml:"presence"`
}

// attributeRE matches an attribute description: a name with options, or
// a numeric OID.
var attributeRE = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)*)(;[A-Za-z0-9-]+)*$`)

// Validate reports every problem of the configuration at once, each
// prefixed by its YAML key. It checks what it can without I/O: New also
// reads ca_file.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf(key+": "+format, args...))
	}

	if c.URL == "" {
		bad("url", "required")
	} else if u, err := url.Parse(c.URL); err != nil {
		bad("url", "%v", err)
	} else {
		switch {
		case u.Scheme != "ldap" && u.Scheme != "ldaps":
			bad("url", "scheme must be ldap or ldaps, got %q", u.Scheme)
		case u.Host == "":
			bad("url", "host required")
		case u.User != nil:
			bad("url", "must not carry credentials: use bind_dn and bind_password")
		case (u.Path != "" && u.Path != "/") || u.RawQuery != "":
			bad("url", "must not carry a DN or query: use base_dn and filter")
		}
		if c.StartTLS && u.Scheme == "ldaps" {
			bad("start_tls", "cannot be used with an ldaps:// url")
		}
	}
	if c.InsecureSkipVerify && c.CAFile != "" {
		bad("insecure_skip_verify", "set together with ca_file: choose one")
	}

	if c.BindDN != "" {
		if _, err := ldap.ParseDN(c.BindDN); err != nil {
			bad("bind_dn", "%v", err)
		}
		if c.BindPassword == "" {
			bad("bind_password", "required with bind_dn")
		}
	} else if c.BindPassword != "" {
		bad("bind_dn", "required with bind_password")
	}

	if c.BaseDN == "" {
		bad("base_dn", "required")
	} else if _, err := ldap.ParseDN(c.BaseDN); err != nil {
		bad("base_dn", "%v", err)
	}
	for _, f := range []struct{ key, filter string }{{"filter", c.Filter}, {"user_filter", c.UserFilter}} {
		if f.filter == "" {
			continue
		}
		if _, err := ldap.CompileFilter(f.filter); err != nil {
			bad(f.key, "%v", err)
		}
	}
	switch c.Scope {
	case "", ScopeSub, ScopeOne:
	default:
		bad("scope", "must be %q or %q, got %q", ScopeSub, ScopeOne, c.Scope)
	}
	for i, a := range c.Attributes {
		if !attributeRE.MatchString(a) {
			bad(fmt.Sprintf("attributes[%d]", i), "not an attribute name: %q", a)
		}
	}
	for i, a := range c.LoginAttributes {
		if !attributeRE.MatchString(a) {
			bad(fmt.Sprintf("login_attributes[%d]", i), "not an attribute name: %q", a)
		}
	}
	if c.PageSize < 0 || c.PageSize > maxPageSize {
		bad("page_size", "must be between 1 and %d, got %d", maxPageSize, c.PageSize)
	}
	if c.Partitions < 0 || c.Partitions > maxPartitions {
		bad("partitions", "must be between 1 and %d, got %d", maxPartitions, c.Partitions)
	}
	if c.Overlap < 0 {
		bad("overlap", "must not be negative, got %s", c.Overlap)
	}
	if c.Timeout < 0 {
		bad("timeout", "must not be negative, got %s", c.Timeout)
	}
	switch c.Presence {
	case "", PresenceScan, PresenceSyncrepl:
	default:
		bad("presence", "must be %q or %q, got %q", PresenceScan, PresenceSyncrepl, c.Presence)
	}
	return errors.Join(errs...)
}

// withDefaults returns the configuration with every empty setting given
// its default.
func (c Config) withDefaults() Config {
	if c.Filter == "" {
		c.Filter = DefaultFilter
	}
	if c.UserFilter == "" {
		c.UserFilter = c.Filter
	}
	if c.Scope == "" {
		c.Scope = ScopeSub
	}
	if c.PageSize == 0 {
		c.PageSize = DefaultPageSize
	}
	if c.Partitions == 0 {
		c.Partitions = DefaultPartitions
	}
	if c.Overlap == 0 {
		c.Overlap = DefaultOverlap
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if len(c.LoginAttributes) == 0 {
		c.LoginAttributes = []string{"uid", "mail"}
	}
	if c.Presence == "" {
		c.Presence = PresenceScan
	}
	return c
}
