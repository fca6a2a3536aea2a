package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/authn"
	"github.com/canonid/canonid/connectors"
	"github.com/canonid/canonid/connectors/oidcup"
	"github.com/canonid/canonid/flows/activation"
	"github.com/canonid/canonid/flows/emailmerge"
	"github.com/canonid/canonid/flows/mergekey"
	"github.com/canonid/canonid/flows/registration"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/mapping"
	"github.com/canonid/canonid/notify"
	"github.com/canonid/canonid/oidc"
	"github.com/canonid/canonid/server"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/web"
	"github.com/canonid/canonid/web/account"

	ldapconn "github.com/canonid/canonid/connectors/ldap"
)

// mountLogin builds the login pages, the password check and the OpenID
// provider, and mounts them on srv: /login, /logout, /oidc/... and the
// discovery document.
func mountLogin(ctx context.Context, cfg Config, st store.Store, srv *server.Server, act *activation.Service, logger *slog.Logger) (*web.Handler, *oidc.Provider, error) {
	publicURL := strings.TrimSuffix(cfg.Server.PublicURL, "/")

	// Accounts linked to a campus directory check their password there.
	ldaps, err := ldapConnectors(cfg, logger)
	if err != nil {
		return nil, nil, err
	}
	dirs := map[string]authn.Directory{}
	for _, cc := range cfg.Connectors {
		if c, ok := ldaps[cc.Source()]; ok {
			dirs[cc.Source()] = authn.Directory{Authenticator: c, LoginAttributes: cc.LDAP.LoginAttributes}
		}
	}

	oidcCfg := cfg.OIDC
	if oidcCfg.Keys.Secret == "" { // no clients (Validate requires it with some): nothing to protect yet
		oidcCfg.Keys.Secret = rand.Text() + rand.Text()
	}
	loginCfg := cfg.Login.Config
	loginCfg.PublicURL = cfg.Server.PublicURL
	if len(loginCfg.Secret) == 0 {
		loginCfg.Secret = web.Secret(rand.Text() + rand.Text())
		logger.WarnContext(ctx, "login.secret is not set: using a random one, so forms being filled in expire when canonid restarts and replicas do not accept each other's forms")
	}

	var pages *web.Handler // the provider and the pages need each other
	provider, err := oidc.New(oidcCfg, oidc.Deps{
		Store: st, Issuer: publicURL, Logger: logger.With("component", "oidc"),
		Session: func(r *http.Request) (store.Session, bool) { return pages.Session(r) },
		EndSession: func(w http.ResponseWriter, r *http.Request) {
			pages.EndSession(w, r)
		},
	})
	if err != nil {
		return nil, nil, err
	}
	var upstreams []web.UpstreamConnector
	for _, cc := range cfg.Connectors {
		if cc.Type != "oidc" {
			continue
		}
		oc := cc.OIDC
		oc.Name = cc.Name
		c, err := oidcup.New(ctx, oc, web.UpstreamCallbackURL(publicURL, cc.Name), nil)
		if err != nil {
			// The provider may be down: canonid serves without its button.
			logger.ErrorContext(ctx, "upstream provider unavailable: its login button is not shown", "connector", cc.Name, "err", err)
			continue
		}
		upstreams = append(upstreams, c)
	}
	var resender web.ActivationResender
	if act != nil {
		resender = act
	}
	consolePath := ""
	if cfg.Flows.Registration != nil && cfg.Mail != nil { // the console is mounted with the registration flow
		consolePath = registration.PathConsole
	}
	pages, err = web.New(loginCfg, web.Deps{
		Activation: resender,
		Store:      st, Auth: authn.New(st, dirs, logger.With("component", "authn")), Requests: provider,
		Logger: logger.With("component", "web"), RequestID: server.RequestID, UpstreamConnectors: upstreams,
		AccountPath: account.PathAccount, ConsolePath: consolePath,
	})
	if err != nil {
		return nil, nil, err
	}
	pages.Mount(srv.Engine())
	provider.Mount(srv.Engine())
	go runJanitor(ctx, st, logger)
	return pages, provider, nil
}

// EventCleanup is recorded when the janitor deletes expired rows.
const EventCleanup = "system.cleanup"

// cleanupEvery is how often serve deletes expired authorization requests,
// tokens, signing keys and sessions.
const cleanupEvery = 15 * time.Minute

// cleanupExpired deletes, in one transaction, what expired at now and
// returns how many rows of each kind.
func cleanupExpired(ctx context.Context, st store.Store, now time.Time) (map[string]int, error) {
	var counts map[string]int
	err := st.Update(ctx, func(tx store.Tx) error {
		counts = map[string]int{}
		for kind, del := range map[string]func(context.Context, time.Time) (int, error){
			"auth_requests": tx.AuthRequests().DeleteExpired,
			"oauth_tokens":  tx.OAuthTokens().DeleteExpired,
			"signing_keys":  tx.SigningKeys().DeleteExpired,
			"sessions":      tx.Sessions().DeleteExpired,
		} {
			n, err := del(ctx, now)
			if err != nil {
				return fmt.Errorf("delete expired %s: %w", kind, err)
			}
			if n > 0 {
				counts[kind] = n
			}
		}
		if len(counts) == 0 {
			return nil
		}
		return tx.Record(ctx, store.Event{Type: EventCleanup, Actor: "system:janitor", Data: counts})
	})
	return counts, err
}

