package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"time"

	"github.com/canonid/canonid/connectors"
	"github.com/canonid/canonid/connectors/csvimport"
	ldapconn "github.com/canonid/canonid/connectors/ldap"
	"github.com/canonid/canonid/connectors/oidcup"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/imports"
	"github.com/canonid/canonid/ingest"
	"github.com/canonid/canonid/mapping"
	"github.com/canonid/canonid/store"
)

// ConnectorConfig is one entry of connectors[]: a source of identities.
// The keys of how entries become accounts (ingest.Config) and those of the
// connector's type sit beside the common ones.
type ConnectorConfig struct {
	// Name is the connector's unique name; its links have the source
	// "<type>:<name>", e.g. "ldap:campus".
	Name string `yaml:"name"`
	// Type is the kind of source: ldap (a directory, synced) or csv (CSV
	// and XLSX files, imported).
	Type string `yaml:"type"`
	// Mapping turns the source's attributes into canonical fields: a
	// preset name (supann, eduperson) or a map, see docs/connectors.md.
	Mapping mapping.Spec `yaml:"mapping"`
	// Interval is how often serve runs an incremental sync; 0 (the
	// default) leaves the connector to canonid sync.
	Interval time.Duration `yaml:"interval"`
	// FullEvery is how often a scheduled sync is a full one (the whole
	// source read, deletions noticed). Default 24h.
	FullEvery time.Duration `yaml:"full_every"`
	// ScanEvery is how often an incremental sync also scans the ids at the
	// source to notice deletions. Default 1h.
	ScanEvery time.Duration `yaml:"scan_every"`
	// Ingest says how entries become accounts.
	Ingest ingest.Config `yaml:",inline"`
	// LDAP holds the keys of an ldap connector.
	LDAP ldapconn.Config `yaml:",inline"`
	// CSV holds the keys of a csv connector.
	CSV csvimport.Config `yaml:",inline"`
	// OIDC holds the keys of an oidc connector: an upstream OpenID
	// provider people log in with (its name is the entry's name).
	OIDC oidcup.Config `yaml:",inline"`
	// Snapshot (csv) says each file holds every identity of the source:
	// rows missing from a newer file mark their links gone.
	Snapshot bool `yaml:"snapshot"`
}

// Connector defaults.
const (
	defaultFullEvery = 24 * time.Hour
	defaultScanEvery = time.Hour
)

var connectorName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// applyDefaults fills what a connector entry may leave empty.
func (c *ConnectorConfig) applyDefaults() {
	if c.FullEvery == 0 {
		c.FullEvery = defaultFullEvery
	}
	if c.ScanEvery == 0 {
		c.ScanEvery = defaultScanEvery
	}
	if c.Mapping.Preset == "" && len(c.Mapping.Fields) == 0 && c.Type == "ldap" {
		c.Mapping.Preset = mapping.PresetSupann
	}
	if c.Ingest.EmailVerified == nil {
		// A directory vouches for its addresses; a file from an agency
		// holds what people told it.
		v := c.Type == "ldap"
		c.Ingest.EmailVerified = &v
	}
	if c.Ingest.Correlate == nil && c.Type == "csv" {
		c.Ingest.Correlate = []ingest.CorrelateRule{ingest.Rule(identity.LookupEmail), ingest.Rule(identity.LookupRecoveryEmail),
			ingest.Rule(identity.LookupINE), ingest.Rule(identity.LookupNameBirthDate)}
	}
}

// Source is the link source of the connector's identities.
func (c ConnectorConfig) Source() string { return c.Type + ":" + c.Name }

