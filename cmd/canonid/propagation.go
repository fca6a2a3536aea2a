package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/propagate"
	"github.com/canonid/canonid/propagate/ldapwrite"
	"github.com/canonid/canonid/propagate/webhook"
	"github.com/canonid/canonid/scim"
	"github.com/canonid/canonid/scim/push"
	"github.com/canonid/canonid/server"
	"github.com/canonid/canonid/store"
)

// SCIMSection is the scim section: the SCIM server's settings (clients,
// rate limit, page size) and the SCIM service providers canonid pushes to.
type SCIMSection struct {
	scim.Config `yaml:",inline"`
	// Targets are the downstream SCIM service providers.
	Targets []SCIMTargetConfig `yaml:"targets"`
}

// Delivery is what every downstream target (scim.targets[], ldap_targets[],
// webhooks[]) adds to its own keys: its scope and its retry policy.
type Delivery struct {
	// Orgs limits the target to the validated members of these orgs.
	Orgs []string `yaml:"orgs"`
	// Statuses limits the target to accounts in these statuses.
	Statuses []string `yaml:"statuses"`
	// MaxAttempts before a refused change becomes a dead letter (default 5).
	MaxAttempts int `yaml:"max_attempts"`
	// MinBackoff and MaxBackoff bound the pause between attempts
	// (defaults 200ms and 5m).
	MinBackoff time.Duration `yaml:"min_backoff"`
	MaxBackoff time.Duration `yaml:"max_backoff"`
}

// SCIMTargetConfig is one scim.targets[] entry.
type SCIMTargetConfig struct {
	push.Config `yaml:",inline"`
	Delivery    `yaml:",inline"`
}

// LDAPTargetConfig is one ldap_targets[] entry.
type LDAPTargetConfig struct {
	ldapwrite.Config `yaml:",inline"`
	Delivery         `yaml:",inline"`
}

// WebhookConfig is one webhooks[] entry.
type WebhookConfig struct {
	Name     string        `yaml:"name"`
	URL      string        `yaml:"url"`
	Secret   string        `yaml:"secret"`
	Events   []string      `yaml:"events"`
	Timeout  time.Duration `yaml:"timeout"`
	Delivery `yaml:",inline"`
}

// PropagationConfig tunes the dispatcher.
type PropagationConfig struct {
	// Lease is how long a replica keeps a target without renewing it: the
	// time another replica waits before taking over (default 30s).
	Lease time.Duration `yaml:"lease"`
	// Poll is how often an idle dispatcher looks at the outbox when no
	// commit woke it (default 5s).
	Poll time.Duration `yaml:"poll"`
}

func (d Delivery) validate(orgs map[string]bool) []error {
	var errs []error
	for _, o := range d.Orgs {
		if !orgs[o] {
			errs = append(errs, fmt.Errorf("orgs: %q is not one of the orgs of the configuration", o))
		}
	}
	for _, st := range d.Statuses {
		if !slices.Contains(accountStatuses, st) {
			errs = append(errs, fmt.Errorf("statuses: %q is not an account status (%s)", st, strings.Join(accountStatuses, ", ")))
		}
	}
	if d.MaxAttempts < 0 {
		errs = append(errs, errors.New("max_attempts: must not be negative"))
	}
	if d.MinBackoff < 0 || d.MaxBackoff < 0 {
		errs = append(errs, errors.New("min_backoff, max_backoff: must not be negative"))
	}
	if d.MaxBackoff > 0 && d.MinBackoff > d.MaxBackoff {
		errs = append(errs, errors.New("min_backoff: must not exceed max_backoff"))
	}
	return errs
}

func (d Delivery) target(name string) propagate.TargetConfig {
	return propagate.TargetConfig{Name: name, Orgs: d.Orgs, Statuses: d.Statuses, MaxAttempts: d.MaxAttempts, MinBackoff: d.MinBackoff, MaxBackoff: d.MaxBackoff}
}

func (w WebhookConfig) webhook() webhook.Config {
	return webhook.Config{Name: w.Name, URL: w.URL, Secret: w.Secret, Events: w.Events, Timeout: w.Timeout}
}

