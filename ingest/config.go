package ingest

import (
	"errors"
	"fmt"
	"regexp"
	"slices"

	"go.yaml.in/yaml/v3"

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
	// Correlate lists, in order, the rules by which an identity not linked
	// yet is matched with existing accounts. A rule names a key: email (a
	// verified address), recovery_email (matched against verified and
	// recovery addresses), ine, supann_etu_id, supann_emp_id,
	// supann_ref_id, eppn, name_birth_date, login. The first auto rule
	// that finds exactly one account links the identity to it; other
	// matches (a rule that is not auto, or several accounts) only suggest
	// duplicates of the new account. Default: every key but
	// name_birth_date and login. An empty list (correlate: []) never links.
	Correlate []CorrelateRule `yaml:"correlate"`
	// EmailVerified says whether the source vouches for the addresses it
	// gives: they become verified (a campus directory, default for ldap)
	// or stay pending until the person confirms them (agency files,
	// default for csv).
	EmailVerified *bool `yaml:"email_verified"`
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

// CorrelateRule is one correlation rule. In YAML it is a key ("email") or
// a mapping ({key: recovery_email, auto: true}); auto defaults to
// DefaultAuto(key).
type CorrelateRule struct {
	Key identity.LookupKind `yaml:"key"`
	// Auto links on a single match; otherwise a match is only a
	// suggestion.
	Auto bool `yaml:"auto"`
}

// DefaultAuto says whether a key links by itself when a rule does not say:
// identifiers and verified addresses do; a recovery address (shared by
// relatives) and names with a birth date (namesakes) only suggest.
func DefaultAuto(k identity.LookupKind) bool {
	return k != identity.LookupRecoveryEmail && k != identity.LookupNameBirthDate
}

// Rule returns the rule of key k with its default auto.
func Rule(k identity.LookupKind) CorrelateRule { return CorrelateRule{Key: k, Auto: DefaultAuto(k)} }

// UnmarshalYAML accepts a key or a {key, auto} mapping.
func (r *CorrelateRule) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*r = Rule(identity.LookupKind(n.Value))
		return nil
	}
	var raw struct {
		Key  identity.LookupKind `yaml:"key"`
		Auto *bool               `yaml:"auto"`
	}
	if err := n.Decode(&raw); err != nil {
		return err
	}
	*r = Rule(raw.Key)
	if raw.Auto != nil {
		r.Auto = *raw.Auto
	}
	return nil
}

// DefaultCorrelate is the correlation order when none is configured.
func DefaultCorrelate() []CorrelateRule {
	return []CorrelateRule{Rule(identity.LookupEmail), Rule(identity.LookupRecoveryEmail), Rule(identity.LookupINE),
		Rule(identity.LookupEtuID), Rule(identity.LookupEmpID), Rule(identity.LookupRefID), Rule(identity.LookupEPPN)}
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
	if c.EmailVerified == nil {
		yes := true
		c.EmailVerified = &yes
	}
	return c
}

var orgID = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Validate reports every problem of c at once, each prefixed with its key.
func (c Config) Validate() error {
	var errs []error
	seen := map[identity.LookupKind]bool{}
	for i, r := range c.Correlate {
		k := r.Key
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