// runJanitor cleans up every cleanupEvery until ctx ends.
func runJanitor(ctx context.Context, st store.Store, logger *slog.Logger) {
	t := time.NewTicker(cleanupEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			counts, err := cleanupExpired(ctx, st, time.Now())
			if err != nil {
				logger.ErrorContext(ctx, "cleanup of expired rows", "err", err)
			} else if len(counts) > 0 {
				logger.InfoContext(ctx, "expired rows deleted", "counts", counts)
			}
		}
	}
}

// demoMail is the mail configuration of serve --demo without a mail
// section: mails are written to the log, links included, for the visitor
// to follow.
func demoMail() *notify.Config {
	return &notify.Config{Driver: notify.DriverLog, From: "canonid demo <noreply@canonid.invalid>", SiteName: "canonid (démo)",
		Secret: "canonid demo mail secret, not for production use"}
}

// startMail starts the mail dispatcher when the configuration has a mail
// section (serve --demo logs mails without one): it sends what
// transactions queued, until ctx ends. It returns the queue flows put
// mails in, nil without mail.
func startMail(ctx context.Context, cfg Config, st store.Store, logger *slog.Logger) (*notify.Queue, error) {
	if cfg.Mail == nil {
		logger.InfoContext(ctx, "no mail section: mail is not sent, and the flows that send some are off")
		return nil, nil
	}
	mc := *cfg.Mail
	if loc, err := time.LoadLocation(cfg.Timezone); err == nil {
		mc.Location = loc
	}
	log := logger.With("component", "mail")
	driver, err := notify.NewDriver(mc, log)
	if err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}
	d, err := notify.NewDispatcher(st, mc, driver, log)
	if err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}
	q, err := notify.NewQueue(mc)
	if err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}
	go d.Run(ctx)
	return q, nil
}

// mountFlows mounts the self-service flows: their JSON API under
// /api/v1/me (the login session or a canonid access token) and their
// pages. The flows that send mail need a queue.
func mountFlows(cfg Config, st store.Store, srv *server.Server, svc *accounts.Service, pages *web.Handler, provider *oidc.Provider,
	queue *notify.Queue, act *activation.Service, logger *slog.Logger) error {
	loc, _ := time.LoadLocation(cfg.Timezone)
	me := srv.Engine().Group("/api/v1/me", pages.RequireAccount(provider.VerifyAccessToken))

	mkCfg := cfg.Flows.MergeKey
	mkCfg.Location = loc
	mk, err := mergekey.New(mkCfg, mergekey.Deps{Store: st, Accounts: svc, RequestID: server.RequestID})
	if err != nil {
		return fmt.Errorf("flows.merge_key: %w", err)
	}
	mkh, err := mergekey.NewHandler(mk, mergekey.HandlerDeps{Pages: pages, Logger: logger.With("component", "mergekey")})
	if err != nil {
		return err
	}
	mkh.Mount(me, srv.Engine())

	if queue == nil {
		return mountAccount(cfg, st, srv, svc, pages, mk, nil, nil, logger)
	}
	emCfg := cfg.Flows.Email
	emCfg.PublicURL, emCfg.Location = cfg.Server.PublicURL, loc
	em, err := emailmerge.New(st, svc, queue, emCfg)
	if err != nil {
		return fmt.Errorf("flows.email: %w", err)
	}
	emh, err := emailmerge.NewHandler(em, pages, logger.With("component", "emailmerge"))
	if err != nil {
		return err
	}
	emh.MountAPI(me)
	emh.MountPages(srv.Engine())

	if act != nil {
		ah, err := activation.NewHandler(act, pages, logger.With("component", "activation"))
		if err != nil {
			return err
		}
		ah.MountPages(srv.Engine())
		// Its JSON API: the link's token authenticates, no bearer token.
		ah.MountPublicAPI(srv.Engine().Group(server.APIPrefix))
	}

	if rc := cfg.Flows.Registration; rc != nil {
		c := rc.Config
		c.PublicURL, c.Location = cfg.Server.PublicURL, loc
		var sms registration.SMSSender
		switch rc.SMS {
		case "log":
			sms = registration.LogSMS{Logger: logger.With("component", "sms")}
		case "http":
			sms = registration.HTTPSMS{URL: rc.SMSURL, Token: rc.SMSToken}
		}
		var docs registration.DocumentStore
		if rc.DocumentsDir != "" {
			if err := os.MkdirAll(rc.DocumentsDir, 0o700); err != nil {
				return fmt.Errorf("flows.registration.documents_dir: %w", err)
			}
			docs = registration.DirDocuments{Dir: rc.DocumentsDir}
		}
		rs, err := registration.New(st, queue, sms, docs, c)
		if err != nil {
			return fmt.Errorf("flows.registration: %w", err)
		}
		rh, err := registration.NewHandler(rs, pages, func(r *http.Request) (store.APIToken, bool) { return server.Caller(r.Context()) },
			logger.With("component", "registration"))
		if err != nil {
			return err
		}
		rh.MountPages(srv.Engine())
		rh.MountConsole(srv.Engine(), pages)
		rh.MountAPI(srv.APIGroup())
		// The person's JSON API: the link's token authenticates, no bearer token.
		rh.MountPublicAPI(srv.Engine().Group(server.APIPrefix))
	}
	return mountAccount(cfg, st, srv, svc, pages, mk, em, queue, logger)
}

