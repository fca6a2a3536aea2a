package ldapwrite

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// What happens to the entry of a retired (merged) account: Config.OnMerge.
const (
	// OnMergeDelete deletes the entry.
	OnMergeDelete = "delete"
	// OnMergeMove moves the entry below Config.RetiredBaseDN, without its
	// e-mail addresses, marked inactive.
	OnMergeMove = "move"
)

// Defaults applied by New to the settings left empty.
const (
	DefaultRDNAttribute = "uid"
	DefaultOnMerge      = OnMergeDelete
	DefaultTimeout      = 30 * time.Second
)

// DefaultObjectClasses returns the object classes of the entries Write
// creates when Config.ObjectClasses is empty: inetOrgPerson for the names,
// mail and phone, supannPerson for supannListeRouge, mailForwardingAddress
// and supannRefId, eduPerson for eduPersonAffiliation, supannRessource for
// supannRessourceEtat.
func DefaultObjectClasses() []string {
	return []string{"inetOrgPerson", "supannPerson", "eduPerson", "supannRessource"}
}

// Config is an LDAP write-back target's configuration, an item of the
// ldap_targets section. Durations are YAML strings such as "30s".
type Config struct {
	// Name identifies the target in logs, errors and the outbox.
	Name string `yaml:"name"`
	// URL is the server: ldap://host[:port] or ldaps://host[:port].
	URL string `yaml:"url"`
	// StartTLS upgrades an ldap:// connection with the StartTLS extended
	// operation before binding.
	StartTLS bool `yaml:"start_tls"`
	// CAFile is a PEM file of the certificate authorities to trust, in
	// addition to the system's.
	CAFile string `yaml:"ca_file"`
	// BindDN and BindPassword are the credentials of an account allowed
	// to add, modify, rename and delete entries below BaseDN (and
	// RetiredBaseDN). The password is expected already expanded from the
	// environment by the config loader; it never appears in an error.
	BindDN       string `yaml:"bind_dn"`
	BindPassword string `yaml:"bind_password"`
	// BaseDN is where the entries of the accounts are written. The
	// target owns it: give it an organizational unit of its own.
	BaseDN string `yaml:"base_dn"`
	// RDNAttribute names the entries: <rdn_attribute>=<login>,<base_dn>;
	// default "uid". The entry holds the login in that attribute too.
	RDNAttribute string `yaml:"rdn_attribute"`
	// ObjectClasses are the object classes of the entries; default
	// DefaultObjectClasses(). They must allow every attribute Write
	// manages. Classes an existing entry lacks are added to it.
	ObjectClasses []string `yaml:"object_classes"`
	// OnMerge is what happens to the entry of a retired account:
	// "delete" (default) or "move".
	OnMerge string `yaml:"on_merge"`
	// RetiredBaseDN is where "move" puts the entries of retired accounts
	// (e.g. ou=merged,dc=univ-test,dc=fr). Required with "move", refused
	// otherwise.
	RetiredBaseDN string `yaml:"retired_base_dn"`
	// Timeout bounds connecting and each request; default 30s.
	Timeout time.Duration `yaml:"timeout"`
}

// nameRE matches an attribute or object class name (no options, no OID).
var nameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]*$`)

// Validate reports every problem of the configuration at once, each
// prefixed by its YAML key. It checks what it can without I/O: New also
// reads ca_file.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf(key+": "+format, args...))
	}

	if c.Name == "" {
		bad("name", "required")
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
			bad("url", "must not carry a DN or query: use base_dn")
		}
		if c.StartTLS && u.Scheme == "ldaps" {
			bad("start_tls", "cannot be used with an ldaps:// url")
		}
	}

	if c.BindDN == "" {
		bad("bind_dn", "required: writing needs an account")
	} else if _, err := ldap.ParseDN(c.BindDN); err != nil {
		bad("bind_dn", "%v", err)
	}
	if c.BindPassword == "" {
		bad("bind_password", "required")
	}

	var base *ldap.DN
	if c.BaseDN == "" {
		bad("base_dn", "required")
	} else if dn, err := ldap.ParseDN(c.BaseDN); err != nil {
		bad("base_dn", "%v", err)
	} else {
		base = dn
	}
	if c.RDNAttribute != "" && !nameRE.MatchString(c.RDNAttribute) {
		bad("rdn_attribute", "not an attribute name: %q", c.RDNAttribute)
	}
	for i, oc := range c.ObjectClasses {
		if !nameRE.MatchString(oc) {
			bad(fmt.Sprintf("object_classes[%d]", i), "not an object class name: %q", oc)
		}
	}

	switch c.OnMerge {
	case "", OnMergeDelete:
		if c.RetiredBaseDN != "" {
			bad("retired_base_dn", "only used with on_merge: %s", OnMergeMove)
		}
	case OnMergeMove:
		if c.RetiredBaseDN == "" {
			bad("retired_base_dn", "required with on_merge: %s", OnMergeMove)
		} else if dn, err := ldap.ParseDN(c.RetiredBaseDN); err != nil {
			bad("retired_base_dn", "%v", err)
		} else if base != nil && dn.EqualFold(base) {
			bad("retired_base_dn", "must differ from base_dn")
		}
	default:
		bad("on_merge", "must be %q or %q, got %q", OnMergeDelete, OnMergeMove, c.OnMerge)
	}
	if c.Timeout < 0 {
		bad("timeout", "must not be negative, got %s", c.Timeout)
	}
	return errors.Join(errs...)
}

// withDefaults returns the configuration with every empty setting given
// its default.
func (c Config) withDefaults() Config {
	if c.RDNAttribute == "" {
		c.RDNAttribute = DefaultRDNAttribute
	}
	if len(c.ObjectClasses) == 0 {
		c.ObjectClasses = DefaultObjectClasses()
	}
	if c.OnMerge == "" {
		c.OnMerge = DefaultOnMerge
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}
