package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/connectors"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/imports"
	"github.com/canonid/canonid/ingest"
	"github.com/canonid/canonid/server"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/web"
	"github.com/canonid/canonid/web/admin"
)

// LoginConfig is the login section: the login pages' keys (web.Config) and
// who may use the support console.
type LoginConfig struct {
	web.Config `yaml:",inline"`
	// Admins are the logins of the accounts that may use the support
	// console (/admin) once logged in; empty: nobody.
	Admins []string `yaml:"admins"`
}

// maxLogin is the longest login an admin entry may name.
const maxLogin = 128

// validateAdmins reports every problem of login.admins: an empty entry, one
// that cannot be a login, one listed twice (logins compare normalised).
func (c LoginConfig) validateAdmins() error {
	var errs []error
	seen := map[string]int{}
	for i, a := range c.Admins {
		l := identity.NormalizeLogin(a)
		switch {
		case l == "":
			errs = append(errs, fmt.Errorf("admins[%d]: empty login", i))
		case len(l) > maxLogin || strings.IndexFunc(l, unicode.IsSpace) >= 0 || strings.IndexFunc(l, unicode.IsControl) >= 0:
			errs = append(errs, fmt.Errorf("admins[%d]: %q is not a login (at most %d characters, no spaces)", i, a, maxLogin))
		default:
			if first, dup := seen[l]; dup {
				errs = append(errs, fmt.Errorf("admins[%d]: %q is already listed (admins[%d])", i, a, first))
				continue
			}
			seen[l] = i
		}
	}
	return errors.Join(errs...)
}

// mountAdmin mounts the support console (/admin) for the logins of
// login.admins, over the services serve built; the returned function stops
// the syncs started from it.
func mountAdmin(cfg Config, st store.Store, srv *server.Server, pages *web.Handler, svc *accounts.Service, importSvc *imports.Service,
	onCreate func(context.Context, store.Tx, identity.Account) error, logger *slog.Logger) (func(), error) {
	loc, err := time.LoadLocation(cfg.Timezone)
	if err != nil {
		return nil, fmt.Errorf("timezone: %w", err)
	}
	var conns []admin.Connector
	for _, cc := range cfg.Connectors {
		if cc.Type != "ldap" {
			continue
		}
		c := admin.Connector{Name: cc.Name, Interval: cc.Interval, FullEvery: cc.FullEvery, ScanEvery: cc.ScanEvery,
			Open: func() (connectors.Connector, *ingest.Ingester, error) {
				return buildConnector(cc, st, cfg.Policies.Precedence, logger, onCreate)
			}}
		if cfg.Policies.AutoMerge.Enabled {
			c.AfterCommit = autoMergeHook(svc)
		}
		conns = append(conns, c)
	}
	var targets []string
	for _, t := range cfg.SCIM.Targets {
		targets = append(targets, t.Name)
	}
	for _, t := range cfg.LDAPTargets {
		targets = append(targets, t.Name)
	}
	for _, w := range cfg.Webhooks {
		targets = append(targets, w.Name)
	}
	h, err := admin.New(admin.Config{Admins: cfg.Login.Admins, Location: loc}, admin.Deps{
		Store: st, Accounts: svc, Policies: cfg.Policies, Imports: importSvc, Connectors: conns, Targets: targets,
		Pages: pages, LoginURL: web.LoginURL, Owner: leaseOwner(), Logger: logger.With("component", "admin"),
	})
	if err != nil {
		return nil, err
	}
	h.Mount(srv.Engine())
	return h.Close, nil
}