// mountAccount mounts the person's own account pages ("My account",
// /account): without mail (emails and mail nil) the addresses are listed,
// not changed.
func mountAccount(cfg Config, st store.Store, srv *server.Server, svc *accounts.Service, pages *web.Handler,
	mk *mergekey.Service, emails account.Emails, mail account.Mailer, logger *slog.Logger) error {
	// Accounts linked to a campus directory change their password there.
	ldaps, err := ldapConnectors(cfg, logger)
	if err != nil {
		return err
	}
	dirs := map[string]connectors.PasswordChanger{}
	for src, c := range ldaps {
		dirs[src] = c
	}
	var policy authn.Policy
	if a := cfg.Flows.Activation; a != nil {
		policy = a.Password
	}
	loc, _ := time.LoadLocation(cfg.Timezone)
	h, err := account.New(account.Deps{Store: st, Pages: pages, Accounts: svc, MergeKeys: mk, Emails: emails, Mail: mail,
		Directories: dirs, Password: policy, Location: loc, Logger: logger.With("component", "account"), RequestID: server.RequestID})
	if err != nil {
		return err
	}
	h.Mount(srv.Engine())
	return nil
}

// activationService builds the activation flow when it is configured and
// mail can be sent; nil otherwise.
func activationService(cfg Config, st store.Store, queue *notify.Queue) (*activation.Service, error) {
	if cfg.Flows.Activation == nil || queue == nil {
		return nil, nil
	}
	ac := *cfg.Flows.Activation
	ac.PublicURL = cfg.Server.PublicURL
	if ac.TimeZone == "" {
		ac.TimeZone = cfg.Timezone
	}
	s, err := activation.New(st, queue, ac)
	if err != nil {
		return nil, fmt.Errorf("flows.activation: %w", err)
	}
	// Accounts linked to a campus directory choose their password there.
	ldaps, err := ldapConnectors(cfg, nil)
	if err != nil {
		return nil, err
	}
	dirs := map[string]connectors.PasswordChanger{}
	for src, c := range ldaps {
		dirs[src] = c
	}
	s.SetDirectories(dirs)
	return s, nil
}

// activationHook returns what runs when a connector, an import or a SCIM
// client creates an account: an account created pending_activation gets
// its activation link, in the creating transaction. Nil without the
// activation flow. An account without a recovery address is created
// without a link (logged): an administrator sends one later.
func activationHook(act *activation.Service, logger *slog.Logger) func(context.Context, store.Tx, identity.Account) error {
	if act == nil {
		return nil
	}
	return func(ctx context.Context, tx store.Tx, acc identity.Account) error {
		if acc.Status != identity.StatusPendingActivation {
			return nil
		}
		err := act.Start(ctx, tx, acc.ID, "fr")
		if errors.Is(err, activation.ErrNoRecoveryAddress) {
			logger.WarnContext(ctx, "account pending activation has no recovery address: no activation link sent", "account", acc.ID)
			return nil
		}
		return err
	}
}

// ldapConnectors opens the configured LDAP connectors, by link source
// ("ldap:campus"), for what logins and the activation flow ask the
// directory: binds and password changes. Opening one does not connect.
func ldapConnectors(cfg Config, logger *slog.Logger) (map[string]*ldapconn.Connector, error) {
	out := map[string]*ldapconn.Connector{}
	for _, cc := range cfg.Connectors {
		if cc.Type != "ldap" {
			continue
		}
		m, err := mapping.Compile(cc.Mapping)
		if err != nil {
			return nil, fmt.Errorf("connector %s: mapping: %w", cc.Name, err)
		}
		var log *slog.Logger
		if logger != nil {
			log = logger.With("connector", cc.Name)
		}
		c, err := ldapconn.New(cc.Name, cc.LDAP, m.Attributes(), log)
		if err != nil {
			return nil, fmt.Errorf("connector %s: %w", cc.Name, err)
		}
		out[cc.Source()] = c
	}
	return out, nil
}
