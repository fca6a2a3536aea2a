package scim

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/ingest"
)

// Config is the server part of the scim section of canonid's configuration.
type Config struct {
	// Clients tune, per provisioning client (the name of its API token),
	// how its writes become accounts. A client without an entry gets the
	// defaults of ingest.Config, except that the addresses it gives stay
	// pending until their owner confirms them (email_verified: false).
	Clients []Client `yaml:"clients"`
	// Rate is the sustained number of requests per second one token may
	// make; Burst how many it may make at once. Beyond, requests get 429
	// with Retry-After. Defaults: 50 and 100.
	Rate  float64 `yaml:"rate"`
	Burst int     `yaml:"burst"`
	// MaxResults is the largest page a list returns (count), and the page
	// size when the client gives none. Default 100; at most 1000.
	MaxResults int `yaml:"max_results"`
}

// Client is one provisioning client's settings.
type Client struct {
	// Name is the client's API token name; its links are "scim:<name>".
	Name string `yaml:"name"`
	// Correlate, EmailVerified, NewAccountStatus, OnGone and Org are those
	// of a connector (ingest.Config); EmailVerified defaults to false.
	Correlate        []ingest.CorrelateRule `yaml:"correlate"`
	EmailVerified    *bool                  `yaml:"email_verified"`
	NewAccountStatus identity.Status        `yaml:"new_account_status"`
	OnGone           ingest.OnGone          `yaml:"on_gone"`
	Org              string                 `yaml:"org"`
}

// DefaultConfig returns the settings used when the file says nothing.
func DefaultConfig() Config { return Config{Rate: 50, Burst: 100, MaxResults: 100} }

var clientName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// Validate reports every problem of c at once, each prefixed with its key.
func (c Config) Validate() error {
	var errs []error
	seen := map[string]bool{}
	for i, cl := range c.Clients {
		if !clientName.MatchString(cl.Name) {
			errs = append(errs, fmt.Errorf("clients[%d].name: %q is not a token name (letters, digits, '.', '_', '-')", i, cl.Name))
		}
		if seen[cl.Name] {
			errs = append(errs, fmt.Errorf("clients[%d].name: %q is listed twice", i, cl.Name))
		}
		seen[cl.Name] = true
		if err := cl.ingest().Validate(); err != nil {
			errs = append(errs, fmt.Errorf("clients[%d]: %w", i, err))
		}
	}
	if c.Rate <= 0 {
		errs = append(errs, fmt.Errorf("rate: must be positive, got %v", c.Rate))
	}
	if c.Burst < 1 {
		errs = append(errs, fmt.Errorf("burst: must be at least 1, got %d", c.Burst))
	}
	if c.MaxResults < 1 || c.MaxResults > 1000 {
		errs = append(errs, fmt.Errorf("max_results: must be between 1 and 1000, got %d", c.MaxResults))
	}
	return errors.Join(errs...)
}

// client returns the ingest settings of the named client.
func (c Config) client(name string) ingest.Config {
	for _, cl := range c.Clients {
		if cl.Name == name {
			return cl.ingest()
		}
	}
	no := false
	return ingest.Config{EmailVerified: &no}
}

// ingest returns the client's settings as an ingest.Config.
func (cl Client) ingest() ingest.Config {
	cfg := ingest.Config{
		Correlate: cl.Correlate, EmailVerified: cl.EmailVerified,
		NewAccountStatus: cl.NewAccountStatus, OnGone: cl.OnGone, Org: cl.Org,
	}
	if cfg.EmailVerified == nil {
		no := false
		cfg.EmailVerified = &no
	}
	return cfg
}
