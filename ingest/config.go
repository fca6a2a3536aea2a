package ingest

import (
	"errors"
	"fmt"
	"regexp"
	"slices"

	"github.com/canonid/canonid/identity"
)

// OnGone says what happens to an account whose last link is gone.
type OnGone string

// OnGone policies.
const (
	// GoneSuspend suspends the account (the default); it is reactivated
	// when one of its identities comes back.
	GoneSuspend OnGone = "suspend"
	// GoneKeep leaves the account as it is.
	GoneKeep OnGone = "keep"
)

// Config is the part of a connector's configuration that says how what it
// reads becomes accounts. Its keys sit beside the connector's own.
type Config struct {
	// Correlate lists, in order, the keys by which an identity not linked
	// yet is matched with an existing account: email (a verified
	// address), recovery_email (matched against verified and recovery
	// addresses), ine, supann_etu_id, supann_emp_id, supann_ref_id, eppn,
	// name_birth_date, login. The first key that finds exactly one
	// account links to it. Default: every key but name_birth_date and
	// login. An empty list (correlate: []) never links.
	Correlate []identity.LookupKind `yaml:"correlate"`
	// NewAccountStatus is the status of the accounts a sync creates:
	// active (default) or pending_activation.
	NewAccountStatus identity.Status `yaml:"new_account_status"`
	// OnGone is what happens to an account whose every link is gone:
	// suspend (default) or keep.
	OnGone OnGone `yaml:"on_gone"`
	// Org, when set, makes every synced account a validated member of
	// this org.
	Org string `yaml:"org"`
	// MaxGone refuses a run that would mark more than this share of the
	// source's active links gone (a wrong base DN or filter looks like
	// everybody left): 0 to 1, default 0.5; 1 disables the check.
	MaxGone *float64 `yaml:"max_gone"`
}

// LookupLogin is the correlation key matching an account's login. It is not
// a stored lookup key: logins are looked up in the accounts themselves.
const LookupLogin identity.LookupKind = "login"

// DefaultCorrelate is the correlation order when none is configured.
func DefaultCorrelate() []identity.LookupKind {
	return []identity.LookupKind{identity.LookupEmail, identity.LookupRecoveryEmail, identity.LookupINE,
		identity.LookupEtuID, identity.LookupEmpID, identity.LookupRefID, identity.LookupEPPN}
}

// WithDefaults returns c with its defaults filled in.
func (c Config) WithDefaults() Config {
	if c.Correlate == nil {
		c.Correlate = DefaultCorrelate()
	}
	if c.NewAccountStatus == "" {
		c.NewAccountStatus = identity.StatusActive
	}
	if c.OnGone == "" {
		c.OnGone = GoneSuspend
	}
	if c.MaxGone == nil {
		half := 0.5
		c.MaxGone = &half
	}
	return c
}

var orgID = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Validate reports every problem of c at once, each prefixed with its key.
func (c Config) Validate() error {
	var errs []error
	seen := map[identity.LookupKind]bool{}
	for i, k := range c.Correlate {
		switch {
		case !k.Valid() && k != LookupLogin:
			errs = append(errs, fmt.Errorf("correlate[%d]: unknown key %q (want one of %v or login)", i, k, identity.LookupKinds()))
		case seen[k]:
			errs = append(errs, fmt.Errorf("correlate[%d]: %q is listed twice", i, k))
		}
		seen[k] = true
	}
	if c.NewAccountStatus != "" && !slices.Contains([]identity.Status{identity.StatusActive, identity.StatusPendingActivation}, c.NewAccountStatus) {
		errs = append(errs, fmt.Errorf("new_account_status: %q is not active or pending_activation", c.NewAccountStatus))
	}
	if c.OnGone != "" && c.OnGone != GoneSuspend && c.OnGone != GoneKeep {
		errs = append(errs, fmt.Errorf("on_gone: %q is not suspend or keep", c.OnGone))
	}
	if c.Org != "" && !orgID.MatchString(c.Org) {
		errs = append(errs, fmt.Errorf("org: %q is not an org id", c.Org))
	}
	if c.MaxGone != nil && (*c.MaxGone < 0 || *c.MaxGone > 1) {
		errs = append(errs, fmt.Errorf("max_gone: %v is not between 0 and 1", *c.MaxGone))
	}
	return errors.Join(errs...)
}