// validatePropagation checks the targets: each valid, names unique across
// the three kinds (they share the store's bookkeeping), scopes naming
// configured orgs.
func (c Config) validatePropagation() []error {
	var errs []error
	orgs := map[string]bool{}
	for _, o := range c.Orgs {
		orgs[o.ID] = true
	}
	names := map[string]string{}
	seen := func(path, name string) {
		if name == "" {
			return
		}
		if prev, ok := names[name]; ok {
			errs = append(errs, fmt.Errorf("%s.name: %q is already the name of %s", path, name, prev))
			return
		}
		names[name] = path
	}
	for i, t := range c.SCIM.Targets {
		path := fmt.Sprintf("scim.targets[%d]", i)
		errs = append(errs, prefixErrors(path, t.Config.Validate())...)
		errs = append(errs, prefixErrors(path, errors.Join(t.validate(orgs)...))...)
		seen(path, t.Name)
	}
	for i, t := range c.LDAPTargets {
		path := fmt.Sprintf("ldap_targets[%d]", i)
		errs = append(errs, prefixErrors(path, t.Config.Validate())...)
		errs = append(errs, prefixErrors(path, errors.Join(t.validate(orgs)...))...)
		seen(path, t.Name)
	}
	for i, w := range c.Webhooks {
		path := fmt.Sprintf("webhooks[%d]", i)
		errs = append(errs, prefixErrors(path, w.webhook().Validate())...)
		errs = append(errs, prefixErrors(path, errors.Join(w.validate(orgs)...))...)
		for _, ev := range w.Events {
			if !slices.Contains(webhookEvents, ev) {
				errs = append(errs, fmt.Errorf("%s.events: %q is not an event a webhook can receive (%v)", path, ev, webhookEvents))
			}
		}
		seen(path, w.Name)
	}
	if c.Propagation.Lease < 0 || c.Propagation.Poll < 0 {
		errs = append(errs, errors.New("propagation.lease, propagation.poll: must not be negative"))
	}
	return errs
}

// accountStatuses are the statuses a target's scope may name.
var accountStatuses = []string{string(identity.StatusActive), string(identity.StatusPendingActivation),
	string(identity.StatusPendingValidation), string(identity.StatusSuspended)}

// webhookEvents are the event types a webhook may subscribe to.
var webhookEvents = append(slices.Clone(propagate.DefaultEvents), "membership.added", "membership.removed", "account.linked")

// buildDispatcher returns the dispatcher of the configured targets, nil
// when there is none, and what closes the targets' connections.
func buildDispatcher(cfg Config, st store.Store, logger *slog.Logger, reg prometheus.Registerer) (*propagate.Dispatcher, func(), error) {
	n := len(cfg.SCIM.Targets) + len(cfg.LDAPTargets) + len(cfg.Webhooks)
	if n == 0 {
		return nil, func() {}, nil
	}
	d := propagate.New(st, propagate.Options{Owner: leaseOwner(), Lease: cfg.Propagation.Lease, Poll: cfg.Propagation.Poll,
		Logger: logger.With("component", "propagation")})
	var closers []func() error
	closeAll := func() {
		for _, c := range closers {
			_ = c()
		}
	}
	client := &http.Client{Timeout: 30 * time.Second}
	for _, t := range cfg.SCIM.Targets {
		tg, err := push.New(t.Config, client)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		tc := t.target(t.Name)
		tc.DeleteAfter, _ = tg.Grace()
		d.AddAccountTarget(tc, tg)
	}
	for _, t := range cfg.LDAPTargets {
		tg, err := ldapwrite.New(t.Config)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		closers = append(closers, tg.Close)
		d.AddAccountTarget(t.target(t.Name), tg)
	}
	for _, w := range cfg.Webhooks {
		tg, err := webhook.New(w.webhook(), nil)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		tc := w.target(w.Name)
		tc.Events = w.Events
		d.AddEventTarget(tc, tg)
	}
	if reg != nil {
		m := propagate.NewMetrics(reg, st, d)
		d.SetMetrics(m)
	}
	return d, closeAll, nil
}

// startPropagation starts the dispatcher of the configured targets and
// mounts its API; the returned function stops it and waits.
func startPropagation(ctx context.Context, cfg Config, st store.Store, srv *server.Server, reg prometheus.Registerer, logger *slog.Logger) (func(), error) {
	d, closeTargets, err := buildDispatcher(cfg, st, logger, reg)
	if err != nil {
		return nil, err
	}
	if d == nil {
		return func() {}, nil
	}
	propagate.NewHandler(st, d, func(r *http.Request) (store.APIToken, bool) { return server.Caller(r.Context()) }).Mount(srv.APIGroup())
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = d.Run(ctx)
	}()
	logger.InfoContext(ctx, "propagation started", "targets", d.Targets())
	return func() { cancel(); <-done; closeTargets() }, nil
}