// Validate reports every problem of the entry, each prefixed with its key.
func (c ConnectorConfig) Validate() error {
	var errs []error
	if !connectorName.MatchString(c.Name) {
		errs = append(errs, fmt.Errorf("name: %q is not a connector name (^[a-z0-9][a-z0-9-]{0,62}$)", c.Name))
	}
	switch c.Type {
	case "ldap":
		errs = append(errs, c.LDAP.Validate())
		if !reflect.ValueOf(c.CSV).IsZero() || c.Snapshot {
			errs = append(errs, errors.New("type: ldap connectors take no file keys (format, delimiter, encoding, key_columns, sheet, snapshot)"))
		}
	case "csv":
		errs = append(errs, c.CSV.Validate())
		if !reflect.ValueOf(c.LDAP).IsZero() {
			errs = append(errs, errors.New("type: csv connectors take no directory keys (url, bind_dn, base_dn, filter...)"))
		}
		if c.Interval != 0 {
			errs = append(errs, errors.New("interval: csv connectors are run by canonid import or the API, not scheduled"))
		}
	case "oidc":
		o := c.OIDC
		o.Name = c.Name
		errs = append(errs, o.Validate())
		if !reflect.ValueOf(c.LDAP).IsZero() || !reflect.ValueOf(c.CSV).IsZero() || c.Snapshot {
			errs = append(errs, errors.New("type: oidc connectors take no directory or file keys"))
		}
		if c.Interval != 0 {
			errs = append(errs, errors.New("interval: oidc connectors are used at login, not scheduled"))
		}
	case "":
		errs = append(errs, errors.New("type: must be set (ldap, csv or oidc)"))
	default:
		errs = append(errs, fmt.Errorf("type: unknown connector type %q (want ldap, csv or oidc)", c.Type))
	}
	if c.Type != "oidc" && !reflect.ValueOf(c.OIDC).IsZero() {
		errs = append(errs, fmt.Errorf("type: %s connectors take no upstream OpenID keys (issuer, client_id...)", c.Type))
	}
	if c.Type == "oidc" {
		// Accounts are not created from an upstream identity (yet): its
		// claims map to nothing.
		if c.Mapping.Preset != "" || len(c.Mapping.Fields) > 0 {
			errs = append(errs, errors.New("mapping: oidc connectors take no mapping"))
		}
	} else {
		errs = append(errs, prefixErrors("mapping", c.Mapping.Validate())...)
	}
	errs = append(errs, c.Ingest.Validate())
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"interval", c.Interval}, {"full_every", c.FullEvery}, {"scan_every", c.ScanEvery}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s: must not be negative", d.key))
		}
	}
	if c.Interval > 0 && c.Interval < time.Second {
		errs = append(errs, fmt.Errorf("interval: %s is too short (at least 1s)", c.Interval))
	}
	return errors.Join(errs...)
}

// findConnector returns the configured connector called name.
func (c Config) findConnector(name string) (ConnectorConfig, error) {
	var names []string
	for _, cc := range c.Connectors {
		if cc.Name == name {
			return cc, nil
		}
		names = append(names, cc.Name)
	}
	if len(names) == 0 {
		return ConnectorConfig{}, fmt.Errorf("no connector %q: the configuration declares none (connectors: in the config file)", name)
	}
	return ConnectorConfig{}, fmt.Errorf("no connector %q (configured: %v)", name, names)
}

// buildConnector opens the connector cc describes and the ingester that
// applies its entries to st.
func buildConnector(cc ConnectorConfig, st store.Store, prec identity.Precedence, logger *slog.Logger,
	onCreate func(context.Context, store.Tx, identity.Account) error) (connectors.Connector, *ingest.Ingester, error) {
	m, err := mapping.Compile(cc.Mapping)
	if err != nil {
		return nil, nil, fmt.Errorf("connector %s: mapping: %w", cc.Name, err)
	}
	var conn connectors.Connector
	keepName := false
	switch cc.Type {
	case "ldap":
		c, err := ldapconn.New(cc.Name, cc.LDAP, m.Attributes(), logger.With("connector", cc.Name))
		if err != nil {
			return nil, nil, fmt.Errorf("connector %s: %w", cc.Name, err)
		}
		conn, keepName = c, true
	default:
		return nil, nil, fmt.Errorf("connector %s: type %s is not synced (canonid import)", cc.Name, cc.Type)
	}
	in := ingest.New(st, ingest.Source{Name: cc.Source(), Mapping: m, Config: cc.Ingest, KeepName: keepName, OnCreate: onCreate}, prec, logger)
	return conn, in, nil
}

// fileConnectors compiles the csv connectors of the configuration for the
// import service.
func fileConnectors(cfg Config) ([]imports.Connector, error) {
	var out []imports.Connector
	for _, cc := range cfg.Connectors {
		if cc.Type != "csv" {
			continue
		}
		m, err := mapping.Compile(cc.Mapping)
		if err != nil {
			return nil, fmt.Errorf("connector %s: mapping: %w", cc.Name, err)
		}
		out = append(out, imports.Connector{Name: cc.Name, Mapping: m, Ingest: cc.Ingest, File: cc.CSV, Snapshot: cc.Snapshot})
	}
	return out, nil
}

// leaseOwner names this process in connector leases.
func leaseOwner() string {
	host, err := os.Hostname()
	if err != nil {
		host = "canonid"
	}
	return host + ":" + strconv.Itoa(os.Getpid())
}
